"""The eta*(L) fit of a depth x LR sweep (docs/design.md §7): the check's pipeline
(``verdict.verdict``) over any sweep's records.

    python -m amup_timm.fit multirun/sweep_tiny/2026-11-24_10-00-00 [--select mean]

eta* per depth: losses averaged over seeds, then the argmin over the LR grid (a diverged seed
makes its cell +inf). The slope of log eta* on log L with its intervals and R^2, for each
depth measure; each depth's eta* against the law's prediction from a base depth; per optimizer
and scheme. report.py writes fit.json, fit.csv, fit.md, eta.png and curves.png to SWEEP/fit
(or --out); a fit.json written before 0.2.0 (its ``slopes`` key) is still read.
"""

from __future__ import annotations

from pathlib import Path

from .eta import DEFAULT_SELECT, Select
from .records import collect
from .verdict import Verdict, verdict


def fit_sweep(source: str | Path, select: Select = DEFAULT_SELECT,
              exponent: float | None = None, base_depth: int | None = None,
              measure: str = "minimal_path") -> Verdict:
    """Fit every optimizer/scheme group of a sweep's records; the law's exponent is
    ``exponent`` if given, else the one each group's scheme predicts (-1.5 for am_mup)."""
    records = collect(source)
    if not records:
        raise FileNotFoundError(f"no results.json under {source}; is it a multirun directory?")
    result = verdict(records, "depth", select, measure, exponent, base_depth)
    result.command = f"python -m amup_timm.fit {source} --select {select}"
    return result
