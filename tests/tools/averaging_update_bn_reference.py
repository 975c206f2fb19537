"""Reference BatchNorm statistics from torch.optim.swa_utils.update_bn for tests/callbacks/swa_average_test.cpp.

The model is Linear(4, 6) -> BatchNorm1d(6) -> ReLU -> Linear(6, 3) -> BatchNorm1d(3, momentum=0.3). Every
parameter is set from the flat formula w[i] = float32((i*37 + 11) mod 101 - 50) / 50 over the parameters in
named_parameters order; the running statistics are first set to stale values (running_mean 5, running_var 7,
num_batches_tracked 9), which update_bn must discard. Batch b (of BATCHES, each [ROWS, 4]) holds
x[r, c] = float32((b*131 + r*17 + c*29) mod 97 - 48) / 24. Writes, as raw little-endian fp32 in this order,
bn1.running_mean, bn1.running_var, bn2.running_mean, bn2.running_var to OUT_DIR/update_bn.f32, and prints the two
num_batches_tracked values and the two momenta after update_bn.

Usage: averaging_update_bn_reference.py OUT_DIR BATCHES ROWS
"""
import sys

import torch
from torch.optim.swa_utils import update_bn


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 6)
        self.bn1 = torch.nn.BatchNorm1d(6)
        self.fc2 = torch.nn.Linear(6, 3)
        self.bn2 = torch.nn.BatchNorm1d(3, momentum=0.3)

    def forward(self, x):
        return self.bn2(self.fc2(torch.relu(self.bn1(self.fc1(x)))))


def main():
    out_dir, batches, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(1)
    model = Net()
    with torch.no_grad():
        offset = 0
        for p in model.parameters():
            i = torch.arange(offset, offset + p.numel(), dtype=torch.int64)
            p.copy_((((i * 37 + 11) % 101) - 50).to(torch.float32).view_as(p) / 50.0)
            offset += p.numel()
        for bn in (model.bn1, model.bn2):
            bn.running_mean.fill_(5.0)
            bn.running_var.fill_(7.0)
            bn.num_batches_tracked.fill_(9)
    model.eval()
    loader = []
    for b in range(batches):
        r = torch.arange(rows, dtype=torch.int64).view(-1, 1)
        c = torch.arange(4, dtype=torch.int64).view(1, -1)
        loader.append((((b * 131 + r * 17 + c * 29) % 97) - 48).to(torch.float32) / 24.0)
    update_bn(loader, model)
    stats = torch.cat([model.bn1.running_mean, model.bn1.running_var, model.bn2.running_mean, model.bn2.running_var])
    stats.numpy().astype("<f4").tofile(out_dir + "/update_bn.f32")
    print(int(model.bn1.num_batches_tracked), int(model.bn2.num_batches_tracked), model.bn1.momentum,
          model.bn2.momentum, model.training)


if __name__ == "__main__":
    main()
