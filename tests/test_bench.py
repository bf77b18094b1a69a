"""The benchmark script runs end to end on a tiny setting (timings are not asserted)."""
import json
import subprocess
import sys

import pytest

from conftest import ROOT, autograded_points


@pytest.mark.slow
def test_bench_smoke(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--tiny", "--out", str(out)],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads(out.read_text())
    nb = res["notebooks"]["01_logistic_regression"]
    assert nb["seconds"] > 0
    gap = nb["quality"]["gd_nll"] - nb["quality"]["sklearn_nll"]
    assert abs(gap) < 1e-4, f"gradient descent is {gap:.2e} nats from scikit-learn's optimum"
    modes = res["grading"]["modes"]
    assert {"nbgrader", "dgm-course --jobs 1 (one core)", "dgm-course --jobs 2"} <= set(modes)
    assert all(m["submissions"] == 4 and m["seconds"] > 0 for m in modes.values())
    # the class: student000 honest, 001 partial, 002 blank, 003 crashing (bench.run.KINDS)
    got = modes["dgm-course --jobs 2"]["per_notebook"]["01_logistic_regression"]["scores"]
    total = autograded_points("01_logistic_regression")
    assert got["student000"] == total and got["student002"] == 0, got
    assert 0 < got["student001"] < total and 0 < got["student003"] < total, got
    assert res["class"]["submissions"] == 4 and res["class"]["wall_seconds"] > 0
    assert "| 01_logistic_regression |" in proc.stdout and "Estimate, not measured" in proc.stdout
