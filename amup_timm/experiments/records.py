"""The lab's read view of run records: ``Record``, built from a validated ``RunRecord``, and
``collect`` over a run directory, a sweep, packed records or W&B.

The files live in modules of one job each: run_record (results.json, validated), rundir
(checkpoints, metrics, the lock), packing (packed records, done marks) and wandb_runs; their
names are also importable from here, as before.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..knobs import nominal_depth, nominal_width
from .packing import DONE, PACKED, end_callback, is_done, mark_done, pack, unpacked
from .run_record import RESULTS, InvalidRecord, RunRecord, parse, write_json
from .rundir import CHECKPOINT, METRICS, append_metrics, load_checkpoint, save_checkpoint, \
    truncate_metrics

__all__ = ["CHECKPOINT", "DONE", "METRICS", "PACKED", "RESULTS", "InvalidRecord", "Record",
           "RunRecord", "append_metrics", "collect", "end_callback", "is_done", "law_exponent",
           "load_checkpoint", "mark_done", "pack", "save_checkpoint",
           "truncate_metrics", "unpacked", "write_json"]

log = logging.getLogger(__name__)


@dataclass
class Record:
    """One run as the fit, the verdict and ``ref_run`` read it (``from_results``)."""

    status: str  # finished, diverged or failed (also: a record that did not validate)
    lr: float | None  # the LR it trained with (None: a failed job's unresolved config)
    model: str | None  # timm name
    kwargs: dict[str, Any]  # the model's kwargs
    depth: int | None  # depth label (``nominal_depth``)
    optimizer: str | None
    scheme: str  # the depth scheme (am_mup, standard, ...)
    exponent: float | None  # the depth-law exponent the scheme predicts for the optimizer
    seed: int | None
    depths: dict[str, float]  # L by depth measure
    train_loss: float | None  # final training loss (mean of the last 10% of steps)
    mean_train_loss: float | None  # whole-run mean training loss
    val_loss: float | None
    val_acc: float | None
    test_loss: float | None
    test_acc: float | None
    width: int | None  # width label (``nominal_width``)
    stage: str  # a check's stage: grid, refine, transfer, target_grid, seeds
    arm: str  # a check's arm (its scheme where the check names none)
    wd_rule: str  # amup.wd_rule
    exponent_from: str | None  # amup.exponent_from
    ref: dict[str, Any]  # the reference its LR was transferred from: model, kwargs, lr ({}: none)
    transfer_exponent: float | None  # the depth-law exponent its LR was transferred with
    scale: dict[str, Any]  # a check's scale.<axis> values
    wall_s: float | None
    step_s: float | None  # steady-state seconds a training step (after the first)
    steps: int | None  # steps run
    max_steps: int | None
    error: str | None  # why a job failed
    path: str  # its run directory, or wandb:ENTITY/PROJECT/RUN_ID

    @classmethod
    def from_results(cls, res: dict, where: str) -> Record:
        """The view of a results.json's content found at ``where`` (``InvalidRecord`` if it
        does not validate)."""
        return cls.from_run(RunRecord.from_json(res, where), where)

    @classmethod
    def from_run(cls, run: RunRecord, where: str) -> Record:
        """The view of a validated run record found at ``where``."""
        return cls._view(run.to_json(), where)

    @classmethod
    def invalid(cls, error: InvalidRecord, where: str) -> Record:
        """A record that did not validate, as a failed run: what it holds (LR, model, config)
        places it in its cell; ``error`` says why it is not used."""
        raw: Any = {}
        try:
            raw = json.loads(Path(error.where).read_text())
        except (OSError, ValueError):
            pass
        raw = raw if isinstance(raw, dict) else {}
        for key in ("amup", "final", "config", "model_kwargs"):
            raw[key] = raw.get(key) if isinstance(raw.get(key), dict) else {}
        lr = raw.get("lr")
        raw["lr"] = lr if isinstance(lr, (int, float)) and not isinstance(lr, bool) else None
        view = cls._view({**raw, "status": "failed", "final": {}}, where)
        view.error = f"invalid record: {error}"
        return view

    @classmethod
    def _view(cls, res: dict, where: str) -> Record:
        """The fields of a run record's JSON; what a failed run lacks is read from its config
        or defaulted."""
        cfg = res.get("config") or {}
        optim = cfg.get("optim") or {}
        model = res.get("model") or (cfg.get("model") or {}).get("name")
        kwargs = res.get("model_kwargs") or (cfg.get("model") or {}).get("kwargs") or {}
        lr = res.get("lr")
        if lr is None and optim:  # a failed job's config is kept unresolved: only numbers count
            log10_lr = optim.get("log10_lr")  # set, it is the LR (an unresolved one: unknown)
            lr = optim.get("lr") if log10_lr is None else (
                10 ** log10_lr if isinstance(log10_lr, (int, float)) else None)
            lr = lr if isinstance(lr, (int, float)) else None
        amup = res.get("amup") or {}
        final = res.get("final") or {}
        scheme = amup.get("scheme") or (cfg.get("amup") or {}).get("scheme", "am_mup")
        optimizer = res.get("optimizer") or optim.get("opt")
        return cls(status=res.get("status", "failed"), lr=lr, model=model, kwargs=kwargs,
                   depth=nominal_depth(model or "", kwargs), optimizer=optimizer, scheme=scheme,
                   exponent=law_exponent(cfg.get("amup") or {"scheme": scheme}, optimizer),
                   seed=res.get("seed", (cfg.get("trainer") or {}).get("seed")),
                   depths=amup.get("depths") or {}, train_loss=final.get("train_loss"),
                   mean_train_loss=final.get("mean_train_loss"), val_loss=final.get("val_loss"),
                   val_acc=final.get("val_acc"), test_loss=final.get("test_loss"),
                   test_acc=final.get("test_acc"), width=nominal_width(kwargs),
                   stage=(cfg.get("check") or {}).get("stage", "grid"),
                   arm=(cfg.get("check") or {}).get("arm") or scheme,
                   wd_rule=(cfg.get("amup") or {}).get("wd_rule", "coupled"),
                   exponent_from=(cfg.get("amup") or {}).get("exponent_from"),
                   ref=_reference(amup, cfg.get("amup") or {}),
                   transfer_exponent=amup.get("exponent") if amup.get("ref_lr") else None,
                   scale=cfg.get("scale") or {}, wall_s=res.get("wall_s"),
                   step_s=(res.get("timing") or {}).get("step_s"),
                   steps=res.get("steps"), max_steps=res.get("max_steps"),
                   error=res.get("error"), path=where)


def _reference(record: dict, amup: dict) -> dict[str, Any]:
    """The reference a run's LR was transferred from: as resolved in its results (a reference
    read from amup.ref_run included), else as its amup config names it; {} for none."""
    src = record or amup  # a failed job has no results' record
    lr, model = src.get("ref_lr"), src.get("ref_model")
    if model is None or not isinstance(lr, (int, float)):
        return {}
    kwargs = src.get("ref_kwargs") or {}
    return {"model": model, "lr": float(lr),  # the data set's own kwargs are not the reference's
            "kwargs": {k: v for k, v in kwargs.items() if k not in ("num_classes", "in_chans")}}


def law_exponent(amup: dict, optimizer: str | None) -> float | None:
    """The depth-law exponent the run's scheme predicts for its optimizer."""
    from ..config import to_config
    from ..schemes import get_scheme

    try:
        cfg = to_config({k: v for k, v in amup.items() if k != "ref_run"})
        return get_scheme(cfg.scheme).depth_exponent(cfg, optimizer or "sgd")
    except (ValueError, TypeError):
        return None


def collect(source: str | Path) -> list[Record]:
    """Run records: every results.json under a directory (or packed records), or a W&B run or
    sweep given as ``wandb:ENTITY/PROJECT/RUN_ID`` or ``wandb:ENTITY/PROJECT/sweeps/SWEEP_ID``.
    A record that does not validate is logged with its path and read as a failed run (its LR
    and model from whatever it holds): never used, counted where failures are."""
    source = str(source)
    if source.startswith("wandb:"):
        from .wandb_runs import wandb_records

        found = wandb_records(source[len("wandb:"):])
    else:
        root = unpacked(source)
        if not root.exists():
            raise FileNotFoundError(f"{source} does not exist; give a run directory, a "
                                    f"multirun directory, its packed records (*{PACKED}) or "
                                    "wandb:ENTITY/PROJECT/RUN_ID")
        files = [root / RESULTS] if (root / RESULTS).is_file() else sorted(root.rglob(RESULTS))
        found = []
        for f in files:
            try:
                found.append((str(f.parent), parse(f.read_text(), f)))
            except InvalidRecord as e:
                found.append((str(f.parent), e))
    out = []
    for where, rec in found:
        if isinstance(rec, InvalidRecord):
            log.warning("%s", rec)
            out.append(Record.invalid(rec, where))
        else:
            out.append(Record.from_run(rec, where))
    return out
