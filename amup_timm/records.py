"""Run records: results.json, per-step metrics, checkpoints, all written atomically."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import torch

from .knobs import nominal_depth, nominal_width

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


def normalize(res: dict, where: str) -> dict:
    """The fields the fit and ``ref_run`` use, from a results.json or a W&B run's record."""
    cfg = res.get("config") or {}
    optim = cfg.get("optim") or {}
    model = res.get("model") or (cfg.get("model") or {}).get("name")
    kwargs = res.get("model_kwargs") or (cfg.get("model") or {}).get("kwargs") or {}
    lr = res.get("lr")
    if lr is None and optim:  # a failed job's config is kept unresolved: only numbers count
        log10_lr = optim.get("log10_lr")
        lr = 10 ** log10_lr if isinstance(log10_lr, (int, float)) else optim.get("lr")
        lr = lr if isinstance(lr, (int, float)) else None
    amup = res.get("amup") or {}
    final = res.get("final") or {}
    scheme = amup.get("scheme") or (cfg.get("amup") or {}).get("scheme", "am_mup")
    optimizer = res.get("optimizer") or optim.get("opt")
    return {"status": res.get("status", "failed"), "lr": lr, "model": model, "kwargs": kwargs,
            "depth": nominal_depth(model or "", kwargs), "optimizer": optimizer, "scheme": scheme,
            "exponent": _law_exponent(cfg.get("amup") or {"scheme": scheme}, optimizer),
            "seed": res.get("seed", (cfg.get("trainer") or {}).get("seed")),
            "depths": amup.get("depths") or {}, "train_loss": final.get("train_loss"),
            "mean_train_loss": final.get("mean_train_loss"), "val_loss": final.get("val_loss"),
            "val_acc": final.get("val_acc"), "test_loss": final.get("test_loss"),
            "test_acc": final.get("test_acc"), "width": nominal_width(kwargs),
            "stage": (cfg.get("check") or {}).get("stage", "grid"),
            "arm": (cfg.get("check") or {}).get("arm") or scheme,
            "wd_rule": (cfg.get("amup") or {}).get("wd_rule", "coupled"),
            "exponent_from": (cfg.get("amup") or {}).get("exponent_from"),
            "scale": cfg.get("scale") or {}, "wall_s": res.get("wall_s"),
            "steps": res.get("steps"), "max_steps": res.get("max_steps"),
            "error": res.get("error"), "path": where}


def _law_exponent(amup: dict, optimizer: str | None) -> float | None:
    """The depth-law exponent the run's scheme predicts for its optimizer."""
    from .config import to_config
    from .schemes import get_scheme

    try:
        cfg = to_config({k: v for k, v in amup.items() if k != "ref_run"})
        return get_scheme(cfg.scheme).depth_exponent(cfg, optimizer or "sgd")
    except (ValueError, TypeError):
        return None


def _wandb_api():
    import wandb

    return wandb.Api(timeout=20)


def _from_wandb_run(run) -> dict:
    summary, config = dict(run.summary), dict(run.config)
    amup = dict(summary.get("amup") or {})
    res = {"status": summary.get("status", "failed" if run.state != "running" else "running"),
           "lr": amup.get("lr"), "optimizer": amup.get("optimizer"), "amup": amup,
           "final": {k.split("/", 1)[1]: v for k, v in summary.items() if k.startswith("final/")},
           "config": config}
    return normalize(res, f"wandb:{'/'.join(run.path)}")


def collect(source: str | Path) -> list[dict]:
    """Normalized run records: every results.json under a directory, or a W&B run or sweep
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
    root = Path(source)
    if not root.exists():
        raise FileNotFoundError(f"{source} does not exist; give a run directory, a multirun "
                                "directory, or wandb:ENTITY/PROJECT/RUN_ID")
    files = [root / RESULTS] if (root / RESULTS).is_file() else sorted(root.rglob(RESULTS))
    return [normalize(json.loads(f.read_text()), str(f.parent)) for f in files]
