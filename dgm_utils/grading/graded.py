"""The autograded notebook (instructor side): the trusted notebook with each cell's outputs,
errors and score, written to ``autograded/<student>/<assignment>/`` where nbgrader's
formgrader expects it. It contains the hidden tests (as nbgrader's own autograded
notebooks do); ``feedback.py`` derives the student's copy from it without them.
"""
from __future__ import annotations

import linecache

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output


def cell_sources(trusted: dict) -> dict[str, list[str]]:
    """{cell filename: source lines} of a trusted notebook's code cells."""
    return {c["filename"]: c["source"].splitlines() for c in trusted["cells"]
            if c["kind"] in ("answer", "test", "plain")}


def _short(filename: str) -> str:
    """A library path shortened after site-packages (or the stdlib folder)."""
    for marker in ("site-packages/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def format_traceback(result: dict, sources: dict[str, list[str]],
                     hidden: dict[str, set[int]] | None = None) -> list[str]:
    """Traceback text lines of a failed cell result.

    sources: cell filename -> lines (``cell_sources``); hidden: cell filename -> hidden
    line numbers, whose text is replaced by "(hidden)" (None: show everything).
    """
    lines = ["Traceback (most recent call last):"]
    for filename, lineno, name in result.get("frames") or []:
        lines.append(f'  File "{_short(filename)}", line {lineno}, in {name}')
        if hidden is not None and lineno in hidden.get(filename, set()):
            lines.append("    (hidden)")
            continue
        if filename in sources:
            text = sources[filename][lineno - 1] if 0 < lineno <= len(sources[filename]) else ""
        elif filename.startswith("<"):
            text = ""
        else:
            text = linecache.getline(filename, lineno)
        if text.strip():
            lines.append("    " + text.strip())
    lines.append(f"{result.get('ename', '')}: {result.get('evalue', '')}")
    return lines


def graded_notebook(source_nb, trusted: dict, run: dict, score: dict) -> nbformat.NotebookNode:
    """The autograded notebook of one submission (instructor side, hidden tests included).

    Each code cell carries its outputs and, in ``metadata.dgm_course``, its kind, result
    status, error, frames, hidden line numbers and score.
    """
    nb = new_notebook(metadata=dict(source_nb.metadata))
    sources = cell_sources(trusted)
    for cell in trusted["cells"]:
        meta = dict(cell["metadata"])
        if cell["cell_type"] != "code":
            nb.cells.append(new_markdown_cell(cell["source"], metadata=meta))
            continue
        result = run["cells"].get(cell["index"]) or run["cells"].get(str(cell["index"]))
        outputs = []
        if result is None:
            outputs.append(new_output("stream", name="stderr",
                                      text=f"[dgm-course] not run: {run['status']}\n"))
        else:
            for name in ("stdout", "stderr"):
                if result.get(name):
                    outputs.append(new_output("stream", name=name, text=result[name]))
            if result.get("status") != "ok":
                outputs.append(new_output("error", ename=result.get("ename", ""),
                                          evalue=result.get("evalue", ""),
                                          traceback=format_traceback(result, sources)))
        gid = cell["grade_id"]
        meta["dgm_course"] = {
            "kind": cell["kind"], "filename": cell["filename"], "hidden_lines": cell["hidden_lines"],
            "status": result.get("status") if result else "not run",
            "ename": result.get("ename", "") if result else "", "evalue": result.get("evalue", "") if result else "",
            "frames": result.get("frames", []) if result else [],
            "score": score["scores"].get(gid) if gid else None, "max": score["max"].get(gid) if gid else None}
        nb.cells.append(new_code_cell(cell["source"], metadata=meta, outputs=outputs))
    return nb
