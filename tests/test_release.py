"""course/ is exactly what nbgrader generates from solutions/, and leaks nothing."""
from __future__ import annotations

import filecmp
import json

import pytest

from conftest import COURSE, ROOT, SOLUTIONS, assignment_names
from dgm_course.notebooks import (find_leaks, is_solution_cell, is_test_cell, nbgrader_meta,
                                 read_notebook, secret_lines)


def test_every_source_notebook_has_a_release():
    from dgm_course.notebooks import assignments

    assert assignment_names(), "no assignment under solutions/"
    assert assignments(COURSE) == assignment_names(), "course/ and solutions/ hold different assignments"


@pytest.mark.slow
def test_regenerating_the_release_reproduces_course(tmp_path):
    from dgm_course.layout import make_scratch_course

    make_scratch_course(tmp_path, assignment_names(), ROOT)
    cmp = filecmp.dircmp(tmp_path / "course", COURSE)
    differences = []

    def walk(d, prefix=""):
        differences.extend(f"only in regenerated: {prefix}{x}" for x in d.left_only)
        differences.extend(f"only in committed course/: {prefix}{x}" for x in d.right_only)
        for name in d.common_files:
            if (tmp_path / "course" / prefix / name).read_bytes() != (COURSE / prefix / name).read_bytes():
                differences.append(f"differs: {prefix}{name}")
        for name, sub in d.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(cmp)
    assert not differences, "course/ is stale; run `make release`:\n" + "\n".join(differences)


@pytest.mark.parametrize("assignment", assignment_names())
def test_release_leaks_nothing(assignment):
    src = read_notebook(SOLUTIONS / assignment / f"{assignment}.ipynb")
    rel = read_notebook(COURSE / assignment / f"{assignment}.ipynb")
    problems = find_leaks(src, rel)
    assert not problems, f"course/{assignment} leaks:\n" + "\n".join(problems)
    # Anywhere in the file (metadata included), no line of any string is a secret line.
    raw = json.loads((COURSE / assignment / f"{assignment}.ipynb").read_text())
    secrets = secret_lines(src)
    for text in strings(raw):
        for line in text.splitlines():
            assert line.strip() not in secrets["hidden"], f"hidden test line in the release file: {line!r}"
            assert line.strip() not in secrets["solution"], f"solution line in the release file: {line!r}"


def strings(obj):
    """Every string inside a JSON value, with list-of-lines sources joined."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, list):
        if obj and all(isinstance(x, str) for x in obj):
            yield "".join(obj)
        else:
            for x in obj:
                yield from strings(x)
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from strings(x)


def test_no_release_holds_another_notebooks_solution():
    """A notebook may reuse an earlier exercise only as given code that is not its solution
    (e.g. from SciPy): no line of one notebook's solutions (20+ characters) is in another's release."""
    names = assignment_names()
    secrets = {a: {ln for ln in secret_lines(read_notebook(SOLUTIONS / a / f"{a}.ipynb"))["solution"] if len(ln) >= 20}
               for a in names}
    leaks = []
    for b in names:
        release = read_notebook(COURSE / b / f"{b}.ipynb")
        lines = {ln.strip() for cell in release.cells for ln in cell.source.splitlines()}
        leaks += [f"course/{b} holds {a}'s solution line {ln!r}" for a in names if a != b for ln in lines & secrets[a]]
    assert not leaks, "\n".join(leaks)


@pytest.mark.parametrize("assignment", assignment_names())
def test_source_notebook_is_well_formed(assignment):
    """Stored without outputs; every answer cell has solution markers and is followed by tests;
    hidden tests exist and carry points; at least one manually graded written answer."""
    nb = read_notebook(SOLUTIONS / assignment / f"{assignment}.ipynb")
    ids = [nbgrader_meta(c).get("grade_id") for c in nb.cells if nbgrader_meta(c)]
    assert len(ids) == len(set(ids)), f"duplicate grade_ids in {assignment}"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{assignment} cell {i} stores outputs"
    answers = [c for c in nb.cells if is_solution_cell(c) and c.cell_type == "code"]
    tests = [c for c in nb.cells if is_test_cell(c)]
    assert answers and tests
    for cell in answers:
        assert "### BEGIN SOLUTION" in cell.source and '"""' in cell.source, (
            f"{assignment}: answer cell {nbgrader_meta(cell)['grade_id']} needs a docstring and markers")
    hidden = [c for c in tests if "### BEGIN HIDDEN TESTS" in c.source]
    assert hidden, f"{assignment} has no hidden tests"
    assert all(nbgrader_meta(c).get("points", 0) > 0 for c in tests)
    written = [c for c in nb.cells if c.cell_type == "markdown" and is_solution_cell(c)
               and nbgrader_meta(c).get("grade")]
    assert written, f"{assignment} has no manually graded written answer"
    # each answer cell is followed (before the next answer cell) by at least one test cell
    order = [("answer" if (is_solution_cell(c) and c.cell_type == "code") else "test" if is_test_cell(c) else "")
             for c in nb.cells]
    pending = None
    for kind, cell in zip(order, nb.cells):
        if kind == "answer":
            assert pending is None, f"{assignment}: answer {pending} has no test cell after it"
            pending = nbgrader_meta(cell)["grade_id"]
        elif kind == "test":
            pending = None
    assert pending is None, f"{assignment}: answer {pending} has no test cell after it"
