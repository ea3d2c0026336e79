"""Run records read from W&B through ``wandb.Api`` (needs network and an API key)."""

from __future__ import annotations

import logging
from typing import Any

from .run_record import InvalidRecord, RunRecord

log = logging.getLogger(__name__)


def _api():
    import wandb

    return wandb.Api(timeout=20)


def record_of(run: Any) -> RunRecord:
    """A W&B run's summary and config as a run record (``InvalidRecord`` if it lacks one). The
    trainer's summary holds ``lr`` and ``optimizer``; a summary written before the record had a
    version kept them in ``amup``, with the law's LR as ``amup.lr_law``."""
    summary, config = dict(run.summary), dict(run.config)
    amup = dict(summary.get("amup") or {})
    versioned = "lr" in summary
    lr = summary.get("lr") if versioned else amup.pop("lr", None)
    optimizer = summary.get("optimizer") if versioned else amup.pop("optimizer", None)
    status = summary.get("status", "failed")
    data = {"status": status, "lr": lr, "optimizer": optimizer, "amup": amup,
            "final": {k.split("/", 1)[1]: v for k, v in summary.items()
                      if k.startswith("final/")},
            "config": config, "overrides": [], "version": 1 if versioned else 0,
            "error": f"W&B run state {run.state}" if status == "failed" else None}
    return RunRecord.from_json(data, f"wandb:{'/'.join(run.path)}")


def wandb_records(path: str) -> list[tuple[str, RunRecord | InvalidRecord]]:
    """(where, record or why it is invalid) of a W&B run ``ENTITY/PROJECT/RUN_ID`` or the runs of
    a sweep ``ENTITY/PROJECT/sweeps/SWEEP_ID``; runs still running are left out."""
    try:
        api = _api()
        runs = (list(api.sweep(path.replace("/sweeps/", "/")).runs) if "/sweeps/" in path
                else [api.run(path)])
    except Exception as e:  # wandb raises several error types for the same cause
        raise RuntimeError(
            f"could not read wandb:{path} from W&B ({type(e).__name__}: {e}). Reading W&B needs "
            "network access and an API key (`wandb login` or WANDB_API_KEY); without them, "
            "point at the local run or multirun directory instead.") from e
    out: list[tuple[str, RunRecord | InvalidRecord]] = []
    for run in runs:
        if run.state == "running":
            log.info("wandb:%s is still running: left out", "/".join(run.path))
            continue
        where = f"wandb:{'/'.join(run.path)}"
        try:
            out.append((where, record_of(run)))
        except InvalidRecord as e:
            out.append((where, e))
    return out
