"""The run record: the one shape of results.json that the trainer writes at its end (finished,
diverged or failed) and the lab reads, validated on read; and atomic file writes.

Schema versions: 0 is every record written before ``version`` existed (the law's LR was then
``amup.lr_law``); 1 keeps the law's ``Transfer`` fields under their own names (``amup.lr``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, Any

SCHEMA_VERSION = 1
RESULTS = "results.json"
STATUSES = ("finished", "diverged", "failed")
FINISHED_METRICS = ("train_loss", "mean_train_loss", "val_loss", "val_acc")


class InvalidRecord(ValueError):
    """A results.json that does not validate: never used, never taken as a job done."""

    def __init__(self, where: str | Path, problem: str):
        self.where, self.problem = str(where), problem
        super().__init__(f"{where}: {problem}. This record is not used and its job is not "
                         "skipped as done: rerun that job (a multirun started again in the "
                         "same directory reruns it), or move the file aside")


@dataclass
class RunRecord:
    """One run as the trainer ends it: what ran (config, overrides, model, optimizer), the
    LR and where it came from (``amup``: the scheme's measures and the law's ``Transfer``
    fields), how it ended (``status``; ``error`` for a failed run) and its ``final`` metrics."""

    status: str  # finished, diverged or failed
    overrides: list[str]  # what identifies the run for resume and skipping (train.run_key)
    config: dict[str, Any]  # resolved; a failed run's as given (it may not resolve)
    lr: float | None = None  # the base LR it trained with (None: failed before it was known)
    optimizer: str | None = None
    model: str | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    data: str | None = None
    seed: int | None = None
    steps: int | None = None
    max_steps: int | None = None
    world_size: int | None = None
    threads: int | None = None
    lr_scales: list[float] = field(default_factory=list)
    amup: dict[str, Any] = field(default_factory=dict)
    final: dict[str, Any] = field(default_factory=dict)
    timing: dict[str, Any] | None = None
    wall_s: float | None = None
    run_dir: str | None = None
    wandb: dict[str, Any] | None = None
    error: str | None = None
    version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, where: str | Path) -> RunRecord:
        """The record of a results.json's content found at ``where``, upgraded to this version;
        ``InvalidRecord`` naming ``where`` and the problem if it does not validate."""
        if not isinstance(data, dict):
            raise InvalidRecord(where, f"not a JSON object but {type(data).__name__}")
        data = dict(data)
        version = data.setdefault("version", 0)
        if not isinstance(version, int) or not 0 <= version <= SCHEMA_VERSION:
            raise InvalidRecord(where, f"schema version {version!r} is not one this amup-timm "
                                       f"reads (0 to {SCHEMA_VERSION}); upgrade amup-timm")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidRecord(where, f"unknown field(s) {unknown}")
        for key in ("status", "overrides", "config"):
            if key not in data:
                raise InvalidRecord(where, f"no {key!r}")
        if version == 0:
            amup = dict(data.get("amup") or {})
            if "lr_law" in amup:
                amup["lr"] = amup.pop("lr_law")
            elif amup.get("ref_lr") is not None and amup.get("lr_rule", "law") == "law":
                amup["lr"] = data.get("lr")
            data["amup"] = amup
        for key in ("model_kwargs", "lr_scales", "amup", "final"):  # null: none
            if data.get(key) is None:
                data.pop(key, None)
        rec = cls(**{**data, "version": SCHEMA_VERSION})
        rec.validate(where)
        return rec

    def validate(self, where: str | Path) -> None:
        """``InvalidRecord`` unless the status is known, a finished or diverged run has a
        positive LR and its ``final`` metrics (a finished run's all finite), a failed run says
        why, and the overrides are a list of strings."""
        if self.status not in STATUSES:
            raise InvalidRecord(where, f"status {self.status!r} is not one of {list(STATUSES)}")
        if not (isinstance(self.overrides, list) and all(isinstance(o, str)
                                                         for o in self.overrides)):
            raise InvalidRecord(where, f"overrides {self.overrides!r} is not a list of strings")
        if not isinstance(self.config, dict) or not isinstance(self.final, dict):
            raise InvalidRecord(where, "config and final must be JSON objects")
        if self.status == "failed":
            if not self.error:
                raise InvalidRecord(where, "a failed run without its error")
            return
        if not _positive(self.lr):
            raise InvalidRecord(where, f"a {self.status} run with LR {self.lr!r}")
        if self.status == "finished":
            bad = [k for k in FINISHED_METRICS if not _finite(self.final.get(k))]
            if bad:
                raise InvalidRecord(where, f"a finished run without finite final metrics {bad}")


def _positive(x: Any) -> bool:
    return _finite(x) and x > 0


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def json_safe(x: Any) -> Any:
    """JSON-safe value: non-finite floats become None (the status says why)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    return x


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """``write(file)`` into a temporary file beside ``path``, then an atomic rename. On a
    failure (a full disk included) the temporary file is removed and ``path`` is untouched."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OSError(e.errno, f"{e.strerror or e} writing {path} (the previous file is kept; "
                               "free space or choose another directory, then rerun: it "
                               "resumes from the last checkpoint)") from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: str | Path, data: dict) -> None:
    """Write ``data`` as JSON through a temporary file and an atomic rename."""
    text = json.dumps(json_safe(data), indent=2, default=str)
    atomic_write(path, lambda f: f.write(text.encode()))


def write_record(run_dir: str | Path, record: RunRecord) -> None:
    """The run directory's results.json."""
    write_json(Path(run_dir) / RESULTS, record.to_json())


def read_record(run_dir: str | Path) -> RunRecord | None:
    """The run directory's validated record; None without a results.json, ``InvalidRecord``
    (naming the file) for one that is not JSON or does not validate."""
    path = Path(run_dir) / RESULTS
    if not path.is_file():
        return None
    return parse(path.read_text(), path)


def parse(text: str, where: str | Path) -> RunRecord:
    """A results.json's text as a validated record."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidRecord(where, f"not JSON ({e})") from None
    return RunRecord.from_json(data, where)
