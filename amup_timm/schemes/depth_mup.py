"""``depth_mup``: Depth-muP (Yang et al., Tensor Programs VI, arXiv 2310.02244; Bordelon et
al., arXiv 2309.16620).

Rules, with L = K (residual branches), whatever ``amup.measure`` says:
- every residual branch's output is multiplied by a / sqrt(L) in the forward pass
  (``amup.branch_scale`` = a; a multiplier, not a rescaled weight);
- the branch's own init is plain He fan-in (LayerScale and norm scales at 1, no
  zero_init_last): the multiplier alone does the 1/sqrt(L) job, never twice;
- SGD: LR unchanged in depth; Adam/AdamW: LR x (L / L_base) ** -1/2.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from torch import nn

from ..width import is_adam_like
from .am_mup import he_init, scale_branches
from .base import Scheme

if TYPE_CHECKING:
    from ..config import AmupConfig
    from ..model_report import ModelReport


class DepthMup(Scheme):
    """Branch multiplier a/sqrt(L); Adam LR ~ L^-1/2, SGD LR flat."""

    name = "depth_mup"

    def init(self, model: nn.Module, report: ModelReport, cfg: AmupConfig) -> None:
        he_init(model, cfg.c, cfg.head_init)
        scale_branches(model, report, 1.0, cfg.c)

    def measure(self, cfg: AmupConfig) -> str:
        return "blocks"

    def depth_exponent(self, cfg: AmupConfig, optimizer: str) -> float:
        return -0.5 if is_adam_like(optimizer) else 0.0

    def branch_multiplier(self, K: int, K_base: int, cfg: AmupConfig) -> float:
        return cfg.branch_scale / math.sqrt(K) if K > 0 else 1.0
