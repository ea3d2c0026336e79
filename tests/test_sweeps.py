"""Sweeps, the eta*(L) fit and reference runs (docs/design.md §7)."""

import json
import math
import random

import pytest
from helpers import ROOT, run_train, train_here

from amup_timm.experiments import fit, report
from amup_timm.app import hydra_value, register_configs
from amup_timm.config import AmupConfig
from amup_timm.experiments.eta import eta_star
from amup_timm.experiments.records import collect
from amup_timm.experiments.reference_runs import read_reference
from amup_timm.registry import build_meta
from amup_timm.model_report import describe


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    sweep = tmp_path_factory.mktemp("tiny")
    run_train("-m", "+sweeps=tiny", "logger=none", f"hydra.sweep.dir={sweep}")
    return sweep


@pytest.mark.slow
def test_tiny_sweep_end_to_end(tiny_sweep):
    recs = collect(tiny_sweep)
    assert len(recs) == 6 and {r.status for r in recs} == {"finished"}
    assert sorted({r.depth for r in recs}) == [2, 4]
    assert sorted({round(math.log10(r.lr), 6) for r in recs}) == [-2, -1.5, -1]
    out = tiny_sweep / "fit"
    result = json.loads((out / "fit.json").read_text())
    (group,) = result["groups"]
    assert math.isfinite(group["trends"]["minimal_path"]["slope"])
    for name in ("eta.png", "curves.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG" and (out / name).stat().st_size > 1000
    rows = (out / "fit.csv").read_text().splitlines()
    assert rows[0].startswith("optimizer,scheme,model,depth,") and len(rows) == 3  # 2 depths


@pytest.mark.slow
def test_sweep_started_again_skips_finished_jobs(tiny_sweep):
    before = {p: p.stat().st_mtime_ns for p in tiny_sweep.glob("*/results.json")}
    proc = run_train("-m", "+sweeps=tiny", "logger=none", f"hydra.sweep.dir={tiny_sweep}")
    assert proc.stdout.count("skipped") + proc.stderr.count("skipped") == 6
    assert before == {p: p.stat().st_mtime_ns for p in tiny_sweep.glob("*/results.json")}


@pytest.mark.slow
def test_ref_run_from_run_and_multirun_dirs(tiny_sweep, tmp_path):
    recs = [r for r in collect(tiny_sweep) if r.depth == 2]
    eta, _ = eta_star(recs)
    ref = read_reference(str(tiny_sweep), AmupConfig(ref_depth=2))
    assert ref.lr == eta and ref.model == "plain_cnn" and ref.kwargs["depth"] == 2
    one = next(r for r in recs if r.lr == eta)
    assert read_reference(one.path, AmupConfig()).lr == eta
    res = train_here("model=plain_cnn", "model.kwargs.depth=6", "model.kwargs.width=8",
                     f"amup.ref_run={tiny_sweep}", "amup.ref_depth=2", "trainer.max_steps=3",
                     "data.batch_size=16", "logger=none", run_dir=tmp_path)
    L = describe(build_meta("plain_cnn", depth=6, width=8)).depth["minimal_path"]
    L_ref = describe(build_meta("plain_cnn", depth=2, width=8)).depth["minimal_path"]
    assert res["lr"] == pytest.approx(eta * (L / L_ref) ** -1.5, rel=1e-12)
    assert res["amup"]["ref_source"].startswith("ref_run:") and res["amup"]["ref_lr"] == eta


RUNS = ROOT / "docs" / "data" / "evidence" / "runs"


def test_ref_run_picks_the_targets_scheme_as_the_check_selected():
    """A check directory holds am_mup and standard runs at the same LRs: each scheme gets its
    own eta*, selected by the check's own `select` (the whole-run mean), as its verdict says."""
    check = RUNS / "vit_narrow" / "short_sgd_plain.tar.gz"
    verdict = json.loads((ROOT / "docs/data/evidence/vit_narrow_short_sgd_plain.json").read_text())
    for g in verdict["groups"]:
        star = next(r["eta_star"] for r in g["rows"] if r["value"] == 2)
        ref = read_reference(str(check), AmupConfig(scheme=g["scheme"], ref_depth=2))
        assert ref.lr == pytest.approx(star)
        assert ref.model == "vit_tiny_patch16_224" and ref.kwargs["depth"] == 2
    assert {g["scheme"]: g["rows"][0]["eta_star"] for g in verdict["groups"]} == pytest.approx(
        {"am_mup": 10 ** -1.5, "standard": 0.01})
    with pytest.raises(ValueError, match="none of amup.scheme=nfd"):
        read_reference(str(check), AmupConfig(scheme="nfd", ref_depth=2))


def test_ref_run_of_a_resnet_check_by_its_depth_label():
    """resnet18_narrow's depth label 4 (blocks) is no timm name: the run's own model is the
    reference, and the law transfers from it as the check did."""
    import amup_timm

    check = RUNS / "resnet18_narrow" / "short_sgd_plain.tar.gz"
    verdict = json.loads(
        (ROOT / "docs/data/evidence/resnet18_narrow_short_sgd_plain.json").read_text())
    g = next(g for g in verdict["groups"] if g["scheme"] == "am_mup")
    amup = {"ref_run": str(check), "ref_depth": 4}
    with pytest.raises(ValueError, match=r"resolve them first.*amup_timm.resolve_config"):
        amup_timm.create_model("resnet18", amup)  # the library reads no records
    with pytest.raises(ValueError, match=r"amup.exponent_from=.*resolve them first"):
        amup_timm.create_model("resnet18", {"exponent_from": str(check)})
    res = amup_timm.resolve_config(amup, optimizer="momentum")
    assert res.source.startswith("ref_run:") and res.config.ref_run is None
    model = amup_timm.create_model(
        "resnet18", res.config, layers=[4] * 4,
        channels=[16, 32, 64, 128], stem_width=16, in_chans=1, num_classes=10)
    t = amup_timm.transfer_lr(model)
    assert t.ref_lr == pytest.approx(g["rows"][0]["eta_star"])
    assert t.ref_kwargs["layers"] == [1, 1, 1, 1]
    moved = next(r for r in g["regret"] if r["value"] == 16)
    assert t.lr == pytest.approx(moved["lr"])


def test_ref_run_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_reference(str(tmp_path / "nope"), AmupConfig())
    for i, (status, depth) in enumerate([("diverged", 2), ("diverged", 2), ("finished", 4)]):
        d = tmp_path / str(i)
        d.mkdir()
        (d / "results.json").write_text(json.dumps({
            "status": status, "lr": 0.1 * (i + 1), "model": "plain_cnn", "optimizer": "momentum",
            "model_kwargs": {"depth": depth}, "overrides": [], "config": {},
            "final": {"train_loss": 1.0, "mean_train_loss": 1.0, "val_loss": 1.0,
                      "val_acc": 0.9}}))
    with pytest.raises(ValueError, match="several depths"):
        read_reference(str(tmp_path), AmupConfig())
    with pytest.raises(ValueError, match=r"no am_mup run at amup.ref_depth=3; depths it holds: \[2, 4\]"):
        read_reference(str(tmp_path), AmupConfig(ref_depth=3))
    with pytest.raises(ValueError, match="no finished run"):
        read_reference(str(tmp_path), AmupConfig(ref_depth=2))
    assert read_reference(str(tmp_path), AmupConfig(ref_depth=4)).lr == pytest.approx(0.3)


def test_wandb_source_without_key_fails_clearly(monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_CONFIG_DIR", "/nonexistent-wandb-config")
    monkeypatch.setenv("NETRC", "/nonexistent-netrc")
    with pytest.raises(RuntimeError, match="API key"):
        collect("wandb:someone/amup-timm/sweeps/abc123")


def _synthetic_records(tmp_path, slope=-1.5, seeds=2, diverge=None):
    """Records of a sweep whose eta*(L) = 0.5 * L**slope exactly (on the grid)."""
    rows = []
    for depth in (2, 4, 8, 16, 32):
        L = depth + 1
        star = 0.5 * L ** slope
        for k in (-3, -2, -1, 0, 1, 2):
            lr = star * 10 ** (k / 6)
            for seed in range(seeds):
                loss = 1 + (k / 6) ** 2 + (0.3 if k > 0 else 0) + 0.001 * seed
                status = "diverged" if diverge == (depth, k, seed) else "finished"
                rows.append({"status": status, "lr": lr, "model": "plain_cnn",
                             "model_kwargs": {"depth": depth}, "optimizer": "momentum",
                             "overrides": [], "config": {},
                             "amup": {"scheme": "am_mup", "depths": {
                                 "minimal_path": L, "longest_path": L, "blocks": depth}},
                             "final": {"train_loss": loss, "mean_train_loss": 2 * loss,
                                       "val_loss": loss, "val_acc": 0.9}})
    for i, r in enumerate(rows):
        d = tmp_path / str(i)
        d.mkdir()
        (d / "results.json").write_text(json.dumps(r))
    return tmp_path


def test_fit_recovers_known_slope(tmp_path):
    result = fit.fit_sweep(_synthetic_records(tmp_path))
    (g,) = result.groups
    s = g.trends["minimal_path"]
    assert s.slope == pytest.approx(-1.5, abs=1e-9) and s.r2 == pytest.approx(1.0)
    assert s.ci95[0] == pytest.approx(-1.5, abs=1e-6)
    assert all(r.pred_error < 1e-9 for r in g.rows)  # the law from the smallest depth
    assert g.rows[-1].eta_pred == pytest.approx(0.5 * 33 ** -1.5)
    # blocks = L - 1: an offset that bends the slope away from -1.5 (docs/design.md §3)
    assert g.trends["blocks"].slope > -1.5
    files = report.write_check(result, tmp_path / "out", stem="fit")
    assert [f.name for f in files] == ["fit.json", "fit.md", "fit.csv", "eta.png", "curves.png"]
    assert all(f.exists() for f in files)


def test_an_old_fit_json_still_gives_its_exponent(tmp_path):
    """A fit.json written before 0.2.0 (``slopes``, not ``trends``) is still read."""
    from amup_timm.experiments.reference_runs import read_exponent

    (tmp_path / "fit.json").write_text(json.dumps({"groups": [
        {"optimizer": "momentum", "scheme": "am_mup", "slopes": {"minimal_path": {
            "slope": -1.23}}}]}))
    assert read_exponent(str(tmp_path), "am_mup", "minimal_path") == -1.23


def test_fit_diverged_seed_makes_cell_infinite(tmp_path):
    result = fit.fit_sweep(_synthetic_records(tmp_path, diverge=(8, 0, 1)))
    row = next(r for r in result.groups[0].rows if r.value == 8)
    assert row.eta_star == pytest.approx(0.5 * 9 ** -1.5 * 10 ** (-1 / 6))
    assert row.diverged == 1


def test_fit_slope_interval_matches_scipy():
    from scipy.stats import linregress, t

    from amup_timm.experiments.trend import fit_slope

    rng = random.Random(0)
    L = [3, 4, 6, 8, 11, 16, 22]
    eta = [0.4 * x ** -1.4 * math.exp(rng.gauss(0, 0.1)) for x in L]
    s = fit_slope(L, eta)
    ref = linregress([math.log(x) for x in L], [math.log(e) for e in eta])
    half = t.ppf(0.975, len(L) - 2) * ref.stderr
    assert s["slope"] == pytest.approx(ref.slope)
    assert s["ci95"] == pytest.approx([ref.slope - half, ref.slope + half])
    assert s["r2"] == pytest.approx(ref.rvalue ** 2)


def test_refine_grid_surrounds_each_optimum(tmp_path):
    from amup_timm.experiments.check import architecture_overrides, refine_grids

    recs = collect(_synthetic_records(tmp_path))
    grids = refine_grids(recs, "depth", "final", 1 / 18, 2, by_scale=False)
    assert grids
    for (_, (_, depth)), grid in grids.items():
        center = math.log10(0.5 * (depth + 1) ** -1.5)
        assert len(grid) == 4 and all(abs(g - center) <= 2 / 18 + 1e-4 for g in grid)
        assert min(grid) < center < max(grid)
    # +-2/12 decade is already on the sweep's 1/6-decade grid: only +-1/12 is new
    assert all(len(g) == 2 for g in refine_grids(recs, "depth", "final", 1 / 12, 2,
                                                 by_scale=False).values())
    assert architecture_overrides("plain_cnn", 8) == ["model.kwargs.depth=8"]
    assert architecture_overrides("resnet34", 34) == ["model.name=resnet34"]


def test_fit_logs_table_and_plots_to_wandb_offline(tmp_path):
    from helpers import wandb_records

    (tmp_path / "sweep").mkdir()
    result = fit.fit_sweep(_synthetic_records(tmp_path / "sweep"))
    out = tmp_path / "fit"
    files = report.write_check(result, out, stem="fit")
    report.log_check(result, files, out, {"project": "amup-timm-test", "mode": "offline"}, "fit")
    (log,) = out.glob("wandb/offline-run-*/run-*.wandb")
    keys, summary = set(), set()
    for rec in wandb_records(log):
        if rec["type"] == "history":
            keys |= {k.split(".")[0] for k in rec["history"]["item"]}  # media: "key.field"
        elif rec["type"] == "summary":
            summary |= set(rec["summary"].get("update") or {})
    logged = {k.split("/")[0] + "/" + k.split("/")[1] for k in keys if k.startswith("fit/")}
    assert {"fit/table", "fit/eta", "fit/curves"} <= logged, sorted(keys)
    assert "fit/momentum/am_mup/minimal_path/slope" in summary


@pytest.mark.parametrize("sweep", sorted(
    p.stem for p in (ROOT / "amup_timm" / "conf" / "sweeps").glob("*.yaml")))
def test_every_sweep_config_composes(sweep):
    """Each amup_timm/conf/sweeps/*.yaml composes with train.yaml, sweeps something, and its job config
    resolves (the LR grid's resolvers, scale, the amup node's schema)."""
    from omegaconf import OmegaConf

    cfg = compose_job(f"+sweeps={sweep}")
    assert cfg.hydra.sweeper.params, f"{sweep} sweeps nothing"
    job = OmegaConf.masked_copy(cfg, [k for k in cfg if k not in ("hydra", "run_dir")])
    resolved = OmegaConf.to_container(job, resolve=True)
    assert resolved["trainer"]["max_steps"] > 0
    if sweep.endswith("_check") or "_check_" in sweep:
        assert cfg.hydra.callbacks.multirun_end._target_ == "amup_timm.experiments.check.CheckOnMultirunEnd"


def compose_job(*overrides: str):
    """train.yaml composed with ``overrides`` as Hydra composes a job (its ``hydra`` node set,
    so that ``${hydra:...}`` resolves)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    register_configs()
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    return cfg


@pytest.mark.parametrize("overrides, center", [
    (["+sweeps=transfer_check"], -1.0),  # its own optim=sgd_plain
    (["+sweeps=transfer_check", "optim=adamw"], -2.5),
    (["+sweeps=transfer_check", "optim=sgd"], -1.5),
    (["+sweeps=leaderboard_long"], -1.0),  # the recipe's grid, not optim=sgd's entry
    (["+sweeps=leaderboard_long_adamw"], -2.5),
    (["+sweeps=transfer_check", "optim=adamw", "check.grid_center=-3"], -3.0)])
def test_a_checks_grid_centers_on_its_optimizer(overrides, center):
    """check.grid_center comes from the check's table by the optimizer config chosen, unless
    the sweep or the command line sets it; check.lr_offset counts decades from it."""
    cfg = compose_job(*overrides, "check.lr_offset=0.5")
    assert cfg.check.grid_center == center and cfg.optim.log10_lr == center + 0.5
    assert "grid_center" not in cfg.optim


def test_a_check_without_a_grid_center_for_its_optimizer_says_what_to_set():
    cfg = compose_job("+sweeps=transfer_check", "~check.grid_centers.sgd_plain")
    with pytest.raises(Exception, match=r"set check.grid_center=<log10"):
        _ = cfg.optim.log10_lr


@pytest.mark.parametrize("sweep, arms", [
    ("leaderboard_long", ["am_mup", "am_mup_fit", "depth_mup", "completep", "nfd", "standard"]),
    ("leaderboard_long_adamw", ["am_mup", "am_mup_fit", "am_mup_tau", "depth_mup", "completep",
                                "standard"])])
def test_leaderboard_plan_from_its_config(sweep, arms):
    """The leaderboard's callback reads its arms and stages from the config: every arm's
    scheme is in the grid, the exponent arm fits on x1-x2, tau's arm carries its decay rule,
    and the deeper grids run at x2 (am_mup, standard) and x9 (with depth_mup), 4 seeds at x9."""
    from hydra.utils import instantiate

    cfg = compose_job(f"+sweeps={sweep}")
    plan = instantiate(cfg.hydra.callbacks.multirun_end).plan
    assert [a.name for a in plan.arms] == arms
    grid = set(str(cfg.hydra.sweeper.params["amup.scheme"]).split(","))
    assert {a.scheme for a in plan.arms} == grid and cfg.data.name == "fashion_mnist"
    fit = next(a for a in plan.arms if a.name == "am_mup_fit")
    assert fit.scheme == "am_mup" and fit.exponent_from == (1, 2)
    assert plan.select == "val" and plan.targets == (2, 4, 9)
    assert plan.refine_values == (1, 2, 9)
    assert [(g.value, g.schemes) for g in plan.target_grids] == [
        (2, ("am_mup", "standard")), (9, ("am_mup", "standard", "depth_mup"))]
    assert plan.extra_seeds == (2, 3) and plan.seed_values == (9,)
    if "am_mup_tau" in arms:
        assert next(a for a in plan.arms if a.name == "am_mup_tau").overrides == (
            "amup.wd_rule=tau",)
        assert cfg.optim.opt == "adamw" and cfg.optim.weight_decay == 0.05
    else:
        assert cfg.optim.opt == "momentum" and cfg.optim.momentum == 0.9
        assert cfg.optim.weight_decay == 5e-4


@pytest.mark.parametrize("sweep, widths, opt, center", [
    ("width_check_fmnist", "1,2,4,8", "momentum", -1.0),
    ("width_check_fmnist_adamw", "1,2", "adamw", -2.5)])
def test_width_check_on_fashion_mnist_runs_the_leaderboards_recipe(sweep, widths, opt, center):
    """The width check on Fashion-MNIST: muP against SP over its widths, 1,000 steps of batch
    128 with cosine and warmup, eta* on the validation split, 2 seeds, the family's recipe."""
    from hydra.utils import instantiate

    cfg = compose_job(f"+sweeps={sweep}", "model=resnet18_slim")
    params = cfg.hydra.sweeper.params
    assert str(params["scale.width"]) == widths and str(params["trainer.seed"]) == "0,1"
    assert str(params["amup.scheme"]) == "am_mup,standard"
    assert cfg.data.name == "fashion_mnist" and cfg.data.batch_size == 128
    assert cfg.trainer.max_steps == 1000 and cfg.sched.sched == "cosine"
    assert cfg.optim.opt == opt and cfg.check.grid_center == center
    assert cfg.amup.ref_model == "resnet18"  # muP multipliers from the x1 model
    plan = instantiate(cfg.hydra.callbacks.multirun_end).plan
    assert plan.axis == "width" and plan.select == "val" and plan.refine_values == (1, 2, 4)


def test_the_vits_combined_check_trains_at_x2_with_a_coarse_grid_there():
    """(x2, x2), not (x4, x4), with muP's and SP's 4 half-decade LRs 10^-3.5 to 10^-2 there."""
    from hydra.utils import instantiate

    cfg = compose_job("+sweeps=combined_check_fmnist_adamw", "model=vit_narrow")
    plan = instantiate(cfg.hydra.callbacks.multirun_end).plan
    (grid,) = plan.target_grids
    assert plan.targets == (2,) and grid.value == 2 and cfg.optim.opt == "adamw"
    assert grid.schemes == ("am_mup", "standard")
    assert [cfg.check.grid_center + o for o in grid.offsets] == [-3.5, -3, -2.5, -2]


@pytest.mark.parametrize("named, arms", [
    ({"name": "depth_mup", "scheme": "depth_mup", "overrides": []},
     ["depth_mup", "am_mup", "mup_only", "standard"]),
    ({"name": "am_mup_fit", "scheme": "am_mup", "overrides": ["amup.exponent=0.8554"]},
     ["am_mup_fit", "am_mup", "mup_only", "standard"]),
    ({"name": "am_mup", "scheme": "am_mup", "overrides": []}, ["am_mup", "mup_only", "standard"])])
def test_combined_check_carries_the_named_depth_arm(named, arms):
    """The combined check trains (x4, x4) with muP and the leaderboard's named arm (its scheme
    and overrides: a fitted exponent, a decay rule), beside muP with the law, muP alone and SP;
    an arm that trains as one already listed runs once. Width follows depth. (The value as
    `python -m amup_timm.check LEADERBOARD --named-arm` prints it.)"""
    from hydra.utils import instantiate

    cfg = compose_job("+sweeps=combined_check_fmnist", "model=resnet18_slim", "scale.depth=4",
                      f"hydra.callbacks.multirun_end.named_arm={hydra_value(named)}")
    assert cfg.scale.width == 4 and cfg.amup.exponent == 0 and cfg.data.name == "fashion_mnist"
    plan = instantiate(cfg.hydra.callbacks.multirun_end).plan
    assert [a.name for a in plan.arms] == arms
    assert plan.transfer_overrides == ("amup.exponent=-1.5",)
    assert next(a for a in plan.arms if a.name == "mup_only").overrides == ("amup.exponent=0",)
    assert plan.targets == (4,) and [g.value for g in plan.target_grids] == [4]
    assert plan.refine_values == (1,)
    from amup_timm.experiments.check import transfer_stage

    ref = {"lr": 0.2, "model": "resnet18", "kwargs": dict(cfg.model.kwargs)}
    for arm in plan.arms:  # a transfer job of each arm, as its stage composes it
        stage = [o for o in transfer_stage(plan, arm, ref, (4,)) if not o.startswith("hydra.")]
        job = compose_job("+sweeps=combined_check_fmnist", "model=resnet18_slim", *stage)
        assert job.scale.width == job.scale.depth == 4 and job.amup.ref_lr == 0.2
        expected = {"mup_only": 0, "am_mup_fit": 0.8554}.get(arm.name, -1.5)
        assert job.amup.exponent == expected and job.check.arm == arm.name
