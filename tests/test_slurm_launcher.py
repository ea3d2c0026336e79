"""The SLURM launchers' configs and the request check, and the trainer's threads under SLURM,
without a cluster (on one: tests/test_slurm.py)."""

import math
import os

import pytest
from helpers import TINY, train_here
from omegaconf import OmegaConf

pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="the launchers extra")
from hydra_plugins.amup_timm_launcher._slurm import (  # noqa: E402
    Partition, _gpus, _minutes, request_problems)


def launcher(name: str, *overrides: str) -> dict:
    from hydra import compose, initialize_config_module

    with initialize_config_module("amup_timm.conf", version_base="1.3"):
        cfg = compose("train", overrides=[f"hydra/launcher={name}", *overrides],
                      return_hydra_config=True)
    return OmegaConf.to_container(cfg.hydra.launcher, resolve=True)


CPU_NODE = Partition("debug", cpus=[2], mem_mb=[21694], gpus=[0], max_minutes=math.inf)


@pytest.mark.parametrize("name", ["slurm_cpu", "slurm_gpu", "slurm_ddp"])
def test_every_slurm_launcher_is_amup_timms_and_requeues(name):
    p = launcher(name)
    assert p["_target_"] == "hydra_plugins.amup_timm_launcher._slurm.AmupSlurmLauncher"
    assert p["max_num_timeout"] > 0 and 0 < p["signal_delay_s"] < p["timeout_min"] * 60 / 4


def test_the_cpu_launcher_fits_a_cpu_node_and_the_gpu_ones_say_what_to_change():
    p = launcher("slurm_cpu")
    assert (p["cpus_per_task"], p["gpus_per_node"], p["mem_gb"]) == (1, None, None)
    assert request_problems(p, CPU_NODE) == []
    gpu = request_problems(launcher("slurm_gpu"), CPU_NODE)
    assert len(gpu) == 3
    assert "set hydra.launcher.cpus_per_task=2" in gpu[0]
    assert "set hydra.launcher.mem_gb=21 or null" in gpu[1]
    assert "set hydra.launcher.gpus_per_node=null" in gpu[2] and "slurm_cpu" in gpu[2]
    ddp = request_problems(launcher("slurm_ddp", "hydra.launcher.gpus_per_node=null",
                                    "hydra.launcher.mem_gb=null"), CPU_NODE)
    assert ddp == ["hydra.launcher.cpus_per_task=8 x tasks_per_node=4 asks 32 CPUs on a node; "
                   "partition debug's nodes have at most 2: set hydra.launcher.cpus_per_task=1"]
    assert request_problems(launcher("slurm_ddp", "hydra.launcher.gpus_per_node=null",
                                     "hydra.launcher.mem_gb=null",
                                     "hydra.launcher.tasks_per_node=2",
                                     "hydra.launcher.cpus_per_task=1"), CPU_NODE) == []


def test_time_limits_nodes_and_the_signal_are_checked():
    short = Partition("short", cpus=[2, 2], mem_mb=[4096, 4096], gpus=[4, 4], max_minutes=30)
    p = launcher("slurm_gpu", "hydra.launcher.timeout_min=60", "hydra.launcher.nodes=3",
                 "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=4",
                 "hydra.launcher.signal_delay_s=3600")
    problems = request_problems(p, short)
    assert problems[0] == ("hydra.launcher.nodes=3; partition short has 2: set "
                           "hydra.launcher.nodes=2")
    assert "set hydra.launcher.timeout_min=30" in problems[1]
    assert "set hydra.launcher.signal_delay_s=1800 or less" in problems[2]
    assert len(problems) == 3  # 4 GB and a GPU fit


@pytest.mark.parametrize("limit, minutes", [
    ("infinite", math.inf), ("UNLIMITED", math.inf), ("1-00:00:00", 1440), ("2:00:00", 120),
    ("30:00", 30), ("45", 45), ("0:30", 0.5)])
def test_sinfo_time_limits(limit, minutes):
    assert _minutes(limit) == minutes


@pytest.mark.parametrize("gres, n", [("(null)", 0), ("gpu:4", 4), ("gpu:a100:2(S:0-1)", 2),
                                     ("gpu:a100:2,gpu:v100:2", 4), ("nic:1", 0)])
def test_sinfo_gpus(gres, n):
    assert _gpus(gres) == n


def test_threads_follow_slurm_cpus_per_task(tmp_path, monkeypatch):
    """A cluster that does not bind CPUs shows a job every core: SLURM_CPUS_PER_TASK rules."""
    assert len(os.sched_getaffinity(0)) > 1, "needs a machine with 2 cores or more"
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    res = train_here(*TINY, "trainer.max_steps=1", "logger=none", run_dir=tmp_path)
    assert res["threads"] == 1
