"""create_optimizer: the law's LR, muP groups and lr_scale in one call."""

import pytest
import torch
from timm.scheduler import create_scheduler_v2

import amup_timm


def _model():
    return amup_timm.create_model(
        "resnet_1conv", {"ref_depth": 2, "ref_lr": 0.1, "ref_kwargs": {"width": 8}},
        depth=8, width=16, num_classes=10, in_chans=1)


def test_create_optimizer_uses_the_law_and_lr_scale():
    model = _model()
    opt = amup_timm.create_optimizer(model, "momentum", momentum=0.0)
    t = amup_timm.transfer_lr(model, optimizer="momentum")
    L = amup_timm.describe(model).depth["minimal_path"]
    assert t.L == L and t.lr == pytest.approx(0.1 * (L / t.L_ref) ** -1.5)
    scales = sorted({g["lr_scale"] for g in opt.param_groups})
    assert scales == [1.0, 2.0]  # MuSGD at 2x width: hidden 1; input-like and readout 2
    x, y = torch.randn(4, 1, 8, 8), torch.randint(0, 10, (4,))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    torch.nn.functional.cross_entropy(model(x), y).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    opt.step()
    for g in opt.param_groups:
        assert g["lr"] == pytest.approx(t.lr * g["lr_scale"])
        for name, p in zip(g["param_names"], g["params"]):
            step = before[name] - p.detach()
            assert torch.allclose(step, t.lr * g["lr_scale"] * grads[name], rtol=1e-3, atol=1e-7)


def test_timm_scheduler_applies_lr_scale_once():
    opt = amup_timm.create_optimizer(_model(), "momentum", lr=0.2, momentum=0.9)
    sched, _ = create_scheduler_v2(opt, "cosine", num_epochs=100, step_on_epochs=False,
                                   updates_per_epoch=1)
    sched.step_update(50)
    for g in opt.param_groups:  # half way down the cosine: base / 2, times the group's scale
        assert g["lr"] == pytest.approx(0.1 * g["lr_scale"], rel=1e-3)


def test_create_optimizer_without_a_reference_lr_says_what_to_give():
    model = amup_timm.create_model("resnet_1conv", {"ref_depth": 2}, depth=8, width=8)
    with pytest.raises(ValueError, match="amup.ref_lr"):
        amup_timm.create_optimizer(model, "sgd")


def test_wd_rule_tau_keeps_adamw_timescale_as_the_lr_transfers():
    """tau: the transferred run's decay is the reference's divided by the LR's transfer
    factor, so lr x wd is the reference's; coupled keeps the decay as given."""
    import amup_timm

    vit = dict(img_size=16, patch_size=4, embed_dim=64, num_heads=2, in_chans=1, num_classes=10)
    got = {}
    for rule in ("coupled", "tau"):
        model = amup_timm.create_model("vit_tiny_patch16_224", amup={
            "ref_model": "vit_tiny_patch16_224", "ref_kwargs": {**vit, "depth": 2},
            "ref_lr": 1e-3, "wd_rule": rule}, depth=8, **vit)
        with pytest.warns(UserWarning, match="plain-SGD result"):
            t = amup_timm.transfer_lr(model, optimizer="adamw")
        decays = {g["weight_decay"] for g in amup_timm.param_groups(model, "adamw", 0.05)}
        got[rule] = (t.lr, max(decays))
        assert min(decays) == 0.0  # norms and biases still decay-free
    factor = got["tau"][0] / 1e-3
    assert factor == pytest.approx((18 / 6) ** -1.5)
    assert got["coupled"][1] == pytest.approx(0.05)
    assert got["tau"][0] * got["tau"][1] == pytest.approx(1e-3 * 0.05)
    with pytest.raises(ValueError, match="wd_rule"):
        amup_timm.AmupConfig(wd_rule="decoupled")


def test_wrapped_model_keeps_its_mup_groups():
    """DataParallel/DDP (.module) and torch.compile (._orig_mod) wrappers are unwrapped: a 2x
    wide resnet18 gets the same lr_scales wrapped as bare, not plain groups."""
    import amup_timm

    kw = dict(layers=[1, 1, 1, 1], stem_width=16, stem_type="deep", in_chans=1, num_classes=10)
    model = amup_timm.create_model("resnet18", amup={
        "ref_model": "resnet18", "ref_kwargs": {**kw, "channels": [16, 32, 64, 128]},
        "ref_lr": 0.1}, channels=[32, 64, 128, 256], **kw)
    bare = sorted({g["lr_scale"] for g in amup_timm.param_groups(model, "sgd")})
    assert len(bare) > 1
    for wrapped in (torch.nn.DataParallel(model), torch.compile(model),
                    torch.compile(torch.nn.DataParallel(model))):
        assert sorted({g["lr_scale"] for g in amup_timm.param_groups(wrapped, "sgd")}) == bare
        opt = amup_timm.create_optimizer(wrapped, "momentum", momentum=0.0)
        assert sorted({g["lr_scale"] for g in opt.param_groups}) == bare


def test_every_timm_optimizer_has_a_mup_rule_or_says_why_not():
    """The muP rule comes from timm's registry: every name list_optimizers() returns is
    Adam-like (betas, or adaptive without them), SGD-like, or refused with its reason."""
    from timm.optim import list_optimizers

    from amup_timm.width import is_adam_like

    rules, refused = {}, {}
    for name in list_optimizers():
        try:
            rules[name] = is_adam_like(name)
        except ValueError as e:
            refused[name] = str(e)
    assert {n for n, adam in rules.items() if adam} >= {
        "adam", "adamw", "nadamw", "lamb", "lion", "adafactor", "adagrad", "rmsprop", "kron"}
    assert {n for n, adam in rules.items() if not adam} >= {
        "sgd", "momentum", "nesterov", "sgdw", "sgdp"}
    assert set(refused) >= {"muon", "lars"} and all(
        "no muP width rule" in m for m in refused.values())
    assert set(refused) <= {n for n in list_optimizers() if "muon" in n or "lar" in n}
    with pytest.raises(ValueError, match="not in timm's registry"):
        is_adam_like("adamm")
    assert is_adam_like("lookahead_adamw") and not is_adam_like("lookahead_sgd")
