"""Wall time of the AM probe at its default settings (conf/probe.yaml) on one model.

    python benchmarks/probe_cost.py [--model resnet101]

Defaults: 4 initializations, a batch of 16 digits at 16x16, one S(eta) at the reference LR,
the two ends of the bracket and a 15-step bisection (18 evaluations, one forward per seed).
"""

from __future__ import annotations

import argparse
import time

import torch
from omegaconf import OmegaConf

import amup_timm
from amup_timm.data import build_data
from amup_timm.experiments.probe import Probe, first_batch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="resnet101")
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--evals", type=int, default=15)
    args = p.parse_args()
    data = build_data(OmegaConf.load("conf/data/digits.yaml"), torch.device("cpu"))
    batch = first_batch(data, args.batch)
    t0 = time.perf_counter()
    probe = Probe(lambda s: amup_timm.create_model(args.model, num_classes=10, in_chans=1),
                  batch, seeds=args.seeds)
    t1 = time.perf_counter()
    budget = probe.measure(0.1).absolute
    eta = probe.solve(budget, evals=args.evals, lo=1e-5, hi=100)
    t2 = time.perf_counter()
    print(f"{args.model}: {args.seeds} seeds, batch {args.batch}, {args.evals} bisection steps: "
          f"build + gradients {t1 - t0:.1f} s, {probe.forwards - args.seeds} forwards for "
          f"S and the solve {t2 - t1:.1f} s, total {t2 - t0:.1f} s (eta {eta:.4g}, "
          f"{torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
