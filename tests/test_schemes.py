"""Depth parametrizations (issue 8): each scheme's rules, and forward multipliers that survive
compile and checkpoints."""

import math
import shutil

import pytest
import torch

import amup_timm
from amup_timm.schemes import SCHEMES


def _r1(depth=8, **amup):
    return amup_timm.create_model("resnet_1conv", amup=amup, depth=depth, width=16,
                                  num_classes=10)


def _groups(model, opt):
    return {n: g for g in amup_timm.param_groups(model, opt) for n in g["param_names"]}


def test_registry():
    assert set(SCHEMES) == {"am_mup", "depth_mup", "completep", "nfd", "standard"}


def test_depth_mup_multiplies_branches_and_keeps_plain_init():
    model = _r1(8, scheme="depth_mup", branch_scale=2.0).eval()
    assert all(b.multiplier == pytest.approx(2 / math.sqrt(8)) for b in model.amup.report.branches)
    assert "0.7071" in str(model.amup.report)  # describe shows the multiplier
    conv = model.blocks[0].conv
    assert conv.weight.var().item() == pytest.approx(2 / conv.weight[0].numel(), rel=0.15)
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        expected = x + 2 / math.sqrt(8) * torch.relu(conv(x))
        assert torch.allclose(model.blocks[0](x), expected, atol=1e-6)
    rn = amup_timm.create_model("resnet18", amup={"scheme": "depth_mup"})
    assert torch.all(rn.layer1[0].bn2.weight == 1)  # no zero_init_last, no 1/sqrt(K)


def test_depth_mup_lr_rules():
    cfg = {"scheme": "depth_mup", "ref_depth": 2, "ref_lr": 0.1}
    sgd = amup_timm.transfer_lr("resnet_1conv", cfg, depth=8)
    assert sgd.lr == 0.1 and sgd.measure == "blocks"
    adam = amup_timm.transfer_lr("resnet_1conv", cfg, optimizer="adamw", depth=8)
    assert adam.lr == pytest.approx(0.1 * (8 / 2) ** -0.5)


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_completep_rules(alpha):
    model = _r1(8, scheme="completep", alpha=alpha, ref_depth=2)
    assert model.amup.K_base == 2
    m = 8 / 2
    assert all(b.multiplier == pytest.approx(m ** -alpha) for b in model.amup.report.branches)
    adam = _groups(model, "adamw")
    hidden, other = adam["blocks.3.conv.weight"], adam["stem.weight"]
    assert hidden["lr_scale"] == pytest.approx(m ** (alpha - 1))
    assert hidden["eps"] == other["eps"] == pytest.approx(1e-8 * m ** -alpha)
    assert other["lr_scale"] == 1.0
    assert {g["lr_scale"] for g in amup_timm.param_groups(model, "sgd")} == {1.0}
    sgd = amup_timm.transfer_lr(model, {"scheme": "completep", "alpha": alpha, "ref_depth": 2,
                                        "ref_lr": 0.1})
    assert sgd.lr == pytest.approx(0.1 * m ** (2 * alpha - 1))


def test_completep_half_alpha_is_depth_mup_multiplier_relative_to_base():
    cp = _r1(8, scheme="completep", alpha=0.5, ref_depth=2)
    dm = _r1(8, scheme="depth_mup")
    ratio = cp.amup.report.branches[0].multiplier / dm.amup.report.branches[0].multiplier
    assert ratio == pytest.approx(math.sqrt(2))  # a/sqrt(L) against sqrt(L_base/L)


def test_nfd_boosts_first_internal_layer_of_multilayer_branches():
    model = amup_timm.create_model("resnet34", amup={"scheme": "nfd", "ref_depth": 18})
    K, K_base = model.amup.K, model.amup.K_base
    assert (K, K_base) == (16, 8)
    groups = _groups(model, "sgd")
    assert groups["layer1.0.conv1.weight"]["lr_scale"] == pytest.approx(math.sqrt(K / K_base))
    assert groups["layer1.0.conv2.weight"]["lr_scale"] == 1.0
    assert all(b.multiplier == pytest.approx(1 / 4) for b in model.amup.report.branches)
    single = _r1(8, scheme="nfd", ref_depth=2)  # one-conv branches: no correction
    assert {g["lr_scale"] for g in amup_timm.param_groups(single, "sgd")} == {1.0}


def test_standard_and_am_mup_attach_nothing():
    for scheme in ("standard", "am_mup"):
        model = _r1(8, scheme=scheme)
        assert all(b.multiplier == 1.0 for b in model.amup.report.branches)
        assert not any(m._forward_hooks for m in model.modules())


def test_multipliers_survive_checkpoint_roundtrip(tmp_path):
    torch.manual_seed(0)
    a = _r1(6, scheme="depth_mup").eval()
    torch.save(a.state_dict(), tmp_path / "ckpt.pt")
    b = _r1(6, scheme="depth_mup").eval()
    b.load_state_dict(torch.load(tmp_path / "ckpt.pt"))
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(a(x), b(x))
        plain = _r1(6, scheme="am_mup").eval()
        plain.load_state_dict(a.state_dict())
        assert not torch.allclose(a(x), plain(x))  # the multiplier is really on the path


@pytest.mark.skipif(not shutil.which("g++"), reason="torch.compile's CPU backend needs g++")
def test_multipliers_survive_compile():
    model = _r1(3, scheme="depth_mup").eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(torch.compile(model)(x), model(x), atol=1e-5)


def test_pinned_base_depth_without_reference():
    model = _r1(8, scheme="completep", K_base=2)
    assert model.amup.K_base == 2
    assert model.amup.report.branches[0].multiplier == pytest.approx(1 / 4)
