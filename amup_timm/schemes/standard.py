"""``standard``: timm's own initialization and one global LR (the baseline; ``amup=off``)."""

from __future__ import annotations

from .base import Scheme


class Standard(Scheme):
    """timm's init untouched; the reference LR is used as it is at every depth."""

    name = "standard"
    width_transfer = False  # the standard parametrization: no muP
