"""amup-train on a real single-node SLURM cluster: sweeps, a check, DDP, scancel, requeue after a
time limit. Opt-in: `eval "$(.ci/slurm_cluster.sh start)"` (root; installs and starts SLURM
under /tmp/amup-slurm) then AMUP_SLURM_TESTS=1, as .ci/run does; under CI they never skip.
Every SLURM command here and every sweep has a timeout, so a bad request fails, not hangs."""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import ROOT, TINY, TRAIN, env, results, run_train, train_here

pytestmark = pytest.mark.slow
SLURM_TIMEOUT_S = 60  # one SLURM command (sinfo, sacct, scancel)
SWEEP_TIMEOUT_S = 420  # one sweep on the cluster


@pytest.fixture(scope="module", autouse=True)
def cluster():
    """The cluster .ci/slurm_cluster.sh started (skip, saying how, where none was asked for)."""
    if os.environ.get("AMUP_SLURM_TESTS") != "1":
        if os.environ.get("CI") == "true":
            pytest.fail("CI runs the SLURM tests: .ci/run starts the cluster and sets "
                        "AMUP_SLURM_TESTS=1")
        pytest.skip('SLURM tests are opt-in: eval "$(.ci/slurm_cluster.sh start)" (as root: '
                    "installs and starts a one-node cluster), then AMUP_SLURM_TESTS=1")
    assert "idle" in slurm("sinfo", "-h", "-o", "%T"), "the cluster's node is not idle"


def slurm(*cmd: str) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True,
                          timeout=SLURM_TIMEOUT_S).stdout


def sweep(*args: str, timeout: float = SWEEP_TIMEOUT_S, **kw) -> subprocess.CompletedProcess:
    return run_train("-m", *args, timeout=timeout, **kw)


def slurm_jobs(sweep_dir: Path) -> list[str]:
    """The SLURM job ids (``<array>_<task>``, or one job's) a sweep submitted, from the logs
    of their first task in submitit's folder."""
    return sorted(p.name.removesuffix("_0_log.out")
                  for p in (sweep_dir / ".submitit").glob("*/*_0_log.out"))


def states(job: str) -> list[str]:
    """sacct's states of a job's attempts (REQUEUED for each requeue, then the last)."""
    out = slurm("sacct", "-n", "-X", "-D", "-P", "-o", "State", "-j", job)
    return [line.split()[0] for line in out.splitlines() if line.strip()]


CPU = ["hydra/launcher=slurm_cpu"]
GRID = [*TINY, "model.kwargs.depth=0,3", "optim.lr=0.01,1e4", "trainer.max_steps=20",
        "logger=none"]


def test_grid_on_slurm_is_recorded_and_summarised_as_on_joblib(tmp_path):
    """The joblib test's depth x LR grid (a failed and a diverged job) on SLURM: the same
    records, the same metrics, the same end-of-sweep fit; each job on its one CPU."""
    on_slurm, on_joblib = tmp_path / "slurm", tmp_path / "joblib"
    local = subprocess.Popen([sys.executable, TRAIN, "-m", *GRID,
                              "hydra/launcher=local_parallel", f"hydra.sweep.dir={on_joblib}"],
                             cwd=ROOT, env=env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    sweep(*GRID, *CPU, f"hydra.sweep.dir={on_slurm}")
    assert local.wait(timeout=SWEEP_TIMEOUT_S) == 0
    jobs = slurm_jobs(on_slurm)
    assert len(jobs) == 4 and all(states(j) == ["COMPLETED"] for j in jobs)
    a = {i: results(on_slurm / str(i)) for i in range(4)}
    b = {i: results(on_joblib / str(i)) for i in range(4)}
    assert [a[i]["status"] for i in range(4)] == ["failed", "failed", "finished", "diverged"]
    assert [a[i]["status"] for i in a] == [b[i]["status"] for i in b]
    assert a[0]["error"] == b[0]["error"] and "depth >= 1" in a[0]["error"]
    for i in (2, 3):
        assert a[i]["final"] == b[i]["final"] and a[i]["threads"] == b[i]["threads"] == 1
    fit_a, fit_b = (json.loads((d / "fit" / "fit.json").read_text()) for d in (on_slurm, on_joblib))
    assert fit_a.pop("command") != fit_b.pop("command")  # each names its own sweep
    assert untimed(fit_a) == untimed(fit_b)


def test_a_request_the_partition_cannot_run_stops_before_submitting(tmp_path):
    """slurm_gpu as it is on the CPU partition: no job, a message naming each override."""
    proc = sweep(*GRID, "hydra/launcher=slurm_gpu", f"hydra.sweep.dir={tmp_path}",
                 check=False, timeout=120)
    assert proc.returncode != 0 and not (tmp_path / ".submitit").exists()
    for fix in ("hydra.launcher.cpus_per_task=2", "hydra.launcher.gpus_per_node=null",
                "hydra.launcher.mem_gb="):
        assert fix in proc.stderr, proc.stderr[-2000:]


CHECK = ["+sweeps=transfer_check", "model=plain_cnn", "model.kwargs.depth=2",
         "model.kwargs.width=8", "data.img_size=8", "data.batch_size=32", "trainer.max_steps=6",
         "check.lr_offset=-0.5,0.5", "trainer.seed=0", "scale.depth=1,2", "amup.scheme=am_mup",
         "trainer.threads=1", "+hydra.callbacks.multirun_end.refine_points=1",
         "+hydra.callbacks.multirun_end.refine_values=[1]"]


def test_a_checks_later_stages_run_on_slurm_with_the_local_verdict(tmp_path):
    """A tiny transfer check on SLURM: its refine and transfer stages are SLURM jobs too, and
    its verdict is the one the same check reaches on the local launcher."""
    on_slurm, local = tmp_path / "slurm", tmp_path / "local"
    here = subprocess.Popen([sys.executable, TRAIN, "-m", *CHECK, "hydra/launcher=basic",
                             f"hydra.sweep.dir={local}"], cwd=ROOT, env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc = sweep(*CHECK, *CPU, f"hydra.sweep.dir={on_slurm}")
    assert here.wait(timeout=SWEEP_TIMEOUT_S) == 0
    assert "verdict:" in proc.stdout
    for stage in ("refine/am_mup_depth1", "transfer/am_mup"):
        jobs = slurm_jobs(on_slurm / stage)
        assert jobs and all(states(j) == ["COMPLETED"] for j in jobs), stage
    a, b = (untimed(json.loads((d / "verdict" / "verdict.json").read_text())["groups"])
            for d in (on_slurm, local))
    assert a == b


def untimed(x):
    """A verdict without what the wall clock measured (compute_s, compute_saved)."""
    if isinstance(x, dict):
        return {k: untimed(v) for k, v in x.items() if not k.startswith("compute_")}
    return [untimed(v) for v in x] if isinstance(x, list) else x


def test_slurm_ddp_trains_one_run_as_torchrun_does(tmp_path):
    """slurm_ddp with 2 tasks on the CPU partition: one gloo process group, one run directory,
    one W&B run, and torchrun's final metrics on 2 processes."""
    args = [*TINY, "model=resnet_1conv", "model.kwargs.depth=2", "amup.scheme=depth_mup",
            "trainer.max_steps=20", "logger=wandb"]
    with socket.socket() as sock:  # a free port for torchrun's rendezvous
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    torchrun = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
         "--master_addr=127.0.0.1", f"--master_port={port}", TRAIN, *args,
         f"hydra.run.dir={tmp_path / 'torchrun'}"], cwd=ROOT, env=env(OMP_NUM_THREADS="1"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sweep(*args, "hydra/launcher=slurm_ddp", "hydra.launcher.gpus_per_node=null",
          "hydra.launcher.tasks_per_node=2", "hydra.launcher.cpus_per_task=1",
          "hydra.launcher.mem_gb=null", "hydra.launcher.timeout_min=10",
          f"hydra.sweep.dir={tmp_path / 'slurm'}")
    assert torchrun.wait(timeout=SWEEP_TIMEOUT_S) == 0
    runs = [d for d in (tmp_path / "slurm").iterdir() if d.name.isdigit()]
    assert [d.name for d in runs] == ["0"]
    a, b = results(runs[0]), results(tmp_path / "torchrun")
    assert a["status"] == "finished" and a["world_size"] == 2 and a["steps"] == 20
    assert len(list((runs[0] / "wandb").glob("offline-run-*"))) == 1
    assert a["wandb"]["id"] == (runs[0] / "wandb_id").read_text().strip()
    for key, value in b["final"].items():
        assert a["final"][key] == pytest.approx(value, rel=1e-5), key


def test_a_cancelled_job_is_recorded_failed_and_a_rerun_reruns_only_it(tmp_path):
    """scancel mid-run: the job is recorded as failed, the sweep still fits its grid at the
    end; the same sweep started again reruns that job and skips the finished one."""
    probe = train_here(*TINY, "trainer.max_steps=100", "trainer.threads=1", "logger=none",
                       run_dir=tmp_path.parent / "probe")
    steps = int(10 / probe["timing"]["step_s"]) // 10 * 10  # about 10 s a run: scancel lands
    args = [*TINY, "optim.lr=0.01,0.02", f"trainer.max_steps={steps}", "logger=none", *CPU,
            f"hydra.sweep.dir={tmp_path}"]
    with open(tmp_path.parent / "first.log", "w") as log:
        first = subprocess.Popen([sys.executable, TRAIN, "-m", *args], cwd=ROOT, env=env(),
                                 stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 240
        while not (tmp_path / "1" / "metrics.jsonl").exists():
            assert time.time() < deadline and first.poll() is None, "job 1 never started"
            time.sleep(0.2)
        (job,) = [j for j in slurm_jobs(tmp_path) if j.endswith("_1")]
        slurm("scancel", job)
        assert first.wait(timeout=SWEEP_TIMEOUT_S) == 0
    cancelled, done = results(tmp_path / "1"), results(tmp_path / "0")
    assert cancelled["status"] == "failed" and "CANCELLED" in cancelled["error"]
    assert cancelled["overrides"] == [o.replace("0.01", "0.02") for o in done["overrides"]]
    assert done["status"] == "finished" and states(job)[-1].startswith("CANCELLED")
    fit = json.loads((tmp_path / "fit" / "fit.json").read_text())
    (row,) = fit["groups"][0]["rows"]
    assert row["runs"] == 2 and row["failed"] == 1 and row["eta_star"] == 0.01
    before = (tmp_path / "0" / "results.json").stat().st_mtime_ns
    again = run_train("-m", *args, timeout=SWEEP_TIMEOUT_S)
    assert "1 of 2 jobs to submit" in again.stdout + again.stderr
    assert results(tmp_path / "1")["status"] == "finished"
    assert (tmp_path / "0" / "results.json").stat().st_mtime_ns == before


def test_a_run_longer_than_its_time_limit_finishes_after_requeue(tmp_path):
    """A one-minute time limit on a run that needs longer (no periodic checkpoints, as in the
    checks): SLURM signals, the trainer saves, submitit requeues, the job resumes, and the
    run ends with the uninterrupted run's final metrics."""
    probe = train_here(*TINY, "trainer.max_steps=200", "trainer.threads=1", "logger=none",
                       run_dir=tmp_path / "probe")
    steps = int(65 / probe["timing"]["step_s"]) // 10 * 10  # over a minute of training
    args = [*TINY, f"trainer.max_steps={steps}", "trainer.ckpt_every=null", "logger=none"]
    ended = []  # when the uninterrupted run, beside the SLURM job, ends
    started = time.time()
    straight = subprocess.Popen([sys.executable, TRAIN, *args, "trainer.threads=1",
                                 f"hydra.run.dir={tmp_path / 'straight'}"], cwd=ROOT,
                                env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    waiter = threading.Thread(target=lambda: ended.append((straight.wait(), time.time())))
    waiter.start()
    sweep(*args, *CPU, "hydra.launcher.timeout_min=1", "hydra.launcher.signal_delay_s=1",
          "hydra.launcher.max_num_timeout=10", f"hydra.sweep.dir={tmp_path / 'slurm'}",
          timeout=540)
    waiter.join(timeout=SWEEP_TIMEOUT_S)
    (code, end), = ended
    assert code == 0 and end - started > 60, "the run did not outlast the time limit"
    (job,) = slurm_jobs(tmp_path / "slurm")
    attempts = states(job)
    assert attempts[-1] == "COMPLETED" and "REQUEUED" in attempts, attempts
    run = tmp_path / "slurm" / "0"
    resumed = [int(s) for s in re.findall(r"resuming from step (\d+)", (
        run / "train.log").read_text())]
    assert resumed and all(0 < s < steps for s in resumed), resumed
    a, b = results(run), results(tmp_path / "straight")
    assert a["status"] == "finished" and a["steps"] == steps and a["final"] == b["final"]
    rows = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows == list(range(1, steps + 1))

