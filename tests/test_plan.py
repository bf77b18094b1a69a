"""The grading plan (dgm_course/plan.py): what runs where, and that the student process never
receives a test cell."""
from __future__ import annotations

import nbformat
import pytest

from conftest import COURSE, SOLUTIONS, assignment_names
from dgm_course.notebooks import cell_by_id, fill_answers, read_notebook
from dgm_course.plan import StaleRelease, bound_names, build_plan, read_names


def notebooks(name):
    return (read_notebook(SOLUTIONS / name / f"{name}.ipynb"), read_notebook(COURSE / name / f"{name}.ipynb"))


def test_names_a_cell_binds_and_reads():
    src = "import numpy as np\nfrom a import b as c\nx, (y, z) = 1, (2, 3)\nfor i in range(3):\n    pass\n" \
          "def f(t):\n    return t + w\nclass K:\n    v = u\nwith open('f') as fh:\n    pass\n%matplotlib inline\n"
    assert bound_names(src) == ["np", "c", "x", "y", "z", "i", "f", "K", "fh"]
    assert read_names(src) == {"w", "u"}  # t is local, range/open builtins, the rest bound here
    assert read_names("x = (") == {"*"}


@pytest.mark.parametrize("name", assignment_names())
def test_test_cells_never_reach_the_student_process(name, tmp_path):
    source, release = notebooks(name)
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(fill_answers(release, source), str(path))
    plan = build_plan(source, release, path, name)
    tests = [c for c in plan.cells if c.kind == "test"]
    assert tests and all(c.student_source is None and not c.in_student and c.in_checker for c in tests)
    for cell in plan.cells:
        if cell.kind == "plain":
            assert cell.student_source == release.cells[cell.index].source, "plain cells come from the release"
        if cell.kind == "answer":
            assert cell.student_source == cell.source and cell.exports


def _test_only_lines(source, public_nb) -> set[str]:
    """Lines of a notebook's test cells (hidden ones included) that a student cannot know: in no
    cell of ``public_nb`` (the release with the answers filled in)."""
    test = set()
    for cell in source.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            test |= {ln.strip() for ln in cell.source.splitlines() if len(ln.strip()) > 10}
    public = {ln.strip() for cell in public_nb.cells for ln in cell.source.splitlines()}
    return test - public


def test_what_the_student_process_receives_in_a_real_run(tmp_path, monkeypatch):
    """Every byte sent to the student process while notebook 01 is graded: no test line in it."""
    from boundary import require_bwrap

    from dgm_course.checker import Conn, Runner
    from dgm_course.sandbox import SandboxConfig

    require_bwrap()
    name = "01_logistic_regression"
    source, release = notebooks(name)
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(fill_answers(release, source), str(path))
    plan = build_plan(source, release, path, name)
    sent: list[bytes] = []
    original = Conn._send

    def spy(self, msg):
        enc = original(self, msg)
        sent.append(bytes(enc.out))
        return enc

    monkeypatch.setattr(Conn, "_send", spy)
    results = {}
    runner = Runner({"cells": plan.job_cells(), "limits": {"timeout": 60}, "sandbox": {"mode": "bwrap"}},
                    lambda r: results.__setitem__(r["index"], r))
    runner.run()
    assert all(r["status"] == "ok" for r in results.values() if r["kind"] == "test"), results
    assert isinstance(runner.conn.cfg, SandboxConfig) and len(sent) > 20
    blob = b"".join(sent).decode("utf-8", "replace")
    secret = _test_only_lines(source, fill_answers(release, source))
    assert len(secret) > 20
    leaked = [line for line in secret if line in blob]
    assert not leaked, f"test lines sent to the student process: {leaked[:3]}"


@pytest.mark.parametrize("name", assignment_names())
def test_no_test_reads_a_name_only_student_code_defines(name):
    """The checker runs only the plain cells it can: a test cell must not need a name that only
    a student-side plain cell (one that calls student code) defines."""
    source, release = notebooks(name)
    plan = build_plan(source, release, None, name)
    checker_names, student_only = set(), set()
    for cell in plan.cells:
        if cell.kind == "plain" and not cell.in_checker:
            student_only |= set(bound_names(cell.source))
        elif cell.kind in ("plain", "test"):
            missing = read_names(cell.source) & (student_only - checker_names)
            assert not missing, f"{name} cell {cell.index} ({cell.kind}) reads {sorted(missing)}, which only " \
                                f"student-side plain cells define"
            checker_names |= set(bound_names(cell.source))


def test_a_submission_cannot_change_instructor_cells(tmp_path):
    name = "01_logistic_regression"
    source, release = notebooks(name)
    nb = fill_answers(release, source)
    cell_by_id(nb, "test_sigmoid").source = "pass"
    nb.cells = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                != "test_predict_proba"]
    plain = next(c for c in nb.cells if c.cell_type == "code" and not c.metadata.get("nbgrader"))
    plain.source = "import os\nos.system('cat /etc/passwd')"
    path = tmp_path / "sub.ipynb"
    nbformat.write(nb, str(path))
    plan = build_plan(source, release, path, name)
    assert [c.source for c in plan.cells if c.kind == "test"] == \
        [c.source for c in source.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade") and
         not c.metadata["nbgrader"].get("solution")]
    assert all("os.system" not in (c.student_source or "") for c in plan.cells)
    assert any("edited test cell test_sigmoid" in f for f in plan.flags)
    assert any("deleted test cell test_predict_proba" in f for f in plan.flags)
    for bad in (b"{not json", b""):
        path.write_bytes(bad)
        corrupt = build_plan(source, release, path, name)
        assert corrupt.status != "ok" and all(c.untouched for c in corrupt.cells if c.kind == "answer")
    with pytest.raises(StaleRelease):
        build_plan(source, nbformat.v4.new_notebook(cells=release.cells[:-1]), None, name)


@pytest.mark.parametrize("name", assignment_names())
def test_demonstrations_are_skipped_and_nothing_needs_them(name, tmp_path):
    """Cells tagged demo never reach the checker or the student process, and no cell that does
    reads a name only a demonstration defines (test_autograde proves the solutions still earn
    every point with them skipped)."""
    from dgm_course.notebooks import is_demo_cell
    from dgm_course.plan import demo_only_reads

    source, release = notebooks(name)
    assert demo_only_reads(source) == []
    demos = [i for i, c in enumerate(source.cells) if is_demo_cell(c)]
    assert demos == [i for i, c in enumerate(release.cells) if is_demo_cell(c)], "the release lost demo tags"
    assert demos, f"{name} has no demonstration cell: tag the cells that only train for a figure or a table"
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(fill_answers(release, source), str(path))
    plan = build_plan(source, release, path, name)
    assert [c.index for c in plan.cells if c.kind == "demo"] == demos
    assert not {c["index"] for c in plan.job_cells()} & set(demos)


def test_a_cell_that_needs_a_demonstration_is_reported():
    from dgm_course.plan import demo_only_reads

    def code(src, tags=(), **nbgrader):
        meta = {"tags": list(tags)}
        if nbgrader:
            meta["nbgrader"] = dict(nbgrader, schema_version=3)
        return nbformat.v4.new_code_cell(src, metadata=meta)

    nb = nbformat.v4.new_notebook(cells=[
        code("import numpy as np\nw = 1"),
        code("model = np.zeros(3)\nw = 2", tags=["demo"]),
        code("assert model.sum() == 0", grade=True, grade_id="t1", points=1, solution=False, locked=True),
        code("print(w)"),
        code("x = 3", tags=["demo"], grade=True, grade_id="t2", points=1, solution=False, locked=True),
        code("model = 1"),
        code("print(model)")])
    problems = demo_only_reads(nb)
    assert problems == ["cell 2 reads model (defined only by a demonstration): demonstration cells are skipped "
                        "when grading",
                        "cell 3 reads w (changed by a demonstration): demonstration cells are skipped when grading",
                        "cell 4 is an answer or test cell tagged demo (only plain cells can be)"], problems
