"""Shared fixtures. Every test runs hermetically: Jupyter, IPython and matplotlib state go to a
temporary folder, never to $HOME."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
COURSE = ROOT / "course"

_STATE = Path(tempfile.mkdtemp(prefix="dgm-test-state-"))
for var, sub in [("JUPYTER_CONFIG_DIR", "jupyter-config"), ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"),
                 ("JUPYTER_DATA_DIR", "jupyter-data"), ("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "matplotlib")]:
    os.environ.setdefault(var, str(_STATE / sub))  # `make test` already points them into .venv/state
os.environ.setdefault("npm_config_logs_max", "0")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("DGM_STATIC_FIGURES", "1")  # dgm_utils.plotting.interactive draws static figures
os.environ["PYTHONWARNINGS"] = os.environ.get("PYTHONWARNINGS", "")
# nbgrader shells out to alembic: this interpreter's bin folder first on PATH.
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")

sys.path.insert(0, str(ROOT))


def assignment_names() -> list[str]:
    from dgm_course.notebooks import assignments

    return assignments(SOLUTIONS)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def autograded_points(name: str, exercise: str | None = None) -> float:
    """Points of a notebook's autograded test cells, as the grader's plan counts them; with
    ``exercise`` (the grade_id of an answer cell), only that exercise's test cells (what a crash
    or an attack on that exercise can cost)."""
    from dgm_course.notebooks import read_notebook
    from dgm_course.plan import build_plan

    plan = build_plan(read_notebook(SOLUTIONS / name / f"{name}.ipynb"),
                      read_notebook(COURSE / name / f"{name}.ipynb"), None, name)
    return sum(c.points or 0.0 for c in plan.cells if c.kind == "test" and exercise in (None, c.exercise))
