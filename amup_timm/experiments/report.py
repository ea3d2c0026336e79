"""Every output a person reads, in one place: the terminal summaries, the markdown tables, the
plots, the files and the W&B run of a check (verdict.json, .md, leaderboard.md, eta.png,
curves.png), a fit (fit.json, .csv, .md, eta_vs_L.png, loss_vs_lr.png), the probe (probe.json,
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
from .fit import MEASURES
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
                             f"{t.slope:+.3f}  t95 {_interval(t.ci95)}  bootstrap95 "
                             f"{_interval(t.bootstrap95)}  grid {_interval(t.resolution)}"
                             f"  R^2 {_f(t.r2, '.3f')}")
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
        if failed:
            lines.append(f"  failed runs: {failed} (not used: an eta* beside one may be wrong; "
                         "rerun them)")
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
                  f"| {axis} | L minimal_path | L blocks | eta* | held-out loss at eta* (acc) | "
                  "runs | diverged | failed |", "|---|---|---|---|---|---|---|---|"]
        for r in g.rows:
            lines.append(
                f"| {r.value} | {r.L.get('minimal_path', '-')} | {r.L.get('blocks', '-')}"
                f" | {_f(r.eta_star, '.3g')}{'*' if r.at_edge else ''} | "
                f"{_f(r.star_val_loss)} ({_f(r.star_val_acc, '.3f')}) | {r.runs} | "
                f"{r.diverged} | {r.failed} |")
        lines += ["", f"| measure | {'slope' if axis == 'depth' else 'drift/doubling'} | "
                  "t 95% | seed bootstrap 95% | grid resolution | R^2 |",
                  "|---|---|---|---|---|---|"]
        for m, t in g.trends.items():
            lines.append(f"| {m} | {_f(t.slope, '+.3f')} | {_interval(t.ci95)} | "
                         f"{_interval(t.bootstrap95)} | {_interval(t.resolution)} | "
                         f"{_f(t.r2, '.3f')} |")
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


def write_check(result: Verdict, out: Path) -> list[Path]:
    """verdict.json, verdict.md, leaderboard.md (where several arms ran) and the plots into
    ``out``; returns the files written, less leaderboard.md."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "verdict.json", result.to_json())
    (out / "verdict.md").write_text(check_markdown(result))
    if result.leaderboard:
        (out / "leaderboard.md").write_text(result.leaderboard)
    return [out / "verdict.json", out / "verdict.md", *check_plots(result, out)]


def log_check(result: Verdict, files: list[Path], sweep: Path, logger: Any) -> None:
    """The regret table, the trends and the plots as one W&B run of the sweep's group."""
    rows, summary = [], {}
    for g in result.groups:
        for t in g.regret:
            span = t.regret_range or [None, None]
            rows.append([g.optimizer, g.scheme, t.value, t.lr, t.eta_star, t.val_loss,
                         t.star_val_loss, t.regret, *span, t.acc_regret, t.compute_saved,
                         t.test and t.test.regret, t.test and t.test.acc_points])
        for m, t in g.trends.items():
            summary[f"check/{g.optimizer}/{g.scheme}/{m}/slope"] = t.slope
        summary[f"check/{g.optimizer}/{g.scheme}/verdict"] = g.call
    columns = ["optimizer", "scheme", "target", "lr", "eta_star", "val_loss", "star_val_loss",
               "regret", "regret_seed_min", "regret_seed_max", "acc_regret", "compute_saved",
               "test_regret", "test_acc_points_lost"]
    _log_run(logger, job_type="transfer_check", name=f"check-{sweep.name}",
             out=sweep / "verdict", prefix="check", group=sweep.name,
             tables={"regret": (columns, rows)}, summary=summary,
             images={f.stem: f for f in files if f.suffix == ".png"})


def leaderboard_markdown(b: Board) -> str:
    """The leaderboard as a table, the named arm and its amup-train overrides."""
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
        lines.append(f"\nBest grid at {b.axis} {value}: {best.scheme} at LR "
                     f"{best.lr:.3g}, test loss {_f(best.loss, '.4f')}, acc "
                     f"{100 * best.acc:.1f}%")
    lines += ["", f"Named: {b.call}."]
    if b.overrides:
        lines.append("Train a deeper model with it (these overrides added to the command that "
                     f"trains it): `{' '.join(b.overrides)}`")
    return "\n".join(lines)


# -- the fit ---------------------------------------------------------------------------------

def fit_summary(result: dict) -> list[str]:
    """A short human summary: slope and interval per measure for each group."""
    lines = []
    for g in result["groups"]:
        lines.append(f"[{g['optimizer']}/{g['scheme']}] eta* per depth: " + ", ".join(
            f"{r['depth']}: {_f(r['eta_star'], '.3g')}{'!' if r.get('gaps') else ''}"
            for r in g["rows"]))
        failed = sum(r["failed"] for r in g["rows"])
        gaps = [r for r in g["rows"] if r.get("gaps")]
        if failed or gaps:
            near = ", ".join(f"{r['depth']} (" + ", ".join(_f(x, ".3g") for x in r["gaps"]) + ")"
                             for r in gaps)
            lines.append(f"  failed runs: {failed}; eta* next to a failed or missing LR (!): "
                         f"{near or 'none'}")
        for m, s in g["slopes"].items():
            if s["slope"] is not None:
                ci = f" 95% CI {_interval(s['ci95'])}" if s["ci95"][0] is not None else ""
                lines.append(f"  {m:13s} slope {s['slope']:.3f}{ci} R^2 {s['r2']:.3f} "
                             f"(n={s['n']})")
    return lines


def fit_markdown(result: dict) -> str:
    """Tables a person reads: per group, eta* and best loss per depth, slopes, transfer error."""
    lines = [f"# eta*(L) fit of `{result['source']}` (selected by {result['select']} loss)", ""]
    for g in result["groups"]:
        lines += [f"## {g['optimizer']} / {g['scheme']} (law exponent {g['exponent']:g})", "",
                  "| model | depth | L minimal_path | L blocks | eta* | best loss | runs | "
                  "diverged | failed | failed or missing LRs next to eta* |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in g["rows"]:
            gaps = ", ".join(_f(x, ".4g") for x in r.get("gaps") or []) or "-"
            lines.append(f"| {r['model']} | {r['depth']} | {r['L'].get('minimal_path', '-')} | "
                         f"{r['L'].get('blocks', '-')} | {_f(r['eta_star'], '.4g')} | "
                         f"{_f(r['best_loss'], '.4f')} | {r['runs']} | {r['diverged']} | "
                         f"{r['failed']} | {gaps} |")
        lines += ["", "| measure | slope | 95% interval | R^2 | mean transfer error (decades) |",
                  "|---|---|---|---|---|"]
        for m, sl in g["slopes"].items():
            if sl["slope"] is None:
                continue
            errs = [t["error_log10"] for t in g["transfer"] if t["measure"] == m]
            lines.append(f"| {m} | {sl['slope']:.3f} | {_interval(sl['ci95'])} | "
                         f"{sl['r2']:.3f} | {sum(errs) / max(1, len(errs)):.3f} |")
        lines.append("")
    return "\n".join(lines)


def fit_plots(result: dict, out: Path, measure: str = "minimal_path") -> list[Path]:
    """eta* against L (log-log, fitted and -3/2 lines) and loss against LR per depth."""
    plt = _pyplot()
    fig1, ax1 = plt.subplots(figsize=(5.5, 4.2))
    fig2, ax2 = plt.subplots(figsize=(5.5, 4.2))
    colors = plt.get_cmap("tab10")
    for k, g in enumerate(result["groups"]):
        label, color = f"{g['optimizer']}/{g['scheme']}", colors(k % 10)
        ok = [r for r in g["rows"] if r["eta_star"] is not None and measure in r["L"]]
        if ok:
            L = [r["L"][measure] for r in ok]
            eta = [r["eta_star"] for r in ok]
            s = g["slopes"].get(measure, {})
            fitted = f", fit {s['slope']:.2f}" if s.get("slope") is not None else ""
            ax1.scatter(L, eta, color=color, label=f"{label}{fitted}, law {g['exponent']:g}")
            xs = [min(L), max(L)]
            if s.get("slope") is not None:
                ax1.plot(xs, [math.exp(s["intercept"]) * x ** s["slope"] for x in xs],
                         color=color)
            ref = math.exp(sum(math.log(e) - g["exponent"] * math.log(x)
                               for x, e in zip(L, eta)) / len(L))
            ax1.plot(xs, [ref * x ** g["exponent"] for x in xs], "--", color=color, alpha=0.6)
        cmap = plt.get_cmap("viridis")
        for i, r in enumerate(g["rows"]):
            pts = [(lr, loss) for lr, loss, _ in r["curve"] if loss is not None
                   and math.isfinite(loss)]
            if pts:
                ax2.plot(*zip(*pts), "o-", ms=3, color=cmap(i / max(1, len(g["rows"]) - 1)),
                         label=f"{label} {r['model']} d={r['depth']}"
                         if len(result["groups"]) > 1 else f"{r['model']} d={r['depth']}")
    ax1.set(xscale="log", yscale="log", xlabel=f"L ({measure})", ylabel="eta*",
            title="best LR against depth (solid: fit, dashed: law)")
    _clip(ax2, margin=0.02)
    ax2.set(xscale="log", xlabel="learning rate", ylabel=f"train loss ({result['select']})",
            title="loss against LR per depth (diverged LRs omitted)")
    for ax in (ax1, ax2):
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    files = [out / "eta_vs_L.png", out / "loss_vs_lr.png"]
    for fig, f in zip((fig1, fig2), files):
        fig.tight_layout()
        fig.savefig(f, dpi=120)
        plt.close(fig)
    return files


def write_fit(result: dict, out: Path, measure: str = "minimal_path") -> list[Path]:
    """fit.json, fit.csv, fit.md and the two plots into ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "fit.json", result)
    with open(out / "fit.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["optimizer", "scheme", "model", "depth", *[f"L_{m}" for m in MEASURES],
                    "eta_star", "best_loss", "runs", "diverged", "failed"])
        for g in result["groups"]:
            for r in g["rows"]:
                w.writerow([g["optimizer"], g["scheme"], r["model"], r["depth"],
                            *[r["L"].get(m) for m in MEASURES], r["eta_star"], r["best_loss"],
                            r["runs"], r["diverged"], r["failed"]])
    (out / "fit.md").write_text(fit_markdown(result))
    return [out / "fit.json", out / "fit.csv", out / "fit.md", *fit_plots(result, out, measure)]


def log_fit(result: dict, files: list[Path], out: Path, logger: Any) -> None:
    """Log the table and plots to W&B; online, also build a W&B Report."""
    name = Path(result["source"]).name
    rows = [[g["optimizer"], g["scheme"], r["model"], r["depth"], r["L"].get("minimal_path"),
             r["eta_star"], r["best_loss"]] for g in result["groups"] for r in g["rows"]]
    summary = {f"fit/{g['optimizer']}/{g['scheme']}/{m}/slope": s["slope"]
               for g in result["groups"] for m, s in g["slopes"].items()}

    def report(run) -> None:
        if logger.get("mode") != "online":
            return
        try:
            import wandb_workspaces.reports.v2 as wr
        except ImportError:
            log.warning("pip install 'amup-timm[reports]' to build a W&B Report")
            return
        wr.Report(project=run.project, entity=run.entity, title=f"eta*(L) fit: {name}",
                  blocks=[wr.H1("eta*(L)"), wr.P("\n".join(fit_summary(result)))]).save()

    _log_run(logger, job_type="fit", name=f"fit-{name}", out=out, prefix="fit", group=name,
             tables={"table": (["optimizer", "scheme", "model", "depth", "L", "eta_star",
                                "best_loss"], rows)},
             images={f.stem: f for f in files if f.suffix == ".png"}, summary=summary,
             report=report)


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
