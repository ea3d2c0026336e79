"""``create_model``: timm's factory plus the scheme's init and muP width multipliers."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import timm
from torch import nn

from .config import AmupConfig, to_config
from .hooks import multiply_output
from .law import Resolved, resolve, transfer, width_twin_kwargs
from .registry import build_meta, check_model_name
from .model_report import ModelReport, describe
from .schemes import get_scheme
from .width import (
    WidthMult,
    attach_readout,
    base_shapes,
    readout_width_mult,
    width_multipliers,
)


@dataclass
class AmupState:
    """What ``create_model`` did to a model; stored as ``model.amup``."""

    resolved: Resolved  # the model's report and its reference, resolved once
    ref_source: str | None = None  # where the reference LR came from
    width_mults: dict[str, WidthMult] = field(default_factory=dict)
    readout_mult: float = 1.0
    K: int = 0
    K_base: int = 0

    name = property(lambda self: self.resolved.name)
    kwargs = property(lambda self: self.resolved.kwargs)
    config = property(lambda self: self.resolved.config)
    report = property(lambda self: self.resolved.report)

    def depth_multipliers(self, optimizer: str) -> dict[str, tuple[float, float]]:
        """The scheme's per-parameter (LR, eps) multipliers for ``optimizer``."""
        return get_scheme(self.config.scheme).param_multipliers(
            self.report, self.K, self.K_base, self.config, optimizer)

    def decay_factor(self, optimizer: str) -> float:
        """``amup.wd_rule=tau``: 1 / the depth law's LR factor (L / L_ref) ** exponent, so that
        lr x wd stays the reference's; 1 under ``coupled`` or without a reference."""
        if self.config.wd_rule == "coupled" or self.resolved.ref is None:
            return 1.0
        with warnings.catch_warnings():  # the law's Adam warning is the LR's, given there
            warnings.simplefilter("ignore")
            return 1.0 / transfer(self.resolved, optimizer, ref_lr=1.0).lr


def create_model(name: str, amup: AmupConfig | dict | None = None, **timm_kwargs: Any
                 ) -> nn.Module:
    """``timm.create_model(name, pretrained=False, **timm_kwargs)`` with AM-muP applied.

    ``amup`` is an ``AmupConfig``, a dict or an OmegaConf node (a misspelt key fails), in
    numbers: ``amup.ref_run`` and ``amup.exponent_from`` name earlier runs, which the lab reads
    first (``amup_timm.resolve_config``). The scheme initializes the model (am_mup: residual-aware He fan-in init); the reference is resolved
    and measured once; with a reference of another width, muP multipliers come from a width
    twin built on meta and the classifier becomes muP's readout. ``model.amup`` keeps all of
    it for ``transfer_lr``.
    """
    cfg = to_config(amup)
    unread = [k for k in ("ref_run", "exponent_from") if getattr(cfg, k) is not None]
    if unread:
        raise ValueError(f"amup.{unread[0]}={getattr(cfg, unread[0])} names earlier runs, which "
                         "create_model does not read: resolve them first, "
                         "res = amup_timm.resolve_config(amup, optimizer=...), then "
                         "create_model(name, res.config) (amup-train does this)")
    check_model_name(name)
    kwargs = dict(timm_kwargs)
    model = timm.create_model(name, pretrained=False, **kwargs)
    report = describe(model)
    scheme = get_scheme(cfg.scheme)
    scheme.init(model, report, cfg)
    res = resolve(name, kwargs, cfg, model, report)
    K = cfg.K if cfg.K is not None else report.num_branches
    K_base = (cfg.K_base if cfg.K_base is not None else
              res.ref_report.num_branches if res.ref_report is not None else K)
    attach_branch_multipliers(model, report, scheme.branch_multiplier(K, K_base, cfg))
    mults: dict[str, WidthMult] = {}
    readout = 1.0
    if cfg.width and res.ref is not None and scheme.width_transfer \
            and same_family(model, res, kwargs):
        ref = res.ref
        base = base_shapes(build_meta(name, **width_twin_kwargs(kwargs, ref)))
        stem = next(((n, p) for n, p in res.ref_module.named_parameters() if n in base), None)
        if stem is not None and stem[1].shape != base[stem[0]]:  # the stem carries the width
            warnings.warn(
                f"the reference {ref.model} differs in width from its width twin ({name} with "
                f"the reference's kwargs) at {stem[0]}: muP multipliers follow the twin. "
                "Give the reference's width through amup.ref_kwargs (e.g. embed_dim, width) to "
                "transfer across width.", stacklevel=2)
        mults = width_multipliers(model, base)
        readout = readout_width_mult(model, mults)
        attach_readout(model, readout, zero=cfg.head_init == "zero")
    model.amup = AmupState(res, "amup.ref_lr" if cfg.ref_lr is not None else None, mults,
                           readout, K, K_base)
    return model


def same_family(model: nn.Module, res: Resolved, kwargs: dict[str, Any]) -> bool:
    """Whether muP's width multipliers apply: the reference is of the target's family (its
    class). A reference of another family at the target's widths has none to give; one that
    would change a width is an error (parameters are matched by name within one family)."""
    if type(res.ref_module) is type(model):
        return True
    twin = width_twin_kwargs(kwargs, res.ref)
    if twin != kwargs:
        changed = sorted(k for k in twin if twin[k] != kwargs.get(k))
        raise ValueError(
            f"the reference {res.ref.model} ({type(res.ref_module).__name__}) is another family "
            f"than {res.name} ({type(model).__name__}): muP width multipliers exist only within "
            f"one family, and its kwargs {changed} would change the target's. Set "
            "amup.width=false to transfer by depth alone, or give a reference of the target's "
            "family (amup.ref_model/amup.ref_kwargs)")
    return False


def attach_branch_multipliers(model: nn.Module, report: ModelReport, scale: float) -> None:
    """Multiply every residual branch's output by ``scale`` with a forward hook on the module
    that produces it (found by the same tracing as the init)."""
    if scale == 1.0:
        return
    modules = dict(model.named_modules())
    for b in report.branches:
        if not b.module or b.module not in modules:
            raise ValueError(f"residual branch {b.name!r} is not the output of a module, so no "
                             "forward multiplier can be attached; use amup.scheme=am_mup")
        multiply_output(modules[b.module], scale)
        b.multiplier = scale
