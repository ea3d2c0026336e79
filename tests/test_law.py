"""The depth law and reference resolution (docs/design.md §4)."""

import pytest

import amup_timm
from amup_timm.config import AmupConfig
from amup_timm.law import law, resolve_reference


# docs/design.md §3's pins: (resnet101, resnet18) by each depth measure
PINS = {"minimal_path": (39, 13), "longest_path": (101, 18), "blocks": (33, 8)}


@pytest.mark.parametrize("measure", sorted(PINS))
def test_resnet101_from_resnet18(measure):
    """The law at the spec's pinned depths, not at depths the test measures itself."""
    t = amup_timm.transfer_lr("resnet101", {"ref_depth": 18, "ref_lr": 0.1, "measure": measure})
    L, L_ref = PINS[measure]
    assert (t.L, t.L_ref) == (L, L_ref)
    assert t.lr == pytest.approx(0.1 * (L / L_ref) ** -1.5, rel=1e-12)
    assert t.ref_model == "resnet18"


def test_law_arithmetic():
    assert law(0.1, 8, 8) == 0.1
    assert law(0.1, 32, 8) == pytest.approx(0.1 / 8)
    assert law(0.2, 4, 16, exponent=-1.0) == pytest.approx(0.8)


def test_reference_resolution():
    cfg = AmupConfig(ref_depth=18)
    assert resolve_reference("resnet101d", {}, cfg).model == "resnet18d"
    vit = resolve_reference("vit_base_patch16_224", {"drop_rate": 0.1}, AmupConfig(ref_depth=4))
    assert (vit.model, vit.kwargs) == ("vit_base_patch16_224", {"drop_rate": 0.1, "depth": 4})
    assert resolve_reference("plain_cnn", {"depth": 16, "width": 32}, AmupConfig(ref_depth=4)
                             ).kwargs == {"depth": 4, "width": 32}
    assert resolve_reference("resnet18", {}, AmupConfig()) is None


def test_reference_errors_say_what_works():
    with pytest.raises(ValueError, match="amup.ref_model"):
        resolve_reference("regnetx_002", {}, AmupConfig(ref_depth=18))
    with pytest.raises(ValueError, match=r"depths that exist.*\[18, 26, 34, 50, 101"):
        resolve_reference("resnet101", {}, AmupConfig(ref_depth=19))
    with pytest.raises(ValueError, match="amup.ref_lr.*amup.ref_run"):
        amup_timm.transfer_lr("resnet101", {"ref_depth": 18})


def test_own_reference_and_pins():
    t = amup_timm.transfer_lr("resnet50", {"ref_lr": 0.05})
    assert t.lr == 0.05 and t.L == t.L_ref
    t = amup_timm.transfer_lr("resnet50", {"ref_depth": 18, "ref_lr": 0.1, "L": 40, "L_ref": 10})
    assert t.lr == pytest.approx(0.1 * 4 ** -1.5)


def test_adam_warns_and_standard_is_flat():
    with pytest.warns(UserWarning, match="plain-SGD.*amup.exponent_from="):
        amup_timm.transfer_lr("resnet34", {"ref_depth": 18, "ref_lr": 1e-3}, optimizer="adamw")
    t = amup_timm.transfer_lr("resnet34", {"ref_depth": 18, "ref_lr": 0.1, "scheme": "standard"})
    assert t.lr == 0.1


def test_transfer_from_created_model_reuses_its_config():
    model = amup_timm.create_model("resnet_1conv", {"ref_depth": 2, "ref_lr": 0.1}, depth=8)
    t = amup_timm.transfer_lr(model)
    assert t.lr == pytest.approx(0.1 * (model.amup.report.depth["minimal_path"] / 4) ** -1.5)
