"""``create_model``: timm's factory plus the scheme's init and muP width multipliers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import timm
from torch import nn

from .config import AmupConfig, to_config
from .law import build_meta, check_model_name, resolve_reference, width_twin_kwargs
from .report import ModelReport, describe
from .schemes import get_scheme
from .width import WidthMult, attach_readout, base_shapes, readout_width_mult, width_multipliers


@dataclass
class AmupState:
    """What ``create_model`` did to a model; stored as ``model.amup``."""

    name: str
    kwargs: dict[str, Any]
    config: AmupConfig
    report: ModelReport
    width_mults: dict[str, WidthMult] = field(default_factory=dict)
    readout_mult: float = 1.0


def create_model(name: str, amup: AmupConfig | dict | None = None, **timm_kwargs: Any
                 ) -> nn.Module:
    """``timm.create_model(name, pretrained=False, **timm_kwargs)`` with AM-muP applied.

    ``amup`` is an ``AmupConfig``, a dict or an OmegaConf node (a misspelt key fails). The
    scheme initializes the model (am_mup: residual-aware He fan-in init); with a reference
    model of another width, muP multipliers come from a width twin built on meta and the
    classifier becomes muP's readout. ``model.amup`` keeps the report and the multipliers.
    """
    cfg = to_config(amup)
    check_model_name(name)
    kwargs = dict(timm_kwargs)
    model = timm.create_model(name, pretrained=False, **kwargs)
    report = describe(model)
    get_scheme(cfg.scheme).init(model, report, cfg)
    mults: dict[str, WidthMult] = {}
    readout = 1.0
    if cfg.width and cfg.scheme != "standard":
        ref = resolve_reference(name, kwargs, cfg, model)
        if ref is not None:
            twin = build_meta(name, **width_twin_kwargs(kwargs, ref))
            mults = width_multipliers(model, base_shapes(twin))
            readout = readout_width_mult(model, mults)
            attach_readout(model, readout, zero=cfg.head_init == "zero")
    model.amup = AmupState(name, kwargs, cfg, report, mults, readout)
    return model
