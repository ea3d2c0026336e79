"""The checks end to end: one tiny check through amup-train -m, shared by the tests (the
combined check: check/combined at recipe/digits, the transfer check with the width scaled with the depth, muP from the
small model and the law on top in the transfer), and the width check's jobs in-process."""

import json
import math

import pytest
from helpers import results, run_train, train_here

from amup_timm import describe
from amup_timm.experiments.records import collect, is_done
from amup_timm.registry import build_meta

ARGS = ["-m", "+sweeps=[check/combined,recipe/digits]", "model=resnet18_narrow", "data.img_size=8",
        "data.batch_size=32", "trainer.max_steps=6", "check.lr_offset=-0.5,0,0.5",
        "trainer.seed=0,1", "scale.depth=1,2", "+hydra.callbacks.multirun_end.refine_points=1",
        "+hydra.callbacks.multirun_end.extra_seeds={seeds:[2],values:[2]}",
        "hydra/launcher=basic"]  # jobs in one process (joblib's: tests/test_train.py)


@pytest.fixture(scope="module")
def check(tmp_path_factory):
    sweep = tmp_path_factory.mktemp("check")
    proc = run_train(*ARGS, f"hydra.sweep.dir={sweep}")
    return sweep, proc


@pytest.mark.slow
def test_check_refines_transfers_and_judges(check):
    sweep, proc = check
    assert proc.stdout.count("verdict:") == 2
    assert "Joblib" not in proc.stdout + proc.stderr  # its stages ran on the launcher it was given
    assert is_done(sweep)  # the mark publish reads: every stage ran
    result = json.loads((sweep / "verdict" / "verdict.json").read_text())
    assert [g["scheme"] for g in result["groups"]] == ["am_mup", "standard"]
    L = {d: describe(build_meta("resnet18", layers=[d] * 4, channels=[16, 32, 64, 128],
                                in_chans=1)).depth["minimal_path"] for d in (1, 2)}
    recs = collect(sweep)
    for g in result["groups"]:
        rows = {r["value"]: r for r in g["rows"]}
        assert sorted(rows) == [4, 8] and all(r["runs"] == 10 for r in rows.values())
        eta4 = rows[4]["eta_star"]
        (t,) = g["regret"]
        law = -1.5 if g["scheme"] == "am_mup" else 0.0
        assert t["value"] == 8 and t["lr"] == pytest.approx(eta4 * (L[2] / L[1]) ** law)
        assert t["seeds"] == 3 and t["regret"] == pytest.approx(
            t["val_loss"] - t["star_val_loss"])
        lo, hi = t["regret_range"]  # the mean of the seeds' own regrets lies within them
        assert lo - 1e-9 <= t["regret"] <= hi + 1e-9
        moved = [r for r in recs if r.stage == "transfer" and r.scheme == g["scheme"]]
        assert {round(r.lr, 12) for r in moved} == {round(t["lr"], 12)}
        # refined to an eighth of a decade around each coarse optimum
        for depth, row in rows.items():
            coarse = {round(math.log10(r.lr), 4) for r in recs if r.stage == "grid"
                      and r.depth == depth and r.scheme == g["scheme"]}
            fine = {round(math.log10(r.lr), 4) for r in recs if r.stage == "refine"
                    and r.depth == depth and r.scheme == g["scheme"]}
            center = next(c for c in coarse if {round(c + k / 8, 4) for k in (-1, 1)}
                          == fine)
            assert center in coarse and row["resolution"] == pytest.approx(1 / 16)
    run = results(sweep / "transfer" / "am_mup" / "depth2_seed0")
    assert run["amup"]["ref_lr"] == pytest.approx(result["groups"][0]["rows"][0]["eta_star"])
    assert run["amup"]["ref_kwargs"]["layers"] == [1, 1, 1, 1]
    for name in ("eta.png", "curves.png"):
        assert (sweep / "verdict" / name).read_bytes()[:4] == b"\x89PNG"
    assert "Reproduce: `amup-train -m +sweeps=[check/combined,recipe/digits]" in (
        sweep / "verdict" / "verdict.md").read_text()


@pytest.mark.slow
def test_extra_seeds_run_at_the_deeper_size_and_select_nothing(check):
    """extra_seeds={seeds:[2],values:[2]}: every arm's transfer and each scheme's eta* cell at
    x2 gain seed 2 (the cell at the eta* its grid's seeds 0-1 picked), and no eta* moves: the
    verdict without them is the verdict."""
    from amup_timm.experiments.verdict import verdict

    sweep, _ = check
    recs = collect(sweep)
    select = json.loads((sweep / "verdict" / "verdict.json").read_text())["select"]
    result = verdict(recs, "depth", select)
    alone = verdict([r for r in recs if r.stage != "seeds"], "depth", select)
    for g, h in zip(result.groups, alone.groups):
        assert [r.eta_star for r in g.rows] == [r.eta_star for r in h.rows]
        star = next(r.eta_star for r in g.rows if r.value == 8)
        extra = [r for r in recs if r.stage == "seeds" and r.scheme == g.scheme]
        assert [(r.depth, r.seed) for r in extra] == [(8, 2)]
        assert extra[0].lr == pytest.approx(star) and extra[0].status == "finished"
        moved = {r.seed for r in recs if r.stage == "transfer" and r.scheme == g.scheme}
        assert moved == {0, 1, 2}


@pytest.mark.slow
def test_exponent_from_a_check(check, tmp_path):
    sweep, _ = check
    result = json.loads((sweep / "verdict" / "verdict.json").read_text())
    slope = result["groups"][0]["trends"]["minimal_path"]["slope"]
    res = train_here("model=resnet18_narrow", "scale.depth=2", "data.img_size=8",
                     "data.batch_size=32", "trainer.max_steps=2", "logger=none",
                     "amup.ref_lr=0.1", "amup.ref_model=resnet18",
                     "++amup.ref_kwargs={layers:[1,1,1,1],channels:[16,32,64,128]}",
                     f"amup.exponent_from={sweep}", "optim=sgd_plain", run_dir=tmp_path)
    assert res["amup"]["exponent"] == pytest.approx(slope)
    assert res["amup"]["exponent_from"] == str(sweep)
    assert res["lr"] == pytest.approx(0.1 * (res["amup"]["L"] / res["amup"]["L_ref"]) ** slope)


@pytest.mark.slow
def test_the_check_trains_the_wider_model_with_mup_and_the_law_on_top(check):
    """At 2x width and 2x depth, am_mup's runs take muP's groups from the small model (grid
    runs at the grid's LR, exponent 0; the transfer at the law's); standard's one LR."""
    sweep, _ = check
    for r in collect(sweep):
        if r.depth != 8:
            continue
        res = results(r.path)
        assert res["model_kwargs"]["channels"] == [32, 64, 128, 256]
        if r.scheme == "standard":
            assert res["lr_scales"] == [1.0]
            continue
        assert res["lr_scales"] == [1.0, 2.0]  # muP SGD at 2x: hidden 1, input/readout 2
        assert (res["amup"]["exponent"] == -1.5) == (r.stage == "transfer")
        if r.stage != "transfer":
            assert res["lr"] == pytest.approx(10 ** res["config"]["optim"]["log10_lr"])


@pytest.mark.parametrize("scheme, scales", [("am_mup", [1.0, 2.0]), ("standard", [1.0])])
def test_a_width_check_job_keeps_the_grid_lr_with_mups_groups(tmp_path, scheme, scales):
    """check/width at recipe/digits: a 2x-wide job trains at its grid LR, with muP's groups from the
    narrowest model under am_mup and one LR under standard; the check judges by width."""
    from hydra import compose, initialize_config_module

    args = ["+sweeps=[check/width,recipe/digits]", "model=plain_cnn", "model.kwargs.depth=2",
            "model.kwargs.width=4", "data.img_size=8", "data.batch_size=16",
            "trainer.max_steps=2", "scale.width=2", f"amup.scheme={scheme}"]
    with initialize_config_module("amup_timm.conf", version_base="1.3"):
        cfg = compose("train", overrides=args, return_hydra_config=True)
    assert cfg.hydra.callbacks.multirun_end.axis == "width"
    # the grid's center by optimizer reads Hydra's runtime choices: given as a value here
    res = train_here(*args, f"check.grid_center={cfg.check.grid_centers.sgd_plain}",
                     run_dir=tmp_path)
    assert res["model_kwargs"]["width"] == 8 and res["lr_scales"] == scales
    assert res["lr"] == pytest.approx(10 ** res["config"]["optim"]["log10_lr"])
    assert res["config"]["optim"]["log10_lr"] == cfg.check.grid_centers.sgd_plain


@pytest.mark.slow
def test_check_of_a_family_without_a_depth_knob_stops_before_any_job(tmp_path):
    proc = run_train("-m", "+sweeps=transfer_check", "model.name=vgg11",
                     f"hydra.sweep.dir={tmp_path / 'check'}", check=False)
    assert proc.returncode != 0
    assert "cannot scale this model: vgg11 has no depth kwarg" in proc.stderr
    assert "sweep model.name over vgg<N>" in proc.stderr
    assert not (tmp_path / "check").exists()


def test_check_without_a_grid_center_for_its_optimizer_stops_before_any_job():
    """An optimizer config the check's table does not know stops the multirun as it starts
    (not every job one by one), saying what to set."""
    from hydra import compose, initialize_config_module
    from hydra.utils import instantiate

    with initialize_config_module("amup_timm.conf", version_base="1.3"):
        cfg = compose("train", overrides=["+sweeps=transfer_check", "model=resnet18_narrow",
                                          "~check.grid_centers.sgd_plain"],
                      return_hydra_config=True)
    callback = instantiate(cfg.hydra.callbacks.multirun_end)
    with pytest.raises(SystemExit, match=r"optim=sgd_plain: .* set check.grid_center=<log10"):
        callback.on_multirun_start(config=cfg)
    with initialize_config_module("amup_timm.conf", version_base="1.3"):
        cfg = compose("train", overrides=["+sweeps=transfer_check", "model=resnet18_narrow",
                                          "~check.grid_centers.sgd_plain",
                                          "check.grid_center=-1"], return_hydra_config=True)
    callback.on_multirun_start(config=cfg)  # set by hand: the table is not asked


def test_check_of_a_folder_holding_a_check_names_the_check_inside(tmp_path):
    """`python -m amup_timm.check` on the folder above a check (as after unpacking a packed
    board) stops naming the check's directory, not with a traceback."""
    from amup_timm.experiments.check import main

    (tmp_path / "leaderboard_sgd").mkdir()
    (tmp_path / "leaderboard_sgd" / "multirun.yaml").write_text("hydra: {}\n")
    with pytest.raises(SystemExit, match=r"checks inside it: .*leaderboard_sgd"):
        main([str(tmp_path)])
