"""The evidence pages say what their data says (sweeps/publish_evidence.py)."""

import importlib.util

import pytest

from helpers import ROOT

spec = importlib.util.spec_from_file_location("publish_evidence",
                                              ROOT / "sweeps" / "publish_evidence.py")
publish = importlib.util.module_from_spec(spec)
spec.loader.exec_module(publish)


@pytest.fixture(scope="module")
def tables():
    return publish.tables()


@pytest.mark.parametrize("name", sorted(publish.PAGES))
def test_page_tables_are_made_from_docs_data(name, tables):
    """Every row of docs/evidence.md's and docs/width.md's summary tables is the publisher's
    row for a verdict in docs/data: no number typed by hand, none left stale."""
    page = (ROOT / "docs" / publish.PAGES[name]).read_text()
    rows = tables[name]
    # every table has rows; the benchmark's once one of its checks is published
    published = name not in ("paper", "leaderboard") or any(
        c == name for _, c, _, _ in publish.published())
    assert (len(rows) > 2) == published
    assert publish.block(page, name).group(1) == "\n".join(rows) + "\n"


def test_links_say_what_is_not_published(tmp_path):
    """A family with records but no verdict is 'running', a check without records 'not
    measured'; a published one links its table and plots."""
    (tmp_path / "runs" / "vit_narrow").mkdir(parents=True)
    (tmp_path / "runs" / "vit_narrow" / "short_adamw.tar.gz").write_bytes(b"")
    done = [("vit_narrow", "short", "sgd_plain", {})]
    rows = publish.links_table(done, tmp_path / "runs")
    assert rows[2] == ("| vit_narrow | [table](data/evidence/vit_narrow_short_sgd_plain.md), "
                       "[curves](img/evidence/vit_narrow_short_sgd_plain_curves.png), "
                       "[eta*](img/evidence/vit_narrow_short_sgd_plain_eta.png) | "
                       "running (records kept) | not measured | not measured |")


def test_a_page_without_the_table_lines_names_them():
    with pytest.raises(SystemExit, match=r"no '<!-- table: depth -->'.*add them"):
        publish.block("# a page\n", "depth")


def test_a_leaderboard_block_heads_the_checks_table_with_its_recipe_and_records():
    result = {"leaderboard": "| depth | arm |\n|---|---|\n| 2 | am_mup |\n\nNamed: x."}
    block = publish.leaderboard_block("resnet18_narrow", "sgd", result)
    assert block[0].startswith("**resnet18_narrow**, SGD momentum 0.9, weight decay 5e-4 (")
    assert "docs/data/evidence/runs/resnet18_narrow/leaderboard_sgd.tar.gz" in block[0]
    assert block[2] == result["leaderboard"]
    assert publish.leaderboard_block("vit_narrow", "adamw", {})[2] == "no transferred run yet"


def test_the_cost_table_counts_every_run_of_each_depth():
    """One row per (check, depth) of the benchmark's records: every run that ended, its median
    seconds, and runs x median as core-hours."""
    import statistics

    from amup_timm.experiments.records import collect

    packed = publish.DATA / "runs" / "resnet18_narrow" / "paper_sgd_plain.tar.gz"
    rows = publish.cost_table()
    for depth in (1, 2, 4):
        walls = [r.wall_s for r in collect(packed) if r.wall_s and r.scale["depth"] == depth]
        (row,) = [r for r in rows if r.startswith(f"| resnet18_narrow | paper_sgd_plain | x{depth} |")]
        cells = [c.strip() for c in row.split("|")]
        assert cells[4].startswith(f"{len(walls)} (") and cells[6] == f"{statistics.median(walls):.0f}"
        assert cells[7] == f"{len(walls) * statistics.median(walls) / 3600:.2f}"


def test_the_best_run_is_picked_on_validation_and_judged_on_test():
    """The shallowest grid's cell with the lowest validation loss (seeds averaged) gives the
    test accuracy that the 88% bar judges, not the cell with the best test accuracy."""
    from helpers import record

    def run(scheme, lr, seed, val, acc, depth=1):
        return record(status="finished", scheme=scheme, lr=lr, seed=seed, val_loss=val,
                      test_acc=acc, scale={"depth": depth})

    recs = [run("am_mup", 0.1, 0, 0.30, 0.87), run("am_mup", 0.1, 1, 0.32, 0.875),
            run("standard", 0.1, 0, 0.35, 0.95), run("standard", 0.1, 1, 0.35, 0.95),
            run("am_mup", 0.3, 0, 0.25, 0.99, depth=2)]  # deeper: not the shallowest grid
    assert publish.best_run(recs) == ("Best cell of the x1 grid (picked on validation): am_mup "
                                      "at LR 0.1, 87.2% test accuracy over 2 seeds: misses the "
                                      "88% bar.")
    assert publish.best_run(recs, bar=0.85).endswith("clears the 85% bar.")
