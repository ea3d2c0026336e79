"""Shared by the benchmarks: interleaved A/B repeats and their summary."""

from __future__ import annotations

import statistics
from collections.abc import Callable


def interleave(a: Callable[[], float], b: Callable[[], float], repeats: int
               ) -> tuple[list[float], list[float]]:
    """Run a, b, a, b, ... ``repeats`` times each; returns both lists of measurements."""
    xs, ys = [], []
    for _ in range(repeats):
        xs.append(a())
        ys.append(b())
    return xs, ys


def summary(name: str, xs: list[float], ys: list[float], unit: str = "s/step") -> str:
    """Medians, spread and the ratio of medians (with the range of per-pair ratios)."""
    ratios = [x / y for x, y in zip(xs, ys)]
    return (f"{name}: A median {statistics.median(xs):.4g} {unit} (range {min(xs):.4g}-"
            f"{max(xs):.4g}); B median {statistics.median(ys):.4g} {unit} (range {min(ys):.4g}-"
            f"{max(ys):.4g}); A/B {statistics.median(xs) / statistics.median(ys):.4f} "
            f"(pairs {min(ratios):.4f}-{max(ratios):.4f})")
