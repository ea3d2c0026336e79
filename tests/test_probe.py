"""The AM probe (docs/design.md §6): S(eta)'s shape, calibration, determinism, cost, BN safety."""

import json
import math
import subprocess
import sys

import pytest
import torch
from helpers import ROOT, env

import amup_timm
from amup_timm.config import AmupConfig
from amup_timm.experiments.probe import Probe, first_batch, probe_transfer


def _batch(n=16, c=3, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, size, size, generator=g), torch.randint(0, 10, (n,), generator=g)


def _cnn(seed, **kw):
    return amup_timm.create_model("plain_cnn", depth=3, width=16, **kw)


@pytest.mark.parametrize("opt", ["sgd", "adamw"])
def test_S_is_quadratic_for_small_eta(opt):
    probe = Probe(_cnn, _batch(), optimizer="momentum" if opt == "sgd" else opt, seeds=2)
    lo, hi = 1e-6, 1e-5
    for variant in ("absolute", "relative"):
        a, b = probe.measure(lo).value(variant), probe.measure(hi).value(variant)
        assert math.log(b / a) / math.log(hi / lo) == pytest.approx(2.0, abs=0.05)


def test_calibration_identity():
    amup = AmupConfig(probe_seeds=2, probe_evals=20)
    kw = {"depth": 3, "width": 16, "num_classes": 10}
    eta = probe_transfer("resnet_1conv", kw, "resnet_1conv", kw, amup, _batch(), ref_lr=0.03)
    assert eta == pytest.approx(0.03, rel=2e-3)


def test_deterministic_for_a_seed():
    a = Probe(_cnn, _batch(), seeds=2).measure(0.01)
    b = Probe(_cnn, _batch(), seeds=2).measure(0.01)
    assert a.per_layer_abs == b.per_layer_abs and a.relative == b.relative


def test_one_forward_per_evaluation_and_seed():
    probe = Probe(_cnn, _batch(), seeds=3)
    start = probe.forwards
    probe.measure(0.01)
    assert probe.forwards - start == 3
    probe.solve(probe.measure(0.02).absolute, evals=7)
    assert probe.forwards - start == 3 * (1 + 1 + 2 + 7)  # + both ends of the bracket
    with pytest.raises(ValueError, match="widen the range"):
        probe.solve(1e30, evals=3)


def test_batchnorm_statistics_unchanged():
    models = []

    def build(seed):
        models.append(amup_timm.create_model("resnet18", num_classes=10))
        return models[-1]

    probe = Probe(build, _batch(size=32), seeds=1)
    before = {k: v.clone() for k, v in models[0].state_dict().items() if "running" in k}
    for eta in (1e-3, 1e-1, 1.0):
        probe.measure(eta)
    after = models[0].state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in models[0].parameters())


def test_clear_errors():
    def frozen(seed):
        m = _cnn(seed)
        m.requires_grad_(False)
        return m

    with pytest.raises(ValueError, match="no trainable parameter"):
        Probe(frozen, _batch(), seeds=1)
    with pytest.raises(ValueError, match="no conv/linear layer"):
        Probe(lambda s: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Identity()),
              _batch(), seeds=1)
    from omegaconf import OmegaConf

    from amup_timm.data import build_data

    data = build_data(OmegaConf.create({"name": "synthetic", "num_classes": 10, "in_chans": 3,
                                        "img_size": 8, "batch_size": 8}), torch.device("cpu"))
    with pytest.raises(ValueError, match="larger than data.batch_size"):
        first_batch(data, 64)


@pytest.mark.slow
def test_probe_command_writes_numbers_and_plots(tmp_path):
    cmd = [sys.executable, "-m", "amup_timm.probe", "model=resnet_1conv", "data=synthetic",
           "data.img_size=8", "model.kwargs.width=16", "probe.depths=[2,4,8]", "amup.probe_seeds=2",
           "amup.probe_evals=8", "logger=none", f"hydra.run.dir={tmp_path}"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((tmp_path / "probe.json").read_text())
    assert [r["kwargs"]["depth"] for r in res["rows"]] == [2, 4, 8]
    assert res["rows"][0]["eta_probe"] == pytest.approx(res["ref_lr"], rel=0.05)
    assert res["slope"]["slope"] < 0  # deeper nets get smaller LRs
    for f in ("update_profile.png", "eta_probe_vs_L.png"):
        assert (tmp_path / f).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("opt", ["adam", "adamw"])
def test_the_first_step_is_timms_optimizers_first_step(opt):
    """The probe's one-step direction, times the LR, is the change one real step of timm's
    Adam or AdamW makes: weight decay coupled or decoupled as the registry's class does it."""
    from amup_timm.experiments.probe import _Seed

    lr, wd = 1e-3, 0.1
    model = _cnn(0)
    seed = _Seed(model, _batch(), opt, wd, 1e-8, 0.9)
    theta0 = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = amup_timm.create_optimizer(model, opt, lr, weight_decay=wd, momentum=0.9)
    torch.nn.functional.cross_entropy(model(_batch()[0]), _batch()[1]).backward()
    optimizer.step()
    for n, p in model.named_parameters():
        if n in seed.direction:
            moved = (theta0[n] - p.detach()) / lr
            assert torch.allclose(moved, seed.direction[n], rtol=1e-3, atol=1e-5), n
