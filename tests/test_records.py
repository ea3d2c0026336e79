"""Run records: one shape for every status, validated on read (the path and the fix named);
packed records (docs/data): one file a check, read as the directory it packs, unpacked by tar
into a directory a check resumes from, every one loading, and the same verdict as published."""

import json
import tarfile

import pytest
from helpers import ROOT

from amup_timm.experiments.check import main as check_main
from amup_timm.experiments.records import Record, collect, pack, unpacked
from amup_timm.experiments.run_record import (RESULTS, SCHEMA_VERSION, InvalidRecord, RunRecord,
                                              read_record, write_record)

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


@pytest.mark.parametrize("model, check", [
    ("resnet18_narrow", "short_sgd_plain"), ("plain_cnn", "width_sgd_plain"),
    ("vit_narrow", "short_adamw"), ("resnet18_slim", "combined_sgd_plain")])
def test_a_packed_check_gives_its_published_verdict(tmp_path, model, check):
    """Redone from its packed records (read and validated as run records), a check's
    verdict.json is the published one, number for number (less the command line, which names
    the trainer of its day)."""
    result = check_main([str(RUNS / model / f"{check}.tar.gz"), "--out", str(tmp_path)],
                        quiet=True)
    published = json.loads((ROOT / "docs" / "data" / "evidence" /
                            f"{model}_{check}.json").read_text())
    redone = json.loads((tmp_path / "verdict.json").read_text())
    assert {k: v for k, v in redone.items() if k != "command"} == {
        k: v for k, v in published.items() if k != "command"}
    assert [r.eta_star for r in result.groups[0].rows] == [
        r["eta_star"] for r in published["groups"][0]["rows"]]


def test_every_published_record_loads_as_version_0():
    """Every results.json packed under docs/data validates and reads (schema version 0, the
    law's LR upgraded from amup.lr_law to amup.lr, the Transfer's own name)."""
    count, upgraded = 0, 0
    for packed in sorted((ROOT / "docs" / "data").rglob("*.tar.gz")):
        with tarfile.open(packed) as tar:
            for m in tar.getmembers():
                if m.name.endswith(RESULTS):
                    raw = json.loads(tar.extractfile(m).read())
                    rec = RunRecord.from_json(raw, f"{packed}:{m.name}")
                    assert "version" not in raw and rec.version == SCHEMA_VERSION
                    assert "lr_law" not in rec.amup
                    if "lr_law" in raw["amup"]:
                        assert rec.amup["lr"] == raw["amup"]["lr_law"]
                        upgraded += 1
                    Record.from_run(rec, m.name)
                    count += 1
    assert count > 5000 and upgraded > 0


def _record(**over):
    """A valid finished run record's JSON, with ``over`` on top."""
    return {"status": "finished", "overrides": ["optim.lr=0.1"], "lr": 0.1,
            "final": {"train_loss": 1.0, "mean_train_loss": 1.5, "val_loss": 1.1,
                      "val_acc": 0.5}, "config": {"amup": {"scheme": "am_mup"}}, **over}


@pytest.mark.parametrize("change, problem", [
    ({"final": {}}, "without finite final metrics"),
    ({"final": {"train_loss": 1.0, "mean_train_loss": None, "val_loss": 1.0, "val_acc": 0.5}},
     "mean_train_loss"),
    ({"lr": float("nan")}, "LR nan"),
    ({"lr": None, "status": "diverged"}, "diverged run with LR None"),
    ({"status": "done"}, "status 'done'"),
    ({"status": "failed"}, "failed run without its error"),
    ({"overrides": "optim.lr=0.1"}, "not a list of strings"),
    ({"version": 7}, "schema version 7"),
    ({"tyop": 1}, "unknown field"),
])
def test_a_record_that_does_not_validate_names_its_path_and_the_fix(change, problem):
    with pytest.raises(InvalidRecord, match=problem) as e:
        RunRecord.from_json(_record(**change), "sweep/3/results.json")
    assert "sweep/3/results.json" in str(e.value) and "rerun that job" in str(e.value)


def test_not_json_names_the_file(tmp_path):
    (tmp_path / RESULTS).write_text('{"status": "finished", "lr": 0.1')
    with pytest.raises(InvalidRecord, match="not JSON") as e:
        read_record(tmp_path)
    assert str(tmp_path / RESULTS) in str(e.value)


def test_one_shape_round_trips_for_every_status(tmp_path):
    """finished, diverged and failed runs are written in one shape (every field, the version)
    and read back equal."""
    shapes = set()
    for raw in (_record(), _record(status="diverged", final={"train_loss": None}),
                {"status": "failed", "overrides": [], "config": {}, "error": "OSError: x"}):
        rec = RunRecord.from_json(raw, "x")
        write_record(tmp_path, rec)
        back = read_record(tmp_path)
        assert back == rec and back.version == SCHEMA_VERSION
        shapes.add(tuple(json.loads((tmp_path / RESULTS).read_text())))
    assert len(shapes) == 1


def test_a_failed_jobs_unresolved_grid_lr_is_unknown_not_optim_lr():
    """A job that failed before its config resolved keeps ``log10_lr`` as an interpolation:
    its LR is unknown (it must not join the cell of optim.lr); a number or no log10_lr reads
    as before."""
    def rec(log10_lr):
        return Record.from_results({"status": "failed", "error": "E", "overrides": [],
                                    "config": {"optim": {"lr": 0.1, "log10_lr": log10_lr}}},
                                   "job")

    assert rec("${grid_point:${check.grid_center},${check.lr_offset}}").lr is None
    assert rec(-1.5).lr == pytest.approx(10 ** -1.5) and rec(None).lr == 0.1


def test_a_transfer_runs_reference_is_the_one_its_results_resolved():
    """A run whose reference came from amup.ref_run records it as resolved (model, kwargs
    without the data set's own, eta*); a failed job falls back to its config; a run without a
    reference has none."""
    cfg = {"amup": {"scheme": "am_mup", "ref_run": "multirun/grid18", "ref_lr": None}}
    resolved = {"ref_model": "resnet18", "ref_lr": 0.1, "exponent": -1.5,
                "ref_kwargs": {"num_classes": 10, "in_chans": 1, "layers": [1, 1, 1, 1]}}
    run = Record.from_results(_record(amup=resolved, config=cfg), "run")
    assert run.ref == {"model": "resnet18", "lr": 0.1, "kwargs": {"layers": [1, 1, 1, 1]}}
    assert run.transfer_exponent == -1.5
    failed = Record.from_results({"status": "failed", "error": "E", "overrides": [],
                                  "config": {"amup": {"scheme": "am_mup", "ref_model": "resnet18",
                                                      "ref_lr": 0.2, "ref_kwargs": {}}}}, "job")
    assert failed.ref == {"model": "resnet18", "lr": 0.2, "kwargs": {}}
    own = Record.from_results(_record(amup={"ref_lr": None, "ref_model": None},
                                      config={"amup": {"scheme": "am_mup"}}), "run")
    assert own.ref == {} and own.transfer_exponent is None
