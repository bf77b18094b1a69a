"""Mutation harness across the grading boundary: the first mistakes of every notebook's bank
(tests/mutations/<notebook>.py) are submitted as a student would and graded by the real checker
and sandboxed student process; each must lose points, as it does in a Jupyter kernel
(tests/test_mutations.py runs the whole banks there). This proves the test cells keep their
strength when student code is only reachable through proxies (copies, handles, callbacks).
bench/mutations_boundary.py runs the whole banks this way."""
from __future__ import annotations

import copy

import nbformat
import pytest

from campaign import load_bank
from conftest import COURSE, SOLUTIONS, assignment_names
from dgm_course.notebooks import cell_by_id, fill_answers, read_notebook

FIRST = 3  # mistakes per notebook graded here


def grade_mutation(assignment: str, mutation: dict | None, tmp_path) -> tuple[float, float, list]:
    """(earned, autograded maximum, failed tests) of the perfect submission with ``mutation``."""
    from dgm_course.coordinator import run_checker, score_notebook
    from dgm_course.plan import build_plan
    from dgm_course.records import Limits

    source = read_notebook(SOLUTIONS / assignment / f"{assignment}.ipynb")
    release = read_notebook(COURSE / assignment / f"{assignment}.ipynb")
    nb = copy.deepcopy(fill_answers(release, source))
    if mutation is not None:
        cell = cell_by_id(nb, mutation["cell"])
        assert cell.source.count(mutation["old"]) == 1, f"{mutation['name']}: text to replace not found once"
        cell.source = cell.source.replace(mutation["old"], mutation["new"])
    path = tmp_path / f"{assignment}.ipynb"
    nbformat.write(nb, str(path))
    plan = build_plan(source, release, path, assignment)
    run = run_checker(plan, Limits(timeout=60, notebook_timeout=600), {})
    score = score_notebook(plan, run)
    failed = [(c.index, c.ename, c.evalue) for c in run.cells.values() if c.kind == "test" and c.status != "ok"]
    return score.auto, score.auto_max, failed


def cases():
    for assignment in assignment_names():
        for m in load_bank(assignment)[:FIRST]:
            yield pytest.param(assignment, m, id=f"{assignment}::{m['name']}",
                               marks=pytest.mark.xdist_group(f"boundary-{assignment}"))


@pytest.mark.slow
@pytest.mark.parametrize("assignment,mutation", list(cases()))
def test_mutation_is_caught_across_the_boundary(assignment, mutation, tmp_path):
    from boundary import require_bwrap

    require_bwrap()
    earned, maximum, failed = grade_mutation(assignment, mutation, tmp_path)
    assert earned < maximum, f"{assignment}: {mutation['name']!r} earned every point when graded by dgm-course"
    expect = mutation.get("expect")
    if expect:
        assert any(expect.lower() in str(evalue).lower() for _, _, evalue in failed), (
            f"{assignment}: {mutation['name']!r} was caught, but no failing test says why "
            f"(expected the words {expect!r}): {failed}")
