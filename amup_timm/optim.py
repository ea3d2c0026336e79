"""``create_optimizer``: timm's optimizer with the law's LR, the muP/scheme groups and
``lr_scale`` applied, so that a training loop needs two lines::

    model = amup_timm.create_model("resnet101", amup={"ref_depth": 18, "ref_lr": 0.1})
    optimizer = amup_timm.create_optimizer(model, "momentum", momentum=0.0)
"""

from __future__ import annotations

from typing import Any

import torch
from timm.optim import create_optimizer_v2
from torch import nn

from .law import transfer_lr
from .groups import param_groups, unwrap


def create_optimizer(model: nn.Module, opt: str = "sgd", lr: float | None = None,
                     weight_decay: float = 0.0, **timm_kwargs: Any) -> torch.optim.Optimizer:
    """``timm.optim.create_optimizer_v2`` for a model from ``amup_timm.create_model``.

    ``lr`` is the base LR; by default the one the depth law transfers from the model's
    reference LR (``amup.ref_lr`` or ``amup.ref_run``) for ``opt``. Groups are
    ``param_groups(model, opt, weight_decay)``; each group's ``lr`` is base x ``lr_scale``
    and its ``initial_lr`` the base, so the optimizer is right as returned and under timm's
    schedulers, which apply ``lr_scale`` themselves (PyTorch's own schedulers do not).
    ``timm_kwargs`` (momentum, betas, eps, ...) go to timm.
    """
    model = unwrap(model)
    if lr is None:
        lr = transfer_lr(model, optimizer=opt).lr
    optimizer = create_optimizer_v2(
        model, opt, lr=lr, weight_decay=weight_decay,
        param_group_fn=lambda m: param_groups(m, opt, weight_decay), **timm_kwargs)
    for group in optimizer.param_groups:
        group["initial_lr"] = lr
        group["lr"] = lr * group.get("lr_scale", 1.0)
    return optimizer
