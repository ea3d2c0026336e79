"""Train any timm model with AM-muP: residual-aware init and an LR transferred across depth
and width from a reference run.

    python train.py                                         # small default job, CPU is fine
    python train.py model=resnet101 amup.ref_depth=18 amup.ref_lr=0.1
    python train.py -m model=plain_cnn model.kwargs.depth=4,8 optim.lr=0.01,0.1
    torchrun --nproc_per_node=4 train.py model=resnet50 data=imagefolder data.root=...

Writes results.json, metrics.jsonl and checkpoints/last.pt in the run directory; started
again in the same directory (hydra.run.dir=...) it resumes from the last checkpoint.
"""

from __future__ import annotations

import logging
import math
import os
import time
import traceback
import uuid
from contextlib import nullcontext
from pathlib import Path

import hydra
import torch
import torch.distributed as dist
import torch.nn.functional as F
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from timm.scheduler import create_scheduler_v2
from tqdm import tqdm

import amup_timm
from amup_timm import knobs, records
from amup_timm.base_lr import resolve_lr
from amup_timm.config import register_configs
from amup_timm.data import build_data, num_steps

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


def setup_threads(cfg: DictConfig, multirun: bool) -> int:
    """``trainer.threads``, by default the cores divided by the training processes on this
    machine (torchrun's local world size times the joblib launcher's n_jobs)."""
    threads = cfg.trainer.get("threads")
    if threads is None:
        procs = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
        launcher = HydraConfig.get().launcher if multirun else {}
        procs *= int(launcher.get("n_jobs") or 1) if "joblib" in str(
            launcher.get("_target_", "")) else 1
        threads = max(1, len(os.sched_getaffinity(0)) // procs)
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


def init_wandb(cfg: DictConfig, run_dir: Path, multirun: bool):
    """An offline-by-default W&B run, the same one across resumes (one group per multirun)."""
    if cfg.logger.name != "wandb" or cfg.logger.mode == "disabled":
        return None
    import wandb

    id_file = run_dir / "wandb_id"
    if not id_file.is_file():
        id_file.write_text(uuid.uuid4().hex[:12])

    group = cfg.logger.get("group") or (Path(HydraConfig.get().sweep.dir).name
                                        if multirun else None)
    return wandb.init(project=cfg.logger.project, entity=cfg.logger.get("entity"), group=group,
                      tags=list(cfg.logger.get("tags") or []), mode=cfg.logger.mode,
                      dir=str(run_dir), id=id_file.read_text().strip(), resume="allow",
                      name=f"{cfg.model.name}-{run_dir.name}",
                      config=OmegaConf.to_container(cfg, resolve=True))


@torch.no_grad()
def evaluate(model, data, cfg, autocast) -> dict:
    """Validation loss and accuracy (summed over ranks)."""
    model.eval()
    totals = torch.zeros(3, device=data.device)
    for x, y in data.val_batches(cfg.trainer.eval_batches):
        with autocast:
            logits = model(x)
        totals += torch.stack([F.cross_entropy(logits.float(), y, reduction="sum"),
                               (logits.argmax(1) == y).sum().float(),
                               torch.tensor(float(len(y)), device=data.device)])
    if dist.is_initialized():
        dist.all_reduce(totals)
    model.train()
    loss, correct, n = totals.tolist()
    return {"val_loss": loss / max(n, 1), "val_acc": correct / max(n, 1)}


def train(cfg: DictConfig, run_dir: Path, multirun: bool) -> dict:
    setup_threads(cfg, multirun)
    rank, world, device = setup_device(cfg)
    run_dir = Path(shared_run_dir(str(run_dir), world))
    main_rank = rank == 0
    torch.manual_seed(cfg.trainer.seed)
    on_gpu = device.type == "cuda"
    bf16 = cfg.trainer.precision == "bf16" or (cfg.trainer.precision == "auto" and on_gpu)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()

    # Data and model (any bad name or override fails here, before training).
    data = build_data(cfg.data, device, seed=cfg.trainer.seed, rank=rank, world=world)
    kwargs = model_kwargs(cfg)
    model = amup_timm.create_model(cfg.model.name, cfg.amup, num_classes=data.num_classes,
                                   in_chans=data.in_chans, **kwargs)
    lr, amup_record = resolve_lr(model, cfg.optim, data)
    if main_rank:
        log.info("%s\nbase LR %.4g (%s)", model.amup.report, lr,
                 amup_record["ref_source"] or "optim.lr")
    model.to(device)
    if cfg.trainer.channels_last is True or (cfg.trainer.channels_last == "auto" and on_gpu):
        model.to(memory_format=torch.channels_last)
    opt_name = cfg.optim.opt
    optimizer = amup_timm.create_optimizer(model, opt_name, lr, cfg.optim.weight_decay,
                                           momentum=cfg.optim.momentum)
    total = num_steps(cfg.trainer.max_steps, cfg.trainer.epochs, data.steps_per_epoch)
    scheduler = None
    if cfg.sched.sched != "none":
        scheduler, _ = create_scheduler_v2(
            optimizer, cfg.sched.sched, num_epochs=total, warmup_epochs=cfg.sched.warmup_steps,
            min_lr=cfg.sched.min_lr, warmup_lr=lr * 1e-3, step_on_epochs=False,
            updates_per_epoch=1)

    # Resume from the run directory's checkpoint, if any.
    start, losses = 0, []
    overrides = list(HydraConfig.get().overrides.task)
    ckpt = records.load_checkpoint(run_dir)
    if ckpt is not None and ckpt.get("overrides") != overrides:
        if not multirun:
            raise ValueError(
                f"{run_dir} holds a checkpoint of another run (overrides {ckpt.get('overrides')}"
                f", now {overrides}); repeat that run's overrides to resume it, or choose a new "
                "hydra.run.dir")
        log.warning("%s holds another job's checkpoint (overrides %s): starting afresh",
                    run_dir, ckpt.get("overrides"))
        ckpt = None
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        torch.set_rng_state(ckpt["rng"])
        if on_gpu and ckpt.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(ckpt["cuda_rng"], device)
        start, losses = ckpt["step"], ckpt["losses"]
        if main_rank:
            log.info("resuming from step %d of %d", start, total)
    if main_rank:  # rows written after the checkpoint (or by an earlier attempt) go
        records.truncate_metrics(run_dir, start)
    if scheduler is not None:
        scheduler.step_update(start)

    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index]
                                                        if on_gpu else None)
    if cfg.trainer.compile:
        net = torch.compile(net)
    run = init_wandb(cfg, run_dir, multirun) if main_rank else None
    if run is not None:
        run.summary.update({"amup": {**amup_record, "lr": lr, "optimizer": opt_name}})

    def save(step: int) -> None:
        if main_rank:
            records.save_checkpoint(run_dir, {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "rng": torch.get_rng_state(), "step": step, "losses": losses,
                "overrides": overrides,
                "cuda_rng": torch.cuda.get_rng_state(device) if on_gpu else None})

    # The loop: one host sync per log interval (loss values, divergence check, throughput).
    net.train()
    pending: list[torch.Tensor] = []
    batches = data.train_batches(start)
    started = time.perf_counter()
    bar = tqdm(total=total, initial=start, disable=not (main_rank and cfg.trainer.progress),
               dynamic_ncols=True, desc=cfg.model.name)
    step, t0, status = start, time.perf_counter(), "finished"
    timed_from: tuple[int, float] | None = None  # steady state: after the first log interval
    while step < total:
        x, y = next(batches)
        if cfg.trainer.channels_last is True or (cfg.trainer.channels_last == "auto" and on_gpu):
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast:
            loss = F.cross_entropy(net(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.optim.clip_grad:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.clip_grad)
        optimizer.step()
        step += 1
        if scheduler is not None:
            scheduler.step_update(step)
        pending.append(loss.detach())
        ckpt_due = bool(cfg.trainer.ckpt_every) and step % cfg.trainer.ckpt_every == 0
        eval_due = bool(cfg.trainer.eval_every) and step % cfg.trainer.eval_every == 0
        if step % cfg.trainer.log_every == 0 or step == total or ckpt_due or eval_due:
            values = torch.stack(pending).float().tolist()
            first = step - len(values) + 1
            pending.clear()
            losses.extend(values)
            elapsed, t0 = time.perf_counter() - t0, time.perf_counter()
            lrs = {f"lr/group{i}": g["lr"] for i, g in enumerate(optimizer.param_groups)}
            ips = len(values) * data.batch_size * world / elapsed
            if main_rank:
                records.append_metrics(run_dir, [{"step": first + i, "loss": v}
                                                 for i, v in enumerate(values)])
                bar.update(len(values))
                bar.set_postfix(loss=f"{values[-1]:.4f}", lr=f"{optimizer.param_groups[0]['lr']:.3g}")
                if run is not None:
                    run.log({"train/loss": values[-1], "train/images_per_s": ips, **lrs},
                            step=step)
            diverged = torch.tensor(float(not all(map(math.isfinite, values))), device=device)
            if dist.is_initialized():  # every rank stops together
                dist.all_reduce(diverged, op=dist.ReduceOp.MAX)
            if diverged.item():
                status = "diverged"
                break
            if eval_due and step < total:
                metrics = evaluate(net, data, cfg, autocast)
                if run is not None:
                    run.log({f"val/{k[4:]}": v for k, v in metrics.items()}, step=step)
            if ckpt_due:
                save(step)
            if timed_from is None:
                timed_from = (step, time.perf_counter())
    bar.close()
    wall = time.perf_counter() - started
    timing = None
    if timed_from is not None and step > timed_from[0]:
        seconds = time.perf_counter() - timed_from[1]
        timing = {"steps": step - timed_from[0], "seconds": seconds,
                  "step_s": seconds / (step - timed_from[0]),
                  "images_per_s": (step - timed_from[0]) * data.batch_size * world / seconds}

    tail = losses[-max(1, len(losses) // 10):]
    final = {"train_loss": sum(tail) / len(tail), "mean_train_loss": sum(losses) / len(losses)}
    if status == "finished":
        final.update(evaluate(net, data, cfg, autocast))
        if cfg.trainer.ckpt_every:
            save(step)
    else:
        final.update({"val_loss": None, "val_acc": None})
        log.warning("loss is not finite at step %d: diverged (LR %.4g)", step, lr)
    res = {"status": status, "lr": lr, "optimizer": opt_name, "model": cfg.model.name,
           "model_kwargs": kwargs, "threads": torch.get_num_threads(), "wall_s": wall,
           "data": cfg.data.name, "seed": cfg.trainer.seed, "steps": step, "max_steps": total,
           "world_size": world, "amup": amup_record, "final": final, "run_dir": str(run_dir),
           "overrides": overrides, "timing": timing,
           "wandb": {"id": run.id, "mode": cfg.logger.mode} if run else None,
           "config": OmegaConf.to_container(cfg, resolve=True)}
    if main_rank:
        records.write_json(run_dir / records.RESULTS, res)
    if run is not None:
        run.summary.update({"status": status, **{f"final/{k}": v for k, v in final.items()}})
        run.finish()
    if dist.is_initialized():
        dist.destroy_process_group()
    return res


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    run_dir = Path(cfg.run_dir)
    prev = records.read_results(run_dir)
    if multirun and prev and prev.get("status") in ("finished", "diverged") \
            and prev.get("overrides") == list(hc.overrides.task):
        log.info("job %s already %s in %s: skipped", hc.job.num, prev["status"], run_dir)
        return prev["final"].get("train_loss")
    try:
        res = train(cfg, run_dir, multirun)
    except Exception as e:
        if not multirun:
            raise
        # A failed job is recorded and the sweep goes on (Hydra would stop it).
        log.error("job %s failed: %s", hc.job.num, traceback.format_exc())
        records.write_json(run_dir / records.RESULTS, {
            "status": "failed", "error": f"{type(e).__name__}: {e}",
            "overrides": list(hc.overrides.task),
            "config": OmegaConf.to_container(cfg, resolve=False)})
        try:
            import wandb

            wandb.finish(exit_code=1)
        except Exception:  # noqa: BLE001 - never mask the original failure
            pass
        return None
    return res["final"].get("train_loss")


if __name__ == "__main__":
    main()
