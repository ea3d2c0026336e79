"""The evidence scripts: they refuse a check they do not know before anything runs, and run
the plans of sweeps/evidence.yaml as the bash case did."""
import importlib.util
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_benchmark_names_its_checks_when_given_an_unknown_one():
    out = run("sweeps/benchmark.sh", "vit_narrow:leaderboard", "vit_narrow:leaderbord")
    assert out.returncode == 2
    assert "unknown check 'vit_narrow:leaderbord'" in out.stderr
    assert "vit_narrow:leaderboard" in out.stderr.split("one of", 1)[1]
    assert "=== " not in out.stdout  # refused before the first check started


def test_evidence_names_its_checks_when_given_an_unknown_one():
    out = run("sweeps/evidence.sh", "vit_narrow", "leaderbord")
    assert out.returncode == 2
    assert "unknown check 'leaderbord'" in out.stderr and "leaderboard" in out.stderr


spec = importlib.util.spec_from_file_location("evidence", ROOT / "sweeps" / "evidence.py")
evidence = importlib.util.module_from_spec(spec)
spec.loader.exec_module(evidence)

CB = "hydra.callbacks.multirun_end"
GRID = "lr_offsets:[-1.5,-1,-0.5,0,0.5,1]"
X2_UNREFINED = [f"{CB}.target_grids=[{{values:[2],schemes:[am_mup],{GRID}}},"
                f"{{values:[9],schemes:[am_mup,standard,depth_mup],{GRID}}}]",
                f"{CB}.refine_values=[1,9]"]


def before(family: str, check: str, *args: str, optim: str) -> list[str]:
    return ["train.py", "-m", *args, f"hydra.sweep.dir=multirun/evidence/{family}/{check}_{optim}"]


# (family, check, extra overrides): the commands sweeps/evidence.sh ran before its plans moved
# to sweeps/evidence.yaml (its bash case at 5c78185), less `python`; the ViT's am_mup grid at x6
# since cut to the budget (docs/evidence.md, the deep optimum's plan)
BEFORE = {
    ("resnet18_narrow", "leaderboard", ()): [before(
        "resnet18_narrow", "leaderboard", "+sweeps=leaderboard_long", "model=resnet18_narrow",
        optim="sgd")],
    ("resnet50_narrow", "leaderboard", (f"{CB}.refine_values=[1]",)): [before(
        "resnet50_narrow", "leaderboard", "+sweeps=leaderboard_long", "model=resnet50_narrow",
        *X2_UNREFINED, "check.lr_offset=-1,-0.5,0,0.5,1", f"{CB}.refine_values=[1]",
        optim="sgd")],
    ("convnext_narrow", "leaderboard", ()): [before(
        "convnext_narrow", "leaderboard", "+sweeps=leaderboard_long_adamw",
        "model=convnext_narrow", "data.img_size=32", *X2_UNREFINED, optim="adamw")],
    ("vit_narrow", "leaderboard", ()): [before(
        "vit_narrow", "leaderboard", "+sweeps=leaderboard_long_adamw", "model=vit_narrow",
        "trainer.max_steps=3000", "check.lr_offset=-0.5,0,0.5,1", f"{CB}.targets=[2,6]",
        f"{CB}.target_grids=[{{values:[2],schemes:[am_mup],lr_offsets:[-1,-0.5,0,0.5,1]}},"
        "{values:[6],schemes:[depth_mup],lr_offsets:[-1,-0.5,0,0.5]}]",
        f"{CB}.refine_values=[1,2]", f"{CB}.extra_seeds={{seeds:[2,3],values:[6]}}",
        optim="adamw")],
    ("vit_narrow", "paper", ()): [before(
        "vit_narrow", "paper", "+sweeps=transfer_check", "model=vit_narrow",
        "data=fashion_mnist", "data.img_size=28", optim="sgd_plain")],
    ("convnext_narrow", "paper", ()): [before(
        "convnext_narrow", "paper", "+sweeps=transfer_check", "model=convnext_narrow",
        "data=fashion_mnist", "data.img_size=32", optim="sgd_plain")],
    ("resnet18_slim", "width_fmnist", ()): [before(
        "resnet18_slim", "width_fmnist", "+sweeps=width_check_fmnist", "model=resnet18_slim",
        optim="sgd")],
    ("vit_narrow", "width_fmnist", ()): [before(
        "vit_narrow", "width_fmnist", "+sweeps=width_check_fmnist_adamw", "model=vit_narrow",
        optim="adamw")],
    ("convnext_narrow", "width_fmnist", ()): [before(
        "convnext_narrow", "width_fmnist", "+sweeps=width_check_fmnist_adamw",
        "model=convnext_narrow", "data.img_size=32", optim="adamw")],
    ("convnext_narrow", "all", ("data.img_size=32",)): [before(
        "convnext_narrow", check, f"+sweeps={sweep}", "model=convnext_narrow", f"optim={o}",
        "data.img_size=32", optim=o) for check, sweep in [("short", "transfer_check"),
                                                          ("long", "transfer_check_long")]
        for o in ("sgd_plain", "adamw")],
    ("plain_cnn", "width1500", ("model.kwargs.width=8",)): [before(
        "plain_cnn", "width1500", "+sweeps=width_check_1500", "model=plain_cnn", f"optim={o}",
        "model.kwargs.width=8", optim=o) for o in ("sgd_plain", "adamw")],
    ("resnet18_slim", "combined", ()): [before(
        "resnet18_slim", "combined", "+sweeps=combined_check_long", "model=resnet18_slim",
        f"optim={o}", optim=o) for o in ("sgd_plain", "adamw")],
}


def task_and_dir(cmd: list[str]) -> list[str]:
    """A command's task overrides in their order (what names its jobs) and its sweep dir."""
    return [a for a in cmd if not a.startswith(("hydra.", "hydra/")) or "sweep.dir" in a]


@pytest.mark.parametrize("family, check, extra", sorted(BEFORE))
def test_evidence_plans_run_what_evidence_sh_ran(family, check, extra):
    """Each family's plan (sweeps/evidence.yaml) runs the commands the bash case ran: the same
    task overrides in the same order (so published jobs are skipped) and, composed, the same
    sweep, callback plan included; overrides given last still win."""
    from helpers import compose_multirun, parts

    now, then = evidence.commands(family, check, list(extra)), BEFORE[family, check, extra]
    assert [task_and_dir(c) for c in now] == [task_and_dir(c) for c in then]
    for new, old in zip(now, then):
        assert parts(compose_multirun(new[2:])) == parts(compose_multirun(old[2:]))


@pytest.mark.parametrize("family", ["resnet18_slim", "vit_narrow"])
def test_a_published_combined_check_resumes_with_the_arm_it_ran_with(family):
    """The combined check on Fashion-MNIST carries the arm it recorded when it started (its
    multirun.yaml's named_arm) to the callback and its scheme to the grid, so its published jobs
    are found again whatever the leaderboard's rule names now."""
    from omegaconf import OmegaConf

    from amup_timm.experiments.records import unpacked
    from helpers import compose_multirun

    optim = "sgd" if family == "resnet18_slim" else "adamw"
    packed = ROOT / "docs/data/evidence/runs" / family / f"combined_fmnist_{optim}.tar.gz"
    recorded = OmegaConf.load(unpacked(packed) / "multirun.yaml")
    (new,) = evidence.commands(family, "combined_fmnist", [])
    cfg = compose_multirun(new[2:])
    assert cfg.hydra.callbacks.multirun_end.named_arm == \
        recorded.hydra.callbacks.multirun_end.named_arm
    assert [o for o in new[2:] if not o.startswith("hydra.")] == \
        list(recorded.hydra.overrides.task)


def test_a_new_combined_check_takes_the_arm_its_leaderboard_names(capfd, tmp_path, monkeypatch):
    """Without a combined check of its own, convnext_narrow's asks its leaderboard for the arm
    (4 seeds at the deepest depth: the rule picks one of its tied set) and runs that arm's
    scheme beside am_mup and timm's init; the same board without seeds 2-3 names none, and the
    runner stops instead of running an arm the data do not pick."""
    import shutil
    import tarfile

    from amup_timm.experiments.leaderboard import board
    from amup_timm.experiments.records import collect

    packed = ROOT / "docs/data/evidence/runs/convnext_narrow/leaderboard_adamw.tar.gz"
    picked = board(collect(packed), "depth", "val")
    assert picked.named is not None
    (cmd,) = evidence.commands("convnext_narrow", "combined_fmnist", [])
    (arm,) = [a for a in cmd if a.startswith(f"{CB}.named_arm=")]
    assert f"name:'{picked.named}'" in arm
    (schemes,) = [a.split("=", 1)[1].split(",") for a in cmd if a.startswith("amup.scheme=")]
    assert schemes[:2] == ["am_mup", "standard"] and picked.arm["scheme"] in schemes

    boards = tmp_path / "multirun" / "evidence" / "convnext_narrow"
    with tarfile.open(packed) as tar:
        tar.extractall(boards, filter="data")
    shutil.rmtree(boards / "leaderboard_adamw" / "seeds")
    monkeypatch.setattr(evidence, "ROOT", tmp_path)
    with pytest.raises(SystemExit) as err:
        evidence.named_arm("convnext_narrow")
    assert err.value.code != 0
    assert "2 seeds: no interval" in capfd.readouterr().err


def test_evidence_sh_prints_its_plan_without_running_it():
    out = run("sweeps/evidence.sh", "resnet50_narrow", "leaderboard", "--dry-run")
    assert out.returncode == 0, out.stderr
    (line,) = out.stdout.splitlines()
    (cmd,) = evidence.commands("resnet50_narrow", "leaderboard", [])
    assert shlex.split(line) == ["python", *cmd]
