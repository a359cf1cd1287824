"""`host_tools bench` runs and prints figures (speed itself is never asserted)."""

from __future__ import annotations

import os
import re

from host_tools.modeling import bench
from host_tools.cli import main as cli

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "ceiling-fan")
ROW = re.compile(r"^\s*(\d+)\s+(.+?)\s+([\d.]+)\s+(\d+)\s+(\d+)\s*$")


def _rows(out: str) -> list[tuple[int, str]]:
    return [(int(m.group(1)), m.group(2)) for m in map(ROW.match, out.splitlines()) if m]


def test_bench_synthetic(capsys):
    assert cli.main(["bench", "--windows", "200", "256", "--count", "40", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "synthetic" in out
    rows = _rows(out)
    assert {w for w, _ in rows} == {200, 256}
    parts = {p for _, p in rows}
    assert "features" in parts and "features + mahalanobis" in parts
    assert "score mahalanobis (4 modes)" in parts


def test_bench_real_windows(capsys):
    # 256-sample windows come from files joined end to end (each file has 200 rows).
    assert cli.main(["bench", "--data", DATA, "--windows", "256", "--count", "40",
                     "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "real windows" in out
    assert len(_rows(out)) == 4


def test_bench_bad_data(tmp_path, capsys):
    assert cli.main(["bench", "--data", str(tmp_path / "missing"), "--count", "40", "--repeats", "1"]) == 2
    assert "missing" in capsys.readouterr().err


def test_run_bench_rows():
    per_mode = bench.synthetic_windows(10, 64, 2, 200.0)
    rows = bench.run_bench(64, 200.0, 8, per_mode, 1)
    assert len(rows) == 4
    assert all(r["us_per_window"] > 0 and r["windows"] == 20 for r in rows)
