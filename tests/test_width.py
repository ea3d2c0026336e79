"""muP width multipliers, param groups and the readout (docs/design.md §5)."""

import functools
import warnings

import pytest
import torch
from timm.optim import create_optimizer_v2
from timm.scheduler import create_scheduler_v2

import amup_timm
from amup_timm.groups import apply_lr_scale


def _cnn(width, base=16, scheme="am_mup", **amup):
    cfg = {"scheme": scheme, "ref_model": "plain_cnn",
           "ref_kwargs": {"depth": 3, "width": base}, "ref_lr": 0.1, **amup}
    return amup_timm.create_model("plain_cnn", amup=cfg, depth=3, width=width, num_classes=10)


@pytest.mark.parametrize("opt", ["sgd", "adamw"])
def test_equal_width_multipliers_are_one(opt):
    for model in (_cnn(16), amup_timm.create_model("vit_tiny_patch16_224", img_size=32,
                                                   patch_size=8, amup={"ref_depth": 3})):
        groups = amup_timm.param_groups(model, opt, weight_decay=0.05)
        assert {g["lr_scale"] for g in groups} == {1.0}
        assert {g["weight_decay"] for g in groups} <= {0.0, 0.05}
        assert model.amup.readout_mult == 1.0


@pytest.mark.parametrize("mult", [2, 4])
def test_multipliers_follow_mup(mult):
    model = _cnn(16 * mult)
    by_name = {n: g for g in amup_timm.param_groups(model, "sgd", 1e-4) for n in g["param_names"]}
    assert by_name["features.0.weight"]["lr_scale"] == mult  # input layer: fan-out grows
    assert by_name["features.2.weight"]["lr_scale"] == 1.0  # hidden: fan_out / fan_in
    assert by_name["head.weight"]["lr_scale"] == mult  # readout: vector-like in MuSGD
    assert by_name["head.weight"]["weight_decay"] == pytest.approx(1e-4 / mult)
    adam = {n: g for g in amup_timm.param_groups(model, "adamw", 1e-4) for n in g["param_names"]}
    assert adam["features.2.weight"]["lr_scale"] == pytest.approx(1 / mult)
    assert adam["features.2.weight"]["weight_decay"] == pytest.approx(1e-4 * mult)
    assert adam["features.0.weight"]["lr_scale"] == adam["head.weight"]["lr_scale"] == 1.0
    assert model.amup.readout_mult == mult


def test_readout_scales_output_and_init():
    torch.manual_seed(0)
    model = _cnn(64).eval()
    x = torch.randn(4, 3, 8, 8)
    with torch.no_grad():
        feats = model.forward_head(model.forward_features(x), pre_logits=True)
        expected = torch.nn.functional.linear(feats, model.head.weight) / 4
        assert torch.allclose(model(x), expected, atol=1e-6)
    assert model.head.weight.var().item() == pytest.approx(4 / 64, rel=0.2)


def test_timm_optimizer_and_scheduler_apply_lr_scale():
    model = _cnn(32)
    opt = create_optimizer_v2(model, "momentum", lr=0.1, momentum=0.0, weight_decay=1e-4,
                              param_group_fn=functools.partial(amup_timm.param_groups,
                                                               optimizer="sgd", weight_decay=1e-4))
    sched, _ = create_scheduler_v2(opt, "cosine", num_epochs=10, warmup_epochs=0)
    sched.step(0)
    assert sorted(g["lr"] for g in opt.param_groups) == pytest.approx([0.1, 0.2])
    apply_lr_scale(opt, 0.05)
    assert sorted(g["lr"] for g in opt.param_groups) == pytest.approx([0.05, 0.1])
    assert {id(p) for g in opt.param_groups for p in g["params"]} == \
        {id(p) for p in model.parameters()}


def _logit_change(width, scheme, opt_name, lr, steps=4):
    torch.manual_seed(0)
    model = _cnn(width, scheme=scheme)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(32, 3, 8, 8, generator=g), torch.randint(0, 10, (32,), generator=g)
    groups = amup_timm.param_groups(model, opt_name, 0.0)
    opt = (torch.optim.SGD if opt_name == "sgd" else torch.optim.Adam)(groups, lr=lr)
    apply_lr_scale(opt, lr)
    with torch.no_grad():
        before = model(x)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    with torch.no_grad():
        return (model(x) - before).abs().mean().item()


@pytest.mark.parametrize("opt,lr", [("sgd", 0.1), ("adam", 0.01)])
def test_coordinate_check(opt, lr):
    """Logit updates stay within a small factor from 1x to 4x width under muP; SP drifts."""
    mup = [_logit_change(w, "am_mup", opt, lr) for w in (16, 32, 64)]
    sp = [_logit_change(w, "standard", opt, lr) for w in (16, 32, 64)]
    assert max(mup) / min(mup) < 2.5
    assert max(sp) / min(sp) > 4 * max(mup) / min(mup)


def test_reference_width_only_in_its_name_warns():
    with pytest.warns(UserWarning, match="differs in width"):
        amup_timm.create_model("vit_tiny_patch16_224", amup={"ref_model": "vit_small_patch16_224"},
                               img_size=32, patch_size=8)


def test_twin_with_more_than_width_warns():
    """resnet18's plain stem has 64 channels: a first stage of 64 drops its projection."""
    ref = {"layers": [1, 1, 1, 1], "channels": [16, 32, 64, 128]}
    with pytest.warns(UserWarning, match="differ in more than width"):
        amup_timm.create_model("resnet18", amup={"ref_model": "resnet18", "ref_kwargs": ref},
                               layers=[1, 1, 1, 1], channels=[64, 128, 256, 512])
    deep = {"stem_type": "deep", "layers": [1, 1, 1, 1]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        amup_timm.create_model("resnet18", amup={"ref_model": "resnet18", "ref_kwargs": {
            **deep, "channels": [8, 16, 32, 64], "stem_width": 4}},
            **deep, channels=[64, 128, 256, 512], stem_width=32)
        # the reference is built for the target's data: 1-channel images, 10 classes
        amup_timm.create_model("resnet18", amup={"ref_model": "resnet18", "ref_kwargs": {
            **deep, "channels": [8, 16, 32, 64], "stem_width": 4}},
            **deep, channels=[64, 128, 256, 512], stem_width=32, in_chans=1, num_classes=10)
