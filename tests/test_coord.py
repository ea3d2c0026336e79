"""The coordinate check by parameter kind (amup_timm/coord.py, docs/width.md): under muP no
kind's effect on the logits drifts with width; under timm's standard init it grows."""

import json
import subprocess
import sys

import pytest
import torch
from helpers import ROOT, env, wandb_records

from amup_timm import create_model
from amup_timm.experiments.coord import (
    KINDS,
    _logit_change,
    coord_check,
    kinds_of,
    slope_per_doubling,
)
from amup_timm.registry import build_meta
from amup_timm.width import base_shapes

CONVNEXT = ("convnext_tiny", {"depths": [1, 1, 1, 1], "dims": [8, 16, 32, 64], "num_classes": 10},
            32)
VIT = ("vit_tiny_patch16_224", {"img_size": 16, "patch_size": 4, "depth": 2, "embed_dim": 32,
                                "num_heads": 1, "num_classes": 10}, 16)


def _batch(img: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(16, 3, img, img, generator=g), torch.randint(0, 10, (16,), generator=g)


def test_kinds_of_timm_models():
    name, kw, _ = CONVNEXT
    wide = build_meta(name, **{**kw, "dims": [16, 32, 64, 128]})
    kinds = kinds_of(wide, base_shapes(build_meta(name, **kw)))
    assert kinds["head.fc.weight"] == "readout"
    assert kinds["stem.0.weight"] == "input"  # patch-4 stem: fan-in 3*4*4 stays fixed
    assert kinds["stages.0.blocks.0.conv_dw.weight"] == "input"  # depthwise: fan-in 7*7
    assert kinds["stages.0.blocks.0.mlp.fc1.weight"] == "hidden"
    assert kinds["stages.0.blocks.0.gamma"] == "layerscale"
    assert kinds["stages.0.blocks.0.norm.weight"] == "norm"
    assert kinds["head.fc.bias"] == "readout_bias"
    assert kinds["stages.0.blocks.0.mlp.fc1.bias"] == "bias"
    vit = build_meta(VIT[0], **{**VIT[1], "embed_dim": 64, "num_heads": 2})
    kinds = kinds_of(vit, base_shapes(build_meta(VIT[0], **VIT[1])))
    assert kinds["pos_embed"] == kinds["cls_token"] == "embedding"
    assert kinds["blocks.0.attn.qkv.weight"] == "hidden"
    assert set(kinds.values()) <= set(KINDS)


def test_kinds_of_a_resnet_with_a_deep_stem():
    kw = {"layers": [1, 1, 1, 1], "channels": [8, 16, 32, 64], "stem_type": "deep",
          "stem_width": 4, "num_classes": 10}
    wide = {**kw, "channels": [16, 32, 64, 128], "stem_width": 8}
    kinds = kinds_of(build_meta("resnet18", **wide), base_shapes(build_meta("resnet18", **kw)))
    assert kinds["conv1.0.weight"] == "input"  # 3 input channels: fan-in fixed
    assert kinds["conv1.3.weight"] == kinds["layer2.0.downsample.0.weight"] == "hidden"
    assert kinds["bn1.weight"] == "norm" and kinds["bn1.bias"] == "bias"
    assert (kinds["fc.weight"], kinds["fc.bias"]) == ("readout", "readout_bias")


def test_only_the_trained_kind_moves():
    name, kw, img = CONVNEXT
    model = create_model(name, {"ref_model": name, "ref_kwargs": kw, "ref_lr": 0.1},
                         **{**kw, "dims": [16, 32, 64, 128]})
    kinds = kinds_of(model, base_shapes(build_meta(name, **kw)))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    _logit_change(lambda: model, "layerscale", kinds, _batch(img), "adamw", 1e-2, 2, {})
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert moved == {n for n, k in kinds.items() if k == "layerscale"}


def test_a_family_whose_blocks_change_with_width_is_refused():
    """resnet18's plain stem has 64 channels: at x4 the first stage drops its shortcut."""
    kw = {"layers": [1, 1, 1, 1], "channels": [16, 32, 64, 128], "num_classes": 10}
    with pytest.raises(ValueError, match="widening changes its blocks.*stem_type=deep"):
        coord_check("resnet18", kw, [1, 4], "am_mup", _batch(16), "adamw", 1e-3)


def test_slope_per_doubling():
    assert slope_per_doubling([1, 2, 4], [3.0, 6.0, 12.0]) == pytest.approx(1.0)
    assert slope_per_doubling([1, 2, 4], [5.0, 5.0, 5.0]) == pytest.approx(0.0)
    assert slope_per_doubling([1, 2, 4], [0.0, 0.0, 1.0]) is None  # nothing moved: no slope


@pytest.mark.parametrize("model,opt,lr", [(CONVNEXT, "momentum", 0.01), (CONVNEXT, "adamw", 1e-3),
                                          (VIT, "adamw", 1e-3)])
def test_mup_keeps_every_kind_in_place(model, opt, lr):
    """A kind whose muP rule were wrong (SP's rule, or muP's for the other optimizer) would
    move the logits by about x2 per doubling of width, up or down."""
    name, kw, img = model
    timm_kwargs = {"momentum": 0.0} if opt == "momentum" else {}
    mup = coord_check(name, kw, [1, 2, 4], "am_mup", _batch(img), opt, lr, steps=3, seeds=1,
                      tolerance=0.5, **timm_kwargs)  # the narrow end shrinks a little
    sp = coord_check(name, kw, [1, 2, 4], "standard", _batch(img), opt, lr, steps=3, seeds=1,
                     **timm_kwargs)
    assert set(mup["kinds"]) >= {"input", "hidden", "readout", "norm", "bias"}
    drifting = {k: round(r["slope"], 2) for k, r in mup["kinds"].items() if not r["flat"]}
    assert not drifting, f"muP kinds drift with width: {drifting}"
    assert sp["kinds"]["hidden"]["slope"] > 0.6 and sp["kinds"]["readout"]["slope"] > 0.6


def test_coord_command(tmp_path):
    cmd = [sys.executable, "-m", "amup_timm.coord", "model=convnext_narrow", "data=synthetic",
           "data.img_size=32",
           "optim=adamw", "coord.widths=[1,2]", "coord.seeds=1", "logger=wandb",
           f"hydra.run.dir={tmp_path}"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((tmp_path / "coord.json").read_text())
    assert [r["scheme"] for r in res] == ["am_mup", "standard"]
    assert "layerscale" in res[0]["kinds"] and len(res[0]["kinds"]["hidden"]["change"]) == 2
    assert "hidden" in proc.stdout and (tmp_path / "coord.png").read_bytes()[:4] == b"\x89PNG"
    records = wandb_records(next(tmp_path.glob("wandb/offline-run-*/run-*.wandb")))
    summaries = json.dumps([r for r in records if r.get("type") == "summary"])
    assert "coord/am_mup/hidden/slope" in summaries and "coord/plot" in json.dumps(records)
