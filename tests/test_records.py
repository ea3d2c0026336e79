"""Packed run records (docs/data): one file a check, read as the directory it packs, unpacked by
tar into a directory a check resumes from, and the same verdict as the one published."""

import json
import tarfile

import pytest
from helpers import ROOT

from amup_timm.experiments.check import main as check_main
from amup_timm.experiments.records import collect, pack, unpacked

RUNS = ROOT / "docs" / "data" / "evidence" / "runs"
PACKED = RUNS / "resnet18_narrow" / "short_sgd_plain.tar.gz"


def test_tar_unpacks_what_pack_packed_and_repacking_is_byte_identical(tmp_path):
    with tarfile.open(PACKED) as tar:
        tar.extractall(tmp_path, filter="data")
    sweep = tmp_path / "short_sgd_plain"
    assert (sweep / "multirun.yaml").is_file()
    assert pack(sweep, tmp_path / "again.tar.gz").read_bytes() == PACKED.read_bytes()
    by_dir, by_file = collect(sweep), collect(PACKED)
    assert len(by_dir) == len(by_file) > 100
    key = lambda r: (r.scheme, r.depth, r.lr, r.seed, r.stage)  # noqa: E731
    assert sorted(map(key, by_dir)) == sorted(map(key, by_file))
    assert unpacked(PACKED) == unpacked(PACKED)  # unpacked once, by content


def test_a_packed_check_gives_its_published_verdict(tmp_path):
    result = check_main([str(PACKED), "--out", str(tmp_path)], quiet=True)
    published = json.loads((ROOT / "docs" / "data" / "evidence" /
                            "resnet18_narrow_short_sgd_plain.json").read_text())
    for got, want in zip(result.groups, published["groups"], strict=True):
        assert [r.eta_star for r in got.rows] == [r["eta_star"] for r in want["rows"]]
        assert [t.regret for t in got.regret] == pytest.approx(
            [t["regret"] for t in want["regret"]])
        assert got.call == want["call"]
