"""One check of a training job's settings, before any data or model is built: each bad value
is refused naming its key, the value and what is allowed."""

from __future__ import annotations

import math
from typing import Any

from .config import AmupConfig, is_number, require, to_config


def _int_at_least(key: str, value: Any, low: int, none_ok: bool = False) -> None:
    if value is None and none_ok:
        return
    allowed = f"an integer >= {low}" + (" or null" if none_ok else "")
    require(key, value, allowed, is_number(value) and float(value).is_integer() and value >= low)


def check_settings(cfg: Any) -> AmupConfig:
    """Validate the ``amup``, ``optim``, ``trainer`` and ``data`` nodes of amup-train's config
    (an OmegaConf node or anything with ``.get``); returns the typed ``amup`` node."""
    amup = to_config(cfg.amup)
    optim, trainer, data = cfg.optim, cfg.trainer, cfg.data
    if optim.get("log10_lr") is None:
        require("optim.lr", optim.lr, "a finite number > 0 (or set optim.log10_lr)",
                is_number(optim.lr) and 0 < optim.lr < math.inf)
    else:
        require("optim.log10_lr", optim.log10_lr, "a finite number",
                is_number(optim.log10_lr) and math.isfinite(optim.log10_lr))
    _int_at_least("trainer.max_steps", trainer.max_steps, 1, none_ok=True)
    epochs = trainer.get("epochs")
    if epochs is not None:
        require("trainer.epochs", epochs, "a number > 0 or null",
                is_number(epochs) and 0 < epochs < math.inf)
    if trainer.max_steps is None and epochs is None:
        raise ValueError("trainer.max_steps and trainer.epochs are both null: set one "
                         "(e.g. trainer.max_steps=1000)")
    _int_at_least("trainer.log_every", trainer.log_every, 1)
    for key in ("ckpt_every", "eval_every"):  # 0 or null: never
        _int_at_least(f"trainer.{key}", trainer.get(key), 0, none_ok=True)
    _int_at_least("trainer.eval_batches", trainer.get("eval_batches"), 1, none_ok=True)
    _int_at_least("trainer.threads", trainer.get("threads"), 1, none_ok=True)
    _int_at_least("data.batch_size", data.batch_size, 1)
    _int_at_least("data.img_size", data.img_size, 1)
    _int_at_least("data.num_workers", data.get("num_workers", 0), 0)
    clip = optim.get("clip_grad")
    if clip is not None:
        require("optim.clip_grad", clip, "a number > 0 or null", is_number(clip) and clip > 0)
    return amup
