"""The AM criterion as a measurement (docs/design.md §6): one-step pre-activation change S(eta).

For a model at initialization and a fixed batch, the gradient is computed once per seed; the
optimizer's first-step direction d follows from it (SGD: g; Adam/AdamW: g / (|g| + eps), their
first bias-corrected step), times each param group's ``lr_scale``. Each S(eta) is then one
forward per seed at theta0 - eta * d, with hooks on every conv/linear output h_l:

    S_abs(eta) = mean_l E[(h_l(theta1) - h_l(theta0))^2]
    S_rel(eta) = mean_l E[(h_l(theta1) - h_l(theta0))^2] / E[h_l(theta0)^2]

averaged over initialization seeds. BatchNorm statistics are restored after every forward;
dropout and drop-path are off. ``solve`` finds eta with S(eta) = B by bisection in log eta.

    python -m amup_timm.probe model=resnet_1conv probe.depths=[2,4,8,16] amup.ref_lr=0.1
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ..groups import param_groups
from ..width import decoupled_decay, is_adam_like

_WEIGHTED = (nn.Linear, nn.modules.conv._ConvNd)
_NESTEROV = ("sgd", "nesterov")  # timm's names for Nesterov SGD


@dataclass
class Measurement:
    """S(eta) averaged over seeds, both variants, and the per-layer profile."""

    eta: float
    absolute: float
    relative: float
    layers: list[str] = field(default_factory=list)
    per_layer_abs: list[float] = field(default_factory=list)
    per_layer_rel: list[float] = field(default_factory=list)

    def value(self, variant: str) -> float:
        return self.absolute if variant == "absolute" else self.relative


def eval_with_batch_stats(model: nn.Module) -> None:
    """Dropout, drop-path and timm's functional dropouts off, BatchNorm on batch statistics
    (as in training): a fixed batch then gives the same output twice."""
    model.eval()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.train()


class _Seed:
    """One initialization: theta0, its first-step direction and h(theta0)."""

    def __init__(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor],
                 optimizer: str, weight_decay: float, eps: float, momentum: float):
        self.model = model
        eval_with_batch_stats(model)
        self.layers = [n for n, m in model.named_modules() if isinstance(m, _WEIGHTED)]
        if not self.layers:
            raise ValueError(f"{type(model).__name__} has no conv/linear layer to probe")
        self.x, self.y = batch
        self.buffers = {n: b.clone() for n, b in model.named_buffers()}
        self.forwards = 0
        self.theta0 = {n: p.detach() for n, p in model.named_parameters()}
        trainable = [p for p in model.parameters() if p.requires_grad]
        if not trainable:
            raise ValueError(f"{type(model).__name__} has no trainable parameter: nothing to "
                             "update, so there is no one-step change to measure")
        self.h0: dict[str, torch.Tensor] = {}
        loss = F.cross_entropy(self._forward(None, self.h0, grad=True), self.y)
        grads = torch.autograd.grad(loss, trainable, allow_unused=True)
        self._restore_buffers()
        grad_of = {id(p): g for p, g in zip(trainable, grads)}
        self.direction: dict[str, torch.Tensor] = {}
        names = {id(p): n for n, p in model.named_parameters()}
        for group in param_groups(model, optimizer, weight_decay):
            for p in group["params"]:
                g = grad_of.get(id(p))
                if g is None:
                    continue
                wd, theta = group["weight_decay"], p.detach()
                if is_adam_like(optimizer):
                    decoupled = decoupled_decay(optimizer)
                    coupled = g if decoupled else g + wd * theta
                    step = coupled / (coupled.abs() + group.get("eps", eps))
                    if decoupled:
                        step = step + wd * theta
                else:  # Nesterov's first step is (1 + momentum) g; heavy ball's is g
                    nesterov = 1 + momentum if optimizer.lower() in _NESTEROV else 1.0
                    step = nesterov * (g + wd * theta)
                self.direction[names[id(p)]] = group["lr_scale"] * step

    def _forward(self, params: dict | None, store: dict, grad: bool = False) -> torch.Tensor:
        hooks = [m.register_forward_hook(
                     lambda mod, a, out, n=n: store.__setitem__(n, out.detach().clone()))
                 for n, m in self.model.named_modules() if isinstance(m, _WEIGHTED)]
        try:
            with torch.set_grad_enabled(grad):
                out = (self.model(self.x) if params is None
                       else functional_call(self.model, params, (self.x,)))
        finally:
            for h in hooks:
                h.remove()
            if not grad:  # the gradient's graph still needs the buffers as they are
                self._restore_buffers()
        self.forwards += 1
        return out

    @torch.no_grad()
    def _restore_buffers(self) -> None:
        for n, b in self.model.named_buffers():
            b.copy_(self.buffers[n])

    @torch.no_grad()
    def changes(self, eta: float) -> tuple[list[float], list[float]]:
        params = {n: (t - eta * self.direction[n]) if n in self.direction else t
                  for n, t in self.theta0.items()}
        h1: dict[str, torch.Tensor] = {}
        self._forward(params, h1)
        absolute, relative = [], []
        for n in self.layers:
            d = (h1[n].float() - self.h0[n].float()).pow(2).mean().item()
            absolute.append(d)
            relative.append(d / max(self.h0[n].float().pow(2).mean().item(), 1e-30))
        return absolute, relative


class Probe:
    """S(eta) of one architecture, averaged over ``seeds`` initializations.

    ``build(seed)`` returns a freshly initialized model (e.g. ``amup_timm.create_model``
    under ``torch.manual_seed(seed)``); the batch is shared by all seeds.
    """

    def __init__(self, build: Callable[[int], nn.Module],
                 batch: tuple[torch.Tensor, torch.Tensor], optimizer: str = "momentum",
                 weight_decay: float = 0.0, seeds: int = 8, eps: float = 1e-8,
                 momentum: float = 0.9):
        if seeds < 1:
            raise ValueError("amup.probe_seeds must be >= 1")
        self.seeds = []
        with torch.random.fork_rng():  # the caller's RNG stream is left as it was
            for s in range(seeds):
                torch.manual_seed(s)
                self.seeds.append(_Seed(build(s), batch, optimizer, weight_decay, eps,
                                        momentum))

    @property
    def forwards(self) -> int:
        """Forward passes run so far (all seeds)."""
        return sum(s.forwards for s in self.seeds)

    def measure(self, eta: float) -> Measurement:
        """S(eta): one forward per seed."""
        per = [s.changes(eta) for s in self.seeds]
        n = len(per)
        abs_l = [sum(p[0][i] for p in per) / n for i in range(len(per[0][0]))]
        rel_l = [sum(p[1][i] for p in per) / n for i in range(len(per[0][1]))]
        return Measurement(eta, sum(abs_l) / len(abs_l), sum(rel_l) / len(rel_l),
                           self.seeds[0].layers, abs_l, rel_l)

    def solve(self, budget: float, variant: str = "absolute", lo: float = 1e-6,
              hi: float = 10.0, evals: int = 15) -> float:
        """eta with S(eta) = budget, by bisection in log eta (``evals`` measurements)."""
        if not budget > 0:
            raise ValueError(f"the budget must be positive, got {budget}")
        s_lo, s_hi = self.measure(lo).value(variant), self.measure(hi).value(variant)
        if not s_lo <= budget <= s_hi:
            raise ValueError(f"S(eta) = {budget:.4g} is not reached between eta = {lo:g} "
                             f"(S = {s_lo:.4g}) and {hi:g} (S = {s_hi:.4g}); widen the range")
        log_lo, log_hi = math.log(lo), math.log(hi)
        for _ in range(max(1, evals)):
            mid = 0.5 * (log_lo + log_hi)
            if self.measure(math.exp(mid)).value(variant) < budget:
                log_lo = mid
            else:
                log_hi = mid
        return math.exp(0.5 * (log_lo + log_hi))


def first_batch(data, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``size`` examples of a ``DataSource``'s training stream."""
    try:
        x, y = next(data.train_batches(0))
    except (StopIteration, RuntimeError, ValueError) as e:
        raise ValueError(f"could not draw a probe batch from data={data.name}: {e}") from e
    if len(y) < size:
        raise ValueError(f"amup.probe_batch_size={size} is larger than data.batch_size={len(y)}")
    return x[:size], y[:size]


def probe_transfer(name: str, kwargs: dict, ref_name: str, ref_kwargs: dict, amup,
                   batch: tuple[torch.Tensor, torch.Tensor], ref_lr: float,
                   optimizer: str = "momentum", weight_decay: float = 0.0,
                   momentum: float = 0.0) -> float:
    """eta for the target with S_target(eta) = S_ref(ref_lr) (``amup.lr_rule=probe``), on
    the CPU."""
    from ..factory import create_model

    batch = (batch[0].cpu(), batch[1].cpu())

    def probe(n: str, kw: dict) -> Probe:
        return Probe(lambda s: create_model(n, amup, **kw), batch, optimizer, weight_decay,
                     amup.probe_seeds, momentum=momentum)

    budget = probe(ref_name, ref_kwargs).measure(ref_lr).value(amup.probe_variant)
    return probe(name, kwargs).solve(budget, amup.probe_variant, lo=ref_lr * 1e-4,
                                     hi=ref_lr * 1e3, evals=amup.probe_evals)


def _architectures(cfg) -> list[tuple[str, dict]]:
    """(timm name, kwargs) for each probed depth or width; the first is the reference."""
    from omegaconf import OmegaConf

    from ..config import AmupConfig
    from ..law import resolve_reference

    name = cfg.model.name
    kwargs = {**OmegaConf.to_container(cfg.model.kwargs, resolve=True),
              "num_classes": int(cfg.data.num_classes), "in_chans": int(cfg.data.in_chans)}
    if cfg.probe.depths and cfg.probe.widths:
        raise ValueError("give probe.depths or probe.widths, not both")
    if cfg.probe.depths:
        out = []
        for d in cfg.probe.depths:
            ref = resolve_reference(name, kwargs, AmupConfig(ref_depth=int(d)))
            out.append((ref.model, ref.kwargs))
        return out
    if cfg.probe.widths:
        return [(name, {**kwargs, "width": int(w)}) for w in cfg.probe.widths]
    return [(name, kwargs)]


def run_probe(cfg) -> dict:
    """The probe command: update profiles and eta_probe per architecture; probe.json and
    plots in the run directory (and W&B when logging)."""
    from dataclasses import replace
    from pathlib import Path

    from tqdm import tqdm

    from ..config import to_config
    from ..data import build_data
    from ..factory import create_model
    from ..law import depth_of, law
    from .trend import fit_slope
    from .report import log_probe, probe_summary, write_probe

    amup = to_config(cfg.amup)
    archs = _architectures(cfg)
    base_name, base_kwargs = archs[0]
    if cfg.probe.widths:  # muP multipliers relative to the first width
        amup = replace(amup, ref_model=base_name, ref_kwargs=base_kwargs, ref_depth=None)
    else:
        amup = replace(amup, ref_model=None, ref_depth=None)
    ref_lr = float(cfg.probe.lr or amup.ref_lr or cfg.optim.lr)
    data = build_data(cfg.data, torch.device("cpu"), seed=cfg.trainer.seed)
    batch = first_batch(data, amup.probe_batch_size)
    variant = amup.probe_variant
    rows, budget = [], None
    for name, kwargs in tqdm(archs, desc="probe", disable=len(archs) < 2):
        probe = Probe(lambda s, n=name, kw=kwargs: create_model(n, amup, **kw), batch,
                      cfg.optim.opt, float(cfg.optim.weight_decay), amup.probe_seeds,
                      momentum=float(cfg.optim.momentum))
        at_ref = probe.measure(ref_lr)
        budget = at_ref.value(variant) if budget is None else budget
        eta = probe.solve(budget, variant, lo=ref_lr * 1e-4, hi=ref_lr * 1e3,
                          evals=amup.probe_evals)
        report = probe.seeds[0].model.amup.report
        rows.append({"model": name, "kwargs": {k: v for k, v in kwargs.items()
                                               if k not in ("num_classes", "in_chans")},
                     "L": depth_of(report, amup.measure, None), "K": report.num_branches,
                     "S_abs": at_ref.absolute, "S_rel": at_ref.relative, "eta_probe": eta,
                     "layers": at_ref.layers, "per_layer_abs": at_ref.per_layer_abs,
                     "per_layer_rel": at_ref.per_layer_rel})
    for r in rows:
        r["eta_law"] = law(ref_lr, r["L"], rows[0]["L"], amup.exponent)
    result = {"ref_lr": ref_lr, "variant": variant, "budget": budget, "measure": amup.measure,
              "optimizer": cfg.optim.opt, "seeds": amup.probe_seeds, "rows": rows,
              "slope": fit_slope([r["L"] for r in rows], [r["eta_probe"] for r in rows])
              if not cfg.probe.widths else None}
    out = Path(cfg.run_dir)
    files = write_probe(result, out, by="width" if cfg.probe.widths else "depth")
    print("\n".join(probe_summary(result)) + "\nwrote " + ", ".join(map(str, files)))
    log_probe(result, files, out, cfg.logger,
              {"probe": dict(cfg.probe), "model": cfg.model.name})
    return result


def main() -> None:
    """``python -m amup_timm.probe``: Hydra-composed like train.py (conf/probe.yaml)."""
    from ..app import run_app

    run_app(run_probe, "probe")


if __name__ == "__main__":
    main()
