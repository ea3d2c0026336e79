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
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from ..config import MEASURES
from .eta import (DEFAULT_SELECT, Select, all_seeds, argmin_lr, cell_losses, gaps_near, loss_of,
                  once)
from .records import Record
from .trend import (bootstrap_interval, eta_range, grid_resolution,
                    misfit, resolution_interval, trend)

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
    eta_pred: float | None = None  # the group's rule from the base size's eta*
    pred_error: float | None = None  # |log10 eta_pred - log10 eta*|, decades
    gaps: list[float] = field(default_factory=list)  # failed or missing LRs beside eta*


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
    bootstrap_method: str = ""  # exact enumeration or random draws, and how many
    note: str = ""  # "2 depths: no interval", grids of unequal resolution


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
    decision: dict[str, Any] | None = None  # the rule at the deepest depth (decide.Decision)

    def to_json(self) -> dict[str, Any]:
        """verdict.json's content: the fields, less an unset command, leaderboard or decision,
        a row's eta_range where it has no eta* and a regret's test where its runs had no test
        split."""
        out = {k: v for k, v in asdict(self).items()
               if v is not None or k not in ("leaderboard", "command", "decision")}
        for g in out["groups"]:
            for r in g["rows"]:
                if r["eta_star"] is None:
                    del r["eta_range"]
            for t in g["regret"]:
                if t["test"] is None:
                    del t["test"]
        return out


def unequal_resolution(rows: list[SizeRow]) -> str:
    """A note where the sizes' optima are known to different resolutions (one grid refined,
    another not): the trend then leans on the coarser one."""
    known = [(r.value, r.resolution) for r in rows if r.resolution]
    if len(known) < 2 or max(h for _, h in known) < 1.5 * min(h for _, h in known):
        return ""
    return "grids of unequal resolution: " + ", ".join(
        f"{v} +-{h:.3g} decades" for v, h in known)


def interval(t: Trend) -> tuple[float | None, float | None]:
    """The union of a trend's seed-bootstrap and grid-resolution intervals (its t-interval
    when it has neither): what the verdict judges by."""
    ends = [iv for iv in (t.bootstrap95, t.resolution) if iv and iv[0] is not None]
    if not ends:
        return tuple(t.ci95 or (None, None))
    return min(iv[0] for iv in ends), max(iv[1] for iv in ends)


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
    loss = _mean([loss_of(r, "test") for r in moved])
    star_loss = _mean([loss_of(r, "test") for r in star])
    diverged = any(r.status == "diverged" for r in moved)
    acc = None if diverged else _mean([r.test_acc for r in moved])
    star_acc = _mean([r.test_acc for r in star])
    return TestRegret(loss=loss, star_loss=star_loss, regret=loss - star_loss,
                      regret_range=seed_range(moved, star, "test"), acc=acc,
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


def verdict_group(optimizer: str, scheme: str, records: list[Record], axis: str,
                  select: Select, measure: str, exponent: float, base: Any = None
                  ) -> GroupVerdict:
    """The verdict for one (optimizer, scheme): rows per axis value, trend, each size's eta*
    against the rule's prediction from the ``base`` size's (default: the smallest), regret,
    cost."""
    def key(r: Record) -> Any:
        return axis_value(r, axis)

    grid = once([r for r in records if r.stage not in ("transfer", "seeds")], key)
    moved = once([r for r in records if r.stage == "transfer"
                  and r.arm == r.scheme], key)  # the scheme's own arm
    extra = once([r for r in records if r.stage == "seeds"], key)  # more seeds at an eta*
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
        star_runs[value] = by_lr.get(eta, []) + [
            r for r in extra if axis_value(r, axis) == value and r.lr == eta]
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
            seeds=len(seeds), gaps=gaps_near(recs, eta, grid)))
    ok = [r for r in rows if r.eta_star is not None]
    predict(ok, axis, measure, exponent, base)
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
        boot, method = bootstrap_interval(cells_by, xs, axis)
        two = len(ok) == 2  # a line through two points: no interval of any kind
        trends[m] = Trend(**t, bootstrap95=boot,
                          resolution=[None, None] if two else
                          resolution_interval(x_ok, halves, t, axis),
                          misfit=misfit(x_ok, [r.eta_star for r in ok],
                                        [r.eta_range for r in ok], halves),
                          bootstrap_method=method,
                          note="; ".join(x for x in (f"2 {axis}s: no interval" if two else "",
                                                     unequal_resolution(ok)) if x))
    regret = []
    base = rows[0] if rows else None
    for row in rows[1:]:
        runs = [r for r in moved if axis_value(r, axis) == row.value]
        if not runs:
            continue
        lr = _mean([r.lr for r in runs if r.lr])
        common = {r.seed for r in ran(runs)} & {r.seed for r in ran(star_runs[row.value])}
        if common:  # both sides over the same seeds (extra ones included where both ran)
            runs = [r for r in runs if r.seed in common]
            at_star = held_out([r for r in star_runs[row.value] if r.seed in common])
            row_star = (at_star["val_loss"], at_star["val_acc"])
        else:
            row_star = (row.star_val_loss, row.star_val_acc)
        got = held_out(runs)
        best = row_star[0]
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
            star_val_acc=row_star[1], regret=loss_regret,
            regret_rel=(loss_regret / best if loss_regret is not None and best else None),
            regret_range=seed_range(runs, star_runs[row.value]),
            acc_regret=(row_star[1] - got["val_acc"]
                        if got["val_acc"] is not None and row_star[1] is not None
                        else None),
            compute_saved=target_cost / transfer_cost if transfer_cost else None,
            test=test_regret(runs, star_runs[row.value])))
    main = trends.get(measure if axis == "depth" else "width")
    return GroupVerdict(optimizer, scheme, rows, trends, regret, exponent,
                        verdict_text(main, exponent, axis, rows))


def predict(rows: list[SizeRow], axis: str, measure: str, exponent: float, base: Any) -> None:
    """Each row's eta* as the rule predicts it from the base row's (``base``'s value, else the
    smallest): eta*_base x (L / L_base) ** exponent across depth, eta*_base across width."""
    ref = next((r for r in rows if r.value == base), rows[0] if rows else None)
    for r in rows:
        if axis == "depth" and not (measure in r.L and measure in ref.L):
            continue
        ratio = r.L[measure] / ref.L[measure] if axis == "depth" else 1.0
        r.eta_pred = ref.eta_star * ratio ** exponent
        r.pred_error = abs(math.log10(r.eta_pred / r.eta_star))


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
        return f"{name} {t.slope:.2f} ({t.note or 'no interval'}){edge}"
    rival = RIVALS.get((axis, exponent == 0))
    made = [what for what, iv in (("seed bootstrap", t.bootstrap95), ("grid", t.resolution))
            if iv and iv[0] is not None]  # what interval() joined, or its t-interval
    span = f"{' + '.join(made) or 't 95%'} [{lo:.2f}, {hi:.2f}]"
    if lo <= exponent <= hi and rival is not None and lo <= rival[0] <= hi:
        return (f"cannot tell: {name} {t.slope:.2f}, {span} contains the predicted "
                f"{exponent:g} and {rival[1]}: a wider span or a finer grid decides{edge}")
    if lo <= exponent <= hi:
        return f"holds: {name} {t.slope:.2f}, {span} contains the predicted {exponent:g}{edge}"
    return (f"another exponent fits: {name} {t.slope:.2f}, {span}, excludes the predicted "
            f"{exponent:g}{edge}")


def verdict(records: list[Record], axis: str = "depth", select: Select = DEFAULT_SELECT,
            measure: str = "minimal_path", exponent: float | None = None, base: Any = None
            ) -> Verdict:
    """The verdict of every (optimizer, scheme) group of a check's or a sweep's records: the
    one eta*-against-size pipeline of the fit, the checks and the leaderboard. ``exponent``
    overrides each group's predicted one (its scheme's, -1.5 for am_mup; 0 across width);
    ``base`` is the size the prediction starts from."""
    if axis not in AXES:
        raise ValueError(f"axis={axis!r} is not one of {AXES}")
    groups: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for r in records:
        groups[(r.optimizer or "?", r.scheme or "?")].append(r)
    out = [verdict_group(opt, scheme, recs, axis, select, measure,
                         exponent if exponent is not None
                         else 0.0 if axis == "width" else _predicted(recs), base)
           for (opt, scheme), recs in sorted(groups.items())]
    return Verdict(axis, select, measure, out)


def _predicted(records: list[Record]) -> float:
    found = {r.exponent for r in records} - {None}
    return found.pop() if len(found) == 1 else -1.5


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None
