"""The first-internal-layer collapse under depth-muP and its repair by ``nfd``, measured with
the probe's per-layer update sizes (docs/schemes.md).

    python benchmarks/nfd_collapse.py [--eta 0.01 --seeds 2]

timm ResNets of BasicBlocks (two convs per branch) with K = 8, 16, 32 branches
(layers [2,2,2,2], [4,4,4,4], [8,8,8,8]); for depth_mup and nfd (base K = 8) it prints the
mean one-step E[(dh)^2] of every block's first conv (conv1) and second conv (conv2).
"""

from __future__ import annotations

import argparse

import torch
from omegaconf import OmegaConf

import amup_timm
from amup_timm.data import build_data
from amup_timm.experiments.probe import Probe, first_batch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--eta", type=float, default=0.01)
    p.add_argument("--seeds", type=int, default=2)
    args = p.parse_args()
    cfg = OmegaConf.load("conf/data/digits.yaml")
    cfg.img_size = 32
    batch = first_batch(build_data(cfg, torch.device("cpu")), 16)
    print("| scheme | K | conv1 E[dh^2] | conv2 E[dh^2] | conv1 / conv2 |\n|---|---|---|---|---|")
    for scheme in ("depth_mup", "nfd"):
        for n in (2, 4, 8):
            amup = {"scheme": scheme, "K_base": 8}
            probe = Probe(lambda s: amup_timm.create_model(
                "resnet18", amup=amup, layers=[n] * 4, num_classes=10, in_chans=1),
                batch, seeds=args.seeds)
            m = probe.measure(args.eta)
            first = [v for name, v in zip(m.layers, m.per_layer_abs) if name.endswith("conv1")]
            second = [v for name, v in zip(m.layers, m.per_layer_abs) if name.endswith("conv2")]
            a, b = sum(first[1:]) / len(first[1:]), sum(second) / len(second)
            print(f"| {scheme} | {4 * n} | {a:.3g} | {b:.3g} | {a / b:.3f} |")


if __name__ == "__main__":
    main()
