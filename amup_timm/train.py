"""Train any timm model with AM-muP: residual-aware init and an LR transferred across depth
and width from a reference run. ``amup-train`` = ``python -m amup_timm.train`` = ``python
train.py`` in a checkout; the config tree is the package's own (amup_timm/conf).

    amup-train                                              # small default job, CPU is fine
    amup-train model=resnet101 amup.ref_depth=18            # optim.lr is resnet18's tuned LR
    amup-train -m model=plain_cnn model.kwargs.depth=4,8 optim.lr=0.01,0.1
    torchrun --nproc_per_node=4 -m amup_timm.train model=resnet50 data=imagefolder data.root=...

Writes results.json, metrics.jsonl and checkpoints/last.pt in the run directory; started
again in the same directory (hydra.run.dir=...) it resumes from the last checkpoint. From
Python, ``train(cfg)`` runs a composed config without Hydra's runtime (``cfg.run_dir`` set, or
a ``Job``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import traceback
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
import torch
import torch.distributed as dist
import torch.nn.functional as F
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from timm.scheduler import create_scheduler_v2
from torch import nn
from tqdm import tqdm

from . import knobs, slurm
from .base_lr import lr_message, resolve_lr
from .app import register_configs
from .data import DataSource, build_data, num_steps
from .experiments.resolve import probe_lr, resolve_config
from .experiments.run_record import RunRecord, write_record
from .experiments.rundir import (RunDirBusy, append_metrics, load_checkpoint, release_lock,
                                 save_checkpoint, truncate_metrics)
from .factory import create_model
from .job import Job, done_before, hold
from .optim import create_optimizer
from .settings import check_settings

log = logging.getLogger("train")
register_configs()

def setup_device(cfg: DictConfig) -> tuple[int, int, torch.device]:
    """(rank, world size, device); joins the torchrun (or SLURM multi-task) process group."""
    if "WORLD_SIZE" not in os.environ and int(os.environ.get("SLURM_NTASKS", 1)) > 1:
        from submitit.helpers import (
            TorchDistributedEnvironment,  # hydra/launcher=slurm_ddp
        )

        TorchDistributedEnvironment().export()
    world = int(os.environ.get("WORLD_SIZE", 1))
    rank = int(os.environ.get("RANK", 0))
    want = cfg.trainer.device
    cuda = torch.cuda.is_available() if want == "auto" else want == "cuda"
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return rank, world, device


def setup_threads(cfg: DictConfig, parallel_jobs: int = 1) -> int:
    """``trainer.threads``, by default the cores (SLURM's ``--cpus-per-task`` where set) divided
    by the training processes on them (torchrun's local world size times a parallel
    launcher's jobs)."""
    threads = cfg.trainer.get("threads")
    if threads is None:
        procs = int(os.environ.get("LOCAL_WORLD_SIZE", 1)) * parallel_jobs
        threads = max(1, slurm.cpus() // procs)
    torch.set_num_threads(int(threads))
    return int(threads)


def model_kwargs(cfg: DictConfig) -> dict:
    """``model.kwargs`` with the family's depth and width knobs times ``scale.depth/width``."""
    kwargs = OmegaConf.to_container(cfg.model.kwargs, resolve=True)
    kwargs = knobs.scale_depth(cfg.model.name, kwargs, cfg.scale.depth)
    return knobs.scale_width(cfg.model.name, kwargs, cfg.scale.width)


def shared_run_dir(run_dir: str, world: int) -> str:
    """Rank 0's run directory, for every rank (their ${now:} may differ)."""
    if world == 1:
        return run_dir
    box = [run_dir]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def init_wandb(cfg: DictConfig, run_dir: Path, group: str | None):
    """An offline-by-default W&B run, the same one across resumes (one group per multirun)."""
    if cfg.logger.name != "wandb" or cfg.logger.mode == "disabled":
        return None
    import wandb

    id_file = run_dir / "wandb_id"
    if not id_file.is_file():
        id_file.write_text(uuid.uuid4().hex[:12])

    group = cfg.logger.get("group") or group
    stats = cfg.logger.get("system_stats", "auto")
    if stats == "auto":  # W&B's sampler is a process of its own: on a small CPU it competes
        stats = torch.cuda.is_available()
    return wandb.init(project=cfg.logger.project, entity=cfg.logger.get("entity"), group=group,
                      tags=list(cfg.logger.get("tags") or []), mode=cfg.logger.mode,
                      dir=str(run_dir), id=id_file.read_text().strip(), resume="allow",
                      name=f"{cfg.model.name}-{run_dir.name}",
                      config=OmegaConf.to_container(cfg, resolve=True),
                      settings=wandb.Settings(x_disable_stats=not stats))


@torch.no_grad()
def evaluate(model, data, cfg, autocast, split: str = "val") -> dict:
    """``val_loss``/``val_acc`` (or ``test_...``) summed over ranks; the test split is always
    measured whole."""
    model.eval()
    totals = torch.zeros(3, device=data.device)
    cap = cfg.trainer.eval_batches if split == "val" else None
    for x, y in data.val_batches(cap, split):
        with autocast:
            logits = model(x)
        totals += torch.stack([F.cross_entropy(logits.float(), y, reduction="sum"),
                               (logits.argmax(1) == y).sum().float(),
                               torch.tensor(float(len(y)), device=data.device)])
    if dist.is_initialized():
        dist.all_reduce(totals)
    model.train()
    loss, correct, n = totals.tolist()
    return {f"{split}_loss": loss / max(n, 1), f"{split}_acc": correct / max(n, 1)}


@dataclass
class Context:
    """Where a run executes: its ranks, device, precision and directory."""

    rank: int
    world: int
    device: torch.device
    run_dir: Path
    job: Job
    autocast: Any
    channels_last: bool

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(cfg: DictConfig, job: Job) -> Context:
    """The run directory, threads, process group, device, seed and precision."""
    job.run_dir.mkdir(parents=True, exist_ok=True)  # a run_dir=... given by hand may not exist
    setup_threads(cfg, job.parallel_jobs)
    rank, world, device = setup_device(cfg)
    torch.manual_seed(cfg.trainer.seed)
    on_gpu = device.type == "cuda"
    bf16 = cfg.trainer.precision == "bf16" or (cfg.trainer.precision == "auto" and on_gpu)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()
    channels_last = cfg.trainer.channels_last is True or (
        cfg.trainer.channels_last == "auto" and on_gpu)
    return Context(rank, world, device, Path(shared_run_dir(str(job.run_dir), world)), job,
                   autocast, channels_last)


@dataclass
class Run:
    """One run's state from build to finish: what the loop and the end read and change."""

    cfg: DictConfig
    ctx: Context
    data: DataSource
    model: nn.Module
    lr: float
    amup_record: dict
    optimizer: Any
    scheduler: Any
    total: int
    overrides: list[str]
    net: nn.Module | None = None  # what the loop calls: the model, in DDP or compiled
    requeue: slurm.RequeueSignal | None = None  # SLURM's signal before a time limit
    wandb: Any = None
    step: int = 0
    losses: list[float] = field(default_factory=list)

    def save(self) -> None:
        """An atomic checkpoint of everything a resumed run needs (rank 0)."""
        if self.ctx.main:
            cuda = self.ctx.device.type == "cuda"
            save_checkpoint(self.ctx.run_dir, {
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "rng": torch.get_rng_state(), "step": self.step, "losses": self.losses,
                "overrides": self.overrides,
                "cuda_rng": torch.cuda.get_rng_state(self.ctx.device) if cuda else None})


def benchmark_note(record: dict) -> str:
    """One sentence, where the run's LR comes from the -1.5 law: what the benchmark measured
    for that law and the measured default (amup_timm/benchmark.json, written from the records
    with the tables by sweeps/publish_evidence.py)."""
    path = Path(__file__).with_name("benchmark.json")
    if record.get("exponent") != -1.5 or record.get("lr_rule") != "law" or not path.is_file():
        return ""
    return "\n" + json.loads(path.read_text())["sentence"]


def build(cfg: DictConfig, ctx: Context) -> Run:
    """Data, the model with AM-muP applied, its base LR, timm's optimizer with the muP/scheme
    groups and timm's scheduler (a bad name or override fails here, before training)."""
    data = build_data(cfg.data, ctx.device, seed=cfg.trainer.seed, rank=ctx.rank,
                      world=ctx.world)
    amup = resolve_config(cfg.amup, cfg.optim.opt, cfg.model.name)  # numbers for the library
    model = create_model(cfg.model.name, amup.config, num_classes=data.num_classes,
                         in_chans=data.in_chans, **model_kwargs(cfg))
    model.amup.ref_source = amup.source
    lr, amup_record = resolve_lr(model, cfg.optim)
    amup_record["exponent_from"] = amup.exponent_from
    if amup.config.lr_rule == "probe":
        lr = probe_lr(model, cfg.optim, data, amup_record)
    if ctx.main:
        log.info("%s\n%s%s", model.amup.report, lr_message(lr, amup_record),
                 benchmark_note(amup_record))
    model.to(ctx.device)
    if ctx.channels_last:
        model.to(memory_format=torch.channels_last)
    total = num_steps(cfg.trainer.max_steps, cfg.trainer.epochs, data.steps_per_epoch)
    optimizer = create_optimizer(model, cfg.optim.opt, lr, cfg.optim.weight_decay,
                                 momentum=cfg.optim.momentum)
    scheduler = None
    if cfg.sched.sched != "none":
        scheduler, _ = create_scheduler_v2(
            optimizer, cfg.sched.sched, num_epochs=total, warmup_epochs=cfg.sched.warmup_steps,
            min_lr=cfg.sched.min_lr, warmup_lr=lr * 1e-3, step_on_epochs=False,
            updates_per_epoch=1)
    return Run(cfg, ctx, data, model, lr, amup_record, optimizer, scheduler, total,
               ctx.job.overrides)


def resume(run: Run) -> None:
    """The step, losses, weights, optimizer and RNG from the run directory's checkpoint, if it
    is this run's."""
    ctx = run.ctx
    ckpt = load_checkpoint(ctx.run_dir)
    if ckpt is not None and ckpt.get("overrides") != run.overrides:
        if not ctx.job.multirun:
            raise ValueError(
                f"{ctx.run_dir} holds a checkpoint of another run (overrides "
                f"{ckpt.get('overrides')}, now {run.overrides}); repeat that run's overrides "
                "to resume it, or choose a new hydra.run.dir")
        log.warning("%s holds another job's checkpoint (overrides %s): starting afresh",
                    ctx.run_dir, ckpt.get("overrides"))
        ckpt = None
    if ckpt is not None:
        run.model.load_state_dict(ckpt["model"])
        run.optimizer.load_state_dict(ckpt["optimizer"])
        torch.set_rng_state(ckpt["rng"])
        if ctx.device.type == "cuda" and ckpt.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(ckpt["cuda_rng"], ctx.device)
        run.step, run.losses = ckpt["step"], ckpt["losses"]
        if ctx.main:
            log.info("resuming from step %d", run.step)
    if ctx.main:  # rows written after the checkpoint (or by an earlier attempt) go
        truncate_metrics(ctx.run_dir, run.step)
    if run.scheduler is not None:
        run.scheduler.step_update(run.step)


def wrap(cfg: DictConfig, ctx: Context, model: nn.Module) -> nn.Module:
    """The module the loop calls: DDP across ranks, torch.compile if asked."""
    net = model
    if ctx.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
    return torch.compile(net) if cfg.trainer.compile else net


def loop(run: Run) -> tuple[str, dict | None]:
    """Train from ``run.step`` to ``run.total``; one host sync per log interval (loss values,
    divergence check, throughput). Returns (status, steady-state timing)."""
    cfg, ctx, data, optimizer = run.cfg, run.ctx, run.data, run.optimizer
    run.net.train()
    pending: list[torch.Tensor] = []
    batches = data.train_batches(run.step)
    bar = tqdm(total=run.total, initial=run.step, dynamic_ncols=True, desc=cfg.model.name,
               disable=not (ctx.main and cfg.trainer.progress))
    t0, status = time.perf_counter(), "finished"
    timed_from: tuple[int, float] | None = None  # steady state: after the first log interval
    while run.step < run.total:
        x, y = next(batches)
        if ctx.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with ctx.autocast:
            loss = F.cross_entropy(run.net(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.optim.clip_grad:
            torch.nn.utils.clip_grad_norm_(run.model.parameters(), cfg.optim.clip_grad)
        optimizer.step()
        run.step += 1
        step = run.step
        if run.scheduler is not None:
            run.scheduler.step_update(step)
        pending.append(loss.detach())
        ckpt_due = bool(cfg.trainer.ckpt_every) and step % cfg.trainer.ckpt_every == 0
        eval_due = bool(cfg.trainer.eval_every) and step % cfg.trainer.eval_every == 0
        if not (step % cfg.trainer.log_every == 0 or step == run.total or ckpt_due or eval_due):
            continue
        values = torch.stack(pending).float().tolist()
        first = step - len(values) + 1
        pending.clear()
        run.losses.extend(values)
        elapsed, t0 = time.perf_counter() - t0, time.perf_counter()
        if ctx.main:
            append_metrics(ctx.run_dir, [{"step": first + i, "loss": v}
                                                 for i, v in enumerate(values)])
            bar.update(len(values))
            bar.set_postfix(loss=f"{values[-1]:.4f}", lr=f"{optimizer.param_groups[0]['lr']:.3g}")
            if run.wandb is not None:
                lrs = {f"lr/group{i}": g["lr"] for i, g in enumerate(optimizer.param_groups)}
                ips = len(values) * data.batch_size * ctx.world / elapsed
                run.wandb.log({"train/loss": values[-1], "train/images_per_s": ips, **lrs},
                              step=step)
        diverged = torch.tensor(float(not all(map(math.isfinite, values))), device=ctx.device)
        if dist.is_initialized():  # every rank stops together
            dist.all_reduce(diverged, op=dist.ReduceOp.MAX)
        if diverged.item():
            status = "diverged"
            break
        if eval_due and step < run.total:
            metrics = evaluate(run.net, data, cfg, ctx.autocast)
            if run.wandb is not None:
                run.wandb.log({f"val/{k[4:]}": v for k, v in metrics.items()}, step=step)
        stopping = step < run.total and run.requeue is not None and run.requeue.requested()
        if ckpt_due or stopping:
            run.save()
        if stopping:  # submitit requeues the job; it resumes from this checkpoint
            run.requeue.hand_over()
        if timed_from is None:
            timed_from = (step, time.perf_counter())
    bar.close()
    timing = None
    if timed_from is not None and run.step > timed_from[0]:
        steps, seconds = run.step - timed_from[0], time.perf_counter() - timed_from[1]
        timing = {"steps": steps, "seconds": seconds, "step_s": seconds / steps,
                  "images_per_s": steps * data.batch_size * ctx.world / seconds}
    return status, timing


def finish(run: Run, status: str, **extra: Any) -> dict:
    """Final metrics, the last checkpoint, results.json and the W&B summary."""
    cfg, ctx, data, losses = run.cfg, run.ctx, run.data, run.losses
    tail = losses[-max(1, len(losses) // 10):]
    final = {"train_loss": sum(tail) / len(tail), "mean_train_loss": sum(losses) / len(losses)}
    if status == "finished":
        final.update(evaluate(run.net, data, cfg, ctx.autocast))
        if data.test is not None:
            final.update(evaluate(run.net, data, cfg, ctx.autocast, "test"))
        if cfg.trainer.ckpt_every:
            run.save()
    else:
        final.update({"val_loss": None, "val_acc": None})
        if data.test is not None:
            final.update({"test_loss": None, "test_acc": None})
        log.warning("loss is not finite at step %d: diverged (LR %.4g)", run.step, run.lr)
    rec = RunRecord(
        status=status, overrides=run.overrides, config=OmegaConf.to_container(cfg, resolve=True),
        lr=run.lr, optimizer=cfg.optim.opt, model=cfg.model.name, model_kwargs=model_kwargs(cfg),
        data=cfg.data.name, seed=cfg.trainer.seed, steps=run.step, max_steps=run.total,
        world_size=ctx.world, threads=torch.get_num_threads(),
        lr_scales=sorted({g.get("lr_scale", 1.0) for g in run.optimizer.param_groups}),
        amup=run.amup_record, final=final, run_dir=str(ctx.run_dir), **extra,
        wandb={"id": run.wandb.id, "mode": cfg.logger.mode} if run.wandb else None)
    if ctx.main:
        write_record(ctx.run_dir, rec)
    if run.wandb is not None:
        run.wandb.summary.update({"status": status,
                                  **{f"final/{k}": v for k, v in final.items()}})
        run.wandb.finish()
    if dist.is_initialized():
        dist.destroy_process_group()
    return rec.to_json()


def train(cfg: DictConfig, job: Job | None = None) -> dict:
    """Check the settings, set up, hold the run directory, build, resume, train, finish; the
    run record as a dict. ``job`` defaults to ``Job.of(cfg)``: no Hydra runtime needed."""
    check_settings(cfg)
    job = job or Job.of(cfg)
    ctx = setup(cfg, job)
    lock = hold(ctx.run_dir, ctx.main, ctx.world)
    try:
        run = build(cfg, ctx)
        resume(run)
        run.net = wrap(cfg, ctx, run.model)
        run.wandb = init_wandb(cfg, ctx.run_dir, job.group) if ctx.main else None
        if run.wandb is not None:
            run.wandb.summary.update({"lr": run.lr, "optimizer": cfg.optim.opt,
                                      "amup": run.amup_record})
        started = time.perf_counter()
        with slurm.RequeueSignal(ctx.device) as run.requeue:
            status, timing = loop(run)
        return finish(run, status, timing=timing, wall_s=time.perf_counter() - started)
    finally:
        if lock is not None:
            release_lock(lock)


def job_of(cfg: DictConfig) -> Job:
    """The running Hydra job (the one place that reads Hydra's runtime)."""
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    launcher = hc.launcher if multirun else {}
    parallel = int(launcher.get("n_jobs") or 1) if "joblib" in str(
        launcher.get("_target_", "")) else 1
    return Job(Path(cfg.run_dir), list(hc.overrides.task), multirun,
               Path(hc.sweep.dir).name if multirun else None, parallel,
               hc.job.get("num") if multirun else None)


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """amup-train: one job, or one job of a multirun (a failed job is recorded, and the
    sweep goes on; a job done before is skipped)."""
    job = job_of(cfg)
    prev = done_before(job.run_dir, job.overrides) if job.multirun else None
    if prev is not None:
        log.info("job %s already %s in %s: skipped", job.num, prev["status"], job.run_dir)
        return prev["final"].get("train_loss")
    try:
        res = train(cfg, job)
    except Exception as e:
        if not job.multirun:
            raise
        # A failed job is recorded and the sweep goes on (Hydra would stop it); a directory
        # another run holds is left to it.
        log.error("job %s failed: %s", job.num, traceback.format_exc())
        if not isinstance(e, RunDirBusy):
            write_record(job.run_dir, RunRecord(
                status="failed", overrides=job.overrides, error=f"{type(e).__name__}: {e}",
                config=OmegaConf.to_container(cfg, resolve=False), run_dir=str(job.run_dir)))
        try:
            import wandb

            wandb.finish(exit_code=1)
        except Exception:  # noqa: BLE001 - never mask the original failure
            pass
        return None
    return res["final"].get("train_loss")


if __name__ == "__main__":
    main()
