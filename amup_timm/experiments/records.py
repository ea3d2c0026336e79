"""Run records: results.json, per-step metrics, checkpoints, all written atomically."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..data import cache_dir
from ..knobs import nominal_depth, nominal_width

RESULTS = "results.json"
PACKED = ".tar.gz"  # a sweep's records in one file: multirun.yaml and every results.json
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoints/last.pt"
DONE = "check_done.json"  # a check's mark: every stage finished (its callback writes it)


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


@dataclass
class Record:
    """One run as the fit, the verdict and ``ref_run`` read it (``from_results``)."""

    status: str  # finished, diverged, failed or running
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
        """The record of a results.json (or a W&B run's record in its form) found at ``where``;
        what an older or failed run lacks is read from its config or defaulted."""
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


def _wandb_api():
    import wandb

    return wandb.Api(timeout=20)


def _from_wandb_run(run) -> Record:
    summary, config = dict(run.summary), dict(run.config)
    amup = dict(summary.get("amup") or {})
    res = {"status": summary.get("status", "failed" if run.state != "running" else "running"),
           "lr": amup.get("lr"), "optimizer": amup.get("optimizer"), "amup": amup,
           "final": {k.split("/", 1)[1]: v for k, v in summary.items() if k.startswith("final/")},
           "config": config}
    return Record.from_results(res, f"wandb:{'/'.join(run.path)}")


def collect(source: str | Path) -> list[Record]:
    """Run records: every results.json under a directory, or a W&B run or sweep
    given as ``wandb:ENTITY/PROJECT/RUN_ID`` or ``wandb:ENTITY/PROJECT/sweeps/SWEEP_ID``."""
    source = str(source)
    if source.startswith("wandb:"):
        path = source[len("wandb:"):]
        try:
            api = _wandb_api()
            if "/sweeps/" in path:
                runs = list(api.sweep(path.replace("/sweeps/", "/")).runs)
            else:
                runs = [api.run(path)]
        except Exception as e:  # wandb raises several error types for the same cause
            raise RuntimeError(
                f"could not read {source} from W&B ({type(e).__name__}: {e}). Reading W&B needs "
                "network access and an API key (`wandb login` or WANDB_API_KEY); without them, "
                "point at the local run or multirun directory instead.") from e
        return [_from_wandb_run(r) for r in runs]
    root = unpacked(source)
    if not root.exists():
        raise FileNotFoundError(f"{source} does not exist; give a run directory, a multirun "
                                f"directory, its packed records (*{PACKED}) or "
                                "wandb:ENTITY/PROJECT/RUN_ID")
    files = [root / RESULTS] if (root / RESULTS).is_file() else sorted(root.rglob(RESULTS))
    return [Record.from_results(json.loads(f.read_text()), str(f.parent)) for f in files]


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
