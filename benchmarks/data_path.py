"""Which limits training, the data or the model: loader images/s against step images/s.

    python benchmarks/data_path.py [--img 64 --images 512 --model resnet18]

Writes an image folder of JPEGs to a temporary directory and reads it with amup-timm's
imagefolder loader (timm's dataset and transforms) at several worker counts, with and without
pinned memory; then measures the model's training-step rate on the same device with
synthetic data generated on the device. The synthetic path never touches the CPU.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from PIL import Image

import amup_timm
from amup_timm.data import build_data


def make_folder(root: Path, images: int, img: int, classes: int = 4) -> None:
    g = torch.Generator().manual_seed(0)
    for split, n in (("train", images), ("val", classes)):
        for i in range(n):
            d = root / split / f"class{i % classes}"
            d.mkdir(parents=True, exist_ok=True)
            arr = (torch.rand(img, img, 3, generator=g) * 255).to(torch.uint8).numpy()
            Image.fromarray(arr).save(d / f"{i}.jpg")


def loader_rate(root: Path, img: int, batch: int, workers: int, device: torch.device,
                batches: int) -> float:
    cfg = OmegaConf.create({"name": "imagefolder", "root": str(root), "num_classes": 4,
                            "in_chans": 3, "img_size": img, "batch_size": batch,
                            "num_workers": workers})
    data = build_data(cfg, device)
    it = data.train_batches(0)
    next(it)
    t = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * batch / (time.perf_counter() - t)


def step_rate(model_name: str, img: int, batch: int, device: torch.device, steps: int) -> float:
    model = amup_timm.create_model(model_name, num_classes=4).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    cfg = OmegaConf.create({"name": "synthetic", "num_classes": 4, "in_chans": 3,
                            "img_size": img, "batch_size": batch})
    it = build_data(cfg, device).train_batches(0)
    for i in range(steps + 2):
        if i == 2:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
        x, y = next(it)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - t)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--img", type=int, default=64)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--images", type=int, default=512)
    p.add_argument("--workers", default="0,2")
    p.add_argument("--model", default="resnet18")
    args = p.parse_args()
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as d:
        make_folder(Path(d), args.images, args.img)
        batches = args.images // args.batch - 2
        print(f"device {device}, {args.img}px batch {args.batch}")
        print("| source | workers | images/s |\n|---|---|---|")
        for w in map(int, args.workers.split(",")):
            print(f"| imagefolder (JPEG decode + timm transforms) | {w} | "
                  f"{loader_rate(Path(d), args.img, args.batch, w, device, batches):.0f} |")
        print(f"| synthetic (generated on {device}) + {args.model} train step | - | "
              f"{step_rate(args.model, args.img, args.batch, device, 10):.0f} |")


if __name__ == "__main__":
    main()
