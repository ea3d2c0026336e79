"""The transfer check: is the LR tuned on the smallest model good on the larger ones?

    amup-train -m +sweeps=transfer_check model=resnet18_narrow hydra.sweep.dir=DIR
    python -m amup_timm.check DIR            # the verdict again from DIR's records

The sweep runs a size x LR x seed grid under AM-muP and the standard baseline (a fixed coarse
grid of half decades). When it ends, ``CheckOnMultirunEnd`` runs, as multiruns into DIR:
``refine/`` (an eighth-decade grid around each coarse optimum), ``transfer/`` (every larger
size at the LR transferred from the smallest size's eta* by the product's own rule:
``amup.ref_lr``, ``amup.ref_model``, ``amup.ref_kwargs``), then writes ``DIR/verdict/``
(verdict.json, .md, eta.png, curves.png) and prints the verdict (its numbers: verdict.py;
its files, print and W&B run: report.py).
Started again in the same DIR, every stage skips the jobs it already finished.
"""

from __future__ import annotations

import argparse
import logging
import math
import subprocess
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from ..app import hydra_value
from ..knobs import nominal_depth
from .eta import DEFAULT_SELECT, SELECT_HELP, Select, cell_losses, eta_star
from .leaderboard import board
from .records import (DONE, PACKED, Record, collect, end_callback, is_done, mark_done,
                      unpacked)
from .report import check_summary, leaderboard_markdown, log_check, write_check
from .verdict import Verdict, axis_value, verdict

log = logging.getLogger(__name__)


def multirun(out: Path, overrides: list[str], extra: list[str], drop: tuple[str, ...] = ()
             ) -> bool:
    """``amup-train -m`` with the check's own overrides (less those of ``extra``'s keys and
    ``drop``'s) plus ``extra`` into ``out``; each job's directory is named by its LR or size
    and seed, so that a longer list of jobs later finds the finished ones where it looks."""
    keys = tuple(o.split("=", 1)[0] + "=" for o in extra) + ("hydra.sweep.dir=", *drop)
    cmd = [sys.executable, "-m", "amup_timm.train", "-m",
           *[o for o in overrides if not o.startswith(keys)], *extra, f"hydra.sweep.dir={out}"]
    log.info("+ amup-train %s", " ".join(cmd[4:]))
    done = subprocess.run(cmd).returncode == 0
    if not done:
        log.error("a %s multirun exited with an error; the verdict uses what finished", out.name)
    return done


COARSE = ("grid", "target_grid")  # the stages whose runs make the coarse grids


@dataclass
class Arm:
    """One way to train the deeper models: a scheme transferring from the shallowest model's
    eta* by its own rule, with extra overrides (e.g. ``amup.wd_rule=tau``); ``exponent_from``
    lists the depths whose eta* fit the exponent it trains with (``amup.exponent_from``)."""

    name: str
    scheme: str
    overrides: tuple[str, ...] = ()
    exponent_from: tuple[Any, ...] = ()


def _groups(records: list[Record], axis: str, stages: tuple[str, ...]
            ) -> dict[tuple[str, Any], list[Record]]:
    """Records of ``stages`` by (scheme, scale value)."""
    out: dict[tuple[str, Any], list[Record]] = defaultdict(list)
    for r in records:
        if r.stage in stages:
            out[(r.scheme, r.scale.get(axis, 1))].append(r)
    return out


def refine_grids(records: list[Record], axis: str, select: Select, step: float, points: int,
                 values: tuple[Any, ...] | None = None, by_scale: bool = True
                 ) -> dict[tuple[str, Any], list[float]]:
    """log10 LRs at the coarse eta* +- k * step per (scheme, size), coarse LRs left out;
    computed from the coarse grid alone, so a rerun asks for the same jobs. The size is the
    ``scale.<axis>`` value (a check's sweep: every run has a scale, the check varies it), or
    else the model and its depth label (any sweep over architectures); ``values`` keeps only
    those sizes."""
    grids = {}
    cells: dict[tuple[str, Any], list[Record]] = defaultdict(list)
    for r in records:
        if r.stage in COARSE:
            cells[(r.scheme, r.scale.get(axis, 1) if by_scale else (r.model, r.depth))].append(r)
    for key, recs in sorted(cells.items(), key=str):
        if values is not None and key[1] not in values:
            continue
        best = eta_star(recs, select)
        if best is None:
            continue
        done = {round(math.log10(lr), 4) for lr in cell_losses(recs, select)}
        center = math.log10(best[0])
        grids[key] = [x for k in range(-points, points + 1) if k
                      and (x := round(center + k * step, 4)) not in done]
    return grids


def architecture_overrides(model: str, depth: int) -> list[str]:
    """Overrides that select ``model`` at ``depth``: the depth kwarg, or the timm name."""
    return ([f"model.kwargs.depth={depth}"] if nominal_depth(model, {}) != depth
            else [f"model.name={model}"])


def references(records: list[Record], axis: str, select: str) -> dict[str, dict[str, Any]]:
    """Per scheme: the smallest size's eta* (coarse and refined runs), model and kwargs, and the
    larger scale values to transfer to."""
    by_scheme: dict[str, dict[Any, list[Record]]] = defaultdict(dict)
    for (scheme, value), recs in _groups(records, axis, (*COARSE, "refine")).items():
        by_scheme[scheme][value] = recs
    out = {}
    for scheme, by_value in sorted(by_scheme.items()):
        smallest = min(by_value)
        recs = by_value[smallest]
        best = eta_star(recs, select)
        if best is None:
            log.warning("%s: every LR diverged at the smallest size; nothing to transfer", scheme)
            continue
        out[scheme] = {"lr": best[0], "model": recs[0].model, "kwargs": recs[0].kwargs,
                       "targets": sorted(v for v in by_value if v != smallest)}
    return out


@dataclass(frozen=True)
class TargetGrid:
    """A coarse grid of ``schemes`` at ``offsets`` (decades from the grid's center) at one
    size of the check's axis."""

    value: Any
    schemes: tuple[str, ...]
    offsets: tuple[float, ...]


def grids_of(spec: dict | list | None) -> tuple[TargetGrid, ...]:
    """The plan's deeper grids from the callback's ``target_grids``: one ``{values, schemes,
    lr_offsets}`` mapping, or a list of them (other schemes or LRs at other sizes)."""
    out = []
    for g in [spec] if isinstance(spec, dict) else spec or ():
        out += [TargetGrid(v, tuple(g.get("schemes", ())), tuple(g.get("lr_offsets", ())))
                for v in g.get("values", ())]
    return tuple(out)


@dataclass
class Plan:
    """What the check runs after its grid, in this order (cheapest and most needed first, so a
    stopped check has its transferred runs before its deeper grids): refine the grid at
    ``refine_values``; transfer every arm without ``exponent_from`` to ``targets``; then for
    each of ``target_values``, a coarse grid of ``target_schemes`` at ``target_offsets``,
    refined where that value is in ``refine_values``, and every arm whose ``exponent_from``
    depths all have their grids then transfers. ``extra_seeds`` at ``seed_values``: every
    arm's transferred run there (right after its transfer) and, last, each scheme's eta* cell
    there (stage ``seeds``: selected on the grid's seeds, it selects nothing). Defaults: the
    grid's own values and schemes, one arm a scheme (the transfer check)."""

    axis: str = "depth"
    select: Select = DEFAULT_SELECT
    step: float = 0.125
    points: int = 2
    transfer_overrides: tuple[str, ...] = ()
    arms: tuple[Arm, ...] | None = None
    targets: tuple[Any, ...] | None = None
    refine_values: tuple[Any, ...] | None = None
    target_grids: tuple[TargetGrid, ...] = ()
    extra_seeds: tuple[int, ...] = ()
    seed_values: tuple[Any, ...] = ()


def run_check(sweep: Path, overrides: list[str], plan: Plan) -> None:
    """The stages of ``plan`` after a finished grid in ``sweep``."""
    axis = plan.axis
    refine(sweep, overrides, plan, plan.refine_values)
    recs = collect(sweep)
    arms = plan.arms or tuple(Arm(s, s) for s in sorted({r.scheme for r in recs}))
    for arm in arms:
        if not arm.exponent_from:
            transfer(sweep, overrides, plan, arm)
    pending = [a for a in arms if a.exponent_from]
    done = {r.scale.get(axis, 1) for r in recs if r.stage == "grid"}
    for grid in plan.target_grids:
        value = grid.value
        for scheme in grid.schemes:
            multirun(sweep / "target_grid" / f"{scheme}_{axis}{value}", overrides, [
                f"scale.{axis}={value}", f"amup.scheme={scheme}", "check.stage=target_grid",
                "check.lr_offset=" + ",".join(map(str, grid.offsets)),
                "hydra.sweep.subdir=lr${optim.log10_lr}_seed${trainer.seed}"])
        if plan.refine_values is None or value in plan.refine_values:
            refine(sweep, overrides, plan, (value,))
        done.add(value)
        for arm in [a for a in pending if set(a.exponent_from) <= done]:
            pending.remove(arm)
            transfer(sweep, overrides, plan, arm)
    for arm in pending:
        log.warning("arm %s: no grid at %s %s to fit its exponent from; not run", arm.name,
                    axis, sorted(set(arm.exponent_from) - done))
    if plan.extra_seeds:
        seed_cells(sweep, overrides, plan)


def seed_cells(sweep: Path, overrides: list[str], plan: Plan) -> None:
    """``plan.extra_seeds`` at each (scheme, size in ``plan.seed_values``)'s eta*, selected on
    the grid's own seeds, into sweep/seeds/ (stage ``seeds``, which no eta* reads)."""
    axis = plan.axis
    for (scheme, value), recs in sorted(_groups(collect(sweep), axis, (*COARSE, "refine")).items(),
                                        key=str):
        best = eta_star(recs, plan.select) if value in plan.seed_values else None
        if best is None:
            continue
        multirun(sweep / "seeds" / f"{scheme}_{axis}{value}", overrides, [
            f"scale.{axis}={value}", f"amup.scheme={scheme}", "check.stage=seeds",
            "check.lr_offset=0", f"optim.log10_lr={round(math.log10(best[0]), 4)}",
            "trainer.seed=" + ",".join(map(str, plan.extra_seeds)),
            "hydra.sweep.subdir=lr${optim.log10_lr}_seed${trainer.seed}"], drop=("optim.lr=",))


def refine(sweep: Path, overrides: list[str], plan: Plan, values: tuple[Any, ...] | None,
           by_scale: bool = True) -> None:
    """Refine the coarse optimum of every (scheme, size) at ``values`` (None: all) into
    sweep/refine/ (sizes as ``refine_grids`` reads them)."""
    axis = plan.axis
    for (scheme, value), grid in refine_grids(collect(sweep), axis, plan.select, plan.step,
                                              plan.points, values, by_scale).items():
        if not grid:
            continue
        if by_scale:
            name = f"{scheme}_{axis}{value}"
            size = [f"scale.{axis}={value}", "check.stage=refine", "check.lr_offset=0"]
        else:  # a sweep without the check's config node
            name = f"{scheme}_{value[0]}_d{value[1]}"
            size = [*architecture_overrides(*value), "++check.stage=refine"]
        multirun(sweep / "refine" / name, overrides, [
            *size, f"amup.scheme={scheme}", "optim.log10_lr=" + ",".join(map(str, grid)),
            "hydra.sweep.subdir=lr${optim.log10_lr}_seed${trainer.seed}"], drop=("optim.lr=",))


def transfer(sweep: Path, overrides: list[str], plan: Plan, arm: Arm) -> None:
    """Every target trained at the LR ``arm``'s rule transfers from the smallest size's eta*
    (of its scheme); an exponent-fitting arm first writes its fit into sweep/exponent/."""
    axis = plan.axis
    recs = collect(sweep)
    ref = references(recs, axis, plan.select).get(arm.scheme)
    if ref is None and arm.scheme not in {r.scheme for r in recs}:
        log.warning("arm %s: no grid of amup.scheme=%s to transfer from; add it to the "
                    "sweep's amup.scheme", arm.name, arm.scheme)
    targets = plan.targets if plan.targets is not None else (ref or {}).get("targets")
    if ref is None or not targets:
        return
    extra = list(arm.overrides)
    if arm.exponent_from:
        fitted = [r for r in recs if r.scheme == arm.scheme and r.stage != "transfer"
                  and axis_value(r, axis) is not None
                  and r.scale.get(axis, 1) in arm.exponent_from]
        out = sweep / "exponent" / arm.name
        write_check(verdict(fitted, axis, plan.select), out)
        extra.append(f"amup.exponent_from={hydra_value(str(out))}")
    stage = transfer_stage(plan, replace(arm, overrides=tuple(extra)), ref, targets)
    multirun(sweep / "transfer" / arm.name, overrides, stage)
    deep = [v for v in targets if v in plan.seed_values]
    if plan.extra_seeds and deep:  # the same runs with more seeds at the chosen sizes
        multirun(sweep / "seeds" / f"transfer_{arm.name}", overrides, [
            *transfer_stage(plan, replace(arm, overrides=tuple(extra)), ref, deep),
            "trainer.seed=" + ",".join(map(str, plan.extra_seeds))])


def transfer_stage(plan: Plan, arm: Arm, ref: dict[str, Any], targets: Any) -> list[str]:
    """The transfer stage's overrides for ``arm``: its targets, the reference (``ref``: the
    smallest size's eta*, model and kwargs), the plan's transfer overrides, then the arm's
    own, which win where they set the same key (Hydra keeps an override's last value)."""
    axis = plan.axis
    return [f"scale.{axis}=" + ",".join(map(str, targets)), f"amup.scheme={arm.scheme}",
            f"check.arm={arm.name}", "check.stage=transfer", "check.lr_offset=0",
            f"amup.ref_lr={ref['lr']!r}", f"amup.ref_model={ref['model']}",
            f"++amup.ref_kwargs={hydra_value(ref['kwargs'])}", *plan.transfer_overrides,
            *arm.overrides, f"hydra.sweep.subdir={axis}${{scale.{axis}}}_seed${{trainer.seed}}"]


class CheckOnMultirunEnd(Callback):
    """Hydra callback of ``+sweeps=transfer_check`` and ``+sweeps=leaderboard_long``: the
    stages of a ``Plan`` (refine, transfer, deeper grids), then the verdict. ``named_arm`` adds
    another check's named arm (``python -m amup_timm.check LEADERBOARD --named-arm``) to
    ``arms``, unless one of them trains the same way (renamed ``named_<name>`` where its name
    is taken)."""

    def __init__(self, axis: str = "depth", select: Select = DEFAULT_SELECT,
                 measure: str = "minimal_path",
                 refine_step: float = 0.125, refine_points: int = 2,
                 transfer_overrides: tuple[str, ...] = (), arms: list | None = None,
                 targets: list | None = None, refine_values: list | None = None,
                 target_grids: dict | None = None, named_arm: dict | None = None,
                 extra_seeds: dict | None = None):
        from omegaconf import OmegaConf

        def plain(x: Any) -> Any:
            return OmegaConf.to_container(x, resolve=True) if OmegaConf.is_config(x) else x

        seeds = plain(extra_seeds) or {}
        self.measure = measure
        def arm_of(a: dict) -> Arm:
            return Arm(a["name"], a.get("scheme", a["name"]), tuple(a.get("overrides", ())),
                       tuple(a.get("exponent_from", ())))

        arms = [arm_of(a) for a in plain(arms) or ()]
        if named_arm:  # another check's named arm, unless an arm here trains the same way
            arm = arm_of(plain(named_arm))
            if all((a.scheme, a.overrides, a.exponent_from)
                   != (arm.scheme, arm.overrides, arm.exponent_from) for a in arms):
                if arm.name in {a.name for a in arms}:  # another recipe under the same name
                    arm = replace(arm, name=f"named_{arm.name}")
                arms.insert(0, arm)
        self.plan = Plan(
            axis, select, refine_step, refine_points, tuple(plain(transfer_overrides) or ()),
            tuple(arms) or None,
            tuple(plain(targets)) if targets is not None else None,
            tuple(plain(refine_values)) if refine_values is not None else None,
            grids_of(plain(target_grids)), tuple(seeds.get("seeds", ())),
            tuple(seeds.get("values", ())))
        self.axis, self.select = axis, select

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Stop before any job when the family has no knob for the check's axis, or the grid
        no center for the optimizer config chosen (an exit: Hydra turns a callback's
        exceptions into warnings)."""
        if config.check.stage == "grid":
            from omegaconf import OmegaConf

            mark_done(config.hydra.sweep.dir, False)  # running (again) until every stage ends

            from ..app import grid_point
            from ..knobs import KnobError, scale_depth, scale_width

            scale = scale_depth if self.axis == "depth" else scale_width
            try:
                scale(config.model.name,
                      OmegaConf.to_container(config.model.kwargs, resolve=True), 2)
            except KnobError as e:
                raise SystemExit(f"the {self.axis} check cannot scale this model: {e}") from e
            if OmegaConf.is_interpolation(config.check, "grid_center"):  # the table's entry
                choice = config.hydra.runtime.choices.get("optim")
                try:
                    grid_point(config.check.grid_centers.get(choice) if choice else None, 0)
                except ValueError as e:
                    raise SystemExit(f"optim={choice}: {e}") from e

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if config.check.stage != "grid":  # the callback's own refine and transfer multiruns
            return
        sweep = Path(config.hydra.sweep.dir)
        overrides = list(config.hydra.overrides.task)
        # the stages run where the grid ran: the launcher chosen on the command line (SLURM,
        # joblib, basic) and its settings; they are not the jobs' own overrides
        launcher = [o for o in config.hydra.overrides.hydra
                    if o.startswith(("hydra/launcher=", "hydra.launcher."))]
        run_check(sweep, overrides + launcher, self.plan)
        result = judge(collect(sweep), self.axis, self.select, self.measure)
        result.command = "amup-train -m " + " ".join(overrides)
        mark_done(sweep, True, result.command)
        files = write_check(result, sweep / "verdict")
        print("\n".join(check_summary(result)) + "\nwrote " + ", ".join(map(str, files)),
              flush=True)
        log_check(result, files, sweep / "verdict", config.get("logger") or {})


def judge(records: list[Record], axis: str, select: str, measure: str) -> Verdict:
    """The verdict, with the leaderboard's table and the rule's decision (the picked arm's
    overrides with it) where the check ran several arms."""
    result = verdict(records, axis, select, measure)
    if any(r.arm != r.scheme for r in records):
        b = board(records, axis, select)
        result.leaderboard = leaderboard_markdown(b)
        if b.decision is not None:
            result.decision = {**asdict(b.decision), "overrides": b.overrides}
    return result


def main(argv: list[str] | None = None, quiet: bool = False) -> Verdict | None:
    p = argparse.ArgumentParser(prog="python -m amup_timm.check",
                                description="the verdict of a transfer check's records")
    p.add_argument("sweep", help="the check's multirun directory, or its packed records "
                                 "(docs/data/evidence/runs/<model>/<check>.tar.gz)")
    p.add_argument("--axis", choices=("depth", "width"), default=None,
                   help="default: the one the sweep's config names")
    p.add_argument("--select", choices=sorted(SELECT_HELP), default=None)
    p.add_argument("--measure", default="minimal_path")
    p.add_argument("--out", default=None, help="default: SWEEP/verdict (packed records: "
                                               "the unpacked copy's, in the cache)")
    p.add_argument("--named-arm", action="store_true",
                   help="print only the leaderboard's named arm, as the value of another "
                        "check's hydra.callbacks.multirun_end.named_arm")
    args = p.parse_args(argv)
    sweep = unpacked(args.sweep)
    cfg = _sweep_config(sweep)
    cb = cfg["callback"]
    axis = args.axis or cb.get("axis", "depth")
    select = args.select or cb.get("select", DEFAULT_SELECT)
    if args.named_arm:
        b = board(collect(sweep), axis, select)
        if not b.arm:
            raise SystemExit(
                f"{args.sweep}: no arm is named ({b.call}). The verdict names an arm only where "
                "its rule picks one: let the leaderboard's transfers finish with at least 3 "
                "seeds at the deepest depth (hydra.callbacks.multirun_end.extra_seeds), or give "
                "the other check the arm yourself: hydra.callbacks.multirun_end.named_arm="
                "{name:NAME,scheme:SCHEME,overrides:[...]}")
        print(hydra_value(b.arm))
        return None
    if not (is_done(sweep) or args.sweep.endswith(PACKED)):
        log.warning("%s: the check has not finished (no %s): this verdict covers the "
                    "records so far", sweep, DONE)
    result = judge(collect(sweep), axis, select, args.measure)
    result.command = "amup-train -m " + " ".join(cfg.get("overrides", []))
    files = write_check(result, Path(args.out) if args.out else sweep / "verdict")
    if not quiet:
        print("\n".join(check_summary(result)) + "\nwrote " + ", ".join(map(str, files)))
    return result


def _sweep_config(sweep: Path) -> dict:
    """The check's callback settings and command-line overrides, from multirun.yaml."""
    if not sweep.exists():
        raise SystemExit(f"{sweep} does not exist: give a check's multirun directory or its "
                         "packed records (docs/data/evidence/runs/<model>/<check>.tar.gz)")
    path = sweep / "multirun.yaml"
    if not path.is_file():
        inside = sorted(str(p.parent) for p in sweep.glob("*/multirun.yaml"))
        hint = f" (checks inside it: {', '.join(inside)})" if inside else ""
        raise SystemExit(f"{path} not found: give the directory of a check's multirun (an "
                         f"`amup-train -m +sweeps=transfer_check ...` run){hint}")
    from omegaconf import OmegaConf

    hydra = OmegaConf.to_container(OmegaConf.load(path).hydra, resolve=False)
    return {"callback": end_callback(hydra),
            "overrides": (hydra.get("overrides") or {}).get("task", [])}


if __name__ == "__main__":
    main()
