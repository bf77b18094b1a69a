"""Each solutions notebook runs top to bottom, hidden tests included, with no error in any cell;
each course notebook fails only where a student has work to do (NotImplementedError)."""
from __future__ import annotations

import re

import pytest

from campaign import run_campaign
from conftest import COURSE, SOLUTIONS, assignment_names
from dgm_course.notebooks import execute_cells, read_notebook


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [pytest.param(a, marks=pytest.mark.xdist_group(a)) for a in assignment_names()])
def test_solution_notebook_runs_without_error(assignment):
    """The main line of the notebook's mutation campaign (tests/campaign.py) is a plain run of
    the solutions notebook, hidden tests included: every cell must succeed."""
    campaign = run_campaign(assignment)
    results = campaign.main
    errors = [f"cell {r.index} ({r.grade_id or 'plain'}): {r.error}" for r in results if r.error]
    assert not errors, f"{assignment}: cells failed:\n" + "\n".join(errors)
    n_code = sum(c.cell_type == "code" for c in read_notebook(SOLUTIONS / assignment / f"{assignment}.ipynb").cells)
    assert len(results) == n_code, f"{assignment}: only {len(results)} of {n_code} code cells ran"
    assert sum(r.is_test for r in results) >= 2, f"{assignment}: fewer than 2 test cells ran"
    assert campaign.figures >= 1, f"{assignment}: the notebook shows no figure"


def unanswered(error: str) -> bool:
    """A self-check question left at None (dgm_utils.checks.check_answer): the untouched release's
    way of saying "not implemented" for a question."""
    return error.startswith("CheckFailed") and re.search(r"question \d\d\.q\d+: no answer yet", error) is not None


@pytest.mark.slow
@pytest.mark.parametrize("assignment", assignment_names())
def test_course_notebook_fails_only_with_not_implemented(assignment, tmp_path):
    nb = read_notebook(COURSE / assignment / f"{assignment}.ipynb")
    results = execute_cells(nb, tmp_path)
    others = [f"cell {r.index} ({r.grade_id or 'plain'}): {r.error}" for r in results
              if r.error and not r.error.startswith("NotImplementedError") and not unanswered(r.error)]
    assert not others, f"{assignment}: the untouched release fails for other reasons:\n" + "\n".join(others)
    tests = [r for r in results if r.is_test]
    assert tests, f"{assignment}: no test cell in the release"
    code = {r.index: [ln for ln in nb.cells[r.index].source.splitlines()
                      if ln.strip() and not ln.strip().startswith("#")] for r in tests}
    passing = [r.grade_id for r in tests if not r.error and code[r.index]]
    assert not passing, f"{assignment}: test cells with code pass on the stubs: {passing}"
