"""``nfd``: depth-muP plus the depth-aware LR correction for multi-layer residual branches
motivated by Neural Feature Dynamics (arXiv 2512.21075, seeds/003).

That paper shows that under depth-muP's 1/sqrt(L) branch multiplier the feature updates of
the *first* internal layer of a residual block with more than one internal layer vanish like
1/sqrt(L), and proposes a depth-aware LR correction; its abstract gives no formula and the
paper was not reachable here. Derived from the stated mechanism: a layer's feature update is
linear in its LR, so multiplying the first internal layer's LR by sqrt(L / L_base) restores
its update size at every depth. Rules (L = K):
- everything of ``depth_mup`` (branch multiplier a/sqrt(L), plain branch init, SGD LR flat,
  Adam LR x (L/L_base) ** -1/2);
- the first weight of every residual branch with two or more weighted layers:
  LR x (L / L_base) ** 1/2.
docs/schemes.md measures the collapse and its repair with the probe's per-layer update sizes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .depth_mup import DepthMup

if TYPE_CHECKING:
    from ..config import AmupConfig
    from ..model_report import ModelReport


class Nfd(DepthMup):
    """depth_mup with the first internal layer's LR x sqrt(L / L_base)."""

    name = "nfd"

    def param_multipliers(self, report: ModelReport, K: int, K_base: int, cfg: AmupConfig,
                          optimizer: str) -> dict[str, tuple[float, float]]:
        if K <= 0 or K_base <= 0:
            return {}
        boost = math.sqrt(K / K_base)
        return {b.params[0]: (boost, 1.0) for b in report.branches if len(b.params) >= 2}
