"""Seconds a training step of the models a sweep will run, measured as the sweeps run them
(train.py, 1 thread a job, ``--jobs`` jobs at a time), to plan a sweep's budget before it runs.

    python benchmarks/step_cost.py "model=resnet18_slim scale.width=8" \
        "model=vit_narrow scale.width=2 optim=adamw" --steps 40

Each argument is one run's train.py overrides, on top of the leaderboard's recipe
(Fashion-MNIST at 28 px, batch 128). Prints steady-state s/step (train.py's own timing, after
the first step) and the cost of a 1,000-step run's steps in core-seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ["data=fashion_mnist", "data.img_size=28", "data.batch_size=128", "logger=none",
          "trainer.threads=1", "trainer.progress=false", "trainer.ckpt_every=null",
          "trainer.log_every=5"]  # timing starts after the first log interval


def step_s(overrides: str, steps: int, run_dir: Path) -> float:
    """train.py's steady-state seconds a step for ``overrides``, run to ``steps`` steps."""
    cmd = [sys.executable, str(ROOT / "train.py"), *RECIPE, *overrides.split(),
           f"trainer.max_steps={steps}", f"run_dir={run_dir}"]
    env = dict(os.environ, OMP_NUM_THREADS="1", WANDB_MODE="disabled", HF_HUB_OFFLINE="1")
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{overrides}: train.py failed\n{proc.stderr[-2000:]}")
    timing = json.loads((run_dir / "results.json").read_text())["timing"]
    if timing is None:
        raise SystemExit(f"{overrides}: too few steps to time; give --steps above 10")
    return timing["step_s"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="one run's train.py overrides each")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--jobs", type=int, default=2, help="runs at a time (the sweeps run 2)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        times = list(pool.map(lambda i: step_s(args.runs[i], args.steps, Path(tmp) / str(i)),
                              range(len(args.runs))))
    print(f"| run (train.py overrides) | s a step | core-s per 1,000 steps |\n|---|---|---|")
    for overrides, t in zip(args.runs, times):
        print(f"| `{overrides}` | {t:.3f} | {1000 * t:.0f} |")


if __name__ == "__main__":
    main()
