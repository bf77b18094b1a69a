"""One kernel per notebook for the solution run, its whole mutation bank and its alternatives.

The solutions notebook runs top to bottom (the *main line*). Just before the main line
executes a cell that has mutations, each mutation is tried on a branch: the mutated cell runs,
then the following cells (demonstrations skipped, as when grading), until the first test cell
fails (the mistake is caught) or the notebook ends (it escaped). The main line then executes
the original cell and every later cell again, so whatever the branch defined is redefined from
the solution. A kernel that dies
on a branch counts as caught (the grader would give zero) and is replaced by a fresh kernel
that replays the main line so far.

An *alternative* (tests/alternatives/<assignment>.py) is tried the same way, but it is a
correct answer written another way (another stable formula, random numbers drawn in another
order, extra keyword arguments): no test cell may fail on its branch, which then runs to the end
of the notebook.

This costs one notebook run plus a few cells per mutation, instead of one kernel and one
partial run per mutation.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import importlib.util
import tempfile
import time
from pathlib import Path

from conftest import SOLUTIONS
from dgm_course.notebooks import CellResult, cell_by_id, is_demo_cell, read_notebook, run_cell

BANKS = Path(__file__).parent / "mutations"
ALTERNATIVES = Path(__file__).parent / "alternatives"


def _load(folder: Path, assignment: str, attribute: str) -> list[dict]:
    path = folder / f"{assignment}.py"
    if not path.exists():
        return []
    spec = importlib.util.spec_from_file_location(f"{folder.name}_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(getattr(module, attribute))


def load_bank(assignment: str) -> list[dict]:
    """The classic mistakes of ``assignment`` (each must fail a test cell)."""
    return _load(BANKS, assignment, "MUTATIONS")


def load_alternatives(assignment: str) -> list[dict]:
    """Correct answers of ``assignment`` written another way (each must pass every test cell);
    same format as a mutation, without ``expect`` and ``mistake``."""
    return [dict(m, alternative=True) for m in _load(ALTERNATIVES, assignment, "ALTERNATIVES")]


@dataclasses.dataclass
class Outcome:
    caught_by: str | None  # grade_id of the first failing test cell, or None if it escaped
    message: str  # that cell's error message
    problem: str = ""  # a bank error (text to replace not found exactly once)


@dataclasses.dataclass
class Campaign:
    main: list[CellResult]
    figures: int
    seconds: float
    outcomes: dict[str, Outcome]


class _Runner:
    def __init__(self, nb, cwd: str, timeout: int = 120):
        from nbclient import NotebookClient

        # nbclient stores every executed cell back into its notebook: give it a copy, so that
        # a branch's mutated cell never replaces the solution's cell in ours.
        self.nb = nb
        self.client = NotebookClient(copy.deepcopy(nb), timeout=timeout, kernel_name="python3", allow_errors=True,
                                     resources={"metadata": {"path": cwd}})
        self.client.km = self.client.create_kernel_manager()
        self.client.start_new_kernel()
        self.client.start_new_kernel_client()

    def close(self):
        try:
            self.client._cleanup_kernel()
        except Exception:  # noqa: BLE001 - best effort at teardown
            pass

    def run(self, cell, index) -> CellResult:
        return run_cell(self.client, cell, index)


def _figures(nb) -> int:
    return sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if "image/png" in o.get("data", {}))


@functools.cache
def run_campaign(assignment: str) -> Campaign:
    """The campaign of solutions/<assignment> with its bank and its alternatives (cached per test process)."""
    return campaign_for(read_notebook(SOLUTIONS / assignment / f"{assignment}.ipynb"),
                        load_bank(assignment) + load_alternatives(assignment))


def campaign_for(nb, bank: list[dict]) -> Campaign:
    """Run ``nb`` (modified in place: outputs) and try every mutation of ``bank`` on a branch."""
    outcomes: dict[str, Outcome] = {}
    names = [m["name"] for m in bank]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate names among the mutations and alternatives: {sorted(names)}")
    by_cell: dict[int, list[dict]] = {}
    for m in bank:
        try:
            cell = cell_by_id(nb, m["cell"])
        except KeyError:
            outcomes[m["name"]] = Outcome(None, "", f"no cell with grade_id {m['cell']!r}")
            continue
        count = cell.source.count(m["old"])
        if count != 1:
            outcomes[m["name"]] = Outcome(None, "", f"the text to replace occurs {count} times in cell "
                                                    f"{m['cell']!r} (expected once): update the bank")
            continue
        by_cell.setdefault(nb.cells.index(cell), []).append(m)

    start = time.perf_counter()
    main: list[CellResult] = []
    with tempfile.TemporaryDirectory() as cwd:
        runner = _Runner(nb, cwd)
        try:
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                for m in by_cell.get(index, []):
                    outcomes[m["name"]] = _branch(runner, nb, index, m)
                    if outcomes[m["name"]].message.startswith("Kernel died"):
                        runner.close()
                        runner = _Runner(nb, cwd)
                        for j in range(index):  # replay the main line so far
                            if nb.cells[j].cell_type == "code":
                                runner.run(copy.deepcopy(nb.cells[j]), j)
                main.append(runner.run(cell, index))
        finally:
            runner.close()
    return Campaign(main, _figures(nb), time.perf_counter() - start, outcomes)


def _branch(runner: _Runner, nb, index: int, mutation: dict) -> Outcome:
    for j in range(index, len(nb.cells)):
        cell = copy.deepcopy(nb.cells[j])
        if cell.cell_type != "code" or is_demo_cell(cell):  # grading skips demonstrations too
            continue
        if j == index:
            cell.source = cell.source.replace(mutation["old"], mutation["new"])
        res = runner.run(cell, j)
        if res.error and res.error.startswith("DeadKernelError"):
            return Outcome(res.grade_id or f"cell {j}", "Kernel died: " + res.message)
        if res.is_test and res.error:
            return Outcome(res.grade_id, res.message)
        if res.error and mutation.get("alternative"):  # a correct answer raises nowhere (and a cell that
            # raised would leave an earlier branch's definitions in place for the tests)
            return Outcome(res.grade_id or f"cell {j}", f"{res.error}\n{res.message}")
    return Outcome(None, "")
