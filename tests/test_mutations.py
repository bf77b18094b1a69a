"""Mutation harness: each classic mistake of a notebook's bank (tests/mutations/<assignment>.py)
is swapped into the solution in turn, and the notebook's own test cells must fail.

A bank entry is a dict:
    name:   short description of the mistake (shown in the test id);
    cell:   grade_id of the solution cell to mutate;
    old:    text that occurs exactly once in that cell;
    new:    what replaces it (the mistake);
    expect: (optional) words the failing test's message must contain, proving it says why.

A later notebook adds tests/mutations/<assignment>.py and nothing else.
"""
from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest

from conftest import SOLUTIONS
from dgm_utils.notebooks import cell_by_id, execute_cells, read_notebook

BANKS = Path(__file__).parent / "mutations"
MIN_MUTATIONS = {"06_vae_sampler": 6}  # every other notebook: at least 8
DEFAULT_MIN = 8


def load_bank(path: Path) -> list[dict]:
    spec = importlib.util.spec_from_file_location(f"bank_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.MUTATIONS)


def all_mutations():
    for path in sorted(BANKS.glob("[0-9][0-9]_*.py")):
        for m in load_bank(path):
            yield pytest.param(path.stem, m, id=f"{path.stem}::{m['name']}")


def mutate(nb, mutation: dict):
    nb = copy.deepcopy(nb)
    cell = cell_by_id(nb, mutation["cell"])
    count = cell.source.count(mutation["old"])
    assert count == 1, (f"mutation {mutation['name']!r}: the text to replace occurs {count} times in cell "
                        f"{mutation['cell']!r} (expected once): update the bank after editing the solution")
    cell.source = cell.source.replace(mutation["old"], mutation["new"])
    return nb


@pytest.mark.slow
@pytest.mark.parametrize("assignment,mutation", list(all_mutations()))
def test_mutation_is_caught(assignment, mutation, tmp_path):
    nb = mutate(read_notebook(SOLUTIONS / assignment / f"{assignment}.ipynb"), mutation)
    results = execute_cells(nb, tmp_path, stop_at_first_test_failure=True)
    failed = [r for r in results if r.is_test and r.error]
    assert failed, (f"{assignment}: the mistake {mutation['name']!r} passed every test cell "
                    f"({sum(r.is_test for r in results)} ran): add a test that catches it")
    expect = mutation.get("expect")
    if expect:
        msg = failed[0].message.lower()
        assert expect.lower() in msg, (
            f"{assignment}: {mutation['name']!r} was caught by {failed[0].grade_id}, but its message "
            f"does not say why (expected the words {expect!r}):\n{failed[0].message}")


@pytest.mark.parametrize("path", sorted(BANKS.glob("[0-9][0-9]_*.py")), ids=lambda p: p.stem)
def test_bank_is_large_enough(path):
    bank = load_bank(path)
    names = [m["name"] for m in bank]
    assert len(set(names)) == len(names), f"duplicate mutation names in {path.name}"
    assert len(bank) >= MIN_MUTATIONS.get(path.stem, DEFAULT_MIN), (
        f"{path.name} has {len(bank)} mutations; needs {MIN_MUTATIONS.get(path.stem, DEFAULT_MIN)}")


def test_every_notebook_has_a_bank():
    from conftest import assignment_names

    missing = [a for a in assignment_names() if not (BANKS / f"{a}.py").exists()]
    assert not missing, f"notebooks without a mutation bank: {missing}"
