"""``dgm-course demo``: the instructor's whole flow on a synthetic class, in a temporary
folder, with the embedded SQLite gradebook.

Students: ``perfect`` (the solutions), ``blank`` (the release untouched), ``partial`` (the
first two exercises solved), ``patcher`` (a wrong answer plus ``np.allclose`` and
``assert_close`` replaced from inside the function), ``killer`` (``os._exit`` when its
function is called), ``reader`` (tries to read the solutions from disk); ``mistake-*``: the
solutions with one classic mistake each (``MISTAKES``: what ``dgm-course report`` must count),
and ``copier-a`` / ``copier-b``: answers written another way, the second a copy of the first
with renamed variables and other comments (what ``dgm-course similarity`` must rank first).
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


# Every student writes each answer in one of a few styles: "S" (the instructor's solution), "B"
# or "C" (below); "copier-a" writes all five in style "A", and "copier-b" copies it with renamed
# variables and other comments. Styles are mixed so that no two other students share more than
# a few answers (in a real class, code differs), and the similarity report must find the copy.
EXERCISES = ("sigmoid", "predict_proba", "negative_log_likelihood", "nll_gradient", "fit_logistic_regression")
STYLES = {
    "A": {
        "sigmoid": '''def sigmoid(z):
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1 / (1 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])            # z < 0 here: exp(z) is small, no overflow
    out[~pos] = ez / (1 + ez)
    return out if out.ndim else out[()]
''',
        "predict_proba": '''def predict_proba(X, w, b):
    logits = np.dot(np.asarray(X), np.asarray(w)) + b
    return sigmoid(logits)
''',
        "negative_log_likelihood": '''def negative_log_likelihood(X, y, w, b):
    logits = np.dot(np.asarray(X), np.asarray(w)) + b
    labels = np.asarray(y, dtype=float)
    # log(1 + e^t) computed stably for both classes
    per_example = np.where(labels == 1, np.logaddexp(0, -logits), np.logaddexp(0, logits))
    return float(per_example.mean())
''',
        "nll_gradient": '''def nll_gradient(X, y, w, b):
    X = np.asarray(X)
    err = predict_proba(X, w, b) - np.asarray(y, dtype=float)
    n = X.shape[0]
    return np.dot(X.T, err) / n, float(err.sum() / n)
''',
        "fit_logistic_regression": '''def fit_logistic_regression(X, y, lr=1.0, n_steps=3000):
    X = np.asarray(X, dtype=float)
    weights = np.zeros(X.shape[1])
    bias = 0.0
    step = 0
    while step < n_steps:
        g_w, g_b = nll_gradient(X, y, weights, bias)
        weights -= lr * g_w
        bias -= lr * g_b
        step += 1
    return weights, bias
'''},
    "B": {
        "sigmoid": '''def sigmoid(z):
    from scipy.special import expit
    return expit(np.asarray(z, dtype=np.float64))
''',
        "predict_proba": '''def predict_proba(X, w, b):
    return sigmoid(np.matmul(X, w) + b)
''',
        "negative_log_likelihood": '''def negative_log_likelihood(X, y, w, b):
    from scipy.special import log_expit
    t = np.matmul(X, w) + b
    ll = np.asarray(y) * log_expit(t) + (1 - np.asarray(y)) * log_expit(-t)
    return -float(np.sum(ll)) / len(ll)
''',
        "nll_gradient": '''def nll_gradient(X, y, w, b):
    d = sigmoid(np.matmul(X, w) + b) - y
    return np.matmul(d, X) / len(d), d.mean()
''',
        "fit_logistic_regression": '''def fit_logistic_regression(X, y, lr=1.0, n_steps=3000):
    params = np.zeros(np.shape(X)[1] + 1)
    for i in range(n_steps):
        gw, gb = nll_gradient(X, y, params[:-1], params[-1])
        params = params - lr * np.append(gw, gb)
    return params[:-1], float(params[-1])
'''},
    "C": {
        "sigmoid": '''def sigmoid(z):
    a = np.asarray(z, dtype=np.float64)
    with np.errstate(over="ignore"):
        return np.exp(-np.logaddexp(0.0, -a))
''',
        "predict_proba": '''def predict_proba(X, w, b):
    s = np.einsum("nd,d->n", np.asarray(X, dtype=float), np.asarray(w, dtype=float))
    return sigmoid(s + b)
''',
        "negative_log_likelihood": '''def negative_log_likelihood(X, y, w, b):
    s = np.asarray(X) @ np.asarray(w) + b
    signs = 2 * np.asarray(y) - 1           # +1 for y = 1, -1 for y = 0
    return float(np.logaddexp(0, -signs * s).mean())
''',
        "nll_gradient": '''def nll_gradient(X, y, w, b):
    X = np.asarray(X, dtype=float)
    p = predict_proba(X, w, b)
    gw = np.array([np.mean((p - y) * X[:, j]) for j in range(X.shape[1])])
    return gw, float(np.mean(p - y))
''',
        "fit_logistic_regression": '''def fit_logistic_regression(X, y, lr=1.0, n_steps=3000):
    w, b = np.zeros(np.asarray(X).shape[1]), 0.0
    for _ in range(int(n_steps)):
        step_w, step_b = nll_gradient(X, y, w, b)
        w = w - lr * step_w
        b = b - lr * step_b
    return w, b
'''},
}
# student -> (a style per exercise, in EXERCISES order; "S*": the solution with the mistake
# planted: (answer cell, old text, new text)), the classic mistakes of the mutation banks.
PLANTED = {
    "mistake-sum-1": ("BCSBC", ("negative_log_likelihood", "return float(np.mean(", "return float(np.sum(")),
    "mistake-sum-2": ("CBSCB", ("negative_log_likelihood", "return float(np.mean(", "return float(np.sum(")),
    "mistake-scalar-1": ("SBCCB", ("sigmoid", "z = np.asarray(z, dtype=np.float64)", "z = z.astype(np.float64)")),
    "mistake-scalar-2": ("SCBBC", ("sigmoid", "z = np.asarray(z, dtype=np.float64)", "z = z.astype(np.float64)")),
    "mistake-steps": ("BBCCS", ("fit_logistic_regression", "n_steps=3000", "n_steps=20")),
}
# What the report must count: {(exercise, mistake key): students}, every demo student included
# (the patcher's NLL of 0 is a wrong value too; the reader's fails with an error, no mistake).
MISTAKES = {("negative_log_likelihood", "nll.sum-not-mean"): 2, ("sigmoid", "sigmoid.scalar-input"): 2,
            ("fit_logistic_regression", "fit.not-converged"): 1,
            ("negative_log_likelihood", "nll.wrong-formula"): 1}
RENAMES = {"out": "result", "pos": "nonneg", "ez": "expz", "logits": "scores", "labels": "targets",
           "per_example": "losses", "err": "residual", "weights": "coef", "bias": "intercept", "step": "it",
           "g_w": "dw", "g_b": "db", "# z < 0 here: exp(z) is small, no overflow": "# negative part",
           "# log(1 + e^t) computed stably for both classes": "# stable softplus"}


def _renamed(source: str) -> str:
    import re

    for old, new in RENAMES.items():
        source = source.replace(old, new) if old.startswith("#") else re.sub(rf"\b{re.escape(old)}\b", new, source)
    return source


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
    for student, (styles, (gid, old, new)) in PLANTED.items():
        nb = fill_answers(release, source)
        for exercise, style in zip(EXERCISES, styles):
            if style != "S":
                cell_by_id(nb, exercise).source = STYLES[style][exercise]
        cell = cell_by_id(nb, gid)
        if cell.source.count(old) != 1:
            raise ValueError(f"the demo's planted mistake for {student} no longer matches the solution of {gid}")
        cell.source = cell.source.replace(old, new)
        students[student] = nb
    copier_a, copier_b = fill_answers(release, source), fill_answers(release, source)
    for gid, code in STYLES["A"].items():
        cell_by_id(copier_a, gid).source = code
        cell_by_id(copier_b, gid).source = _renamed(code)
    students.update({"copier-a": copier_a, "copier-b": copier_b})
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
    from .similarity import similarity_report

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
    say("\n5. similarity (answer cells, identifiers normalized, the release's stubs excluded; scores unchanged)")
    pairs, html_path, csv_path = similarity_report(course, ASSIGNMENT)
    for p in pairs[:5]:
        say(f"   {p.a} and {p.b}: {100 * p.similarity:.0f}%")
    say(f"   {html_path}\n   {csv_path}")
    say(f"\nEverything is in {folder} (gradebook.db, autograded/, feedback/, grades.csv, reports/). "
        "Remove it when done.")
    return 0 if not leaks else 1
