"""``AmupSlurmLauncher``: hydra-submitit-launcher's SLURM launcher, with what a sweep of
amup-train needs on a shared cluster.

- Before submitting, the request (CPUs and GPUs a node, memory, nodes, time limit, the
  signal's delay) is checked against the partition as ``sinfo`` shows it: a request the
  partition can never satisfy stops the sweep with the override to change, instead of
  pending forever (reason ``PartitionConfig``) or failing in ``sbatch``.
- A job that SLURM ended without a result (``scancel``, a kill, out of time or memory) is
  recorded as failed in its run directory, as the trainer records its own failures, and the
  sweep goes on to its end-of-sweep callbacks; the stock launcher raises and stops there.
- A job the sweep's directory already holds as finished or diverged is not submitted again
  (the trainer would skip it too), so a sweep started again reruns only what is missing.

Requeueing is submitit's: ``max_num_timeout`` requeues after a time limit or a preemption,
once the trainer has saved a checkpoint on SLURM's signal (amup_timm/slurm.py).
"""

from __future__ import annotations

import copy
import logging
import math
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

log = logging.getLogger(__name__)
SINFO_TIMEOUT_S = 60
PREFIX = "hydra.launcher."


@dataclass
class Partition:
    """A SLURM partition as ``sinfo`` shows it: per node CPUs, memory (MB) and GPUs; its
    time limit in minutes (inf: none)."""

    name: str
    cpus: list[int]
    mem_mb: list[int]
    gpus: list[int]
    max_minutes: float


def _minutes(limit: str) -> float:
    """sinfo's time limit (``infinite``, ``1-00:00:00``, ``2:00:00``, ``30:00``) in minutes."""
    if limit.lower() in ("infinite", "unlimited", "n/a"):
        return math.inf
    days, _, rest = limit.rpartition("-")
    parts = [int(x) for x in rest.split(":")]
    h, m, s = ([0] * (3 - len(parts)) + parts) if len(parts) > 1 else (0, parts[0], 0)
    return int(days or 0) * 1440 + h * 60 + m + s / 60


def _gpus(gres: str) -> int:
    """The GPUs in a node's gres (``gpu:4``, ``gpu:a100:2(S:0-1),gpu:v100:2``; ``(null)``)."""
    return sum(int(n) for n in re.findall(r"gpu(?::[^:,(]+)?:(\d+)", gres))


def _sinfo(*args: str) -> str:
    return subprocess.run(["sinfo", "-h", *args], capture_output=True, text=True, check=True,
                          timeout=SINFO_TIMEOUT_S).stdout


def read_partition(name: str | None) -> Partition | None:
    """The partition ``name`` (None: the cluster's default) as ``sinfo`` shows it; None where
    sinfo cannot say (the request then goes to SLURM unchecked)."""
    try:
        rows = [line.split("|") for line in _sinfo("-N", "-o", "%P|%c|%m|%G|%l").splitlines()
                if line.strip()]
    except (OSError, subprocess.SubprocessError) as e:
        log.warning("sinfo failed (%s): the request goes to SLURM unchecked", e)
        return None
    names = sorted({r[0].rstrip("*") for r in rows})
    if name is None:
        defaults = {r[0].rstrip("*") for r in rows if r[0].endswith("*")}
        if not defaults:
            raise ValueError(f"this cluster has no default partition: set {PREFIX}partition "
                             f"to one of {', '.join(names)}")
        (name,) = defaults
    rows = [r for r in rows if r[0].rstrip("*") == name]
    if not rows:
        raise ValueError(f"SLURM has no partition {name!r}: set {PREFIX}partition to one of "
                         f"{', '.join(names)}")
    return Partition(name, [int(re.match(r"\d+", r[1])[0]) for r in rows],
                     [int(re.match(r"\d+", r[2])[0]) for r in rows], [_gpus(r[3]) for r in rows],
                     _minutes(rows[0][4]))


def request_problems(params: dict[str, Any], part: Partition) -> list[str]:
    """What in the launcher's ``params`` the partition can never satisfy, each naming the
    override that fixes it."""
    out = []
    p = part.name
    tasks, cpt = params.get("tasks_per_node") or 1, params.get("cpus_per_task") or 1
    if tasks * cpt > max(part.cpus):
        out.append(f"{PREFIX}cpus_per_task={cpt} x tasks_per_node={tasks} asks {tasks * cpt} "
                   f"CPUs on a node; partition {p}'s nodes have at most {max(part.cpus)}: set "
                   f"{PREFIX}cpus_per_task={max(1, max(part.cpus) // tasks)}")
    mem = params.get("mem_gb")
    if mem and mem * 1024 > max(part.mem_mb):
        out.append(f"{PREFIX}mem_gb={mem} asks {mem * 1024} MB on a node; partition {p}'s nodes "
                   f"have at most {max(part.mem_mb)} MB: set {PREFIX}mem_gb="
                   f"{max(part.mem_mb) // 1024} or null (the partition's default)")
    gres = params.get("gres") or ""
    gpus = (params.get("gpus_per_node") or 0) + _gpus(gres)
    if gpus > max(part.gpus):
        key = "gres" if _gpus(gres) else "gpus_per_node"
        out.append(f"{PREFIX}{key}={params.get(key)} asks {gpus} GPUs on a node; partition "
                   f"{p}'s nodes have " + (f"at most {max(part.gpus)}" if max(part.gpus) else
                                          "none") + f": set {PREFIX}{key}=null (on a CPU "
                   f"partition: hydra/launcher=slurm_cpu) or choose a GPU partition with "
                   f"{PREFIX}partition=...")
    nodes = params.get("nodes") or 1
    if nodes > len(part.cpus):
        out.append(f"{PREFIX}nodes={nodes}; partition {p} has {len(part.cpus)}: set "
                   f"{PREFIX}nodes={len(part.cpus)}")
    minutes = params.get("timeout_min") or 0
    if minutes > part.max_minutes:
        out.append(f"{PREFIX}timeout_min={minutes} is over partition {p}'s time limit of "
                   f"{part.max_minutes:g} minutes: set {PREFIX}timeout_min="
                   f"{int(part.max_minutes)}")
    delay = params.get("signal_delay_s") or 0
    if params.get("max_num_timeout") and delay >= minutes * 60:
        out.append(f"{PREFIX}signal_delay_s={delay} is not under the time limit "
                   f"({PREFIX}timeout_min={minutes}): the trainer would get no time to save "
                   f"before it; set {PREFIX}signal_delay_s={minutes * 60 // 2} or less")
    return out


def check_request(params: dict[str, Any]) -> None:
    """Stop the sweep, naming the overrides to change, where the partition cannot run the
    request."""
    name = params.get("partition") or (params.get("additional_parameters") or {}).get(
        "partition")
    part = read_partition(name)
    problems = request_problems(params, part) if part is not None else []
    if problems:
        raise SystemExit("SLURM could never run these jobs:\n  " + "\n  ".join(problems))


@dataclass
class _Job:
    """One job of the sweep, as the launcher sees it before and after SLURM ran it."""

    idx: int
    overrides: list[str]
    config: DictConfig  # the job's config, its hydra node included
    run_dir: Path
    done: dict | None  # its results.json, where it already finished or diverged
    slurm: Any = None  # its submitit job


class AmupSlurmLauncher(SlurmLauncher):
    """Hydra's submitit SLURM launcher that checks the partition first, records a job SLURM
    ended as failed and skips jobs already done (see the module's docstring)."""

    def launch(self, job_overrides: Sequence[Sequence[str]],
               initial_job_idx: int) -> Sequence[JobReturn]:
        assert self.config is not None
        jobs = [self._job(initial_job_idx + i, list(o)) for i, o in enumerate(job_overrides)]
        todo = [j for j in jobs if j.done is None]
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        log.info("SLURM sweep into %s: %d of %d jobs to submit", sweep_dir, len(todo), len(jobs))
        if todo:
            check_request(self.params)
            for j in todo:
                log.info("\t#%d : %s", j.idx, " ".join(filter_overrides(j.overrides)))
            args = [(j.overrides, "hydra.sweep.dir", j.idx, f"job_id_for_{j.idx}",
                     Singleton.get_state()) for j in todo]
            for j, submitted in zip(todo, self._executor().map_array(self, *zip(*args))):
                j.slurm = submitted
        return [self._collect(j) for j in jobs]

    def _executor(self) -> Any:
        """A submitit SLURM executor with this launcher's parameters (those every submitit
        executor takes by their own name, the rest as ``slurm_<name>``)."""
        import submitit

        params = dict(self.params)
        executor = submitit.AutoExecutor(cluster="slurm", folder=params.pop("submitit_folder"),
                                         slurm_max_num_timeout=params.pop("max_num_timeout"))
        shared = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(**{k if k in shared else f"slurm_{k}": v
                                      for k, v in params.items()})
        return executor

    def _job(self, idx: int, overrides: list[str]) -> _Job:
        """The job's config and run directory (as Hydra's ``run_job`` will make them) and its
        earlier result."""
        from amup_timm.job import done_before

        assert self.hydra_context is not None
        cfg = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        with open_dict(cfg.hydra.job):
            cfg.hydra.job.num = idx
        hydra = HydraConfig.instance()
        outer = hydra.cfg
        hydra.set_config(cfg)  # the subdir may read ${hydra:...}
        try:
            run_dir = Path(str(cfg.hydra.sweep.dir)) / str(cfg.hydra.sweep.subdir)
        finally:
            hydra.cfg = outer
        return _Job(idx, overrides, cfg, run_dir.absolute(),
                    done_before(run_dir, list(cfg.hydra.overrides.task)))

    def _collect(self, job: _Job) -> JobReturn:
        """The job's JobReturn: SLURM's result, its earlier one, or None for a job SLURM ended
        (recorded as failed, as the trainer records a job that raised)."""
        from submitit.core.utils import UncompletedJobError

        ret = JobReturn(overrides=list(job.config.hydra.overrides.task), working_dir=os.getcwd(),
                        task_name=job.config.hydra.job.name, status=JobStatus.COMPLETED)
        if job.done is not None:
            log.info("job %d already %s in %s: skipped", job.idx, job.done["status"],
                     job.run_dir)
            ret.return_value = job.done["final"].get("train_loss")
            return ret
        try:
            return job.slurm.results()[0]
        except UncompletedJobError as e:
            from amup_timm.experiments.run_record import RunRecord, write_record
            from amup_timm.job import done_before

            if done_before(job.run_dir, ret.overrides) is None:  # it ended before its record
                error = (f"SLURM job {job.slurm.job_id} ended {job.slurm.state} "
                         f"(log: {job.slurm.paths.stderr}): {str(e).strip().splitlines()[0]}")
                log.error("job %d failed: %s", job.idx, error)
                task_cfg = copy.deepcopy(job.config)
                with read_write(task_cfg), open_dict(task_cfg):
                    del task_cfg["hydra"]
                job.run_dir.mkdir(parents=True, exist_ok=True)
                write_record(job.run_dir, RunRecord(
                    status="failed", overrides=ret.overrides, error=error,
                    config=OmegaConf.to_container(task_cfg, resolve=False),
                    run_dir=str(job.run_dir)))
            ret.return_value = None
            return ret
