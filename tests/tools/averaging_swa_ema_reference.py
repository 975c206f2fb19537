"""Reference SWA and EMA averages from torch.optim.swa_utils.AveragedModel for tests/callbacks/*_test.cpp.

A two-layer model (fc1: Linear(IN, HIDDEN), fc2: Linear(HIDDEN, OUT)) has its parameters set, before each of STEPS
updates, to a deterministic sequence; two AveragedModels follow it: one with the default avg_fn (the SWA running
mean) and one with an EMA avg_fn whose decay follows timm's ModelEmaV3.get_decay with warmup, computed from
AveragedModel's num_averaged (the number of earlier updates):
    d(n) = max(min(1 - (1 + n / GAMMA) ** -POWER, DECAY), MIN_DECAY)   (WARMUP = 1)
    d(n) = DECAY                                                        (WARMUP = 0)
The final averages are written as raw little-endian fp32, parameters concatenated in named_parameters order
(fc1.weight, fc1.bias, fc2.weight, fc2.bias), to OUT_DIR/swa.f32 and OUT_DIR/ema.f32.

Step k's flat parameter vector is x_k[i] = float32((i*7919 + k*104729) mod 20011 - 10005) / 997 + float32(k) / 4096;
the C++ test builds the same vectors (exact integer-to-float conversions, one correctly rounded fp32 division, an
exact scaling by 2^-12 and one correctly rounded fp32 addition).

Usage: averaging_swa_ema_reference.py OUT_DIR IN HIDDEN OUT STEPS DECAY WARMUP GAMMA POWER MIN_DECAY
"""
import sys

import torch
from torch.optim.swa_utils import AveragedModel


class TwoLayer(torch.nn.Module):
    def __init__(self, n_in, hidden, n_out):
        super().__init__()
        self.fc1 = torch.nn.Linear(n_in, hidden)
        self.fc2 = torch.nn.Linear(hidden, n_out)


def step_vector(numel, k):
    i = torch.arange(numel, dtype=torch.int64)
    jumps = ((i * 7919 + k * 104729) % 20011 - 10005).to(torch.float32) / 997.0
    return jumps + torch.tensor(float(k), dtype=torch.float32) / 4096.0


def main():
    out_dir = sys.argv[1]
    n_in, hidden, n_out, steps = (int(v) for v in sys.argv[2:6])
    decay, warmup, gamma, power, min_decay = float(sys.argv[6]), int(sys.argv[7]), float(sys.argv[8]), \
        float(sys.argv[9]), float(sys.argv[10])
    torch.set_num_threads(1)

    def ema_decay(n):
        if not warmup:
            return decay
        return max(min(1 - (1 + n / gamma) ** -power, decay), min_decay)

    def ema_avg(averaged, live, num_averaged):
        d = ema_decay(int(num_averaged))
        return d * averaged + (1 - d) * live

    model = TwoLayer(n_in, hidden, n_out)
    swa = AveragedModel(model)
    ema = AveragedModel(model, avg_fn=ema_avg)
    params = list(model.parameters())
    numel = sum(p.numel() for p in params)
    for k in range(steps):
        with torch.no_grad():
            flat = step_vector(numel, k)
            offset = 0
            for p in params:
                p.copy_(flat[offset:offset + p.numel()].view_as(p))
                offset += p.numel()
        swa.update_parameters(model)
        ema.update_parameters(model)
    for name, averaged in (("swa", swa), ("ema", ema)):
        flat = torch.cat([p.detach().reshape(-1) for p in averaged.module.parameters()])
        flat.numpy().astype("<f4").tofile(out_dir + "/" + name + ".f32")


if __name__ == "__main__":
    main()
