"""The eta*(L) fit of a depth x LR sweep (docs/design.md §7).

    python -m amup_timm.fit multirun/sweep_tiny/2026-11-24_10-00-00 [--select mean]

eta* per depth: losses averaged over seeds, then the argmin over the LR grid (a diverged seed
makes its cell +inf). The slope of log eta* on log L, with its 95% interval and R^2, for each
depth measure; the transfer error of the law from a base depth; per optimizer and scheme.
Writes fit.json, fit.csv, eta_vs_L.png and loss_vs_lr.png to SWEEP/fit (or --out).
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from .eta import DEFAULT_SELECT, SELECT, eta_star, lr_curve
from .records import Record, collect, write_json
from .wandb_log import log_result

log = logging.getLogger(__name__)
MEASURES = ("minimal_path", "longest_path", "blocks")


def fit_slope(L: list[float], eta: list[float]) -> dict[str, Any]:
    """Least squares of log eta on log L: slope, 95% interval, R^2."""
    n = len(L)
    if n < 2:
        return {"slope": None, "ci95": [None, None], "r2": None, "n": n, "intercept": None}
    x = [math.log(v) for v in L]
    y = [math.log(v) for v in eta]
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((a - mx) ** 2 for a in x)
    if sxx == 0:
        return {"slope": None, "ci95": [None, None], "r2": None, "n": n, "intercept": None}
    slope = sum((a - mx) * (b - my) for a, b in zip(x, y)) / sxx
    intercept = my - slope * mx
    resid = [b - (intercept + slope * a) for a, b in zip(x, y)]
    ss_res, ss_tot = sum(r * r for r in resid), sum((b - my) ** 2 for b in y)
    r2 = 1 - ss_res / ss_tot if ss_tot > 0 else 1.0
    ci: list[float | None] = [None, None]
    if n > 2:
        from scipy.stats import t

        half = t.ppf(0.975, n - 2) * math.sqrt(ss_res / (n - 2) / sxx)
        ci = [slope - half, slope + half]
    return {"slope": slope, "ci95": ci, "r2": r2, "n": n, "intercept": intercept}


def fit_group(records: list[Record], select: str = DEFAULT_SELECT, exponent: float = -1.5,
              base_depth: int | None = None) -> dict[str, Any]:
    """eta*(L), slopes per measure and the law's transfer error, for one optimizer/scheme."""
    by_depth: dict[Any, list[Record]] = defaultdict(list)
    for r in records:
        by_depth[(r.model, r.depth)].append(r)
    rows = []
    for (model, depth), recs in sorted(by_depth.items(), key=lambda kv: (kv[0][1] or 0, kv[0][0])):
        depths = next((r.depths for r in recs if r.depths), {})
        best = eta_star(recs, select)
        rows.append({"model": model, "depth": depth, "L": depths,
                     "eta_star": best[0] if best else None,
                     "best_loss": best[1] if best else None,
                     "curve": lr_curve(recs, select),
                     "runs": len(recs), "diverged": sum(r.status == "diverged" for r in recs),
                     "failed": sum(r.status == "failed" for r in recs)})
    ok = [r for r in rows if r["eta_star"] is not None and r["L"]]
    slopes = {m: fit_slope([r["L"][m] for r in ok], [r["eta_star"] for r in ok])
              for m in MEASURES if all(m in r["L"] for r in ok)}
    transfer, base = [], None
    if ok:
        base = next((r for r in ok if r["depth"] == base_depth), ok[0])
        for m in slopes:
            for r in ok:
                pred = base["eta_star"] * (r["L"][m] / base["L"][m]) ** exponent
                transfer.append({"measure": m, "depth": r["depth"], "eta_pred": pred,
                                 "eta_star": r["eta_star"],
                                 "error_log10": abs(math.log10(pred) - math.log10(r["eta_star"]))})
    return {"rows": rows, "slopes": slopes, "transfer": transfer,
            "base_depth": base["depth"] if base else None}


def fit_sweep(source: str | Path, select: str = DEFAULT_SELECT, exponent: float | None = None,
              base_depth: int | None = None) -> dict[str, Any]:
    """Fit every optimizer/scheme group of a sweep's records; the law's exponent is
    ``exponent`` if given, else the one each group's scheme predicts (-1.5 for am_mup)."""
    records = collect(source)
    if not records:
        raise FileNotFoundError(f"no results.json under {source}; is it a multirun directory?")
    groups: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for r in records:
        groups[(r.optimizer or "?", r.scheme or "?")].append(r)
    out = []
    for (o, s), recs in sorted(groups.items()):
        e = exponent if exponent is not None else _exponent(recs)
        out.append({"optimizer": o, "scheme": s, "exponent": e,
                    **fit_group(recs, select, e, base_depth)})
    return {"source": str(source), "select": select, "groups": out}


def _exponent(records: list[Record]) -> float:
    """The law exponent the group's scheme predicts (-1.5 when the records do not say)."""
    found = {r.exponent for r in records} - {None}
    return found.pop() if len(found) == 1 else -1.5


def write_outputs(result: dict, out: Path, measure: str = "minimal_path") -> list[Path]:
    """fit.json, fit.csv and the two plots; returns the files written."""
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
    (out / "fit.md").write_text(markdown(result))
    return [out / "fit.json", out / "fit.csv", out / "fit.md", *plot(result, out, measure)]


def markdown(result: dict) -> str:
    """Tables a person reads: per group, eta* and best loss per depth, slopes, transfer error."""
    lines = [f"# eta*(L) fit of `{result['source']}` (selected by {result['select']} loss)", ""]
    for g in result["groups"]:
        lines += [f"## {g['optimizer']} / {g['scheme']} (law exponent {g['exponent']:g})", "",
                  "| model | depth | L minimal_path | L blocks | eta* | best loss | runs | "
                  "diverged |", "|---|---|---|---|---|---|---|---|"]
        for r in g["rows"]:
            eta = f"{r['eta_star']:.4g}" if r["eta_star"] else "-"
            loss = f"{r['best_loss']:.4f}" if r["best_loss"] is not None else "-"
            lines.append(f"| {r['model']} | {r['depth']} | {r['L'].get('minimal_path', '-')} | "
                         f"{r['L'].get('blocks', '-')} | {eta} | {loss} | {r['runs']} | "
                         f"{r['diverged']} |")
        lines += ["", "| measure | slope | 95% interval | R^2 | mean transfer error (decades) |",
                  "|---|---|---|---|---|"]
        for m, sl in g["slopes"].items():
            if sl["slope"] is None:
                continue
            errs = [t["error_log10"] for t in g["transfer"] if t["measure"] == m]
            ci = (f"[{sl['ci95'][0]:.2f}, {sl['ci95'][1]:.2f}]" if sl["ci95"][0] is not None
                  else "-")
            lines.append(f"| {m} | {sl['slope']:.3f} | {ci} | {sl['r2']:.3f} | "
                         f"{sum(errs) / max(1, len(errs)):.3f} |")
        lines.append("")
    return "\n".join(lines)


def plot(result: dict, out: Path, measure: str = "minimal_path") -> list[Path]:
    """eta* against L (log-log, fitted and -3/2 lines) and loss against LR per depth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    losses = sorted(loss for g in result["groups"] for r in g["rows"] for _, loss, _ in r["curve"]
                    if loss is not None and math.isfinite(loss))
    if losses:  # runs that blew up without overflowing would flatten every curve
        top = min(losses[-1], losses[0] + 3 * (losses[len(losses) // 2] - losses[0]) + 1e-3)
        ax2.set_ylim(losses[0] - 0.02 * (top - losses[0]) - 1e-3, top)
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


def summary_lines(result: dict) -> list[str]:
    """A short human summary: slope and interval per measure for each group."""
    lines = []
    for g in result["groups"]:
        lines.append(f"[{g['optimizer']}/{g['scheme']}] eta* per depth: " + ", ".join(
            f"{r['depth']}: {r['eta_star']:.3g}" if r["eta_star"] else f"{r['depth']}: -"
            for r in g["rows"]))
        for m, s in g["slopes"].items():
            if s["slope"] is not None:
                ci = (f" 95% CI [{s['ci95'][0]:.2f}, {s['ci95'][1]:.2f}]"
                      if s["ci95"][0] is not None else "")
                lines.append(f"  {m:13s} slope {s['slope']:.3f}{ci} R^2 {s['r2']:.3f} "
                             f"(n={s['n']})")
    return lines


def log_to_wandb(result: dict, files: list[Path], out: Path, logger: Any) -> None:
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
                  blocks=[wr.H1("eta*(L)"), wr.P("\n".join(summary_lines(result)))]).save()

    log_result(logger, job_type="fit", name=f"fit-{name}", out=out, prefix="fit", group=name,
               tables={"table": (["optimizer", "scheme", "model", "depth", "L", "eta_star",
                                  "best_loss"], rows)},
               images={f.stem: f for f in files if f.suffix == ".png"}, summary=summary,
               report=report)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m amup_timm.fit", description=__doc__.split("\n")[0])
    p.add_argument("sweep", help="multirun directory, or wandb:ENTITY/PROJECT/sweeps/ID")
    p.add_argument("--select", choices=sorted(SELECT), default=DEFAULT_SELECT,
                   help="final: mean loss of the last 10%% of steps; mean: whole run")
    p.add_argument("--exponent", type=float, default=None,
                   help="law exponent (default: each scheme's own, -1.5 for am_mup)")
    p.add_argument("--base-depth", type=int, default=None, help="depth the law transfers from")
    p.add_argument("--measure", choices=MEASURES, default="minimal_path", help="for the plot")
    p.add_argument("--out", default=None, help="output directory (default SWEEP/fit)")
    args = p.parse_args(argv)
    result = fit_sweep(args.sweep, args.select, args.exponent, args.base_depth)
    out = Path(args.out) if args.out else (
        Path("fit") / args.sweep.replace(":", "_").replace("/", "_")
        if args.sweep.startswith("wandb:") else Path(args.sweep) / "fit")
    files = write_outputs(result, out, args.measure)
    print("\n".join(summary_lines(result)))
    print("wrote " + ", ".join(str(f) for f in files))
    return result


if __name__ == "__main__":
    main()
