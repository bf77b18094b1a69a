"""Notebook tools of the instructor side: reading nbgrader notebooks, executing them cell by cell
(tests, bench), and checking that a student release leaks nothing.

Vocabulary (nbgrader's): a *solution cell* holds an answer between ``### BEGIN SOLUTION`` and
``### END SOLUTION``; a *test cell* (``grade: true`` on a code cell) earns points when it
runs without error; *hidden tests* sit between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS`` and are removed from the release.

This course adds one cell tag: a plain code cell tagged ``demo`` only demonstrates (training
for a figure, a table of results, a sample grid). Students run it in Jupyter; ``dgm-course
autograde`` skips it, and no later cell may read a name only a demonstration defines
(``plan.demo_only_reads``, checked on every notebook by tests/test_plan.py).
"""
from __future__ import annotations

import dataclasses
import os
import re
import time
from pathlib import Path

import nbformat

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)


def read_notebook(path: str | os.PathLike) -> nbformat.NotebookNode:
    """Read a notebook (nbformat 4)."""
    return nbformat.read(str(path), as_version=4)


def nbgrader_meta(cell) -> dict:
    """The cell's nbgrader metadata ({} for an ordinary cell)."""
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_test_cell(cell) -> bool:
    """An autograded test cell (nbgrader's predicates: a graded code cell that is not an answer)."""
    from nbgrader.utils import is_grade, is_solution

    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


def is_solution_cell(cell) -> bool:
    """An answer cell (nbgrader's ``is_solution``)."""
    from nbgrader.utils import is_solution

    return is_solution(cell)


DEMO_TAG = "demo"


def is_demo_cell(cell) -> bool:
    """A plain code cell tagged ``demo``: a demonstration, skipped when grading."""
    tags = cell.get("metadata", {}).get("tags", []) or []
    return (cell.cell_type == "code" and isinstance(tags, list) and DEMO_TAG in tags
            and not is_solution_cell(cell) and not is_test_cell(cell))


def cell_by_id(nb, grade_id: str):
    """The cell whose nbgrader ``grade_id`` is ``grade_id`` (KeyError if none)."""
    for cell in nb.cells:
        if nbgrader_meta(cell).get("grade_id") == grade_id:
            return cell
    raise KeyError(f"no cell with grade_id {grade_id!r}")


def iter_regions(source: str, begin: str, end: str):
    """Yield (line_number, line, kind) for each line of a cell, numbered from 1; kind is
    "begin" or "end" for a marker line, "inside" or "outside" for the others."""
    inside = False
    for number, line in enumerate(source.splitlines(), 1):
        s = line.strip()
        if s.startswith(begin):
            inside = True
            yield number, line, "begin"
        elif s.startswith(end):
            inside = False
            yield number, line, "end"
        else:
            yield number, line, "inside" if inside else "outside"


def split_regions(source: str, begin: str, end: str) -> tuple[list[str], list[str]]:
    """Split a cell's lines into (inside, outside) the ``begin``/``end`` regions (markers dropped)."""
    parts: dict[str, list[str]] = {"inside": [], "outside": [], "begin": [], "end": []}
    for _, line, kind in iter_regions(source, begin, end):
        parts[kind].append(line)
    return parts["inside"], parts["outside"]


def _significant(line: str) -> bool:
    s = line.strip()
    return len(s) > 3 and not s.startswith("#")


def secret_lines(source_nb) -> dict[str, set[str]]:
    """Lines of a source notebook that exist only inside solution or hidden-test regions.

    Returns {"solution": set of stripped lines, "hidden": set of stripped lines}: lines that
    must not appear anywhere in the release (a line that also appears outside those regions,
    such as ``import numpy as np``, is public and not listed).
    """
    public: set[str] = set()
    sol: set[str] = set()
    hid: set[str] = set()
    for cell in source_nb.cells:
        solution, rest = split_regions(cell.source, BEGIN_SOLUTION, END_SOLUTION)
        hidden, public_lines = split_regions("\n".join(rest), BEGIN_HIDDEN, END_HIDDEN)
        sol.update(x.strip() for x in solution if _significant(x))
        hid.update(x.strip() for x in hidden if _significant(x))
        public.update(x.strip() for x in public_lines)
    return {"solution": sol - public, "hidden": hid - public}


def find_leaks(source_nb, release_nb) -> list[str]:
    """Every way ``release_nb`` leaks ``source_nb``'s answers or hidden tests.

    Returns a list of human-readable problems (empty when the release is clean): markers
    left in the release, secret lines found in it, outputs stored in it, and solution
    cells that are not stubs.
    """
    problems = []
    secrets = secret_lines(source_nb)
    for i, cell in enumerate(release_nb.cells):
        where = f"cell {i} ({nbgrader_meta(cell).get('grade_id', cell.cell_type)})"
        for marker in MARKERS:
            if marker in cell.source:
                problems.append(f"{where}: contains the marker {marker!r}")
        for line in cell.source.splitlines():
            s = line.strip()
            if s in secrets["solution"]:
                problems.append(f"{where}: solution line {s!r}")
            if s in secrets["hidden"]:
                problems.append(f"{where}: hidden-test line {s!r}")
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            problems.append(f"{where}: has stored outputs")
        if is_solution_cell(cell):
            stub = "NotImplementedError" if cell.cell_type == "code" else "YOUR ANSWER HERE"
            if stub not in cell.source:
                problems.append(f"{where}: answer cell without the stub {stub!r}")
    return problems


@dataclasses.dataclass
class CellResult:
    """What happened when one cell ran."""

    index: int
    grade_id: str | None
    is_test: bool
    error: str | None  # "ExceptionName: first line of message", or None
    message: str = ""  # the full error value (for hints)
    seconds: float = 0.0  # wall time of the cell


def run_cell(client, cell, index: int) -> CellResult:
    """Execute one code cell with an nbclient ``NotebookClient`` whose kernel is running;
    outputs are stored in ``cell``. A timeout or a dead kernel is reported as the error."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    start = time.perf_counter()
    error, message = None, ""
    try:
        client.execute_cell(cell, index)
        err = next((o for o in cell.outputs if o.output_type == "error"), None)
        if err is not None:
            error = f"{err.ename}: {str(err.evalue).splitlines()[0] if err.evalue else ''}"
            message = str(err.evalue)
    except CellTimeoutError as exc:
        error, message = f"Timeout: {exc}", str(exc)
    except DeadKernelError as exc:
        error, message = f"DeadKernelError: {exc}", str(exc)
    except CellExecutionError as exc:  # only when the client does not allow errors
        error, message = f"{exc.ename}: {exc.evalue}", str(exc.evalue)
    return CellResult(index, nbgrader_meta(cell).get("grade_id"), is_test_cell(cell), error, message,
                      time.perf_counter() - start)


def execute_cells(
    nb,
    cwd: str | os.PathLike,
    *,
    timeout: int = 120,
    kernel_name: str = "python3",
) -> list[CellResult]:
    """Run ``nb`` (modified in place: outputs stored) cell by cell in a fresh kernel.
    Errors do not stop execution, as in nbgrader's autograder.

    nb: notebook node; cwd: working directory of the kernel; timeout: seconds per cell.
    Returns one CellResult per executed code cell, in order.
    """
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name, allow_errors=True,
                            resources={"metadata": {"path": str(cwd)}})
    with client.setup_kernel():
        return [run_cell(client, cell, index) for index, cell in enumerate(nb.cells) if cell.cell_type == "code"]


def assignments(source_dir: str | os.PathLike) -> list[str]:
    """Assignment names under an nbgrader source (or release) folder, sorted.

    An assignment is a folder ``NN_name`` holding ``NN_name.ipynb``.
    """
    root = Path(source_dir)
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and re.match(r"^\d\d_\w+$", p.name) and (p / f"{p.name}.ipynb").exists())


def fill_answers(release_nb, source_nb):
    """A copy of the release notebook with every answer cell replaced by the source's
    (what a perfect student submits: solutions filled in, hidden tests absent)."""
    import copy

    nb = copy.deepcopy(release_nb)
    src = {nbgrader_meta(c).get("grade_id"): c for c in source_nb.cells if is_solution_cell(c)}
    for cell in nb.cells:
        if is_solution_cell(cell):
            gid = nbgrader_meta(cell)["grade_id"]
            cell.source = "\n".join(
                line for line in src[gid].source.splitlines()
                if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION))
    return nb


def transform_magics(source: str) -> str:
    """Notebook code with IPython syntax turned into plain Python calls of ``get_ipython()``
    (``%matplotlib inline`` -> ``get_ipython().run_line_magic('matplotlib', 'inline')``); line
    numbers are kept."""
    if "%" not in source and "!" not in source:
        return source
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source).rstrip("\n")
