"""muP width multipliers (docs/design.md §5), computed as microsoft/mup's
set_base_shapes/MuSGD/MuAdam.

Base shapes come from a *width twin* (the target at the target depth with the reference's
width kwargs). A dimension whose size differs from the twin's is "infinite"; a parameter
with one such dimension is vector-like, with two matrix-like (dims 0 and 1 are fan-out and
fan-in). At equal widths nothing is infinite and every multiplier is exactly 1.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn

from .hooks import multiply_input

# The muP rule of an optimizer follows timm's registry: one with betas (Adam, Lamb, Lion, ...)
# takes MuAdam's rule. These adaptive ones have no betas there but scale their updates per
# coordinate as Adam does; those of NO_RULE follow neither rule.
ADAPTIVE = ("Adagrad", "Adadelta", "RMSprop", "RMSpropTF", "AdafactorBigVision", "MADGRAD",
            "Kron")
NO_RULE = {"Muon": "orthogonalized updates (spectral scaling, not muP's Adam or SGD rule)",
           "Lars": "a layer-wise trust ratio that rescales each update by its weight's norm"}


@dataclass(frozen=True)
class WidthMult:
    """muP multipliers of one parameter relative to its base shape."""

    ninf: int
    fan_in: float = 1.0  # width multiplier of dim 1 (1 if finite)
    fan_out: float = 1.0  # width multiplier of dim 0 (1 if finite)
    main: float = 1.0  # multiplier of the last infinite dim (mup's InfShape.width_mult)

    def lr(self, optimizer: str) -> float:
        """LR multiplier: MuSGD for SGD-like optimizers, MuAdam for Adam-like ones."""
        if self.ninf == 0:
            return 1.0
        if is_adam_like(optimizer):
            return 1.0 / self.main if self.ninf == 2 else 1.0
        if self.ninf == 1:
            return self.main
        if self.ninf == 2:
            return self.fan_out / self.fan_in
        return 1.0

    def weight_decay(self, optimizer: str) -> float:
        """Weight-decay multiplier (mup with coupled decay; AdamW hidden x width_mult)."""
        if self.ninf == 0:
            return 1.0
        if is_adam_like(optimizer):
            return self.main if self.ninf == 2 else 1.0
        if self.ninf == 1:
            return 1.0 / self.main
        if self.ninf == 2:
            return self.fan_in / self.fan_out
        return 1.0


@lru_cache(maxsize=None)
def decoupled_decay(optimizer: str) -> bool:
    """Whether timm's ``optimizer`` decays the weights apart from the gradient (AdamW's way)
    rather than adding wd x theta to it (Adam's), from the class timm's registry builds: its
    name ends in W (AdamW, NAdamW, SGDW), or its ``decoupled_weight_decay`` / ``decoupled``
    argument (torch's Adam, NAdam, RAdam) is set by default or by the registry's defaults."""
    import inspect

    from timm.optim import get_optimizer_info

    info = get_optimizer_info(optimizer.lower().removeprefix("lookahead_"))
    cls = info.opt_class
    name = (cls if isinstance(cls, str) else cls.__name__).rsplit(".", 1)[-1]
    if name.endswith("W"):
        return True
    params = {} if isinstance(cls, str) else inspect.signature(cls.__init__).parameters
    for arg in ("decoupled_weight_decay", "decoupled"):
        if arg in params:
            return bool((info.defaults or {}).get(arg, params[arg].default))
    return False


def is_adam_like(optimizer: str) -> bool:
    """Whether timm's optimizer ``optimizer`` gets muP's Adam rule (else the SGD rule), from
    timm's registry (``has_betas``) and ADAPTIVE; an optimizer of NO_RULE fails."""
    from timm.optim import get_optimizer_info, list_optimizers

    name = optimizer.lower().removeprefix("lookahead_")
    try:
        info = get_optimizer_info(name)
    except ValueError:
        raise ValueError(f"optimizer {optimizer!r} is not in timm's registry; pick one of "
                         f"timm.optim.list_optimizers(): {list_optimizers()}") from None
    cls = info.opt_class if isinstance(info.opt_class, str) else info.opt_class.__name__
    cls = cls.rsplit(".", 1)[-1]
    if cls in NO_RULE:
        raise ValueError(f"no muP width rule is known for {optimizer!r} ({cls}: {NO_RULE[cls]});"
                         " use an Adam-like or SGD-like optimizer, or amup.width=false")
    return info.has_betas or cls in ADAPTIVE


def base_shapes(twin: nn.Module) -> dict[str, torch.Size]:
    """Parameter shapes of the width twin (build it on the meta device)."""
    return {n: p.shape for n, p in twin.named_parameters()}


def width_multipliers(model: nn.Module, base: dict[str, torch.Size]) -> dict[str, WidthMult]:
    """Each parameter's muP multipliers relative to ``base`` (matched by name)."""
    params = dict(model.named_parameters())
    extra = sorted(set(base) - set(params))
    if extra:
        warnings.warn(
            f"the width twin has parameters the model lacks ({', '.join(extra[:2])}"
            f"{', ...' if len(extra) > 2 else ''}): the two differ in more than width (e.g. a timm "
            "ResNet whose first stage matches its 64-channel 7x7 stem drops that stage's "
            "projection shortcut; a deep stem, stem_type=deep with stem_width, widens with "
            "it). muP multipliers follow the parameters they share.", stacklevel=3)
    out = {}
    for name, p in params.items():
        if name not in base or len(base[name]) != p.dim():
            raise ValueError(
                f"parameter {name!r} {tuple(p.shape)} has no counterpart in the width twin "
                f"({tuple(base.get(name, ())) or 'missing'}); the reference must differ from the "
                "target in widths only (set amup.width=false to skip muP width transfer)")
        ratios = [s / b for s, b in zip(p.shape, base[name])]
        inf = [i for i, r in enumerate(ratios) if r != 1.0]
        if len(inf) > 2:
            raise ValueError(f"parameter {name!r} changes width in {len(inf)} dims; muP "
                             "defines at most 2 (fan-out, fan-in)")
        out[name] = WidthMult(
            ninf=len(inf),
            fan_in=ratios[1] if p.dim() > 1 and 1 in inf else 1.0,
            fan_out=ratios[0] if 0 in inf and p.dim() > 1 else 1.0,
            main=ratios[inf[-1]] if inf else 1.0,
        )
    return out


def readout_width_mult(model: nn.Module, mults: dict[str, WidthMult]) -> float:
    """Fan-in multiplier of the classifier's weight (1 without a classifier)."""
    head = model.get_classifier() if hasattr(model, "get_classifier") else None
    if not isinstance(head, nn.Module) or getattr(head, "weight", None) is None:
        return 1.0
    name = next(n for n, p in model.named_parameters() if p is head.weight)
    m = mults[name]
    return m.fan_in if m.ninf else 1.0


def attach_readout(model: nn.Module, width_mult: float, zero: bool) -> None:
    """muP readout: weight x sqrt(width_mult) at init (unless zero) and input / width_mult."""
    head = model.get_classifier()
    if width_mult == 1.0 or not isinstance(head, nn.Module):
        return
    if not zero:
        with torch.no_grad():
            head.weight.mul_(width_mult ** 0.5)
    multiply_input(head, 1.0 / width_mult)
