"""What a depth parametrization provides, as one small swappable piece.

A scheme initializes a fresh model, may multiply each residual branch's output in the forward
pass, gives the exponent of the global depth law for the base LR, and may scale single
parameters' LR (``lr_scale``) and Adam eps on top of muP's width multipliers. K is the
model's number of residual branches and K_base the reference's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

if TYPE_CHECKING:
    from ..config import AmupConfig
    from ..model_report import ModelReport


class Scheme:
    """The default is timm's model untouched and one global LR."""

    name: str = "base"
    width_transfer: bool = True  # muP width multipliers against a reference of another width

    def init(self, model: nn.Module, report: ModelReport, cfg: AmupConfig) -> None:
        """Initialize ``model`` in place (default: keep timm's init)."""

    def measure(self, cfg: AmupConfig) -> str:
        """The depth measure the scheme's LR rule counts."""
        return cfg.measure

    def depth_exponent(self, cfg: AmupConfig, optimizer: str) -> float:
        """Exponent of the global law lr = ref_lr * (L / L_ref) ** exponent."""
        return 0.0

    def branch_multiplier(self, K: int, K_base: int, cfg: AmupConfig) -> float:
        """Forward multiplier of every residual branch's output (1: none)."""
        return 1.0

    def param_multipliers(self, report: ModelReport, K: int, K_base: int, cfg: AmupConfig,
                          optimizer: str) -> dict[str, tuple[float, float]]:
        """Per-parameter (LR multiplier, Adam eps multiplier); parameters not named get 1."""
        return {}
