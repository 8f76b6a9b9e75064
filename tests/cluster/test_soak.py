"""The soak script (soak.py) itself, run short: a person runs it for
minutes; here it runs 20 s, so that it keeps working, and must end with
no anomaly, every recovery within its goal, and a few faults done.

It skips on the moto S3 server: a coordinator taking over replays the
unflushed WAL with one GET per segment, then frontends re-read it too, and
on moto that can outrun the soak's waits (docs/s3.md). Run it there by
hand with `--goals-advisory`."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

SOAK = pathlib.Path(__file__).resolve().parent / "soak.py"


def test_soak_runs_short_with_no_anomaly(tmp_path):
    result = tmp_path / "soak.json"
    if os.environ.get("SHOAL_TEST_STORE", "file") == "s3":
        # Known weakness, not a flake: after a coordinator kill the new
        # leader and then every frontend replay the unflushed WAL, one GET
        # per segment, and on moto a frontend may not catch up within the
        # soak's 30 s (docs/s3.md, "Failover on a slow store"). The failover
        # itself is tested on S3 by test_failures.py.
        pytest.skip("a failover on moto outruns the soak's 30 s health wait (docs/s3.md)")
    proc = subprocess.run(
        [sys.executable, str(SOAK), "--seconds", "20", "--interval", "3", "--seed", "7",
         "--dir", str(tmp_path / "cluster"), "--json", str(result)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    print(proc.stdout)
    assert proc.returncode == 0, f"soak.py exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    report = json.loads(result.read_text())
    assert report["anomalies"] == [] and report["missed"] == [], report
    assert report["faults"] >= 3, report
    for name, w in report["workloads"].items():
        assert w["acknowledged"] > 0, f"{name} acknowledged nothing: {report}"
