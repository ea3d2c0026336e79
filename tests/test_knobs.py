"""Depth and width knobs of timm families (amup_timm.knobs)."""

import pytest

from amup_timm import describe
from amup_timm.knobs import (
    KnobError,
    nominal_depth,
    nominal_width,
    scale_depth,
    scale_width,
)
from amup_timm.registry import build_meta

VIT = {"img_size": 16, "patch_size": 4, "depth": 2, "embed_dim": 64, "num_heads": 2}
RESNET = {"layers": [1, 1, 1, 1], "channels": [16, 32, 64, 128]}


def test_depth_knobs_scale_the_real_models():
    vit = scale_depth("vit_tiny_patch16_224", VIT, 4)
    assert vit["depth"] == 8
    assert describe(build_meta("vit_tiny_patch16_224", **vit)).num_branches == 16
    rn = scale_depth("resnet50", RESNET, 2)
    assert rn["layers"] == [2, 2, 2, 2]
    assert describe(build_meta("resnet50", **rn)).num_branches == 8
    cn = scale_depth("convnext_tiny", {"depths": [1, 1, 2, 1]}, 2)
    assert cn["depths"] == [2, 2, 4, 2] and nominal_depth("convnext_tiny", cn) == 10
    assert scale_depth("resnet18", {}, 1) == {}  # factor 1 needs no knob


def test_width_knobs_keep_the_head_dim():
    vit = scale_width("vit_tiny_patch16_224", VIT, 2)
    assert (vit["embed_dim"], vit["num_heads"]) == (128, 4)
    block = build_meta("vit_tiny_patch16_224", **vit).blocks[0].attn
    assert block.head_dim == 32
    rn = scale_width("resnet18", {**RESNET, "stem_width": 16}, 0.5)
    assert rn["channels"] == [8, 16, 32, 64] and rn["stem_width"] == 8
    assert nominal_width(rn) == 64 and nominal_width(vit) == 128
    assert scale_width("plain_cnn", {"width": 8}, 4) == {"width": 32}


def test_knob_errors_say_what_to_set():
    with pytest.raises(KnobError, match=r"\+\+model.kwargs.layers=\[1,1,1,1\]"):
        scale_depth("resnet18", {}, 2)
    with pytest.raises(KnobError, match=r"\+\+model.kwargs.depth=4"):
        scale_depth("vit_tiny_patch16_224", {}, 2)
    with pytest.raises(KnobError, match="sweep model.name over vgg<N>"):
        scale_depth("vgg11", {}, 2)
    with pytest.raises(KnobError, match="not a positive integer"):
        scale_width("plain_cnn", {"width": 3}, 0.5)
    with pytest.raises(KnobError, match="num_heads"):
        scale_width("vit_tiny_patch16_224", {"embed_dim": 64}, 2)
    with pytest.raises(KnobError, match="model.kwargs.embed_dim"):
        scale_width("vit_tiny_patch16_224", {}, 2)


def test_nominal_depth_reads_every_knob():
    assert nominal_depth("resnet101d", {}) == 101
    assert nominal_depth("vit_tiny_patch16_224", {"depth": 6}) == 6
    assert nominal_depth("resnet18", {"layers": [2, 2, 2, 2]}) == 8
    assert nominal_depth("regnetx_002", {}) is None
