"""Named mistakes (issue 14): every key a test cell names has plain words in its assignment's
mistakes.toml and every word there is used; mutation banks name keys that exist; the
catalog never reaches the release."""
from __future__ import annotations

import re
import tomllib

import pytest

from campaign import load_bank
from conftest import COURSE, SOLUTIONS, assignment_names
from dgm_course.notebooks import BEGIN_HIDDEN, END_HIDDEN, is_test_cell, iter_regions, read_notebook

KEY = re.compile(r"""mistake=(["'])([^"']+)\1""")
GRADIENT_SUFFIXES = ("", ".zero", ".sign-flipped", ".scaled")  # dgm_utils.checks.check_gradient


def used_keys(name: str) -> tuple[set[str], set[str]]:
    """(keys named in the notebook's test cells, hidden-test lines)."""
    nb = read_notebook(SOLUTIONS / name / f"{name}.ipynb")
    keys, hidden = set(), set()
    for cell in nb.cells:
        if is_test_cell(cell):
            keys |= {m.group(2) for m in KEY.finditer(cell.source)}
            hidden |= {line.strip() for _, line, kind in iter_regions(cell.source, BEGIN_HIDDEN, END_HIDDEN)
                       if kind == "inside" and len(line.strip()) > 15}
    return keys, hidden


@pytest.mark.parametrize("name", assignment_names())
def test_every_named_mistake_has_plain_words_and_every_word_is_used(name):
    keys, hidden = used_keys(name)
    path = SOLUTIONS / name / "mistakes.toml"
    if not keys:
        assert not path.exists(), f"{path} names mistakes but no test cell of {name} does"
        return
    catalog = tomllib.loads(path.read_text())
    missing = sorted(keys - set(catalog))
    assert not missing, f"{name}: mistakes named by test cells without words in mistakes.toml: {missing}"
    unused = sorted(k for k in catalog if not any(k == used + s for used in keys for s in GRADIENT_SUFFIXES))
    assert not unused, f"{name}: mistakes.toml has words for keys no test cell names: {unused}"
    assert all(isinstance(v, str) and v.strip() for v in catalog.values())
    leaked = [k for k, words in catalog.items() if any(line in words for line in hidden)]
    assert not leaked, f"{name}: the words of {leaked} quote a hidden test"
    for m in load_bank(name):
        if m.get("mistake"):
            assert m["mistake"] in catalog, f"{name}: mutation {m['name']!r} names {m['mistake']!r}, not in the catalog"
    assert not (COURSE / name / "mistakes.toml").exists(), "mistakes.toml reached the release"
