"""One W&B run for an experiment's result (a check, a fit, the probe, the coordinate check):
its tables, plots and summary under one prefix. train.py's runs are train.py's own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def enabled(logger: Any) -> bool:
    """Whether the logger config asks for W&B (``logger=wandb``, mode not ``disabled``)."""
    return bool(logger) and logger.get("name", "wandb") == "wandb" \
        and logger.get("mode") != "disabled"


def log_result(logger: Any, *, job_type: str, name: str, out: Path, prefix: str,
               group: str | None = None, config: dict | None = None,
               tables: dict[str, tuple[list[str], list[list]]] | None = None,
               images: dict[str, Path] | None = None, summary: dict | None = None,
               report: Callable[[Any], None] | None = None) -> None:
    """Log ``tables`` (name -> (columns, rows)), ``images`` (name -> PNG) and ``summary``
    under ``prefix/`` as one run in the logger's project and mode (offline by default);
    ``report(run)`` runs before it finishes (e.g. to build a W&B Report online)."""
    if not enabled(logger):
        return
    import wandb

    run = wandb.init(project=logger.get("project", "amup-timm"), entity=logger.get("entity"),
                     mode=logger.get("mode", "offline"), group=group, job_type=job_type,
                     dir=str(out), name=name, config=config, reinit="finish_previous")
    data = {f"{prefix}/{k}": wandb.Table(columns=cols, data=rows)
            for k, (cols, rows) in (tables or {}).items()}
    data.update({f"{prefix}/{k}": wandb.Image(str(p)) for k, p in (images or {}).items()})
    if data:
        run.log(data)
    run.summary.update(summary or {})
    if report is not None:
        report(run)
    run.finish()
