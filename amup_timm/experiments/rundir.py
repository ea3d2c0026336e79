"""What the trainer keeps in its run directory besides the record: per-step metrics, the
checkpoint it resumes from, and the lock that keeps one run per directory."""

from __future__ import annotations

import json
import os
import pickle
import socket
import time
import zipfile
from pathlib import Path

import torch

from .run_record import atomic_write, json_safe

METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoints/last.pt"
LOCK = "run.lock"


class CorruptCheckpoint(RuntimeError):
    """A checkpoint that torch cannot read; the file is kept."""


class RunDirBusy(RuntimeError):
    """Another live run holds the run directory."""


def append_metrics(run_dir: str | Path, rows: list[dict]) -> None:
    """Append per-step rows to metrics.jsonl."""
    with open(Path(run_dir) / METRICS, "a") as f:
        for row in rows:
            f.write(json.dumps(json_safe(row)) + "\n")


def truncate_metrics(run_dir: str | Path, last_step: int) -> None:
    """Drop metric rows after ``last_step`` (written after the checkpoint a run resumes from)
    and a row a kill cut short."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return
    rows = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= last_step:
                rows.append(line)
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    text = "".join(r + "\n" for r in rows)
    atomic_write(path, lambda f: f.write(text.encode()))


def save_checkpoint(run_dir: str | Path, state: dict) -> None:
    """torch.save ``state`` to checkpoints/last.pt through a temporary file and a rename; a
    write that fails (a full disk) removes the temporary file and keeps the last good one."""
    path = Path(run_dir) / CHECKPOINT
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(run_dir: str | Path) -> dict | None:
    """The run directory's last checkpoint, or None; ``CorruptCheckpoint`` naming the file
    and what to do if it cannot be read (the file is kept)."""
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        return None
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except (pickle.UnpicklingError, EOFError, RuntimeError, OSError, zipfile.BadZipFile,
            AttributeError, ValueError) as e:
        raise CorruptCheckpoint(
            f"{path} cannot be read ({type(e).__name__}: {str(e).splitlines()[0][:200]}): it is "
            f"kept as it is. Move it aside (mv {path} {path}.bad) to restart this run from step "
            "0, or put a good copy back to resume from it") from e
    if not isinstance(ckpt, dict) or "step" not in ckpt:
        raise CorruptCheckpoint(f"{path} is not a checkpoint of amup-train (no step): move it "
                                f"aside (mv {path} {path}.bad) to restart this run from step 0")
    return ckpt


def _start_time(pid: int) -> str | None:
    """A process's start time (Linux), so that a reused PID is not taken for the holder."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(holder: dict) -> bool:
    """Whether the lock's holder may still run: a process of this host that exists (with its
    start time), or one of another host that is not this SLURM job's earlier attempt."""
    job = os.environ.get("SLURM_JOB_ID")
    if job is not None and holder.get("slurm_job_id") == job:
        return False  # a requeued job's earlier attempt: SLURM ended it
    if holder.get("host") != socket.gethostname():
        return True  # no way to look at another host's processes
    pid = holder.get("pid")
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return holder.get("start") is None or holder.get("start") == _start_time(pid)


def acquire_lock(run_dir: str | Path) -> Path:
    """Hold ``run_dir`` for this process (rank 0 of a run): a lock file created exclusively
    (O_EXCL, as on a shared filesystem), naming the host, PID and SLURM job; one left by a
    process that is gone is taken over. ``RunDirBusy`` if a live run holds it."""
    path = Path(run_dir) / LOCK
    me = {"host": socket.gethostname(), "pid": os.getpid(), "start": _start_time(os.getpid()),
          "slurm_job_id": os.environ.get("SLURM_JOB_ID")}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                holder = {}  # being written, or cut short by a kill: look again
            if holder and holder.get("host") == me["host"] and holder.get("pid") == me["pid"]:
                return path  # this process holds it already
            if holder and _alive(holder):
                raise RunDirBusy(
                    f"{run_dir} is in use by another run (host {holder.get('host')}, PID "
                    f"{holder.get('pid')}; lock {path}): two runs in one directory would mix "
                    "their metrics and lose one's results. Choose another hydra.run.dir (or "
                    "run_dir), or wait for it to end; if that process is gone, delete "
                    f"{path}") from None
            if holder or not _recent(path):
                path.unlink(missing_ok=True)  # stale: its holder is gone
            else:
                time.sleep(1.0)
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        return path
    raise RunDirBusy(f"could not take the lock {path}: another run keeps taking it; choose "
                     "another hydra.run.dir")


def _recent(path: Path, seconds: float = 5.0) -> bool:
    """Whether a lock file was created within ``seconds`` (its holder may be writing it)."""
    try:
        return time.time() - path.stat().st_mtime < seconds
    except FileNotFoundError:
        return False


def release_lock(path: Path) -> None:
    """Give the run directory back (only this process's own lock)."""
    try:
        holder = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return
    if holder.get("host") == socket.gethostname() and holder.get("pid") == os.getpid():
        path.unlink(missing_ok=True)
