"""The trainer under SLURM: its CPUs, and a checkpoint when SLURM warns of a time limit or a
preemption.

submitit (``hydra/launcher=slurm_cpu``, ``slurm_gpu``, ``slurm_ddp``) asks SLURM for a signal
``signal_delay_s`` before the time limit (``--signal``) and, in the job, handles it by requeueing
the job. ``RequeueSignal`` puts the trainer in between: the signal only sets a flag, the training
loop saves a checkpoint at its next log interval (every rank agreeing on which), and only then
does submitit requeue the job, which resumes from that checkpoint.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType
from typing import Any, Callable

import torch
import torch.distributed as dist

SIGNALS = (signal.SIGUSR1, signal.SIGUSR2)  # submitit's is USR2 (SUBMITIT_PREEMPT_SIGNAL)


def cpus() -> int:
    """The CPUs this process may use: SLURM's ``--cpus-per-task`` where SLURM sets it (a cluster
    that does not bind CPUs shows every core of the node), else the CPU affinity's."""
    return int(os.environ.get("SLURM_CPUS_PER_TASK") or len(os.sched_getaffinity(0)))


class RequeueSignal:
    """While active (a context manager), the SLURM job's requeue signal only sets ``caught``;
    ``requested()`` says at a log interval whether any rank caught it, and ``hand_over()`` then
    lets submitit's own handler requeue the job. Inactive (nothing to hand over to) outside a
    SLURM job whose signal has a Python handler, or off the main thread."""

    def __init__(self, device: torch.device):
        self.device = device
        self.caught: int | None = None  # the signal's number, once caught
        self.previous: dict[int, Callable[[int, FrameType | None], Any]] = {}

    def __enter__(self) -> RequeueSignal:
        if "SLURM_JOB_ID" in os.environ and threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                handler = signal.getsignal(sig)
                if callable(handler):  # submitit's checkpoint-and-requeue
                    self.previous[sig] = handler
                    signal.signal(sig, self._catch)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous.clear()

    def _catch(self, signum: int, frame: FrameType | None) -> None:
        print(f"caught {signal.Signals(signum).name}: checkpoint at the next log interval, "
              "then requeue", file=sys.stderr, flush=True)
        self.caught = signum

    def requested(self) -> bool:
        """Whether any rank caught the signal (a collective where ranks train together: call
        it at the same steps on every rank)."""
        if not self.previous:
            return False
        if not dist.is_initialized():
            return self.caught is not None
        flag = torch.tensor(float(self.caught is not None), device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    def hand_over(self) -> None:
        """After the checkpoint: submitit's handler requeues the job and exits (rank 0); the
        other ranks exit here, once rank 0 has saved."""
        signum = self.caught or next(iter(self.previous))  # another rank caught it
        handler = self.previous[signum]
        if dist.is_initialized():
            dist.barrier()
        self.__exit__()
        handler(signum, None)
        if dist.is_initialized() and dist.get_rank() != 0:
            sys.exit(0)
