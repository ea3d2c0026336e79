"""The evidence scripts refuse a check they do not know before anything runs."""
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_benchmark_names_its_checks_when_given_an_unknown_one():
    out = run("sweeps/benchmark.sh", "vit_narrow:leaderboard", "vit_narrow:leaderbord")
    assert out.returncode == 2
    assert "unknown check 'vit_narrow:leaderbord'" in out.stderr
    assert "vit_narrow:leaderboard" in out.stderr.split("one of", 1)[1]
    assert "=== " not in out.stdout  # refused before the first check started


def test_evidence_names_its_checks_when_given_an_unknown_one():
    out = run("sweeps/evidence.sh", "vit_narrow", "leaderbord")
    assert out.returncode == 2
    assert "unknown check 'leaderbord'" in out.stderr and "leaderboard" in out.stderr
