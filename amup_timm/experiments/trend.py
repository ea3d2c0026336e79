"""The trend of eta* against size and how well the data know it (docs/design.md §8): the
least-squares slope with its t-interval, the seed bootstrap (enumerated exactly where the
resample space is small), the grid-resolution range, each eta*'s seed range and the misfit of
the line against them."""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

from .eta import all_seeds, argmin_lr


def fit_slope(L: list[float], eta: list[float]) -> dict[str, Any]:
    """Least squares of log eta on log L: slope, 95% t-interval, R^2."""
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


def trend(xs: list[float], etas: list[float], axis: str) -> dict[str, Any]:
    """Depth: slope of log eta* on log L. Width: decades of eta* per doubling of width."""
    if axis == "depth":
        return fit_slope(xs, etas)
    # log10 eta = a + b log2 w  <=>  ln eta = ln10 a + (b ln10 / ln2) ln w
    fitted = fit_slope(xs, etas)
    k = math.log(2) / math.log(10)
    scale = (lambda v: None if v is None else v * k)
    return {**fitted, "slope": scale(fitted["slope"]), "ci95": [scale(c) for c in fitted["ci95"]]}


EXACT = 10_000  # resample spaces up to this size are enumerated; larger ones are drawn


def seed_resamples(seeds: list, samples: int, seed: int) -> tuple[list[list], str]:
    """The seeds' bootstrap resamples and how they were made: every one where the space
    (seeds ** seeds) is at most ``EXACT``, else ``samples`` random draws."""
    space = len(seeds) ** len(seeds)
    if space <= EXACT:
        return ([list(p) for p in itertools.product(seeds, repeat=len(seeds))],
                f"seed bootstrap, exact ({space} resamples)")
    rng = random.Random(seed)
    return ([[rng.choice(seeds) for _ in seeds] for _ in range(samples)],
            f"seed bootstrap ({samples} draws)")


def bootstrap_interval(by_value: dict[Any, dict[float, dict[int, float]]], xs: dict[Any, float],
                       axis: str, samples: int = 2000, seed: int = 0
                       ) -> tuple[list[float | None], str]:
    """The trend's 95% percentile interval with the seeds resampled (the same resample at every
    size, the argmin redone, the trend refitted) and its method (``seed_resamples``)."""
    seeds = sorted({s for cells in by_value.values() for c in cells.values() for s in c},
                   key=str)
    if len(seeds) < 2 or len(by_value) < 3:
        return [None, None], ""
    picks, method = seed_resamples(seeds, samples, seed)
    slopes = []
    for pick in picks:
        pts = [(xs[v], argmin_lr(cells, pick)) for v, cells in by_value.items()]
        pts = [(x, e) for x, e in pts if e is not None]
        if len({x for x, _ in pts}) >= 2:
            s = trend([x for x, _ in pts], [e for _, e in pts], axis)["slope"]
            if s is not None:
                slopes.append(s)
    if len(slopes) < len(picks) // 2:
        return [None, None], ""
    return list(central95(slopes)), method


def grid_resolution(lrs: list[float], eta: float | None) -> float | None:
    """Half the log10 gap from eta* to its nearest grid neighbour: how well the grid knows it."""
    if eta is None or len(lrs) < 2:
        return None
    i = lrs.index(eta)
    gaps = [math.log10(lrs[j] / eta) for j in (i - 1, i + 1) if 0 <= j < len(lrs)]
    return min(abs(g) for g in gaps) / 2


def resolution_interval(xs: list[float], halves: list[float | None], fitted: dict,
                        axis: str) -> list[float | None]:
    """The trend's range when every eta* moves anywhere within its grid resolution: the
    least-squares slope is linear in log eta*, so the extremes move each by +-half a gap."""
    if fitted["slope"] is None or None in halves or len(xs) < 2:
        return [None, None]
    lx = [math.log(x) for x in xs]
    mean = sum(lx) / len(lx)
    sxx = sum((v - mean) ** 2 for v in lx)
    spread = sum(abs(v - mean) / sxx * h * math.log(10) for v, h in zip(lx, halves))
    if axis == "width":
        spread *= math.log(2) / math.log(10)
    return [fitted["slope"] - spread, fitted["slope"] + spread]


def eta_range(cells: dict[float, dict[int, float]], samples: int = 1000,
              seed: int = 0) -> tuple[float, float] | None:
    """95% range of log10 eta* with the seeds resampled (the argmin redone each time; the
    resamples: ``seed_resamples``)."""
    picks = [argmin_lr(cells, r) for r in seed_resamples(all_seeds(cells), samples, seed)[0]]
    logs = [math.log10(e) for e in picks if e is not None]
    return central95(logs) if logs else None


def central95(values: list[float]) -> tuple[float, float]:
    """The central 95% of ``values``: 2.5% of them below, 2.5% above."""
    v = sorted(values)
    k = int(0.025 * len(v))
    return v[k], v[len(v) - 1 - k]


def misfit(xs: list[float], etas: list[float], ranges: list[tuple[float, float] | None],
           halves: list[float | None]) -> float | None:
    """The largest number of decades by which the fitted power law passes outside an eta*'s
    seed range (``eta_range``) widened by half its grid gap: <= 0 when the law fits
    within what the seeds and the grid can resolve. (R^2 cannot judge this: a flat eta*, muP's
    prediction across width, has no variance to explain.)"""
    f = fit_slope(xs, etas)
    if f["slope"] is None or None in halves or None in ranges or len(xs) < 3:
        return None
    off = []
    for x, (lo, hi), h in zip(xs, ranges, halves):
        line = (f["intercept"] + f["slope"] * math.log(x)) / math.log(10)
        off.append(max(lo - h - line, line - hi - h))
    return round(max(off), 9)  # a line that touches a range's edge fits: no float noise
