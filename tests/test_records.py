"""Packed run records (docs/data): one file a check, read as the directory it packs, unpacked by
tar into a directory a check resumes from, and the same verdict as the one published."""

import json
import tarfile

import pytest
from helpers import ROOT

from amup_timm.experiments.check import main as check_main
from amup_timm.experiments.records import Record, collect, pack, unpacked

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
    """Redone from its packed records, a check's verdict.json is the published one, number
    for number (less the command line, which names the trainer of its day)."""
    result = check_main([str(PACKED), "--out", str(tmp_path)], quiet=True)
    published = json.loads((ROOT / "docs" / "data" / "evidence" /
                            "resnet18_narrow_short_sgd_plain.json").read_text())
    redone = json.loads((tmp_path / "verdict.json").read_text())
    assert {k: v for k, v in redone.items() if k != "command"} == {
        k: v for k, v in published.items() if k != "command"}
    assert [r.eta_star for r in result.groups[0].rows] == [
        r["eta_star"] for r in published["groups"][0]["rows"]]


def test_a_failed_jobs_unresolved_grid_lr_is_unknown_not_optim_lr():
    """A job that failed before its config resolved keeps ``log10_lr`` as an interpolation:
    its LR is unknown (it must not join the cell of optim.lr); a number or no log10_lr reads
    as before."""
    def rec(log10_lr):
        return Record.from_results({"status": "failed", "config": {"optim": {
            "lr": 0.1, "log10_lr": log10_lr}}}, "job")

    assert rec("${grid_point:${check.grid_center},${check.lr_offset}}").lr is None
    assert rec(-1.5).lr == pytest.approx(10 ** -1.5) and rec(None).lr == 0.1


def test_a_transfer_runs_reference_is_the_one_its_results_resolved():
    """A run whose reference came from amup.ref_run records it as resolved (model, kwargs
    without the data set's own, eta*); a failed job falls back to its config; a run without a
    reference has none."""
    cfg = {"amup": {"scheme": "am_mup", "ref_run": "multirun/grid18", "ref_lr": None}}
    resolved = {"ref_model": "resnet18", "ref_lr": 0.1, "exponent": -1.5,
                "ref_kwargs": {"num_classes": 10, "in_chans": 1, "layers": [1, 1, 1, 1]}}
    run = Record.from_results({"status": "finished", "amup": resolved, "config": cfg}, "run")
    assert run.ref == {"model": "resnet18", "lr": 0.1, "kwargs": {"layers": [1, 1, 1, 1]}}
    assert run.transfer_exponent == -1.5
    failed = Record.from_results({"status": "failed", "config": {"amup": {
        "scheme": "am_mup", "ref_model": "resnet18", "ref_lr": 0.2, "ref_kwargs": {}}}}, "job")
    assert failed.ref == {"model": "resnet18", "lr": 0.2, "kwargs": {}}
    own = Record.from_results({"status": "finished", "amup": {"ref_lr": None, "ref_model": None},
                               "config": {"amup": {"scheme": "am_mup"}}}, "run")
    assert own.ref == {} and own.transfer_exponent is None
