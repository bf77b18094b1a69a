"""Helpers for tests of the grading boundary: run a few cells through the real checker loop
(``dgm_course.checker.Runner``, here in the test process) and a real sandboxed student process."""
from __future__ import annotations

import shutil
import textwrap

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


def run_cells(*cells, timeout: float = 20.0, mode: str = "bwrap", memory_mb: int = 2048, **sandbox) -> dict:
    """Run the cells; returns {index: result dict} plus "_runner" (the Runner, for inspection)."""
    from dgm_course.checker import Runner

    if mode == "bwrap":
        require_bwrap()
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
