"""``dgm-course similarity ASSIGNMENT``: which submissions look alike, for the instructor to read.

Every pair of students' answer cells (all notebooks of the assignment, in order) is compared
with winnowing fingerprints (copydetect, the method of MOSS): code is tokenized with Pygments,
identifiers, strings, comments and whitespace are normalized away (renamed variables still
match), and fingerprints of the release's own stubs and docstrings are excluded as
boilerplate. The report (HTML with the matching code side by side, and CSV) lists the most
similar pairs. It never changes a score: similar code is a reason to talk, not a verdict.
"""
from __future__ import annotations

import csv
import dataclasses
import html
import io
import itertools
from pathlib import Path

K, WINDOW = 25, 1  # fingerprint length (normalized characters) and winnowing window


@dataclasses.dataclass
class Pair:
    """Two students' answers compared. shares: (share of a's fingerprinted code found in b,
    share of b's found in a); similarity: the smaller of the two (the share of the larger one
    found in the other: a short partial answer inside a long one does not rank as a copy)."""

    a: str
    b: str
    similarity: float
    shares: tuple[float, float]
    tokens: int
    html_a: str = ""
    html_b: str = ""


def answer_code(course, assignment: str, student: str, names: list[str]) -> str:
    """The student's answer cells of every notebook of the assignment, one after another
    (a missing or unreadable notebook contributes nothing)."""
    from .notebooks import is_solution_cell
    from .plan import read_submission

    parts = []
    for name in names:
        nb, _ = read_submission(course.folder("submitted", assignment, student) / f"{name}.ipynb")
        for cell in nb.cells if nb is not None else []:
            if cell.cell_type == "code" and is_solution_cell(cell):
                parts.append(cell.source)
    return "\n\n".join(parts)


def _fingerprint(code: str, boilerplate=None):
    from copydetect import CodeFingerprint

    return CodeFingerprint("answers.py", K, WINDOW, boilerplate=boilerplate, fp=io.StringIO(code))


def compare(codes: dict[str, str], stub: str) -> list[Pair]:
    """Every pair of ``codes`` ({student: code}), most similar first; ``stub``: the release's
    answer cells, excluded as boilerplate."""
    import numpy as np
    from copydetect import compare_files
    from copydetect.utils import highlight_overlap

    boilerplate = np.array(sorted(_fingerprint(stub).hashes)) if stub.strip() else None
    prints = {s: _fingerprint(c, boilerplate) for s, c in sorted(codes.items())}
    pairs = []
    for a, b in itertools.combinations(sorted(prints), 2):
        tokens, shares, slices = compare_files(prints[a], prints[b])
        pair = Pair(a, b, float(min(shares)), (float(shares[0]), float(shares[1])), int(tokens))
        if tokens:
            pair.html_a = highlight_overlap(codes[a], slices[0], "<mark>", "</mark>", escape_html=True)[0]
            pair.html_b = highlight_overlap(codes[b], slices[1], "<mark>", "</mark>", escape_html=True)[0]
        else:
            pair.html_a, pair.html_b = html.escape(codes[a]), html.escape(codes[b])
        pairs.append(pair)
    return sorted(pairs, key=lambda p: (-p.similarity, -p.tokens, p.a, p.b))


def similarity_report(course, assignment: str, top: int = 20, to: str | Path | None = None) -> tuple[list[Pair], Path,
                                                                                                       Path]:
    """Compare every pair of submissions of ``assignment``; write ``reports/<assignment>-similarity.html``
    and ``.csv`` (or under ``to``). Returns (pairs, html path, csv path)."""
    from .notebooks import is_solution_cell, read_notebook

    names = course.notebook_names(assignment)
    students = course.students(assignment)
    if len(students) < 2:
        raise FileNotFoundError(f"fewer than two submissions of {assignment}: nothing to compare")
    stub = "\n\n".join(c.source for n in names
                       for c in read_notebook(course.folder("release", assignment) / f"{n}.ipynb").cells
                       if c.cell_type == "code" and is_solution_cell(c))
    codes = {s: answer_code(course, assignment, s, names) for s in students}
    pairs = compare(codes, stub)
    folder = Path(to) if to else course.root / "reports"
    folder = folder if folder.is_absolute() else course.root / folder
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = folder / f"{assignment}-similarity.csv", folder / f"{assignment}-similarity.html"
    with open(csv_path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["rank", "student_a", "student_b", "similarity", "share_of_a_in_b", "share_of_b_in_a",
                         "matching_tokens"])
        for rank, p in enumerate(pairs, 1):
            writer.writerow([rank, p.a, p.b, f"{p.similarity:.3f}", f"{p.shares[0]:.3f}", f"{p.shares[1]:.3f}",
                             p.tokens])
    rows = []
    for rank, p in enumerate(pairs[:top], 1):
        rows.append(f"<h2>{rank}. {html.escape(p.a)} and {html.escape(p.b)}: {100 * p.similarity:.0f}% "
                    f"({p.tokens} matching normalized characters)</h2>"
                    f"<table><tr><th>{html.escape(p.a)} ({100 * p.shares[0]:.0f}% found in the other)</th>"
                    f"<th>{html.escape(p.b)} ({100 * p.shares[1]:.0f}%)</th></tr>"
                    f"<tr><td><pre>{p.html_a}</pre></td><td><pre>{p.html_b}</pre></td></tr></table>")
    html_path.write_text(
        "<!doctype html><meta charset='utf-8'><title>similarity: " + html.escape(assignment) + "</title>"
        "<style>body{font-family:sans-serif;margin:2em} table{width:100%;table-layout:fixed;border-collapse:collapse}"
        "td,th{vertical-align:top;border:1px solid #ccc;padding:.5em;text-align:left} pre{white-space:pre-wrap;"
        "font-size:12px} mark{background:#ffe08a}</style>"
        f"<h1>{html.escape(assignment)}: the {min(top, len(pairs))} most similar of {len(pairs)} pairs</h1>"
        "<p>Answer cells only; identifiers, strings, comments and whitespace normalized; the release's own "
        "stubs and docstrings excluded. Highlighted: code found in both. Similar code is a reason to talk, "
        "not a verdict; scores are not changed.</p>" + "".join(rows), encoding="utf-8")
    return pairs, html_path, csv_path
