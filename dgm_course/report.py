"""Grades out of the gradebook: CSV export (nbgrader's format) and the assignment report
(score histogram PNG and per-exercise pass rates: which exercises students miss; the named
mistakes the tests found, per exercise, as a table, a PNG and CSV; the exercises with the
most zero scores; crashes and timeouts)."""
from __future__ import annotations

from pathlib import Path


def export_csv(course, to: str | Path = "grades.csv") -> Path:
    """Write every grade of the course's gradebook to ``to`` (relative to the course root) with
    nbgrader's CSV exporter; returns the path."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins.export import CsvExportPlugin

    dest = Path(to) if Path(to).is_absolute() else course.root / to
    plugin = CsvExportPlugin(config=course.config)
    plugin.to = str(dest)
    with Gradebook(course.db_url, course.course_id) as gb:
        plugin.export(gb)
    return dest


def exercises(source_nb) -> list[tuple[str, list[str]]]:
    """[(exercise, [test grade_ids])] in notebook order: an exercise is an answer cell's
    grade_id and owns the test cells that follow it up to the next answer cell."""
    from .notebooks import is_solution_cell, is_test_cell, nbgrader_meta

    out: list[tuple[str, list[str]]] = []
    for cell in source_nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if is_solution_cell(cell) and cell.cell_type == "code":
            out.append((gid, []))
        elif is_test_cell(cell) and out:
            out[-1][1].append(gid)
    return [(name, tests) for name, tests in out if tests]


def pass_rates(scores: dict[str, dict[str, tuple]], groups) -> list[dict]:
    """Per exercise: {exercise, tests, points, passed (students with every test at full
    points), students, rate, mean}. scores: {student: {grade_id: (score, auto, max)}}."""
    rows = []
    students = sorted(scores)
    for name, tests in groups:
        points = sum(scores[s][t][2] for s in students[:1] for t in tests if t in scores[s]) if students else 0.0
        passed = sum(1 for s in students if all(t in scores[s] and (scores[s][t][0] or 0) >= scores[s][t][2]
                                                   for t in tests))
        mean = (sum(sum(scores[s][t][0] or 0 for t in tests if t in scores[s]) for s in students) / len(students)
                if students else 0.0)
        rows.append({"exercise": name, "tests": tests, "points": points, "passed": passed,
                     "students": len(students), "rate": passed / len(students) if students else 0.0, "mean": mean})
    return rows


def crash_table(course, assignment: str) -> list[dict]:
    """[{student, notebook, exercise, reason}] of every crash in the instructor's grading reports."""
    import json

    rows = []
    for path in sorted((course.root / "reports" / assignment / "grading").glob("*.json")):
        report = json.loads(path.read_text())
        for nb in report.get("notebooks", []):
            for crash in nb.get("crashes", []):
                rows.append({"student": path.stem, "notebook": nb["name"], "exercise": crash["exercise"],
                             "reason": crash["reason"]})
    return rows


def make_report(course, assignment: str, to: str | Path | None = None) -> tuple[str, Path]:
    """Print-ready text (per-exercise pass rates and score summary) and a PNG (histogram of
    total scores, bar chart of pass rates) for one assignment. Returns (text, png path)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import gradebook
    from .notebooks import read_notebook

    root = course.root
    scores = gradebook.read_scores(course.db_url, course.course_id, assignment)
    if not scores:
        raise FileNotFoundError(f"no graded submissions of {assignment} in the gradebook; run autograde first")
    groups = []
    for src in sorted(course.folder("source", assignment).glob("*.ipynb")):
        groups += exercises(read_notebook(src))
    rates = pass_rates(scores, groups)
    totals = {s: sum(g[0] or 0 for g in grades.values()) for s, grades in sorted(scores.items())}
    maximum = max(sum(g[2] or 0 for g in grades.values()) for grades in scores.values())
    width = max([len("exercise")] + [len(r["exercise"]) for r in rates])
    lines = [f"{assignment}: {len(totals)} student(s), mean {sum(totals.values()) / len(totals):.2f} / {maximum:g}, "
             f"median {sorted(totals.values())[len(totals) // 2]:g}", "",
             f"{'exercise'.ljust(width)}  points  passed  rate   mean"]
    for r in rates:
        lines.append(f"{r['exercise'].ljust(width)}  {r['points']:6g}  {r['passed']:3d}/{r['students']:<3d} "
                     f"{100 * r['rate']:4.0f}%  {r['mean']:5.2f}")
    zeros = zero_scores(scores, groups)
    if any(z["students"] for z in zeros):
        lines += ["", "exercises with the most zero scores:"]
        lines += [f"  {z['exercise'].ljust(width)}  {z['students']:3d} student(s) with 0 of {z['points']:g}"
                  for z in zeros[:5] if z["students"]]
    mistakes = mistake_rows(course, assignment)
    if mistakes:
        lines += ["", "named mistakes (students per mistake, from visible and hidden tests):"]
        for r in mistakes:
            lines.append(f"  {r['exercise'].ljust(width)}  {r['students']:3d}  {r['mistake']}: {r['words']}")
    crashes = crash_table(course, assignment)
    if crashes:
        lines += ["", "crashes and timeouts (each cost the rest of its exercise):"]
        lines += [f"  {c['student']}  {c['notebook']}  {c['exercise']}: {c['reason']}" for c in crashes]
    text = "\n".join(lines)
    png = Path(to) if to else root / "reports" / f"{assignment}.png"
    png = png if png.is_absolute() else root / png
    png.parent.mkdir(parents=True, exist_ok=True)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.hist(list(totals.values()), bins=min(20, max(5, int(maximum) + 1)), range=(0, maximum), color="#4c72b0")
    from matplotlib.ticker import MaxNLocator

    ax1.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax1.set(title=f"{assignment}: total scores", xlabel=f"score (of {maximum:g}, manual grades included)",
            ylabel="students")
    names = [r["exercise"] for r in rates]
    ax2.barh(names[::-1], [100 * r["rate"] for r in rates][::-1], color="#55a868")
    ax2.set(title="students passing every test of the exercise", xlabel="%", xlim=(0, 100))
    fig.tight_layout()
    fig.savefig(png, dpi=100, metadata={"Software": None})
    plt.close(fig)
    if mistakes:
        fig, ax = plt.subplots(figsize=(10, 0.45 * len(mistakes) + 1.2))
        labels = [f"{r['exercise']}: {r['mistake']}" for r in mistakes]
        ax.barh(labels[::-1], [r["students"] for r in mistakes][::-1], color="#c44e52")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(title=f"{assignment}: named mistakes", xlabel="students")
        fig.tight_layout()
        fig.savefig(png.with_name(png.stem + "-mistakes.png"), dpi=100, metadata={"Software": None})
        plt.close(fig)
    return text, png


def zero_scores(scores: dict[str, dict[str, tuple]], groups) -> list[dict]:
    """Per exercise: {exercise, points, students (with 0 points on all its tests)}, most first."""
    rows = []
    for name, tests in groups:
        points = max((sum(g[t][2] for t in tests if t in g) for g in scores.values()), default=0.0)
        zero = sum(1 for g in scores.values() if points and sum(g[t][0] or 0 for t in tests if t in g) == 0)
        rows.append({"exercise": name, "points": points, "students": zero})
    return sorted(rows, key=lambda r: -r["students"])


def mistakes_csv(course, assignment: str, to=None) -> str:
    """The named-mistake table as CSV (exercise, mistake, words, students, who): written to
    ``to`` when given; returns the text."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["exercise", "mistake", "words", "students", "who"])
    for r in mistake_rows(course, assignment):
        writer.writerow([r["exercise"], r["mistake"], r["words"], r["students"], " ".join(r["who"])])
    if to is not None:
        Path(to).write_text(buf.getvalue())
    return buf.getvalue()


# ----------------------------------------------------------------------------- named mistakes

def mistake_catalog(course, assignment: str) -> dict[str, str]:
    """{mistake key: plain words} of ``solutions/<assignment>/mistakes.toml`` ({} if absent)."""
    import tomllib

    path = course.folder("source", assignment) / "mistakes.toml"
    if not path.exists():
        return {}
    data = tomllib.loads(path.read_text())
    return {str(k): str(v) for k, v in data.items()}


def mistake_rows(course, assignment: str) -> list[dict]:
    """Per exercise and named mistake: {exercise, mistake, words, students (count), who}, from
    the grading reports (each student counted once per mistake), exercises in notebook order,
    then most frequent first."""
    import json

    from .notebooks import read_notebook

    order = []
    for src in sorted(course.folder("source", assignment).glob("*.ipynb")):
        order += [name for name, _ in exercises(read_notebook(src))]
    words = mistake_catalog(course, assignment)
    seen: dict[tuple[str, str], set[str]] = {}
    for path in sorted((course.root / "reports" / assignment / "grading").glob("*.json")):
        report = json.loads(path.read_text())
        for nb in report.get("notebooks", []):
            for cell in nb.get("cells", {}).values():
                if cell.get("mistake"):
                    seen.setdefault((cell.get("exercise") or "?", cell["mistake"]), set()).add(path.stem)
    rank = {name: i for i, name in enumerate(order)}
    rows = [{"exercise": ex, "mistake": key, "words": words.get(key, ""), "students": len(who), "who": sorted(who)}
            for (ex, key), who in seen.items()]
    return sorted(rows, key=lambda r: (rank.get(r["exercise"], len(rank)), -r["students"], r["mistake"]))
