"""The graded notebooks (instructor side) and the students' HTML feedback (without hidden tests).

``graded_notebook`` writes what happened to every cell of a submission into
``autograded/<student>/<assignment>/`` (hidden tests included, as nbgrader's own autograded
notebooks do; nbgrader's formgrader reads them). ``feedback_notebook`` derives the student's
copy from it: every hidden-test region is cut from the source; a cell with a hidden region
shows no printed output; a failure whose innermost test line is hidden reads "A hidden test
failed" (with at most the student's own line that raised); every traceback line that would
show hidden code reads "(hidden)". What the student process printed never appears: it is not
even collected per cell.
"""
from __future__ import annotations

import linecache
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from .layout import Course
from .notebooks import BEGIN_HIDDEN, END_HIDDEN, iter_regions

HIDDEN_NOTE = "# (hidden tests run here when your notebook is graded)"


def _short(filename: str) -> str:
    """A library path shortened after site-packages (or the stdlib folder)."""
    for marker in ("site-packages/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def format_traceback(info: dict, sources: dict[str, list[str]], hidden: dict[str, set[int]] | None = None) -> list[str]:
    """Traceback lines of a failed cell. sources: cell filename -> lines; hidden: cell
    filename -> hidden line numbers, shown as "(hidden)" (None: show everything)."""
    lines = ["Traceback (most recent call last):"]
    for frame in info.get("frames") or []:
        filename, lineno, name = (list(frame) + ["", 0, ""])[:3]
        lines.append(f'  File "{_short(str(filename))}", line {lineno}, in {name}')
        if hidden is not None and lineno in hidden.get(filename, set()):
            lines.append("    (hidden)")
            continue
        if filename in sources:
            text = sources[filename][lineno - 1] if isinstance(lineno, int) and 0 < lineno <= len(sources[filename]) \
                else ""
        elif str(filename).startswith("<"):
            text = ""
        else:
            text = linecache.getline(str(filename), int(lineno) if isinstance(lineno, int) else 0)
        if text.strip():
            lines.append("    " + text.strip())
    lines.append(f"{info.get('ename', '')}: {info.get('evalue', '')}")
    return lines


def _cell_sources(plan) -> dict[str, list[str]]:
    """{filename: lines} of every code cell, under the names its frames use."""
    out = {}
    for cell in plan.cells:
        if cell.kind == "answer":
            out[f"<student-cell-{cell.index}>"] = cell.source.splitlines()
        elif cell.kind == "test":
            out[f"<grader-cell-{cell.index}>"] = cell.source.splitlines()
        elif cell.kind == "plain":
            out[f"<grader-cell-{cell.index}>"] = cell.source.splitlines()
            out[f"<plain-cell-{cell.index}>"] = (cell.student_source or cell.source).splitlines()
    return out


def graded_notebook(source_nb, graded) -> nbformat.NotebookNode:
    """The autograded notebook of one submitted notebook (a ``records.GradedNotebook``): every
    cell with its outputs and, in ``metadata.dgm_course``, its kind, status, error, frames,
    hidden lines and score. A cell with hidden tests gets only the outputs a student may see
    (``nbgrader generate_feedback`` copies outputs into feedback as they are); what it printed
    and its full error stay in the instructor's report and metadata."""
    plan, run, score = graded.plan, graded.run, graded.score
    nb = new_notebook(metadata=dict(source_nb.metadata))
    sources = _cell_sources(plan)
    for cell in plan.cells:
        meta = dict(cell.metadata)
        if cell.cell_type != "code":
            nb.cells.append(new_markdown_cell(cell.source, metadata=meta))
            continue
        result = run.cells.get(cell.index)
        outputs = []
        if cell.kind == "demo":
            outputs.append(new_output("stream", name="stdout",
                                      text="[dgm-course] a demonstration: not run when grading\n"))
        elif result is None:
            outputs.append(new_output("stream", name="stderr", text=f"[dgm-course] not run: {run.status}\n"))
        elif result.status in ("crashed", "not-run"):
            what = "the student process crashed" if result.status == "crashed" else "not run"
            outputs.append(new_output("stream", name="stderr", text=f"[dgm-course] {what}: {result.reason}\n"))
        elif cell.hidden_lines:  # what a student may see: nbgrader's own feedback copies these outputs
            hidden = {cell.filename: set(cell.hidden_lines)}
            if result.status != "ok":
                outputs += _student_view(dict(vars(result), kind=cell.kind), sources, hidden)
        else:
            for name in ("stdout", "stderr"):
                if getattr(result, name):
                    outputs.append(new_output("stream", name=name, text=getattr(result, name)))
            if result.status != "ok":
                outputs.append(new_output("error", ename=result.ename, evalue=result.evalue,
                                          traceback=format_traceback(vars(result), sources)))
        gid = cell.grade_id
        meta["dgm_course"] = {
            "kind": cell.kind, "filename": cell.filename, "hidden_lines": cell.hidden_lines,
            "status": result.status if result else "skipped" if cell.kind == "demo" else "not run",
            "reason": result.reason if result else "" if cell.kind == "demo" else run.status,
            "ename": result.ename if result else "", "evalue": result.evalue if result else "",
            "frames": result.frames if result else [],
            "score": score.scores.get(gid) if gid else None, "max": score.maxima.get(gid) if gid else None}
        nb.cells.append(new_code_cell(cell.source, metadata=meta, outputs=outputs))
    return nb


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
    status = info.get("status")
    if status in ("crashed", "not-run", "not run"):
        what = "Your code crashed or ran out of time" if status == "crashed" else "Not run"
        return [new_output("stream", name="stderr", text=f"{what}: {info.get('reason', '')}\n")]
    frames = info.get("frames") or []
    grader = [f for f in frames if str(f[0]).startswith("<grader-cell-")]
    innermost = grader[-1] if grader else None
    if innermost is not None and innermost[1] in hidden.get(innermost[0], set()):
        theirs = [f for f in frames if str(f[0]).startswith("<student-cell-") and f[0] in sources]
        text = f"A hidden test failed ({info.get('ename', 'error')})."
        if theirs:
            fn, ln, name = theirs[-1]
            lines = sources.get(fn, [])
            code = lines[ln - 1].strip() if isinstance(ln, int) and 0 < ln <= len(lines) else ""
            text += f" Your code raised it in {str(name)[:80]}, at: {code}"
        return [new_output("stream", name="stderr", text=text + "\n")]
    tb = format_traceback(info, sources, hidden)
    return [new_output("error", ename=info.get("ename", ""), evalue=info.get("evalue", ""), traceback=tb)]


def _points(score: tuple) -> str:
    value, auto, _ = score
    return "pending (graded by hand)" if auto is None and not value else f"{value or 0:g}"


def feedback_notebook(graded, scores: dict[str, tuple], notes: list[str]) -> nbformat.NotebookNode:
    """The student's copy of an autograded notebook. scores: {grade_id: (score, auto_score,
    max_score)} from the gradebook (manual grades included); notes: lines for the student."""
    cells = graded.cells
    sources = {c.metadata.get("dgm_course", {}).get("filename"): c.source.splitlines()
               for c in cells if c.cell_type == "code"}
    hidden = {c.metadata["dgm_course"]["filename"]: set(c.metadata["dgm_course"].get("hidden_lines") or [])
              for c in cells if c.cell_type == "code" and c.metadata.get("dgm_course", {}).get("hidden_lines")}
    nb = new_notebook(metadata=dict(graded.metadata))
    earned = sum(s[0] or 0 for s in scores.values())
    total = sum(s[2] or 0 for s in scores.values())
    rows = "\n".join(f"| {gid} | {_points(s)} | {s[2]:g} |" for gid, s in scores.items())
    summary = f"# Feedback\n\n**Score: {earned:g} / {total:g}**\n\n| cell | points | of |\n|---|---|---|\n{rows}\n"
    if notes:
        summary += "\n**Notes from the grader**\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
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
        if info.get("kind") != "answer" and not has_hidden and info.get("status") in ("ok", "error"):
            outputs = [o for o in cell.outputs if o.output_type == "stream"]
        if info.get("status") not in ("ok", None):
            outputs += _student_view(info, sources, hidden)
        gid = meta.get("nbgrader", {}).get("grade_id")
        if info.get("kind") == "test" and gid in scores:
            s = scores[gid]
            mark = "passed" if s[0] == s[2] else "failed"
            line = f"[{gid}: {mark}, {s[0] or 0:g} / {s[2]:g} points]\n"
            outputs.insert(0, new_output("stream", name="stdout", text=line))
        nb.cells.append(new_code_cell(source, metadata=meta, outputs=outputs))
    return nb


def to_html(nb) -> str:
    """HTML of a notebook (nbconvert's classic template, no external resources needed)."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="classic").from_notebook_node(nb)
    return body


def _notes(report: dict, words: dict[str, str] | None = None) -> list[str]:
    """Lines of the instructor's report a student may read: crashes and their reasons, and the
    named mistakes the tests found, in plain words (``words``: the assignment's mistakes.toml;
    never the text of a hidden test)."""
    notes: list[str] = []
    for nb in report.get("notebooks", []):
        for cell in nb.get("cells", {}).values():
            key = cell.get("mistake")
            if key and (words or {}).get(key):
                note = f"in {cell.get('exercise') or nb['name']}, the tests found a classic mistake: {words[key]}"
                if note not in notes:
                    notes.append(note)
    for nb in report.get("notebooks", []):
        for crash in nb.get("crashes", []):
            if crash["exercise"].startswith("plain cell"):
                continue
            note = (f"your code crashed or ran out of time in {crash['exercise']} ({crash['reason']}): the rest "
                    "of that exercise was not graded; the exercises after it were")
            if note not in notes:
                notes.append(note)
    return notes


def generate_feedback(course: Course, assignment: str, students: list[str] | None = None) -> list[Path]:
    """Write feedback/<student>/<assignment>/<notebook>.html for every autograded student (or only
    ``students``); returns the paths written, sorted."""
    import json

    from . import gradebook

    from .report import mistake_catalog

    all_scores = gradebook.read_scores(course.db_url, course.course_id, assignment)
    words = mistake_catalog(course, assignment)
    written = []
    graded_root = course.folder("autograded")
    for folder in sorted(graded_root.glob(f"*/{assignment}")) if graded_root.is_dir() else []:
        student = folder.parent.name
        if students and student not in students:
            continue
        report_path = course.report_path(assignment, student)
        notes = _notes(json.loads(report_path.read_text()), words) if report_path.exists() else []
        for path in sorted(folder.glob("*.ipynb")):
            graded = nbformat.read(str(path), as_version=4)
            ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in graded.cells]
            scores = {g: s for g, s in all_scores.get(student, {}).items() if g in ids}
            out = course.folder("feedback", assignment, student) / (path.stem + ".html")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(to_html(feedback_notebook(graded, scores, notes)), encoding="utf-8")
            written.append(out)
    return written


def visible_text(html: str) -> str:
    """The text of an HTML page (tags removed, entities decoded): what a reader sees."""
    import html as html_mod
    import re

    text = re.sub(r"<script.*?</script>|<style.*?</style>", "", html, flags=re.S)
    return html_mod.unescape(re.sub(r"<[^>]+>", "", text))
