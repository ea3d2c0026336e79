"""How a verdict is reached between arms (docs/design.md §8, "How a verdict is reached"): fixed
before the runs it judges, selected on validation, reported on test.

- Each arm's runs at a depth are compared with another's seed by seed (the same seed: the same
  initialization stream and data order), on the validation loss: the mean of the paired
  differences with a paired t-interval (df = pairs - 1; the records hold aggregate metrics only,
  so no per-image interval exists). A family of m comparisons made at one depth (every arm
  against the best, every arm against timm's one LR, every arm against the deep optimum) is
  corrected by Bonferroni: each interval at 1 - 0.05 / m, so that the family holds at 95%.
  Against the best this is Hsu's multiple comparisons with the best with a conservative
  critical value: it accounts for the best having been picked from the same runs.
- ``better`` / ``worse`` where the interval excludes 0 *and* the mean difference exceeds
  ``MARGIN``; otherwise ``tied``. With fewer than ``MIN_PAIRS`` seeds a side there is no usable
  interval ("2 seeds: no interval") and nothing is named.
- The arm whose overrides are printed is picked from the set tied with the best by a rule fixed
  in advance: the lowest seed-mean validation loss (the best itself); the others are tied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .eta import loss_of
from .records import Record

MARGIN = 0.01  # validation loss; on Fashion-MNIST's boards about 0.3 accuracy points
ALPHA = 0.05  # familywise, over the comparisons of one family at one depth
MIN_PAIRS = 3  # paired seeds an interval needs (2 give df 1: t = 12.7, no usable interval)


@dataclass
class Diff:
    """Arm ``a`` minus arm ``b`` on the validation loss, paired over their common seeds; the
    test split's loss and accuracy differences beside it (reported, never selecting)."""

    a: str
    b: str
    n: int  # paired seeds
    mean: float | None  # +inf where a's run diverged
    lo: float | None  # the Bonferroni-corrected paired t-interval
    hi: float | None
    call: str  # better (a lower), tied, worse, no interval
    test_loss: float | None = None
    test_acc_points: float | None = None  # 100 x (a's accuracy - b's)


def losses(runs: list[Record], split: str = "val") -> dict[Any, float]:
    """{seed: loss} on ``split`` (+inf for a diverged run), finished and diverged runs only."""
    return {r.seed: loss_of(r, split) for r in runs if r.status in ("finished", "diverged")}


def accs(runs: list[Record]) -> dict[Any, float | None]:
    return {r.seed: (r.test_acc if r.status == "finished" else None) for r in runs
            if r.status in ("finished", "diverged")}


def t_quantile(p: float, df: int) -> float:
    from scipy.stats import t

    return float(t.ppf(p, df))


def paired(a: dict[Any, float], b: dict[Any, float], m: int = 1, alpha: float = ALPHA
           ) -> tuple[int, float | None, float | None, float | None]:
    """(pairs, mean difference a - b, interval ends) over the seeds both have, the interval a
    paired t at 1 - alpha / m (None below ``MIN_PAIRS`` or where a run diverged)."""
    seeds = sorted(set(a) & set(b), key=str)
    d = [a[s] - b[s] for s in seeds]
    n = len(d)
    if not n:
        return 0, None, None, None
    mean = sum(d) / n
    if n < MIN_PAIRS or not math.isfinite(mean):
        return n, mean, None, None
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    half = t_quantile(1 - alpha / (2 * m), n - 1) * sd / math.sqrt(n)
    return n, mean, mean - half, mean + half


def call(mean: float | None, lo: float | None, hi: float | None, margin: float = MARGIN) -> str:
    """better / worse where the interval excludes 0 and the difference exceeds the margin;
    tied otherwise; no interval without one (a diverged run is worse than any that ran)."""
    if mean is not None and math.isinf(mean):
        return "worse" if mean > 0 else "better"
    if lo is None or hi is None:
        return "no interval"
    if lo > 0 and mean > margin:
        return "worse"
    if hi < 0 and mean < -margin:
        return "better"
    return "tied"


def compare(a: str, runs_a: list[Record], b: str, runs_b: list[Record], m: int,
            margin: float = MARGIN) -> Diff:
    """``a`` against ``b``, one of ``m`` comparisons of a family."""
    n, mean, lo, hi = paired(losses(runs_a), losses(runs_b), m)
    _, test, _, _ = paired(losses(runs_a, "test"), losses(runs_b, "test"), m)
    acc_a, acc_b = accs(runs_a), accs(runs_b)
    pts = [acc_a[s] - acc_b[s] for s in set(acc_a) & set(acc_b)
           if acc_a[s] is not None and acc_b[s] is not None]
    return Diff(a, b, n, mean, lo, hi, call(mean, lo, hi, margin),
                test if test is not None and math.isfinite(test) else None,
                100 * sum(pts) / len(pts) if pts and len(pts) == n else None)


@dataclass
class Decision:
    """What the rule says at one depth: the best arm on validation, the set tied with it, each
    arm against timm's one LR and against the deep model's own optimum, the arm it picks."""

    value: Any
    pairs: int  # the fewest paired seeds of any comparison with the best
    best: str | None
    tied: list[str] = field(default_factory=list)  # with the best, the best first
    vs_best: dict[str, Diff] = field(default_factory=dict)
    vs_standard: dict[str, Diff] = field(default_factory=dict)
    vs_optimum: dict[str, Diff] = field(default_factory=dict)
    optimum: str | None = None  # "scheme at LR": the grid's best cell, picked on validation
    pick: str | None = None  # the arm whose overrides are printed
    call: str = ""


def seed_mean(runs: list[Record]) -> float:
    vals = list(losses(runs).values())
    return sum(vals) / len(vals) if vals else math.inf


def decide(value: Any, arms: dict[str, list[Record]], optimum: tuple[str, list[Record]] | None,
           margin: float = MARGIN) -> Decision:
    """The rule at one depth for ``arms`` (name -> its transferred runs, every seed) and the
    deep model's ``optimum`` (its label and runs, or None where no grid ran there)."""
    ranked = sorted(arms, key=lambda a: (seed_mean(arms[a]), a))
    if not ranked:
        return Decision(value, 0, None, call="no transferred runs yet")
    best = ranked[0]
    others = ranked[1:]
    out = Decision(value, 0, best)
    out.vs_best = {a: compare(a, arms[a], best, arms[best], max(1, len(others)), margin)
                   for a in others}
    out.pairs = min((d.n for d in out.vs_best.values()), default=len(losses(arms[best])))
    if "standard" in arms:
        rest = [a for a in ranked if a != "standard"]
        out.vs_standard = {a: compare(a, arms[a], "standard", arms["standard"],
                                      max(1, len(rest)), margin) for a in rest}
    if optimum is not None:
        label, runs = optimum
        out.optimum = label
        out.vs_optimum = {a: compare(a, arms[a], label, runs, len(ranked), margin)
                          for a in ranked}
    if out.pairs < MIN_PAIRS:
        out.call = (f"{out.pairs} seeds: no interval; lowest validation loss {best} "
                    "(not a finding: run more seeds)")
        return out
    out.tied = [best] + [a for a in others if out.vs_best[a].call != "worse"]
    out.pick = best
    worse = [a for a in others if a not in out.tied]
    out.call = (f"tied with the best: {', '.join(out.tied)}" if len(out.tied) > 1
                else f"{best} is best") + (f"; worse: {', '.join(worse)}" if worse else "")
    return out


@dataclass
class Default:
    """The measured default over several boards: derived on ``derive`` seeds (an arm within
    the margin of each board's best seed-mean validation loss on every board; several: the
    lowest mean gap), then confirmed on the ``confirm`` seeds (fresh ones) board by board."""

    arm: str | None  # None: no arm is within the margin of the best on every board
    gaps: dict[str, float]  # board -> its gap to the best there, on the derive seeds
    confirmed: dict[str, float | None]  # board -> gap on the confirm seeds (None: not run)
    call: str


def _gaps(arms: dict[str, list[Record]], seeds: set) -> dict[str, float]:
    """Each arm's seed-mean validation loss over ``seeds`` minus the best arm's (arms that ran
    every one of them)."""
    means = {}
    for a, runs in arms.items():
        got = {s: v for s, v in losses(runs).items() if s in seeds}
        if set(got) == seeds:
            means[a] = sum(got.values()) / len(got)
    best = min(means.values(), default=math.inf)
    return {a: m - best for a, m in means.items()}


def measured_default(boards: dict[str, dict[str, list[Record]]], derive: set = frozenset({0, 1}),
                     confirm: set = frozenset({2, 3}), margin: float = MARGIN) -> Default:
    """The default over ``boards`` (name -> arm -> its runs at the deepest depth)."""
    derived = {b: _gaps(arms, set(derive)) for b, arms in boards.items()}
    common = set.intersection(*(set(g) for g in derived.values())) if derived else set()
    fits = [a for a in common if all(derived[b][a] <= margin for b in boards)]
    if not fits:
        return Default(None, {}, {}, f"none: no arm is within {margin} validation loss of the "
                                     f"best on all {len(boards)} boards (seeds "
                                     f"{sorted(derive)}); withdrawn")
    arm = min(fits, key=lambda a: (sum(derived[b][a] for b in boards), a))
    confirmed = {b: _gaps(arms, set(confirm)).get(arm) for b, arms in boards.items()}
    ran = {b: g for b, g in confirmed.items() if g is not None}
    held = [b for b, g in ran.items() if g <= margin]
    call = (f"{arm}: within {margin} validation loss of the best on all {len(boards)} boards "
            f"(seeds {sorted(derive)})")
    if ran:
        call += (f"; on the fresh seeds {sorted(confirm)} within it on {len(held)} of "
                 f"{len(ran)} boards run" + ("" if len(ran) == len(boards) else
                                             f" ({len(boards) - len(ran)} not run yet)"))
    else:
        call += f"; not yet confirmed (seeds {sorted(confirm)} not run)"
    return Default(arm, {b: derived[b][arm] for b in boards}, confirmed, call)
