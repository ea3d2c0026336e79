"""The verdict's rule (decide.py) on simulated arms drawn with the seed spread measured in the
published records, and on the published records themselves: identical arms are called
different at no more than the stated rate, a real difference is called different, and two
seeds a side name nothing."""

from __future__ import annotations

import itertools
import math
import random
import statistics
from pathlib import Path

import pytest

from amup_timm.experiments.decide import ALPHA, MARGIN, compare, decide, losses, paired
from amup_timm.experiments.leaderboard import board
from amup_timm.experiments.leaderboard import deepest_arms as board_arms
from amup_timm.experiments.records import Record, collect

from helpers import record

RUNS = Path(__file__).resolve().parents[1] / "docs" / "data" / "evidence" / "runs"
BOARDS = [("resnet18_narrow", "sgd"), ("resnet50_narrow", "sgd"), ("vit_narrow", "adamw"),
          ("convnext_narrow", "adamw")]
DRAWS = 2000


def deepest_arms(model: str, optim: str) -> dict[str, list[Record]]:
    """A published leaderboard's finished transferred runs at its deepest depth, by arm."""
    recs = [r for r in collect(RUNS / model / f"leaderboard_{optim}.tar.gz")
            if r.status == "finished"]
    return board_arms(recs)[1]


def differences(a: list[Record], b: list[Record]) -> list[float]:
    """Seed by seed, arm a's validation loss minus arm b's, over the seeds both ran."""
    la, lb = losses(a), losses(b)
    return [la[s] - lb[s] for s in set(la) & set(lb)]


@pytest.fixture(scope="module")
def spread() -> float:
    """The sd of one seed's validation-loss difference between two arms, pooled over every
    pair of arms at the deepest depth of the four published boards (each pair: its seeds'
    differences about their mean), arms that trained only (every seed's validation loss under
    1: the boards' arms reach 0.26-0.40, an arm near chance, ln 10 = 2.3, is no seed noise)."""
    ss, df = 0.0, 0
    for model, optim in BOARDS:
        arms = {a: r for a, r in deepest_arms(model, optim).items()
                if max(losses(r).values()) < 1.0}
        for a, b in itertools.combinations(sorted(arms), 2):
            d = differences(arms[a], arms[b])
            if len(d) > 1 and all(math.isfinite(x) for x in d):
                m = sum(d) / len(d)
                ss += sum((x - m) ** 2 for x in d)
                df += len(d) - 1
    assert df >= 20
    return math.sqrt(ss / df)


def runs(name: str, vals: list[float]) -> list[Record]:
    return [record(lr=0.1, seed=s, val_loss=v, test_loss=v, test_acc=0.9, arm=name,
                   status="finished", path=f"{name}{s}")
            for s, v in enumerate(vals)]


def draw(rng: random.Random, mean: float, sd: float, shared: list[float]) -> list[float]:
    """4 seeds: a seed effect both arms share (same init stream and data order) plus the arm's
    own noise (the measured spread of a difference is sqrt(2) times it)."""
    return [mean + u + rng.gauss(0, sd / math.sqrt(2)) for u in shared]


def test_identical_arms_are_called_different_at_most_at_the_stated_rate(spread):
    """A/A: 2,000 pairs of identical arms, 4 seeds each. With no margin the interval excludes 0
    at most ALPHA of the time (binomial 3-sigma slack); with the margin, almost never."""
    rng = random.Random(0)
    excl = called = 0
    for _ in range(DRAWS):
        shared = [rng.gauss(0, 0.005) for _ in range(4)]
        a, b = draw(rng, 0.27, spread, shared), draw(rng, 0.27, spread, shared)
        n, mean, lo, hi = paired(dict(enumerate(a)), dict(enumerate(b)))
        excl += lo > 0 or hi < 0
        called += compare("a", runs("a", a), "b", runs("b", b), 1).call != "tied"
    slack = 3 * math.sqrt(ALPHA * (1 - ALPHA) / DRAWS)
    assert excl / DRAWS <= ALPHA + slack
    assert excl / DRAWS >= ALPHA - slack  # a t with df 3, not a z: exact coverage, not more
    assert called / DRAWS <= ALPHA


def test_the_best_of_six_identical_arms_is_tied_with_the_rest(spread):
    """The best picked from 6 identical arms on the same runs: the Bonferroni correction keeps
    the chance that any arm is called worse than it at most ALPHA (no margin: the interval
    alone)."""
    rng = random.Random(1)
    wrong = 0
    for _ in range(DRAWS // 4):
        shared = [rng.gauss(0, 0.005) for _ in range(4)]
        arms = {f"arm{i}": runs(f"arm{i}", draw(rng, 0.27, spread, shared)) for i in range(6)}
        d = decide(36, arms, None, margin=0.0)
        wrong += len(d.tied) < 6
    assert wrong / (DRAWS // 4) <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / (DRAWS // 4))


def test_the_laws_real_loss_on_resnet50_is_called_worse():
    """resnet50_narrow's -1.5 law (am_mup) against its best arm, drawn at their measured seed
    means and the measured spread of their paired difference, 4 seeds: called worse in at
    least 95% of draws (the planted difference is the real one, the noise the pair's own)."""
    arms = deepest_arms("resnet50_narrow", "sgd")
    mean = {a: sum(losses(r).values()) / len(r) for a, r in arms.items()}
    best = min(mean, key=mean.get)
    gap = mean["am_mup"] - mean[best]
    assert gap > MARGIN
    d = differences(arms["am_mup"], arms[best])
    assert len(d) >= 3
    sd = statistics.stdev(d)
    rng = random.Random(2)
    worse = 0
    for _ in range(DRAWS // 4):
        shared = [rng.gauss(0, 0.005) for _ in range(4)]
        a = draw(rng, mean["am_mup"], sd, shared)
        b = draw(rng, mean[best], sd, shared)
        worse += compare("am_mup", runs("am_mup", a), best, runs(best, b), 5).call == "worse"
    assert worse / (DRAWS // 4) >= 0.95


@pytest.mark.parametrize("model, optim", BOARDS)
def test_a_published_board_names_an_arm_only_with_3_seeds(model, optim):
    """Boards with 2 seeds an arm at the deepest depth (seeds 2-3 not landed) say so and pick
    no arm; boards with 3 or more name the lowest validation loss of the tied set."""
    records = collect(RUNS / model / f"leaderboard_{optim}.tar.gz")
    b = board(records, "depth", "val")
    deepest = b.decision.value
    seeds = {r.seed for r in records if r.stage == "transfer" and r.depth == deepest}
    if len(seeds) < 3:
        assert b.named is None and b.overrides == [] and "2 seeds: no interval" in b.call
    else:
        assert b.named is not None and "no interval" not in b.call
        assert b.named == b.decision.pick and b.named in b.decision.tied


def test_a_diverged_arm_is_worse_and_ties_are_called_ties():
    """A diverged seed makes an arm worse whatever the interval; two arms 0.002 apart with a
    tight interval are tied (under the margin); 0.05 apart, worse."""
    base = [0.270, 0.272, 0.268, 0.271]
    arms = {"best": runs("best", base),
            "close": runs("close", [x + 0.002 for x in base]),
            "far": runs("far", [x + 0.05 + 0.001 * i for i, x in enumerate(base)]),
            "blown": runs("blown", base[:3] + [math.inf])}
    arms["blown"][3].status = "diverged"
    d = decide(9, arms, ("best at 0.1", arms["best"]))
    assert d.best == "best" and d.tied == ["best", "close"] and d.pick == "best"
    assert d.vs_best["far"].call == "worse" and d.vs_best["blown"].call == "worse"
    assert d.vs_optimum["best"].mean == 0 and d.vs_optimum["close"].call == "tied"


def test_the_measured_default_is_derived_on_seeds_0_1_and_confirmed_on_2_3():
    """An arm within the margin on every board is derived; fresh seeds where it falls behind
    on one board say so; none within the margin everywhere: withdrawn."""
    def arms(best, other, fresh_other):
        return {"best": runs("best", best), "other": runs("other", other[:2] + fresh_other)}

    boards = {"a": arms([0.30] * 4, [0.305, 0.305], [0.30, 0.30]),
              "b": arms([0.30] * 4, [0.302, 0.308], [0.35, 0.36])}
    from amup_timm.experiments.decide import measured_default

    d = measured_default(boards)
    assert d.arm == "best" and d.gaps == {"a": 0.0, "b": 0.0}
    assert d.call.endswith("on the fresh seeds [2, 3] within it on 2 of 2 boards run")
    boards["b"]["best"] = runs("best", [0.30, 0.30, 0.36, 0.36])  # behind on b, within it
    d = measured_default(boards)
    assert d.arm == "best" and d.confirmed["b"] == pytest.approx(0.36 - 0.355)
    assert d.call.endswith("within it on 2 of 2 boards run")
    boards["b"]["best"] = runs("best", [0.30, 0.30, 0.38, 0.38])  # past the margin on b
    d = measured_default(boards)
    assert d.arm == "best" and d.confirmed["b"] == pytest.approx(0.38 - 0.355)
    assert d.call.endswith("on the fresh seeds [2, 3] within it on 1 of 2 boards run")
    del boards["b"]["best"][2:]  # seeds 2-3 not run on b yet
    assert measured_default(boards).call.endswith("within it on 1 of 1 boards run (1 not run yet)")
    boards["b"]["other"] = runs("other", [0.40, 0.40, 0.30, 0.30])
    boards["a"]["best"] = runs("best", [0.40, 0.40, 0.30, 0.30])
    d = measured_default(boards)
    assert d.arm is None and "withdrawn" in d.call


@pytest.mark.parametrize("model", ["resnet18_narrow", "resnet50_narrow"])
def test_on_a_resnets_four_seeds_the_law_is_worse_and_timms_one_lr_ties(model):
    """The published ResNet boards, 4 seeds an arm at the deepest depth: the -1.5 law
    (am_mup) is called worse than the best arm and than the deep optimum; timm's one LR is
    tied with the best (under 0.004 apart, inside the interval)."""
    b = board(collect(RUNS / model / "leaderboard_sgd.tar.gz"), "depth", "val")
    d = b.decision
    assert d.pairs == 4 and d.best != "am_mup"
    assert d.vs_best["am_mup"].call == "worse" and d.vs_best["am_mup"].lo > 0
    assert d.vs_optimum["am_mup"].call == "worse"
    assert "standard" in d.tied and d.pick == d.best
