"""Autograde round trip in a scratch copy of the course, for every notebook, with plain nbgrader
and with dgm-course (checker + sandboxed student process): the solution submitted as a student
earns every autograded point, the untouched release earns zero, and both graders agree cell by
cell."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SOLUTIONS, assignment_names
from dgm_course.notebooks import fill_answers, read_notebook


def scratch_course(tmp_path: Path, assignment: str) -> Path:
    """A scratch course with two submissions: the solutions filled in, and the blank release."""
    from dgm_course.layout import make_scratch_course, submit

    course = make_scratch_course(tmp_path / "course-root", [assignment], ROOT)
    release = read_notebook(course / "course" / assignment / f"{assignment}.ipynb")
    source = read_notebook(SOLUTIONS / assignment / f"{assignment}.ipynb")
    submit(course, "perfect", assignment, fill_answers(release, source))
    submit(course, "blank", assignment, release)
    return course


def auto_grades(db: Path, assignment: str) -> dict[str, dict[str, tuple]]:
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{db}") as gb:
        for student in ("perfect", "blank"):
            sub = gb.find_submission_notebook(assignment, assignment, student)
            out[student] = {g.name: (g.auto_score, g.max_score) for g in sub.grades}
    return out


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [pytest.param(a, marks=pytest.mark.xdist_group(f"grade-{a}"))
                                        for a in assignment_names()])
def test_autograde_round_trip(assignment, tmp_path):
    from dgm_course.coordinator import autograde
    from dgm_course.layout import Course
    from dgm_course.records import Limits

    course = scratch_course(tmp_path, assignment)
    twin = tmp_path / "dgm-course-root"
    shutil.copytree(course, twin)

    proc = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "autograde", assignment],
                          cwd=course, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"nbgrader autograde failed:\n{proc.stdout}\n{proc.stderr}"
    assert (course / "gradebook.db").exists(), "the gradebook was not created at the course root"
    graded = read_notebook(course / "autograded" / "perfect" / assignment / f"{assignment}.ipynb")
    errors = [f"cell {i}: {o.ename}: {o.evalue}" for i, c in enumerate(graded.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert not errors, "the perfect submission's autograded notebook has errors:\n" + "\n".join(errors)

    rows = autograde(Course(twin), assignment, jobs=2, limits=Limits(timeout=90), progress=False)
    by_student = {r.student: r for r in rows}
    assert by_student["perfect"].score == by_student["perfect"].max > 0, by_student["perfect"]
    assert by_student["blank"].score == 0 and by_student["perfect"].status == "ok"

    for name, db in (("nbgrader", course / "gradebook.db"), ("dgm-course", twin / "gradebook.db")):
        grades = auto_grades(db, assignment)
        perfect = {k: v for k, v in grades["perfect"].items() if v[0] is not None}
        assert perfect, f"{name}: no autograded cells"
        short = {k: v for k, v in perfect.items() if v[0] != v[1]}
        assert not short, f"{name}: the solution lost points when autograded: {short}"
        earned = {k: v for k, v in grades["blank"].items() if v[0]}
        assert not earned, f"{name}: the untouched release earned points: {earned}"
        manual = [k for k, v in grades["perfect"].items() if v[0] is None]
        assert manual, f"{name}: no manually graded cell (the written answer) was found"
    assert auto_grades(course / "gradebook.db", assignment) == auto_grades(twin / "gradebook.db", assignment)
