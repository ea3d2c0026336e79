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
from ..config import MEASURES
from .decide import MARGIN, Decision, Diff
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


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _clip(ax, margin: float = 0.05) -> None:
    """Keep the useful range: runs that blew up without overflowing flatten every curve."""
    ys = sorted(y for line in ax.get_lines() for y in line.get_ydata() if math.isfinite(y))
    if ys:
        top = min(ys[-1], ys[0] + 3 * (ys[len(ys) // 2] - ys[0]) + 1e-3)
        ax.set_ylim(ys[0] - margin * (top - ys[0]) - 1e-3, top)


# -- the check -------------------------------------------------------------------------------

def check_summary(result: Verdict) -> list[str]:
    """The verdict as a person reads it in a terminal."""
    axis, lines = result.axis, []
    for g in result.groups:
        lines.append(f"[{g.optimizer}/{g.scheme}] eta* by {axis} "
                     f"({SELECT_HELP[result.select]}): " + ", ".join(
                         f"{r.value}: {_f(r.eta_star, '.3g')}{'*' if r.at_edge else ''}"
                         for r in g.rows))
        for m, t in g.trends.items():
            if t.slope is not None:
                lines.append(f"  {m:13s} {'slope' if axis == 'depth' else 'drift'} "
                             f"{t.slope:+.3f}  t 95% {_interval(t.ci95)}  "
                             f"{t.bootstrap_method or 'seed bootstrap'} 95% "
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
                  "diverged | failed |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in g.rows:
            lines.append(
                f"| {r.value} | {r.L.get('minimal_path', '-')} | {r.L.get('blocks', '-')}"
                f" | {_f(r.eta_star, '.3g')}{'*' if r.at_edge else ''} | "
                f"{_f(r.eta_pred, '.3g')} | {_f(r.pred_error, '.2f')} | "
                f"{_f(r.star_val_loss)} ({_f(r.star_val_acc, '.3f')}) | {r.runs} | "
                f"{r.diverged} | {r.failed} |")
        lines += ["", f"| measure | {'slope' if axis == 'depth' else 'drift/doubling'} | "
                  "t 95% | seed bootstrap 95% (method) | grid resolution | R^2 | note |",
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


def check_plots(result: Verdict, out: Path) -> list[Path]:
    """eta.png (eta* against size, fit and prediction) and curves.png (loss against LR per
    size, one column a scheme, the transferred LR's runs as stars)."""
    plt = _pyplot()
    axis, groups = result.axis, result.groups
    measure = result.measure if axis == "depth" else "width"
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for k, g in enumerate(groups):
        color = plt.get_cmap("tab10")(k % 10)
        ok = [r for r in g.rows if r.eta_star is not None]
        xs = [r.L.get(measure) if axis == "depth" else r.value for r in ok]
        if not ok or None in xs:
            continue
        t = g.trends.get(measure)
        etas = [r.eta_star for r in ok]
        ranges = [r.eta_range or (math.log10(e), math.log10(e)) for r, e in zip(ok, etas)]
        ax.errorbar(xs, etas, yerr=[[max(0.0, e - 10 ** lo) for e, (lo, _) in zip(etas, ranges)],
                                    [max(0.0, 10 ** hi - e) for e, (_, hi) in zip(etas, ranges)]],
                    fmt="o", capsize=3, color=color,
                    label=f"{g.optimizer}/{g.scheme}: {_f(t and t.slope, '+.2f')}")
        eta0 = ok[0].eta_star
        pred = [eta0 * (x / xs[0]) ** g.exponent for x in xs] if axis == "depth" else \
            [eta0 for _ in xs]
        ax.plot(xs, pred, "--", color=color, alpha=0.6)
    ax.set(xscale="log", yscale="log", xlabel=f"L ({measure})" if axis == "depth" else "width",
           ylabel="eta*", title="eta* (bars: seeds' 95%), transfer from the smallest (--)")
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    files = [out / "eta.png", out / "curves.png"]
    fig.tight_layout()
    fig.savefig(files[0], dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(2, max(1, len(groups)), figsize=(4.6 * max(1, len(groups)), 7),
                             squeeze=False, sharex="col")
    for col, g in enumerate(groups):
        cmap = plt.get_cmap("viridis")
        for i, r in enumerate(g.rows):
            color = cmap(i / max(1, len(g.rows) - 1))
            top = "train_loss" if result.select == "val" else "select_loss"
            for row, key in ((0, top), (1, "val_loss")):
                pts = [(c["lr"], c[key]) for c in r.curve
                       if c[key] is not None and math.isfinite(c[key])]
                if pts:
                    axes[row][col].plot(*zip(*sorted(pts)), "o-", ms=3, color=color,
                                        label=f"{axis} {r.value}")
            hit = next((t for t in g.regret if t.value == r.value), None)
            if hit and hit.val_loss is not None and math.isfinite(hit.val_loss):
                axes[1][col].plot([hit.lr], [hit.val_loss], "*", ms=13, color=color,
                                  markeredgecolor="k")
        axes[0][col].set(title=f"{g.optimizer} / {g.scheme}", ylabel=SELECT_HELP[
            "final" if result.select == "val" else result.select])
        axes[1][col].set(xlabel="learning rate", ylabel="held-out loss (star: transferred LR)")
        for row in (0, 1):
            axes[row][col].set_xscale("log", base=2 if axis == "width" else 10)
            axes[row][col].grid(True, which="both", alpha=0.3)
            _clip(axes[row][col])
        axes[0][col].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(files[1], dpi=110)
    plt.close(fig)
    return files


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
    for value, best in sorted(b.best.items()):
        lines.append(f"\nBest grid at {b.axis} {value} (picked on validation): {best.scheme} "
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


def _diff(d: Diff | None) -> str:
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
    lines = [f"Decision at {d.value} ({d.pairs} paired seeds; validation loss differences, "
             f"paired t, Bonferroni 95%; tied under {MARGIN} or where the interval holds 0):",
             "", "| arm | vs the best | vs timm's one LR | vs the optimum"
             f" ({d.optimum or 'no grid here'}) | test loss vs the optimum | test acc points |",
             "|---|---|---|---|---|---|"]
    for a in arms:
        opt = d.vs_optimum.get(a)
        lines.append(f"| {a} | {'best' if a == d.best else _diff(d.vs_best.get(a))} | "
                     f"{'-' if a == 'standard' else _diff(d.vs_standard.get(a))} | "
                     f"{_diff(opt)} | {_f(opt.test_loss if opt else None, '+.4f')} | "
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


def probe_plots(result: dict, out: Path, by: str = "depth") -> list[Path]:
    """Per-layer update size against relative layer index, and eta_probe against L."""
    plt = _pyplot()
    rows = result["rows"]
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    cmap = plt.get_cmap("viridis")
    for i, r in enumerate(rows):
        n = len(r["per_layer_abs"])
        label = (f"width {r['kwargs'].get('width')}" if by == "width"
                 else f"{r['model']} L={r['L']:g}")
        ax.plot([(j + 1) / n for j in range(n)], r["per_layer_abs"], "o-", ms=2,
                color=cmap(i / max(1, len(rows) - 1)), label=label)
    ax.set(yscale="log", xlabel="layer index / number of layers", ylabel="E[(dh)^2]",
           title=f"one-step update per layer at lr={result['ref_lr']:g}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    files = [out / "update_profile.png"]
    fig.tight_layout()
    fig.savefig(files[0], dpi=120)
    plt.close(fig)
    if by == "depth" and len(rows) > 1:
        fig, ax = plt.subplots(figsize=(5.5, 4.2))
        L = [r["L"] for r in rows]
        ax.plot(L, [r["eta_probe"] for r in rows], "o-", label="eta_probe")
        ax.plot(L, [r["eta_law"] for r in rows], "k--", label=f"law {result['measure']} -3/2")
        ax.set(xscale="log", yscale="log", xlabel=f"L ({result['measure']})", ylabel="eta",
               title="probe LR against depth")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        files.append(out / "eta_probe_vs_L.png")
        fig.tight_layout()
        fig.savefig(files[1], dpi=120)
        plt.close(fig)
    return files


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


def coord_plot(results: list[dict], out: Path) -> Path:
    """One panel per scheme: each kind's logit change against width (log-log)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 4), sharey=True,
                             squeeze=False)
    for ax, r in zip(axes[0], results):
        for kind, row in r["kinds"].items():
            slope = "-" if row["slope"] is None else f"{row['slope']:+.2f}"
            ax.plot(r["widths"], row["change"], "o-", ms=3, label=f"{kind} ({slope}/doubling)")
        ax.set(xscale="log", yscale="log", xlabel="width multiplier",
               title=f"{r['scheme']}: {r['optimizer']} lr={r['lr']:g}, steps={r['steps']}")
        ax.set_xticks(r["widths"], [f"{w:g}" for w in r["widths"]])
        ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("mean |logit change|, one kind trained")
    fig.suptitle(results[0]["model"], fontsize=9)
    fig.tight_layout()
    path = out / "coord.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


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
