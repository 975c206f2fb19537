"""Reference averages from torch.optim.swa_utils.AveragedModel for tests/weights/averaging_kernels_test.cpp.

Feeds a deterministic sequence of fp32 parameter vectors to two AveragedModels, one with the default avg_fn (the
SWA running mean) and one with the EMA avg_fn from AveragedModel's docstring, and writes the final averages as
raw little-endian fp32 to OUT_DIR/swa.f32 and OUT_DIR/ema.f32.

Step k's vector is x_k[i] = float32((i*7919 + k*104729) mod 20011 - 10005) / 997; the C++ test builds the same
vectors (integer arithmetic, an exact int-to-float conversion and one correctly rounded fp32 division).

Usage: weights_swa_reference.py OUT_DIR NUMEL STEPS DECAY
"""
import sys

import torch
from torch.optim.swa_utils import AveragedModel


class Vector(torch.nn.Module):
    def __init__(self, numel):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(numel, dtype=torch.float32))


def step_vector(numel, k):
    i = torch.arange(numel, dtype=torch.int64)
    return ((i * 7919 + k * 104729) % 20011 - 10005).to(torch.float32) / 997.0


def main():
    out_dir, numel, steps, decay = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    torch.set_num_threads(1)
    model = Vector(numel)
    swa = AveragedModel(model)
    ema = AveragedModel(model, avg_fn=lambda avg, p, n: decay * avg + (1 - decay) * p)
    for k in range(steps):
        with torch.no_grad():
            model.weight.copy_(step_vector(numel, k))
        swa.update_parameters(model)
        ema.update_parameters(model)
    swa.module.weight.detach().numpy().astype("<f4").tofile(out_dir + "/swa.f32")
    ema.module.weight.detach().numpy().astype("<f4").tofile(out_dir + "/ema.f32")


if __name__ == "__main__":
    main()
