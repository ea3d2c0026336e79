"""train.py end to end in subprocesses: the default job, divergence and failures in a multirun
on the joblib launcher, resume after a kill, DDP (in-process paths: tests/test_train_api.py)."""

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch
from helpers import ROOT, TINY, TRAIN, env, results, run_train


pytestmark = pytest.mark.slow


def test_default_job_runs_without_arguments(tmp_path):
    run_train(f"hydra.run.dir={tmp_path}", "logger=none")
    res = results(tmp_path)
    assert res["status"] == "finished" and res["steps"] == 300
    assert res["lr"] == 0.1 and res["amup"]["ref_model"] is None  # no reference: optim.lr
    assert res["final"]["val_acc"] > 0.8  # digits is learnable
    assert res["final"]["train_loss"] < res["final"]["mean_train_loss"]
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 301))


def test_multirun_grid_on_joblib_records_diverged_and_failed_jobs(tmp_path):
    """A depth x LR grid on the joblib launcher: each job gets its own depth and LR; a job
    that fails or diverges is recorded as such and the sweep goes on."""
    proc = run_train("-m", *TINY, "model.kwargs.depth=0,3", "optim.lr=0.01,1e4",
                     "trainer.max_steps=20", "logger=none", "hydra/launcher=local_parallel",
                     f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 0 and "Joblib" in proc.stdout + proc.stderr
    by_job = {int(d.name): results(d) for d in tmp_path.iterdir() if d.name.isdigit()}
    assert [by_job[i]["status"] for i in range(4)] == ["failed", "failed", "finished", "diverged"]
    assert "depth >= 1" in by_job[0]["error"]
    assert [(by_job[i]["model_kwargs"]["depth"], by_job[i]["lr"]) for i in (2, 3)] == [
        (3, 0.01), (3, 1e4)]
    assert by_job[3]["final"]["val_loss"] is None


def _final_state(run_dir):
    return torch.load(run_dir / "checkpoints" / "last.pt", weights_only=False)["model"]


def test_killed_run_resumes_to_identical_result(tmp_path):
    args = ["model=resnet18_narrow", "data.batch_size=32", "trainer.max_steps=60",
            "trainer.ckpt_every=10", "trainer.log_every=5", "trainer.progress=false",
            "logger=wandb"]
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    run_train(*args, f"hydra.run.dir={straight}")
    proc = subprocess.Popen([sys.executable, TRAIN, *args, f"hydra.run.dir={resumed}"], cwd=ROOT,
                            env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    ckpt = resumed / "checkpoints" / "last.pt"
    deadline = time.time() + 300
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the job and its W&B service, as a scheduler kills
    proc.wait()
    killed_at = torch.load(ckpt, weights_only=False)["step"]
    assert 0 < killed_at < 60, "the run was not interrupted mid-way"
    assert not (resumed / "results.json").exists()
    run_train(*args, f"hydra.run.dir={resumed}")
    a, b = _final_state(straight), _final_state(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    ra, rb = results(straight), results(resumed)
    assert ra["final"] == rb["final"]
    assert rb["wandb"]["id"] == (resumed / "wandb_id").read_text().strip()
    steps = [json.loads(x)["step"] for x in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 61))


def test_torchrun_two_processes_train_one_run(tmp_path):
    with socket.socket() as sock:  # a free port for the rendezvous
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                "--master_addr=127.0.0.1", f"--master_port={port}"]
    run_train(*TINY, "model=resnet_1conv", "model.kwargs.depth=2", "amup.scheme=depth_mup",
              "trainer.max_steps=6", "logger=none", f"hydra.run.dir={tmp_path}",
              launcher=launcher, OMP_NUM_THREADS="1")
    res = results(tmp_path)
    assert res["status"] == "finished" and res["world_size"] == 2 and res["steps"] == 6
    assert res["amup"]["scheme"] == "depth_mup" and math.isfinite(res["final"]["val_loss"])
