"""Run the evidence plans of sweeps/evidence.yaml (docs/evidence.md, docs/width.md):

    bash sweeps/evidence.sh FAMILY [CHECK] [override ...]      # = python sweeps/evidence.py ...
    python sweeps/evidence.py vit_narrow leaderboard --dry-run  # its commands, not run

CHECK (default: all) is planned as evidence.yaml's ``checks`` entry with FAMILY's changes
(``families``) and runs as one ``python train.py -m`` multirun per optimizer into
multirun/evidence/FAMILY/CHECK_OPTIM, each resuming where it stopped; the overrides given last
win. A check that adds a leaderboard's named arm takes the one it already ran with (its sweep or
packed records: it resumes as it started), else reads it with ``python -m amup_timm.check
LEADERBOARD --named-arm`` (the leaderboard's sweep, or its packed records in docs/data), which
names an arm only where the verdict's rule picks one.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from amup_timm.app import hydra_value

ROOT = Path(__file__).resolve().parents[1]
PLANS = Path(__file__).with_name("evidence.yaml")
CALLBACK = "hydra.callbacks.multirun_end"


def plans() -> dict[str, Any]:
    return OmegaConf.to_container(OmegaConf.load(PLANS), resolve=True)


def plan(family: str, check: str) -> dict[str, Any]:
    """``check``'s plan with ``family``'s changes (each field replaced whole)."""
    p = plans()
    return {**p["checks"][check], **p["families"].get(family, {}).get(check, {})}


def recorded_arm(family: str, check: str, optim: str) -> str | None:
    """The named arm a check of ``family`` already ran with (its sweep's multirun.yaml, or its
    packed records'), so that it resumes with the same arm whatever the leaderboard's rule
    says now; None where it never ran."""
    from amup_timm.experiments.records import end_callback, unpacked

    for where in (Path("multirun", "evidence", family, f"{check}_{optim}"),
                  Path("docs", "data", "evidence", "runs", family, f"{check}_{optim}.tar.gz")):
        path = unpacked(ROOT / where) / "multirun.yaml"
        if path.is_file():
            hydra = OmegaConf.to_container(OmegaConf.load(path).hydra, resolve=False)
            arm = end_callback(hydra).get("named_arm")
            return hydra_value(arm) if arm else None
    return None


def named_arm(family: str) -> str:
    """The arm ``family``'s leaderboard names, as ``python -m amup_timm.check --named-arm``
    prints it: the value of another check's ``named_arm``."""
    optim = plan(family, "leaderboard")["optim"]
    board = Path("multirun", "evidence", family, f"leaderboard_{optim}")
    if not (ROOT / board).is_dir():
        board = Path("docs", "data", "evidence", "runs", family, f"leaderboard_{optim}.tar.gz")
    if not (ROOT / board).exists():
        raise SystemExit(f"no leaderboard of {family} to name the depth arm: run "
                         f"bash sweeps/evidence.sh {family} leaderboard first")
    out = subprocess.run([sys.executable, "-m", "amup_timm.check", str(board), "--named-arm"],
                         cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if out.returncode:
        raise SystemExit(out.returncode)
    return out.stdout.strip()


def commands(family: str, check: str, extra: list[str]) -> list[list[str]]:
    """The ``train.py`` command lines (less the interpreter) that run ``check`` for
    ``family``, in order."""
    if check == "all":
        return [c for name in plans()["all"] for c in commands(family, name, extra)]
    p = plan(family, check)
    task = list(p.get("task", []))
    hydra = [f"{CALLBACK}.{k}={hydra_value(v)}" for k, v in p.get("callback", {}).items()]
    if "named_arm_from" in p:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        arm = recorded_arm(family, check, p["optim"]) or named_arm(p["named_arm_from"])
        scheme = OverridesParser.create().parse_override(f"arm={arm}").value()["scheme"]
        task.append("amup.scheme=" + ",".join(dict.fromkeys(["am_mup", "standard", scheme])))
        hydra.append(f"{CALLBACK}.named_arm={arm}")
    runs = ([(o, [f"optim={o}"]) for o in p["optims"]] if "optims" in p
            else [(p["optim"], [])])
    return [["train.py", "-m", f"+sweeps={p['sweep']}", f"model={family}", *choice, *task,
             *hydra, *extra, f"hydra.sweep.dir=multirun/evidence/{family}/{check}_{optim}"]
            for optim, choice in runs]


def main(argv: list[str] | None = None) -> None:
    names = [*plans()["checks"], "all"]
    p = argparse.ArgumentParser(prog="bash sweeps/evidence.sh", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("family", help="a model config, e.g. resnet18_narrow")
    p.add_argument("check", nargs="?", default="all", help="one of " + ", ".join(names))
    p.add_argument("overrides", nargs="*", help="more overrides for every multirun")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = p.parse_args(argv)
    if args.check not in names:
        p.error(f"unknown check '{args.check}': one of {', '.join(names)} "
                f"(all: {', '.join(plans()['all'])})")
    for cmd in commands(args.family, args.check, args.overrides):
        if args.dry_run:
            print(shlex.join(["python", *cmd]))
        elif rc := subprocess.run([sys.executable, *cmd], cwd=ROOT).returncode:
            sys.exit(rc)


if __name__ == "__main__":
    main()
