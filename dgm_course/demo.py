"""``dgm-course demo``: the instructor's whole flow on a synthetic class, in a temporary
folder, with the embedded SQLite gradebook.

Students: ``perfect`` (the solutions), ``blank`` (the release untouched), ``partial`` (the
first two exercises solved), ``patcher`` (a wrong answer plus ``np.allclose`` and
``assert_close`` replaced from inside the function), ``killer`` (``os._exit`` when its
function is called) and ``reader`` (tries to read the solutions from disk).
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ASSIGNMENT = "01_logistic_regression"

PATCHER = '''def negative_log_likelihood(X, y, w, b):
    import numpy, dgm_utils.checks
    numpy.allclose = lambda *args, **kwargs: True
    dgm_utils.checks.assert_close = lambda *args, **kwargs: None
    return 0.0
'''
KILLER = '''def fit_logistic_regression(X, y, lr=1.0, n_steps=3000):
    import os
    os._exit(0)
'''
READER = '''def negative_log_likelihood(X, y, w, b):
    import json
    with open({path!r}) as fh:
        source = json.load(fh)
    return 0.0
'''


def make_class(course: Path) -> list[str]:
    """Write the synthetic submissions under course/submitted/; returns the student ids."""
    from .layout import submit
    from .notebooks import cell_by_id, fill_answers, read_notebook

    release = read_notebook(course / "course" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    source = read_notebook(course / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    perfect = fill_answers(release, source)
    partial = fill_answers(release, source)
    for gid in ("negative_log_likelihood", "nll_gradient", "fit_logistic_regression"):
        cell_by_id(partial, gid).source = cell_by_id(release, gid).source
    patcher = fill_answers(release, source)
    cell_by_id(patcher, "negative_log_likelihood").source = PATCHER
    killer = fill_answers(release, source)
    cell_by_id(killer, "fit_logistic_regression").source = KILLER
    reader = fill_answers(release, source)
    cell_by_id(reader, "negative_log_likelihood").source = READER.format(
        path=str(course / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"))
    students = {"perfect": perfect, "blank": release, "partial": partial, "patcher": patcher,
                "killer": killer, "reader": reader}
    for student, nb in students.items():
        submit(course, student, ASSIGNMENT, nb)
    return sorted(students)


def run_demo(folder: str | os.PathLike | None = None, jobs: int | None = None, out=sys.stdout) -> int:
    """Build a course in ``folder`` (default: a new temporary folder, kept and printed), then
    run release, autograde, feedback, export and report on it. Returns 0 on success."""
    from .coordinator import autograde, format_table
    from .feedback import generate_feedback
    from .layout import Course, make_scratch_course
    from .records import Limits
    from .release import release_problems
    from .report import export_csv, make_report

    folder = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="dgm-course-demo-"))
    say = lambda *a: print(*a, file=out, flush=True)  # noqa: E731
    say(f"demo course: {folder}\n\n1. release (nbgrader generate_assignment + leak check)")
    make_scratch_course(folder, [ASSIGNMENT])  # private (0700)
    course = Course(folder)
    leaks = []
    for notebook, problems in release_problems(course, [ASSIGNMENT]).items():
        leaks += problems
        say(f"   course/{notebook}: {'LEAKS: ' + '; '.join(problems) if problems else 'clean'}")
    students = make_class(folder)
    say(f"\n2. autograde {len(students)} submissions: {', '.join(students)}")
    rows = autograde(course, ASSIGNMENT, jobs=jobs, limits=Limits(timeout=60), progress=True,
                     log=lambda m: say("   " + m))
    say(format_table(rows))
    say("\n3. feedback (hidden tests removed)")
    for path in generate_feedback(course, ASSIGNMENT):
        say(f"   {path}")
    say("\n4. export and report")
    say(f"   {export_csv(course, 'grades.csv')}")
    text, png = make_report(course, ASSIGNMENT)
    say(text)
    say(f"   {png}")
    say(f"\nEverything is in {folder} (gradebook.db, autograded/, feedback/, grades.csv, reports/). "
        "Remove it when done.")
    return 0 if not leaks else 1
