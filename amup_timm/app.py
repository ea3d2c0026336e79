"""Hydra plumbing, torch-free (Hydra's plugin scan imports it at every start): the ``amup``
schema and the sweeps' resolvers registered, an override written in Hydra's grammar, a Hydra
app run from the package's configs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .config import AmupConfig


def hydra_value(value: Any) -> str:
    """``value`` in Hydra's override grammar (dicts, lists, strings, numbers, null)."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{hydra_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(value)


def grid_point(center: float | None, offset: float) -> float:
    """log10 LR of a check's grid point: ``offset`` decades from the grid's ``center``."""
    if center is None:
        raise ValueError("the check's LR grid has no center for this optimizer config: set "
                         "check.grid_center=<log10 of the LR at the grid's middle> (or add the "
                         "config's name to check.grid_centers)")
    return float(center) + float(offset)


def register_configs() -> None:
    """Register ``AmupConfig`` as Hydra's ``amup/amup_schema`` so the amup node is typed, and
    the resolvers the sweeps' LR grids use: ``${grid_point:${check.grid_center},-0.5}`` and
    ``${pow10:${optim.log10_lr}}``."""
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("grid_point"):
        OmegaConf.register_new_resolver("grid_point", grid_point)
    if not OmegaConf.has_resolver("pow10"):
        OmegaConf.register_new_resolver("pow10", lambda x: 10 ** float(x))
    ConfigStore.instance().store(group="amup", name="amup_schema", node=AmupConfig)


def run_app(task: Callable[[Any], Any], config_name: str) -> None:
    """Run ``task(cfg)`` as a Hydra app composed from the package's ``conf/<config_name>.yaml``
    (the command line's overrides apply, as for amup-train)."""
    import hydra

    register_configs()
    hydra.main(version_base="1.3", config_path="pkg://amup_timm.conf",
               config_name=config_name)(task)()
