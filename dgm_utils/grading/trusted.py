"""The *trusted notebook*: what actually runs when a submission is graded.

Every cell comes from the instructor's source notebook (``solutions/``, hidden tests
included) except the student's answers, which are matched by nbgrader ``grade_id`` and
reduced to their definitions (``scan.filter_answer``). A missing, duplicated or unreadable
answer becomes the release stub (which raises ``NotImplementedError``), so edited or deleted
test cells, rewritten instructor cells and corrupt files cannot change what is tested.
The result is plain JSON-able data, built by the coordinator and sent to a worker.
"""
from __future__ import annotations

import os
from pathlib import Path

import nbformat

from ..notebooks import BEGIN_HIDDEN, END_HIDDEN, is_solution_cell, is_test_cell, iter_regions, nbgrader_meta
from .scan import defined_names, filter_answer, scan_answer

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024


def hidden_line_numbers(source: str) -> list[int]:
    """1-based numbers of the lines of ``source`` inside hidden-test regions, markers included."""
    return [n for n, _, kind in iter_regions(source, BEGIN_HIDDEN, END_HIDDEN) if kind != "outside"]


def transform_magics(source: str) -> str:
    """Instructor code with IPython syntax turned into plain Python calls of ``get_ipython()``
    (``%matplotlib inline`` -> ``get_ipython().run_line_magic('matplotlib', 'inline')``);
    line numbers are kept."""
    if "%" not in source and "!" not in source:
        return source
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source).rstrip("\n")


def read_submission(path: str | os.PathLike) -> tuple[nbformat.NotebookNode | None, str | None]:
    """(notebook, None), or (None, reason) when the file is missing, too large or not a
    readable nbformat-4 notebook."""
    path = Path(path)
    if not path.exists():
        return None, "no submitted notebook"
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        return None, f"notebook is {size / 2**20:.0f} MB (limit {MAX_NOTEBOOK_BYTES // 2**20} MB)"
    try:
        nb = nbformat.read(str(path), as_version=4)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("no list of cells")
        for cell in nb.cells:
            if not isinstance(cell.get("source", ""), str) or "cell_type" not in cell:
                raise ValueError("malformed cell")
        return nb, None
    except Exception as err:  # any parse/validation failure: a corrupt submission
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:120]
        return None, f"notebook could not be read ({type(err).__name__}: {first})"


def _student_answers(nb) -> tuple[dict[str, object], list[str]]:
    """{grade_id: first answer cell with that id} of a submission, and flags for duplicates."""
    answers, flags = {}, []
    for cell in nb.cells if nb is not None else []:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid and is_solution_cell(cell):
            if gid in answers:
                flags.append(f"answer cell {gid} appears twice (the first one is graded)")
            else:
                answers[gid] = cell
    return answers, flags


def edit_flags(release_nb, student_nb) -> list[str]:
    """Flags for instructor cells the student edited, deleted or added (they are ignored:
    grading always uses the instructor's cells)."""
    if student_nb is None:
        return []
    flags = []
    stud_tests = {nbgrader_meta(c).get("grade_id"): c.source for c in student_nb.cells if is_test_cell(c)}
    for cell in release_nb.cells:
        if is_test_cell(cell):
            gid = nbgrader_meta(cell)["grade_id"]
            if gid not in stud_tests:
                flags.append(f"deleted test cell {gid} (the instructor's version is graded)")
            elif stud_tests[gid].strip() != cell.source.strip():
                flags.append(f"edited test cell {gid} (the instructor's version is graded)")
    plain = lambda nb: [c.source.strip() for c in nb.cells  # noqa: E731
                        if c.cell_type == "code" and not nbgrader_meta(c).get("grade_id")]
    rel, stu = plain(release_nb), plain(student_nb)
    changed = sum(1 for s in rel if s not in stu)
    added = sum(1 for s in stu if s not in rel)
    if changed:
        flags.append(f"edited or deleted {changed} instructor code cell(s) (ignored)")
    if added:
        flags.append(f"added or rewrote {added} code cell(s) (ignored)")
    return flags


def build_trusted(source_nb, release_nb, submitted_path: str | os.PathLike, name: str) -> dict:
    """The trusted notebook for one submitted notebook.

    source_nb/release_nb: the instructor's source and the student release (NotebookNodes);
    submitted_path: the student's .ipynb (may be missing or corrupt); name: notebook name.
    Returns {"name", "status" ("ok" or the reason the file was unusable), "flags",
    "cells": [{index, kind, cell_type, grade_id, points, source, exports, hidden_lines,
    filename, metadata}]} where kind is "answer" (student code, run in the student's
    namespace), "test", "plain" (instructor code), "written" or "markdown" (not run).
    """
    student_nb, problem = read_submission(submitted_path)
    answers, flags = _student_answers(student_nb)
    flags = ([problem] if problem else []) + flags + edit_flags(release_nb, student_nb)
    release_by_id = {nbgrader_meta(c).get("grade_id"): c for c in release_nb.cells
                     if nbgrader_meta(c).get("grade_id")}
    student_names: set[str] = set()
    for cell in answers.values():
        if cell.cell_type == "code":
            student_names.update(defined_names(cell.source))
    cells = []
    for index, cell in enumerate(source_nb.cells):
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id")
        shown_meta = dict((release_by_id.get(gid) or cell).get("metadata", {}))
        entry = {"index": index, "cell_type": cell.cell_type, "grade_id": gid,
                 "points": float(meta["points"]) if meta.get("grade") and "points" in meta else None,
                 "exports": [], "hidden_lines": [], "metadata": shown_meta,
                 "filename": f"<grader-cell-{index}>"}
        if is_solution_cell(cell):
            stub = release_by_id[gid].source if gid in release_by_id else ""
            mine = answers.get(gid)
            text = mine.source if mine is not None and mine.cell_type == cell.cell_type else None
            if text is None and student_nb is not None:
                flags.append(f"answer cell {gid} is missing (graded as the unanswered stub)")
            if cell.cell_type == "code":
                code, removed = filter_answer(text if text is not None else stub, student_names)
                flags += [f"{gid}: removed {r}" for r in removed]
                if text is not None:
                    flags += [f"{gid}: {r}" for r in scan_answer(text)]
                entry.update(kind="answer", source=code, exports=defined_names(cell.source),
                             filename=f"<student-cell-{index}>")
            else:
                entry.update(kind="written", source=text if text is not None else stub)
            entry["untouched"] = text is None or text.strip() == stub.strip()
        elif cell.cell_type == "code":
            entry.update(kind="test" if is_test_cell(cell) else "plain",
                         source=transform_magics(cell.source),
                         hidden_lines=hidden_line_numbers(cell.source))
        else:
            entry.update(kind="markdown", source=cell.source)
        cells.append(entry)
    return {"name": name, "status": problem or "ok", "flags": flags, "cells": cells}
