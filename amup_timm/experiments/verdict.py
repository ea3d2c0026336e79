"""The verdict of a transfer check: does the LR tuned at the smallest depth (or width) train
the larger models as well as a sweep at their own size would?

Per (optimizer, scheme), from a check directory's records:
- eta* per axis value over the fixed grid (coarse and refined runs; seeds averaged first, a
  diverged seed makes its cell +inf), with a flag when it sits at the grid's edge;
- the trend of eta*: for depth, the slope of log eta* on log L per depth measure; for width,
  the drift of log10 eta* per doubling of width; each with a least-squares t-interval, a
  seed-bootstrap interval (seeds resampled, argmin redone, refit) and the grid-resolution
  range (every eta* anywhere within half a grid gap); the verdict uses the union of the last
  two;
- the zero-shot regret at every larger value: held-out loss and accuracy of the runs at the
  transferred LR against those at the size's own eta*, over the same seeds, and its range
  over seeds (each seed's transferred run against its own run at eta*);
- the compute saved: a sweep at the target against the reference sweep plus the target run.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from .eta import all_seeds, argmin_lr, cell_losses, loss_of, once
from .fit import MEASURES, fit_slope
from .records import Record

AXES = ("depth", "width")


@dataclass
class SizeRow:
    """One axis value of a group: its eta* over the grid, how well the grid knows it, its runs."""

    value: Any  # the depth label or width
    model: str | None
    kwargs: dict[str, Any]
    L: dict[str, float]  # L by depth measure
    eta_star: float | None  # None: every LR diverged or failed
    at_edge: bool  # eta* is the grid's smallest or largest LR
    resolution: float | None  # half the log10 gap to eta*'s nearest grid neighbour
    star_val_loss: float | None
    star_val_acc: float | None
    curve: list[dict[str, Any]]  # per LR: held-out, selection and training loss
    runs: int
    diverged: int
    failed: int
    compute_s: float
    lrs: int
    seeds: int
    eta_range: tuple[float, float] | None = None  # seeds' 95% range of log10 eta*


@dataclass
class Trend:
    """The fit of eta* against the axis and its three 95% intervals."""

    slope: float | None  # depth: of log eta* on log L; width: decades per doubling
    ci95: list[float | None]  # least-squares t-interval
    r2: float | None
    n: int
    intercept: float | None
    bootstrap95: list[float | None]  # seeds resampled
    resolution: list[float | None]  # every eta* within half its grid gap
    misfit: float | None  # decades by which the line misses an eta* (``misfit``)


@dataclass
class Regret:
    """The zero-shot regret at one larger size: its runs at the transferred LR against eta*."""

    value: Any
    lr: float | None  # the transferred LR
    eta_star: float | None
    off_log10: float | None  # decades between the two
    val_loss: float | None  # seed mean at the transferred LR (+inf if a seed diverged)
    val_acc: float | None
    seeds: int
    diverged: int
    star_val_loss: float | None
    star_val_acc: float | None
    regret: float | None
    regret_rel: float | None
    regret_range: list[float] | None  # over seeds (``seed_range``)
    acc_regret: float | None
    compute_saved: float | None  # a sweep at the size against the reference sweep + this run
    test: TestRegret | None = None  # the same on the test split, where the runs measured it


@dataclass
class TestRegret:
    """A regret on the test split: seed means at the transferred LR and at eta* (picked on the
    selection loss), the loss regret with its range over seeds, the accuracy points lost."""

    loss: float | None  # +inf if a seed diverged
    star_loss: float | None
    regret: float | None
    regret_range: list[float] | None
    acc: float | None
    star_acc: float | None
    acc_points: float | None  # 100 x (accuracy at eta* - accuracy at the transferred LR)


@dataclass
class GroupVerdict:
    """The verdict for one (optimizer, scheme): rows per axis value, trends, regret, the call."""

    optimizer: str
    scheme: str
    rows: list[SizeRow]
    trends: dict[str, Trend]  # by depth measure, or "width"
    regret: list[Regret]
    exponent: float  # the predicted trend
    call: str  # the verdict in one line (``verdict_text``)


@dataclass
class Verdict:
    """The verdict of a check's records, group by group (verdict.json: ``to_json``)."""

    axis: str
    select: str
    measure: str
    groups: list[GroupVerdict]
    leaderboard: str | None = None  # the arms' table (markdown), where several arms ran
    command: str | None = None  # the check's amup-train command

    def to_json(self) -> dict[str, Any]:
        """verdict.json's content: the fields, less an unset command or leaderboard, a row's
        eta_range where it has no eta* and a regret's test where its runs had no test split."""
        out = {k: v for k, v in asdict(self).items()
               if v is not None or k not in ("leaderboard", "command")}
        for g in out["groups"]:
            for r in g["rows"]:
                if r["eta_star"] is None:
                    del r["eta_range"]
            for t in g["regret"]:
                if t["test"] is None:
                    del t["test"]
        return out


def trend(xs: list[float], etas: list[float], axis: str) -> dict[str, Any]:
    """Depth: slope of log eta* on log L. Width: decades of eta* per doubling of width."""
    if axis == "depth":
        return fit_slope(xs, etas)
    # log10 eta = a + b log2 w  <=>  ln eta = ln10 a + (b ln10 / ln2) ln w
    fitted = fit_slope(xs, etas)
    k = math.log(2) / math.log(10)
    scale = (lambda v: None if v is None else v * k)
    return {**fitted, "slope": scale(fitted["slope"]), "ci95": [scale(c) for c in fitted["ci95"]]}


def bootstrap_interval(by_value: dict[Any, dict[float, dict[int, float]]], xs: dict[Any, float],
                       axis: str, samples: int = 1000, seed: int = 0) -> list[float | None]:
    """95% percentile interval of the trend with seeds resampled (argmin redone each time)."""
    seeds = sorted({s for cells in by_value.values() for c in cells.values() for s in c})
    if len(seeds) < 2 or len(by_value) < 2:
        return [None, None]
    rng = random.Random(seed)
    slopes = []
    for _ in range(samples):
        pick = [rng.choice(seeds) for _ in seeds]
        pts = [(xs[v], argmin_lr(cells, pick)) for v, cells in by_value.items()]
        pts = [(x, e) for x, e in pts if e is not None]
        if len({x for x, _ in pts}) >= 2:
            s = trend([x for x, _ in pts], [e for _, e in pts], axis)["slope"]
            if s is not None:
                slopes.append(s)
    if len(slopes) < samples // 2:
        return [None, None]
    return list(central95(slopes))


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
    """95% range of log10 eta* with the seeds resampled (the argmin redone each time)."""
    seeds = all_seeds(cells)
    rng = random.Random(seed)
    picks = [argmin_lr(cells, [rng.choice(seeds) for _ in seeds]) for _ in range(samples)]
    logs = [math.log10(e) for e in picks if e is not None]
    return central95(logs) if logs else None


def central95(values: list[float]) -> tuple[float, float]:
    """The central 95% of ``values``: 2.5% of them below, 2.5% above."""
    v = sorted(values)
    k = int(0.025 * len(v))
    return v[k], v[len(v) - 1 - k]


def interval(t: Trend) -> tuple[float | None, float | None]:
    """The union of a trend's seed-bootstrap and grid-resolution intervals (its t-interval
    when it has neither): what the verdict judges by."""
    ends = [iv for iv in (t.bootstrap95, t.resolution) if iv and iv[0] is not None]
    if not ends:
        return tuple(t.ci95 or (None, None))
    return min(iv[0] for iv in ends), max(iv[1] for iv in ends)


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


def ran(runs: list[Record]) -> list[Record]:
    """The runs that finished or diverged (a failed run measured nothing)."""
    return [r for r in runs if r.status in ("finished", "diverged")]


def held_out(records: list[Record]) -> dict[str, Any]:
    """Seed-mean held-out loss and accuracy of some runs (+inf loss if any diverged)."""
    done = ran(records)
    if not done:
        return {"val_loss": None, "val_acc": None, "seeds": 0, "diverged": 0}
    diverged = sum(r.status == "diverged" or r.val_loss is None for r in done)
    loss = math.inf if diverged else sum(r.val_loss for r in done) / len(done)
    acc = None if diverged else sum(r.val_acc or 0.0 for r in done) / len(done)
    return {"val_loss": loss, "val_acc": acc, "seeds": len(done), "diverged": diverged}


def seed_range(moved: list[Record], star: list[Record], loss: str = "val"
               ) -> list[float] | None:
    """[lowest, highest] over seeds of the regret of one seed: its ``loss`` (held-out by
    default) at the transferred LR minus its own at eta* (+inf where the transferred run
    diverged); None without a seed run at both."""
    at_star = {r.seed: loss_of(r, loss) for r in ran(star)}
    diffs = [loss_of(r, loss) - at_star[r.seed] for r in ran(moved) if r.seed in at_star]
    return [min(diffs), max(diffs)] if diffs else None


def test_regret(moved: list[Record], star: list[Record]) -> TestRegret | None:
    """The regret of the transferred LR on the test split, over the seeds run to the end at
    eta* and run at the transferred LR: seed means, one seed's own difference's range, the
    accuracy points lost (none where a transferred run diverged); None where no seed ran at
    both or a finished run has no test split (the digits checks have none)."""
    at_star = {r.seed: r for r in star if r.status == "finished"}
    moved = [r for r in ran(moved) if r.seed in at_star]
    star = [at_star[r.seed] for r in moved]
    if not moved or any(r.test_loss is None or r.test_acc is None
                        for r in star + moved if r.status == "finished"):
        return None
    loss = _mean([loss_of(r, "test_loss") for r in moved])
    star_loss = _mean([loss_of(r, "test_loss") for r in star])
    diverged = any(r.status == "diverged" for r in moved)
    acc = None if diverged else _mean([r.test_acc for r in moved])
    star_acc = _mean([r.test_acc for r in star])
    return TestRegret(loss=loss, star_loss=star_loss, regret=loss - star_loss,
                      regret_range=seed_range(moved, star, "test_loss"), acc=acc,
                      star_acc=star_acc,
                      acc_points=100 * (star_acc - acc) if acc is not None else None)


def compute_s(records: list[Record], typical: float | None) -> float:
    """What some runs of one size cost: ``typical`` seconds (the median wall time of a
    finished run of that size) a run, times the share of its steps a run that stopped early
    ran; the run's own wall time where either is unknown. One run paused or slowed by other
    work on the machine does not move it."""
    total = 0.0
    for r in records:
        if typical and r.max_steps and r.steps is not None:
            total += typical * min(1.0, r.steps / r.max_steps)
        else:
            total += r.wall_s or 0.0
    return total


def axis_value(rec: Record, axis: str) -> Any:
    return rec.depth if axis == "depth" else rec.width


def verdict_group(optimizer: str, scheme: str, records: list[Record], axis: str, select: str,
                  measure: str, exponent: float) -> GroupVerdict:
    """The verdict for one (optimizer, scheme): rows per axis value, trend, regret, cost."""
    def key(r: Record) -> Any:
        return axis_value(r, axis)

    grid = once([r for r in records if r.stage not in ("transfer", "seeds")], key)
    moved = once([r for r in records if r.stage == "transfer"
                  and r.arm == r.scheme], key)  # the scheme's own arm
    by_value: dict[Any, list[Record]] = defaultdict(list)
    for r in grid:
        by_value[axis_value(r, axis)].append(r)
    walls: dict[Any, list[float]] = defaultdict(list)
    for r in grid + moved:
        if r.status == "finished" and r.wall_s:
            walls[axis_value(r, axis)].append(r.wall_s)
    typical = {v: statistics.median(w) for v, w in walls.items()}
    rows, star_runs = [], {}
    for value, recs in sorted(by_value.items(), key=lambda kv: kv[0] or 0):
        cells = cell_losses(recs, select)
        seeds = all_seeds(cells)
        eta = argmin_lr(cells, seeds)
        lrs = sorted(cells)
        by_lr = defaultdict(list)
        for r in recs:
            if r.lr:  # a failed run of an unknown LR has no cell
                by_lr[float(r.lr)].append(r)
        curve = [{"lr": lr, **held_out(rs),
                  **{f"{k}_loss": _mean([loss_of(r, v) for r in rs if r.status != "failed"])
                     for k, v in (("select", select), ("train", "final"))}}
                 for lr, rs in sorted(by_lr.items())]
        best = next((c for c in curve if c["lr"] == eta), None)  # the grid's best: eta*
        star_runs[value] = by_lr.get(eta, [])
        depths = next((r.depths for r in recs if r.depths), {})
        rows.append(SizeRow(
            value=value, model=recs[0].model, kwargs=recs[0].kwargs,
            L=depths, eta_star=eta, at_edge=eta is not None and eta in (lrs[0], lrs[-1]),
            resolution=grid_resolution(lrs, eta),
            star_val_loss=best["val_loss"] if best else None,
            star_val_acc=best["val_acc"] if best else None, curve=curve,
            runs=len(recs), diverged=sum(r.status == "diverged" for r in recs),
            failed=sum(r.status == "failed" for r in recs),
            compute_s=compute_s(recs, typical.get(value)), lrs=len(lrs),
            seeds=len(seeds)))
    ok = [r for r in rows if r.eta_star is not None]
    cells_by = {r.value: cell_losses(by_value[r.value], select) for r in ok}
    for r in ok:
        r.eta_range = eta_range(cells_by[r.value])
    trends = {}
    for m in (MEASURES if axis == "depth" else ("width",)):
        if axis == "depth" and not all(m in r.L for r in ok):
            continue
        xs = {r.value: float(r.L[m] if axis == "depth" else r.value) for r in ok}
        t = trend([xs[r.value] for r in ok], [r.eta_star for r in ok], axis)
        x_ok, halves = [xs[r.value] for r in ok], [r.resolution for r in ok]
        trends[m] = Trend(**t, bootstrap95=bootstrap_interval(cells_by, xs, axis),
                          resolution=resolution_interval(x_ok, halves, t, axis),
                          misfit=misfit(x_ok, [r.eta_star for r in ok],
                                        [r.eta_range for r in ok], halves))
    regret = []
    base = rows[0] if rows else None
    for row in rows[1:]:
        runs = [r for r in moved if axis_value(r, axis) == row.value]
        if not runs:
            continue
        got = held_out(runs)
        lr = _mean([r.lr for r in runs if r.lr])
        best = row.star_val_loss
        loss_regret = (got["val_loss"] - best if best is not None and got["val_loss"] is not None
                       else None)
        target_cost = row.compute_s
        transfer_cost = ((base.compute_s if base else 0.0)
                         + compute_s(runs, typical.get(row.value)))
        regret.append(Regret(
            value=row.value, lr=lr, eta_star=row.eta_star,
            off_log10=(abs(math.log10(lr) - math.log10(row.eta_star))
                       if lr and row.eta_star else None),
            **got, star_val_loss=best,
            star_val_acc=row.star_val_acc, regret=loss_regret,
            regret_rel=(loss_regret / best if loss_regret is not None and best else None),
            regret_range=seed_range(runs, star_runs[row.value]),
            acc_regret=(row.star_val_acc - got["val_acc"]
                        if got["val_acc"] is not None and row.star_val_acc is not None
                        else None),
            compute_saved=target_cost / transfer_cost if transfer_cost else None,
            test=test_regret(runs, star_runs[row.value])))
    main = trends.get(measure if axis == "depth" else "width")
    return GroupVerdict(optimizer, scheme, rows, trends, regret, exponent,
                        verdict_text(main, exponent, axis, rows))


# The other rule an interval must exclude before a prediction "holds", by (axis, whether the
# predicted exponent is 0): across depth, one LR (0) against the -1.5 law; width has none.
RIVALS = {("depth", False): (0.0, "0 (one LR at every depth)"),
          ("depth", True): (-1.5, "-1.5 (the law)")}


def verdict_text(t: Trend | None, exponent: float, axis: str, rows: list[SizeRow]) -> str:
    """One line: does the predicted trend hold, does another fit, can the interval not tell it
    from its rival (RIVALS), or does none fit."""
    if t is None or t.slope is None:
        return "no trend: fewer than two sizes have an optimum"
    lo, hi = interval(t)
    edge = " (an optimum sits at the grid's edge: the grid may not contain it)" \
        if any(r.at_edge for r in rows) else ""
    name = "slope" if axis == "depth" else "drift per doubling"
    off = t.misfit
    if off is not None and off > 0:
        return (f"no power law fits: {name} {t.slope:.2f}, the line misses an eta*'s seed "
                f"range by {off:.2f} decades beyond the grid's resolution{edge}")
    if off is None and t.r2 is not None and t.r2 < 0.8 and len(rows) > 2:
        return f"no power law fits: {name} {t.slope:.2f}, R^2 {t.r2:.2f}{edge}"
    if lo is None:
        return f"{name} {t.slope:.2f} (no interval){edge}"
    rival = RIVALS.get((axis, exponent == 0))
    if lo <= exponent <= hi and rival is not None and lo <= rival[0] <= hi:
        return (f"cannot tell: {name} {t.slope:.2f}, 95% [{lo:.2f}, {hi:.2f}] contains the "
                f"predicted {exponent:g} and {rival[1]}: a wider span or a finer grid "
                f"decides{edge}")
    if lo <= exponent <= hi:
        return (f"holds: {name} {t.slope:.2f}, 95% [{lo:.2f}, {hi:.2f}] contains the "
                f"predicted {exponent:g}{edge}")
    return (f"another exponent fits: {name} {t.slope:.2f}, 95% [{lo:.2f}, {hi:.2f}], "
            f"excludes the predicted {exponent:g}{edge}")


def verdict(records: list[Record], axis: str = "depth", select: str = "mean",
            measure: str = "minimal_path") -> Verdict:
    """The verdict of every (optimizer, scheme) group of a check's records."""
    if axis not in AXES:
        raise ValueError(f"axis={axis!r} is not one of {AXES}")
    groups: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for r in records:
        groups[(r.optimizer or "?", r.scheme or "?")].append(r)
    out = [verdict_group(opt, scheme, recs, axis, select, measure,
                         0.0 if axis == "width" else _predicted(recs))
           for (opt, scheme), recs in sorted(groups.items())]
    return Verdict(axis, select, measure, out)


def _predicted(records: list[Record]) -> float:
    found = {r.exponent for r in records} - {None}
    return found.pop() if len(found) == 1 else -1.5


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None
