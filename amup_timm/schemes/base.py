"""What a depth parametrization provides: an init and a depth exponent for the LR."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

if TYPE_CHECKING:
    from ..config import AmupConfig
    from ..report import ModelReport


class Scheme:
    """A depth parametrization: ``init`` reshapes a fresh model, ``depth_exponent`` gives the
    LR law's exponent (lr = ref_lr * (L / L_ref) ** exponent)."""

    name: str = "base"

    def init(self, model: nn.Module, report: ModelReport, cfg: AmupConfig) -> None:
        """Initialize ``model`` in place (default: keep timm's init)."""

    def depth_exponent(self, cfg: AmupConfig, optimizer: str) -> float:
        """Exponent of the depth law for ``optimizer`` (default: no depth transfer)."""
        return 0.0
