"""A finer LR grid around each optimum of a finished sweep: the transfer check's own refine.

    python -m amup_timm.refine multirun/paper_cnn_cpu [--step 0.125 --points 2]

For every (scheme, size) of the sweep (its ``scale.<axis>`` value in a check, else its model
and depth), runs the sweep's own overrides again at log10 LRs eta* +- k * step (k = 1..points,
LRs already run left out) into SWEEP/refine/; the fit and the verdict then read the coarse and
the fine runs together.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from omegaconf import OmegaConf

from .check import Plan, refine
from .eta import DEFAULT_SELECT, SELECT
from .records import PACKED, end_callback


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m amup_timm.refine",
                                description=__doc__.split("\n")[0])
    p.add_argument("sweep", help="the coarse multirun directory")
    p.add_argument("--step", type=float, default=Plan.step, help="grid step in decades")
    p.add_argument("--points", type=int, default=Plan.points, help="new LRs each side of eta*")
    p.add_argument("--select", choices=sorted(SELECT), default=None,
                   help=f"default: the sweep's check's, else {DEFAULT_SELECT}")
    args = p.parse_args(argv)
    sweep = Path(args.sweep)
    if sweep.name.endswith(PACKED):
        raise SystemExit(f"{sweep} is packed records; refine runs jobs into a directory: unpack "
                         f"it first (tar -xzf {sweep} -C multirun/) and give that directory")
    path = sweep / "multirun.yaml"
    if not path.is_file():
        raise SystemExit(f"{path} not found: give the directory of a `amup-train -m` sweep")
    config = OmegaConf.load(path)
    hydra = OmegaConf.to_container(config.hydra, resolve=False)
    callback = end_callback(hydra)
    is_check = "check" in config  # a check's sweep: its sizes are scale.<axis> values
    plan = Plan(axis=callback.get("axis", "depth"),
                select=args.select or callback.get("select", DEFAULT_SELECT),
                step=args.step, points=args.points)
    refine(sweep, list(hydra["overrides"]["task"]), plan, None, by_scale=is_check)


if __name__ == "__main__":
    main()
