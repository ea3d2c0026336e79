"""Coordinate check by parameter kind (docs/width.md): muP's promise, one kind at a time.

For each width (the family's width knob x ``widths``) the model is built with muP multipliers
from the narrowest (``am_mup``) or as timm builds it (``standard``). Then, for each parameter
kind, only that kind's parameters take ``steps`` optimizer steps on one fixed batch (the rest
frozen) and the mean |change of the logits| is recorded, averaged over seeds. Under muP each
kind moves the output by Theta(1) at every width: log2 of the change has a slope near 0 per
doubling of width. Under the standard parametrization the hidden and readout updates grow
with width, with SGD and with Adam.

    python -m amup_timm.coord model=resnet18_slim optim=adamw coord.widths=[1,2,4,8]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..factory import create_model
from ..knobs import scale_width
from ..optim import create_optimizer
from ..registry import build_meta
from ..width import WidthMult, base_shapes, is_adam_like, width_multipliers
from .trend import fit_slope
from .probe import eval_with_batch_stats, first_batch
from .report import coord_summary, log_coord, write_coord

KINDS = ("input", "hidden", "readout", "readout_bias", "norm", "layerscale", "bias",
         "embedding")


def param_kind(name: str, p: torch.Tensor, mult: WidthMult, head: tuple[str | None, str | None]
               ) -> str:
    """The muP kind of one parameter: input (a weight whose fan-in stays fixed: stem, patch
    embedding, depthwise conv), hidden (fan-in and fan-out grow), readout and readout_bias (the
    classifier's weight and bias), norm and layerscale (1-D gains), bias, embedding (position
    embedding, tokens)."""
    if name in head:
        return "readout" if name == head[0] else "readout_bias"
    if p.ndim == 1:
        if name.endswith("bias"):
            return "bias"
        return "layerscale" if name.rsplit(".", 1)[-1] == "gamma" else "norm"
    if mult.ninf == 2:
        return "hidden"
    return "input" if name.endswith("weight") else "embedding"


def kinds_of(model: nn.Module, base: dict[str, torch.Size]) -> dict[str, str]:
    """Each parameter's kind, its width multipliers taken against ``base`` shapes."""
    head = model.get_classifier() if hasattr(model, "get_classifier") else None
    names = {id(p): n for n, p in model.named_parameters()}
    ends = tuple(names.get(id(getattr(head, a, None))) for a in ("weight", "bias"))
    mults = width_multipliers(model, base)
    return {n: param_kind(n, p, mults[n], ends) for n, p in model.named_parameters()}


def _logit_change(build, kind: str, kinds: dict[str, str], batch, opt: str, lr: float,
                  steps: int, timm_kwargs: dict[str, Any]) -> float:
    model = build()
    eval_with_batch_stats(model)
    for n, p in model.named_parameters():
        p.requires_grad_(kinds[n] == kind)
    optimizer = create_optimizer(model, opt, lr=lr, weight_decay=0.0, **timm_kwargs)
    x, y = batch
    with torch.no_grad():
        before = model(x)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    with torch.no_grad():
        return (model(x) - before).abs().mean().item()


def slope_per_doubling(widths: list[float], values: list[float]) -> float | None:
    """Least-squares slope of log2(value) on log2(width) (zero changes left out)."""
    pts = [(w, v) for w, v in zip(widths, values) if v > 0]
    return fit_slope([w for w, _ in pts], [v for _, v in pts])["slope"]


def coord_check(name: str, kwargs: dict[str, Any], widths: list[float], scheme: str,
                batch: tuple[torch.Tensor, torch.Tensor], opt: str, lr: float, steps: int = 1,
                seeds: int = 2, tolerance: float = 0.25, amup: dict[str, Any] | None = None,
                **timm_kwargs: Any) -> dict[str, Any]:
    """Per kind: the mean |logit change| at each width, its slope per doubling and whether it
    is flat (|slope| <= ``tolerance``). ``kwargs`` is the narrowest model; ``amup`` adds to
    the scheme's settings (the reference is the narrowest model at ``lr``)."""
    cfg = {**(amup or {}), "scheme": scheme, "ref_model": name, "ref_kwargs": dict(kwargs),
           "ref_lr": lr, "ref_depth": None, "ref_run": None, "exponent_from": None}
    base = base_shapes(build_meta(name, **kwargs))
    for w in widths:  # a kind is a name at every width: the blocks must not change
        names = {n for n, _ in build_meta(name, **scale_width(name, kwargs, w)).named_parameters()}
        if names != set(base):
            differ = sorted(names ^ set(base))
            raise ValueError(
                f"{name} at width x{w:g} has other parameters than at x1 ({', '.join(differ[:2])}"
                f"{', ...' if len(differ) > 2 else ''}): widening changes its blocks, so no kind "
                "can be followed across width (a timm ResNet whose first stage reaches its "
                "64-channel 7x7 stem drops a shortcut: use stem_type=deep with stem_width)")
    kinds = kinds_of(build_meta(name, **scale_width(name, kwargs, 2)), base)
    change: dict[str, list[float]] = {k: [] for k in KINDS}
    for w in widths:
        kw = scale_width(name, kwargs, w)
        for kind in KINDS:
            if kind not in kinds.values():
                continue
            runs = []
            for seed in range(seeds):
                def build(seed: int = seed, kw: dict = kw) -> nn.Module:
                    torch.manual_seed(seed)
                    return create_model(name, cfg, **kw)
                runs.append(_logit_change(build, kind, kinds, batch, opt, lr, steps,
                                          timm_kwargs))
            change[kind].append(sum(runs) / len(runs))
    rows = {}
    for kind, values in change.items():
        if len(values) != len(widths):
            continue
        s = slope_per_doubling(widths, values)
        rows[kind] = {"change": values, "slope": s,
                      "flat": s is not None and abs(s) <= tolerance}
    return {"model": name, "kwargs": dict(kwargs), "widths": list(widths), "scheme": scheme,
            "optimizer": opt, "lr": lr, "steps": steps, "seeds": seeds,
            "tolerance": tolerance, "kinds": rows}


def run_coord(cfg) -> list[dict]:
    """The ``python -m amup_timm.coord`` command: every scheme of ``coord.schemes``, a table,
    coord.json and coord.png in the run directory (and W&B when logging)."""
    from omegaconf import OmegaConf

    from ..data import build_data

    name = cfg.model.name
    kwargs = {**OmegaConf.to_container(cfg.model.kwargs, resolve=True),
              "num_classes": int(cfg.data.num_classes), "in_chans": int(cfg.data.in_chans)}
    amup = OmegaConf.to_container(cfg.amup, resolve=True)
    data = build_data(cfg.data, torch.device("cpu"), seed=cfg.trainer.seed)
    batch = first_batch(data, int(cfg.coord.batch_size))
    lr = float(cfg.coord.lr or cfg.optim.lr)
    timm_kwargs = {"momentum": float(cfg.optim.momentum)} if not is_adam_like(cfg.optim.opt) \
        else {}
    results = [coord_check(name, kwargs, list(cfg.coord.widths), scheme, batch, cfg.optim.opt,
                           lr, int(cfg.coord.steps), int(cfg.coord.seeds),
                           float(cfg.coord.tolerance), amup, **timm_kwargs)
               for scheme in cfg.coord.schemes]
    out = Path(cfg.run_dir)
    files = write_coord(results, out)
    print("\n".join(coord_summary(results)) + "\nwrote " + ", ".join(map(str, files)))
    log_coord(results, files, out, cfg.logger,
              {"coord": OmegaConf.to_container(cfg.coord), "model": name})
    return results


def main() -> None:
    """``python -m amup_timm.coord``: Hydra-composed like train.py (conf/coord.yaml)."""
    from ..app import run_app

    run_app(run_coord, "coord")


if __name__ == "__main__":
    main()
