"""dgm_course.notebooks: the leak detector finds leaks, the executor reports errors per cell."""
import nbformat
import pytest

from dgm_course import notebooks as nbt


def make_nb(cells):
    nb = nbformat.v4.new_notebook()
    for src, meta in cells:
        cell = nbformat.v4.new_code_cell(src)
        if meta:
            cell.metadata["nbgrader"] = dict(dict(schema_version=3, locked=False, task=False), **meta)
        nb.cells.append(cell)
    return nb


SOURCE = make_nb([
    ("import numpy as np", None),
    ("def f(x):\n    ### BEGIN SOLUTION\n    return np.sqrt(x) * 2\n    ### END SOLUTION",
     dict(grade_id="f", solution=True, grade=False)),
    ("assert f(4) == 4\n### BEGIN HIDDEN TESTS\nassert f(9) == 6\n### END HIDDEN TESTS",
     dict(grade_id="t", solution=False, grade=True, points=1)),
])


def test_secret_lines_exclude_public_ones():
    s = nbt.secret_lines(SOURCE)
    assert s == {"solution": {"return np.sqrt(x) * 2"}, "hidden": {"assert f(9) == 6"}}


def test_find_leaks_on_clean_and_leaky_releases():
    clean = make_nb([("import numpy as np", None),
                     ("def f(x):\n    raise NotImplementedError()", dict(grade_id="f", solution=True, grade=False)),
                     ("assert f(4) == 4", dict(grade_id="t", solution=False, grade=True, points=1))])
    assert nbt.find_leaks(SOURCE, clean) == []
    leaky = make_nb([("import numpy as np\nreturn np.sqrt(x) * 2", None),
                     ("def f(x):\n    pass", dict(grade_id="f", solution=True, grade=False)),
                     ("assert f(9) == 6\n### END HIDDEN TESTS", dict(grade_id="t", solution=False, grade=True,
                                                                     points=1))])
    problems = "\n".join(nbt.find_leaks(SOURCE, leaky))
    assert "solution line" in problems and "hidden-test line" in problems
    assert "without the stub" in problems and "marker" in problems


def test_fill_answers_strips_markers():
    release = make_nb([("import numpy as np", None),
                       ("def f(x):\n    raise NotImplementedError()", dict(grade_id="f", solution=True, grade=False))])
    filled = nbt.fill_answers(release, SOURCE)
    assert filled.cells[1].source == "def f(x):\n    return np.sqrt(x) * 2"
    assert "NotImplementedError" in release.cells[1].source  # the input is not modified


@pytest.mark.slow
def test_execute_cells_reports_errors_and_goes_on(tmp_path):
    nb = make_nb([("x = 1", None), ("raise ValueError('plain')", None),
                  ("assert x == 2, 'x is wrong'", dict(grade_id="t1", solution=False, grade=True, points=1)),
                  ("y = 3", None)])
    results = nbt.execute_cells(nb, tmp_path)
    assert [r.error for r in results] == [None, "ValueError: plain", "AssertionError: x is wrong", None]
    assert results[2].is_test and results[2].grade_id == "t1"
    assert all(r.seconds >= 0 for r in results)


def test_iter_regions_marks_every_line():
    src = "a\n### BEGIN HIDDEN TESTS\nb\n### END HIDDEN TESTS\nc"
    kinds = [(n, k) for n, _, k in nbt.iter_regions(src, nbt.BEGIN_HIDDEN, nbt.END_HIDDEN)]
    assert kinds == [(1, "outside"), (2, "begin"), (3, "inside"), (4, "end"), (5, "outside")]
