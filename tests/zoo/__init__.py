"""The hostile-submission zoo: each attack is the perfect submission (release + solutions,
``fill_answers``) with one exercise replaced by a *wrong* answer plus an attack that would
make it pass, or by an answer that is right but abuses the grader (kills it, hangs it,
floods it). Without the attack every submission would earn full marks, so "the attacked
exercise earns zero" is a meaningful check.

``build_zoo(course, assignment)`` writes ``submitted/<attack>/<assignment>/`` for every
attack (plus ``honest``) and returns {student: Attack}.
"""
from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path
from typing import Callable

import nbformat

from dgm_utils.notebooks import cell_by_id, fill_answers, nbgrader_meta, read_notebook

TARGET = "negative_log_likelihood"  # the exercise most attacks go after (nothing depends on it)
TARGET_TESTS = ("test_negative_log_likelihood", "test_negative_log_likelihood_hidden")
SIGNATURE = "def negative_log_likelihood(X, y, w, b):\n"
CORRECT_BODY = """\
    s = np.asarray(X) @ np.asarray(w) + b
    y = np.asarray(y, dtype=np.float64)
    return float(np.mean(y * np.logaddexp(0.0, -s) + (1.0 - y) * np.logaddexp(0.0, s)))
"""
NOOP = "lambda *args, **kwargs: None"


@dataclasses.dataclass
class Attack:
    """One hostile submission: what it tries and which exercise it goes after."""

    name: str
    description: str
    exercise: str = TARGET                     # the answer cell it attacks ("*" = all)
    tests: tuple[str, ...] = TARGET_TESTS      # test cells that must earn 0
    build: Callable | None = None              # (perfect nb, ctx) -> notebook or bytes


def _answer(body: str, before: str = "") -> str:
    return textwrap.dedent(before) + SIGNATURE + textwrap.indent(textwrap.dedent(body), "    ")


def _with_answer(code: str):
    def build(nb, ctx):
        cell_by_id(nb, TARGET).source = code
        return nb
    return build


ATTACKS: list[Attack] = [
    Attack("custom_exc", "set_custom_exc swallows every later exception (wrong answer)",
           build=_with_answer(_answer("return 0.0\n", f"""\
               get_ipython().set_custom_exc((BaseException,), {NOOP})
               """))),
    Attack("input_transformer", "an input transformer turns every later test cell into `pass`",
           build=_with_answer(_answer("return 0.0\n", """\
               get_ipython().input_transformers_post.append(
                   lambda lines: ["pass\\n"] if any("assert" in line for line in lines) else lines)
               """))),
    Attack("run_cell_event", "a pre_run_cell event callback patches assert_close before each test",
           build=_with_answer(_answer("return 0.0\n", f"""\
               import dgm_utils.checks as _chk

               def _quiet(*args, **kwargs):
                   _chk.assert_close = {NOOP}

               get_ipython().events.register("pre_run_cell", _quiet)
               """))),
    Attack("read_solutions", "reads the source notebook (hidden tests, solutions) from disk, "
           "with open() then `cat`, and runs the instructor's solution", build=None),
    Attack("write_gradebook", "writes full manual scores for itself into gradebook.db (wrong answer)",
           build=None),
    Attack("monkeypatch_top", "top level: np.allclose, math.isclose, torch.allclose, "
           "dgm_utils.checks.assert_close replaced (wrong answer)",
           build=_with_answer(_answer("return 0.0\n", f"""\
               import math
               import numpy as np
               import dgm_utils.checks
               np.allclose = {NOOP.replace('None', 'True')}
               math.isclose = {NOOP.replace('None', 'True')}
               dgm_utils.checks.assert_close = {NOOP}
               try:
                   import torch
                   torch.allclose = {NOOP.replace('None', 'True')}
                   torch.testing.assert_close = {NOOP}
               except ImportError:
                   pass
               """))),
    Attack("monkeypatch_in_function", "inside the function: numpy, math, torch and "
           "dgm_utils.checks comparisons replaced, the test's own name rebound (wrong answer)",
           build=_with_answer(_answer(f"""\
               import math, numpy, dgm_utils.checks
               numpy.allclose = {NOOP.replace('None', 'True')}
               setattr(math, "isclose", {NOOP.replace('None', 'True')})
               dgm_utils.checks.assert_close = {NOOP}
               globals()["assert_close"] = {NOOP}
               try:
                   import torch
                   torch.allclose = {NOOP.replace('None', 'True')}
               except ImportError:
                   pass
               return 0.0
               """))),
    Attack("global_rebind", "`global assert_close` rebinds the test's comparison from inside "
           "the function (wrong answer)",
           build=_with_answer(_answer(f"""\
               global assert_close
               assert_close = {NOOP}
               return 0.0
               """))),
    Attack("frame_introspection", "sys._getframe(1).f_globals: rewrites the calling test's "
           "namespace (wrong answer)",
           build=_with_answer(_answer(f"""\
               import sys
               frame = sys._getframe(1)
               frame.f_globals["assert_close"] = {NOOP}
               return 0.0
               """))),
    Attack("object_setattr", "object.__setattr__ on the (sealed) checks module: patches the "
           "helper assert_close calls (wrong answer)",
           build=_with_answer(_answer(f"""\
               import dgm_utils.checks
               object.__setattr__(dgm_utils.checks, "_fail", {NOOP})
               return 0.0
               """))),
    Attack("edit_test_cells", "test cells of the exercise rewritten to `pass` (wrong answer)",
           build=None),
    Attack("delete_test_cells", "test cells of the exercise deleted (wrong answer)", build=None),
    Attack("edit_plain_cell", "the instructor's import cell rewritten to patch assert_close "
           "(wrong answer)", build=None),
    Attack("os_exit", "os._exit(0) when the function is called (kills the kernel/worker)",
           tests=TARGET_TESTS + ("test_nll_gradient", "test_nll_gradient_hidden",
                                 "test_fit_logistic_regression", "test_fit_logistic_regression_hidden"),
           build=_with_answer(_answer("import os\nos._exit(0)\n" + textwrap.dedent(CORRECT_BODY)))),
    Attack("infinite_loop", "`while True: pass` when the function is called",
           build=_with_answer(_answer("while True:\n    pass\n"))),
    Attack("swallow_interrupt", "an endless loop that catches every interrupt",
           tests=TARGET_TESTS + ("test_nll_gradient", "test_nll_gradient_hidden",
                                 "test_fit_logistic_regression", "test_fit_logistic_regression_hidden"),
           build=_with_answer(_answer("""\
               import time
               while True:
                   try:
                       time.sleep(0.05)
                   except BaseException:
                       pass
               """))),
    Attack("huge_output", "prints 4 MB in each of its first 4 calls (right answer)",
           build=_with_answer(_answer('_CALLS[0] += 1\nif _CALLS[0] <= 4:\n    print("x" * 4_000_000)\n'
                                      + textwrap.dedent(CORRECT_BODY), "_CALLS = [0]\n"))),
    Attack("memory_bomb", "allocates 8 GiB per call (right answer)",
           build=_with_answer(_answer("big = np.zeros(2**30)\nbig[0] = 1.0\n" + textwrap.dedent(CORRECT_BODY)))),
    Attack("forge_report", "writes fake 'passed' reports to every open file descriptor (wrong answer)",
           build=_with_answer(_answer("""\
               import os
               fake = b'{"p": "{\\\\"seq\\\\": 1, \\\\"status\\\\": \\\\"ok\\\\"}", "m": "0"}\\n'
               for fd in range(1, 12):
                   try:
                       os.write(fd, fake)
                   except OSError:
                       pass
               return 0.0
               """))),
    Attack("corrupt_notebook", "the submitted file is truncated JSON", exercise="*", tests=(),
           build=lambda nb, ctx: nbformat.writes(nb)[:5000].encode()),
]


def _read_solutions(nb, ctx):
    course, a = ctx["course"], ctx["assignment"]
    code = _answer(f"""\
        import json, os
        paths = [{str(course / 'solutions' / a / (a + '.ipynb'))!r}]
        paths += [os.path.join(*([".."] * k), "solutions", {a!r}, {a + '.ipynb'!r}) for k in range(1, 6)]
        for path in paths:
            try:
                with open(path) as fh:
                    source = json.load(fh)
            except Exception:
                try:
                    import subprocess
                    source = json.loads(subprocess.check_output(["cat", path]))
                except Exception:
                    continue
            for cell in source["cells"]:
                text = "".join(cell["source"])
                if "def negative_log_likelihood" in text and "BEGIN SOLUTION" in text:
                    scope = {{"np": np}}
                    exec(text, scope)
                    return scope["negative_log_likelihood"](X, y, w, b)
        return 0.0
        """)
    return _with_answer(code)(nb, ctx)


def _write_gradebook(nb, ctx):
    db, student = str(ctx["course"] / "gradebook.db"), ctx["student"]
    code = _answer(f"""\
        try:
            import sqlite3
            con = sqlite3.connect({db!r})
            con.execute(
                "UPDATE grade SET manual_score = "
                "(SELECT max_score FROM grade_cells WHERE grade_cells.id = grade.cell_id) "
                "WHERE notebook_id IN (SELECT sn.id FROM submitted_notebook sn JOIN submitted_assignment sa "
                "ON sn.assignment_id = sa.id WHERE sa.student_id = ?)", ({student!r},))
            con.commit()
            con.close()
        except Exception:
            pass
        return 0.0
        """)
    return _with_answer(code)(nb, ctx)


def _edit_tests(nb, ctx):
    _with_answer(_answer("return 0.0\n"))(nb, ctx)
    for gid in TARGET_TESTS:
        cell_by_id(nb, gid).source = "pass"
    return nb


def _delete_tests(nb, ctx):
    _with_answer(_answer("return 0.0\n"))(nb, ctx)
    nb.cells = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") not in TARGET_TESTS]
    return nb


def _edit_plain(nb, ctx):
    _with_answer(_answer("return 0.0\n"))(nb, ctx)
    first = next(c for c in nb.cells if c.cell_type == "code" and not nbgrader_meta(c))
    first.source += f"\nimport dgm_utils.checks\ndgm_utils.checks.assert_close = {NOOP}\n"
    return nb


_BUILDERS = {"read_solutions": _read_solutions, "write_gradebook": _write_gradebook,
             "edit_test_cells": _edit_tests, "delete_test_cells": _delete_tests, "edit_plain_cell": _edit_plain}
for _a in ATTACKS:
    if _a.build is None:
        _a.build = _BUILDERS[_a.name]


def build_zoo(course: Path, assignment: str, names: list[str] | None = None) -> dict[str, Attack | None]:
    """Write the honest student and every attack (or only ``names``) under
    course/submitted/; returns {student: Attack, "honest": None}."""
    release = read_notebook(course / "course" / assignment / f"{assignment}.ipynb")
    source = read_notebook(course / "solutions" / assignment / f"{assignment}.ipynb")
    made: dict[str, Attack | None] = {}
    chosen = [a for a in ATTACKS if names is None or a.name in names]
    for student, attack in [("honest", None)] + [(a.name, a) for a in chosen]:
        nb = fill_answers(release, source)
        ctx = {"course": Path(course), "assignment": assignment, "student": student}
        out = nb if attack is None else attack.build(nb, ctx)
        folder = Path(course) / "submitted" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{assignment}.ipynb"
        if isinstance(out, bytes):
            path.write_bytes(out)
        else:
            nbformat.write(out, str(path))
        made[student] = attack
    return made


def make_course(folder: Path, assignment: str, solutions: Path) -> Path:
    """A private (0700) scratch course at ``folder`` with ``assignment`` released from the
    repository that holds ``solutions``."""
    from dgm_utils.course import make_scratch_course

    return make_scratch_course(folder, [assignment], solutions.parent)
