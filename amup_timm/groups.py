"""Optimizer parameter groups in timm's conventions: each parameter's ``lr_scale`` is muP's
width multiplier (width.py) times its scheme's depth multiplier, its ``weight_decay`` muP's
decay rule times the scheme's decay rule (``amup.wd_rule``), 0 for 1-D parameters."""

from __future__ import annotations

import warnings

import torch
from torch import nn

from .width import WidthMult


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside wrappers, where ``create_model`` left ``model.amup``: torch.compile
    (``._orig_mod``), DDP/DataParallel and any other module that holds it as ``.module`` (an
    EMA copy, a user's wrapper). A module whose ``.module`` carries no amup state is kept."""
    while True:
        inner = model._modules.get("_orig_mod")
        if inner is None and isinstance(model, (nn.DataParallel,
                                                nn.parallel.DistributedDataParallel)):
            inner = model.module
        if inner is None and "amup" not in vars(model) and isinstance(
                model._modules.get("module"), nn.Module) and _carries_amup(model.module):
            inner = model.module
        if inner is None:
            return model
        model = inner


def _carries_amup(model: nn.Module) -> bool:
    """Whether ``model`` or a module it wraps was built by ``create_model``."""
    while model is not None:
        if "amup" in vars(model):
            return True
        model = model._modules.get("_orig_mod") or model._modules.get("module")
    return False


def param_groups(model: nn.Module, optimizer: str = "sgd", weight_decay: float = 0.0,
                 eps: float = 1e-8) -> list[dict]:
    """Optimizer groups with ``lr_scale`` and their own ``weight_decay`` (timm conventions).

    ``lr_scale`` is muP's width multiplier times the scheme's per-parameter depth multiplier
    (for models from ``amup_timm.create_model``; 1 otherwise); a scheme that scales Adam's eps
    sets the group's ``eps`` (base ``eps``). 1-D parameters and ``model.no_weight_decay()``
    names get no decay (a DDP or torch.compile wrapper is unwrapped first);
    ``amup.wd_rule=tau`` divides the decay by the depth law's LR factor.
    Pass the result to ``timm.optim.create_optimizer_v2(param_group_fn=
    ...)`` or straight to an optimizer; each group's LR is base_lr * lr_scale (timm's
    schedulers apply it; see ``apply_lr_scale``).
    """
    model = unwrap(model)
    state = getattr(model, "amup", None)
    if state is None and isinstance(model._modules.get("module"), nn.Module):
        warnings.warn(f"{type(model).__name__} wraps a module (.module) and neither carries "
                      "amup state: these groups have no muP or depth multipliers (lr_scale 1). "
                      "Build the model with amup_timm.create_model, and pass it or its wrapper",
                      stacklevel=2)
    mults = state.width_mults if state is not None else {}
    depth = state.depth_multipliers(optimizer) if state is not None else {}
    weight_decay = weight_decay * (state.decay_factor(optimizer) if state is not None else 1.0)
    skip = set(model.no_weight_decay()) if hasattr(model, "no_weight_decay") else set()
    groups: dict[tuple[float, float, float], dict] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        m = mults.get(name, WidthMult(0))
        lr_depth, eps_depth = depth.get(name, depth.get("*", (1.0, 1.0)))
        decays = p.ndim > 1 and name not in skip and not name.endswith(".bias")
        wd = weight_decay * m.weight_decay(optimizer) if decays else 0.0
        key = (m.lr(optimizer) * lr_depth, wd, eps_depth)
        if key not in groups:
            groups[key] = {"params": [], "param_names": [], "lr_scale": key[0],
                           "weight_decay": wd}
            if eps_depth != 1.0:
                groups[key]["eps"] = eps * eps_depth
        groups[key]["params"].append(p)
        groups[key]["param_names"].append(name)
    return list(groups.values())


def apply_lr_scale(optimizer: torch.optim.Optimizer, base_lr: float) -> None:
    """Set each group's lr to base_lr * lr_scale (what timm's schedulers do)."""
    for group in optimizer.param_groups:
        group["lr"] = base_lr * group.get("lr_scale", 1.0)
