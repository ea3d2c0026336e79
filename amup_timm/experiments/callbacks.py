"""Hydra callback: fit eta*(L) when a multirun ends (``hydra.callbacks.multirun_end`` in
train.yaml; a check's config puts its own callback there)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from .eta import DEFAULT_SELECT, Select
from .fit import fit_sweep
from .report import check_summary, log_check, write_check

log = logging.getLogger(__name__)


class FitOnMultirunEnd(Callback):
    """Runs the fit over the sweep directory's records; a fit failure never fails the sweep."""

    def __init__(self, select: Select = DEFAULT_SELECT, measure: str = "minimal_path"):
        self.select, self.measure = select, measure

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            result = fit_sweep(sweep_dir, self.select, measure=self.measure)
            files = write_check(result, sweep_dir / "fit", stem="fit")
            log.info("eta*(L) fit:\n%s\nwrote %s", "\n".join(check_summary(result)),
                     ", ".join(str(f) for f in files))
            log_check(result, files, sweep_dir / "fit", config.get("logger") or {}, "fit")
        except Exception:  # noqa: BLE001 - the sweep's own records are already safe
            log.exception("the eta*(L) fit of %s failed", sweep_dir)
