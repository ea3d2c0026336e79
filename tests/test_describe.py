"""describe(): K, depth measures and each family's scale parameter (docs/design.md §1-§3)."""

import pytest
import timm
from timm.models.convnext import ConvNeXt

import amup_timm
from amup_timm.registry import build_meta


@pytest.mark.parametrize("name,K", [("resnet18", 8), ("resnet50", 16), ("resnet101", 33),
                                    ("vit_tiny_patch16_224", 24), ("convnext_tiny", 18),
                                    ("efficientnet_b0", 9), ("vgg11", 0)])
def test_num_branches(name, K):
    assert amup_timm.describe(build_meta(name)).num_branches == K


@pytest.mark.parametrize("name,measure,value", [
    ("resnet18", "minimal_path", 13), ("resnet101", "minimal_path", 39),
    ("vit_tiny_patch16_224", "minimal_path", 26), ("convnext_tiny", "minimal_path", 23),
    ("resnet18", "longest_path", 18), ("resnet101", "longest_path", 101),
    ("resnet26d", "longest_path", 28), ("resnet101d", "longest_path", 103),
    ("resnet50", "blocks", 16), ("plain_cnn", "blocks", 7)])
def test_depth_measures(name, measure, value):
    kwargs = {"depth": 7} if name == "plain_cnn" else {}
    assert amup_timm.describe(build_meta(name, **kwargs)).depth[measure] == value


def _matched(report, expected):
    """The (suffix, kind) pairs of ``expected`` that the branches use; fails on a stray one."""
    seen = set()
    for b in report.branches:
        hits = [(sfx, kind) for sfx, kind in expected
                if b.scale_param.endswith("." + sfx) and b.scale_kind == kind]
        assert hits, f"{b.name}: unexpected {b.scale_param} ({b.scale_kind})"
        seen.update(hits)
    return seen


@pytest.mark.parametrize("name,kwargs,expected", [
    ("resnet18", {}, {("bn2.weight", "norm")}),
    ("resnet50", {}, {("bn3.weight", "norm")}),
    ("seresnet50", {}, {("bn3.weight", "norm")}),
    ("resnext50_32x4d", {}, {("bn3.weight", "norm")}),
    ("wide_resnet50_2", {}, {("bn3.weight", "norm")}),
    ("resnetv2_50", {}, {("conv3.weight", "weight")}),
    ("convnext_tiny", {}, {("gamma", "layerscale")}),
    ("vit_tiny_patch16_224", {}, {("attn.proj.weight", "weight"), ("mlp.fc2.weight", "weight")}),
    ("vit_tiny_patch16_224", {"init_values": 1e-5},
     {("ls1.gamma", "layerscale"), ("ls2.gamma", "layerscale")}),
    ("deit_tiny_patch16_224", {}, {("attn.proj.weight", "weight"), ("mlp.fc2.weight", "weight")}),
    ("deit3_small_patch16_224", {}, {("ls1.gamma", "layerscale"), ("ls2.gamma", "layerscale")}),
    ("swin_tiny_patch4_window7_224", {},
     {("attn.proj.weight", "weight"), ("mlp.fc2.weight", "weight")}),
    ("swinv2_tiny_window8_256", {}, {("norm1.weight", "norm"), ("norm2.weight", "norm")}),
    ("efficientnet_b0", {}, {("bn3.weight", "norm")}),
    ("mobilenetv3_large_100", {}, {("bn2.weight", "norm"), ("bn3.weight", "norm")}),
    ("regnetx_002", {}, {("conv3.bn.weight", "norm")}),
    ("mixer_s16_224", {}, {("mlp_tokens.fc2.weight", "weight"),
                           ("mlp_channels.fc2.weight", "weight")}),
    ("poolformer_s12", {}, {("layer_scale1.scale", "layerscale"),
                            ("layer_scale2.scale", "layerscale")}),
])
def test_scale_param_per_family(name, kwargs, expected):
    model = build_meta(name, **kwargs)
    report = amup_timm.describe(model)
    assert report.num_branches > 0
    assert _matched(report, expected) == expected
    params = dict(model.named_parameters())
    assert all(b.scale_param in params for b in report.branches)


def test_convnext_without_layerscale_scales_fc2():
    with __import__("torch").device("meta"):
        model = ConvNeXt(depths=(1, 1, 2, 1), dims=(8, 16, 32, 64), ls_init_value=None)
    report = amup_timm.describe(model)
    assert {b.scale_param.split(".", 4)[-1] for b in report.branches} == {"mlp.fc2.weight"}


def test_branch_names_unique_and_table_readable():
    report = amup_timm.describe(build_meta("vit_tiny_patch16_224"))
    names = [b.name for b in report.branches]
    assert len(set(names)) == len(names) == 24
    text = str(report)
    assert "K=24" in text and "blocks.0.attn.proj.weight" in text and "scale_param" in text
    assert report.as_dict()["depth"] == report.depth


def test_describe_real_model_matches_meta():
    real = timm.create_model("resnet18", pretrained=False)
    assert amup_timm.describe(real).as_dict() == amup_timm.describe(build_meta("resnet18")).as_dict()


def test_describe_leaves_model_untouched():
    model = timm.create_model("resnet18", pretrained=False).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    amup_timm.describe(model)
    assert model.training
    assert all((before[k] == v).all() for k, v in model.state_dict().items())
