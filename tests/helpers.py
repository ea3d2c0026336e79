"""Shared helpers: run train.py in a subprocess, read a W&B offline run with wandb's reader, write
a run record by hand."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from amup_timm.experiments.records import Record

ROOT = Path(__file__).resolve().parents[1]
TRAIN = str(ROOT / "train.py")
TINY = ["model=plain_cnn", "model.kwargs.depth=3", "model.kwargs.width=16", "data.batch_size=32",
        "trainer.progress=false"]


def env(**extra: str) -> dict:
    e = dict(os.environ, HF_HUB_OFFLINE="1", WANDB_MODE="offline", WANDB_SILENT="true",
             PYTHONUNBUFFERED="1")
    # a W&B service started by this test process must not be shared with the children: a
    # killed child's run would stay registered in it
    e.pop("WANDB_SERVICE", None)
    e.update(extra)
    return e


def run_train(*args: str, timeout: float = 600, check: bool = True, launcher: list | None = None,
              **env_extra: str) -> subprocess.CompletedProcess:
    cmd = (launcher or [sys.executable]) + [TRAIN, *args]
    proc = subprocess.run(cmd, cwd=ROOT, env=env(**env_extra), capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"train.py failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


def record(**fields: Any) -> Record:
    """A run record written by hand: what ``fields`` leaves out is None, {}, a grid run of its
    scheme's own arm with the coupled decay, at path ""."""
    blank = {f.name: None for f in dataclasses.fields(Record)}
    blank.update(kwargs={}, depths={}, scale={}, ref={}, stage="grid", arm=fields.get("scheme"),
                 wd_rule="coupled", path="")
    return Record(**{**blank, **fields})


def results(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / "results.json").read_text())


def wandb_records(path: Path) -> list[dict]:
    """The records of an offline run's .wandb log, read by wandb's own reader
    (``wandb leet inspect --json``: one JSON object a record)."""
    proc = subprocess.run([sys.executable, "-m", "wandb", "leet", "inspect", str(path), "--json"],
                          env=env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=120, check=True)
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def compose_train(*overrides: str):
    """amup-train's config composed from the package, as a plain config (no Hydra runtime)."""
    from hydra import compose, initialize_config_module

    from amup_timm.app import register_configs

    register_configs()
    with initialize_config_module("amup_timm.conf", version_base="1.3"):
        return compose("train", overrides=list(overrides))


def train_here(*overrides: str, run_dir: Path) -> dict:
    """amup-train's ``train`` in this process, on the config it composes from the package: no
    Hydra runtime, as a Python user calls it."""
    from amup_timm.train import train

    return train(compose_train(*overrides, f"run_dir={run_dir}"))


def compose_multirun(overrides: list[str]):
    """train.yaml composed with ``overrides`` as ``amup-train -m`` composes the sweep's
    multirun.yaml (sweep overrides left to the sweeper), its ``hydra`` node set."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from amup_timm.app import register_configs

    register_configs()
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = GlobalHydra.instance().hydra.compose_config("train", overrides, RunMode.MULTIRUN)
    HydraConfig.instance().set_config(cfg)
    return cfg


def parts(cfg) -> dict:
    """What a sweep runs: the jobs' config, the sweeper's parameters in their order (a grid
    job's directory is its number), the launcher, the end callback, the groups chosen."""
    from omegaconf import OmegaConf

    from amup_timm.experiments.records import end_callback

    c = OmegaConf.to_container(cfg, resolve=False)
    hydra = c.pop("hydra")
    return {"job": c, "params": list((hydra["sweeper"]["params"] or {}).items()),
            "launcher": hydra["launcher"], "sweep": hydra["sweep"],
            "callback": end_callback(hydra), "choices": hydra["runtime"]["choices"]}
