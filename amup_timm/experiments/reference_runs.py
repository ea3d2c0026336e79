"""What the law reads from earlier runs, before it runs: ``amup.ref_run`` (the reference LR and
model of a finished run or sweep) and ``amup.exponent_from`` (a measured exponent)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..config import AmupConfig
from ..registry import build_meta
from .eta import DEFAULT_SELECT, SELECT, eta_star, gaps_near
from .records import collect, end_callback, unpacked

log = logging.getLogger(__name__)


@dataclass
class RefRun:
    """The reference read from a run: its LR, model and kwargs, and where it came from."""

    lr: float
    model: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    source: str = ""


def sweep_select(source: str) -> str:
    """How the sweep in ``source`` selected eta* (its check's ``select``, from multirun.yaml),
    else the default."""
    path = unpacked(source) / "multirun.yaml"
    if not source.startswith("wandb:") and path.is_file():
        from omegaconf import OmegaConf

        hydra = OmegaConf.load(path).get("hydra") or {}
        select = end_callback(hydra).get("select")
        if select in SELECT:
            return str(select)
    return DEFAULT_SELECT


def read_reference(source: str, cfg: AmupConfig, select: str | None = None,
                   optimizer: str | None = None) -> RefRun:
    """eta* at the reference depth of a run directory, multirun directory or W&B path: over
    the records of ``cfg.scheme`` (and ``optimizer``, if given), selected as the sweep that
    made them selected (``select`` overrides). A record that does not validate stops it: an
    eta* read past it could be the wrong one."""
    records = collect(source)
    if not records:
        raise FileNotFoundError(f"amup.ref_run={source} holds no results.json: give a finished "
                                "run directory, a multirun directory, or wandb:ENTITY/PROJECT/ID")
    invalid = [r.error for r in records if (r.error or "").startswith("invalid record")]
    if invalid:
        raise ValueError(f"amup.ref_run={source} holds {len(invalid)} record(s) that do not "
                         f"validate, so its eta* is unknown; first: {invalid[0]}")
    usable = [r for r in records if r.status in ("finished", "diverged") and r.lr]
    schemes = sorted({r.scheme for r in usable})
    usable = [r for r in usable if r.scheme == cfg.scheme]
    if schemes and not usable:
        raise ValueError(f"amup.ref_run={source} holds runs of schemes {schemes}, none of "
                         f"amup.scheme={cfg.scheme}: set amup.scheme to the reference's scheme "
                         "or give a reference trained with this one")
    optimizers = sorted({r.optimizer or "?" for r in usable})
    if optimizer is not None:
        usable = [r for r in usable if r.optimizer == optimizer]
        if not usable:
            raise ValueError(f"amup.ref_run={source} holds no {cfg.scheme} run with optimizer "
                             f"{optimizer!r}, the target's (its runs used {optimizers}): give a "
                             f"reference sweep of {optimizer!r}, or, to transfer another "
                             "optimizer's LR on purpose, its LR as amup.ref_lr")
    elif len(optimizers) > 1:
        raise ValueError(f"amup.ref_run={source} holds {cfg.scheme} runs of several optimizers "
                         f"{optimizers}: give the directory of one optimizer's sweep")
    depths = sorted({r.depth for r in usable}, key=lambda d: (d is None, d))
    if cfg.ref_depth is not None:
        usable = [r for r in usable if r.depth == cfg.ref_depth]
        if not usable:
            raise ValueError(f"amup.ref_run={source} has no {cfg.scheme} run at amup.ref_depth="
                             f"{cfg.ref_depth}; depths it holds: {depths}")
    elif len(depths) > 1:
        raise ValueError(f"amup.ref_run={source} holds several depths {depths}; choose one "
                         "with amup.ref_depth")
    best = eta_star(usable, select or sweep_select(source))
    if best is None:
        statuses = sorted({r.status for r in records})
        raise ValueError(f"amup.ref_run={source} has no finished run to take an LR from "
                         f"(statuses: {statuses}); rerun the reference with smaller LRs")
    lr = best[0]
    gaps = gaps_near(usable + [r for r in records if r.status == "failed"], lr)
    if gaps:
        log.warning("amup.ref_run=%s: eta* %.4g sits next to LR(s) %s with a failed or missing "
                    "run; the reference's optimum may lie there (rerun those jobs)", source, lr,
                    [f"{g:.4g}" for g in gaps])
    winner = next(r for r in usable if r.lr == lr and r.status == "finished")
    where = winner.path if len(records) > 1 else source
    return RefRun(lr=lr, model=winner.model, kwargs=dict(winner.kwargs),
                  source=f"ref_run:{where}")


def family(name: str, kwargs: dict[str, Any] | None = None) -> str:
    """A model's family: the class timm builds for it (resnet18 and resnet50: ResNet)."""
    try:
        return type(build_meta(name, **(kwargs or {}))).__name__
    except Exception:  # noqa: BLE001 - kwargs of another family: the name decides
        return type(build_meta(name)).__name__


def apply_ref_run(cfg: AmupConfig, optimizer: str | None = None, target: str | None = None
                  ) -> tuple[AmupConfig, str | None]:
    """``cfg`` with ``ref_run`` resolved into ``ref_lr`` and, unless ``ref_model`` names the
    reference, the run's own model and kwargs as the reference (``ref_depth`` chose the
    records: a check's depth label need not be a timm name), and where its LR came from. Only
    runs of ``optimizer`` are read, if given; a reference of another family than ``target``
    is logged (the law across families is the user's assumption)."""
    if cfg.ref_run is None:
        return cfg, "amup.ref_lr" if cfg.ref_lr is not None else None
    ref = read_reference(cfg.ref_run, cfg, optimizer=optimizer)
    if target is not None and cfg.ref_model is None \
            and family(ref.model, ref.kwargs) != family(target):
        log.warning("amup.ref_run=%s is a %s (%s), another family than the target %s (%s): "
                    "its LR is transferred by the depth law across families, which is your "
                    "assumption (as with an explicit amup.ref_model)", cfg.ref_run, ref.model,
                    family(ref.model, ref.kwargs), target, family(target))
    model = {} if cfg.ref_model is not None else {"ref_model": ref.model,
                                                  "ref_kwargs": ref.kwargs, "ref_depth": None}
    return replace(cfg, ref_run=None, ref_lr=ref.lr, **model), ref.source


def read_exponent(source: str, scheme: str, measure: str) -> float:
    """The eta*(L) slope a fit (fit.json) or a transfer check (verdict.json) measured for
    ``scheme`` by ``measure``, from that file or the directory holding it (or its fit/ or
    verdict/ folder)."""
    path = Path(source)
    found = [f for f in (path, path / "verdict.json", path / "fit.json",
                         path / "verdict" / "verdict.json", path / "fit" / "fit.json")
             if f.is_file()]
    if not found:
        raise FileNotFoundError(f"amup.exponent_from={source}: no verdict.json or fit.json there; "
                                "give the directory of `python -m amup_timm.fit` or of a "
                                "transfer check")
    result = json.loads(found[0].read_text())
    groups = [g for g in result["groups"] if g["scheme"] == scheme]
    if len({g["optimizer"] for g in groups}) != 1:
        raise ValueError(f"amup.exponent_from={found[0]} holds {len(groups)} fits for scheme "
                         f"{scheme!r} (optimizers {sorted(g['optimizer'] for g in groups)}); give "
                         "the fit of one optimizer")
    slope = (groups[0].get("trends") or groups[0].get("slopes") or {}).get(measure, {}).get("slope")
    if slope is None:
        raise ValueError(f"amup.exponent_from={found[0]} has no {measure} slope for {scheme!r}")
    return float(slope)


def apply_exponent_from(cfg: AmupConfig) -> AmupConfig:
    """``cfg`` with ``exponent`` measured by the fit ``amup.exponent_from`` names."""
    if cfg.exponent_from is None:
        return cfg
    return replace(cfg, exponent=read_exponent(cfg.exponent_from, cfg.scheme, cfg.measure))
