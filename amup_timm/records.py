"""Run records: results.json, per-step metrics, checkpoints, all written atomically."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import torch

RESULTS = "results.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoints/last.pt"


def _finite(x: Any) -> Any:
    """JSON-safe value: non-finite floats become None (the status says why)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def write_json(path: str | Path, data: dict) -> None:
    """Write ``data`` as JSON through a temporary file and an atomic rename."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(_finite(data), indent=2, default=str))
    os.replace(tmp, path)


def read_results(run_dir: str | Path) -> dict | None:
    """A run directory's results.json, or None if it has none."""
    path = Path(run_dir) / RESULTS
    return json.loads(path.read_text()) if path.is_file() else None


def append_metrics(run_dir: str | Path, rows: list[dict]) -> None:
    """Append per-step rows to metrics.jsonl."""
    with open(Path(run_dir) / METRICS, "a") as f:
        for row in rows:
            f.write(json.dumps(_finite(row)) + "\n")


def truncate_metrics(run_dir: str | Path, last_step: int) -> None:
    """Drop metric rows after ``last_step`` (written after the checkpoint a run resumes from)."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return
    rows = [line for line in path.read_text().splitlines()
            if line and json.loads(line)["step"] <= last_step]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(r + "\n" for r in rows))
    os.replace(tmp, path)


def save_checkpoint(run_dir: str | Path, state: dict) -> None:
    """torch.save ``state`` to checkpoints/last.pt through a temporary file and a rename."""
    path = Path(run_dir) / CHECKPOINT
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(run_dir: str | Path) -> dict | None:
    """The run directory's last checkpoint, or None."""
    path = Path(run_dir) / CHECKPOINT
    return torch.load(path, map_location="cpu", weights_only=False) if path.is_file() else None
