"""The soak script (soak.py) itself, run short: a person runs it for
minutes; here it runs 20 s, so that it keeps working, and must end with
no anomaly, every recovery within its goal, and a few faults done.

On the moto S3 server the recovery goals are reported, not asserted:
moto answers a few hundred GETs a second at best on this machine, and a
coordinator taking over replays the unflushed WAL with one GET per
segment (then frontends re-read it too), so its failover time measures
moto (docs/s3.md). Anomalies fail the test on every store."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

SOAK = pathlib.Path(__file__).resolve().parent / "soak.py"


def test_soak_runs_short_with_no_anomaly(tmp_path):
    result = tmp_path / "soak.json"
    on_s3 = os.environ.get("SHOAL_TEST_STORE", "file") == "s3"
    proc = subprocess.run(
        [sys.executable, str(SOAK), "--seconds", "20", "--interval", "3", "--seed", "7",
         "--dir", str(tmp_path / "cluster"), "--json", str(result),
         *(["--goals-advisory"] if on_s3 else [])],
        capture_output=True,
        text=True,
        timeout=240,
    )
    print(proc.stdout)
    assert proc.returncode == 0, f"soak.py exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    report = json.loads(result.read_text())
    assert report["anomalies"] == [], report
    assert on_s3 or report["missed"] == [], report
    assert report["faults"] >= 2, report
    for name, w in report["workloads"].items():
        assert w["acknowledged"] > 0, f"{name} acknowledged nothing: {report}"
