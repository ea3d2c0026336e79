"""Residual-aware He fan-in init (docs/design.md §2): scales and variances against their
formulas."""

import math

import pytest
import torch

import amup_timm
from amup_timm.config import AmupConfig


def _params(model):
    return dict(model.named_parameters())


@pytest.mark.parametrize("k_exponent", [1, 2])
def test_norm_scale_is_k_power(k_exponent):
    model = amup_timm.create_model("resnet18", amup={"k_exponent": k_exponent})
    params = _params(model)
    for b in model.amup.report.branches:
        assert torch.allclose(params[b.scale_param], torch.full_like(
            params[b.scale_param], 8 ** (-k_exponent / 2)))


def test_layerscale_replaces_near_zero_default():
    model = amup_timm.create_model("vit_tiny_patch16_224", init_values=1e-6, img_size=32,
                                   patch_size=8)
    params = _params(model)
    gammas = [params[b.scale_param] for b in model.amup.report.branches]
    assert len(gammas) == 24
    assert all(torch.allclose(g, torch.full_like(g, 1 / math.sqrt(24))) for g in gammas)


def test_branch_weight_variance_matches_formula():
    model = amup_timm.create_model("resnet_1conv", depth=6, width=96)
    params = _params(model)
    for b in model.amup.report.branches:
        w = params[b.scale_param]
        expected = 2.0 / (6 * w[0].numel())
        assert w.var().item() == pytest.approx(expected, rel=0.05)


def test_he_fan_in_everywhere_and_head():
    model = amup_timm.create_model("plain_cnn", depth=4, width=128, num_classes=64)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    for conv in convs[1:]:
        assert conv.weight.var().item() == pytest.approx(2.0 / conv.weight[0].numel(), rel=0.05)
    assert model.head.weight.var().item() == pytest.approx(1.0 / 128, rel=0.1)
    zero = amup_timm.create_model("plain_cnn", amup={"head_init": "zero"}, depth=2)
    assert zero.head.weight.abs().sum() == 0


def test_branch_output_variance_is_one_over_k():
    """Each branch's pre-activation variance is 2 E[x^2] / K: 1/K of a plain He layer's."""
    K = 8
    torch.manual_seed(0)
    model = amup_timm.create_model("resnet_1conv", depth=K, width=256).eval()
    stats = []

    def hook(mod, inp, out):
        stats.append((inp[0].pow(2).mean().item(), out.var().item()))

    for blk in model.blocks:
        blk.conv.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.randn(8, 3, 16, 16))
    ratios = [var / (2.0 * second_moment / K) for second_moment, var in stats]
    assert sum(ratios) / len(ratios) == pytest.approx(1.0, rel=0.1)
    assert all(0.7 < r < 1.3 for r in ratios)


def test_standard_scheme_keeps_timm_init():
    model = amup_timm.create_model("resnet18", amup={"scheme": "standard"})
    assert model.layer1[0].bn2.weight.abs().sum() == 0  # timm's zero_init_last


def test_weight_standardized_conv_refuses_clearly():
    with pytest.raises(ValueError, match="weight-standardized"):
        amup_timm.create_model("resnetv2_50x1_bit")


def test_bad_config_keys_and_values():
    with pytest.raises(ValueError, match="did you mean 'ref_depth'"):
        amup_timm.create_model("resnet18", amup={"ref_dpth": 3})
    with pytest.raises(ValueError, match="measure"):
        AmupConfig(measure="longest")
    with pytest.raises(ValueError, match="unknown timm model 'resnt18'.*resnet18"):
        amup_timm.create_model("resnt18")
    with pytest.raises(ValueError, match="both set"):
        AmupConfig(ref_lr=0.1, ref_run="x")
