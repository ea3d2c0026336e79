"""``completep``: CompleteP (Dey et al., arXiv 2505.01618), depth exponent alpha
(``amup.alpha``; 1 by default, 0.5 gives depth-muP's branch multiplier). EleutherAI's
nanoGPT-mup (branch completep) implements it for GPT; here it applies to any timm model.

Rules, with m_L = L / L_base and L = K (residual branches):
- every residual branch's output is multiplied by m_L ** -alpha in the forward pass; the
  branch's own init is plain He fan-in (scale parameters at 1, no zero_init_last);
- Adam/AdamW: hidden weights (the weights inside residual branches) get LR x m_L ** (alpha-1)
  on top of muP's width rule; Adam eps x m_L ** -alpha on every group; weight decay follows
  muP's width rule (the paper's Table 1 scales it with width only);
- SGD (not stated by the paper; derived here): LR x m_L ** (2 alpha - 1) for every parameter,
  constant at alpha = 1/2 as in depth-muP.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..width import is_adam_like
from .depth_mup import DepthMup

if TYPE_CHECKING:
    from ..config import AmupConfig
    from ..model_report import ModelReport


class CompleteP(DepthMup):
    """Branch multiplier (L/L_base)^-alpha with alpha-dependent hidden LR and eps (depth_mup's
    plain branch init and L = K)."""

    name = "completep"

    def depth_exponent(self, cfg: AmupConfig, optimizer: str) -> float:
        return 0.0 if is_adam_like(optimizer) else 2 * cfg.alpha - 1

    def branch_multiplier(self, K: int, K_base: int, cfg: AmupConfig) -> float:
        return (K / K_base) ** -cfg.alpha if K > 0 and K_base > 0 else 1.0

    def param_multipliers(self, report: ModelReport, K: int, K_base: int, cfg: AmupConfig,
                          optimizer: str) -> dict[str, tuple[float, float]]:
        if not is_adam_like(optimizer) or K <= 0 or K_base <= 0:
            return {}
        m = K / K_base
        hidden = {p for b in report.branches for p in b.params}
        eps = m ** -cfg.alpha
        out = {p: (m ** (cfg.alpha - 1), eps) for p in hidden}
        out["*"] = (1.0, eps)  # every other parameter: eps only
        return out
