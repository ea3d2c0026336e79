"""eta*: the one way every part of the product picks the best LR of a grid (docs/design.md §7).

A run's selection loss is its final training loss (``final``: the mean over the last 10% of
steps), its whole-run mean (``mean``, the paper's protocol) or its final held-out loss (``val``).
A job run twice counts once (a finished run wins over a failed one); losses are averaged over
seeds per LR, a diverged seed making its cell +inf; eta* is the argmin over the LRs.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, Literal, get_args

from .records import Record

Select = Literal["final", "mean", "val"]  # what picks eta*: a selection loss
SELECT: dict[str, str] = {"final": "train_loss", "mean": "mean_train_loss", "val": "val_loss"}
SELECT_HELP = {"mean": "whole-run mean training loss", "final": "final training loss",
               "val": "final held-out loss"}
DEFAULT_SELECT: Select = "final"
LOSSES = {**SELECT, "test": "test_loss"}  # and the test split's, which reports but never selects
assert set(SELECT) == set(get_args(Select))

Cells = dict[float, dict[int, float]]


def loss_of(rec: Record, loss: Select | Literal["test"]) -> float:
    """A run's selection loss (``loss``: a ``Select``) or its test loss (``test``: reported
    only); +inf for a diverged run or a non-finite loss."""
    if loss not in LOSSES:
        raise ValueError(f"select={loss!r} is not one of {sorted(SELECT)}")
    value = getattr(rec, LOSSES[loss])
    if rec.status == "diverged" or value is None or not math.isfinite(value):
        return math.inf
    return float(value)


def seed_of(rec: Record) -> Any:
    """A run's seed; a record without one (written by hand, or by an old version) stands for
    itself, by its path."""
    return rec.seed if rec.seed is not None else rec.path


def once(records: Iterable[Record], key: Callable[[Record], Any] = lambda r: None
         ) -> list[Record]:
    """One record per (``key``, LR, seed): a job run twice (the same point in another
    directory) counts once; a finished run wins over a failed one."""
    seen: dict[tuple, Record] = {}
    for r in sorted(records, key=lambda r: (r.status == "failed", r.path)):
        seen.setdefault((key(r), r.lr and round(math.log10(r.lr), 6), seed_of(r)), r)
    return list(seen.values())


def cell_losses(records: Iterable[Record], select: Select) -> Cells:
    """{lr: {seed: loss}} of some runs of one model; diverged runs are +inf, failed runs left
    out, a job run twice counted once."""
    cells: Cells = defaultdict(dict)
    for r in once(records):
        if r.status in ("finished", "diverged") and r.lr:
            cells[float(r.lr)][seed_of(r)] = loss_of(r, select)
    return cells


def all_seeds(cells: Cells) -> list[int]:
    """Every seed that has a run in ``cells``."""
    return sorted({s for c in cells.values() for s in c}, key=lambda s: (isinstance(s, str), s))


def argmin_cells(cells: Cells, seeds: list[int] | None = None) -> tuple[float, float] | None:
    """(LR, loss) whose loss averaged over ``seeds`` (default: all) is lowest; None if every
    LR diverged."""
    seeds = all_seeds(cells) if seeds is None else seeds
    best = None
    for lr, by_seed in sorted(cells.items()):
        vals = [by_seed[s] for s in seeds if s in by_seed]
        if not vals:
            continue
        mean = sum(vals) / len(vals)
        if math.isfinite(mean) and (best is None or mean < best[1]):
            best = (lr, mean)
    return best


def argmin_lr(cells: Cells, seeds: list[int] | None = None) -> float | None:
    """The LR of ``argmin_cells`` (None if every LR diverged)."""
    best = argmin_cells(cells, seeds)
    return best[0] if best else None


def eta_star(records: Iterable[Record], select: Select = DEFAULT_SELECT,
             seeds: list[int] | None = None) -> tuple[float, float] | None:
    """(eta*, its seed-mean loss) of some runs of one model (one scheme, optimizer, size)
    over their LR grid, or None when every LR diverged or failed."""
    return argmin_cells(cell_losses(records, select), seeds)


def lr_curve(records: Iterable[Record], select: Select = DEFAULT_SELECT
             ) -> list[tuple[float, float, int]]:
    """(lr, seed-mean loss, seeds) per LR, sorted by LR."""
    cells = cell_losses(records, select)
    return [(lr, sum(c.values()) / len(c), len(c)) for lr, c in sorted(cells.items())]


def gaps_near(records: Iterable[Record], eta: float | None,
              grid: Iterable[Record] | None = None) -> list[float]:
    """The LRs beside eta* on the grid (every LR that ``grid``, default ``records``, names) and
    eta*'s own, whose cell in ``records`` has a failed run or no run that finished or
    diverged: where the true optimum could hide. [] without eta*."""
    if eta is None:
        return []
    records = list(records)
    key = lambda lr: round(math.log10(lr), 6)  # noqa: E731
    lrs = {key(r.lr): float(r.lr) for r in (records if grid is None else grid) if r.lr}
    lrs.setdefault(key(eta), eta)
    usable = {key(r.lr) for r in records if r.lr and r.status in ("finished", "diverged")}
    failed = {key(r.lr) for r in records if r.lr and r.status == "failed"}
    order = sorted(lrs)
    i = order.index(key(eta))
    return [lrs[k] for k in order[max(0, i - 1):i + 2] if k in failed or k not in usable]
