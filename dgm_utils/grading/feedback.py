"""Per-student HTML feedback without hidden tests.

Made from the autograded notebook and the gradebook (so manual grades appear). For every
test cell the hidden region is cut from the source; a cell with a hidden region shows no
printed output; a failure whose innermost test line is hidden is replaced by "A hidden
test failed" (with only the student's own lines of the traceback); every traceback line
that would show hidden code reads "(hidden)".
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_markdown_cell, new_output

from ..notebooks import BEGIN_HIDDEN, END_HIDDEN, iter_regions

HIDDEN_NOTE = "# (hidden tests run here when your notebook is graded)"


def strip_hidden(source: str) -> str:
    """``source`` with every hidden-test region replaced by one comment line."""
    out = []
    for _, line, kind in iter_regions(source, BEGIN_HIDDEN, END_HIDDEN):
        if kind == "begin":
            out.append(HIDDEN_NOTE)
        elif kind == "outside":
            out.append(line)
    return "\n".join(out)


def _student_view(info: dict, sources: dict, hidden: dict) -> list:
    """The outputs a student may see for one failed code cell."""
    from .graded import format_traceback

    frames = info.get("frames") or []
    grader = [f for f in frames if f[0].startswith("<grader-cell-")]
    innermost = grader[-1] if grader else None
    if innermost is not None and innermost[1] in hidden.get(innermost[0], set()):
        theirs = [f for f in frames if f[0].startswith("<student-cell-")]
        text = f"A hidden test failed ({info.get('ename', 'error')})."
        if theirs:
            fn, ln, name = theirs[-1]
            lines = sources.get(fn, [])
            code = lines[ln - 1].strip() if 0 < ln <= len(lines) else ""
            text += f" Your code raised it in {name}, at: {code}"
        return [new_output("stream", name="stderr", text=text + "\n")]
    if innermost is None and info.get("kind") != "answer":  # a limit, not an exception in the cell
        return [new_output("stream", name="stderr", text=f"{info.get('ename')}: {info.get('evalue')}\n")]
    tb = format_traceback(info, sources, hidden)
    return [new_output("error", ename=info.get("ename", ""), evalue=info.get("evalue", ""), traceback=tb)]


def _points(score: tuple) -> str:
    """Points shown for a (score, auto_score, max_score) row: "pending" for a manually graded
    cell nobody has graded yet."""
    value, auto, _ = score
    return "pending (graded by hand)" if auto is None and not value else f"{value or 0:g}"


def feedback_notebook(graded, scores: dict[str, tuple], flags: list[str]) -> nbformat.NotebookNode:
    """The student's copy of an autograded notebook.

    scores: {grade_id: (score, auto_score, max_score)} from the gradebook; flags: notes
    for the student (statements removed from their answers).
    """
    cells = graded.cells
    sources = {c.metadata.get("dgm_course", {}).get("filename"): c.source.splitlines()
               for c in cells if c.cell_type == "code"}
    hidden = {c.metadata["dgm_course"]["filename"]: set(c.metadata["dgm_course"].get("hidden_lines") or [])
              for c in cells if c.cell_type == "code" and c.metadata.get("dgm_course", {}).get("hidden_lines")}
    nb = nbformat.v4.new_notebook(metadata=dict(graded.metadata))
    earned = sum(s[0] or 0 for s in scores.values())
    total = sum(s[2] or 0 for s in scores.values())
    rows = "\n".join(f"| {gid} | {_points(s)} | {s[2]:g} |" for gid, s in scores.items())
    summary = f"# Feedback\n\n**Score: {earned:g} / {total:g}**\n\n| cell | points | of |\n|---|---|---|\n{rows}\n"
    if flags:
        summary += "\n**Notes from the grader**\n\n" + "\n".join(f"- {f}" for f in flags) + "\n"
    nb.cells.append(new_markdown_cell(summary))
    for cell in cells:
        info = dict(cell.metadata.get("dgm_course", {}))
        meta = {k: v for k, v in cell.metadata.items() if k != "dgm_course"}
        if cell.cell_type != "code":
            nb.cells.append(new_markdown_cell(cell.source, metadata=meta))
            continue
        has_hidden = bool(info.get("hidden_lines"))
        source = strip_hidden(cell.source) if has_hidden else cell.source
        outputs = []
        if info.get("status") == "not run":
            outputs = [o for o in cell.outputs if o.output_type == "stream"]
        else:
            if not has_hidden:
                outputs = [o for o in cell.outputs if o.output_type == "stream"]
            if info.get("status") not in ("ok", None):
                outputs += _student_view(info, sources, hidden)
        gid = meta.get("nbgrader", {}).get("grade_id")
        if info.get("kind") == "test" and gid in scores:
            s = scores[gid]
            mark = "passed" if s[0] == s[2] else "failed"
            outputs.insert(0, new_output("stream", name="stdout",
                                         text=f"[{gid}: {mark}, {s[0] or 0:g} / {s[2]:g} points]\n"))
        new = nbformat.v4.new_code_cell(source, metadata=meta, outputs=outputs)
        nb.cells.append(new)
    return nb


def to_html(nb) -> str:
    """HTML of a notebook (nbconvert's classic template, no external resources needed)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="classic")
    body, _ = exporter.from_notebook_node(nb)
    return body


def generate_feedback(root, assignment: str, db_url: str | None = None,
                      students: list[str] | None = None) -> list[Path]:
    """Write feedback/<student>/<assignment>/<notebook>.html for every autograded student
    (or only ``students``); returns the paths written, sorted."""
    import json

    from ..course import load_config
    from . import store

    root = Path(root).resolve()
    cfg = load_config(root)
    dirs = store.course_dirs(cfg)
    db_url = store.resolve_db_url(root, cfg, db_url)
    course_id = cfg.get("CourseDirectory", {}).get("course_id", "")
    all_scores = store.read_scores(db_url, course_id, assignment)
    written = []
    graded_root = root / dirs["autograded"]
    for folder in sorted(graded_root.glob(f"*/{assignment}")) if graded_root.is_dir() else []:
        student = folder.parent.name
        if students and student not in students:
            continue
        report = store.report_path(root, assignment, student)
        flags = json.loads(report.read_text()).get("flags", []) if report.exists() else []
        notes = [f.split(": removed ", 1)[0] + ": not run when grading: " + f.split(": removed ", 1)[1]
                 for f in flags if ": removed " in f]
        for path in sorted(folder.glob("*.ipynb")):
            graded = nbformat.read(str(path), as_version=4)
            ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in graded.cells]
            scores = {g: s for g, s in all_scores.get(student, {}).items() if g in ids}
            html = to_html(feedback_notebook(graded, scores, notes))
            out = root / dirs["feedback"] / student / assignment / (path.stem + ".html")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(html, encoding="utf-8")
            written.append(out)
    return written


def visible_text(html: str) -> str:
    """The text of an HTML page (tags removed, entities decoded): what a reader sees."""
    import html as html_mod
    import re

    text = re.sub(r"<script.*?</script>|<style.*?</style>", "", html, flags=re.S)
    return html_mod.unescape(re.sub(r"<[^>]+>", "", text))

