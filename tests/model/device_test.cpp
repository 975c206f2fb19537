// The device names of every config's `device:` key and of --device (lib/config/device_value.h), and what they mean
// on this machine (lib/model/device.h). No CUDA is available where the suite runs: the CUDA cases check the refusal,
// and are skipped on a machine that has a GPU.
#include <gtest/gtest.h>

#include <torch/cuda.h>

#include "lib/config/device_value.h"
#include "lib/model/device.h"
#include "tests/support/test_helpers.h"

namespace ladle::model {
namespace {

TEST(DeviceName, AcceptsCpuCudaIndexedCudaAndAuto) {
  for (const char* name : {"cpu", "cuda", "cuda:0", "cuda:7", "cuda:12", "auto"}) {
    EXPECT_TRUE(config::is_device_name(name)) << name;
  }
}

TEST(DeviceName, RefusesOtherSpellings) {
  for (const char* name : {"", "gpu", "CPU", "Cuda", "cuda:", "cuda:-1", "cuda:01", "cuda:1:2", "cuda0", "mps", "cpu:0",
                           " cpu", "cuda:99999999"}) {
    EXPECT_FALSE(config::is_device_name(name)) << name;
  }
}

TEST(ResolveDevice, CpuIsTheCpu) { EXPECT_EQ(resolve_device("cpu"), c10::Device(c10::kCPU)); }

TEST(ResolveDevice, AutoIsTheCpuWithoutCuda) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "this machine has CUDA";
  EXPECT_EQ(resolve_device("auto"), c10::Device(c10::kCPU));
  EXPECT_EQ(device_problem("auto"), "");
}

TEST(ResolveDevice, CudaWithoutCudaIsAnErrorSayingSo) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "this machine has CUDA";
  EXPECT_EQ(testing::error_message([] { resolve_device("cuda"); }),
            "device: cuda: this libtorch has no CUDA (torch::cuda::is_available() is false)");
  EXPECT_EQ(testing::error_message([] { resolve_device("cuda:1", "--device"); }),
            "--device: cuda:1: this libtorch has no CUDA (torch::cuda::is_available() is false)");
}

TEST(ResolveDevice, AMisspeltNameSaysWhatIsExpected) {
  EXPECT_EQ(testing::error_message([] { resolve_device("gpu", "--device"); }),
            "--device: expected cpu, cuda, cuda:N or auto, got 'gpu'");
}

}  // namespace
}  // namespace ladle::model
