"""The reference model and the depth law lr = ref_lr * (L / L_ref) ** exponent
(docs/design.md §4)."""

from __future__ import annotations

import inspect
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import timm
from torch import nn

from .config import AmupConfig, to_config
from .knobs import DEPTH_INT, DEPTH_KWARGS, DEPTH_STAGES, NAMED_DEPTH
from .registry import build_meta, check_model_name
from .model_report import ModelReport, describe
from .schemes import get_scheme
from .width import is_adam_like

DATA_KWARGS = ("in_chans", "num_classes")  # set by the data, not by the architecture


@dataclass
class Reference:
    """A reference architecture: a timm name and its kwargs."""

    model: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Resolved:
    """A target's report and its reference (None: the target is its own), resolved once."""

    name: str
    kwargs: dict[str, Any]
    config: AmupConfig
    report: ModelReport
    ref: Reference | None = None
    ref_report: ModelReport | None = None
    ref_module: nn.Module | None = None  # the reference built on meta (shapes only)


@dataclass
class Transfer:
    """A transferred learning rate and everything it was computed from."""

    lr: float
    ref_lr: float
    L: float
    L_ref: float
    K: int
    K_ref: int
    measure: str
    exponent: float
    scheme: str
    ref_model: str
    ref_kwargs: dict[str, Any]
    depths: dict[str, int]
    ref_depths: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _int_depth_arg(model: nn.Module) -> str | None:
    params = inspect.signature(type(model).__init__).parameters
    for arg in DEPTH_INT:
        if arg in params and isinstance(params[arg].default, int):
            return arg
    return None


def resolve_reference(name: str, kwargs: dict[str, Any], cfg: AmupConfig,
                      target: nn.Module | None = None) -> Reference | None:
    """The reference architecture of docs/design.md §4 (a)-(c), or None when there is none."""
    if cfg.ref_model is not None:
        check_model_name(cfg.ref_model)
        data = {k: kwargs[k] for k in DATA_KWARGS if k in kwargs}  # the reference saw this data
        return Reference(cfg.ref_model, {**data, **cfg.ref_kwargs})
    if cfg.ref_depth is None:  # ref_kwargs alone: the target's family with those kwargs
        return Reference(name, {**kwargs, **cfg.ref_kwargs}) if cfg.ref_kwargs else None
    target = target if target is not None else build_meta(name, **kwargs)
    arg = _int_depth_arg(target)
    if arg is not None:  # (a) constructors with an int depth
        return Reference(name, {**kwargs, **cfg.ref_kwargs, arg: int(cfg.ref_depth)})
    m = NAMED_DEPTH.match(name)
    if m is not None:  # (b) families that name their depth
        prefix, _, suffix = m.groups()
        ref = f"{prefix}{cfg.ref_depth}{suffix}"
        stages = [k for k in DEPTH_STAGES if k in kwargs and k not in cfg.ref_kwargs]
        if stages:  # the kwargs fix the blocks: the name would change nothing
            raise ValueError(
                f"amup.ref_depth={cfg.ref_depth}: {name} is built with {stages[0]}="
                f"{kwargs[stages[0]]}, which the reference {ref} would inherit, so it would be "
                f"the target's depth. Give the reference's blocks with ++amup.ref_kwargs="
                f"{{{stages[0]}:[...]}}, or drop model.kwargs.{stages[0]}.")
        if timm.is_model(ref):
            return Reference(ref, {**kwargs, **cfg.ref_kwargs})
        depths = sorted({int(x.group(2)) for x in map(NAMED_DEPTH.match, timm.list_models(
            f"{prefix}*{suffix}")) if x and x.group(1) == prefix and x.group(3) == suffix})
        raise ValueError(f"amup.ref_depth={cfg.ref_depth}: {ref!r} is not in timm's registry; "
                         f"depths that exist for {prefix}*{suffix}: {depths}. Use one of them, "
                         "or name the reference with amup.ref_model (and amup.ref_kwargs).")
    raise ValueError(
        f"amup.ref_depth={cfg.ref_depth}: cannot derive a reference from {name!r}: its "
        f"constructor ({type(target).__name__}) takes no int `depth` and its name does not "
        f"carry its depth. Name the reference with amup.ref_model=<timm name> and "
        f"amup.ref_kwargs (e.g. the same family with fewer blocks).")


def width_twin_kwargs(kwargs: dict[str, Any], ref: Reference) -> dict[str, Any]:
    """The target's kwargs overridden by the reference's non-depth kwargs."""
    return {**kwargs, **{k: v for k, v in ref.kwargs.items() if k not in DEPTH_KWARGS}}


def depth_of(report: ModelReport, measure: str, pinned: float | None = None) -> float:
    """The depth used by the law: a pinned value, else the report's measure."""
    if pinned is not None:
        return float(pinned)
    value = report.depth[measure]
    if value <= 0:
        raise ValueError(f"{report.model} has {measure}={value}; pick another amup.measure "
                         "or pin amup.L / amup.L_ref by hand")
    return float(value)


def sgd_like(optimizer: str) -> bool:
    """Whether ``optimizer`` follows muP's SGD rule: the setting the -3/2 law is derived in."""
    try:
        return not is_adam_like(optimizer)
    except ValueError:  # no muP rule at all
        return False


def law(ref_lr: float, L: float, L_ref: float, exponent: float = -1.5) -> float:
    """The depth law lr = ref_lr * (L / L_ref) ** exponent."""
    return ref_lr * (L / L_ref) ** exponent


def resolve(name: str, kwargs: dict[str, Any], cfg: AmupConfig, target: nn.Module | None = None,
            report: ModelReport | None = None) -> Resolved:
    """Measure the target and resolve and measure its reference, once (built on meta)."""
    if cfg.ref_run is not None:
        raise ValueError(f"amup.ref_run={cfg.ref_run} is read before the law: resolve it with "
                         "amup_timm.resolve_config(amup) and give its config")
    target = target if target is not None else build_meta(name, **kwargs)
    report = report if report is not None else describe(target)
    ref = resolve_reference(name, kwargs, cfg, target)
    ref_module = build_meta(ref.model, **ref.kwargs) if ref is not None else None
    return Resolved(name, dict(kwargs), cfg, report, ref,
                    describe(ref_module) if ref_module is not None else None, ref_module)


def transfer(res: Resolved, optimizer: str = "sgd", ref_lr: float | None = None) -> Transfer:
    """The law's arithmetic for a resolved target: ``ref_lr`` (default ``amup.ref_lr``) times
    (L / L_ref) ** exponent, the exponent the scheme gives for ``optimizer``."""
    cfg = res.config
    ref_lr = cfg.ref_lr if ref_lr is None else ref_lr
    if ref_lr is None:
        raise ValueError("the reference has no LR: add amup.ref_lr=<best LR of the reference> "
                         "or amup.ref_run=<its run or multirun directory>")
    ref = res.ref or Reference(res.name, res.kwargs)
    ref_report = res.ref_report or res.report
    scheme = get_scheme(cfg.scheme)
    exponent = scheme.depth_exponent(cfg, optimizer)
    if exponent == -1.5 and not sgd_like(optimizer):
        warnings.warn(f"the -3/2 depth law is a plain-SGD result; applying it to {optimizer!r}. "
                      "With AdamW over long runs the measured optimum did not fall with depth "
                      "(docs/evidence.md): measure your family's exponent with "
                      "+sweeps=transfer_check_long optim=adamw and train with "
                      "amup.exponent_from=<that sweep dir>", stacklevel=3)
    measure = scheme.measure(cfg)
    L = depth_of(res.report, measure, cfg.L)
    L_ref = depth_of(ref_report, measure, cfg.L_ref)
    return Transfer(lr=law(ref_lr, L, L_ref, exponent), ref_lr=ref_lr, L=L, L_ref=L_ref,
                    K=cfg.K if cfg.K is not None else res.report.num_branches,
                    K_ref=ref_report.num_branches, measure=measure, exponent=exponent,
                    scheme=cfg.scheme, ref_model=ref.model, ref_kwargs=ref.kwargs,
                    depths=dict(res.report.depth), ref_depths=dict(ref_report.depth))


def transfer_lr(model: nn.Module | str, amup: AmupConfig | dict | None = None, *,
                ref_lr: float | None = None, optimizer: str = "sgd",
                **timm_kwargs: Any) -> Transfer:
    """The LR for ``model`` transferred from its reference through the depth law.

    ``model`` is a model from ``amup_timm.create_model``, whose reference was resolved and
    measured when it was built, or a timm name with ``timm_kwargs`` (measured on meta).
    An ``amup`` config given with a model is resolved anew. ``ref_lr`` defaults to
    ``amup.ref_lr``; with no reference model, the target is its own reference (lr = ref_lr).
    """
    if isinstance(model, str):
        res = resolve(model, timm_kwargs, to_config(amup))
    elif amup is not None:
        state = model.amup
        res = resolve(state.name, state.kwargs, to_config(amup), model, state.report)
    else:
        res = model.amup.resolved
    return transfer(res, optimizer, ref_lr)
