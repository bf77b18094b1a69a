"""The mutation harness itself can fail: an escaping mutation, a stale bank entry and a kernel
that dies are each reported, and branches never leak into the main line."""
import nbformat
import pytest

from campaign import campaign_for


def notebook():
    nb = nbformat.v4.new_notebook()
    answer = nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION")
    answer.metadata["nbgrader"] = dict(grade_id="f", solution=True, grade=False, locked=False, schema_version=3)
    test = nbformat.v4.new_code_cell("assert f(1) == 2, f'f(1) = {f(1)}, expected 2: off by one?'")
    test.metadata["nbgrader"] = dict(grade_id="test_f", solution=False, grade=True, points=1, locked=True,
                                     schema_version=3)
    nb.cells = [nbformat.v4.new_code_cell("import os"), answer, test, nbformat.v4.new_code_cell("y = f(41)")]
    return nb


@pytest.mark.slow
def test_campaign_reports_caught_escaped_stale_and_dead():
    bank = [dict(name="off by two", cell="f", old="x + 1", new="x + 2"),
            dict(name="same value", cell="f", old="x + 1", new="1 + x"),
            dict(name="stale", cell="f", old="x - 1", new="x"),
            dict(name="kills the kernel", cell="f", old="return x + 1", new="os._exit(1)"),
            dict(name="after death", cell="f", old="x + 1", new="x * 3")]
    nb = notebook()
    c = campaign_for(nb, bank)
    assert c.outcomes["off by two"].caught_by == "test_f" and "off by one" in c.outcomes["off by two"].message
    assert c.outcomes["same value"].caught_by is None  # an equivalent rewrite escapes, as it should
    assert "occurs 0 times" in c.outcomes["stale"].problem
    assert c.outcomes["kills the kernel"].caught_by and "Kernel died" in c.outcomes["kills the kernel"].message
    assert c.outcomes["after death"].caught_by == "test_f" and "f(1) = 3" in c.outcomes["after death"].message
    assert [r.error for r in c.main] == [None, None, None, None], "the main line saw a branch's mutation"
    assert nb.cells[1].source.endswith("return x + 1\n    ### END SOLUTION")


@pytest.mark.slow
def test_an_alternative_that_raises_anywhere_fails_even_if_stale_definitions_pass():
    """An earlier branch on the same cell leaves its ``f`` behind; an alternative whose own cell
    raises must not pass on that stale definition."""
    bank = [dict(name="same value", cell="f", old="x + 1", new="1 + x", alternative=True),
            dict(name="raises at definition", cell="f", old="def f(x):", new="raise ValueError('typo')\ndef f(x):",
                 alternative=True)]
    c = campaign_for(notebook(), bank)
    assert c.outcomes["same value"].caught_by is None
    bad = c.outcomes["raises at definition"]
    assert bad.caught_by == "f" and "typo" in bad.message, bad
