"""A model family's depth and width knobs: the timm kwargs that make it deeper or wider.

``scale_depth`` multiplies the family's depth knob (an int ``depth``/``num_blocks``, or every
stage of a per-stage ``layers``/``depths`` list); ``scale_width`` multiplies its width knob
(``width``; ResNet ``channels``, and ``stem_width`` where given (it sizes timm's deep stems;
the plain 7x7 stem has 64 channels at any width); ViT ``embed_dim`` with ``num_heads``, the
head dim fixed; ConvNeXt ``dims``). The base values must be in the kwargs, so that what a
factor means is written in the run's config. ``nominal_depth``/``nominal_width`` label a run
by its knob (int depth, total blocks of a per-stage list, or the depth in a timm name).
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from .registry import build_meta

DEPTH_INT = ("depth", "num_blocks")
DEPTH_STAGES = ("layers", "depths")
DEPTH_KWARGS = DEPTH_INT + DEPTH_STAGES
WIDTH_KWARGS = ("width", "channels", "embed_dim", "dims")
# timm families whose names carry their depth: resnet18 -> resnet101, vgg11 -> vgg19
NAMED_DEPTH = re.compile(r"^(resnetv2_|seresnet|resnext|wide_resnet|resnet|vgg)(\d+)(.*)$")


class KnobError(ValueError):
    """A family has no depth or width knob that a factor could scale."""


def _constructor_args(name: str, kwargs: dict[str, Any]) -> set[str]:
    return set(inspect.signature(type(build_meta(name, **kwargs)).__init__).parameters)


def _knob(name: str, kwargs: dict[str, Any], keys: tuple[str, ...], what: str,
          example: str) -> str | None:
    """The first of ``keys`` set in ``kwargs``; an error naming the one to set when the
    constructor takes one of them but the config does not give it; None when it takes none."""
    for key in keys:
        if key in kwargs:
            return key
    have = [k for k in keys if k in _constructor_args(name, kwargs)]
    if have:
        value = "[1,1,1,1]" if have[0] in DEPTH_STAGES else example
        raise KnobError(f"{name}: set its {what} knob in the model config, e.g. "
                        f"++model.kwargs.{have[0]}={value} (the base {what} that scale.{what} "
                        "multiplies)")
    return None


def depth_knob(name: str, kwargs: dict[str, Any]) -> str:
    """The kwarg that sets ``name``'s depth; a clear error when it is not set or not there."""
    key = _knob(name, kwargs, DEPTH_KWARGS, "depth", "4")
    if key is not None:
        return key
    named = NAMED_DEPTH.match(name)
    hint = (f"; it names its depth, so sweep model.name over {named.group(1)}<N>{named.group(3)}"
            if named else "; name each depth with model.name or model.kwargs")
    raise KnobError(f"{name} has no depth kwarg ({', '.join(DEPTH_KWARGS)}) that scale.depth "
                    f"could multiply{hint}")


def scale_depth(name: str, kwargs: dict[str, Any], factor: float) -> dict[str, Any]:
    """``kwargs`` with the depth knob multiplied by ``factor`` (every stage of a list)."""
    if factor == 1:
        return dict(kwargs)
    key = depth_knob(name, kwargs)
    value = kwargs[key]
    scaled = ([_times(v, factor, f"{key}") for v in value] if key in DEPTH_STAGES
              else _times(value, factor, key))
    return {**kwargs, key: scaled}


def width_knob(name: str, kwargs: dict[str, Any]) -> str:
    """The kwarg that sets ``name``'s width; a clear error when it is not set or not there."""
    key = _knob(name, kwargs, WIDTH_KWARGS, "width", "...")
    if key is not None:
        return key
    raise KnobError(f"{name} has no width kwarg ({', '.join(WIDTH_KWARGS)}) that scale.width "
                    "could multiply; register a variant with one (amup_timm/models.py)")


def scale_width(name: str, kwargs: dict[str, Any], factor: float) -> dict[str, Any]:
    """``kwargs`` with the width knob (and its companions) multiplied by ``factor``."""
    if factor == 1:
        return dict(kwargs)
    key = width_knob(name, kwargs)
    out = dict(kwargs)
    if key in ("channels", "dims"):
        out[key] = [_times(c, factor, key) for c in kwargs[key]]
        if key == "channels" and "stem_width" in kwargs:
            out["stem_width"] = _times(kwargs["stem_width"], factor, "stem_width")
    else:
        out[key] = _times(kwargs[key], factor, key)
    if key == "embed_dim":  # widen attention through heads: timm's fused attention has no scale
        if "num_heads" not in kwargs:
            raise KnobError(f"{name}: set model.kwargs.num_heads with embed_dim, so that width "
                            "scales the number of heads at a fixed head dim")
        out["num_heads"] = _times(kwargs["num_heads"], factor, "num_heads")
    return out


def _times(value: int, factor: float, key: str) -> int:
    scaled = value * factor
    if abs(scaled - round(scaled)) > 1e-9 or round(scaled) < 1:
        raise KnobError(f"{key}={value} x {factor} = {scaled:g} is not a positive integer; "
                        "choose a factor that keeps it whole")
    return int(round(scaled))


def nominal_depth(name: str, kwargs: dict[str, Any]) -> int | None:
    """A run's depth label: its int depth kwarg, the total blocks of a per-stage list, else
    the depth in a timm family name (resnet101 -> 101)."""
    for key in DEPTH_INT:
        if kwargs.get(key) is not None:
            return int(kwargs[key])
    for key in DEPTH_STAGES:
        if kwargs.get(key) is not None:
            return int(sum(kwargs[key]))
    m = NAMED_DEPTH.match(name)
    return int(m.group(2)) if m else None


def nominal_width(kwargs: dict[str, Any]) -> int | None:
    """A run's width label: ``width``, ``embed_dim``, or the last stage of ``channels``/``dims``."""
    for key in WIDTH_KWARGS:
        if kwargs.get(key) is not None:
            value = kwargs[key]
            return int(value[-1] if isinstance(value, (list, tuple)) else value)
    return None
