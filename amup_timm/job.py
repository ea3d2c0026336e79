"""What identifies a training job and where it runs, defined without Hydra's runtime: the
entry point fills a ``Job`` from Hydra's; ``train(cfg)`` makes one from the config alone."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch.distributed as dist
from omegaconf import DictConfig, OmegaConf

from .experiments.run_record import InvalidRecord, read_record
from .experiments.rundir import RunDirBusy, acquire_lock

log = logging.getLogger("train")

VOLATILE = ("run_dir", "hydra")  # config keys that do not change what a run computes


@dataclass
class Job:
    """What the entry point knows about a job beyond its config: where it writes, what
    identifies it (``run_key``), and the multirun it belongs to."""

    run_dir: Path
    overrides: list[str]  # ``run_key``: equal keys, the same run (resume, skip when done)
    multirun: bool = False
    group: str | None = None  # the W&B group (a multirun's sweep directory name)
    parallel_jobs: int = 1  # jobs of a parallel launcher sharing this machine's cores
    num: int | None = None  # the job's number in its multirun

    @classmethod
    def of(cls, cfg: DictConfig, overrides: list[str] | None = None) -> Job:
        """A single job in ``cfg.run_dir`` identified by ``run_key(cfg, overrides)``."""
        try:
            run_dir = cfg.run_dir
        except Exception as e:  # ${hydra:...} outside Hydra's runtime
            raise ValueError("cfg.run_dir does not resolve outside Hydra's runtime: set it "
                             "(cfg.run_dir=<directory>) or pass train(cfg, Job(...))") from e
        return cls(Path(run_dir), run_key(cfg, overrides))


def run_key(cfg: DictConfig, overrides: list[str] | None = None) -> list[str]:
    """What identifies a run for resume and for skipping a finished job: the job's command-line
    overrides (Hydra's ``overrides.task``, as every published record holds them), or without
    them a digest of the resolved config less where it is written."""
    if overrides is not None:
        return list(overrides)
    plain = OmegaConf.to_container(cfg, resolve=False)
    job = OmegaConf.create({k: v for k, v in plain.items() if k not in VOLATILE})
    try:
        job = OmegaConf.to_container(job, resolve=True)
    except Exception:  # noqa: BLE001 - an interpolation of Hydra's runtime: as written
        job = OmegaConf.to_container(job, resolve=False)
    digest = hashlib.sha1(json.dumps(job, sort_keys=True, default=str).encode()).hexdigest()
    return [f"config_sha1={digest[:16]}"]


def done_before(run_dir: Path, overrides: list[str]) -> dict | None:
    """The record of this job if a multirun already ran it to the end (finished or diverged,
    with the same overrides, and valid): a multirun started again skips it. A record that
    does not validate is reported and its job runs again."""
    try:
        prev = read_record(run_dir)
    except InvalidRecord as e:
        log.warning("%s", e)
        return None
    if prev is not None and prev.status in ("finished", "diverged") \
            and prev.overrides == overrides:
        return prev.to_json()
    return None


def hold(run_dir: Path, main: bool, world: int) -> Path | None:
    """Rank 0 takes the run directory's lock (``RunDirBusy`` on every rank if a live run
    holds it); the lock's path on rank 0."""
    lock, busy = None, [None]
    if main:
        try:
            lock = acquire_lock(run_dir)
        except RunDirBusy as e:
            busy[0] = str(e)
    if world > 1:
        dist.broadcast_object_list(busy, src=0)
    if busy[0] is not None:
        raise RunDirBusy(busy[0])
    return lock
