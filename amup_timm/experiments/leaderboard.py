"""The leaderboard of a ``+sweeps=leaderboard_long`` check: which arms (a depth scheme and its
decay rule) train the deepest model as well as the best, and how far is each from that model's
own optimum?

Everything selected (eta*, the best grid cell, the best arm) is selected on the check's
``select`` (the validation split); the test split is reported beside it (the held-out split
where a data set has none). Per deeper depth and arm: the test loss and accuracy at the arm's
transferred LR with their range over seeds, the gap to the best grid cell at that depth, and
the arm's own regret where its scheme's grid ran (the table: report.leaderboard_markdown). At
the deepest depth the rule of decide.py calls each arm tied with the best or worse, better /
tied / worse than timm's one LR, and gives its gap to the optimum with an interval.
"""

from __future__ import annotations

import math
import shlex
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ..app import hydra_value
from .decide import Decision, decide
from .eta import DEFAULT_SELECT, Select, eta_star
from .records import Record, law_exponent
from .verdict import axis_value


@dataclass
class ArmRow:
    """One arm at one depth."""

    arm: str
    value: Any
    lr: float | None
    loss: float  # seed mean (+inf if a seed diverged)
    loss_range: tuple[float, float]
    acc: float | None
    acc_range: tuple[float, float] | None
    seeds: list[float]  # each seed's test loss
    gap: float | None  # loss minus the best any grid reached at this depth
    regret: float | None  # loss minus the loss at the arm's scheme's own eta* here
    eta_star: float | None  # the arm's scheme's eta* here, where its grid ran


@dataclass
class BestCell:
    """The best grid cell at one depth: picked on the selection loss, reported on test."""

    scheme: str
    lr: float
    select_loss: float
    loss: float  # seed-mean test loss
    acc: float  # seed-mean test accuracy
    runs: list[Record] = field(default_factory=list, repr=False)  # every seed's, extra included


@dataclass
class Board:
    """Rows per depth, the best grid cell per depth, and the named arm."""

    axis: str
    select: Select = DEFAULT_SELECT  # what picked each grid's best cell
    rows: list[ArmRow] = field(default_factory=list)
    best: dict[Any, BestCell] = field(default_factory=dict)
    named: str | None = None  # the arm the rule picks from the tied set (None: no interval)
    versus: str = ""  # the picked arm against timm's one LR
    call: str = ""
    overrides: list[str] = field(default_factory=list)  # amup-train's, for the picked arm
    arm: dict[str, Any] = field(default_factory=dict)  # the picked arm as another check's arm
    decision: Decision | None = None  # the rule at the deepest depth


def _test(r: Record) -> tuple[float, float | None]:
    if r.status == "diverged":
        return math.inf, None
    loss = r.test_loss if r.test_loss is not None else r.val_loss
    acc = r.test_acc if r.test_acc is not None else r.val_acc
    return (math.inf if loss is None else float(loss)), acc


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def board(records: list[Record], axis: str = "depth", select: Select = DEFAULT_SELECT
          ) -> Board:
    """The leaderboard of a check's records (empty rows when no arm has transferred runs)."""
    done = [r for r in records if r.status in ("finished", "diverged") and r.lr]
    grids: dict[Any, dict[str, list[Record]]] = defaultdict(lambda: defaultdict(list))
    moved: dict[Any, dict[str, list[Record]]] = defaultdict(lambda: defaultdict(list))
    extra: dict[Any, dict[str, list[Record]]] = defaultdict(lambda: defaultdict(list))
    for r in done:  # the extra seeds at a grid's eta* select nothing: kept apart
        target = {"transfer": moved, "seeds": extra}.get(r.stage, grids)
        target[axis_value(r, axis)][r.arm if r.stage == "transfer" else r.scheme].append(r)
    out = Board(axis, select)
    for value in sorted(moved):
        best = None
        for scheme, recs in grids.get(value, {}).items():
            star = eta_star(recs, select)
            if star is None:
                continue
            runs = [r for r in recs if r.lr == star[0]]
            loss = _mean([_test(r)[0] for r in runs])
            if best is None or star[1] < best.select_loss:
                more = [r for r in extra[value][scheme] if r.lr == star[0]]
                best = BestCell(scheme, star[0], star[1], loss,
                                _mean([_test(r)[1] or 0.0 for r in runs]), runs + more)
        if best:
            out.best[value] = best
        for arm, runs in sorted(moved[value].items()):
            scheme = runs[0].scheme
            losses = [_test(r)[0] for r in runs]
            accs = [_test(r)[1] for r in runs]
            own = grids.get(value, {}).get(scheme)
            star = eta_star(own, select) if own else None
            at_star = ([_test(r)[0] for r in own if r.lr == star[0]] if star else [])
            loss = _mean(losses)
            out.rows.append(ArmRow(
                arm, value, _mean([r.lr for r in runs]), loss, (min(losses), max(losses)),
                None if None in accs else _mean(accs),
                None if None in accs else (min(accs), max(accs)), losses,
                loss - best.loss if best else None,
                loss - _mean(at_star) if at_star else None, star[0] if star else None))
    _name(out, records)
    return out


def deepest_arms(records: list[Record], axis: str = "depth") -> tuple[Any, dict[str, list[Record]]]:
    """The deepest size that arms transferred to, and each arm's transferred runs there (every
    seed, extra seeds included)."""
    moved = [r for r in records if r.stage == "transfer" and r.lr
             and axis_value(r, axis) is not None]
    if not moved:
        return None, {}
    deepest = max(axis_value(r, axis) for r in moved)
    arms: dict[str, list[Record]] = defaultdict(list)
    for r in sorted(moved, key=lambda r: r.arm):
        if axis_value(r, axis) == deepest:
            arms[r.arm].append(r)
    return deepest, dict(arms)


def _name(out: Board, records: list[Record]) -> None:
    """The rule of decide.py at the deepest depth: the set tied with the best arm, each arm
    against timm's one LR and the optimum; the picked arm's overrides."""
    if not out.rows:
        out.call = "no transferred runs yet"
        return
    deepest, arms = deepest_arms(records, out.axis)
    cell = out.best.get(deepest)
    optimum = (f"{cell.scheme} at {cell.lr:.3g}", cell.runs) if cell else None
    d = out.decision = decide(deepest, arms, optimum)
    out.call = f"at {out.axis} {deepest}: {d.call}"
    if d.pick is None:
        return
    out.named = d.pick
    std = d.vs_standard.get(d.pick)
    out.versus = ("is timm's one LR" if d.pick == "standard" else "no standard arm to compare"
                  if std is None else f"{std.call} against timm's one LR")
    run = next(r for r in arms[d.pick])
    out.overrides = arm_overrides(run)
    out.arm = {"name": d.pick, "scheme": run.scheme, "overrides": arm_recipe(run)}


def arm_recipe(run: Record) -> list[str]:
    """How an arm's transfer ``run`` trained beyond its scheme's defaults: the exponent it
    transferred with where that is not its scheme's own (a fitted or given one), its decay
    rule."""
    out = []
    default = law_exponent({"scheme": run.scheme}, run.optimizer)
    if run.transfer_exponent is not None and (
            default is None or abs(run.transfer_exponent - default) > 1e-9):
        out.append(f"amup.exponent={run.transfer_exponent:.4g}")
    if run.wd_rule != "coupled":
        out.append(f"amup.wd_rule={run.wd_rule}")
    return out


def arm_overrides(run: Record) -> list[str]:
    """The ``amup.*`` overrides, quoted for a shell, that train a deeper model as an arm's
    transfer ``run`` was trained: its scheme, reference (model, kwargs, eta*) and recipe."""
    out = [f"amup.scheme={run.scheme}"]
    if run.ref:
        out += [f"amup.ref_model={run.ref['model']}", f"amup.ref_lr={run.ref['lr']:.4g}"]
        if run.ref["kwargs"]:
            out.append(f"++amup.ref_kwargs={hydra_value(run.ref['kwargs'])}")
    return [shlex.quote(o) for o in out + arm_recipe(run)]
