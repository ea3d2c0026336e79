"""amup-timm: AM-muP for timm models.

Public API::

    model = amup_timm.create_model("resnet101", amup={"ref_depth": 18, "ref_lr": 0.1})
    print(amup_timm.describe(model))          # K, depth measures, each branch's scale param
    t = amup_timm.transfer_lr(model)          # t.lr = 0.1 * (L / L_ref) ** -1.5
    optimizer = amup_timm.create_optimizer(model, "momentum", momentum=0.0)  # law LR, muP groups
    groups = amup_timm.param_groups(model, "sgd", weight_decay=5e-4)  # the groups alone
    probe = amup_timm.Probe(lambda seed: amup_timm.create_model("resnet18"), (x, y))
    probe.measure(0.1).per_layer_abs                    # one-step update size per layer
"""

from . import models  # noqa: F401  (registers plain_cnn and resnet_1conv in timm)
from .config import AmupConfig
from .factory import create_model
from .law import Transfer, resolve_reference, transfer_lr
from .optim import create_optimizer
from .probe import Probe
from .report import ModelReport, describe
from .structure import StructureError
from .width import apply_lr_scale, param_groups

__all__ = ["AmupConfig", "ModelReport", "Probe", "StructureError", "Transfer", "apply_lr_scale",
           "create_model", "create_optimizer", "describe", "param_groups", "resolve_reference",
           "transfer_lr"]
