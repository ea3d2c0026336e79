"""The lab's resolution steps: what the library takes as numbers, read from earlier runs.

    res = resolve_config({"ref_run": "multirun/grid", "ref_depth": 18}, optimizer="momentum")
    model = amup_timm.create_model("resnet101", res.config)   # ref_lr, ref_model, ref_kwargs
    lr, record = amup_timm.resolve_lr(model, optim)           # the law's LR
    lr = probe_lr(model, optim, data, record)                 # amup.lr_rule=probe only

``resolve_config`` reads ``amup.exponent_from`` (a fit's or check's measured exponent) and
``amup.ref_run`` (eta* of a reference run or sweep, of the target's optimizer) into
``exponent``, ``ref_lr``, ``ref_model`` and ``ref_kwargs`` before ``create_model``;
``probe_lr``, which needs the built model and a batch, solves the AM criterion after it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch.distributed as dist
from torch import nn

from ..config import AmupConfig, to_config
from .probe import first_batch, probe_transfer
from .reference_runs import apply_exponent_from, apply_ref_run


@dataclass
class Resolution:
    """An ``amup`` config in numbers, where its reference LR came from and where its exponent
    was read."""

    config: AmupConfig
    source: str | None  # "ref_run:<path>", "amup.ref_lr" or None (no reference LR)
    exponent_from: str | None = None  # the fit or check the exponent was read from


def resolve_config(amup: AmupConfig | dict | Any, optimizer: str | None = None,
                   target: str | None = None) -> Resolution:
    """``amup`` with ``exponent_from`` and ``ref_run`` read (the reference's runs of
    ``optimizer`` only, where given; a reference of another family than the ``target`` model
    is logged) into the numbers ``create_model`` takes."""
    given = to_config(amup)
    cfg, source = apply_ref_run(apply_exponent_from(given), optimizer=optimizer, target=target)
    return Resolution(replace(cfg, exponent_from=None), source, given.exponent_from)


def probe_lr(model: nn.Module, optim: Any, data: Any, record: dict) -> float:
    """``amup.lr_rule=probe``: the LR at which the target's one-step update size equals the
    reference's at its LR (docs/design.md §6), run once on rank 0 and shared; ``record`` (the
    law's, from ``resolve_lr``) gains ``lr_probe``."""
    amup = model.amup.config
    shared = {k: model.amup.kwargs[k] for k in ("num_classes", "in_chans")}
    box = [None]
    if not dist.is_initialized() or dist.get_rank() == 0:
        box[0] = probe_transfer(
            model.amup.name, model.amup.kwargs, record["ref_model"],
            {**shared, **record["ref_kwargs"]}, amup, first_batch(data, amup.probe_batch_size),
            record["ref_lr"], optim.opt, float(optim.weight_decay), float(optim.momentum))
    if dist.is_initialized():
        dist.broadcast_object_list(box, src=0)
    record["lr_probe"] = box[0]
    return box[0]
