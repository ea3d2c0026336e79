"""A finer LR grid around each depth's optimum of a finished coarse sweep.

    python -m amup_timm.refine multirun/paper_cnn_cpu [--step 0.1667 --points 2]

For every (model, depth, scheme) of the sweep, runs ``train.py -m`` again with the sweep's own
overrides, that architecture and scheme, and log10 LRs at eta* +- k * step (k = 1..points),
into SWEEP/refine_<model>_d<depth>_<scheme>; the fit of SWEEP then reads the coarse and the
fine runs together.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf

from .fit import best_lr
from .knobs import nominal_depth
from .records import collect


def fine_grids(sweep: str | Path, step: float, points: int, select: str
               ) -> dict[tuple[str, int, str], list[float]]:
    """New log10 LRs around eta* per (model, depth, scheme) (LRs already run are left out)."""
    groups: dict[tuple[str, int, str], list[dict]] = {}
    for r in collect(sweep):
        groups.setdefault((r["model"], r["depth"], r["scheme"]), []).append(r)
    grids = {}
    for key, recs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0, kv[0][2])):
        best = best_lr(recs, select)
        if best is None:
            continue
        center = math.log10(best[0])
        done = {round(math.log10(r["lr"]), 4) for r in recs if r["lr"]}
        grids[key] = [round(center + k * step, 4) for k in range(-points, points + 1)
                      if k and round(center + k * step, 4) not in done]
    return grids


def architecture_overrides(model: str, depth: int) -> list[str]:
    """Overrides that select ``model`` at ``depth``: the depth kwarg, or the timm name."""
    return ([f"model.kwargs.depth={depth}"] if nominal_depth(model, {}) != depth
            else [f"model.name={model}"])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m amup_timm.refine",
                                description=__doc__.split("\n")[0])
    p.add_argument("sweep", help="the coarse multirun directory")
    p.add_argument("--step", type=float, default=1 / 6, help="grid step in decades")
    p.add_argument("--points", type=int, default=2, help="new LRs on each side of eta*")
    p.add_argument("--select", choices=("final", "mean"), default="final")
    args = p.parse_args(argv)
    sweep = Path(args.sweep)
    for (model, depth, scheme), grid in fine_grids(sweep, args.step, args.points,
                                                   args.select).items():
        if grid:
            rerun(sweep, sweep / f"refine_{model}_d{depth}_{scheme}",
                  [*architecture_overrides(model, depth), f"amup.scheme={scheme}"], grid)


def rerun(sweep: Path, out: Path, select: list[str], log10_lrs: list[float]) -> None:
    """``train.py -m`` with the sweep's own overrides, ``select`` (architecture, scheme) and
    other LRs, into ``out``."""
    keys = tuple(o.split("=", 1)[0] + "=" for o in select) + ("optim.log10_lr=", "optim.lr=")
    overrides = [o for o in OmegaConf.load(sweep / "multirun.yaml").hydra.overrides.task
                 if not o.startswith(keys)]
    train = Path(__file__).resolve().parents[1] / "train.py"
    cmd = [sys.executable, str(train), "-m", *overrides, *select,
           "optim.log10_lr=" + ",".join(str(g) for g in log10_lrs), f"hydra.sweep.dir={out}"]
    print("+ " + " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
