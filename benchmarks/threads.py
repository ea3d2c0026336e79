"""Two training jobs side by side, as ``hydra/launcher=local_parallel`` runs them, with
``trainer.threads`` at its default (cores / jobs) against every job taking all the cores.

    python benchmarks/threads.py [--model resnet18_narrow --steps 200 --repeats 2]

A = 2 jobs with trainer.threads=null (1 thread each on 2 cores), B = 2 jobs with
trainer.threads=<cores> (what torch does unless told). Each multirun's wall time and the jobs'
steady-state s/step (results.json "timing"); the runs alternate A, B, A, B, ...
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import interleave, summary  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def multirun(args: argparse.Namespace, threads: str, out: list) -> float:
    """Wall seconds of a 2-job multirun; appends the jobs' median s/step to ``out``."""
    with tempfile.TemporaryDirectory() as d:
        cmd = [sys.executable, str(ROOT / "train.py"), "-m", "hydra/launcher=local_parallel",
               f"model={args.model}", "trainer.seed=0,1", f"trainer.max_steps={args.steps}",
               "trainer.log_every=20", "trainer.ckpt_every=null", "trainer.progress=false",
               "logger=none", "hydra.callbacks={}", f"trainer.threads={threads}",
               f"hydra.sweep.dir={d}"]
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True,
                       env=dict(os.environ, HF_HUB_OFFLINE="1"))
        wall = time.perf_counter() - t
        res = [json.loads(p.read_text()) for p in Path(d).glob("*/results.json")]
        assert len(res) == 2 and {r["threads"] for r in res} == {int(threads) if threads != "null"
                                                                  else res[0]["threads"]}
        out.append(statistics.median(r["timing"]["step_s"] for r in res))
        return wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="resnet18_narrow")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    cores = len(os.sched_getaffinity(0))
    steps_a, steps_b = [], []
    a, b = interleave(lambda: multirun(args, "null", steps_a),
                      lambda: multirun(args, str(cores), steps_b), args.repeats)
    print(f"{cores} cores, 2 jobs of {args.model} x {args.steps} steps, {args.repeats} repeats")
    print(summary("multirun wall, threads=cores/jobs (A) vs threads=cores (B)", a, b, "s"))
    print(summary("per-job step, threads=cores/jobs (A) vs threads=cores (B)", steps_a,
                  steps_b))


if __name__ == "__main__":
    main()
