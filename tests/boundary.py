"""Helpers for tests of the grading boundary: run a few cells through the real checker loop
(``dgm_course.checker.Runner``, here in the test process) and a real sandboxed student process."""
from __future__ import annotations

import contextlib
import functools
import shutil
import textwrap
import time

import pytest

from dgm_course.plan import bound_names


def require_bwrap() -> None:
    """Fail (not skip) without bubblewrap: the sandbox is what these tests are about."""
    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap (bwrap) is not installed: `apt-get install bubblewrap` (.ci/run installs it)")


def make_cells(*cells) -> list[dict]:
    """Plan cells from ("answer", source) / ("plain", source) / ("test", source) tuples (the
    exercise of a cell is the last answer above it; an answer exports the names it binds)."""
    out, exercise = [], None
    for index, (kind, source) in enumerate(cells):
        source = textwrap.dedent(source)
        cell = {"index": index, "kind": kind, "source": source, "exercise": exercise, "exports": [],
                "in_student": kind != "test", "in_checker": kind == "test", "student_source": None}
        if kind == "answer":
            exercise = f"exercise{index}"
            cell.update(exercise=exercise, exports=bound_names(source), student_source=source)
        elif kind == "plain":
            cell["student_source"] = source
        out.append(cell)
    return out


@functools.lru_cache(maxsize=1)
def student_template():
    """This test process's template of student processes (``sandbox.StudentTemplate``), as a
    grading worker has one; None where templates are not used (not grading as root)."""
    from dgm_course.sandbox import SandboxConfig, StudentTemplate, matplotlib_font_cache, template_available

    if not template_available():
        return None
    return StudentTemplate(SandboxConfig(mpl_cache=matplotlib_font_cache()))


def run_cells(*cells, timeout: float = 20.0, mode: str = "bwrap", memory_mb: int = 2048, template: bool = True,
              **sandbox) -> dict:
    """Run the cells; returns {index: result dict} plus "_runner" (the Runner, for inspection).
    ``template``: fork the student process from a template, as grading does where it can (as
    root); False: start it with bwrap, as grading does elsewhere."""
    from dgm_course.checker import Runner

    if mode == "bwrap":
        require_bwrap()
        if template and student_template() is not None:
            if not student_template().alive():
                student_template.cache_clear()
            sandbox["template_fd"] = student_template().fileno
    results: dict = {}
    job = {"cells": make_cells(*cells), "limits": {"timeout": timeout, "startup_timeout": 60},
           "sandbox": dict({"mode": mode, "memory_mb": memory_mb}, **sandbox)}
    runner = Runner(job, lambda r: results.__setitem__(r["index"], r))
    try:
        runner.run()
    finally:
        runner.conn.close()
    results["_runner"] = runner
    return results


def status(results: dict, index: int) -> str:
    r = results[index]
    return r["status"] if r["status"] == "ok" else f"{r['status']}: {r.get('ename')}: {r.get('evalue')}"


@contextlib.contextmanager
def forked_pair(source: str):
    """Two student processes forked from this test process's template, both alive, each having
    run ``source`` (an answer cell): for attacks between concurrent sandboxes of one template."""
    from dgm_course.checker import Conn
    from dgm_course.sandbox import SandboxConfig

    conns = []
    try:
        for _ in range(2):
            conn = Conn(SandboxConfig(mode="bwrap", template_fd=student_template().fileno))
            conn.start()
            assert type(conn.proc).__name__ == "ForkedStudentProcess"
            conn.deadline = time.monotonic() + 60
            conn.request({"op": "exec", "source": textwrap.dedent(source), "filename": "<student-cell-0>"})
            conns.append(conn)
        yield conns
    finally:
        for conn in conns:
            conn.close()
