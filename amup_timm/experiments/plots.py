"""Every picture a person looks at: a check's or a fit's eta.png and curves.png, the probe's
update profile and eta_probe against L, the coordinate check's coord.png. The one module that
draws (matplotlib, headless); report.py writes them beside the tables."""

from __future__ import annotations

import math
from pathlib import Path

from .eta import SELECT_HELP
from .verdict import Verdict


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
                    label=f"{g.optimizer}/{g.scheme}: "
                    + (f"{t.slope:+.2f}" if t and t.slope is not None else "-"))
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
