"""Mutation harness: each classic mistake of a notebook's bank (tests/mutations/<assignment>.py)
is swapped into the solution in turn, and the notebook's own test cells must fail.

A bank entry is a dict:
    name:   short description of the mistake (shown in the test id);
    cell:   grade_id of the solution cell to mutate;
    old:    text that occurs exactly once in that cell;
    new:    what replaces it (the mistake);
    expect: (optional) words the failing test's message must contain, proving it says why;
    mistake: (optional) the key of the named mistake the failing check must record
            (``dgm_utils.checks``; its plain words are in solutions/<assignment>/mistakes.toml).

The other way round, tests/alternatives/<assignment>.py lists correct answers written another
way (same format, ``ALTERNATIVES``, no ``expect``/``mistake``): each must pass every test cell,
which proves the tests fair to answers that differ from the solution.

A later notebook adds tests/mutations/<assignment>.py and nothing else. The mutations of a
notebook share one kernel with its solution run (tests/campaign.py), so they are grouped on
one pytest-xdist worker.
"""
from __future__ import annotations

import pytest

from campaign import BANKS, load_alternatives, load_bank, run_campaign
from conftest import assignment_names

MIN_MUTATIONS = {"06_vae_sampler": 6}  # every other notebook: at least 8
DEFAULT_MIN = 8


def all_mutations(load=load_bank):
    for assignment in assignment_names():
        for m in load(assignment):
            yield pytest.param(assignment, m, id=f"{assignment}::{m['name']}",
                               marks=pytest.mark.xdist_group(assignment))


@pytest.mark.slow
@pytest.mark.parametrize("assignment,mutation", list(all_mutations()))
def test_mutation_is_caught(assignment, mutation):
    outcome = run_campaign(assignment).outcomes[mutation["name"]]
    assert not outcome.problem, f"{assignment}: mutation {mutation['name']!r}: {outcome.problem}"
    assert outcome.caught_by, (f"{assignment}: the mistake {mutation['name']!r} passed every test cell: "
                               "add a test that catches it")
    expect = mutation.get("expect")
    if expect:
        assert expect.lower() in outcome.message.lower(), (
            f"{assignment}: {mutation['name']!r} was caught by {outcome.caught_by}, but its message "
            f"does not say why (expected the words {expect!r}):\n{outcome.message}")
    key = mutation.get("mistake")
    if key:
        assert f"(mistake: {key})" in outcome.message, (
            f"{assignment}: {mutation['name']!r} was caught by {outcome.caught_by}, but the failing check does "
            f"not name the mistake {key!r}:\n{outcome.message}")


@pytest.mark.parametrize("assignment", assignment_names())
def test_bank_is_large_enough(assignment):
    bank = load_bank(assignment)
    assert (BANKS / f"{assignment}.py").exists(), f"{assignment} has no tests/mutations/{assignment}.py"
    names = [m["name"] for m in bank]
    assert len(set(names)) == len(names), f"duplicate mutation names in {assignment}'s bank"
    need = MIN_MUTATIONS.get(assignment, DEFAULT_MIN)
    assert len(bank) >= need, f"{assignment}'s bank has {len(bank)} mutations; needs {need}"


MIN_ALTERNATIVES = 3


@pytest.mark.slow
@pytest.mark.parametrize("assignment,alternative", list(all_mutations(load_alternatives)))
def test_alternative_passes(assignment, alternative):
    """A correct answer written another way earns every point: no test cell fails on its branch."""
    outcome = run_campaign(assignment).outcomes[alternative["name"]]
    assert not outcome.problem, f"{assignment}: alternative {alternative['name']!r}: {outcome.problem}"
    assert outcome.caught_by is None, (
        f"{assignment}: the correct alternative {alternative['name']!r} failed {outcome.caught_by}: the test "
        f"rejects a correct answer and must be fixed:\n{outcome.message}")


@pytest.mark.parametrize("assignment", assignment_names())
def test_alternatives_exist(assignment):
    names = [m["name"] for m in load_alternatives(assignment)]
    assert len(names) >= MIN_ALTERNATIVES, (f"{assignment} has {len(names)} alternatives in tests/alternatives/"
                                            f"{assignment}.py; needs {MIN_ALTERNATIVES}")
