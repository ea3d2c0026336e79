"""A sweep's files beside its runs: its records packed into one file (docs/data), the check's
finished mark and the end-of-sweep callback's settings."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

from ..data import cache_dir
from .run_record import RESULTS, write_json

PACKED = ".tar.gz"  # a sweep's records in one file: multirun.yaml and every results.json
DONE = "check_done.json"  # a check's mark: every stage finished (its callback writes it)


def end_callback(hydra: dict) -> dict:
    """The settings of the callback that ran when a sweep's multirun ended (the fit, or a
    check's stages and verdict), from its multirun.yaml's ``hydra`` node; records written
    before the key was ``multirun_end`` have it as ``fit``."""
    callbacks = hydra.get("callbacks") or {}
    return dict(callbacks.get("multirun_end") or callbacks.get("fit") or {})


def mark_done(sweep: str | Path, done: bool, command: str = "") -> None:
    """Set (``done``) or clear a check's finished mark in ``sweep``: only the check's own
    callback does, so a verdict made by hand from a running check is never taken as final."""
    path = Path(sweep) / DONE
    if done:
        write_json(path, {"command": command})
    else:
        path.unlink(missing_ok=True)


def is_done(sweep: str | Path) -> bool:
    """Whether every stage of the check in ``sweep`` has finished."""
    return (Path(sweep) / DONE).is_file()


def pack(sweep: str | Path, out: str | Path) -> Path:
    """A sweep's multirun.yaml and every results.json in one gzipped tar, its top folder named
    as the sweep, byte for byte the same for the same records: ``tar -xzf OUT -C DIR`` gives
    ``DIR/<sweep name>/``, which a stopped check resumes from."""
    sweep, out = Path(sweep), Path(out)
    files = sorted(f for f in [sweep / "multirun.yaml", *sweep.rglob(RESULTS)] if f.is_file())
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for f in files:
            data = f.read_bytes()
            info = tarfile.TarInfo(f"{sweep.name}/{f.relative_to(sweep).as_posix()}")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, fileobj=io.BytesIO(data))
    os.replace(tmp, out)
    return out


def unpacked(source: str | Path) -> Path:
    """``source`` as a directory: packed records (``*.tar.gz`` of ``pack``) are unpacked once
    into the cache ($AMUP_CACHE or ~/.cache/amup_timm), keyed by their content."""
    path = Path(source)
    if not (path.name.endswith(PACKED) and path.is_file()):
        return path
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:12]
    root = cache_dir() / "records" / f"{path.name[:-len(PACKED)]}-{digest}"
    if not root.is_dir():
        tmp = root.with_name(f"{root.name}.tmp{os.getpid()}")
        with tarfile.open(path) as tar:
            tar.extractall(tmp, filter="data")
        (top,) = tmp.iterdir()
        root.parent.mkdir(parents=True, exist_ok=True)
        os.replace(top, root)
        tmp.rmdir()
    return root
