"""A finer LR grid around each depth's optimum of a finished coarse sweep.

    python -m amup_timm.refine multirun/paper_cnn_cpu [--step 0.1667 --points 2]

For every depth of the sweep, runs ``train.py -m`` again with the sweep's own overrides, that
depth, and log10 LRs at eta* +- k * step (k = 1..points), into SWEEP/refine_d<depth>; the fit
of SWEEP then reads the coarse and the fine runs together.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf

from .fit import best_lr
from .records import collect


def fine_grids(sweep: str | Path, step: float, points: int, select: str) -> dict[int, list[float]]:
    """New log10 LRs per depth around that depth's eta* (LRs already run are left out)."""
    by_depth: dict[int, list[dict]] = {}
    for r in collect(sweep):
        by_depth.setdefault(r["depth"], []).append(r)
    grids = {}
    for depth, recs in sorted(by_depth.items()):
        best = best_lr(recs, select)
        if best is None:
            continue
        center = math.log10(best[0])
        done = {round(math.log10(r["lr"]), 4) for r in recs if r["lr"]}
        grids[depth] = [round(center + k * step, 4) for k in range(-points, points + 1)
                        if k and round(center + k * step, 4) not in done]
    return grids


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m amup_timm.refine", description=__doc__.split("\n")[0])
    p.add_argument("sweep", help="the coarse multirun directory")
    p.add_argument("--step", type=float, default=1 / 6, help="grid step in decades")
    p.add_argument("--points", type=int, default=2, help="new LRs on each side of eta*")
    p.add_argument("--select", choices=("final", "mean"), default="final")
    args = p.parse_args(argv)
    sweep = Path(args.sweep)
    for depth, grid in fine_grids(sweep, args.step, args.points, args.select).items():
        if grid:
            rerun(sweep, sweep / f"refine_d{depth}", depth, grid)


def rerun(sweep: Path, out: Path, depth: int, log10_lrs: list[float]) -> None:
    """``train.py -m`` with the sweep's own overrides at one depth and other LRs, into out."""
    overrides = [o for o in OmegaConf.load(sweep / "multirun.yaml").hydra.overrides.task
                 if not o.startswith(("model.kwargs.depth=", "optim.log10_lr=", "optim.lr="))]
    train = Path(__file__).resolve().parents[1] / "train.py"
    cmd = [sys.executable, str(train), "-m", *overrides, f"model.kwargs.depth={depth}",
           "optim.log10_lr=" + ",".join(str(g) for g in log10_lrs), f"hydra.sweep.dir={out}"]
    print("+ " + " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
