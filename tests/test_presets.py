"""Sweep presets: check types composed with recipes (amup_timm/conf/sweeps/check, recipe), and
every published check's config composed again from its recorded overrides."""

import tarfile

import pytest
from helpers import ROOT, compose_multirun, parts
from omegaconf import OmegaConf

SWEEPS = ROOT / "amup_timm" / "conf" / "sweeps"
CHECKS = sorted(p.stem for p in (SWEEPS / "check").glob("*.yaml"))
RECIPES = sorted(p.stem for p in (SWEEPS / "recipe").glob("*.yaml"))
PACKED = sorted((ROOT / "docs" / "data").rglob("*.tar.gz"))


# What later versions changed on purpose, as recorded configs show it (git log -S finds each):
# keys of the job config added since (absent from older records)
LATER_JOB_KEYS = ("amup.wd_rule", "check.arm", "check.grid_centers")
# callback keys a preset gained after records of it were published (compared where recorded):
# transfer_check_long refines to a quarter decade (4447294) since resnet18_narrow's long checks
LATER_CALLBACK_KEYS = {"transfer_check_long": ("refine_step", "refine_points")}
# the leaderboards' deep-optimum plan (issue 39 item 3, 5c78185): target_grids a list (x2 and
# x9, depth_mup's grid there), refine_values with x9, extra seeds at x9. Records before it set
# target_grids as one mapping, which their overrides (target_grids.values=...) address.
DEEP_OPTIMUM = ("target_grids", "refine_values", "extra_seeds")


def before_deep_optimum(callback: dict) -> bool:
    return isinstance(callback.get("target_grids"), dict) and "extra_seeds" not in callback


def recorded(path):
    """The top multirun.yaml of packed records, or None where they hold single runs only."""
    with tarfile.open(path) as tar:
        files = [m.name for m in tar.getmembers() if m.isfile()]
        (top, *more) = [n for n in files if n.count("/") == 1 and n.endswith("/multirun.yaml")
                        ] or [None]
        if top is None:
            assert all(n.count("/") == 1 and n.endswith("/results.json") for n in files), (
                f"{path}: a sweep without its multirun.yaml")
            return None
        assert not more, f"{path}: several sweeps"
        return OmegaConf.create(tar.extractfile(top).read().decode())


def in_current_terms(rec: dict, now: dict, cfg) -> tuple[dict, dict]:
    """``rec`` in the current names and ``now`` less what later versions added where ``rec``
    predates it. Renamed: the end callback's module (amup_timm.check before e747cc0; its key,
    ``fit`` before c9b1216, ``parts`` reads); the grid's center, optim.grid_center (and its
    ``sum`` resolver) before the check's table, compared by value (now the table's entry)."""
    job, cb = rec["job"], dict(rec["callback"])
    cb["_target_"] = cb["_target_"].replace("amup_timm.check.", "amup_timm.experiments.check.")
    if "grid_center" in job["optim"]:
        job["check"]["grid_center"] = job["optim"].pop("grid_center")
        assert job["optim"]["log10_lr"] == "${sum:${optim.grid_center},${check.lr_offset}}"
        job["optim"]["log10_lr"] = "${grid_point:${check.grid_center},${check.lr_offset}}"
        now["job"]["check"]["grid_center"] = cfg.check.grid_center
    for key in LATER_JOB_KEYS:
        node, leaf = key.split(".")
        if leaf not in job[node]:
            now["job"][node].pop(leaf)
    later = LATER_CALLBACK_KEYS.get(cfg.hydra.runtime.choices.sweeps, ())
    now_cb = {k: v for k, v in now["callback"].items() if k in cb or k not in later}
    if before_deep_optimum(cb):
        cb = {k: v for k, v in cb.items() if k not in DEEP_OPTIMUM}
        now_cb = {k: v for k, v in now_cb.items() if k not in DEEP_OPTIMUM}
    return {**rec, "job": job, "callback": cb}, {**now, "callback": now_cb}


@pytest.mark.parametrize("path", PACKED, ids=lambda p: str(p.relative_to(ROOT / "docs" / "data")))
def test_a_published_check_composes_as_recorded(path):
    """Composed again from its recorded task and hydra overrides, a published check's sweep is
    the one its multirun.yaml records (less the later changes listed above), so its jobs keep
    their numbers and overrides and the sweep started again skips them."""
    cfg = recorded(path)
    if cfg is None:  # the ViT's horizon pilots: single runs, each its own record
        return
    rec = parts(cfg)
    hydra = list(cfg.hydra.overrides.hydra)
    if before_deep_optimum(rec["callback"]):
        hydra = [o for o in hydra if not o.startswith(
            tuple(f"hydra.callbacks.multirun_end.{k}" for k in DEEP_OPTIMUM))]
    now_cfg = compose_multirun(list(cfg.hydra.overrides.task) + hydra)
    rec, now = in_current_terms(rec, parts(now_cfg), now_cfg)
    for key in rec:
        assert now[key] == rec[key], f"{path.name}: {key}"


@pytest.fixture(scope="module")
def compositions() -> dict:
    """Every check type composed with every recipe: (check, recipe) -> parts, with the
    resolved grid center."""
    out = {}
    for check in CHECKS:
        for recipe in RECIPES:
            cfg = compose_multirun([f"+sweeps=[check/{check},recipe/{recipe}]"])
            out[check, recipe] = {**parts(cfg), "grid_center": cfg.check.grid_center}
    return out


JOB = ("data", "optim", "sched", "trainer")  # what a recipe sets


def test_a_recipe_trains_the_same_under_every_check_type(compositions):
    """A recipe sets what a job trains (data, optimizer, schedule, horizon, the grid's center)
    and how eta* is selected, whatever the check type; a check type sets what the check runs
    (its plan and grid), whatever the recipe."""
    for recipe in RECIPES:
        runs = {check: compositions[check, recipe] for check in CHECKS}
        first = runs[CHECKS[0]]
        for c in runs.values():
            assert {k: c["job"][k] for k in JOB} == {k: first["job"][k] for k in JOB}, recipe
            assert (c["grid_center"], c["callback"]["select"], dict(c["params"])["trainer.seed"]
                    ) == (first["grid_center"], first["callback"]["select"],
                          dict(first["params"])["trainer.seed"])
    for check in CHECKS:
        runs = [compositions[check, recipe] for recipe in RECIPES]
        plans = [({k: v for k, v in c["callback"].items() if k != "select"},
                  [p for p in c["params"] if p[0] != "trainer.seed"]) for c in runs]
        assert all(p == plans[0] for p in plans), check
        assert all(c["job"]["check"]["arm"] is None for c in runs)


@pytest.mark.parametrize("recipe, expected", [
    ("paper", ("sgd_plain", "none", 128, 100, "mean")),
    ("digits", ("sgd_plain", "none", 128, 100, "mean")),
    ("digits_600", ("sgd_plain", "cosine", 64, 600, "val")),
    ("digits_1500", ("sgd_plain", "cosine", 64, 1500, "val")),
    ("fmnist", ("sgd", "cosine", 128, 1000, "val")),
    ("fmnist_adamw", ("adamw", "cosine", 128, 1000, "val"))])
def test_each_recipe_says_what_it_trains(compositions, recipe, expected):
    c = compositions["transfer", recipe]
    choices, job = c["choices"], c["job"]
    assert (choices["optim"], choices["sched"], job["data"]["batch_size"],
            job["trainer"]["max_steps"], c["callback"]["select"]) == expected
    assert choices["data"] == ("fashion_mnist" if recipe.startswith("fmnist") else "digits")
    assert c["grid_center"] == {"sgd": -1.0, "adamw": -2.5}.get(choices["optim"], -1.0)
    assert dict(c["params"])["trainer.seed"] == ("0,1,2" if recipe in ("paper", "digits") else "0,1")
