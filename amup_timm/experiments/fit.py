"""The eta*(L) fit of a depth x LR sweep (docs/design.md §7).

    python -m amup_timm.fit multirun/sweep_tiny/2026-11-24_10-00-00 [--select mean]

eta* per depth: losses averaged over seeds, then the argmin over the LR grid (a diverged seed
makes its cell +inf). The slope of log eta* on log L, with its 95% interval and R^2, for each
depth measure; the transfer error of the law from a base depth; per optimizer and scheme.
report.py writes fit.json, fit.csv, fit.md, eta_vs_L.png and loss_vs_lr.png to SWEEP/fit (or
--out).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from .eta import DEFAULT_SELECT, eta_star, gaps_near, lr_curve
from .records import Record, collect

MEASURES = ("minimal_path", "longest_path", "blocks")


def fit_slope(L: list[float], eta: list[float]) -> dict[str, Any]:
    """Least squares of log eta on log L: slope, 95% interval, R^2."""
    n = len(L)
    if n < 2:
        return {"slope": None, "ci95": [None, None], "r2": None, "n": n, "intercept": None}
    x = [math.log(v) for v in L]
    y = [math.log(v) for v in eta]
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((a - mx) ** 2 for a in x)
    if sxx == 0:
        return {"slope": None, "ci95": [None, None], "r2": None, "n": n, "intercept": None}
    slope = sum((a - mx) * (b - my) for a, b in zip(x, y)) / sxx
    intercept = my - slope * mx
    resid = [b - (intercept + slope * a) for a, b in zip(x, y)]
    ss_res, ss_tot = sum(r * r for r in resid), sum((b - my) ** 2 for b in y)
    r2 = 1 - ss_res / ss_tot if ss_tot > 0 else 1.0
    ci: list[float | None] = [None, None]
    if n > 2:
        from scipy.stats import t

        half = t.ppf(0.975, n - 2) * math.sqrt(ss_res / (n - 2) / sxx)
        ci = [slope - half, slope + half]
    return {"slope": slope, "ci95": ci, "r2": r2, "n": n, "intercept": intercept}


def fit_group(records: list[Record], select: str = DEFAULT_SELECT, exponent: float = -1.5,
              base_depth: int | None = None) -> dict[str, Any]:
    """eta*(L), slopes per measure and the law's transfer error, for one optimizer/scheme."""
    by_depth: dict[Any, list[Record]] = defaultdict(list)
    for r in records:
        by_depth[(r.model, r.depth)].append(r)
    rows = []
    for (model, depth), recs in sorted(by_depth.items(), key=lambda kv: (kv[0][1] or 0, kv[0][0])):
        depths = next((r.depths for r in recs if r.depths), {})
        best = eta_star(recs, select)
        rows.append({"model": model, "depth": depth, "L": depths,
                     "eta_star": best[0] if best else None,
                     "best_loss": best[1] if best else None,
                     "curve": lr_curve(recs, select),
                     "runs": len(recs), "diverged": sum(r.status == "diverged" for r in recs),
                     "failed": sum(r.status == "failed" for r in recs),
                     "gaps": gaps_near(recs, best[0] if best else None, records)})
    ok = [r for r in rows if r["eta_star"] is not None and r["L"]]
    slopes = {m: fit_slope([r["L"][m] for r in ok], [r["eta_star"] for r in ok])
              for m in MEASURES if all(m in r["L"] for r in ok)}
    transfer, base = [], None
    if ok:
        base = next((r for r in ok if r["depth"] == base_depth), ok[0])
        for m in slopes:
            for r in ok:
                pred = base["eta_star"] * (r["L"][m] / base["L"][m]) ** exponent
                transfer.append({"measure": m, "depth": r["depth"], "eta_pred": pred,
                                 "eta_star": r["eta_star"],
                                 "error_log10": abs(math.log10(pred) - math.log10(r["eta_star"]))})
    return {"rows": rows, "slopes": slopes, "transfer": transfer,
            "base_depth": base["depth"] if base else None}


def fit_sweep(source: str | Path, select: str = DEFAULT_SELECT, exponent: float | None = None,
              base_depth: int | None = None) -> dict[str, Any]:
    """Fit every optimizer/scheme group of a sweep's records; the law's exponent is
    ``exponent`` if given, else the one each group's scheme predicts (-1.5 for am_mup)."""
    records = collect(source)
    if not records:
        raise FileNotFoundError(f"no results.json under {source}; is it a multirun directory?")
    groups: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for r in records:
        groups[(r.optimizer or "?", r.scheme or "?")].append(r)
    out = []
    for (o, s), recs in sorted(groups.items()):
        e = exponent if exponent is not None else _exponent(recs)
        out.append({"optimizer": o, "scheme": s, "exponent": e,
                    **fit_group(recs, select, e, base_depth)})
    return {"source": str(source), "select": select, "groups": out}


def _exponent(records: list[Record]) -> float:
    """The law exponent the group's scheme predicts (-1.5 when the records do not say)."""
    found = {r.exponent for r in records} - {None}
    return found.pop() if len(found) == 1 else -1.5
