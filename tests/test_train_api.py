"""amup-train's ``train`` in-process: the mission's command, errors that stop a run before it
trains, W&B offline logging, the probe's LR rule, the GPU code paths on the CPU (the subprocess
paths are tests/test_train.py's)."""

import math
import shutil

import pytest
from helpers import TINY, train_here, wandb_records

import amup_timm
from amup_timm.registry import build_meta
from amup_timm.train import done_before


def test_the_missions_command_takes_optim_lr_as_resnet18s(tmp_path):
    """`amup-train model=resnet101 amup.ref_depth=18`: optim.lr (0.1) is resnet18's LR."""
    res = train_here("model=resnet101", "amup.ref_depth=18", "trainer.max_steps=2",
                     "data.batch_size=8", "logger=none", run_dir=tmp_path)
    L = amup_timm.describe(build_meta("resnet101", in_chans=1)).depth["minimal_path"]
    L_ref = amup_timm.describe(build_meta("resnet18", in_chans=1)).depth["minimal_path"]
    assert (res["amup"]["L"], res["amup"]["L_ref"]) == (L, L_ref) == (39, 13)
    assert res["lr"] == pytest.approx(0.1 * (L / L_ref) ** -1.5, rel=1e-12)
    assert res["amup"]["ref_model"] == "resnet18" and res["amup"]["ref_lr"] == 0.1
    assert res["amup"]["ref_source"] == "optim.lr" and res["status"] == "finished"


@pytest.mark.parametrize("args,message", [
    (["model=resnet18_narrow", "amup.ref_depth=34"], r"amup.ref_kwargs=\{layers"),
    (["model.name=resnet_nope"], "unknown timm model 'resnet_nope'"),
    (["amup.ref_dpth=18"], "ref_dpth"),
    (["+amup.typo=1"], "typo"),
    (["model=resnet18", "model.kwargs.depth=4"], "depth"),
    (["data=imagefolder", "data.root=/nonexistent", "data.num_classes=3"], "train/<class>"),
    (["data=cifar10", "data.root=/nonexistent"], "data.download"),
])
def test_bad_input_fails_before_training(tmp_path, args, message):
    with pytest.raises(Exception, match=message):
        train_here(*args, "logger=none", run_dir=tmp_path)
    assert not (tmp_path / "metrics.jsonl").exists()


def test_a_job_done_before_is_skipped_and_no_other(tmp_path):
    """A multirun started again skips a job whose results.json has its overrides and ended
    (finished or diverged); a changed override or a failed job runs again."""
    run_dir = tmp_path / "given" / "by_hand"  # run_dir=... that does not exist yet
    res = train_here(*TINY, "trainer.max_steps=3", "logger=none", run_dir=run_dir)
    assert done_before(run_dir, res["overrides"])["final"] == res["final"]
    assert done_before(run_dir, [*res["overrides"], "optim.lr=0.5"]) is None
    (tmp_path / "results.json").write_text('{"status": "failed", "overrides": []}')
    assert done_before(tmp_path, []) is None


@pytest.mark.skipif(not (shutil.which("g++") or shutil.which("c++")),
                    reason="torch.compile's CPU backend needs a C++ compiler")
def test_compile_tiny_model(tmp_path):
    """trainer.compile=true: the loop calls the compiled model, muP groups found through it."""
    res = train_here(*TINY, "model.kwargs.depth=2", "trainer.max_steps=3",
                     "trainer.compile=true", "logger=none", run_dir=tmp_path)
    assert res["status"] == "finished" and res["steps"] == 3


def test_checkpoint_of_another_config_is_not_resumed(tmp_path):
    """A run directory holding another run's checkpoint stops the run and says how to go on."""
    train_here(*TINY, "trainer.max_steps=4", "trainer.ckpt_every=2", "logger=none",
               run_dir=tmp_path)
    with pytest.raises(ValueError, match="holds a checkpoint of another run"):
        train_here(*TINY, "trainer.max_steps=4", "trainer.ckpt_every=2", "optim.lr=0.5",
                   "logger=none", run_dir=tmp_path)


def test_wandb_offline_run_holds_logged_keys(tmp_path):
    res = train_here(*TINY, "trainer.max_steps=20", "logger=wandb", "model=resnet_1conv",
                     "model.kwargs.depth=2", "amup.ref_lr=0.05", run_dir=tmp_path)
    (log,) = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
    history, summary, config = set(), {}, set()
    for rec in wandb_records(log):
        kind = rec["type"]
        if kind == "history":
            history |= set(rec["history"]["item"])
        elif kind == "summary":
            summary.update(rec["summary"].get("update") or {})
        elif kind in ("config", "run"):
            config |= set((rec[kind] if kind == "config" else rec["run"]["config"])["update"])
    assert {"train/loss", "train/images_per_s", "lr/group0"} <= history
    assert {"model", "data", "optim", "amup", "trainer"} <= config
    assert summary["status"] == "finished"
    assert summary["amup"]["K"] == 2 and summary["amup"]["ref_lr"] == 0.05
    assert summary["lr"] == res["lr"] == 0.05
    assert math.isfinite(summary["final/val_loss"])


def test_probe_lr_rule_records_both_lrs(tmp_path):
    res = train_here(*TINY, "model=resnet_1conv", "model.kwargs.depth=6", "amup.ref_depth=2",
                     "amup.ref_lr=0.05", "amup.lr_rule=probe", "amup.probe_seeds=2",
                     "trainer.max_steps=2", "logger=none", run_dir=tmp_path)
    assert res["lr"] == res["amup"]["lr_probe"] != res["amup"]["lr"]
    assert res["amup"]["lr"] == pytest.approx(0.05 * (res["amup"]["L"] / res["amup"]["L_ref"])
                                                  ** -1.5)


def test_gpu_code_paths_run_on_cpu(tmp_path):
    """bf16 autocast and channels_last (the GPU defaults) also run on the CPU."""
    res = train_here(*TINY, "model=resnet_1conv", "model.kwargs.depth=2",
                     "trainer.precision=bf16", "trainer.channels_last=true",
                     "trainer.max_steps=6", "trainer.log_every=2", "logger=none",
                     run_dir=tmp_path)
    assert res["status"] == "finished" and math.isfinite(res["final"]["train_loss"])
    assert res["timing"]["steps"] > 0 and res["timing"]["images_per_s"] > 0
