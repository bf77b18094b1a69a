"""Autograde round trip in a scratch copy of the course, with plain nbgrader: the solution
submitted as a student earns every autograded point, the untouched release earns zero."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SOLUTIONS, assignment_names
from dgm_utils.notebooks import fill_answers, read_notebook


def scratch_course(tmp_path: Path, assignment: str) -> Path:
    """A scratch course with two submissions: the solutions filled in, and the blank release."""
    from dgm_utils.course import make_scratch_course, submit

    course = make_scratch_course(tmp_path / "course-root", [assignment], ROOT)
    release = read_notebook(course / "course" / assignment / f"{assignment}.ipynb")
    source = read_notebook(SOLUTIONS / assignment / f"{assignment}.ipynb")
    submit(course, "perfect", assignment, fill_answers(release, source))
    submit(course, "blank", assignment, release)
    return course


@pytest.mark.slow
@pytest.mark.parametrize("assignment", assignment_names())
def test_autograde_round_trip(assignment, tmp_path):
    from nbgrader.api import Gradebook

    course = scratch_course(tmp_path, assignment)
    proc = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "autograde", assignment],
                          cwd=course, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"nbgrader autograde failed:\n{proc.stdout}\n{proc.stderr}"
    assert (course / "gradebook.db").exists(), "the gradebook was not created at the course root"

    graded = read_notebook(course / "autograded" / "perfect" / assignment / f"{assignment}.ipynb")
    errors = [f"cell {i}: {o.ename}: {o.evalue}" for i, c in enumerate(graded.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert not errors, "the perfect submission's autograded notebook has errors:\n" + "\n".join(errors)

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        def auto_grades(student):
            sub = gb.find_submission_notebook(assignment, assignment, student)
            return {g.name: (g.auto_score, g.max_score) for g in sub.grades if g.auto_score is not None}

        perfect, blank = auto_grades("perfect"), auto_grades("blank")
        assert perfect, "no autograded cells"
        short = {k: v for k, v in perfect.items() if v[0] != v[1]}
        assert not short, f"the solution lost points when autograded: {short}"
        earned = {k: v for k, v in blank.items() if v[0] != 0}
        assert not earned, f"the untouched release earned points: {earned}"
        manual = [g.name for g in gb.find_submission_notebook(assignment, assignment, "perfect").grades
                  if g.auto_score is None]
        assert manual, "no manually graded cell (the written answer) was found"
