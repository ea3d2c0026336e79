"""Depth parametrizations, one module each, selected by ``amup.scheme``."""

from __future__ import annotations

from .am_mup import AmMup
from .base import Scheme
from .completep import CompleteP
from .depth_mup import DepthMup
from .nfd import Nfd
from .standard import Standard

SCHEMES: dict[str, type[Scheme]] = {s.name: s for s in (AmMup, DepthMup, CompleteP, Nfd,
                                                          Standard)}


def get_scheme(name: str) -> Scheme:
    """The scheme registered as ``name``."""
    if name not in SCHEMES:
        raise ValueError(f"amup.scheme={name!r} is not one of {sorted(SCHEMES)}")
    return SCHEMES[name]()


__all__ = ["SCHEMES", "Scheme", "get_scheme"]
