"""``am_mup``: Arithmetic-Mean muP (Zhang et al., arXiv 2510.04327 and 2602.07494).

Rules (docs/design.md §2 and §4):
- every conv/linear weight He fan-in, Var[W] = c / fan_in (c = 2); biases zero;
- classifier Var = 1 / fan_in, or zero (``head_init``);
- each of the K residual branches has its output variance cut to 1/K**k_exponent through the
  one parameter that carries its scale: a LayerScale gamma or a norm directly after the
  branch's last weight is set to K**(-k_exponent/2), else the last weight gets
  Var = c / (K**k_exponent * fan_in); weight-standardized convs use their gain or refuse;
- LR: lr = ref_lr * (L / L_ref) ** exponent, exponent = -3/2 by default (a plain-SGD law).
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..structure import is_standardized
from .base import Scheme

if TYPE_CHECKING:
    from ..config import AmupConfig
    from ..model_report import ModelReport

_WEIGHTED = (nn.Linear, nn.modules.conv._ConvNd)


def fan_in(weight: torch.Tensor) -> int:
    """Inputs feeding one output unit: in_channels/groups x kernel size (conv), in_features."""
    return weight[0].numel()


@torch.no_grad()
def he_init(model: nn.Module, c: float, head_init: str) -> None:
    """He fan-in for every conv/linear weight (Var = c / fan_in), zero biases; the classifier
    gets Var = 1 / fan_in or zero."""
    head = model.get_classifier() if hasattr(model, "get_classifier") else None
    head_modules = set(head.modules()) if isinstance(head, nn.Module) else set()
    for m in model.modules():
        if not isinstance(m, _WEIGHTED) or getattr(m, "transposed", False):
            continue
        if m in head_modules and head_init == "zero":
            m.weight.zero_()
        else:
            gain = 1.0 if m in head_modules else c
            m.weight.normal_(0.0, math.sqrt(gain / fan_in(m.weight)))
        if m.bias is not None:
            m.bias.zero_()


@torch.no_grad()
def scale_branches(model: nn.Module, report: ModelReport, scale: float, c: float) -> None:
    """Multiply each branch's output scale by ``scale`` through its scale parameter (a
    LayerScale or norm weight is set to it; a last weight gets std sqrt(c/fan_in) * scale)."""
    params = dict(model.named_parameters())
    modules = dict(model.named_modules())
    for b in report.branches:
        if b.scale_param is None or b.scale_param not in params:
            why = ("ends in a norm without an affine weight, which undoes a weight rescale"
                   if b.scale_param == "<non-affine norm>" else
                   "has no LayerScale, norm or weight that carries its scale")
            warnings.warn(
                f"residual branch {b.name!r} {why}: its output variance is NOT reduced. Use a "
                "variant with an affine norm or LayerScale, a scheme with forward branch "
                "multipliers (amup.scheme=depth_mup), or amup.scheme=standard.", stacklevel=3)
            continue
        p = params[b.scale_param]
        if b.scale_kind in ("layerscale", "norm"):
            p.fill_(scale)
        elif is_standardized(modules, b.scale_param):
            owner = modules[b.scale_param.rsplit(".", 1)[0]]
            if not isinstance(getattr(owner, "gain", None), torch.Tensor):
                raise ValueError(
                    f"branch {b.name!r} ends in {type(owner).__name__} {b.scale_param!r}, a "
                    "weight-standardized conv that undoes any weight rescale and has no gain "
                    "to scale. Use a variant without weight standardization (e.g. resnetv2_50 "
                    "instead of a *_bit model) or amup.scheme=standard.")
            owner.gain.fill_(scale)
        else:
            p.normal_(0.0, math.sqrt(c / fan_in(p)) * scale)


class AmMup(Scheme):
    """Residual-aware He fan-in init and the -3/2 depth law."""

    name = "am_mup"

    def init(self, model: nn.Module, report: ModelReport, cfg: AmupConfig) -> None:
        he_init(model, cfg.c, cfg.head_init)
        K = cfg.K if cfg.K is not None else report.num_branches
        if K > 0:
            scale_branches(model, report, K ** (-cfg.k_exponent / 2), cfg.c)

    def depth_exponent(self, cfg: AmupConfig, optimizer: str) -> float:
        return cfg.exponent
