"""The leaderboard at the deepest depth: the best grid cell and the best arm picked on
validation, the set of arms tied with the best (decide.py's rule), each arm against timm's one
LR; two seeds name nothing."""

import pytest
from helpers import record

from amup_timm.experiments.leaderboard import board as board_of
from amup_timm.experiments.report import leaderboard_markdown


def board(records):
    """The leaderboard selected on validation, as the check's config selects it."""
    return board_of(records, "depth", "val")


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
    out += [rec("am_mup_tau", "am_mup", 16, 0.05, s, 0.9 + 0.01 * s, wd_rule="tau")
            for s in range(len(am_losses))]
    return out


def test_rows_gap_regret_and_a_clear_win():
    b = board(records([0.30, 0.33, 0.31, 0.32], [0.41, 0.41, 0.42, 0.40]))
    assert b.best[16].scheme == "standard" and b.best[16].lr == 0.3  # by validation
    assert b.best[16].loss == pytest.approx(0.41)  # reported on test
    am = next(r for r in b.rows if r.arm == "am_mup")
    assert am.loss == pytest.approx(0.315) and am.loss_range == (0.30, 0.33)
    assert am.gap == pytest.approx(0.315 - 0.41)
    assert am.eta_star == 0.3 and am.regret == pytest.approx(0.315 - 0.42)
    d = b.decision
    assert d.best == "am_mup" and d.tied == ["am_mup"] and d.pairs == 4
    assert d.vs_best["standard"].call == "worse" and d.vs_standard["am_mup"].call == "better"
    assert b.named == "am_mup" and b.versus == "better against timm's one LR"
    assert b.call == "at depth 16: am_mup is best; worse: standard, am_mup_tau"
    assert b.overrides == ["amup.scheme=am_mup"]
    text = leaderboard_markdown(b)
    assert "| 16 | am_mup | 0.05 |" in text and "| standard | +0.0950 [" in text


def test_overlapping_seeds_are_a_tie_and_the_decay_rule_is_picked():
    b = board(records([0.30, 0.45, 0.31, 0.44], [0.41, 0.42, 0.40, 0.43]))
    assert b.decision.tied == ["am_mup", "standard"] and b.named == "am_mup"
    assert b.versus == "tied against timm's one LR"
    assert b.call.startswith("at depth 16: tied with the best: am_mup, standard")
    tau = board([r for r in records([0.95] * 4, [0.96, 0.97, 0.97, 0.96])
                 if r.arm != "am_mup"])
    assert tau.named == "am_mup_tau" and tau.overrides == ["amup.scheme=am_mup",
                                                           "amup.wd_rule=tau"]


def test_two_seeds_name_nothing():
    """A clear gap over two seeds is still no finding: no interval, no arm, no overrides."""
    b = board(records([0.30, 0.33], [0.41, 0.41]))
    assert b.named is None and b.overrides == []
    assert b.call == ("at depth 16: 2 seeds: no interval; lowest validation loss am_mup "
                      "(not a finding: run more seeds)")


def test_an_arm_whose_seeds_diverged_says_how_many():
    """A diverged arm is listed with the share of its seeds that diverged (its finite seeds'
    losses kept where only some did), and never named."""
    recs = records([0.30, 0.33, 0.31, 0.32], [0.41, 0.41, 0.42, 0.40])
    recs += [rec("completep", "completep", 16, 3.0, s, 0.0, status="diverged") for s in range(4)]
    recs += [rec("depth_mup", "depth_mup", 16, 0.2, s, 0.35) for s in range(3)]
    recs += [rec("depth_mup", "depth_mup", 16, 0.2, 3, 0.0, status="diverged")]
    b = board(recs)
    text = leaderboard_markdown(b)
    assert "| 16 | completep | 3 | diverged (4 of 4 seeds) | - |" in text
    assert "| 16 | depth_mup | 0.2 | diverged (1 of 4 seeds) | diverged (0.3500-diverged) |" in text
    assert b.named == "am_mup" and b.decision.vs_best["depth_mup"].call == "worse"


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
    lr, record = resolve_lr(model, cfg.optim)
    assert record["L"] == 22 and record["L_ref"] == 10  # minimal path, x4 and x1 blocks
    assert lr == pytest.approx(law(0.2371, 22, 10, exponent))


def test_a_named_fitted_arm_carries_its_exponent_to_another_check():
    """An arm that fitted its exponent is named with the exponent it trained with, for
    amup-train and as another check's arm (its fit's directory is not packed)."""
    recs = records([0.30, 0.33, 0.31, 0.32], [0.41, 0.41, 0.42, 0.40])
    recs += [rec("am_mup_fit", "am_mup", 16, 0.5, s, 0.2 + 0.01 * s,
                 exponent_from="sweep/exponent/fit", transfer_exponent=0.8554)
             for s in range(4)]
    b = board(recs)
    assert b.named == "am_mup_fit" and "amup.exponent=0.8554" in b.overrides
    assert b.arm == {"name": "am_mup_fit", "scheme": "am_mup",
                     "overrides": ["amup.exponent=0.8554"]}
