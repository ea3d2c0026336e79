"""``describe``: what AM-muP sees in a model (branches, K, depth measures)."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from .depth import depth_measures
from .structure import Branch, find_branches, trace


@dataclass
class ModelReport:
    """Residual branches and depth measures of one model."""

    model: str
    num_branches: int
    depth: dict[str, int]
    branches: list[Branch] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"model": self.model, "num_branches": self.num_branches, "depth": dict(self.depth),
                "branches": [b.as_dict() for b in self.branches]}

    def __str__(self) -> str:
        head = (f"{self.model}: K={self.num_branches} residual branches; depth "
                + ", ".join(f"{k}={v}" for k, v in self.depth.items()))
        if not self.branches:
            return head
        rows = [("branch", "scale_param", "kind", "skip", "weighted", "multiplier")] + [
            (b.name, b.scale_param or "-", b.scale_kind or "-", b.skip, str(b.num_weighted),
             f"{b.multiplier:.4g}") for b in self.branches]
        widths = [max(len(r[i]) for r in rows) for i in range(6)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return head + "\n" + "\n".join(lines)


def model_name(model: nn.Module) -> str:
    """timm's architecture name of a model, else its class name."""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    return cfg.get("architecture") or type(model).__name__


def describe(model: nn.Module, input_size: tuple[int, ...] | None = None) -> ModelReport:
    """Trace ``model`` once (fake tensors, no compute) and report its branches and depths."""
    graph = trace(model, input_size)
    branches = find_branches(graph)
    return ModelReport(model_name(model), len(branches), depth_measures(graph, len(branches)),
                       branches)
