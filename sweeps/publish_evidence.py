"""Copy the checks into docs/ and print the summary tables of docs/evidence.md (depth) and
docs/width.md (width, and depth with width).

    python sweeps/publish_evidence.py [multirun/evidence] [--measure minimal_path]

Every multirun/evidence/<model>/<check>_<optim>/, finished or not, has its runs' results.json
(with the sweep's multirun.yaml) copied to docs/data/evidence/runs/: enough to redo a verdict
(python -m amup_timm.check docs/data/evidence/runs/<model>/<check>) or, copied back under
multirun/evidence, to resume the checks where they stopped. For each check with a verdict, the
verdict is made again from the records; verdict.json and .md go to
docs/data/evidence/<model>_<check>_<optim>.*, its plots to docs/img/evidence/.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
from pathlib import Path

from amup_timm.check import main as check_main
from amup_timm.verdict import interval

ROOT = Path(__file__).resolve().parents[1]
DEPTH_CHECKS, WIDTH_CHECKS = ("short", "long"), ("width", "width1500", "combined")  # table order


def fmt(x, spec=".3g"):
    if x is None:
        return "-"
    return "diverged" if isinstance(x, float) and math.isinf(x) else format(x, spec)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("root", nargs="?", default=str(ROOT / "multirun" / "evidence"))
    p.add_argument("--measure", default="minimal_path")
    args = p.parse_args()
    data, img = ROOT / "docs" / "data" / "evidence", ROOT / "docs" / "img" / "evidence"
    kept = data / "runs"
    data.mkdir(parents=True, exist_ok=True)
    img.mkdir(parents=True, exist_ok=True)
    header = ["| model | check | optimizer | scheme | eta* by size | {} (95%: seeds, grid) "
              "| R^2 | verdict | regret at each larger size (relative) | acc at eta* / "
              "transferred | compute saved | runs (diverged, failed) |", "|" + "---|" * 12]
    tables = {"depth": [header[0].format("slope"), header[1]],
              "width": [header[0].format("drift per doubling"), header[1]]}
    order = {f"{c}_{o}": i for i, (c, o) in enumerate(
        (c, o) for c in DEPTH_CHECKS + WIDTH_CHECKS
        for o in ("sgd_plain", "adamw"))}
    for check in sorted((m.parent for m in Path(args.root).glob("*/*/multirun.yaml")),
                        key=lambda c: (c.parent.name, order.get(c.name, 9))):
        keep = kept / check.parent.name / check.name  # the records, to redo or resume the check
        shutil.rmtree(keep, ignore_errors=True)
        for f in [check / "multirun.yaml", *check.rglob("results.json")]:
            (keep / f.relative_to(check)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, keep / f.relative_to(check))
        verdict = check / "verdict" / "verdict.json"
        if not verdict.is_file():  # still running: its records are kept, no verdict yet
            print(f"{check}: no verdict yet, records kept in {keep}")
            continue
        check_main([str(check)], quiet=True)
        name = f"{check.parent.name}_{check.name}"
        for suffix in ("json", "md"):
            shutil.copy(verdict.with_suffix(f".{suffix}"), data / f"{name}.{suffix}")
        for plot in ("eta", "curves"):
            shutil.copy(verdict.parent / f"{plot}.png", img / f"{name}_{plot}.png")
        result = json.loads(verdict.read_text())
        horizon, optim = check.name.split("_", 1)
        measure = args.measure if result["axis"] == "depth" else "width"
        for g in result["groups"]:
            t = g["trends"].get(measure, {})
            lo, hi = interval(t)
            regret = "; ".join(f"{r['value']}: {fmt(r['regret'], '+.3f')} "
                               f"({fmt(r['regret_rel'], '+.0%')})" for r in g["regret"])
            acc = "; ".join(f"{fmt(r['star_val_acc'], '.3f')} / {fmt(r['val_acc'], '.3f')}"
                            for r in g["regret"])
            saved = "; ".join(f"{fmt(r['compute_saved'], '.1f')}x" for r in g["regret"])
            runs = sum(r["runs"] for r in g["rows"]) + sum(r["seeds"] for r in g["regret"])
            bad = (sum(r["diverged"] for r in g["rows"]) + sum(r["diverged"] for r in g["regret"]),
                   sum(r["failed"] for r in g["rows"]))
            etas = ", ".join(f"{r['value']}: {fmt(r['eta_star'])}{'*' if r['at_edge'] else ''}"
                             for r in g["rows"])
            tables["width" if horizon in WIDTH_CHECKS else "depth"].append(
                f"| {check.parent.name} | {horizon} | {optim} | {g['scheme']} | {etas} "
                f"| {fmt(t.get('slope'), '+.2f')} ({fmt(lo, '+.2f')}, {fmt(hi, '+.2f')}) | "
                f"{fmt(t.get('r2'), '.2f')} | {g['call'].split(':')[0]} | {regret} | {acc} | "
                f"{saved} | {runs} ({bad[0]}, {bad[1]}) |")
    print_coord_table(ROOT / "docs" / "data" / "coord")
    for axis, rows in tables.items():
        if len(rows) > 2:
            print(f"\n{axis}:\n" + "\n".join(rows))


def print_coord_table(folder: Path) -> None:
    """The slopes per doubling of sweeps/coord_checks.sh, one row per model, optimizer, scheme."""
    from amup_timm.coord import KINDS

    files = sorted(folder.glob("*.json"))
    if not files:
        return
    print("\ncoordinate checks (log2 |logit change| per doubling of width, one kind trained):")
    print("| model | optimizer | scheme | " + " | ".join(KINDS) + " |\n|" + "---|" * (3 + len(KINDS)))
    for f in files:
        for r in json.loads(f.read_text()):
            cells = [fmt(r["kinds"][k]["slope"], "+.2f") if k in r["kinds"] else "" for k in KINDS]
            print(f"| {re.sub(r'_(sgd_plain|adamw)$', '', f.stem)} | "
                  f"{r['optimizer']} | {r['scheme']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
