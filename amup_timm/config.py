"""The ``amup`` config node: a dataclass that is also Hydra's structured config, and the
checks of a setting's value (Hydra's plumbing: ``amup_timm.app``)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Optional

MEASURES = ("minimal_path", "longest_path", "blocks")
HEAD_INITS = ("fan_in", "zero")
LR_RULES = ("law", "probe")
PROBE_VARIANTS = ("absolute", "relative")
WD_RULES = ("coupled", "tau")


@dataclass
class AmupConfig:
    """Everything AM-muP needs beyond the model itself (docs/design.md §2-§5).

    scheme: depth parametrization: ``am_mup``, ``depth_mup``, ``completep``, ``nfd`` or
        ``standard`` (timm's own init and one global LR); see amup_timm/schemes/, which checks
        the name.
    alpha: CompleteP's depth exponent; branch_scale: depth-muP's branch multiplier a.
    k_exponent: branch variance is cut to 1/K**k_exponent (1: the paper, 2: official BasicBlock).
    c: He gain, Var[W] = c / fan_in.
    head_init: classifier init, ``fan_in`` (Var = 1/fan_in) or ``zero``.
    measure: depth measure used by the LR rule (``minimal_path``, ``longest_path``, ``blocks``).
    exponent: depth-law exponent, lr = ref_lr * (L / L_ref) ** exponent.
    exponent_from: a fit or transfer-check directory whose measured slope (this scheme, this
        measure) replaces ``exponent``.
    ref_model / ref_kwargs / ref_depth: the reference architecture (a timm name and kwargs, or
        the target family at another depth; ``ref_kwargs`` alone: the target's family with
        those kwargs).
    ref_lr / ref_run: the reference LR, by hand or read from a finished run.
    width: apply muP width multipliers relative to the reference's width.
    K / L / L_ref: pin the number of branches and the depths by hand.
    K_base: pin the base model's number of branches (completep's and nfd's base depth) when
        no reference model is given, e.g. in a sweep whose LRs come from a grid.
    lr_rule: ``law`` (the depth law) or ``probe`` (solve S_target(eta) = S_ref(ref_lr),
        docs/design.md §6), with probe_seeds initializations, probe_evals bisection steps,
        probe_batch_size examples and the ``absolute`` or ``relative`` S.
    wd_rule: weight decay as the LR transfers: ``coupled`` (the optimizer's decay as given) or
        ``tau`` (divided by the depth law's LR factor, so lr x wd, AdamW's timescale, stays the
        reference's; on top of muP's width rule).
    """

    scheme: str = "am_mup"
    alpha: float = 1.0
    branch_scale: float = 1.0
    k_exponent: float = 1.0
    c: float = 2.0
    head_init: str = "fan_in"
    measure: str = "minimal_path"
    exponent: float = -1.5
    exponent_from: Optional[str] = None
    ref_model: Optional[str] = None
    ref_kwargs: dict[str, Any] = field(default_factory=dict)
    ref_depth: Optional[int] = None
    ref_lr: Optional[float] = None
    ref_run: Optional[str] = None
    width: bool = True
    K: Optional[int] = None
    K_base: Optional[int] = None
    L: Optional[float] = None
    L_ref: Optional[float] = None
    lr_rule: str = "law"
    probe_seeds: int = 8
    probe_evals: int = 15
    probe_batch_size: int = 32
    probe_variant: str = "absolute"
    wd_rule: str = "coupled"

    def __post_init__(self) -> None:
        checks = [("measure", self.measure, MEASURES),
                  ("head_init", self.head_init, HEAD_INITS), ("lr_rule", self.lr_rule, LR_RULES),
                  ("probe_variant", self.probe_variant, PROBE_VARIANTS),
                  ("wd_rule", self.wd_rule, WD_RULES)]
        for key, value, allowed in checks:
            if value not in allowed:
                raise ValueError(f"amup.{key}={value!r} is not one of {list(allowed)}")
        if self.ref_lr is not None and self.ref_run is not None:
            raise ValueError("amup.ref_lr and amup.ref_run are both set; give one of them")
        if self.ref_model is not None and self.ref_depth is not None:
            raise ValueError("amup.ref_model and amup.ref_depth are both set; give one of them")
        if self.ref_lr is not None:
            require("amup.ref_lr", self.ref_lr, "a finite number > 0",
                    is_number(self.ref_lr) and 0 < self.ref_lr < math.inf)
        require("amup.exponent", self.exponent, "a finite number",
                is_number(self.exponent) and math.isfinite(self.exponent))

    @property
    def has_reference_model(self) -> bool:
        """A reference architecture is named: ``ref_model``, ``ref_depth``, or ``ref_kwargs``
        alone (the target's family with those kwargs)."""
        return self.ref_model is not None or self.ref_depth is not None or bool(self.ref_kwargs)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_number(value: Any) -> bool:
    """An int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def require(key: str, value: Any, allowed: str, ok: bool) -> None:
    """A ValueError naming the key, its value and what is allowed, unless ``ok``."""
    if not ok:
        raise ValueError(f"{key}={value!r} is not allowed: it must be {allowed}")


def to_config(amup: AmupConfig | dict | None) -> AmupConfig:
    """An ``AmupConfig`` from a config, a dict or an OmegaConf node; a misspelt key fails."""
    if amup is None:
        return AmupConfig()
    if isinstance(amup, AmupConfig):
        return amup
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(amup, DictConfig):
            amup = OmegaConf.to_container(amup, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        pass
    known = {f.name for f in fields(AmupConfig)}
    unknown = sorted(set(amup) - known)
    if unknown:
        import difflib

        hints = [f"{k!r} (did you mean {difflib.get_close_matches(k, known, 1)[0]!r}?)"
                 if difflib.get_close_matches(k, known, 1) else repr(k) for k in unknown]
        raise ValueError(f"unknown amup option(s) {', '.join(hints)}; known: {sorted(known)}")
    amup = dict(amup)
    amup["ref_kwargs"] = dict(amup.get("ref_kwargs") or {})
    return AmupConfig(**amup)


_MOVED = {"hydra_value", "grid_point", "register_configs", "run_app"}


def __getattr__(name: str) -> Any:
    """The Hydra plumbing that lived here until 0.2.0: an import of it names its new path."""
    if name in _MOVED:
        raise ImportError(f"amup_timm.config.{name} moved to amup_timm.app.{name} in 0.2.0: "
                             f"from amup_timm.app import {name}")
    raise AttributeError(f"module 'amup_timm.config' has no attribute {name!r}")
