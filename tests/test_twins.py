"""Text twins (dgm_course/twins.py): each solutions notebook has a jupytext percent-format twin
holding the same cells, the twin alone rebuilds every cell of the notebook, a changed cell is
reported by name, and no twin reaches the release."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from conftest import COURSE, SOLUTIONS, assignment_names
from dgm_course.twins import differences, sync, twin_path


@pytest.mark.parametrize("name", assignment_names())
def test_twin_holds_the_same_cells(name):
    notebook = SOLUTIONS / name / f"{name}.ipynb"
    assert twin_path(notebook).exists(), f"{name}: no text twin; run 'dgm-course sync {name}'"
    found = differences(notebook)
    assert not found, f"{name}: notebook and twin differ ({'; '.join(found)}); run 'dgm-course sync {name}'"
    assert not (COURSE / name / twin_path(notebook).name).exists(), f"{name}: the text twin reached the release"


@pytest.mark.parametrize("name", assignment_names())
def test_twin_alone_rebuilds_the_notebook(name, tmp_path):
    """Editing only the twin is enough: the notebook written from it equals the committed one."""
    notebook = tmp_path / f"{name}.ipynb"
    shutil.copy(SOLUTIONS / name / f"{name}.ipynb", notebook)
    shutil.copy(twin_path(SOLUTIONS / name / f"{name}.ipynb"), twin_path(notebook))
    original = notebook.read_bytes()
    nb = json.loads(original)  # the notebook stripped of its cells and older than the twin
    nb["cells"] = [{"cell_type": "markdown", "id": "stale", "metadata": {}, "source": ["stale"]}]
    notebook.write_text(json.dumps(nb))
    os.utime(notebook, (1, 1))
    assert "from" in sync(notebook)
    assert not differences(notebook)
    rebuilt = json.loads(notebook.read_text())
    expected = json.loads(original)
    assert [c["source"] for c in rebuilt["cells"]] == [c["source"] for c in expected["cells"]]
    assert [c["metadata"] for c in rebuilt["cells"]] == [c["metadata"] for c in expected["cells"]]
    assert all(c.get("outputs", []) == [] for c in rebuilt["cells"])


def test_a_changed_cell_is_named(tmp_path):
    name = "01_logistic_regression"
    notebook = tmp_path / f"{name}.ipynb"
    shutil.copy(SOLUTIONS / name / f"{name}.ipynb", notebook)
    twin = twin_path(notebook)
    text = twin_path(SOLUTIONS / name / f"{name}.ipynb").read_text()
    assert "def sigmoid(" in text
    twin.write_text(text.replace("def sigmoid(", "def sigmoid_renamed(", 1))
    found = differences(notebook)
    assert len(found) == 1 and "(sigmoid): source differs" in found[0], found
    os.utime(notebook, (1, 1))
    assert sync(notebook) == f"wrote {notebook.name} from {twin.name}"
    assert not differences(notebook)
    assert "def sigmoid_renamed(" in notebook.read_text()
