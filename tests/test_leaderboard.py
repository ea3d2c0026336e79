"""The leaderboard names the arm with the lowest test loss at the deepest depth, and calls it
better than timm's one LR only where each of its seeds beats each of standard's."""

import pytest
from helpers import record

from amup_timm.experiments.leaderboard import board
from amup_timm.experiments.report import leaderboard_markdown


def rec(arm, scheme, depth, lr, seed, test_loss, stage="transfer", val_loss=None, **extra):
    return record(**{"status": "finished", "lr": lr, "seed": seed, "depth": depth,
                     "scheme": scheme, "arm": arm, "stage": stage,
                     "val_loss": val_loss if val_loss is not None else test_loss,
                     "test_loss": test_loss, "test_acc": 1 - test_loss / 4,
                     "exponent_from": None, "wd_rule": "coupled",
                     "path": f"{arm}{depth}{lr}{seed}", **extra})


def records(am_losses, std_losses):
    out = []
    for lr, val in ((0.1, 0.50), (0.3, 0.40), (1.0, 0.45)):  # grids at depth 16
        for seed in (0, 1):
            out.append(rec("standard", "standard", 16, lr, seed, val + 0.01, "target_grid",
                           val_loss=val))
            out.append(rec("am_mup", "am_mup", 16, lr, seed, val + 0.02, "target_grid",
                           val_loss=val + 0.01))
    out += [rec("am_mup", "am_mup", 16, 0.05, s, v) for s, v in enumerate(am_losses)]
    out += [rec("standard", "standard", 16, 0.3, s, v) for s, v in enumerate(std_losses)]
    out += [rec("am_mup_tau", "am_mup", 16, 0.05, s, 0.9, wd_rule="tau") for s in (0, 1)]
    return out


def test_rows_gap_regret_and_a_clear_win():
    b = board(records([0.30, 0.33], [0.41, 0.41]))
    assert b.best[16].scheme == "standard" and b.best[16].lr == 0.3  # by validation
    assert b.best[16].loss == pytest.approx(0.41)  # reported on test
    am = next(r for r in b.rows if r.arm == "am_mup")
    assert am.loss == pytest.approx(0.315) and am.loss_range == (0.30, 0.33)
    assert am.gap == pytest.approx(0.315 - 0.41)
    assert am.eta_star == 0.3 and am.regret == pytest.approx(0.315 - 0.42)
    assert b.named == "am_mup" and "beats timm's one LR on every seed" in b.call
    assert b.overrides == ["amup.scheme=am_mup"]
    assert "| 16 | am_mup | 0.05 |" in leaderboard_markdown(b)


def test_overlapping_seeds_are_within_noise_and_the_decay_rule_is_named():
    b = board(records([0.30, 0.45], [0.41, 0.42]))
    assert b.named == "am_mup" and "within seed noise of timm's one LR" in b.call
    tau = board([r for r in records([0.95, 0.95], [0.96, 0.97]) if r.arm != "am_mup"])
    assert tau.named == "am_mup_tau" and tau.overrides == ["amup.scheme=am_mup",
                                                           "amup.wd_rule=tau"]


def test_an_arm_whose_seeds_diverged_says_how_many():
    """A diverged arm is listed with the share of its seeds that diverged (its finite seeds'
    losses kept where only some did), and never named."""
    recs = records([0.30, 0.33], [0.41, 0.41])
    recs += [rec("completep", "completep", 16, 3.0, 0, 0.0, status="diverged"),
             rec("completep", "completep", 16, 3.0, 1, 0.0, status="diverged"),
             rec("depth_mup", "depth_mup", 16, 0.2, 0, 0.35),
             rec("depth_mup", "depth_mup", 16, 0.2, 1, 0.0, status="diverged")]
    b = board(recs)
    text = leaderboard_markdown(b)
    assert "| 16 | completep | 3 | diverged (2 of 2 seeds) | - |" in text
    assert "| 16 | depth_mup | 0.2 | diverged (1 of 2 seeds) | diverged (0.3500-diverged) |" in text
    assert b.named == "am_mup"


@pytest.mark.parametrize("arm, exponent, wd_rule", [
    ("am_mup_tau", -1.5, "tau"),  # the law's exponent, the decay rule
    ("am_mup_fit", 0.8554, "coupled")])  # an exponent fitted on the shallower depths
def test_the_named_arms_overrides_train_a_deeper_model_at_its_transferred_lr(arm, exponent,
                                                                           wd_rule):
    """The overrides the verdict prints, pasted into a command that trains resnet18_narrow at
    x4 blocks, give the LR the arm's rule transfers from the recorded reference (x1's eta*)
    with the exponent it trained with, and its decay rule."""
    import shlex

    from hydra import compose, initialize_config_module

    from amup_timm import create_model
    from amup_timm.base_lr import resolve_lr
    from amup_timm.experiments.leaderboard import arm_overrides
    from amup_timm.law import law
    from amup_timm.train import model_kwargs

    ref = {"model": "resnet18", "kwargs": {"layers": [1, 1, 1, 1], "channels": [16, 32, 64, 128],
                                           "stem_width": 16}, "lr": 0.2371}
    run = rec(arm, "am_mup", 16, 0.05, 0, 0.3, ref=ref, wd_rule=wd_rule,
              transfer_exponent=exponent, optimizer="momentum")
    overrides = arm_overrides(run)
    assert overrides[0] == "amup.scheme=am_mup"
    assert ("amup.exponent=0.8554" in overrides) == (arm == "am_mup_fit")
    with initialize_config_module("amup_timm.conf", version_base="1.3"):
        cfg = compose("train", overrides=["model=resnet18_narrow", "scale.depth=4",
                                          *shlex.split(" ".join(overrides))])
    assert cfg.amup.wd_rule == wd_rule and cfg.amup.ref_lr == 0.2371
    model = create_model(cfg.model.name, cfg.amup, num_classes=10, **model_kwargs(cfg))
    lr, record = resolve_lr(model, cfg.optim, None)
    assert record["L"] == 22 and record["L_ref"] == 10  # minimal path, x4 and x1 blocks
    assert lr == pytest.approx(law(0.2371, 22, 10, exponent))


def test_a_named_fitted_arm_carries_its_exponent_to_another_check():
    """An arm that fitted its exponent is named with the exponent it trained with, for
    amup-train and as another check's arm (its fit's directory is not packed)."""
    recs = records([0.30, 0.33], [0.41, 0.41])
    recs += [rec("am_mup_fit", "am_mup", 16, 0.5, s, 0.2, exponent_from="sweep/exponent/fit",
                 transfer_exponent=0.8554) for s in (0, 1)]
    b = board(recs)
    assert b.named == "am_mup_fit" and "amup.exponent=0.8554" in b.overrides
    assert b.arm == {"name": "am_mup_fit", "scheme": "am_mup",
                     "overrides": ["amup.exponent=0.8554"]}
