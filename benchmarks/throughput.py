"""GPU throughput and MFU: images/s of a training step and model FLOPs over the card's peak.

    python benchmarks/throughput.py --device cuda          # resnet50, resnet101, vit_base
    python benchmarks/throughput.py --device cpu --img 64 --models resnet18   # code paths only

FLOPs per step come from torch.utils.flop_counter (forward + backward); the peak is measured
here with a bf16 matmul, so MFU = achieved FLOP/s / measured peak. The batch is the largest
power of two (up to --max-batch) that fits.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

import amup_timm


def peak_flops(device: torch.device, dtype: torch.dtype, n: int = 8192) -> float:
    """Measured matmul FLOP/s of the device in ``dtype``."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    t, reps = time.perf_counter(), 20
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n ** 3 * reps / (time.perf_counter() - t)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def step_fn(model, opt, x, y, autocast):
    def step():
        with autocast:
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def measure(name: str, batch: int, img: int, device: torch.device, bf16: bool, compile_: bool,
            steps: int) -> tuple[float, float]:
    """(images/s, FLOPs per step) of one configuration."""
    model = amup_timm.create_model(name, num_classes=1000).to(device)
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(amup_timm.param_groups(model, "sgd"), lr=0.01, momentum=0.9)
    x = torch.randn(batch, 3, img, img, device=device).contiguous(
        memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch,), device=device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
    with FlopCounterMode(display=False) as fc:
        step_fn(model, opt, x, y, autocast)()
    flops = fc.get_total_flops()
    net = torch.compile(model) if compile_ else model
    step = step_fn(net, opt, x, y, autocast)
    for _ in range(5):
        step()
    sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return batch * steps / (time.perf_counter() - t), flops


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--models", default="resnet50,resnet101,vit_base_patch16_224")
    p.add_argument("--img", type=int, default=224)
    p.add_argument("--max-batch", type=int, default=512)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--compile", action="store_true")
    args = p.parse_args()
    device = torch.device(args.device)
    bf16 = True
    peak = peak_flops(device, torch.bfloat16 if device.type == "cuda" else torch.float32,
                      8192 if device.type == "cuda" else 1024)
    card = torch.cuda.get_device_name() if device.type == "cuda" else "CPU"
    print(f"{card}: measured peak {peak / 1e12:.1f} TFLOP/s")
    print("| model | batch | images/s | TFLOP/s | MFU |\n|---|---|---|---|---|")
    for name in args.models.split(","):
        batch, best = args.max_batch, None
        while batch >= 1:
            try:
                best = (batch, *measure(name, batch, args.img, device, bf16, args.compile,
                                        args.steps))
                break
            except torch.OutOfMemoryError:
                torch.cuda.empty_cache()
                batch //= 2
        if best is None:
            continue
        batch, ips, flops = best
        achieved = ips / batch * flops
        print(f"| {name} | {batch} | {ips:.0f} | {achieved / 1e12:.1f} | "
              f"{achieved / peak:.1%} |")


if __name__ == "__main__":
    main()
