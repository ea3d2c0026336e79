"""train.py's step time against a bare PyTorch loop on the same model, batch and optimizer.

    python benchmarks/overhead.py                       # CPU: resnet18 at 32 px
    python benchmarks/overhead.py --default-job         # python train.py's own model and data
    python benchmarks/overhead.py --device cuda --model resnet50 --img 224 --batch 128 \
        --precision bf16 --channels-last [--compile]    # GPU

A = train.py (W&B offline logging, progress bar and checkpoints on), B = a bare loop written
here with random data already on the device. ``--default-job`` times the default job's model,
data and batch (resnet18 on 16 px digits, batch 128, SGD momentum 0.9 and weight decay, cosine
schedule) against the same model, batch and optimizer on random tensors. Both time their
steady state after a warm-up (train.py reports it in results.json "timing"); the runs
alternate A, B, A, B, ...
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from common import interleave, summary  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def bare_loop(args: argparse.Namespace) -> float:
    """Seconds per step of a plain loop: create_model, SGD groups, data on the device."""
    import amup_timm

    device = torch.device(args.device)
    torch.manual_seed(0)
    chans = 1 if args.default_job else 3
    model = amup_timm.create_model(args.model, num_classes=10, in_chans=chans).to(device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = amup_timm.create_optimizer(model, "momentum", lr=0.01, momentum=0.9,
                                     weight_decay=5e-4 if args.default_job else 0.0)
    net = torch.compile(model) if args.compile else model
    xs = torch.randn(8, args.batch, chans, args.img, args.img, device=device)
    ys = torch.randint(0, 10, (8, args.batch), device=device)
    if args.channels_last:
        xs = xs.contiguous(memory_format=torch.channels_last)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16")

    def step(i: int) -> None:
        with autocast:
            loss = F.cross_entropy(net(xs[i % 8]), ys[i % 8])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for i in range(args.warmup):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for i in range(args.steps):
        step(i)
    loss_sync = float(net(xs[0]).float().sum())  # one host sync, as train.py's log step
    del loss_sync
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / args.steps


def train_py(args: argparse.Namespace) -> float:
    """Seconds per step of train.py's steady state (its results.json "timing")."""
    with tempfile.TemporaryDirectory() as d:
        if args.default_job:  # python train.py as it is, timed over its first steps
            cmd = [sys.executable, str(ROOT / "train.py"),
                   f"trainer.max_steps={args.warmup + args.steps}",
                   f"trainer.log_every={args.warmup}", f"hydra.run.dir={d}"]
            return _timed(cmd, d)
        cmd = [sys.executable, str(ROOT / "train.py"), f"model.name={args.model}",
               "model.kwargs={}", "data=synthetic", f"data.img_size={args.img}",
               f"data.batch_size={args.batch}", "optim=sgd", "optim.lr=0.01",
               "optim.weight_decay=0", "sched=none", f"trainer.max_steps={args.warmup + args.steps}",
               f"trainer.log_every={args.warmup}", "trainer.ckpt_every=50",
               f"trainer.device={args.device}", f"trainer.precision={args.precision}",
               f"trainer.channels_last={str(args.channels_last).lower()}",
               f"trainer.compile={str(args.compile).lower()}", "logger=wandb",
               f"hydra.run.dir={d}"]
        return _timed(cmd, d)


def _timed(cmd: list[str], run_dir: str) -> float:
    env = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true", HF_HUB_OFFLINE="1")
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
    return json.loads((Path(run_dir) / "results.json").read_text())["timing"]["step_s"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="resnet18")
    p.add_argument("--img", type=int, default=32)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--bare", action="store_true", help="run one bare loop and print its time")
    p.add_argument("--default-job", action="store_true",
                   help="python train.py's defaults: resnet18, 16 px digits, batch 128")
    args = p.parse_args()
    if args.default_job:
        args.model, args.img, args.batch = "resnet18", 16, 128
    if args.bare:
        print(json.dumps({"step_s": bare_loop(args)}))
        return

    def bare() -> float:
        out = subprocess.run([sys.executable, __file__, "--bare", *sys.argv[1:]], check=True,
                             capture_output=True, text=True, cwd=ROOT)
        return json.loads(out.stdout.strip().splitlines()[-1])["step_s"]

    a, b = interleave(lambda: train_py(args), bare, args.repeats)
    print(f"device {args.device} ({torch.cuda.get_device_name() if args.device == 'cuda' else os.cpu_count()} "
          f"{'GPU' if args.device == 'cuda' else 'CPU cores'}), {args.model} {args.img}px batch "
          f"{args.batch} {args.precision} channels_last={args.channels_last} "
          f"compile={args.compile}, {args.steps} timed steps x {args.repeats} repeats")
    print(summary("train.py (A) vs bare loop (B)", a, b))


if __name__ == "__main__":
    main()
