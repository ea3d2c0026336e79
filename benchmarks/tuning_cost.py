"""What LR transfer saves: the compute of an LR sweep at each target depth against a sweep at
the base depth plus transfer, and the regret of the transferred LR.

    python benchmarks/tuning_cost.py multirun/paper_cnn_cpu [--base-depth 3]

Reads a finished depth x LR sweep of plain_cnn (e.g. +sweeps=paper_cnn_cpu), trains every
target depth at the LR the -3/2 law transfers from the base depth's eta* (same seeds, into
SWEEP/transfer_d<depth>), and compares its final loss with the best grid LR at that depth.
Compute = steps x FLOPs per step (torch.utils.flop_counter, forward + backward).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

import amup_timm
from omegaconf import OmegaConf

from amup_timm.experiments.check import architecture_overrides, multirun
from amup_timm.experiments.eta import eta_star, loss_of
from amup_timm.experiments.records import Record, collect
from amup_timm.law import law


def step_flops(depth: int, width: int, img: int, batch: int, in_chans: int) -> int:
    model = amup_timm.create_model("plain_cnn", depth=depth, width=width, in_chans=in_chans)
    x, y = torch.randn(batch, in_chans, img, img), torch.randint(0, 10, (batch,))
    with FlopCounterMode(display=False) as fc:
        F.cross_entropy(model(x), y).backward()
    return fc.get_total_flops()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("sweep")
    p.add_argument("--base-depth", type=int, default=None)
    p.add_argument("--select", default="final", choices=["final", "mean"])
    args = p.parse_args()
    sweep = Path(args.sweep)
    recs = [r for r in collect(sweep) if "transfer_d" not in r.path]
    by_depth: dict[int, list[Record]] = {}
    for r in recs:
        by_depth.setdefault(r.depth, []).append(r)
    depths = sorted(by_depth)
    base = args.base_depth or depths[0]
    cfg = __import__("json").loads((Path(recs[0].path) / "results.json").read_text())["config"]
    width, img = cfg["model"]["kwargs"]["width"], cfg["data"]["img_size"]
    batch, steps, in_chans = cfg["data"]["batch_size"], cfg["trainer"]["max_steps"], \
        cfg["data"]["in_chans"]
    L = {d: by_depth[d][0].depths["minimal_path"] for d in depths}
    eta_base = eta_star(by_depth[base], args.select)[0]
    seeds = sorted({r.seed for r in by_depth[base]})
    flops = {d: step_flops(d, width, img, batch, in_chans) * steps for d in depths}
    rows = []
    for d in depths:
        if d == base:
            continue
        pred = law(eta_base, L[d], L[base])
        out = sweep / f"transfer_d{d}"
        if not list(out.glob("*/results.json")):
            task = list(OmegaConf.load(sweep / "multirun.yaml").hydra.overrides.task)
            multirun(out, task, [*architecture_overrides("plain_cnn", d),
                                 f"optim.log10_lr={round(math.log10(pred), 6)}"])
        transferred = [loss_of(r, args.select) for r in collect(out)]
        star, best = eta_star(by_depth[d], args.select)
        got = sum(transferred) / len(transferred)
        rows.append({"depth": d, "L": L[d], "eta_pred": pred, "eta_star": star,
                     "loss_transfer": got, "loss_best": best, "regret": got - best,
                     "sweep_flops": len(by_depth[d]) * flops[d],
                     "transfer_flops": len(by_depth[base]) * flops[base] + len(seeds) * flops[d]})
    print(f"base depth {base} (eta* {eta_base:.4g}), {len(seeds)} seeds, {steps} steps, "
          f"selected by {args.select} loss")
    print("| depth | L | eta transferred | eta* grid | loss (transferred) | loss (best grid) | "
          "regret | sweep PFLOP | base sweep + transfer PFLOP | saved |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['depth']} | {r['L']} | {r['eta_pred']:.4g} | {r['eta_star']:.4g} | "
              f"{r['loss_transfer']:.4f} | {r['loss_best']:.4f} | {r['regret']:+.4f} | "
              f"{r['sweep_flops'] / 1e15:.3f} | {r['transfer_flops'] / 1e15:.3f} | "
              f"{r['sweep_flops'] / r['transfer_flops']:.1f}x |")
    plot(rows, sweep / "tuning_cost.png")
    print(f"wrote {sweep / 'tuning_cost.png'}")


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.6))
    d = [str(r["depth"]) for r in rows]
    x = range(len(rows))
    a1.bar([i - 0.2 for i in x], [r["sweep_flops"] / 1e15 for r in rows], 0.4,
           label="LR sweep at the target")
    a1.bar([i + 0.2 for i in x], [r["transfer_flops"] / 1e15 for r in rows], 0.4,
           label="sweep at base + transferred run")
    a1.set(xticks=list(x), xticklabels=d, xlabel="target depth", ylabel="PFLOP",
           title="tuning compute")
    a1.legend(fontsize=7)
    a2.bar(list(x), [r["regret"] for r in rows])
    a2.axhline(0, color="k", lw=0.5)
    a2.set(xticks=list(x), xticklabels=d, xlabel="target depth",
           ylabel="loss(transferred) - loss(best grid)", title="regret")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
