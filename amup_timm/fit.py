"""``python -m amup_timm.fit``: eta*(L) of a sweep: slopes, intervals, the law's prediction,
plots (the pipeline: amup_timm.experiments.verdict; its files: amup_timm.experiments.report)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .config import MEASURES
from .experiments import fit
from .experiments.eta import DEFAULT_SELECT, SELECT
from .experiments.report import check_summary, write_check


def main(argv: list[str] | None = None) -> fit.Verdict:
    p = argparse.ArgumentParser(prog="python -m amup_timm.fit",
                                description=fit.__doc__.split("\n")[0])
    p.add_argument("sweep", help="multirun directory, or wandb:ENTITY/PROJECT/sweeps/ID")
    p.add_argument("--select", choices=sorted(SELECT), default=DEFAULT_SELECT,
                   help="final: mean loss of the last 10%% of steps; mean: whole run; val: "
                        "final held-out loss")
    p.add_argument("--exponent", type=float, default=None,
                   help="law exponent (default: each scheme's own, -1.5 for am_mup)")
    p.add_argument("--base-depth", type=int, default=None, help="depth the law transfers from")
    p.add_argument("--measure", choices=MEASURES, default="minimal_path",
                   help="the depth measure of the prediction and the plot")
    p.add_argument("--out", default=None, help="output directory (default SWEEP/fit)")
    args = p.parse_args(argv)
    result = fit.fit_sweep(args.sweep, args.select, args.exponent, args.base_depth,
                           args.measure)
    out = Path(args.out) if args.out else (
        Path("fit") / args.sweep.replace(":", "_").replace("/", "_")
        if args.sweep.startswith("wandb:") else Path(args.sweep) / "fit")
    files = write_check(result, out, stem="fit")
    print("\n".join(check_summary(result)))
    print("wrote " + ", ".join(str(f) for f in files))
    return result


if __name__ == "__main__":
    main()
