// Cost of the weight-average updates, measured in one run against two yardsticks:
//   - one training step (forward + backward + AdamW) of a Llama model from lib/model with about as many parameters
//     as the flat buffer the updates run over: update time as a percentage of it (target <= 1%);
//   - the machine's memory bandwidth, a STREAM-style triad a[i] = b[i] + s*c[i] over arrays much larger than the
//     caches, on the same threads: the update's bytes moved per second as a fraction of it (target >= 80%).
// Bytes per parameter and update, counted as STREAM counts them (reads + writes, no write-allocate): EMA and SWA
// read the average and the live value and write the average: 12 bytes with fp32 live weights, 10 with bf16.
// "All EMAs of a run" is what a config with several EMAs and post-hoc snapshots updates after every step: three
// EMAs (decay 0.99, 0.999, 0.9999) and the post-hoc pair of power EMAs (sigma_rel 0.05, 0.10), five averages
// updated in one pass (EmaAverage::update_together): 4 + 5 x 8 = 44 bytes per parameter.
// STREAM's count leaves out the triad's write-allocate traffic (its output line is read before it is written: 16
// bytes move per 12 counted), which the updates do not have (they write lines they just read), so the updates can
// exceed 100% of STREAM's triad figure; the second fraction printed counts the triad's write-allocate reads too.
//
// Usage: averaging_bench [--hidden H] [--layers L] [--intermediate I] [--heads N] [--vocab V] [--batch B]
//                        [--seq S] [--rounds R] [--threads T] [--bf16]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "callbacks/ema_average.h"
#include "callbacks/lawa_average.h"
#include "callbacks/power_ema.h"
#include "callbacks/swa_average.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/model/causal_lm_loss.h"
#include "lib/util/threads.h"
#include "lib/weights/flat_parameters.h"
#include "lib/weights/tensor_ops.h"
#include "trainer/bf16_autocast.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Settings {
  std::int64_t hidden = 384, layers = 6, intermediate = 1024, heads = 6, vocab = 8000;
  std::int64_t batch = 8, seq = 128, rounds = 10;
  int threads = 0;
  bool bf16 = false;
};

Settings parse(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--bf16") {
      settings.bf16 = true;
      continue;
    }
    if (i + 1 >= argc) throw std::runtime_error("missing value after " + flag);
    const long long value = std::stoll(argv[++i]);
    if (flag == "--hidden") settings.hidden = value;
    else if (flag == "--layers") settings.layers = value;
    else if (flag == "--intermediate") settings.intermediate = value;
    else if (flag == "--heads") settings.heads = value;
    else if (flag == "--vocab") settings.vocab = value;
    else if (flag == "--batch") settings.batch = value;
    else if (flag == "--seq") settings.seq = value;
    else if (flag == "--rounds") settings.rounds = value;
    else if (flag == "--threads") settings.threads = static_cast<int>(value);
    else throw std::runtime_error("unknown option " + flag);
  }
  return settings;
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Evicts the caches (a 128 MiB write, 4x the L3 here), as a training step's forward and backward passes do between
// two weight-average updates: every update is measured from memory, not from a cache its predecessor warmed.
void flush_caches() {
  static at::Tensor scratch = at::empty({std::int64_t{32} << 20}, at::kFloat);
  scratch.fill_(1.0f);
}

// The least time over interleaved rounds: each round runs every measurement once (after a cache flush), so a
// burst of load from elsewhere on the machine hits all of them alike, and the best round of each is its
// undisturbed cost (as STREAM reports the best of its runs). One warm-up round first.
class Interleaved {
 public:
  void add(std::string name, std::function<double()> timed) { items_.push_back({std::move(name), std::move(timed), 1e30}); }
  void run(int rounds) {
    for (int r = 0; r <= rounds; ++r) {
      for (auto& item : items_) {
        flush_caches();
        const double seconds = item.timed();
        if (r > 0) item.best = std::min(item.best, seconds);
      }
    }
  }
  double best(const std::string& name) const {
    for (const auto& item : items_) {
      if (item.name == name) return item.best;
    }
    throw std::runtime_error("no measurement " + name);
  }

 private:
  struct Item {
    std::string name;
    std::function<double()> timed;
    double best;
  };
  std::vector<Item> items_;
};

// Seconds `work` takes.
double time_of(const std::function<void()>& work) {
  const auto start = Clock::now();
  work();
  return seconds_since(start);
}

// The triad's inner loop, compiled like the averaging kernels (lib/weights/tensor_ops.cpp): AVX-512 / AVX2 clones,
// no fused multiply-add.
__attribute__((target_clones("avx512f", "avx2", "default"), optimize("fp-contract=off")))
void triad_span(float* a, const float* b, const float* c, std::int64_t n, float scalar) {
  for (std::int64_t i = 0; i < n; ++i) a[i] = b[i] + scalar * c[i];
}

// STREAM triad a[i] = b[i] + s*c[i] over three fp32 arrays of 64 Mi elements (768 MiB in all, 24x the L3 cache
// here) on at::get_num_threads() threads, in the same chunks as the averaging kernels. 12 bytes per element.
class Triad {
 public:
  static constexpr std::int64_t kNumel = std::int64_t{64} << 20;
  Triad() : a_(at::zeros({kNumel})), b_(at::ones({kNumel})), c_(at::full({kNumel}, 2.0f)) {}
  double seconds() {
    float* a = a_.data_ptr<float>();
    const float* b = b_.data_ptr<float>();
    const float* c = c_.data_ptr<float>();
    const double spent = time_of([&] {
      at::parallel_for(0, kNumel, std::int64_t{1} << 16, [&](std::int64_t begin, std::int64_t end) {
        triad_span(a + begin, b + begin, c + begin, end - begin, 3.0f);
      });
    });
    if (a[kNumel - 1] != 7.0f) throw std::runtime_error("the triad computed a wrong value");
    return spent;
  }
  static double bytes() { return 12.0 * static_cast<double>(kNumel); }

 private:
  at::Tensor a_, b_, c_;
};

}  // namespace

int main(int argc, char** argv) {
  try {
    const Settings s = parse(argc, argv);
    const int threads = ladle::configure_threads(s.threads);

    ladle::model::CausalLmConfig config;
    config.hidden_size = s.hidden;
    config.num_hidden_layers = s.layers;
    config.intermediate_size = s.intermediate;
    config.num_attention_heads = s.heads;
    config.vocab_size = s.vocab;
    config.max_position_embeddings = std::max<std::int64_t>(s.seq, 128);
    auto model = ladle::model::create_causal_lm(config, 1);
    model->train();
    ladle::FlatParameters live(*model);
    const std::int64_t params = live.numel();
    torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-4));

    at::manual_seed(0);
    const at::Tensor tokens = at::randint(0, s.vocab, {s.batch, s.seq}, at::kLong);
    const auto train_step = [&] {
      optimizer.zero_grad();
      at::Tensor loss;
      {
        ladle::trainer::Bf16Autocast autocast(s.bf16, at::kCPU);
        loss = ladle::model::causal_lm_loss(model->forward(tokens).logits, tokens);
      }
      loss.backward();
      optimizer.step();
    };
    using namespace ladle::callbacks;
    EmaOptions ema_options;
    ema_options.decay = 0.999;
    EmaAverage ema(live, {}, ema_options);
    ema_options.offload_to_cpu = true;
    EmaAverage offloaded(live, {}, ema_options);
    SwaAverage swa(live, {});
    LawaOptions lawa_options;
    lawa_options.k = 2;
    LawaAverage lawa(live, {}, lawa_options);
    std::vector<std::unique_ptr<EmaAverage>> run_emas;
    for (const double decay : {0.99, 0.999, 0.9999}) {
      EmaOptions options;
      options.decay = decay;
      run_emas.push_back(std::make_unique<EmaAverage>(live, ladle::NamedTensors{}, options));
    }
    for (const double sigma_rel : {0.05, 0.10}) {
      EmaOptions options;
      options.power_gamma = gamma_of_sigma_rel(sigma_rel);
      run_emas.push_back(std::make_unique<EmaAverage>(live, ladle::NamedTensors{}, options));
    }
    std::vector<EmaAverage*> all_emas;
    for (const auto& average : run_emas) all_emas.push_back(average.get());
    // bf16 live weights into an fp32 average (the kernel alone): 10 bytes per parameter.
    const at::Tensor live_bf16 = live.groups()[0].values.to(at::kBFloat16);
    at::Tensor average = live.groups()[0].values.clone();
    Triad triad;

    std::int64_t counter = 0;
    Interleaved measurements;
    measurements.add("triad", [&] { return triad.seconds(); });
    measurements.add("step", [&] { return time_of(train_step); });
    measurements.add("ema", [&] { return time_of([&] { ema.update(++counter); }); });
    measurements.add("swa", [&] { return time_of([&] { swa.update(++counter); }); });
    measurements.add("ema_bf16", [&] { return time_of([&] { ladle::ema_update_(average, live_bf16, 0.999); }); });
    // An offloaded update in all (the staging copy, then the update on the background thread, waited for), and the
    // training thread's share of it (the staging copy: the next training step overlaps the rest).
    measurements.add("offload_total", [&] {
      return time_of([&] {
        offloaded.update(++counter);
        offloaded.wait();
      });
    });
    measurements.add("offload_thread", [&] {
      const double spent = time_of([&] { offloaded.update(++counter); });
      offloaded.wait();
      return spent;
    });
    measurements.add("lawa", [&] { return time_of([&] { lawa.update(++counter); }); });
    measurements.add("all_emas", [&] { return time_of([&] { EmaAverage::update_together(all_emas, ++counter); }); });
    measurements.run(static_cast<int>(s.rounds));
    const double step = measurements.best("step");
    const double triad_bandwidth = Triad::bytes() / measurements.best("triad");

    const auto p = static_cast<double>(params);
    std::printf("model: Llama hidden %lld, layers %lld, intermediate %lld, vocab %lld: %.2fM parameters\n",
                static_cast<long long>(s.hidden), static_cast<long long>(s.layers),
                static_cast<long long>(s.intermediate), static_cast<long long>(s.vocab), p / 1e6);
    std::printf("threads: %d; training step: batch %lld x %lld tokens, AdamW, %s\n", threads,
                static_cast<long long>(s.batch), static_cast<long long>(s.seq), s.bf16 ? "bf16 autocast" : "fp32");
    std::printf("best of %lld interleaved rounds of every measurement\n", static_cast<long long>(s.rounds));
    std::printf("training step: %.1f ms\n", step * 1e3);
    std::printf("triad bandwidth (3 x 256 MiB fp32 arrays, 12 bytes per element): %.1f GB/s\n", triad_bandwidth / 1e9);
    std::printf("%-34s %8s  %12s  %9s  %14s  %16s\n", "", "time", "of a step", "bytes/s", "of triad", "of triad + w.a.");
    const auto report = [&](const char* name, double seconds, double bytes_per_param) {
      const double bandwidth = bytes_per_param * p / seconds;
      std::printf("%-34s %6.2f ms  %10.2f%%  %6.1f GB/s  %13.1f%%  %15.1f%%\n", name, seconds * 1e3,
                  100.0 * seconds / step, bandwidth / 1e9, 100.0 * bandwidth / triad_bandwidth,
                  100.0 * bandwidth / (triad_bandwidth * 16.0 / 12.0));
    };
    report("EMA update (fp32 live)", measurements.best("ema"), 12.0);
    report("SWA update (fp32 live)", measurements.best("swa"), 12.0);
    report("EMA kernel (bf16 live, fp32 avg)", measurements.best("ema_bf16"), 10.0);
    report("EMA offloaded: copy + update", measurements.best("offload_total"), 20.0);
    report("EMA offloaded: training thread", measurements.best("offload_thread"), 8.0);
    report("LAWA snapshot (copy)", measurements.best("lawa"), 8.0);
    report("All EMAs: 3 EMAs + post-hoc pair", measurements.best("all_emas"), 44.0);
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "averaging_bench: error: " << error.what() << "\n";
    return 1;
  }
}
