"""Every output a person reads, in one place: the terminal summaries, the markdown tables, the
plots, the files and the W&B run of a check (verdict.json, .md, .csv, leaderboard.md, eta.png,
curves.png), a fit (the same, as fit.json, .md, .csv), the probe (probe.json,
update_profile.png, eta_probe_vs_L.png) and the coordinate check (coord.json, coord.png).
The check, the probe, the coordinate check and the fit's command and callback call it; this
module and train.py are the only ones that start a W&B run (``logger=wandb``, offline unless
the logger's mode says otherwise).
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .eta import SELECT_HELP
from .plots import check_plots, coord_plot, probe_plots
from ..config import MEASURES
from .decide import MARGIN, MIN_PAIRS, Decision, Diff
from .leaderboard import Board
from .records import write_json
from .verdict import TestRegret, Verdict

log = logging.getLogger(__name__)


def _f(x: Any, spec: str = ".4g") -> str:
    """A number, ``-`` for none, ``diverged`` for an infinite loss."""
    if x is None:
        return "-"
    if isinstance(x, float) and math.isinf(x):
        return "diverged"
    return format(x, spec)


def _seeds(span: list[float] | None) -> str:
    return f"{_f(span[0], '+.4f')} to {_f(span[1], '+.4f')}" if span else "-"


def _interval(ci: list[float | None]) -> str:
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci and ci[0] is not None else "-"


# -- the check -------------------------------------------------------------------------------

def check_summary(result: Verdict) -> list[str]:
    """The verdict as a person reads it in a terminal."""
    axis, lines = result.axis, []
    for g in result.groups:
        lines.append(f"[{g.optimizer}/{g.scheme}] eta* by {axis} "
                     f"({SELECT_HELP[result.select]}): " + ", ".join(
                         f"{r.value}: {_f(r.eta_star, '.3g')}{'*' if r.at_edge else ''}"
                         f"{'!' if r.gaps else ''}" for r in g.rows))
        for m, t in g.trends.items():
            if t.slope is not None:
                lines.append(f"  {m:13s} {'slope' if axis == 'depth' else 'drift'} "
                             f"{t.slope:+.3f}  t 95% (df {t.n - 2}) {_interval(t.ci95)}  "
                             f"{t.bootstrap_method or 'seed bootstrap'}, central 95% "
                             f"{_interval(t.bootstrap95)}  grid {_interval(t.resolution)}"
                             f"  R^2 {_f(t.r2, '.3f')}" + (f"  ({t.note})" if t.note else ""))
        for t in g.regret:
            lines.append(f"  zero-shot at {axis} {t.value}: LR {_f(t.lr, '.3g')} "
                         f"(eta* {_f(t.eta_star, '.3g')}), held-out loss "
                         f"{_f(t.val_loss)} vs {_f(t.star_val_loss)} at eta*: regret "
                         f"{_f(t.regret, '+.4f')} ({_f(t.regret_rel, '+.1%')}; seeds "
                         f"{_seeds(t.regret_range)}), acc "
                         f"{_f(t.val_acc, '.3f')} vs {_f(t.star_val_acc, '.3f')}, "
                         f"compute saved {_f(t.compute_saved, '.1f')}x")
            if t.test:
                lines.append(f"    test split: loss {_f(t.test.loss)} vs {_f(t.test.star_loss)}"
                             f": regret {_f(t.test.regret, '+.4f')} (seeds "
                             f"{_seeds(t.test.regret_range)}), acc {_f(t.test.acc, '.3f')} vs "
                             f"{_f(t.test.star_acc, '.3f')}: "
                             f"{_f(t.test.acc_points, '+.2f')} points lost")
        failed = sum(r.failed for r in g.rows)
        gaps = [r for r in g.rows if r.gaps]
        if failed or gaps:
            near = ", ".join(f"{r.value} (" + ", ".join(_f(x, ".3g") for x in r.gaps) + ")"
                             for r in gaps)
            lines.append(f"  failed runs: {failed} (not used: rerun them); eta* next to a "
                         f"failed or missing LR (!): {near or 'none'}")
        lines.append(f"  verdict: {g.call}")
    if result.leaderboard:
        lines += ["", "Leaderboard (test split, at each arm's transferred LR):",
                  result.leaderboard]
    return lines


def check_markdown(result: Verdict) -> str:
    """verdict.md: the command, then per group the eta* table, trends and regret."""
    axis = result.axis
    lines = [f"Reproduce: `{result.command or '?'}`", "",
             f"eta* selected by the {SELECT_HELP[result.select]}; regret: held-out loss at "
             "the transferred LR minus held-out loss at the target's own eta*, seeds averaged "
             "(by seed: the lowest and highest of one seed's own difference); "
             "`*` marks an optimum at the grid's edge. Where the runs measured a test split, "
             "the regret tables end with the same on it, at the eta* picked as above "
             "(accuracy points lost: positive where the transferred LR is worse).", ""]
    for g in result.groups:
        lines += [f"### {g.optimizer} / {g.scheme}", "", f"Verdict: {g.call}", "",
                  f"| {axis} | L minimal_path | L blocks | eta* | predicted ({g.exponent:g} "
                  "from the first) | off (decades) | held-out loss at eta* (acc) | runs | "
                  "diverged | failed | failed or missing LRs next to eta* |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in g.rows:
            lines.append(
                f"| {r.value} | {r.L.get('minimal_path', '-')} | {r.L.get('blocks', '-')}"
                f" | {_f(r.eta_star, '.3g')}{'*' if r.at_edge else ''} | "
                f"{_f(r.eta_pred, '.3g')} | {_f(r.pred_error, '.2f')} | "
                f"{_f(r.star_val_loss)} ({_f(r.star_val_acc, '.3f')}) | {r.runs} | "
                f"{r.diverged} | {r.failed} | "
                f"{', '.join(_f(x, '.4g') for x in r.gaps) or '-'} |")
        lines += ["", f"| measure | {'slope' if axis == 'depth' else 'drift/doubling'} | "
                  "t 95% | seed bootstrap, central 95% of its resamples (method) | grid resolution "
                  "| R^2 | note |",
                  "|---|---|---|---|---|---|---|"]
        for m, t in g.trends.items():
            lines.append(f"| {m} | {_f(t.slope, '+.3f')} | {_interval(t.ci95)} | "
                         f"{_interval(t.bootstrap95)} ({t.bootstrap_method or '-'}) | "
                         f"{_interval(t.resolution)} | {_f(t.r2, '.3f')} | {t.note or '-'} |")
        if g.regret:
            test = any(t.test for t in g.regret)
            lines += ["", f"| target {axis} | transferred LR | eta* | held-out loss (acc) | "
                      "at eta* (acc) | regret | by seed | relative | acc regret | "
                      "compute saved |" + (" test loss (acc) | at eta* (acc) | test regret | "
                                           "by seed | acc points lost |" if test else ""),
                      "|---|---|---|---|---|---|---|---|---|---|" + "---|" * 5 * test]
            for t in g.regret:
                lines.append(
                    f"| {t.value} | {_f(t.lr, '.3g')} | {_f(t.eta_star, '.3g')} | "
                    f"{_f(t.val_loss)} ({_f(t.val_acc, '.3f')}) | "
                    f"{_f(t.star_val_loss)} ({_f(t.star_val_acc, '.3f')}) | "
                    f"{_f(t.regret, '+.4f')} | {_seeds(t.regret_range)} | "
                    f"{_f(t.regret_rel, '+.1%')} | "
                    f"{_f(t.acc_regret, '+.3f')} | {_f(t.compute_saved, '.1f')}x |"
                    + (_test_cells(t.test) if test else ""))
        lines.append("")
    return "\n".join(lines)


def _test_cells(t: TestRegret | None) -> str:
    """A regret row's test-split cells (blank where its runs did not measure the test split)."""
    if t is None:
        return " - | - | - | - | - |"
    return (f" {_f(t.loss)} ({_f(t.acc, '.3f')}) | {_f(t.star_loss)} ({_f(t.star_acc, '.3f')})"
            f" | {_f(t.regret, '+.4f')} | {_seeds(t.regret_range)} | "
            f"{_f(t.acc_points, '+.2f')} |")


def write_check(result: Verdict, out: Path, stem: str = "verdict") -> list[Path]:
    """STEM.json, STEM.md, STEM.csv (a row per group and size), leaderboard.md (where several
    arms ran) and the plots into ``out`` (a check's verdict/, or a fit's fit/); returns the
    files written, less leaderboard.md."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / f"{stem}.json", result.to_json())
    (out / f"{stem}.md").write_text(check_markdown(result))
    with open(out / f"{stem}.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["optimizer", "scheme", "model", result.axis, *[f"L_{m}" for m in MEASURES],
                    "eta_star", "eta_pred", "pred_error", "star_val_loss", "runs", "diverged",
                    "failed"])
        for g in result.groups:
            for r in g.rows:
                w.writerow([g.optimizer, g.scheme, r.model, r.value,
                            *[r.L.get(m) for m in MEASURES], r.eta_star, r.eta_pred,
                            r.pred_error, r.star_val_loss, r.runs, r.diverged, r.failed])
    if result.leaderboard:
        (out / "leaderboard.md").write_text(result.leaderboard)
    return [out / f"{stem}.json", out / f"{stem}.md", out / f"{stem}.csv",
            *check_plots(result, out)]


def log_check(result: Verdict, files: list[Path], out: Path, logger: Any,
              kind: str = "check") -> None:
    """Each size's eta* and prediction, the regret table, the trends and the plots as one W&B
    run (``kind``: check or fit) in the group of ``out``'s sweep; online, also a W&B Report."""
    sizes, rows, summary = [], [], {}
    for g in result.groups:
        sizes += [[g.optimizer, g.scheme, r.model, r.value, r.L.get("minimal_path"),
                   r.eta_star, r.eta_pred, r.star_val_loss] for r in g.rows]
        for t in g.regret:
            span = t.regret_range or [None, None]
            rows.append([g.optimizer, g.scheme, t.value, t.lr, t.eta_star, t.val_loss,
                         t.star_val_loss, t.regret, *span, t.acc_regret, t.compute_saved,
                         t.test and t.test.regret, t.test and t.test.acc_points])
        for m, t in g.trends.items():
            summary[f"{kind}/{g.optimizer}/{g.scheme}/{m}/slope"] = t.slope
        summary[f"{kind}/{g.optimizer}/{g.scheme}/verdict"] = g.call
    columns = ["optimizer", "scheme", "target", "lr", "eta_star", "val_loss", "star_val_loss",
               "regret", "regret_seed_min", "regret_seed_max", "acc_regret", "compute_saved",
               "test_regret", "test_acc_points_lost"]
    sweep = out.parent.name

    def report(run) -> None:
        if logger.get("mode") != "online":
            return
        try:
            import wandb_workspaces.reports.v2 as wr
        except ImportError:
            log.warning("pip install 'amup-timm[reports]' to build a W&B Report")
            return
        wr.Report(project=run.project, entity=run.entity, title=f"eta* against size: {sweep}",
                  blocks=[wr.H1("eta* against size"),
                          wr.P("\n".join(check_summary(result)))]).save()

    _log_run(logger, job_type="transfer_check" if kind == "check" else kind,
             name=f"{kind}-{sweep}", out=out, prefix=kind, group=sweep,
             tables={"table": (["optimizer", "scheme", "model", result.axis, "L", "eta_star",
                                "eta_pred", "star_val_loss"], sizes),
                     "regret": (columns, rows)}, summary=summary,
             images={f.stem: f for f in files if f.suffix == ".png"}, report=report)


def leaderboard_markdown(b: Board) -> str:
    """The leaderboard as a table, then the rule's decision at the deepest depth (tied set,
    each arm against timm's one LR and the optimum, with intervals) and the picked arm's
    amup-train overrides."""
    lines = [f"| {b.axis} | arm | LR | test acc (seeds) | test loss (seeds) | gap to best grid |"
             " own regret | eta* of its scheme |", "|---|---|---|---|---|---|---|---|"]
    for r in sorted(b.rows, key=lambda r: (r.value, r.loss)):
        diverged = sum(math.isinf(x) for x in r.seeds)
        acc = (f"{100 * r.acc:.1f}% ({100 * r.acc_range[0]:.1f}-{100 * r.acc_range[1]:.1f})"
               if r.acc is not None else f"diverged ({diverged} of {len(r.seeds)} seeds)")
        loss = ("-" if diverged == len(r.seeds) else f"{_f(r.loss, '.4f')} "
                f"({_f(r.loss_range[0], '.4f')}-{_f(r.loss_range[1], '.4f')})")
        lines.append(f"| {r.value} | {r.arm} | {_f(r.lr, '.3g')} | {acc} | {loss} | "
                     f"{_f(r.gap, '+.4f')} | {_f(r.regret, '+.4f')} | "
                     f"{_f(r.eta_star, '.3g')} |")
    picked = "validation" if b.select == "val" else SELECT_HELP[b.select]
    for value, best in sorted(b.best.items()):
        lines.append(f"\nBest grid at {b.axis} {value} (picked on {picked}): {best.scheme} "
                     f"at LR {best.lr:.3g}, test loss {_f(best.loss, '.4f')}, acc "
                     f"{100 * best.acc:.1f}%")
    if b.decision is not None:
        lines += ["", *decision_markdown(b.decision)]
    lines += ["", f"Verdict: {b.call}."]
    if b.overrides:
        lines.append(f"Picked from the tied set (rule: lowest validation loss): {b.named}. "
                     "Train a deeper model with it (these overrides added to the command that "
                     f"trains it): `{' '.join(b.overrides)}`")
    return "\n".join(lines)


def diff_text(d: Diff | None) -> str:
    """``+0.0123 [+0.0040, +0.0206] worse`` (validation loss; n pairs)."""
    if d is None:
        return "-"
    ci = f" [{d.lo:+.4f}, {d.hi:+.4f}]" if d.lo is not None else ""
    return f"{_f(d.mean, '+.4f')}{ci} {d.call}"


def decision_markdown(d: Decision) -> list[str]:
    """The rule's table at one depth: each arm against the best, timm's one LR and the deep
    optimum (validation loss, paired over seeds, Bonferroni-corrected 95% t-intervals), with
    the test split's differences beside them."""
    arms = [d.best] + sorted(d.vs_best, key=lambda a: d.vs_best[a].mean or 0.0)
    df = f", df {d.pairs - 1}" if d.pairs >= MIN_PAIRS else ""
    m = ", ".join(str(len(c)) if c else "-" for c in (d.vs_best, d.vs_standard, d.vs_optimum))
    lines = [f"Decision at {d.value} ({d.pairs} paired seeds; validation loss differences, "
             f"paired t{df}, Bonferroni 95% within each column (m = {m}); tied under {MARGIN} "
             "or where the interval holds 0):",
             "", "| arm | vs the best | vs timm's one LR | vs the optimum"
             f" ({d.optimum or 'no grid here'}) | test loss vs the optimum | test acc points |",
             "|---|---|---|---|---|---|"]
    for a in arms:
        opt = d.vs_optimum.get(a)
        lines.append(f"| {a} | {'best' if a == d.best else diff_text(d.vs_best.get(a))} | "
                     f"{'-' if a == 'standard' else diff_text(d.vs_standard.get(a))} | "
                     f"{diff_text(opt)} | {_f(opt.test_loss if opt else None, '+.4f')} | "
                     f"{_f(opt.test_acc_points if opt else None, '+.2f')} |")
    return lines


# -- the probe and the coordinate check ------------------------------------------------------

def probe_summary(result: dict) -> list[str]:
    """Per architecture: L, K, S(ref_lr) and eta_probe against the law; the slope."""
    lines = [f"{r['model']} {r['kwargs']}: L={r['L']:g} K={r['K']} S_abs={r['S_abs']:.4g} "
             f"S_rel={r['S_rel']:.4g} eta_probe={r['eta_probe']:.4g} eta_law={r['eta_law']:.4g}"
             for r in result["rows"]]
    if result["slope"] and result["slope"]["slope"] is not None:
        lines.append(f"eta_probe slope against L ({result['measure']}): "
                     f"{result['slope']['slope']:.3f}")
    return lines


def write_probe(result: dict, out: Path, by: str = "depth") -> list[Path]:
    """probe.json and the probe's plots into ``out``; returns the files written."""
    write_json(out / "probe.json", result)
    return [out / "probe.json", *probe_plots(result, out, by)]


def log_probe(result: dict, files: list[Path], out: Path, logger: Any, config: dict) -> None:
    """The probe's plots and slope as one W&B run (``config``: the probe's settings, model)."""
    _log_run(logger, job_type="probe", name=f"probe-{config['model']}", out=out,
             prefix="probe", config=config,
             images={f.stem: f for f in files if f.suffix == ".png"},
             summary={"probe/slope": (result["slope"] or {}).get("slope")})


def coord_summary(results: list[dict]) -> list[str]:
    """Per scheme and kind: the logit change at each width, its slope, flat or drifting."""
    lines = []
    for r in results:
        lines.append(f"{r['model']} {r['scheme']} {r['optimizer']} lr={r['lr']:g}: mean "
                     f"|logit change| at width x{', x'.join(f'{w:g}' for w in r['widths'])}")
        for kind, row in r["kinds"].items():
            slope = ("no change at any width: nothing to judge" if row["slope"] is None else
                     f"{row['slope']:+.2f}/doubling {'flat' if row['flat'] else 'DRIFTS'}")
            lines.append(f"  {kind:12s} " + " ".join(f"{c:9.3g}" for c in row["change"])
                         + f"   {slope}")
    return lines


def write_coord(results: list[dict], out: Path) -> list[Path]:
    """coord.json and coord.png into ``out``; returns the files written."""
    write_json(out / "coord.json", results)
    return [out / "coord.json", coord_plot(results, out)]


def log_coord(results: list[dict], files: list[Path], out: Path, logger: Any,
              config: dict) -> None:
    """The coordinate check's plot and slopes as one W&B run (``config``: its settings)."""
    _log_run(logger, job_type="coord", name=f"coord-{results[0]['model']}", out=out,
             prefix="coord", config=config,
             images={"plot": next(f for f in files if f.suffix == ".png")},
             summary={f"coord/{r['scheme']}/{k}/slope": row["slope"]
                      for r in results for k, row in r["kinds"].items()})


# -- the W&B run -----------------------------------------------------------------------------

def _log_run(logger: Any, *, job_type: str, name: str, out: Path, prefix: str,
             group: str | None = None, config: dict | None = None,
             tables: dict[str, tuple[list[str], list[list]]] | None = None,
             images: dict[str, Path] | None = None, summary: dict | None = None,
             report: Callable[[Any], None] | None = None) -> None:
    """Log ``tables`` (name -> (columns, rows)), ``images`` (name -> PNG) and ``summary``
    under ``prefix/`` as one run in the logger's project and mode (offline by default);
    ``report(run)`` runs before it finishes (e.g. to build a W&B Report online). Nothing
    unless the logger config asks for W&B (``logger=wandb``, mode not ``disabled``)."""
    if not logger or logger.get("name", "wandb") != "wandb" or logger.get("mode") == "disabled":
        return
    import wandb

    run = wandb.init(project=logger.get("project", "amup-timm"), entity=logger.get("entity"),
                     mode=logger.get("mode", "offline"), group=group, job_type=job_type,
                     dir=str(out), name=name, config=config, reinit="finish_previous")
    data = {f"{prefix}/{k}": wandb.Table(columns=cols, data=rows)
            for k, (cols, rows) in (tables or {}).items()}
    data.update({f"{prefix}/{k}": wandb.Image(str(p)) for k, p in (images or {}).items()})
    if data:
        run.log(data)
    run.summary.update(summary or {})
    if report is not None:
        report(run)
    run.finish()
