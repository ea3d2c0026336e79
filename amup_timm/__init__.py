"""amup-timm: AM-muP for timm models.

Public API::

    model = amup_timm.create_model("resnet101", amup={"ref_depth": 18, "ref_lr": 0.1})
    res = amup_timm.resolve_config({"ref_run": "multirun/grid18"}, optimizer="momentum")
    model = amup_timm.create_model("resnet101", res.config)  # ref_lr read from the runs
    print(amup_timm.describe(model))          # K, depth measures, each branch's scale param
    t = amup_timm.transfer_lr(model)          # t.lr = 0.1 * (L / L_ref) ** -1.5
    optimizer = amup_timm.create_optimizer(model, "momentum", momentum=0.0)  # law LR, muP groups
    groups = amup_timm.param_groups(model, "sgd", weight_decay=5e-4)  # the groups alone
    probe = amup_timm.Probe(lambda seed: amup_timm.create_model("resnet18"), (x, y))
    probe.measure(0.1).per_layer_abs                    # one-step update size per layer

Names load on first use (torch and timm with them), so that Hydra's plugin scan, which imports
the search-path plugin and through it ``amup_timm.config`` at every start, stays cheap.
``import amup_timm.models`` registers the package's own timm models (plain_cnn, resnet_1conv);
every model lookup of amup_timm does it first.
"""

from importlib import import_module
from typing import Any

_API = {"AmupConfig": "config", "ModelReport": "model_report", "Probe": "experiments.probe",
        "StructureError": "structure", "Transfer": "law", "apply_lr_scale": "groups",
        "create_model": "factory", "create_optimizer": "optim", "describe": "model_report",
        "param_groups": "groups", "probe_lr": "experiments.resolve",
        "resolve_config": "experiments.resolve", "resolve_lr": "base_lr",
        "resolve_reference": "law", "transfer_lr": "law"}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'amup_timm' has no attribute {name!r}")
    value = getattr(import_module(f".{_API[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
