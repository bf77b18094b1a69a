"""The grading plan of one submitted notebook: which cell runs where, with what source.

Every cell comes from the instructor's source notebook (``solutions/``, hidden tests
included) except the student's answers, matched by nbgrader ``grade_id``; a missing,
duplicated or unreadable answer becomes the release stub. So edited, deleted or added
instructor cells and corrupt files cannot change what is tested.

Where each cell runs:

- answer cells: in the student process only (the student's own code);
- plain cells: in the student process (the release's copy of the cell, as in Jupyter) and
  also in the checker when every name they read is available there, i.e. none is defined
  only by student code (an answer, or a plain cell that itself runs only on the student side);
- test cells: in the checker only; the student process never receives one;
- demonstration cells (plain cells tagged ``demo``): nowhere; grading skips them.
"""
from __future__ import annotations

import ast
import builtins
import dataclasses
import os
from pathlib import Path

import nbformat

from .notebooks import (BEGIN_HIDDEN, END_HIDDEN, is_demo_cell, is_solution_cell, is_test_cell, iter_regions,
                        nbgrader_meta)

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024


@dataclasses.dataclass
class PlanCell:
    """One cell of the plan.

    kind: "answer", "plain", "test", "demo" (a plain cell tagged ``demo``: not run), "written"
    (a manually graded Markdown answer) or "markdown"; source: what the checker runs (plain,
    test) or what the notebook shows (answer, written, markdown, demo); student_source: what
    the student process runs (answer: the student's code; plain: the release's cell), None for
    the rest; exercise: grade_id of
    the answer cell the cell belongs to (the last one above it); exports: names the
    instructor's solution of an answer cell defines (proxied in the checker); hidden_lines:
    1-based lines inside hidden-test regions; untouched: an answer left as the stub.
    """

    index: int
    kind: str
    cell_type: str
    source: str
    grade_id: str | None = None
    points: float | None = None
    student_source: str | None = None
    exercise: str | None = None
    exports: list[str] = dataclasses.field(default_factory=list)
    in_checker: bool = False
    in_student: bool = False
    hidden_lines: list[int] = dataclasses.field(default_factory=list)
    untouched: bool = False
    metadata: dict = dataclasses.field(default_factory=dict)

    @property
    def filename(self) -> str:
        """The name this cell's code has in tracebacks."""
        return f"<student-cell-{self.index}>" if self.kind == "answer" else f"<grader-cell-{self.index}>"


@dataclasses.dataclass
class Plan:
    """The plan of one submitted notebook: name, status ("ok" or why the file was unusable),
    flags for the instructor (edited or deleted instructor cells...), cells."""

    name: str
    status: str
    flags: list[str]
    cells: list[PlanCell]

    def job_cells(self) -> list[dict]:
        """The cells the checker needs (no Markdown), as plain data for its job."""
        return [dataclasses.asdict(c) for c in self.cells if c.kind in ("answer", "plain", "test")]


# ----------------------------------------------------------------------------- names

def _parse(source: str):
    from .notebooks import transform_magics

    try:
        return ast.parse(transform_magics(source))
    except SyntaxError:
        return None


def bound_names(source: str) -> list[str]:
    """Names a cell binds at module level (assignments, imports, def, class, for, with), in order."""
    tree = _parse(source)
    names: list[str] = []
    if tree is None:
        return names

    def add(name):
        if name not in names:
            names.append(name)

    def targets(node):
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                add(sub.id)

    def visit(stmts):
        for node in stmts:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    add(alias.asname or alias.name.split(".")[0])
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                    targets(t)
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                targets(node.target)
                visit(node.body + node.orelse)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        targets(item.optional_vars)
                visit(node.body)
            elif isinstance(node, (ast.If, ast.While)):
                visit(node.body + node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body])
            if isinstance(node, ast.stmt):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.NamedExpr):
                        add(sub.target.id)

    visit(tree.body)
    return names


def read_names(source: str) -> set[str]:
    """Global names a cell reads (in function and class bodies too), minus builtins and the
    names the cell binds itself; {"*"} for a cell that does not parse (it reads "everything")."""
    import symtable

    from .notebooks import transform_magics

    try:
        table = symtable.symtable(transform_magics(source), "<cell>", "exec")
    except SyntaxError:
        return {"*"}
    reads: set[str] = set()

    def visit(t, top: bool) -> None:
        for sym in t.get_symbols():
            if sym.is_referenced() and (top or sym.is_global()):
                reads.add(sym.get_name())
        for child in t.get_children():
            visit(child, False)

    visit(table, True)
    return reads - set(dir(builtins)) - {"get_ipython", "display"} - set(bound_names(source))


# ----------------------------------------------------------------------------- submissions

def read_submission(path: str | os.PathLike) -> tuple[nbformat.NotebookNode | None, str | None]:
    """(notebook, None), or (None, reason) when the file is missing, too large or not a
    readable nbformat-4 notebook."""
    path = Path(path)
    if path.is_symlink() or any(p.is_symlink() for p in list(path.parents)[:2]):
        return None, "the submitted notebook (or its folder) is a symbolic link: not graded"
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


def _student_answers(nb) -> tuple[dict, list[str]]:
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


def hidden_line_numbers(source: str) -> list[int]:
    """1-based numbers of the lines of ``source`` inside hidden-test regions, markers included."""
    return [n for n, _, kind in iter_regions(source, BEGIN_HIDDEN, END_HIDDEN) if kind != "outside"]


class StaleRelease(ValueError):
    """The release does not match the source notebook (regenerate it with dgm-course release)."""


def build_plan(source_nb, release_nb, submitted_path: str | os.PathLike | None, name: str) -> Plan:
    """The plan for one submitted notebook (``submitted_path`` None: the release untouched)."""
    if len(source_nb.cells) != len(release_nb.cells) or any(
            s.cell_type != r.cell_type for s, r in zip(source_nb.cells, release_nb.cells)):
        raise StaleRelease(f"the release of {name} does not match its source: run `dgm-course release`")
    if submitted_path is None:
        student_nb, problem = release_nb, None
    else:
        student_nb, problem = read_submission(submitted_path)
    answers, flags = _student_answers(student_nb)
    flags = ([problem] if problem else []) + flags + (edit_flags(release_nb, student_nb) if submitted_path else [])
    cells: list[PlanCell] = []
    exercise = None
    student_only: set[str] = set()
    for index, (cell, rel) in enumerate(zip(source_nb.cells, release_nb.cells)):
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id")
        points = float(meta["points"]) if meta.get("grade") and "points" in meta else None
        common = dict(index=index, cell_type=cell.cell_type, grade_id=gid, points=points,
                      metadata=dict(rel.get("metadata", {})))
        if is_solution_cell(cell):
            stub = rel.source
            mine = answers.get(gid)
            text = mine.source if mine is not None and mine.cell_type == cell.cell_type else None
            if text is None and student_nb is not None and submitted_path is not None:
                flags.append(f"answer cell {gid} is missing (graded as the unanswered stub)")
            shown = text if text is not None else stub
            untouched = text is None or text.strip() == stub.strip()
            if cell.cell_type == "code":
                exercise = gid
                exports = bound_names(cell.source)
                student_only.update(exports)
                cells.append(PlanCell(kind="answer", source=shown, student_source=shown, exercise=exercise,
                                      exports=exports, in_student=True, untouched=untouched, **common))
            else:
                cells.append(PlanCell(kind="written", source=shown, exercise=exercise, untouched=untouched, **common))
        elif cell.cell_type == "code" and is_test_cell(cell):
            cells.append(PlanCell(kind="test", source=cell.source, exercise=exercise, in_checker=True,
                                  hidden_lines=hidden_line_numbers(cell.source), **common))
        elif is_demo_cell(cell):
            cells.append(PlanCell(kind="demo", source=cell.source, exercise=exercise, **common))
        elif cell.cell_type == "code":
            in_checker = not (read_names(cell.source) & (student_only | {"*"}))
            if not in_checker:
                student_only.update(bound_names(cell.source))
            cells.append(PlanCell(kind="plain", source=cell.source, student_source=rel.source, exercise=exercise,
                                  in_checker=in_checker, in_student=True, **common))
        else:
            cells.append(PlanCell(kind="markdown", source=cell.source, exercise=exercise, **common))
    _keep_needed_in_checker(cells)
    return Plan(name=name, status=problem or "ok", flags=flags, cells=cells)


def _keep_needed_in_checker(cells: list[PlanCell]) -> None:
    """A plain cell that could run in the checker runs there only when a test cell (or a plain
    cell the checker runs) after it reads a name it binds: the checker skips demonstrations."""
    needed: set[str] = set()
    for cell in reversed(cells):
        if cell.kind == "test":
            needed |= read_names(cell.source)
        elif cell.kind == "plain" and cell.in_checker:
            if set(bound_names(cell.source)) & needed:
                needed |= read_names(cell.source)
            else:
                cell.in_checker = False


def demo_only_reads(source_nb) -> list[str]:
    """Problems of a notebook whose demonstration cells are skipped: each code cell that is not
    a demonstration but reads a name that an earlier demonstration cell defines or rebinds
    (grading would fail it with a NameError, or give it another value), and each ``demo`` tag on
    an answer or test cell (ignored)."""
    problems, defined, demo_only = [], set(), set()
    for index, cell in enumerate(source_nb.cells):
        if cell.cell_type != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", []) or []
        names = set(bound_names(cell.source))
        if is_demo_cell(cell):
            demo_only |= names
            continue
        if "demo" in tags:
            problems.append(f"cell {index} is an answer or test cell tagged demo (only plain cells can be)")
        missing = read_names(cell.source) & demo_only
        if missing:
            what = ", ".join(f"{n} (defined only by a demonstration)" if n not in defined else
                             f"{n} (changed by a demonstration)" for n in sorted(missing))
            problems.append(f"cell {index} reads {what}: demonstration cells are skipped when grading")
        defined |= names
        demo_only -= names
    return problems
