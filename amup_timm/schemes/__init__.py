"""Depth parametrizations, one module each, selected by ``amup.scheme``."""

from __future__ import annotations

from .am_mup import AmMup
from .base import Scheme
from .standard import Standard

SCHEMES: dict[str, type[Scheme]] = {"am_mup": AmMup, "standard": Standard}


def get_scheme(name: str) -> Scheme:
    """The scheme registered as ``name``."""
    if name not in SCHEMES:
        raise ValueError(f"unknown amup.scheme={name!r}; choose one of {sorted(SCHEMES)}")
    return SCHEMES[name]()


__all__ = ["SCHEMES", "Scheme", "get_scheme"]
