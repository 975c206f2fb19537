"""Reference learning rates of torch.optim.swa_utils.SWALR for tests/callbacks/swa_average_test.cpp.

For each anneal strategy ("cos", then "linear"): an SGD optimizer starts at START_LR; SWALR(swa_lr=SWA_LR,
anneal_epochs=ANNEAL, anneal_strategy=strategy) is built (which sets the first learning rate) and stepped STEPS
times. Prints one line per strategy: its name, then the learning rate after construction and after each step, with
17 significant digits.

Usage: averaging_swalr_reference.py START_LR SWA_LR ANNEAL STEPS
"""
import sys

import torch
from torch.optim.swa_utils import SWALR


def main():
    start_lr, swa_lr, anneal, steps = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    for strategy in ("cos", "linear"):
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=start_lr)
        scheduler = SWALR(optimizer, swa_lr=swa_lr, anneal_epochs=anneal, anneal_strategy=strategy)
        lrs = [optimizer.param_groups[0]["lr"]]
        for _ in range(steps):
            optimizer.step()
            scheduler.step()
            lrs.append(optimizer.param_groups[0]["lr"])
        print(strategy, " ".join("%.17g" % lr for lr in lrs))


if __name__ == "__main__":
    main()
