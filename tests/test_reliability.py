"""No silent wrong result (issue 41), each case reproduced with real runs and real files: records
that do not validate, failed cells, corrupt checkpoints, a full disk, two runs in one directory,
references of another family or optimizer, and settings refused before training."""

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from helpers import ROOT, TRAIN, env, results, run_train, train_here
from torch import nn

import amup_timm
import amup_timm.data
from amup_timm.experiments.fit import fit_sweep
from amup_timm.experiments.records import collect
from amup_timm.experiments.reference_runs import apply_ref_run
from amup_timm.experiments.rundir import CHECKPOINT, LOCK, CorruptCheckpoint
from amup_timm.config import AmupConfig

pytestmark = pytest.mark.slow

NET = ["model=resnet_1conv", "model.kwargs.depth=2", "model.kwargs.width=16",
       "data.batch_size=32", "trainer.progress=false", "logger=none"]
LRS = "optim.lr=0.003,0.03,0.3"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A real 3-LR multirun of resnet_1conv (momentum SGD, 10 steps)."""
    out = tmp_path_factory.mktemp("sweep") / "grid"
    run_train("-m", *NET, LRS, "trainer.max_steps=10", f"hydra.sweep.dir={out}")
    return out


def _copy(sweep, tmp_path):
    shutil.copytree(sweep, tmp_path / "grid", ignore=shutil.ignore_patterns("fit"))
    return tmp_path / "grid"


def _best_job(sweep):
    (group,) = fit_sweep(sweep).groups
    eta = group.rows[0].eta_star
    return next(d for d in sweep.iterdir() if d.name.isdigit() and results(d)["lr"] == eta), eta


def _rerun(sweep):
    return run_train("-m", *NET, LRS, "trainer.max_steps=10", f"hydra.sweep.dir={sweep}")


def test_an_invalid_record_is_named_not_used_not_skipped(sweep, tmp_path, caplog):
    """The best LR's results.json says finished with empty metrics: the fit, ref_run and a
    rerun name it; the fit still summarises the rest, counts it failed and flags eta*; the
    rerun trains that job again and only that one."""
    grid = _copy(sweep, tmp_path)
    job, eta = _best_job(grid)
    rec = results(job)
    (job / "results.json").write_text(json.dumps({**rec, "final": {}}))
    with caplog.at_level(logging.WARNING):
        (group,) = fit_sweep(grid).groups
    assert str(job / "results.json") in caplog.text and "rerun that job" in caplog.text
    (row,) = group.rows
    assert row.eta_star != eta and row.failed == 1 and eta in row.gaps
    with pytest.raises(ValueError, match="do not validate") as e:
        apply_ref_run(AmupConfig(ref_run=str(grid)))
    assert str(job / "results.json") in str(e.value)
    proc = _rerun(grid)
    log = proc.stdout + proc.stderr
    assert log.count("already finished") == 2 and "not skipped as done" in log
    assert results(job)["final"]["train_loss"] == rec["final"]["train_loss"]  # trained again


def test_a_record_that_is_not_json_is_named(sweep, tmp_path, caplog):
    grid = _copy(sweep, tmp_path)
    job, _ = _best_job(grid)
    (job / "results.json").write_text('{"status": "finished", "lr": 0.')
    with caplog.at_level(logging.WARNING):
        recs = collect(grid)
    assert "not JSON" in caplog.text and str(job / "results.json") in caplog.text
    assert sorted(r.status for r in recs) == ["failed", "finished", "finished"]
    assert fit_sweep(grid).groups[0].rows  # the rest still summarises


def test_a_failed_best_cell_is_counted_and_flags_eta(sweep, tmp_path):
    """The best job's checkpoint is corrupt and its record gone: the rerun records it failed
    (naming the file), and the fit counts the failure and flags the eta* beside it."""
    grid = _copy(sweep, tmp_path)
    job, eta = _best_job(grid)
    (job / "results.json").unlink()
    (job / CHECKPOINT).write_bytes(b"garbage")
    _rerun(grid)
    rec = results(job)
    assert rec["status"] == "failed" and str(job / CHECKPOINT) in rec["error"]
    result = fit_sweep(grid)
    (row,) = result.groups[0].rows
    assert row.failed == 1 and row.eta_star != eta and eta in row.gaps
    from amup_timm.experiments.report import check_markdown, check_summary

    assert f"| 1 | {eta:.4g} |" in check_markdown(result)
    assert "failed runs: 1" in "\n".join(check_summary(result))


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_corrupt_checkpoint_names_the_file_and_keeps_it(tmp_path, damage):
    args = (*NET, "trainer.max_steps=4", "trainer.ckpt_every=2")
    train_here(*args, run_dir=tmp_path)
    ckpt = tmp_path / CHECKPOINT
    good = ckpt.read_bytes()
    bad = {"garbage": b"not a checkpoint" * 10, "truncated": good[:len(good) // 2],
           "empty": b""}[damage]
    ckpt.write_bytes(bad)
    with pytest.raises(CorruptCheckpoint, match="Move it aside") as e:
        train_here(*args, run_dir=tmp_path)
    assert str(ckpt) in str(e.value) and ckpt.read_bytes() == bad


def test_a_full_disk_keeps_the_last_checkpoint_and_removes_the_partial(tmp_path):
    args = (*NET, "trainer.max_steps=4", "trainer.ckpt_every=2")
    train_here(*args, run_dir=tmp_path)
    ckpt = tmp_path / CHECKPOINT
    tmp = ckpt.with_name(ckpt.name + ".tmp")
    tmp.symlink_to("/dev/full")
    with pytest.raises(OSError, match="No space left") as e:
        train_here(*args, run_dir=tmp_path)  # resumes at its end, saves again
    assert f"writing {ckpt}" in str(e.value)
    assert not os.path.lexists(tmp)
    assert torch.load(ckpt, weights_only=False)["step"] == 4


def _start(run_dir, steps):
    return subprocess.Popen([sys.executable, TRAIN, *NET, f"trainer.max_steps={steps}",
                             "trainer.ckpt_every=5", f"hydra.run.dir={run_dir}"], cwd=ROOT,
                            env=env(OMP_NUM_THREADS="1"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def test_two_runs_in_one_directory_the_second_is_refused(tmp_path):
    """Two real processes: while the first holds the directory, the second is refused naming
    the holder's host and PID; killed, the first leaves a lock that the next run takes over."""
    first = _start(tmp_path, 100_000)
    lock = tmp_path / LOCK
    deadline = time.time() + 120
    while not (tmp_path / CHECKPOINT).exists() and time.time() < deadline:
        assert first.poll() is None, first.communicate()[1][-2000:]
        time.sleep(0.1)
    holder = json.loads(lock.read_text())
    assert holder["pid"] == first.pid
    second = run_train(*NET, "trainer.max_steps=5", f"hydra.run.dir={tmp_path}", check=False)
    assert second.returncode != 0
    assert f"PID {first.pid}" in second.stderr and holder["host"] in second.stderr
    os.killpg(first.pid, signal.SIGKILL)
    first.communicate()
    assert json.loads(lock.read_text())["pid"] == first.pid  # left behind by the kill
    again = run_train(*NET, "trainer.max_steps=5", f"hydra.run.dir={tmp_path}", check=False)
    assert "in use by another run" not in again.stderr  # the stale lock was taken over
    assert "holds a checkpoint of another run" in again.stderr and not lock.exists()


def test_a_reference_of_another_family_is_logged_and_width_refused(sweep, caplog):
    with caplog.at_level(logging.WARNING):
        res = amup_timm.resolve_config({"ref_run": str(sweep)}, target="plain_cnn")
        model = amup_timm.create_model("plain_cnn", res.config, depth=4, width=16, in_chans=1)
    assert "another family" in caplog.text and "ResNet1Conv" in caplog.text
    assert model.amup.width_mults == {}
    res = amup_timm.resolve_config({"ref_run": str(sweep)}, target="vit_tiny_patch16_224")
    with pytest.raises(ValueError, match="another family") as e:
        amup_timm.create_model("vit_tiny_patch16_224", res.config, depth=2,
                               embed_dim=64, num_heads=2, img_size=16, patch_size=4,
                               in_chans=1)
    assert "amup.width=false" in str(e.value)


def test_ref_run_reads_only_the_targets_optimizer(sweep, tmp_path):
    with pytest.raises(ValueError, match=r"optimizer 'adamw'.*\['momentum'\].*amup.ref_lr"):
        train_here(*NET, "optim=adamw", f"amup.ref_run={sweep}", "trainer.max_steps=2",
                   run_dir=tmp_path)
    assert not (tmp_path / "metrics.jsonl").exists()


def test_ref_kwargs_alone_is_the_targets_family_with_those_kwargs():
    amup = {"ref_lr": 0.1, "ref_kwargs": {"width": 16}}
    alone = amup_timm.create_model("resnet_1conv", amup, depth=2, width=32)
    named = amup_timm.create_model("resnet_1conv", {**amup, "ref_model": "resnet_1conv",
                                                    "ref_kwargs": {"depth": 2, "width": 16}},
                                   depth=2, width=32)
    scales = [sorted({g["lr_scale"] for g in amup_timm.param_groups(m)}) for m in (alone, named)]
    assert scales[0] == scales[1] and len(scales[0]) > 1
    assert amup_timm.transfer_lr(alone).ref_model == "resnet_1conv"


class Holder(nn.Module):
    """A user's wrapper (as an EMA copy): the model as ``.module``."""

    def __init__(self, model):
        super().__init__()
        self.module = model


def test_param_groups_unwrap_a_module_holder_or_warn():
    model = amup_timm.create_model("resnet_1conv", {"ref_lr": 0.1, "ref_kwargs": {"width": 16}},
                                   depth=2, width=32)
    direct = [(g["lr_scale"], g["param_names"]) for g in amup_timm.param_groups(model)]
    assert [(g["lr_scale"], g["param_names"]) for g in
            amup_timm.param_groups(Holder(model))] == direct
    with pytest.warns(UserWarning, match="carries? no amup state|neither carries amup state"):
        amup_timm.param_groups(Holder(nn.Linear(2, 2)))


@pytest.mark.parametrize("args, message", [
    (["optim.lr=nan"], r"optim.lr=nan is not allowed"),
    (["amup.ref_lr=nan"], r"amup.ref_lr=nan is not allowed"),
    (["trainer.max_steps=0"], r"trainer.max_steps=0 is not allowed: it must be an integer >= 1"),
    (["trainer.max_steps=-5"], r"trainer.max_steps=-5 is not allowed"),
    (["data.batch_size=0"], r"data.batch_size=0 is not allowed: it must be an integer >= 1"),
    (["data=fashion_mnist", "data.root=/nonexistent"], r"data.root='/nonexistent'"),
])
def test_settings_refused_before_training(tmp_path, args, message):
    with pytest.raises(ValueError if "root" not in message else FileNotFoundError,
                       match=message):
        train_here(*NET, *args, run_dir=tmp_path)
    assert not (tmp_path / "metrics.jsonl").exists()


def test_data_root_from_the_environment_is_never_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_ROOT", str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match="absent.*DATA_ROOT"):
        train_here(*NET, "data=fashion_mnist", run_dir=tmp_path / "run")


def _idx(path, magic, shape, payload):
    import gzip
    import struct

    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in shape))
        f.write(bytes(payload))


@pytest.mark.skipif(not amup_timm.data.DEBIAN_FASHION.is_dir(),
                    reason="apt-get install dataset-fashion-mnist (README set-up)")
def test_a_users_idx_files_are_what_trains(tmp_path, monkeypatch):
    """A folder of the user's own IDX files (flat *.gz): the cache is keyed by its source, so a
    copy unpacked before from Debian's package does not win."""
    from omegaconf import OmegaConf

    from amup_timm.data import build_data

    monkeypatch.setenv("AMUP_CACHE", str(tmp_path / "cache"))
    cfg = {"name": "fashion_mnist", "root": None, "num_classes": 10, "in_chans": 1,
           "img_size": 28, "batch_size": 16, "val_size": 20}
    debian = build_data(OmegaConf.create(cfg), torch.device("cpu"))
    assert len(debian.train) == 60_000 - 20
    mine = tmp_path / "mine"
    mine.mkdir()
    _idx(mine / "train-images-idx3-ubyte.gz", 2051, (100, 28, 28), [7] * 100 * 784)
    _idx(mine / "train-labels-idx1-ubyte.gz", 2049, (100,), [3] * 100)
    _idx(mine / "t10k-images-idx3-ubyte.gz", 2051, (10, 28, 28), [7] * 10 * 784)
    _idx(mine / "t10k-labels-idx1-ubyte.gz", 2049, (10,), [3] * 10)
    data = build_data(OmegaConf.create({**cfg, "root": str(mine)}), torch.device("cpu"))
    assert len(data.train) == 80 and set(data.train.tensors[1].tolist()) == {3}
