"""Copy the checks into docs/ and write the summary tables of docs/evidence.md (depth) and
docs/width.md (width, depth with width, coordinate checks).

    python sweeps/publish_evidence.py [multirun/evidence]

Every multirun/evidence/<model>/<check>_<optim>/, finished or not, has its runs' results.json
(with the sweep's multirun.yaml) packed into docs/data/evidence/runs/<model>/<check>.tar.gz:
enough to redo a verdict (python -m amup_timm.check docs/data/evidence/runs/<model>/<check>.tar.gz)
or, unpacked (tar -xzf FILE -C multirun/evidence/<model>/), to resume the check where it stopped. For each finished check
(its callback wrote check_done.json when every stage had run; a verdict made by hand from a
running check does not count), the verdict is made again from the records; verdict.json and .md go to
docs/data/evidence/<model>_<check>_<optim>.*, its plots to docs/img/evidence/. The tables are
then made from docs/data alone and written between the pages' ``<!-- table: NAME -->`` and
``<!-- end table -->`` lines, so the pages say what the data says.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import re
import shutil
import statistics
from pathlib import Path

from amup_timm.experiments.check import main as check_main
from amup_timm.experiments.decide import MARGIN, measured_default
from amup_timm.experiments.eta import eta_star, once
from amup_timm.experiments.leaderboard import board, deepest_arms
from amup_timm.experiments.records import (DONE, PACKED, Record, collect, is_done, pack,
                                           unpacked)
from amup_timm.experiments.reference_runs import sweep_select
from amup_timm.experiments.report import diff_text, leaderboard_markdown
from amup_timm.experiments.verdict import Trend, compute_s, interval

ROOT = Path(__file__).resolve().parents[1]
DATA, IMG = ROOT / "docs" / "data" / "evidence", ROOT / "docs" / "img" / "evidence"
DEPTH_CHECKS, WIDTH_CHECKS = ("short", "long"), ("width", "width1500", "combined")
BENCHMARK_CHECKS = ("leaderboard", "paper")  # Fashion-MNIST
FMNIST_WIDTH_CHECKS = ("width_fmnist", "combined_fmnist")  # Fashion-MNIST, docs/width.md
BLOCK_TABLES = ("leaderboard", "combined_fmnist")  # one block of arms a check, no header row
OPTIMS = ("sgd_plain", "adamw")  # the digits checks' optimizers
RECIPES = OPTIMS + ("sgd",)  # and the benchmark's: SGD with momentum for the ResNets
FAMILIES = ("resnet18_narrow", "resnet50_narrow", "vit_narrow", "convnext_narrow")
CHECKS = DEPTH_CHECKS + WIDTH_CHECKS + BENCHMARK_CHECKS + FMNIST_WIDTH_CHECKS
NAME = re.compile(rf"(.+)_({'|'.join(CHECKS)})_({'|'.join(RECIPES)})")
PACK = re.compile(rf"({'|'.join(CHECKS)})_({'|'.join(RECIPES)}){re.escape(PACKED)}")
RECIPE_TEXT = {"sgd": "SGD momentum 0.9, weight decay 5e-4", "adamw": "AdamW, weight decay 0.05"}
PAGES = {"cost": "evidence.md", "leaderboard": "evidence.md", "board_glance": "evidence.md",
         "paper": "evidence.md", "glance": "evidence.md", "depth": "evidence.md",
         "links": "evidence.md",
         "width": "width.md", "coord": "width.md", "width_fmnist": "width.md",
         "combined_fmnist": "width.md", "width_cost": "width.md", "readme_box": "../README.md"}


def fmt(x, spec=".3g"):
    if x is None:
        return "-"
    return "diverged" if isinstance(x, float) and math.isinf(x) else format(x, spec)


@functools.cache
def _records(packed: Path, mtime_ns: int) -> tuple[Record, ...]:
    return tuple(collect(packed))


def records_of(packed: Path) -> list[Record]:
    """A packed check's records, read once per version of the file (several tables use them)."""
    return list(_records(packed, packed.stat().st_mtime_ns))


@functools.cache
def _board(packed: Path, mtime_ns: int):
    return board(records_of(packed), "depth", sweep_select(str(packed)))


def board_of(packed: Path):
    """A packed leaderboard's board, decided once per version of the file (the block, its
    glance row, the benchmark sentence and README's box all read it)."""
    return _board(packed, packed.stat().st_mtime_ns)


def law_and_best(b) -> tuple:
    """The -1.5 law's (am_mup's) row and the best arm's at the board's deciding depth."""
    at = {r.arm: r for r in b.rows if r.value == b.decision.value}
    return at.get("am_mup"), at.get(b.decision.best)


def law_calls(d) -> tuple[str, str]:
    """The rule's call on the -1.5 law (am_mup) at a board's deciding depth: against the best
    arm and against the deep model's own optimum."""
    best = ("best" if d.best == "am_mup" else
            d.vs_best["am_mup"].call if "am_mup" in d.vs_best else "not run")
    opt = d.vs_optimum.get("am_mup")
    return best, (opt.call if opt else "no grid there")


def minimal_path(records: list[Record]) -> dict:
    """Each depth's minimal-path L."""
    return {r.depth: r.depths.get("minimal_path") for r in records if r.depth is not None}


def span(records: list[Record]) -> float:
    """How many times deeper in minimal-path L the deepest transferred model is than the
    shallowest grid's."""
    L = minimal_path(records)
    return L[max(L)] / L[min(L)]


def spread(values: list[float], fmt_: str = ".1f") -> str:
    """``4.2-4.6`` (one value alone where they agree)."""
    lo, hi = format(min(values), fmt_), format(max(values), fmt_)
    return lo if lo == hi else f"{lo}-{hi}"


def said(by_call: dict[str, list[str]], count: bool = False) -> str:
    """``worse on a, b; tied on c``, or with ``count`` ``worse on 2; tied on 1``."""
    return "; ".join(f"{c} on {len(ms) if count else ', '.join(ms)}" for c, ms in by_call.items())


def points(lost: dict[str, float]) -> str:
    """The law's test-accuracy points against the best arm, worded by their sign."""
    v = list(lost.values())
    if all(x > 0 for x in v):
        return f"{spread(v)} test-accuracy points under"
    if all(x < 0 for x in v):
        return f"{spread([-x for x in v])} test-accuracy points over"
    return f"{min(-x for x in v):+.1f} to {max(-x for x in v):+.1f} test-accuracy points against"


def order(model: str, check: str, optim: str) -> tuple:
    """Families in FAMILIES' order, then the rest by name; checks and optimizers as listed."""
    family = FAMILIES.index(model) if model in FAMILIES else len(FAMILIES)
    return family, model, CHECKS.index(check), RECIPES.index(optim)


def published(data: Path = DATA) -> list[tuple[str, str, str, dict]]:
    """(model, check, optimizer, verdict) of every verdict in ``data``, in table order."""
    out = []
    for f in data.glob("*.json"):
        if m := NAME.fullmatch(f.stem):
            out.append((*m.groups(), json.loads(f.read_text())))
    return sorted(out, key=lambda x: order(*x[:3]))


def slope_cell(t: dict) -> str:
    """A trend's slope (verdict.json's, or {} for none) with its intervals, each named by how it
    was made: the seed resamples joined with the grid resolution (what the verdict judges by)
    and the least-squares t-interval beside it; a fit through two sizes says it has none, and
    one from grids of unequal resolution says so."""
    if t.get("slope") is None:
        return "-"
    note = t.get("note", "")
    if "no interval" in note:
        return f"{fmt(t['slope'], '+.2f')} ({note.split(';')[0]})"
    boot = re.search(r"\((\d+) (resamples|draws)\)", t.get("bootstrap_method", ""))
    made = [(f"all {boot[1]} seed resamples" if boot[2] == "resamples" else
             f"{boot[1]} seed resamples drawn")
            if boot and t.get("bootstrap95") and t["bootstrap95"][0] is not None else "",
            "grid" if t.get("resolution") and t["resolution"][0] is not None else ""]
    parts = []
    if any(made):
        lo, hi = interval(Trend(**t))
        parts.append(f"{' + '.join(m for m in made if m)}: {fmt(lo, '+.2f')} to {fmt(hi, '+.2f')}")
    if t.get("ci95") and t["ci95"][0] is not None:
        lo, hi = t["ci95"]
        parts.append(f"t, df {t['n'] - 2}: " + ("none, the eta* lie on a line" if hi - lo < 1e-9
                                                 else f"{fmt(lo, '+.2f')} to {fmt(hi, '+.2f')}"))
    if "unequal resolution" in note:
        parts.append("grids of unequal resolution")
    return f"{fmt(t['slope'], '+.2f')}" + (f" ({'; '.join(parts)})" if parts else "")


def verdict_word(call: str) -> str:
    """A verdict's call in a table cell: its word ('holds', 'no trend', ...), or for a fit
    through two sizes, that it has no interval."""
    two = re.search(r"\((\d+ \w+: no interval)", call)
    return two[1] if two else call.split(":")[0]


def seed_span(regret: dict) -> str:
    """'; seeds LO to HI': the regret's range over seeds, where the verdict has it."""
    span = regret.get("regret_range")
    return f"; seeds {fmt(span[0], '+.3f')} to {fmt(span[1], '+.3f')}" if span else ""


def test_split(regret: dict) -> dict:
    """A verdict's regret at one size on the test split, keyed as its held-out fields."""
    t = regret.get("test") or {}
    star = t.get("star_loss")
    return {"value": regret["value"], "regret": t.get("regret"), "regret_range":
            t.get("regret_range"), "star_val_acc": t.get("star_acc"), "val_acc": t.get("acc"),
            "regret_rel": t["regret"] / star if star and t.get("regret") is not None else None}


def summary_rows(model: str, check: str, optim: str, result: dict, test: bool = False
                 ) -> list[str]:
    """One table row per scheme of a check's verdict (minimal-path L for depth); the regret
    and accuracies on the test split where ``test``, else on the held-out split."""
    rows = []
    for g in result["groups"]:
        t = g["trends"].get("minimal_path" if result["axis"] == "depth" else "width", {})
        shown = [test_split(r) for r in g["regret"]] if test else g["regret"]
        regret = "; ".join(f"{r['value']}: {fmt(r['regret'], '+.3f')} "
                           f"({fmt(r['regret_rel'], '+.0%')}{seed_span(r)})" for r in shown)
        acc = "; ".join(f"{fmt(r['star_val_acc'], '.3f')} / {fmt(r['val_acc'], '.3f')}"
                        for r in shown)
        saved = "; ".join(f"{fmt(r['compute_saved'], '.1f')}x" for r in g["regret"])
        runs = sum(r["runs"] for r in g["rows"]) + sum(r["seeds"] for r in g["regret"])
        bad = (sum(r["diverged"] for r in g["rows"]) + sum(r["diverged"] for r in g["regret"]),
               sum(r["failed"] for r in g["rows"]))
        etas = ", ".join(f"{r['value']}: {fmt(r['eta_star'])}{'*' if r['at_edge'] else ''}"
                         for r in g["rows"])
        rows.append(
            f"| {model} | {check} | {optim} | {g['scheme']} | {etas} "
            f"| {slope_cell(t)} | "
            f"{fmt(t.get('r2'), '.2f')} | {verdict_word(g['call'])} | {regret} | {acc} | "
            f"{saved} | {runs} ({bad[0]}, {bad[1]}) |")
    return rows


def paper_rows(model: str, result: dict) -> list[str]:
    """Fashion-MNIST under the paper's protocol (100 plain-SGD steps, eta* by the whole-run mean
    training loss): per scheme, eta* by depth, the slope, the verdict on -1.5 and the regret of
    the transferred LR in validation loss (the verdict's held-out measure)."""
    rows = []
    for g in result["groups"]:
        etas = ", ".join(f"{r['value']}: {fmt(r['eta_star'])}{'*' if r['at_edge'] else ''}"
                         for r in g["rows"])
        regret = "; ".join(f"{r['value']}: {fmt(r['regret'], '+.3f')} "
                           f"({fmt(r['regret_rel'], '+.0%')}{seed_span(r)})"
                           for r in g["regret"])
        runs = sum(r["runs"] for r in g["rows"]) + sum(r["seeds"] for r in g["regret"])
        bad = (sum(r["diverged"] for r in g["rows"]) + sum(r["diverged"] for r in g["regret"]),
               sum(r["failed"] for r in g["rows"]))
        name = f"{model}_paper_sgd_plain"
        rows.append(f"| [{model}](data/evidence/{name}.md) | {g['scheme']} | {etas} | "
                    f"{slope_cell(g['trends'].get('minimal_path', {}))} | "
                    f"{verdict_word(g['call'])} | {regret} | {runs} ({bad[0]}, {bad[1]}) |")
    return rows


def leaderboard_block(packed: Path, published: bool) -> list[str]:
    """A (family, recipe)'s leaderboard made from its packed records, finished or still running
    (the arms' table, the named arm and its overrides), headed by the recipe and its horizon,
    its records, the verdict and plots where published, and the accuracy bar of its best run."""
    model, check = packed.parent.name, packed.name[:-len(PACKED)]
    optim = PACK.fullmatch(packed.name).group(2)
    name = f"{model}_{check}"
    records = records_of(packed)
    steps = {r.max_steps for r in records if r.max_steps}
    horizon = "".join(f", {n:,} steps" for n in sorted(steps))
    links = (f"[verdict](data/evidence/{name}.md), [curves](img/evidence/{name}_curves.png), "
             if published else "running, ")
    return [f"**{model}**, {RECIPE_TEXT.get(optim, optim)}{horizon} ({links}records: "
            f"`docs/data/evidence/runs/{model}/{check}{PACKED}`). "
            f"{best_run(records, done=published)}", "",
            leaderboard_markdown(board_of(packed)), ""]


def board_glance_row(model: str, optim: str, result: dict, runs: Path = DATA / "runs") -> str:
    """A finished leaderboard in one row: its span in depth, the seeds at the deepest depth,
    the rule's verdict there (the set tied with the best on validation, or no interval), each
    arm against timm's one LR, the -1.5 law's test accuracy and its gap to the best arm (points
    lost, seed range), and AM-muP's eta* slope where its grids ran."""
    packed = runs / model / f"leaderboard_{optim}{PACKED}"
    records = records_of(packed)
    b = board_of(packed)
    d = b.decision
    L = minimal_path(records)
    steps = max(r.max_steps or 0 for r in records)
    if d.tied:
        rule = f"tied: {', '.join(d.tied)}"
        versus = "; ".join(f"{a} {x.call}" for a, x in d.vs_standard.items())
    else:
        rule, versus = f"{d.pairs} seeds: no interval", "-"
    law, best = law_and_best(b)
    lost = ("not run" if law is None else "diverged" if law.acc is None else
            f"{100 * law.acc:.1f}%, {100 * (best.acc - law.acc):.1f} points under {d.best}")
    if law is not None and d.best != "am_mup":
        lost += f"; {diff_text(d.vs_best.get('am_mup'))}"
    optimum = (f"{diff_text(d.vs_optimum['am_mup'])} ({d.optimum})" if "am_mup" in d.vs_optimum
               else "no grid there")
    am_mup = next((g for g in result["groups"] if g["scheme"] == "am_mup"), None)
    slope = slope_cell(am_mup["trends"].get("minimal_path", {})) if am_mup else "-"
    return (f"| [{model}](data/evidence/{model}_leaderboard_{optim}.md) | "
            f"{RECIPE_TEXT.get(optim, optim)}, {steps:,} steps | {min(L)} -> {d.value} "
            f"({fmt(L[min(L)], 'g')} -> {fmt(L[d.value], 'g')}) | {d.pairs} | {rule} | "
            f"{versus} | {lost} | {optimum} | {slope} |")


def benchmark(data: Path = DATA) -> dict:
    """What the finished leaderboards measured, for README's box and amup-train's log line:
    the -1.5 law's test-accuracy points under each board's best arm (picked on validation) at
    the deepest depth, and the measured default (decide.measured_default), with the command
    that remakes it."""
    packed = {m: data / "runs" / m / f"leaderboard_{o}{PACKED}"
              for m, c, o, _ in published(data) if c == "leaderboard"}
    boards = {m: deepest_arms(records_of(p))[1] for m, p in packed.items()}
    lost, calls, at_optimum, spans = {}, {}, {}, []
    for m, p in packed.items():
        b = board_of(p)
        spans.append(span(records_of(p)))
        law, best = law_and_best(b)
        if law and best and law.acc is not None and best.acc is not None:
            lost[m] = 100 * (best.acc - law.acc)
            vs_best, vs_optimum = law_calls(b.decision)
            calls.setdefault(vs_best, []).append(m)
            at_optimum.setdefault(vs_optimum, []).append(m)
    d = measured_default(boards)
    law = (f"the -1.5 law's LR gave {points(lost)} the arm lowest on validation at the deepest "
           f"depth on {len(lost)} of {len(boards)} families (validation loss paired over seeds, "
           f"against that arm: {said(calls)}; against the deep model's own optimum: "
           f"{said(at_optimum)})"
           if lost else "")
    override = f"amup.scheme={d.arm}" if d.arm else None
    default = (f"the measured default {override} (docs/evidence.md)" if override else
               "no measured default (" + d.call.removeprefix("none: ") + ")")
    return {"families": sorted(boards), "law_points_lost": lost,
            "law_vs_best": {c: sorted(ms) for c, ms in calls.items()},
            "law_vs_optimum": {c: sorted(ms) for c, ms in at_optimum.items()},
            "span": [round(min(spans), 1), round(max(spans), 1)] if spans else [],
            "default": override,
            "default_call": d.call, "command": "python sweeps/publish_evidence.py --rederive",
            "sentence": (f"Benchmark (Fashion-MNIST, {len(boards)} timm families tuned at the "
                         f"shallowest depth and trained {spread(spans) if spans else '?'}x "
                         f"deeper in minimal-path L, long horizon): {law}; "
                         f"{default}.")}


def readme_box(data: Path = DATA) -> list[str]:
    """README's "what to expect" box (at most 12 lines), from docs/data alone: the -1.5 law's
    cost at the long horizon, the rule's verdict per board, the measured default, the paper
    protocol's slopes and muP against SP across width."""
    note = benchmark(data)
    checks = published(data)
    verdicts = []
    for model, check, optim, _ in checks:
        if check == "leaderboard":
            d = board_of(data / "runs" / model / f"{check}_{optim}{PACKED}").decision
            verdicts.append(f"{model} " + (f"tied: {', '.join(d.tied)}" if d.tied
                                           else f"{d.pairs} seeds, no interval"))
    lost = ", ".join(f"{m} {v:.1f}" for m, v in note["law_points_lost"].items())
    paper = [f"{m} {fmt(g['trends']['minimal_path']['slope'], '+.2f')}"
             for m, c, _, r in checks if c == "paper"
             for g in r["groups"] if g["scheme"] == "am_mup"]
    width = []
    for m, c, _, r in checks:
        if c == "width_fmnist":
            parts = [f"{'muP' if g['scheme'] == 'am_mup' else 'SP'} drift "
                     f"{fmt(g['trends']['width']['slope'], '+.2f')} a doubling, the 1x LR "
                     f"costs {fmt(g['regret'][-1]['test']['acc_points'], '.1f')} points at width "
                     f"{g['regret'][-1]['value']}" for g in r["groups"] if g["regret"]]
            width.append(f"{m}: " + "; ".join(parts))
    default = (f"`{note['default']}`" if note["default"] else
               "none (" + note["default_call"].removeprefix("none: ") + ")")
    return [
        "> **What to expect** (measured on this project's 2-core CPU; remade from the records "
        "by `python sweeps/publish_evidence.py`; [docs/evidence.md](docs/evidence.md), "
        "[docs/width.md](docs/width.md))",
        f"> - **The -1.5 law at the long horizon** (Fashion-MNIST, {len(note['families'])} timm "
        f"families tuned at the shallowest depth and trained {spread(note['span'])}x deeper at "
        f"the recipes users run): its LR gave {points(note['law_points_lost'])} the arm lowest "
        f"on validation at the deepest depth: {lost} (validation loss paired over seeds, "
        f"against that arm: {said(note['law_vs_best'], count=True)}; against the deep model's "
        f"own optimum: {said(note['law_vs_optimum'], count=True)}).",
        f"> - **Which rule is best there** (validation loss, paired over seeds, a {MARGIN} "
        f"margin): {'; '.join(verdicts)}.",
        f"> - **Measured default**: {default}. So run the leaderboard (`+sweeps="
        "leaderboard_long`) on a CPU-sized copy of your family and train with a rule of its "
        "tied set.",
        "> - **Under the paper's protocol** (100 plain-SGD steps, mean training loss), AM-muP's "
        f"eta* slope in minimal-path L: {', '.join(paper)} (prediction -1.5).",
        f"> - **Across width** (Fashion-MNIST, 1,000 steps): {'; '.join(width)}."]


def best_run(records: list[Record], bar: float = 0.88, done: bool = True) -> str:
    """The shallowest grid's best cell, picked on validation (each scheme's eta*, the lowest
    validation loss among them), its seed-mean test accuracy, and whether it clears ``bar``
    (judged when the check is ``done``; before, the cell so far)."""
    grid = once((r for r in records if r.stage in ("grid", "refine")  # a diverged seed counts
                 and r.status in ("finished", "diverged")),
                lambda r: (r.scheme, r.scale.get("depth", 1)))  # a run per model, LR and seed
    if not grid:
        return "No grid run yet."
    depth = min(r.scale.get("depth", 1) for r in grid)
    shallow = [r for r in grid if r.scale.get("depth", 1) == depth]
    cells = [(cell[1], scheme, cell[0]) for scheme in sorted({r.scheme for r in shallow})
             if (cell := eta_star([r for r in shallow if r.scheme == scheme], "val"))]
    if not cells:
        return "No grid cell finished yet."
    _, scheme, lr = min(cells)
    accs = [r.test_acc for r in shallow
            if (r.scheme, r.lr) == (scheme, lr) and r.test_acc is not None]
    if not accs:
        return "No test accuracy at the best grid cell yet."
    acc = sum(accs) / len(accs)
    judged = (f"{'clears' if acc >= bar else 'misses'} the {100 * bar:.0f}% bar" if done else
              f"the {100 * bar:.0f}% bar is judged when the check is done")
    text = (f"Best cell of the x{depth} grid{'' if done else ' so far'} (picked on "
            f"validation): {scheme} at LR {lr:.3g}, {100 * acc:.1f}% test accuracy over "
            f"{len(accs)} seeds: {judged}")
    if done and acc < bar:  # the bar is the family's: its best cell at any depth
        cells: dict[tuple, list[Record]] = {}  # a run per arm, depth, LR and seed, as above
        for r in once((r for r in records if r.status in ("finished", "diverged")),
                      lambda r: (r.arm, r.depth)):
            cells.setdefault((r.arm, r.depth, r.lr), []).append(r)
        ran = {c: runs for c, runs in cells.items()  # a diverged seed: the cell is out
               if all(r.status == "finished" and r.val_loss is not None
                      and r.test_acc is not None for r in runs)}
        (arm, at, best_lr), runs = min(
            ran.items(), key=lambda c: statistics.mean(r.val_loss for r in c[1]))
        top_acc = statistics.mean(r.test_acc for r in runs)
        text += (f"; the family's best cell at any depth (picked on validation): {arm} at "
                 f"depth {at}, LR {best_lr:.3g}, {100 * top_acc:.1f}% test accuracy over "
                 f"{len(runs)} seed{'s' * (len(runs) > 1)}: "
                 f"{'clears' if top_acc >= bar else 'misses'} it")
    return text + "."


def size(r: Record) -> str:
    """A run's size in its check's scale: x blocks, width x, or (depth, width) x."""
    depth, width = r.scale.get("depth", 1), r.scale.get("width", 1)
    return (f"x{depth}" if width == 1 else f"width x{width}" if depth == 1
            else f"(x{depth}, x{width})")


def cost_table(runs: Path = DATA / "runs", checks: tuple[str, ...] = BENCHMARK_CHECKS
               ) -> list[str]:
    """What ``checks`` (the benchmark's, by default) cost so far, from their records: per
    family, check and size, the runs, the median steady-state seconds a step and wall seconds
    a finished run, and the core-hours (1 thread a job) as the verdict counts compute: the
    median a run, scaled by the steps a diverged run ran, so that a run paused by other work on
    the machine does not count its pause."""
    out = ["| family | check | size | runs (diverged, failed) | s a step | s a run | "
           "core-hours |", "|" + "---|" * 7]
    packs = [f for f in runs.glob(f"*/*{PACKED}") if (m := PACK.fullmatch(f.name))
             and m.group(1) in checks]
    for packed in sorted(packs, key=lambda f: (order(f.parent.name, "paper", "sgd")[:2], f.name)):
        by_size: dict = {}
        for r in records_of(packed):
            by_size.setdefault((r.scale.get("depth", 1), r.scale.get("width", 1)), []).append(r)
        for _, recs in sorted(by_size.items()):
            finished = [r for r in recs if r.status == "finished" and r.wall_s]
            run = statistics.median(r.wall_s for r in finished) if finished else None
            step = [r.step_s for r in finished if r.step_s]
            out.append(f"| {packed.parent.name} | {packed.name[:-len(PACKED)]} | "
                       f"{size(recs[0])} | "
                       f"{len(recs)} ({sum(r.status == 'diverged' for r in recs)}, "
                       f"{sum(r.status == 'failed' for r in recs)}) | "
                       f"{fmt(statistics.median(step) if step else None, '.3f')} | "
                       f"{fmt(run, '.0f')} | {compute_s(recs, run) / 3600:.2f} |")
    return out


def glance_row(model: str, check: str, optim: str, result: dict) -> str:
    """One row of the depth page's first table: how well the models learn, AM-muP's exponent,
    and the worst accuracy cost of each scheme's transferred LR at a larger depth."""
    groups = {g["scheme"]: g for g in result["groups"]}
    best = max(r["star_val_acc"] for g in groups.values() for r in g["rows"])

    def cost(scheme: str) -> str:
        regret = groups[scheme]["regret"] if scheme in groups else []
        if not regret:
            return "-"
        if any(r["acc_regret"] is None for r in regret):
            return "diverged"
        return f"{100 * max(r['acc_regret'] for r in regret):+.1f}"

    am = groups.get("am_mup", {"trends": {}, "call": "-"})
    return (f"| {model} | {check} | {optim} | {100 * best:.1f}% | "
            f"{slope_cell(am['trends'].get('minimal_path', {}))}: {verdict_word(am['call'])} | "
            f"{cost('am_mup')} | {cost('standard')} |")


def links_table(checks: list[tuple[str, str, str, dict]], runs: Path = DATA / "runs") -> list[str]:
    """Per depth family: each check's full table and plots, or what stands in their place."""
    cells = {(m, c, o) for m, c, o, _ in checks}
    families = sorted({m for m, c, _, _ in checks if c in DEPTH_CHECKS}
                      | {d.parent.name for c in DEPTH_CHECKS for d in runs.glob(f"*/{c}_*{PACKED}")},
                      key=lambda m: order(m, DEPTH_CHECKS[0], OPTIMS[0]))
    out = ["| family | short, plain SGD | short, AdamW | long, plain SGD | long, AdamW |",
           "|---|---|---|---|---|"]
    for m in families:
        row = []
        for c in DEPTH_CHECKS:
            for o in OPTIMS:
                n = f"{m}_{c}_{o}"
                row.append(f"[table](data/evidence/{n}.md), [curves](img/evidence/{n}_curves.png), "
                           f"[eta*](img/evidence/{n}_eta.png)" if (m, c, o) in cells else
                           "running (records kept)" if (runs / m / f"{c}_{o}{PACKED}").is_file() else
                           "not measured")
        out.append(f"| {m} | " + " | ".join(row) + " |")
    return out


def coord_table(folder: Path = ROOT / "docs" / "data" / "coord") -> list[str]:
    """The slopes per doubling of sweeps/coord_checks.sh, one row per model, optimizer, scheme."""
    from amup_timm.experiments.coord import KINDS

    out = ["| model | optimizer | scheme | " + " | ".join(KINDS) + " |",
           "|" + "---|" * (3 + len(KINDS))]
    for f in sorted(folder.glob("*.json")):
        for r in json.loads(f.read_text()):
            cells = [fmt(r["kinds"][k]["slope"], "+.2f") if k in r["kinds"] else "" for k in KINDS]
            out.append(f"| {re.sub(r'_(sgd_plain|adamw)$', '', f.stem)} | "
                       f"{r['optimizer']} | {r['scheme']} | " + " | ".join(cells) + " |")
    return out


def tables(data: Path = DATA) -> dict[str, list[str]]:
    """Every summary table of the pages, from docs/data alone."""
    header = ["| model | check | optimizer | scheme | eta* by size | {} (intervals: seed "
              "resamples + grid; t) | R^2 | verdict | regret at each larger size (relative; range over seeds) "
              "| acc at eta* / transferred | compute saved | runs (diverged, failed) |",
              "|" + "---|" * 12]
    checks = published(data)
    out = {"glance": ["| family | horizon | optimizer | best held-out acc | AM-muP's eta* "
                      "exponent (intervals): the -1.5 law | points lost at a deeper model, the "
                      "law's LR | the same, one LR with timm's init |", "|" + "---|" * 7],
           "depth": [header[0].format("slope"), header[1]],
           "width": [header[0].format("drift per doubling"), header[1]],
           "links": links_table(checks, data / "runs"), "coord": coord_table(),
           "paper": ["| family | scheme | eta* by depth (blocks) | slope in minimal-path L "
                     "(intervals) | on its prediction (am_mup -1.5, standard 0) | regret of the "
                     "transferred LR in validation loss (seeds) | runs (diverged, failed) |",
                     "|" + "---|" * 7],
           "leaderboard": [], "board_glance": [
               "| family | recipe | blocks (minimal-path L) | seeds at the deepest | arms tied "
               "with the best (validation loss) | each against timm's one LR | the -1.5 law "
               "(am_mup): test accuracy, points under the best arm; validation loss against it "
               "| the law against the deep optimum (validation loss) | AM-muP's eta* slope in L "
               "(intervals) |", "|" + "---|" * 9],
           "cost": cost_table(data / "runs"), "combined_fmnist": [],
           "width_fmnist": [header[0].format("drift per doubling").replace(
               "| regret", "| test-loss regret").replace("| acc at", "| test acc at").replace(
               "by size", "by size (picked on validation)"),
               header[1]],
           "width_cost": cost_table(data / "runs", FMNIST_WIDTH_CHECKS),
           "readme_box": readme_box(data)}
    names = {f"{m}_{c}_{o}" for m, c, o, _ in checks}
    for table in BLOCK_TABLES:  # from their records
        for packed in sorted(data.glob(f"runs/*/{table}_*{PACKED}"),
                             key=lambda f: order(f.parent.name, "leaderboard", "sgd")[:2]):
            out[table] += leaderboard_block(
                packed, f"{packed.parent.name}_{packed.name[:-len(PACKED)]}" in names)
    for model, check, optim, result in checks:
        if check == "paper":
            out["paper"] += paper_rows(model, result)
        if check == "leaderboard":
            out["board_glance"].append(board_glance_row(model, optim, result, data / "runs"))
        if check == "width_fmnist":
            out["width_fmnist"] += summary_rows(model, check, optim, result, test=True)
        if check in BENCHMARK_CHECKS + FMNIST_WIDTH_CHECKS:  # Fashion-MNIST: their own tables
            continue
        if check in DEPTH_CHECKS:
            out["glance"].append(glance_row(model, check, optim, result))
        out["depth" if check in DEPTH_CHECKS else "width"] += summary_rows(model, check, optim,
                                                                           result)
    return out


def block(page: str, name: str) -> re.Match:
    """The ``<!-- table: name -->`` ... ``<!-- end table -->`` block of ``page``."""
    m = re.search(rf"<!-- table: {name} -->\n(.*?)<!-- end table -->", page, re.S)
    if m is None:
        raise SystemExit(f"no '<!-- table: {name} -->' ... '<!-- end table -->' lines in the "
                         "page: add them where the table goes")
    return m


def write_tables(docs: Path = ROOT / "docs") -> None:
    """Each page read once, its tables replaced, written once."""
    made = tables()
    for page_name in dict.fromkeys(PAGES.values()):
        path = (docs / page_name).resolve()
        page = path.read_text()
        for name in (n for n, p in PAGES.items() if p == page_name):
            m = block(page, name)
            page = page[:m.start(1)] + "\n".join(made[name]) + "\n" + page[m.end(1):]
            count = (f"{sum(line.startswith('**') for line in made[name])} blocks"
                     if name in BLOCK_TABLES else f"{len(made[name]) - 2} rows")
            print(f"{path.relative_to(ROOT)}: table '{name}', {count}")
        path.write_text(page)


def copy_checks(root: Path) -> None:
    """Records of every check under ``root``; verdicts, their tables and plots where finished."""
    DATA.mkdir(parents=True, exist_ok=True)
    IMG.mkdir(parents=True, exist_ok=True)
    for check in sorted(m.parent for m in root.glob("*/*/multirun.yaml")):
        keep = DATA / "runs" / check.parent.name / (check.name + PACKED)  # to redo or resume
        keep.parent.mkdir(parents=True, exist_ok=True)
        pack(check, keep)
        verdict = check / "verdict" / "verdict.json"
        if not is_done(check):  # still running: its records are kept, no verdict yet
            print(f"{check}: not finished ({DONE} not written), records kept in {keep}")
            continue
        check_main([str(check)], quiet=True)
        name = f"{check.parent.name}_{check.name}"
        for suffix in ("json", "md"):
            shutil.copy(verdict.with_suffix(f".{suffix}"), DATA / f"{name}.{suffix}")
        board = verdict.parent / "leaderboard.md"
        if board.is_file():
            shutil.copy(board, DATA / f"{name}_leaderboard.md")
        for plot in ("eta", "curves"):
            shutil.copy(verdict.parent / f"{plot}.png", IMG / f"{name}_{plot}.png")


def rederive(data: Path = DATA) -> None:
    """Every published verdict made again from its packed records by the current rules (the
    records are the source: a rule fixed later is applied to every check alike)."""
    for model, check, optim, _ in published(data):
        packed = data / "runs" / model / f"{check}_{optim}{PACKED}"
        out = unpacked(packed) / "verdict"
        check_main([str(packed), "--out", str(out)], quiet=True)
        name = f"{model}_{check}_{optim}"
        for suffix in ("json", "md"):
            shutil.copy(out / f"verdict.{suffix}", data / f"{name}.{suffix}")
        if (out / "leaderboard.md").is_file():
            shutil.copy(out / "leaderboard.md", data / f"{name}_leaderboard.md")
        for plot in ("eta", "curves"):
            shutil.copy(out / f"{plot}.png", IMG / f"{name}_{plot}.png")
        print(f"{name}: verdict made again from {packed.relative_to(ROOT)}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("root", nargs="?", default=str(ROOT / "multirun" / "evidence"))
    p.add_argument("--rederive", action="store_true",
                   help="first make every published verdict again from its packed records")
    args = p.parse_args()
    copy_checks(Path(args.root))
    if args.rederive:
        rederive()
    write_tables()
    note = benchmark()
    (ROOT / "amup_timm" / "benchmark.json").write_text(json.dumps(note, indent=2) + "\n")
    print(f"amup_timm/benchmark.json: {note['sentence']}")


if __name__ == "__main__":
    main()
