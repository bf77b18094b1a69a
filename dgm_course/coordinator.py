"""``dgm-course autograde``: grade every submission of an assignment, in parallel.

The coordinator reads the instructor's source notebooks, the release and the submissions,
builds one plan per submitted notebook (``plan.py``), and hands each student's plans to a
worker: a thread of this process driving checker processes, ``--jobs`` at a time, or a task
on a Dask cluster (``--executor dask://HOST:PORT``). For each notebook the worker starts a
checker (``checker.py``), which starts the sandboxed student process (``sandbox.py``). The
coordinator alone scores (from the checkers' per-cell results), writes the gradebook,
``autograded/`` and the instructor's reports. The instructor's own solution is graded in
the same pool, as a check of the environment: if it does not earn every point, a warning
says why.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .layout import Course
from .plan import Plan, build_plan
from .records import (CellResult, GradedNotebook, Limits, NotebookRun, NotebookScore, SubmissionResult,
                      SubmissionTask, SummaryRow)

SOLUTION = "(solution)"  # the pseudo-student whose submission is the instructor's solution


class NothingToGrade(Exception):
    """An assignment without a source notebook or without submissions."""


# ----------------------------------------------------------------------------- one notebook

def _checker_env(home: str) -> dict[str, str]:
    from .sandbox import matplotlib_font_cache

    cache = matplotlib_font_cache()
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "TMPDIR": home,
            "MPLCONFIGDIR": os.path.dirname(cache) if cache else home, "MPLBACKEND": "Agg",
            "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TQDM_DISABLE": "1"}


def _checker_memory(limits: Limits) -> int:
    """The checker's own address-space limit: what a student sends it is bounded
    (``checker.MAX_FROM_STUDENT``), so a checker never needs more than a few GB."""
    return max(4096, 2 * limits.memory_mb) * 2**20


def _checker_limits(limits: Limits):
    def apply():
        import resource

        size = _checker_memory(limits)
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def _die_with_thread():
    """preexec_fn: SIGKILL this child when the thread that started it ends."""
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def _tail(path: Path, size: int) -> str:
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - size))
        return fh.read().decode("utf-8", "replace")


_WORKER = threading.local()  # this worker thread's templates
_TEMPLATES: list = []
_TEMPLATES_LOCK = threading.Lock()


def worker_templates(limits: Limits) -> tuple:
    """This worker thread's (checker template, student template), started on first use, each
    None where not available (then each checker, or each student process, starts afresh).

    A checker template (``checker.CheckerTemplate``) has imported what the tests use and forks
    one checker per notebook; a student template (``sandbox.StudentTemplate``: grading as root
    with bwrap) has imported the student side's libraries in its sandbox and forks one freshly
    sandboxed student process per start. So the libraries are imported once per worker."""
    from .checker import CheckerTemplate
    from .sandbox import SandboxConfig, StudentTemplate, TemplateGone, matplotlib_font_cache, template_available

    if os.environ.get("DGM_COURSE_NO_TEMPLATE") == "1":
        return None, None
    found, started = [], []
    for kind in ("checker", "student"):
        template = getattr(_WORKER, kind, None)
        if template is not None and template.alive():
            found.append(template)
            continue
        if template is not None:
            template.close()
        template = None
        try:  # both start at once; their imports overlap
            if kind == "checker":
                template = CheckerTemplate(_checker_env, _die_with_thread, limits.startup_timeout, wait=False)
            elif limits.sandbox == "bwrap" and template_available():
                template = StudentTemplate(SandboxConfig(mpl_cache=matplotlib_font_cache()), limits.startup_timeout,
                                           wait=False)
        except OSError:
            template = None
        if template is not None:
            started.append(template)
        found.append(template)
    for template in started:
        try:
            template.wait_ready()
        except TemplateGone:  # either template (the checker's TemplateGone is a subclass)
            found[found.index(template)] = None
            continue
        with _TEMPLATES_LOCK:
            _TEMPLATES.append(template)
    _WORKER.checker, _WORKER.student = found
    return tuple(found)


def close_templates() -> None:
    """End every template process this process started (they also end with their thread)."""
    with _TEMPLATES_LOCK:
        for template in _TEMPLATES:
            template.close()
        _TEMPLATES.clear()


def run_checker(plan: Plan, limits: Limits, files: dict[str, bytes], templates: tuple = (None, None)) -> NotebookRun:
    """Grade one submitted notebook: start a checker process with the plan, collect its
    per-cell results until it finishes or the notebook time limit ends it. ``templates``: the
    worker's (checker template, student template) to fork from (``worker_templates``)."""
    from .checker import TemplateGone as CheckerTemplateGone

    from .sandbox import matplotlib_font_cache

    checker_template, student_template = templates
    t0 = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="dgm-checker-"))
    os.chmod(work, 0o755)
    data = work / "data"
    data.mkdir()
    os.chmod(data, 0o755)
    paths = {}
    for rel, content in files.items():
        dest = data / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(content)
        os.chmod(dest, 0o644)
        paths[rel] = str(dest)
    job = {"cells": plan.job_cells(), "limits": dataclasses.asdict(limits),
           "sandbox": {"mode": limits.sandbox, "memory_mb": limits.memory_mb, "scratch_mb": limits.scratch_mb,
                       "cpu_seconds": int(limits.notebook_timeout) + 60, "files": paths,
                       "mpl_cache": matplotlib_font_cache(),
                       "template_fd": student_template.fileno if student_template is not None else None}}
    read_fd, write_fd = os.pipe()
    cells: dict[int, CellResult] = {}
    summary: dict = {}
    status = "ok"
    errors = open(work / "checker.log", "wb")  # a file, not a pipe: the checker never blocks on it
    proc = None
    if checker_template is not None:
        job_r, job_w = os.pipe()
        try:
            proc = checker_template.fork(str(work), _checker_env(str(work)), _checker_memory(limits), job_r, write_fd,
                                         errors.fileno(), student_template.fileno if student_template else None)
            stdin = os.fdopen(job_w, "wb")
        except CheckerTemplateGone:
            os.close(job_w)
        finally:
            os.close(job_r)
    if proc is None:
        proc = subprocess.Popen([sys.executable, "-m", "dgm_course.checker", str(write_fd)], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=errors,
                                pass_fds=(write_fd,) + ((student_template.fileno,) if student_template else ()),
                                env=_checker_env(str(work)), cwd=str(work), start_new_session=True,
                                preexec_fn=_checker_limits(limits))
        stdin = proc.stdin
    os.close(write_fd)
    try:
        try:
            stdin.write(json.dumps(job).encode())
        except BrokenPipeError:  # a checker that died early: reported below
            pass
        finally:
            with contextlib.suppress(BrokenPipeError):
                stdin.close()
        deadline = t0 + limits.notebook_timeout
        buffer = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                status = f"notebook time limit ({limits.notebook_timeout:g} s) reached"
                break
            ready, _, _ = select.select([read_fd], [], [], min(left, 5.0))
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                record = json.loads(line)
                if "index" in record:
                    cells[record["index"]] = CellResult.from_json(record)
                elif "fatal" in record:
                    status = f"stopped: {record['fatal']}"
                elif record.get("done"):
                    summary = record
        if not summary and status == "ok":
            proc.wait(timeout=30)
            errors.flush()
            err = _tail(work / "checker.log", 3000)
            status = f"the checker failed (exit code {proc.returncode})"
            summary = {"log": err}
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
        os.close(read_fd)
        errors.close()
        shutil.rmtree(work, ignore_errors=True)
    return NotebookRun(name=plan.name, status=status, cells=cells, seconds=time.monotonic() - t0,
                       restarts=summary.get("restarts", 0), crashes=summary.get("crashes", []),
                       startup_seconds=summary.get("startup_seconds", []), log=summary.get("log", ""),
                       sandbox=limits.sandbox)


def score_notebook(plan: Plan, run: NotebookRun) -> NotebookScore:
    """A test cell earns its points only when the checker reports it "ok"; a cell without a
    result (the run ended first) earns 0. A manually graded answer gets None (to be graded by
    hand), or 0 when left as the stub (as nbgrader scores "no response")."""
    scores, maxima, untouched = {}, {}, []
    auto = auto_max = 0.0
    for cell in plan.cells:
        gid, points = cell.grade_id, cell.points
        if cell.kind == "test":
            result = run.cells.get(cell.index)
            scores[gid] = float(points) if result is not None and result.status == "ok" else 0.0
            maxima[gid] = float(points)
            auto, auto_max = auto + scores[gid], auto_max + maxima[gid]
        elif points is not None:  # a manually graded answer
            scores[gid], maxima[gid] = (0.0 if cell.untouched else None), float(points)
        if cell.untouched and cell.grade_id:
            untouched.append(gid)
    return NotebookScore(scores, maxima, untouched, auto, auto_max)


def grade_submission(task: SubmissionTask) -> SubmissionResult:
    """Grade one student's notebooks of one assignment: the unit of work of a thread or a Dask
    worker (plain data in, plain data out)."""
    t0 = time.monotonic()
    graded = []
    for plan in task.plans:
        run = run_checker(plan, task.limits, task.files, worker_templates(task.limits))
        graded.append(GradedNotebook(plan, run, score_notebook(plan, run)))
    return SubmissionResult(task.student, graded, time.monotonic() - t0)


def run_flags(graded: GradedNotebook) -> list[str]:
    """What the instructor should know about one graded notebook (never changes a score)."""
    run = graded.run
    flags = list(graded.plan.flags)
    if run.sandbox != "bwrap":
        flags.append("graded WITHOUT the OS sandbox (--no-sandbox): student code ran as the grading user")
    if run.status != "ok":
        flags.append(f"run ended early: {run.status}")
    for crash in crash_records(graded):
        flags.append(f"student process crashed in {crash['exercise']} (cell {crash['cell']}): {crash['reason']}")
    for index, result in sorted(run.cells.items()):
        if result.ename in ("ChannelError", "PeerGone", "Deadline"):
            flags.append(f"cell {index}: broken channel: {result.evalue[:150]}")
        if result.ename == "GradingBoundaryError":
            flags.append(f"cell {index}: instructor test problem: {result.evalue[:200]}")
    return flags


def crash_records(graded: GradedNotebook) -> list[dict]:
    """Each crash of a graded notebook: {"cell", "exercise", "reason"} (the reason says timeout,
    memory, a signal or an exit code)."""
    by_index = {c.index: c for c in graded.plan.cells}
    def where(i):
        return by_index[i].exercise if by_index[i].kind in ("answer", "test") else f"plain cell {i}"

    return [{"cell": i, "exercise": where(i), "reason": r.reason}
            for i, r in sorted(graded.run.cells.items()) if r.status == "crashed" and i in by_index]


def format_table(rows: list[SummaryRow]) -> str:
    """The summary table (student, score, max, seconds, status, flags) as text."""
    head = ["student", "score", "max", "seconds", "status", "flags"]
    body = [[r.student, f"{r.score:g}", f"{r.max:g}", f"{r.seconds:.1f}", r.status[:40],
             (f"{len(r.flags)}: " + r.flags[0][:60]) if r.flags else ""] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(b) for b in body])


# ----------------------------------------------------------------------------- the batch

def _executor_map(tasks: list[SubmissionTask], jobs: int, executor: str):
    """Yield results as they complete: locally (threads, ``jobs`` at a time) or on a Dask
    cluster (``dask://host:port``)."""
    if executor in ("", "local"):
        from concurrent.futures import ThreadPoolExecutor, as_completed

        try:
            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                futures = [pool.submit(grade_submission, t) for t in tasks]
                for fut in as_completed(futures):
                    yield fut.result()
        finally:
            close_templates()
        return
    if not executor.startswith("dask://"):
        raise ValueError(f"--executor must be 'local' or dask://HOST:PORT, got {executor!r}")
    from dask.distributed import Client, as_completed

    with Client("tcp://" + executor[len("dask://"):], timeout=60) as client:
        futures = [client.submit(grade_submission, t, pure=False, key=f"dgm-grade-{i}-{secrets.token_hex(4)}")
                   for i, t in enumerate(tasks)]
        for fut in as_completed(futures):
            yield fut.result()


def release_files(release_dir: Path, limit_bytes: int = 200 * 2**20) -> dict[str, bytes]:
    """{relative path: bytes} of the release's non-notebook files (data the student sees)."""
    files, total = {}, 0
    for path in sorted(release_dir.rglob("*")):
        if path.is_file() and path.suffix != ".ipynb" and ".ipynb_checkpoints" not in path.parts:
            data = path.read_bytes()
            total += len(data)
            if total > limit_bytes:
                raise ValueError(f"release files of {release_dir} exceed {limit_bytes // 2**20} MB")
            files[str(path.relative_to(release_dir))] = data
    return files


def autograde(course: Course, assignment: str, *, jobs: int | None = None, executor: str = "local",
              limits: Limits | None = None, students: list[str] | None = None, progress: bool = True,
              log=print) -> list[SummaryRow]:
    """Grade every ``submitted/<student>/<assignment>/`` of ``course``.

    Writes the gradebook, ``autograded/<student>/<assignment>/`` (the graded notebooks) and the
    instructor's report ``reports/<assignment>/grading/<student>.json``. Returns one summary
    row per student, sorted. Raises NothingToGrade, or SandboxUnavailable when bwrap is
    missing and ``limits.sandbox`` is "bwrap".
    """
    import nbformat

    from . import gradebook
    from .feedback import graded_notebook
    from .notebooks import fill_answers, read_notebook
    from .sandbox import Cgroups, check_bwrap

    limits = limits or Limits()
    if limits.sandbox == "bwrap":
        check_bwrap()
        Cgroups.sweep()
    names = course.notebook_names(assignment)
    if not names:
        raise NothingToGrade(f"no notebook in {course.folder('source', assignment)}")
    release_dir = course.folder("release", assignment)
    missing_release = not all((release_dir / f"{n}.ipynb").exists() for n in names)
    if gradebook.ensure_assignment(course, assignment) or missing_release:
        log(f"registered {assignment} in the gradebook and regenerated {release_dir}")
    sources = {n: read_notebook(course.folder("source", assignment) / f"{n}.ipynb") for n in names}
    releases = {n: read_notebook(release_dir / f"{n}.ipynb") for n in names}
    files = release_files(release_dir)
    chosen = [s for s in course.students(assignment) if students is None or s in students]
    if not chosen:
        raise NothingToGrade(f"no submissions in {course.folder('submitted')}/*/{assignment}/")

    tasks = []
    with tempfile.TemporaryDirectory(prefix="dgm-solution-") as tmp:
        plans = []
        for n in names:
            path = Path(tmp) / f"{n}.ipynb"
            nbformat.write(fill_answers(releases[n], sources[n]), str(path))
            plans.append(build_plan(sources[n], releases[n], path, n))
        tasks.append(SubmissionTask(SOLUTION, plans, limits, files))
    for student in chosen:
        folder = course.folder("submitted", assignment, student)
        plans = [build_plan(sources[n], releases[n], folder / f"{n}.ipynb", n) for n in names]
        tasks.append(SubmissionTask(student, plans, limits, files))

    rows: list[SummaryRow] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(tasks) - 1, desc=f"grading {assignment}", unit="submission", file=sys.stderr)
    try:
        for result in _executor_map(tasks, jobs or os.cpu_count() or 1, executor):
            if result.student == SOLUTION:
                _check_solution(result, log)
                continue
            rows.append(_store(course, assignment, result, sources, files, graded_notebook))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return sorted(rows, key=lambda r: r.student)


def _check_solution(result: SubmissionResult, log) -> None:
    for g in result.notebooks:
        if g.score.auto != g.score.auto_max or g.run.status != "ok":
            bad = [f"cell {i}: {c.ename}: {c.evalue[:200]}" for i, c in sorted(g.run.cells.items())
                   if c.status != "ok" and c.kind == "test"]
            log(f"WARNING: the instructor's solution of {g.plan.name} earns {g.score.auto:g}/{g.score.auto_max:g} "
                f"when graded ({g.run.status}); students cannot do better:\n  "
                + "\n  ".join(bad or [g.run.log[-500:]]))


def _store(course: Course, assignment: str, result: SubmissionResult, sources, files, graded_notebook) -> SummaryRow:
    """Write one student's graded notebooks, gradebook entries and report; return their row."""
    import nbformat

    from . import gradebook

    student = result.student
    folder = course.folder("submitted", assignment, student)
    out_dir = course.folder("autograded", assignment, student)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    for rel, data in files.items():
        (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (out_dir / rel).write_bytes(data)
    stamp = folder / "timestamp.txt"
    if stamp.is_file() and not stamp.is_symlink() and not folder.is_symlink() and stamp.stat().st_size < 1000:
        shutil.copy(stamp, out_dir / "timestamp.txt")
    flags, status, score, score_max = [], "ok", 0.0, 0.0
    for g in result.notebooks:
        nb = graded_notebook(sources[g.plan.name], g)
        nbformat.write(nb, str(out_dir / f"{g.plan.name}.ipynb"))
        flags += run_flags(g)
        if status == "ok" and g.run.status != "ok":
            status = g.run.status
        elif status == "ok" and g.run.crashes:
            status = f"{len(g.run.crashes)} crash(es)"
        score += g.score.auto
        score_max += g.score.auto_max
    gradebook.save_grades(course.db_url, course.course_id, assignment, student, gradebook.read_timestamp(folder),
                          [{"name": g.plan.name, "scores": g.score.scores, "untouched": g.score.untouched}
                           for g in result.notebooks])
    row = SummaryRow(student, score, score_max, result.seconds, status, flags)
    exercise_of = {(g.plan.name, c.index): c.exercise for g in result.notebooks for c in g.plan.cells}
    report = course.report_path(assignment, student)
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(dict(dataclasses.asdict(row), notebooks=[
        {"name": g.plan.name, "status": g.run.status, "seconds": round(g.run.seconds, 3), "restarts": g.run.restarts,
         "crashes": crash_records(g), "scores": g.score.scores, "log": g.run.log[-4000:],
         "cells": {str(i): {"status": c.status, "reason": c.reason, "seconds": c.seconds, "mistake": c.mistake,
                            "exercise": exercise_of.get((g.plan.name, i))}
                   for i, c in sorted(g.run.cells.items()) if c.status != "ok" or c.kind == "test"}}
        for g in result.notebooks]), indent=1))
    return row
