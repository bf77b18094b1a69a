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
    """Points of a solutions notebook's autograded test cells, read off its nbgrader metadata; with
    ``exercise`` (the grade_id of an answer cell), only the test cells between it and the next
    answer cell (what a crash or an attack on that exercise can cost)."""
    from dgm_course.notebooks import nbgrader_meta, read_notebook

    total, current = 0.0, None
    for cell in read_notebook(SOLUTIONS / name / f"{name}.ipynb").cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution") and cell.cell_type == "code":
            current = meta.get("grade_id")
        elif meta.get("grade") and cell.cell_type == "code" and exercise in (None, current):
            total += float(meta.get("points", 0))
    return total
