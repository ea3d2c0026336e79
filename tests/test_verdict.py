"""The transfer check's verdict on records of known optima (amup_timm.verdict)."""

import math
from dataclasses import replace

import pytest
from helpers import record

from amup_timm.experiments.trend import eta_range, fit_slope, misfit
from amup_timm.experiments.verdict import (SizeRow, Trend, verdict,
                                           verdict_text)

DEPTHS = (4, 8, 16)
GRID = [round(-3 + 0.05 * k, 2) for k in range(61)]  # log10 LRs, 1/20 decade


def rec(depth, log10_lr, seed, loss, stage="grid", scheme="am_mup", status="finished",
        val_loss=None, wall=None):
    return record(status=status, lr=10 ** log10_lr, seed=seed, scheme=scheme,
                  optimizer="momentum", depth=depth, width=16, stage=stage,
                  depths={"minimal_path": depth, "longest_path": 2 * depth, "blocks": depth},
                  model="m", kwargs={"depth": depth}, mean_train_loss=loss,
                  train_loss=loss, val_loss=loss if val_loss is None else val_loss,
                  val_acc=0.9, wall_s=float(depth if wall is None else wall),
                  exponent=-1.5 if scheme == "am_mup" else 0.0)


def trend(**fields):
    """A trend written by hand: the intervals not given are unknown."""
    return Trend(**{"slope": None, "ci95": [None, None], "r2": None, "n": 3, "intercept": None,
                    "bootstrap95": [None, None], "resolution": [None, None], "misfit": None,
                    **fields})


def size_row(at_edge):
    return SizeRow(value=4, model="m", kwargs={}, L={}, eta_star=0.1, at_edge=at_edge,
                   resolution=None, star_val_loss=None, star_val_acc=None, curve=[], runs=1,
                   diverged=0, failed=0, compute_s=0.0, lrs=1, seeds=1)


def eta_star(depth, slope):
    return -1 + slope * math.log10(depth / 4)


def sweep(slope, seeds=3, noise=0.0):
    """Loss = (log10 lr - log10 eta*)^2 plus a per-seed tilt that moves each seed's optimum."""
    out = []
    for d in DEPTHS:
        for s in range(seeds):
            for x in GRID:
                tilt = noise * (s - (seeds - 1) / 2) * (x - eta_star(d, slope))
                out.append(rec(d, x, s, 1 + (x - eta_star(d, slope)) ** 2 + tilt))
    return out


def test_slope_of_known_optima_and_bootstrap_interval():
    result = verdict(sweep(-1.5, noise=0.1), "depth", "mean")
    (g,) = result.groups
    etas = [r.eta_star for r in g.rows]
    for d, eta in zip(DEPTHS, etas):
        assert math.log10(eta) == pytest.approx(eta_star(d, -1.5), abs=0.026)
    t = g.trends["minimal_path"]
    assert t.slope == pytest.approx(fit_slope(list(DEPTHS), etas)["slope"])
    assert t.slope == pytest.approx(-1.5, abs=0.1)
    lo, hi = t.bootstrap95
    assert lo < t.slope < hi and hi - lo < 0.5  # seeds disagree: a real interval
    assert t.bootstrap_method == "seed bootstrap, exact (27 resamples)"


def test_the_bootstrap_enumerates_a_small_resample_space():
    """3 seeds: the interval is the central 95% of the 27 resamples' slopes, each computed by
    hand here (the argmin of the seed-mean cells at every depth, then the least squares)."""
    import itertools

    from amup_timm.experiments.eta import argmin_lr, cell_losses
    from amup_timm.experiments.trend import central95

    records = sweep(-1.5, noise=0.1)
    (g,) = verdict(records, "depth", "mean").groups
    slopes = []
    for pick in itertools.product(range(3), repeat=3):
        etas = [argmin_lr(cell_losses([r for r in records if r.depth == d], "mean"), list(pick))
                for d in DEPTHS]
        slopes.append(fit_slope(list(DEPTHS), etas)["slope"])
    assert g.trends["minimal_path"].bootstrap95 == pytest.approx(list(central95(slopes)))


def test_two_depths_have_no_interval_and_unequal_grids_are_flagged():
    """A line through two optima: no t, bootstrap or resolution interval, and the call says so;
    a refined optimum beside an unrefined one is flagged."""
    two = [r for r in sweep(-1.5, noise=0.1) if r.depth in (4, 8)]
    coarse = [r for r in two if r.depth == 4 or round(math.log10(r.lr) * 4, 6).is_integer()]
    (g,) = verdict(coarse, "depth", "mean").groups
    t = g.trends["minimal_path"]
    assert t.ci95 == [None, None] and t.bootstrap95 == [None, None]
    assert t.resolution == [None, None] and "2 depths: no interval" in g.call
    assert "grids of unequal resolution: 4 +-0.025 decades, 8 +-0.125 decades" in t.note
    assert g.trends["longest_path"].slope == pytest.approx(t.slope)  # L x 2
    assert not any(r.at_edge for r in g.rows)


def test_the_call_names_what_holds():
    t = trend(slope=-1.4, ci95=[-2.0, -1.0], r2=0.99, bootstrap95=[-1.6, -1.2])
    rows = [size_row(False)] * 3
    assert verdict_text(t, -1.5, "depth", rows).startswith("holds")
    assert verdict_text(replace(t, bootstrap95=[-1.45, -1.3]), -1.5, "depth", rows).startswith(
        "another exponent fits: slope -1.40, seed bootstrap [-1.45, -1.30]")
    # the label names the intervals that were joined, and the t-interval where neither ran
    assert verdict_text(replace(t, bootstrap95=[None, None], resolution=[-1.45, -1.3]), -1.5,
                        "depth", rows).endswith("grid [-1.45, -1.30], excludes the predicted -1.5")
    assert verdict_text(replace(t, bootstrap95=[None, None]), -1.5, "depth", rows) == (
        "holds: slope -1.40, t 95% [-2.00, -1.00] contains the predicted -1.5")
    assert verdict_text(replace(t, r2=0.3), -1.5, "depth", rows).startswith("no power law fits")
    assert "grid's edge" in verdict_text(t, -1.5, "depth", [size_row(True)] * 3)
    # an interval wide enough to hold one LR as well cannot tell the law from it, either way
    wide = replace(t, slope=0.0, bootstrap95=[0.0, 0.0], resolution=[-1.96, 1.96])
    assert verdict_text(wide, -1.5, "depth", rows) == (
        "cannot tell: slope 0.00, seed bootstrap + grid [-1.96, 1.96] contains the predicted -1.5 "
        "and 0 (one LR "
        "at every depth): a wider span or a finer grid decides")
    assert verdict_text(wide, 0.0, "depth", rows).startswith(
        "cannot tell: slope 0.00, seed bootstrap + grid [-1.96, 1.96] contains the predicted 0 "
        "and -1.5 (the law)")
    assert verdict_text(replace(wide, resolution=[-1.2, 1.2]), 0.0, "depth", rows).startswith(
        "holds")
    flat = trend(slope=0.01, ci95=[-0.2, 0.2], r2=0.05, bootstrap95=[-0.05, 0.05],
                 misfit=-0.1)  # muP's flat optimum: nothing for R^2 to explain
    assert verdict_text(flat, 0.0, "width", rows).startswith("holds: drift per doubling 0.01")
    assert verdict_text(replace(flat, misfit=0.2), 0.0, "width", rows).startswith(
        "no power law fits: drift per doubling 0.01, the line misses an eta*'s seed range by 0.20")


def test_misfit_against_seeds_and_grid():
    lrs = [1.0, 10 ** 0.25, 10 ** 0.5]  # quarter-decade grid: half gap 0.125
    one_seed = [(math.log10(e), math.log10(e)) for e in lrs]
    assert misfit([1, 2, 4], lrs, one_seed, [0.125] * 3) < 0  # on a power law
    zigzag = [1.0, 10 ** 0.75, 10 ** 0.5]
    exact = [(math.log10(e), math.log10(e)) for e in zigzag]
    assert misfit([1, 2, 4], zigzag, exact, [0.125] * 3) > 0  # the middle one is off the line
    spread = [(-0.1, 0.1), (0.25, 0.75), (0.4, 0.6)]  # ... unless the seeds disagree that much
    assert misfit([1, 2, 4], zigzag, spread, [0.125] * 3) < 0
    assert misfit([1, 2], lrs[:2], one_seed[:2], [0.125] * 2) is None  # two points always fit
    # log10 eta* -0.375, -0.25, -0.5, -0.5: the line passes exactly through the first one's
    # range edge widened by half its eighth-decade gap, which fits (not by float noise)
    touch = [(-0.375, -0.375), (-0.5, -0.25), (-0.5, -0.5), (-0.5, -0.5)]
    assert misfit([8, 16, 32, 64], [10 ** -0.375, 10 ** -0.25, 10 ** -0.5, 10 ** -0.5], touch,
                  [0.0625] * 4) == 0


def test_eta_range_follows_the_seeds():
    agree = {0.1: {0: 1.0, 1: 1.0}, 1.0: {0: 0.5, 1: 0.5}}
    assert eta_range(agree) == (0.0, 0.0)
    split = {0.1: {0: 0.4, 1: 1.0}, 1.0: {0: 0.5, 1: 0.5}}  # seed 0 prefers 0.1, seed 1 1.0
    assert eta_range(split) == (-1.0, 0.0)
    # a small resample space is enumerated, whatever the number of draws asked for
    assert eta_range(split, samples=1) == eta_range(split, samples=1, seed=1) == (-1.0, 0.0)


def test_regret_compute_saved_and_divergence():
    recs = sweep(-1.5) + sweep(0.0)
    for r in recs[len(recs) // 2:]:
        r.scheme = r.arm = "standard"
        r.exponent = 0.0
    best8 = 1.0  # the grid's best held-out loss at every depth
    recs += [rec(8, -1.45, s, 9.0, "transfer", val_loss=best8 + 0.1) for s in range(3)]
    recs += [rec(16, -1.9, s, 9.0, "transfer", val_loss=best8 + 0.3) for s in range(3)]
    recs += [rec(8, -1, s, 9.0, "transfer", scheme="standard", val_loss=1.05) for s in range(3)]
    recs += [rec(16, -1, 0, math.nan, "transfer", scheme="standard", status="diverged")]
    recs += [rec(16, -3.5, 1, None, scheme="standard", status="failed")]
    recs += [replace(rec(16, -1, 1, 9.0, scheme="standard"), path="rerun")]  # found twice: once
    result = verdict(recs, "depth", "mean")
    am, sp = result.groups
    assert (am.scheme, sp.scheme) == ("am_mup", "standard")
    r8, r16 = am.regret
    assert r8.star_val_loss == pytest.approx(best8, abs=1e-3)  # optimum between grid points
    assert r8.regret == pytest.approx(best8 + 0.1 - r8.star_val_loss)
    assert r16.regret == pytest.approx(best8 + 0.3 - r16.star_val_loss)
    assert r8.regret_rel == pytest.approx(r8.regret / r8.star_val_loss)
    assert r8.acc_regret == pytest.approx(0.0)
    assert r8.off_log10 == pytest.approx(abs(-1.45 - math.log10(r8.eta_star)))
    grid_runs = 3 * len(GRID)
    assert r16.compute_saved == pytest.approx(grid_runs * 16 / (grid_runs * 4 + 3 * 16))
    s8, s16 = sp.regret
    assert s8.regret == pytest.approx(1.05 - s8.star_val_loss)
    assert s16.val_loss == math.inf and s16.diverged == 1 and s16.regret == math.inf
    assert sp.rows[2].failed == 1 and sp.rows[2].runs == 3 * len(GRID) + 1
    assert sp.trends["minimal_path"].slope == pytest.approx(0.0, abs=1e-9)
    assert am.exponent == -1.5 and sp.exponent == 0.0


def test_regret_range_pairs_each_seed_with_its_own_run_at_eta_star():
    recs = sweep(-1.5)
    (g,) = verdict(recs, "depth", "mean").groups
    star = g.rows[1].eta_star
    at_star = {r.seed: r for r in recs if r.depth == 8 and r.lr == star}
    at_star[1].val_loss += 0.5  # seed 1's model is worse everywhere: selection is unmoved
    recs += [rec(8, -1.45, s, 9.0, "transfer", val_loss=at_star[s].val_loss + d)
             for s, d in ((0, 0.1), (1, -0.05), (2, 0.2))]
    recs += [rec(16, -1.9, 0, math.nan, "transfer", status="diverged"),
             rec(16, -1.9, 1, 9.0, "transfer", val_loss=0.5)]
    r8, r16 = verdict(recs, "depth", "mean").groups[0].regret
    assert r8.regret_range == pytest.approx([-0.05, 0.2])
    assert r8.regret == pytest.approx(0.25 / 3)  # the seed means' difference
    assert r16.regret_range[0] < 0 and r16.regret_range[1] == math.inf


def test_test_split_regret_is_measured_at_the_held_out_eta_star():
    """eta* is picked on the held-out split; the regret on the test split is the test loss at
    the transferred LR minus the test loss of the runs at that eta*, paired by seed, and the
    accuracy points lost; runs without a test split (digits) give none."""
    recs = sweep(-1.5)
    (g,) = verdict(recs, "depth", "mean").groups
    assert g.regret == []
    star = g.rows[1].eta_star
    for r in recs:
        r.test_loss, r.test_acc = r.val_loss + 0.2, 0.85
    for r in recs:
        if r.depth == 8 and r.lr == star:
            r.test_loss, r.test_acc = 1.0 + 0.1 * r.seed, 0.90
    recs += [replace(rec(8, -1.45, s, 9.0, "transfer"), test_loss=1.0 + 0.1 * s + d,
                     test_acc=0.88) for s, d in ((0, 0.02), (1, 0.05), (2, -0.01))]
    recs += [rec(16, -1.9, 0, 9.0, "transfer")]  # no test split measured
    r8, r16 = verdict(recs, "depth", "mean").groups[0].regret
    assert r8.test.star_loss == pytest.approx(1.1)
    assert r8.test.regret == pytest.approx(0.02)
    assert r8.test.regret_range == pytest.approx([-0.01, 0.05])
    assert r8.test.acc_points == pytest.approx(2.0)
    assert r8.regret != r8.test.regret  # the held-out regret is its own measure
    assert r16.test is None
    recs = [r for r in recs if not (r.stage == "transfer" and r.seed == 2)]  # seeds 0, 1 only
    recs += [rec(8, -1.45, 2, math.nan, "transfer", status="diverged")]
    r8, _ = verdict(recs, "depth", "mean").groups[0].regret
    assert r8.test.regret == math.inf and r8.test.regret_range[1] == math.inf
    assert r8.test.acc is None and r8.test.acc_points is None
    recs = [r for r in recs if not (r.status == "diverged")]  # seed 2 not run: not in the mean
    r8, _ = verdict(recs, "depth", "mean").groups[0].regret
    assert r8.test.star_loss == pytest.approx(1.05) and r8.test.regret == pytest.approx(0.035)


def test_compute_saved_ignores_a_paused_run_and_counts_a_diverged_one_by_its_steps():
    """Cost is the size's median finished wall time per run: a run paused for CI (1,000x its
    wall) leaves compute saved where it was; a run diverged at step 10 of 100 costs a tenth."""
    def with_steps(recs):
        return [replace(r, steps=100, max_steps=100) for r in recs]

    def saved(recs):
        return verdict(recs, "depth", "mean").groups[0].regret[-1].compute_saved

    moved = [rec(16, -1.9, s, 9.0, "transfer") for s in range(3)]
    plain = with_steps(sweep(-1.5) + moved)
    grid_runs = 3 * len(GRID)
    assert saved(plain) == pytest.approx(grid_runs * 16 / (grid_runs * 4 + 3 * 16))
    paused = [replace(r) for r in plain]
    paused[0].wall_s *= 1000  # a depth-4 grid run, stopped while CI ran
    assert saved(paused) == pytest.approx(saved(plain))
    diverged = [replace(r) for r in plain]
    target = next(i for i, r in enumerate(diverged) if r.depth == 16 and r.stage == "grid")
    diverged[target] = replace(diverged[target], status="diverged", steps=10, wall_s=0.1)
    assert saved(diverged) == pytest.approx((grid_runs - 0.9) * 16 / (grid_runs * 4 + 3 * 16))


def test_width_drift_is_decades_per_doubling():
    recs = []
    for w in (16, 32, 64, 128):
        center = -1 - 0.25 * math.log2(w / 16)
        recs += [replace(rec(4, x, s, 1 + (x - center) ** 2), width=w) for s in range(2)
                 for x in GRID]
    (g,) = verdict(recs, "width", "mean").groups
    assert g.trends["width"].slope == pytest.approx(-0.25, abs=0.02)
    assert g.exponent == 0.0


def test_grid_resolution_interval_is_the_extreme_of_every_corner():
    import itertools

    from amup_timm.experiments.trend import grid_resolution, resolution_interval

    lrs = [10 ** x for x in (-2, -1.5, -1.25, -1.125, -1, -0.875, -0.75, -0.5)]
    assert grid_resolution(lrs, 10 ** -1) == pytest.approx(1 / 16)
    assert grid_resolution(lrs, 10 ** -2) == pytest.approx(1 / 4)  # at the edge: one side
    xs, etas, halves = [10, 14, 22], [0.3, 0.2, 0.1], [1 / 16, 1 / 16, 1 / 8]
    fitted = fit_slope(xs, etas)
    lo, hi = resolution_interval(xs, halves, fitted, "depth")
    corners = [fit_slope(xs, [e * 10 ** (s * h) for e, s, h in zip(etas, signs, halves)])["slope"]
               for signs in itertools.product((-1, 1), repeat=3)]
    assert (lo, hi) == (pytest.approx(min(corners)), pytest.approx(max(corners)))
