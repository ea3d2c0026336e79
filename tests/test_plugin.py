"""amup-timm as a Hydra plugin: its groups in any app (the app's own options win), the
mission's command with optim.lr as the reference's LR, and the wheel in a fresh environment."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from pathlib import Path

import pytest
from helpers import ROOT, env
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

import amup_timm
from amup_timm.base_lr import lr_message, resolve_lr
from amup_timm.law import law

APP = ROOT / "examples" / "hydra_app"


def compose_app(*overrides: str):
    with initialize_config_dir(str(APP / "conf"), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def test_an_app_composes_the_plugin_groups_and_its_own_option_wins():
    """The example app names amup-timm's groups without copying them; its own
    model/resnet18.yaml shadows the package's, and the amup node keeps its schema."""
    cfg = compose_app()
    assert cfg.model.kwargs.channels == [16, 32, 64, 128]  # the package's resnet18_narrow
    assert cfg.amup.exponent == -1.5 and cfg.optim.opt == "momentum" and cfg.data.name == "digits"
    own = compose_app("model=resnet18")
    packaged = OmegaConf.load(ROOT / "amup_timm" / "conf" / "model" / "resnet18.yaml")
    assert own.model.kwargs.channels == [8, 16, 32, 64] and "channels" not in packaged.kwargs
    with pytest.raises(ConfigCompositionException, match="ref_deth"):  # typed by AmupConfig
        compose_app("amup.ref_deth=18")
    more = compose_app("+sched=cosine", "+logger=wandb", "data=fashion_mnist")
    assert more.sched.sched == "cosine" and more.logger.name == "wandb"
    assert more.data.val_size == 5000


def optim(**kw):
    return OmegaConf.create({"opt": "momentum", "lr": 0.1, "log10_lr": None,
                             "weight_decay": 0.0, "momentum": 0.9, **kw})


def test_a_named_reference_takes_its_lr_from_optim_lr():
    """`train.py model=resnet34 amup.ref_depth=18`: optim.lr is resnet18's LR, the law gives
    resnet34's, and the record and the log say where it came from; amup.ref_lr still wins."""
    model = amup_timm.create_model("resnet34", {"ref_depth": 18}, num_classes=10)
    L, L_ref = model.amup.report.depth["minimal_path"], model.amup.resolved.ref_report.depth[
        "minimal_path"]
    lr, rec = resolve_lr(model, optim())
    assert lr == pytest.approx(law(0.1, L, L_ref)) and lr < 0.1
    assert rec["ref_source"] == "optim.lr" and rec["ref_lr"] == 0.1
    assert lr_message(lr, rec) == (f"reference LR 0.1 from optim.lr (give the LR tuned at "
                                   f"resnet18 there) -> {lr:.4g} by the -1.5 law")
    kept = amup_timm.create_model("resnet34", {"ref_depth": 18, "exponent": 0}, num_classes=10)
    assert lr_message(*resolve_lr(kept, optim())) == (
        "reference LR 0.1 from optim.lr (give the LR tuned at resnet18 there) -> 0.1 kept "
        "(depth exponent 0)")
    lr, rec = resolve_lr(model, optim(log10_lr=-2.0))
    assert lr == pytest.approx(law(0.01, L, L_ref)) and rec["ref_source"] == "optim.log10_lr"
    by_hand = amup_timm.create_model("resnet34", {"ref_depth": 18, "ref_lr": 0.5},
                                     num_classes=10)
    lr, rec = resolve_lr(by_hand, optim())
    assert lr == pytest.approx(law(0.5, L, L_ref)) and rec["ref_source"] == "amup.ref_lr"
    with pytest.raises(ValueError, match="amup.ref_lr"):  # the Python API keeps asking
        amup_timm.transfer_lr(model)
    with pytest.raises(ValueError, match=r"amup.ref_kwargs=\{layers"):  # not a silent no-op
        amup_timm.create_model("resnet18", {"ref_depth": 34}, layers=[4, 4, 4, 4])


def test_the_laws_log_line_says_what_the_benchmark_measured():
    """`amup-train model=resnet101 amup.ref_depth=18` keeps the -1.5 law and its log adds the
    benchmark's sentence (from the records, with the tables); another rule's log does not."""
    import json

    from amup_timm.train import benchmark_note

    model = amup_timm.create_model("resnet101", {"ref_depth": 18}, num_classes=10)
    lr, rec = resolve_lr(model, optim())
    assert rec["exponent"] == -1.5 and lr == pytest.approx(0.1 * (39 / 13) ** -1.5)
    sentence = json.loads((Path(amup_timm.__file__).with_name("benchmark.json")).read_text())[
        "sentence"]
    assert benchmark_note(rec) == "\n" + sentence and "-1.5 law" in sentence
    kept = amup_timm.create_model("resnet34", {"ref_depth": 18, "exponent": 0}, num_classes=10)
    assert benchmark_note(resolve_lr(kept, optim())[1]) == ""


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """The wheel installed in a fresh virtual environment that reuses the installed
    dependencies (no second torch), and a working directory outside the checkout."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"  # a copy, so that the build leaves nothing in the checkout
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "docs", "multirun", "outputs", "build", "*.egg-info", "__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(tmp / "dist")], check=True,
                   capture_output=True)
    (wheel,) = (tmp / "dist").glob("amup_timm-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(tmp / "venv")],
                   check=True)
    bin_ = tmp / "venv" / "bin"
    subprocess.run([bin_ / "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True)
    work = tmp / "work"
    work.mkdir()
    return bin_, work


def run_in(venv, *cmd: str, timeout: float = 600) -> subprocess.CompletedProcess:
    bin_, work = venv
    exe = [str(bin_ / cmd[0])] if cmd[0] in ("python", "amup-train") else [cmd[0]]
    proc = subprocess.run([*exe, *cmd[1:]], cwd=work, env=env(WANDB_MODE="disabled"),
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_the_wheel_trains_from_any_directory(venv):
    """The console script, with the package's own config tree, outside the checkout."""
    where = run_in(venv, "python", "-c", "import amup_timm; print(amup_timm.__file__)").stdout
    assert str(venv[0].parent) in where and str(ROOT) not in where
    run_in(venv, "amup-train", "model=plain_cnn", "model.kwargs.depth=4", "data.img_size=8",
           "data.batch_size=16", "trainer.max_steps=20", "logger=none", "amup.ref_depth=2",
           "hydra.run.dir=run")
    res = json.loads((venv[1] / "run" / "results.json").read_text())
    assert res["status"] == "finished" and res["steps"] == 20
    assert res["amup"]["ref_source"] == "optim.lr" and res["lr"] < 0.1


@pytest.mark.slow
def test_the_wheel_serves_an_app_of_its_own(venv):
    """The example app, copied outside the checkout, composes the installed plugin's groups."""
    app = venv[1] / "app"
    shutil.copytree(APP, app)
    out = run_in(venv, "python", str(app / "train_app.py"), "model=resnet18",
                 "data.img_size=8", "hydra.run.dir=app_run").stdout
    res = json.loads(out.strip().splitlines()[-1])
    assert res["kwargs"]["channels"] == [8, 16, 32, 64] and str(venv[0].parent) in res["amup"]
    assert res["last_loss"] < res["first_loss"]


@pytest.mark.slow
def test_the_wheel_runs_a_check_and_the_probe(venv):
    """A tiny transfer check on its own joblib launcher (grid, transfer, verdict: subprocesses
    of the installed trainer; the grid's LRs resolved in the workers) and the probe, from the
    installed package."""
    out = run_in(venv, "amup-train", "-m", "+sweeps=transfer_check", "model=plain_cnn",
           "model.kwargs.width=8", "data.img_size=8", "data.batch_size=16",
           "trainer.max_steps=3", "scale.depth=1,2", "check.lr_offset=-0.5,0.5",
           "trainer.seed=0", "amup.scheme=am_mup", "+hydra.callbacks.multirun_end.refine_points=0",
           "hydra.sweep.dir=check")
    assert "Joblib" in out.stdout + out.stderr
    verdict = json.loads((venv[1] / "check" / "verdict" / "verdict.json").read_text())
    (group,) = verdict["groups"]
    assert group["scheme"] == "am_mup" and len(group["regret"]) == 1
    run_in(venv, "python", "-m", "amup_timm.probe", "model=resnet_1conv", "data=synthetic",
           "data.img_size=8", "model.kwargs.width=8", "probe.depths=[2,4]", "amup.probe_seeds=1",
           "amup.probe_evals=4", "logger=none", "hydra.run.dir=probe")
    assert len(json.loads((venv[1] / "probe" / "probe.json").read_text())["rows"]) == 2
