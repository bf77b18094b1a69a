"""dgm-course autograde: parallel, tamper-resistant grading of nbgrader submissions.

Design
======
Two kinds of process. The *coordinator* (``dgm-course autograde``) reads the instructor's
source notebook (``solutions/``, hidden tests included), the submissions and the gradebook;
it is the only process that decides or writes grades. A *worker*
(``dgm_utils.grading.worker``) runs one submitted notebook and nothing else; it is a fresh
Python process (not a Jupyter kernel, so there are no IPython hooks to subvert).

1. Trusted notebook (trusted.py, scan.py). Every cell that runs comes from the source
   notebook, except the student's answer cells, matched by nbgrader ``grade_id``; a
   missing, duplicated or unreadable answer is replaced by the release stub. Edited,
   deleted or added instructor cells are ignored (and flagged). Answer code is reduced to
   definitions: imports, ``def``, ``class``, constant assignments, docstrings; whatever
   else was at top level is removed and listed as a flag. Decorators, defaults,
   annotations and base classes must be simple names or constants. So nothing the student
   wrote runs at definition time: ``get_ipython().set_custom_exc(...)``, input
   transformers, event callbacks, top-level monkeypatching and ``os._exit`` never execute.

2. Two namespaces (PrairieLearn's idea). Answers run in a *student* namespace; the
   instructor's cells (plain cells and tests) run in a separate *grader* namespace. After an
   answer cell, only the names the instructor's own solution cell defines (``sigmoid``...)
   are copied into the grader namespace; after a plain instructor cell its new values are
   copied (arrays copied) into the student namespace. A student function that rebinds a
   global (``global assert_close``) changes only the student namespace; each namespace
   has its own copy of the builtins; the grader's ``import`` returns the protected
   modules recorded before any student code ran.

3. Worker sandbox (sandbox.py, worker.py). The worker starts in a fresh scratch folder
   under the system temp folder that holds only the release's data files (never the
   source notebook: the coordinator sends the cells over a pipe, encrypted with a per-run
   key so a leftover student thread cannot read them). It sets hard rlimits (address space
   ``--memory``, file size, CPU time, processes, no core), imports the libraries the
   instructor's cells use, then *seals* numpy, scipy, scikit-learn, math, builtins,
   dgm_utils (and torch, torch.testing... when used): each module's class becomes a
   ModuleType subclass whose ``__setattr__``/``__delattr__`` raise and whose
   ``__dict__`` is a read-only view, so ``np.allclose = ...``, ``setattr(math, ...)`` or
   ``dgm_utils.checks.assert_close = ...`` inside a student function raise (that test
   fails). A *tripwire* snapshot of those modules (functions, classes' methods, defaults,
   sys.modules entries, builtins) is compared after every cell: a cell that leaves a
   protected library modified by any route fails with TamperingDetected and the snapshot
   is restored. When run as root the worker then switches irreversibly to an unprivileged
   user (``dgmgrader`` if it exists, else ``nobody``), with HOME and cwd in the scratch
   folder, and installs an audit hook (``sys.addaudithook``: it cannot be removed). The
   hook denies opening files outside the scratch folder and library folders (so no
   reading of solutions/, hidden tests, other submissions or the gradebook), writing
   outside scratch, processes, signals to other processes, sockets, sqlite, tracing,
   new audit hooks; for student code (and the standard modules that hand frames back,
   such as inspect and traceback, while student code is on the stack) frame access, and
   while student code is on the stack gc's object graph, code-object construction, ctypes
   and setting ``__code__``/``__defaults__``/``__class__``. Student code may compile only
   under its own ``<student-cell-N>`` name (no ``exec``/``eval`` of text), so it cannot
   pass code off as the library's. Every denial is listed in the instructor's report.
   Standard-library modules not loaded before the switch cannot be imported afterwards
   when the interpreter lives in a folder the sandbox user cannot read (as here, under
   /root): the coordinator therefore first runs the instructor's solution in the same
   sandbox (without the switch; it must earn every point, or a warning says why) and
   preloads every module that run loaded.

4. Reports and scores. Each cell result goes back on a separate pipe, authenticated with
   an HMAC under the run key; the key sits only in local variables and closures of the
   worker (reachable only through introspection the hook denies). The coordinator
   accepts a result only with a valid MAC and the sequence number it expects, and scores
   from its own bookkeeping: a test cell earns its points when its authenticated result
   says it ran without error within the limits. Per-cell wall time (``--timeout``) is
   enforced in the worker (an interrupt repeated every second) and by the coordinator
   (kill of the worker's process group after a grace period); the whole notebook has a
   deadline (``--notebook-timeout``). A crash, hang, kill or memory exhaustion zeroes the
   cells that had not passed yet; the batch goes on. Output beyond ``--max-output`` bytes
   per cell fails that cell.

5. Parallelism. Submissions are graded ``--jobs`` at a time by threads that each drive
   one worker process, or on a Dask cluster (``--executor dask://HOST:PORT``): the same
   pure ``grade_submission(task)`` runs on a Dask worker and returns plain data; the
   coordinator writes the gradebook in the order results arrive (grades do not depend on
   that order). Grades are deterministic: same cells, same seeds, one BLAS thread,
   PYTHONHASHSEED=0.

What this does not stop (honestly)
==================================
CPython cannot isolate code inside one process. Within a cell, student code can still
reach grader state through routes the hook cannot see, e.g. ``object.__setattr__`` on a
module followed by an undo (from a ``__del__`` or a thread) before the cell ends, the
``__globals__`` of an instructor function handed to it, ``__builtins__`` of a library
function, a library other than the standard ones above that returns frames, a library
helper that compiles text it is given (timeit, code), a ``.pyc`` hand-crafted in scratch,
or mutating the arrays a test passes it before the test computes its reference. Each
needs spelling something an honest solution of this course never needs; ``scan.py``
flags those submissions for the instructor (flags never change a score). C extensions
may open files without an audit event: the unprivileged user and file permissions (keep
solutions/, submitted/ and the gradebook unreadable to other users) are the barrier
there. No seccomp or namespaces are used. Late penalties (nbgrader's
AssignLatePenalties) are not applied.
"""
from __future__ import annotations

import json
import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

DEFAULT_LIMITS = {"timeout": 120.0, "notebook_timeout": 900.0, "memory_mb": 2048,
                  "max_output": 1_000_000, "fsize_mb": 64, "nproc": 512, "startup_timeout": 180.0}
SANDBOX_USERS = ("dgmgrader", "nobody")
MAX_REPORT_LINE = 16 * 2**20


# ----------------------------------------------------------------------------- helpers

def sandbox_user() -> tuple[int, int] | None:
    """(uid, gid) the workers switch to: ``dgmgrader`` if that user exists, else ``nobody``;
    None when this process is not root (workers then run as the current user)."""
    if os.geteuid() != 0:
        return None
    import pwd

    for name in SANDBOX_USERS:
        try:
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
        except KeyError:
            continue
    raise RuntimeError("running as root but neither a 'dgmgrader' nor a 'nobody' user exists; "
                       "create one (useradd --system dgmgrader) so student code does not run as root")


def instructor_imports(trusted: dict) -> list[str]:
    """Modules imported anywhere in the instructor's cells of a trusted notebook, in order
    of appearance (the worker imports them before sealing)."""
    import ast

    seen: list[str] = []
    for cell in trusted["cells"]:
        if cell["kind"] not in ("test", "plain"):
            continue
        try:
            tree = ast.parse(cell["source"])
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for n in names:
                if n not in seen:
                    seen.append(n)
    return seen


def _package_parent() -> str:
    """The folder holding the dgm_utils package (put on the worker's PYTHONPATH)."""
    import dgm_utils

    return str(Path(dgm_utils.__file__).resolve().parents[1])


_FONT_LOCK = threading.Lock()


def font_cache() -> str:
    """A matplotlib config folder with a built font cache, copied into every scratch folder
    (so workers do not each rebuild it): <temp>/dgm-course-mplcache-<uid>-<matplotlib
    version>-<environment>, built once and reused by later runs.

    matplotlib's own fonts live inside the Python environment, which the sandbox user may not
    be able to reach (a checkout in a 0700 folder, a Python under /root): matplotlib would then
    find a "missing" font file and try to rebuild its cache inside the sandbox. So the folder
    also holds world-readable copies of those fonts, and the cache points at the copies."""
    import hashlib
    import json

    import matplotlib

    env_key = hashlib.sha1(sys.prefix.encode()).hexdigest()[:10]
    folder = Path(tempfile.gettempdir()) / f"dgm-course-mplcache2-{os.getuid()}-{matplotlib.__version__}-{env_key}"
    with _FONT_LOCK:
        if not folder.is_dir():
            build = Path(tempfile.mkdtemp(prefix="dgm-mplcache-build-"))
            env = dict(os.environ, MPLCONFIGDIR=str(build), MPLBACKEND="Agg")
            subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env=env,
                           capture_output=True, timeout=300, check=False)
            data = Path(matplotlib.get_data_path())
            for cache in build.glob("fontlist-*.json"):
                listing = json.loads(cache.read_text())
                for entry in listing.get("ttflist", []) + listing.get("afmlist", []):
                    path = Path(entry["fname"])
                    path = path if path.is_absolute() else data / path
                    if data in path.parents and path.is_file():
                        rel = path.relative_to(data)  # fonts/ttf/DejaVuSans.ttf
                        (build / rel).parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(path, build / rel)
                        entry["fname"] = str(folder / rel)  # rewritten per scratch: see use_font_cache
                cache.write_text(json.dumps(listing, indent=2))
            for path in [build, *build.rglob("*")]:  # public fonts and a cache of them: readable by all
                os.chmod(path, 0o755 if path.is_dir() else 0o644)
            try:
                build.rename(folder)  # atomic: another process may have won the race
            except OSError:
                shutil.rmtree(build, ignore_errors=True)
        return str(folder)


def use_font_cache(cache: str, mplconfig: Path) -> None:
    """Copy the shared font cache (fonts included) into a worker's matplotlib config folder and
    point its font list at those copies: the sandbox may read only its scratch folder."""
    shutil.copytree(cache, mplconfig, dirs_exist_ok=True)
    for listing in mplconfig.glob("fontlist-*.json"):
        listing.write_text(listing.read_text().replace(cache, str(mplconfig)))


def sweep_stale_folders(max_age_hours: float = 24.0) -> int:
    """Remove scratch and private folders of workers whose grading process was killed
    before it could clean up (older than ``max_age_hours``); returns how many."""
    cutoff = time.time() - 3600 * max_age_hours
    removed = 0
    for prefix in ("dgm-scratch-", "dgm-private-"):
        for path in Path(tempfile.gettempdir()).glob(prefix + "*"):
            try:
                if path.is_dir() and not path.is_symlink() and path.stat().st_mtime < cutoff:
                    shutil.rmtree(path, ignore_errors=True)
                    removed += 1
            except OSError:
                continue
    return removed


def _chown_tree(folder: Path, uid: int, gid: int) -> None:
    """chown -R folder (scratch folders are handed to the sandbox user)."""
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, uid, gid, follow_symlinks=False)


def _worker_env(scratch: Path) -> dict[str, str]:
    """The worker's whole environment: nothing inherited but PATH's system part."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(scratch), "TMPDIR": str(scratch),
            "MPLCONFIGDIR": str(scratch / ".mpl"), "MPLBACKEND": "Agg", "XDG_CACHE_HOME": str(scratch / ".cache"),
            "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": _package_parent(),
            "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TQDM_DISABLE": "1"}


class _Reader(threading.Thread):
    """Reads the worker's report pipe line by line into a queue (over-long lines dropped)."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream, self.lines = stream, queue.Queue()

    def run(self):
        while True:
            line = self.stream.readline(MAX_REPORT_LINE)
            if not line:
                self.lines.put(None)
                return
            if line.endswith(b"\n"):
                self.lines.put(line)
            else:  # longer than the limit: skip the rest of it
                while line and not line.endswith(b"\n"):
                    line = self.stream.readline(MAX_REPORT_LINE)


class _Session:
    """The coordinator's end of one worker: sends encrypted commands, accepts only
    authenticated replies with the expected sequence number."""

    def __init__(self, proc, key: bytes):
        from .sandbox import make_cipher

        self.proc, self.key, self.crypt = proc, key, make_cipher(key)
        self.reader = _Reader(proc.stdout)
        self.reader.start()
        self.rejected = 0
        self.eof = False

    def send(self, obj) -> None:
        import base64

        nonce = secrets.token_bytes(16)
        box = self.crypt(nonce, json.dumps(obj).encode("utf-8"))
        line = json.dumps({"n": nonce.hex(), "c": base64.b64encode(box).decode("ascii")}) + "\n"
        self.proc.stdin.write(line.encode("ascii"))
        self.proc.stdin.flush()

    def receive(self, want, deadline: float):
        """The next authenticated payload for which ``want(payload)`` holds, or None if the
        deadline passes or the worker closes the pipe."""
        import hashlib
        import hmac

        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                line = self.reader.lines.get(timeout=left)
            except queue.Empty:
                return None
            if line is None:
                self.eof = True
                self.reader.lines.put(None)  # keep reporting the end to later calls
                return None
            try:
                env = json.loads(line)
                text = env["p"]
                good = hmac.new(self.key, text.encode("utf-8"), hashlib.sha256).hexdigest()
                if not hmac.compare_digest(good, env["m"]):
                    raise ValueError("bad MAC")
                payload = json.loads(text)
                if want(payload):
                    return payload
            except Exception:  # forged, garbled or unexpected: counted, never trusted
                pass
            self.rejected += 1


def _kill(proc) -> None:
    """Kill the worker's whole process group (it has its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _read_slice(path: Path, span, limit: int) -> str:
    """Text of bytes [start, end) of ``path`` (at most ``limit`` bytes), "" if the span is
    not sane."""
    try:
        start, end = int(span[0]), int(span[1])
    except (TypeError, ValueError, IndexError):
        return ""
    if start < 0 or end <= start:
        return ""
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(min(end - start, limit))
    text = data.decode("utf-8", errors="replace")
    return text + ("\n[... output truncated ...]\n" if end - start > limit else "")


def _exit_reason(code: int | None) -> str:
    """Human text for a worker's exit status."""
    if code is None:
        return "killed"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return {"SIGXCPU": "CPU time limit", "SIGKILL": "killed", "SIGSEGV": "crashed (segmentation fault)"}.get(
            name, f"died ({name})")
    return f"exited with status {code}"


# ----------------------------------------------------------------------------- one notebook

def run_worker(trusted: dict, files: dict[str, bytes], limits: dict, preload: list[str],
               user: tuple[int, int] | None) -> dict:
    """Run one trusted notebook in a fresh sandboxed worker and return what happened.

    trusted: from ``trusted.build_trusted``; files: release data files {relative path:
    bytes} copied into the scratch folder; limits: DEFAULT_LIMITS keys; preload: modules
    to import before sealing; user: (uid, gid) to switch to, or None.
    Returns {"status": "ok" or why the run ended early, "cells": {index: {"status",
    "ename", "evalue", "frames", "stdout", "stderr", "seconds"}}, "seconds", "rejected"
    (unauthenticated report lines), "log" (worker stderr tail when the run failed)}.
    """
    lim = dict(DEFAULT_LIMITS, **limits)
    t0 = time.monotonic()
    private = Path(tempfile.mkdtemp(prefix="dgm-private-"))
    scratch = Path(tempfile.mkdtemp(prefix="dgm-scratch-"))
    proc = None
    results: dict[int, dict] = {}
    status = "ok"
    rejected = 0
    modules: list[str] = []
    log_tail = ""
    try:
        for rel, data in sorted(files.items()):
            dest = (scratch / rel).resolve()
            if scratch.resolve() not in dest.parents:
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        if any(m.split(".")[0] == "matplotlib" for m in preload):
            use_font_cache(font_cache(), scratch / ".mpl")
        (scratch / ".mpl").mkdir(exist_ok=True)
        if user is not None:
            _chown_tree(scratch, *user)
            os.chmod(scratch, 0o700)
        out_path, err_path, log_path = private / "stdout", private / "stderr", private / "worker.log"
        out_fd = os.open(out_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        err_fd = os.open(err_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        key = secrets.token_bytes(32)
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-P", "-s", "-m", "dgm_utils.grading.worker"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=scratch,
                env=_worker_env(scratch), start_new_session=True, pass_fds=(out_fd, err_fd))
        os.close(out_fd)
        os.close(err_fd)
        cfg = {"key": key.hex(), "scratch": str(scratch), "preload": preload,
               "uid": user[0] if user else None, "gid": user[1] if user else None,
               "out_fd": out_fd, "err_fd": err_fd,
               "limits": {"memory_mb": lim["memory_mb"], "fsize_mb": lim["fsize_mb"], "nproc": lim["nproc"],
                          "cpu_seconds": int(lim["notebook_timeout"] + lim["startup_timeout"] + 60)}}
        proc.stdin.write((json.dumps(cfg) + "\n").encode("utf-8"))
        proc.stdin.flush()
        session = _Session(proc, key)
        notebook_deadline = time.monotonic() + lim["startup_timeout"] + lim["notebook_timeout"]
        ready = session.receive(lambda p: p.get("ready") is True, time.monotonic() + lim["startup_timeout"])
        if ready is None:
            status = "worker did not start"
        seq = 0
        code_cells = [c for c in trusted["cells"] if c["kind"] in ("answer", "test", "plain")]
        for cell in code_cells if ready else []:
            seq += 1
            grace = 10.0 + 0.25 * lim["timeout"]
            deadline = min(time.monotonic() + lim["timeout"] + grace, notebook_deadline)
            command = {"op": "run", "seq": seq, "cell": {
                "index": cell["index"], "kind": cell["kind"], "source": cell["source"],
                "filename": cell["filename"], "exports": cell["exports"],
                "timeout": float(lim["timeout"]), "max_output": int(lim["max_output"])}}
            try:
                session.send(command)
            except (BrokenPipeError, OSError):
                status = "worker died"
                break
            want_seq = seq
            reply = session.receive(lambda p, want=want_seq: p.get("seq") == want, deadline)
            if reply is None:
                if session.eof:
                    try:
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        pass
                if proc.poll() is None:
                    status = ("notebook time limit" if time.monotonic() >= notebook_deadline
                              else f"cell {cell['index']} did not stop after its time limit")
                else:
                    status = f"worker {_exit_reason(proc.returncode)} in cell {cell['index']}"
                break
            if "fatal" in reply:
                status = f"worker stopped: {reply['fatal']}"
                break
            results[cell["index"]] = reply
        else:
            if ready:
                seq += 1
                session.send({"op": "finish", "seq": seq})
                done = session.receive(lambda p, want=seq: p.get("seq") == want and p.get("done") is True,
                                       min(time.monotonic() + 30, notebook_deadline + 30))
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    pass
                if done is None or proc.returncode != 0:
                    status = f"worker did not finish cleanly ({_exit_reason(proc.poll())})"
                else:
                    modules = [m for m in done.get("modules", []) if isinstance(m, str)]
        rejected = session.rejected if ready is not None or proc else 0
        for r in results.values():
            r["stdout"] = _read_slice(out_path, r.get("out"), lim["max_output"])
            r["stderr"] = _read_slice(err_path, r.get("err"), lim["max_output"])
        if status != "ok":
            _kill(proc)
            log_tail = log_path.read_bytes()[-4000:].decode("utf-8", errors="replace")
    finally:
        if proc is not None and proc.poll() is None:
            _kill(proc)
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)
    clean = {i: {k: r.get(k) for k in ("status", "ename", "evalue", "frames", "stdout", "stderr", "seconds",
                                       "denied", "threads")}
             for i, r in results.items()}
    return {"status": status, "cells": clean, "seconds": time.monotonic() - t0,
            "rejected": rejected, "log": log_tail if status != "ok" else "", "modules": modules}


# ----------------------------------------------------------------------------- scoring

def score_notebook(trusted: dict, run: dict) -> dict:
    """Scores of one notebook from the coordinator's bookkeeping.

    A test cell earns its points only if the worker's authenticated report for it says
    "ok"; a cell without a report (the worker died, hung or was killed before it) earns 0.
    Manually graded cells (written answers, graded answer code) get None.
    Returns {"scores": {grade_id: score or None}, "max": {grade_id: points},
    "untouched": [answer grade_ids left as the stub], "auto": earned autograded points,
    "auto_max": autogradable points}.
    """
    scores, maxima, untouched = {}, {}, []
    for cell in trusted["cells"]:
        gid, points = cell["grade_id"], cell["points"]
        if cell["kind"] == "test":
            result = run["cells"].get(cell["index"]) or run["cells"].get(str(cell["index"]))
            scores[gid] = float(points) if result and result.get("status") == "ok" else 0.0
            maxima[gid] = float(points)
        elif points is not None:  # a manually graded answer
            scores[gid], maxima[gid] = None, float(points)
        if cell.get("untouched"):
            untouched.append(gid)
    auto = sum(s for s in scores.values() if s is not None)
    auto_max = sum(m for g, m in maxima.items() if scores[g] is not None)
    return {"scores": scores, "max": maxima, "untouched": untouched, "auto": auto, "auto_max": auto_max}


def grade_submission(task: dict) -> dict:
    """Grade one student's submission (every notebook of the assignment): the unit of work
    sent to a thread or a Dask worker. Pure data in, pure data out.

    task: {"student", "notebooks": [trusted notebook], "files": {path: bytes},
    "limits": {...}, "preload": [...]}.
    """
    t0 = time.monotonic()
    user = sandbox_user()
    notebooks = []
    for trusted in task["notebooks"]:
        run = run_worker(trusted, task["files"], task["limits"], task["preload"], user)
        notebooks.append({"name": trusted["name"], "run": run, "score": score_notebook(trusted, run)})
    return {"student": task["student"], "notebooks": notebooks, "seconds": time.monotonic() - t0}


# ----------------------------------------------------------------------------- the batch

class NothingToGrade(Exception):
    """Raised when an assignment has no source notebook or no submissions."""


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


def run_flags(run: dict) -> list[str]:
    """Flags raised by what happened in the worker (sandbox denials, tampering, forged
    reports, crashes)."""
    flags = []
    if run["status"] != "ok":
        flags.append(f"run ended early: {run['status']}")
    if run.get("rejected"):
        flags.append(f"{run['rejected']} unauthenticated line(s) on the report channel")
    for index, r in sorted(run["cells"].items(), key=lambda x: int(x[0])):
        if r.get("ename") in ("SandboxViolation", "TamperingDetected", "OutputLimitExceeded", "TimeoutError",
                              "MemoryError"):
            flags.append(f"cell {index}: {r['ename']}: {str(r.get('evalue', ''))[:150]}")
        for denial in r.get("denied") or []:
            flags.append(f"cell {index}: sandbox denied {denial[:150]}")
        if r.get("threads"):
            flags.append(f"cell {index}: left {r['threads']} Python thread(s) running")
    return flags


def format_table(rows: list[dict]) -> str:
    """The summary table (student, score, max, seconds, status, flags) as text."""
    head = ["student", "score", "max", "seconds", "status", "flags"]
    body = [[r["student"], f"{r['score']:g}", f"{r['max']:g}", f"{r['seconds']:.1f}",
             r["status"][:40], (f"{len(r['flags'])}: " + r["flags"][0][:60]) if r["flags"] else ""] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(b) for b in body])


def _executor_map(tasks: list[dict], jobs: int, executor: str):
    """Yield grade_submission results as they complete, locally (threads driving worker
    processes, ``jobs`` at a time) or on a Dask cluster (``dask://host:port``)."""
    if executor in ("", "local"):
        from concurrent.futures import ThreadPoolExecutor, as_completed

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(grade_submission, t) for t in tasks]
            for fut in as_completed(futures):
                yield fut.result()
        return
    if not executor.startswith("dask://"):
        raise ValueError(f"--executor must be 'local' or dask://HOST:PORT, got {executor!r}")
    from dask.distributed import Client, as_completed

    address = "tcp://" + executor[len("dask://"):]
    with Client(address, timeout=60) as client:
        futures = [client.submit(grade_submission, t, pure=False, key=f"dgm-grade-{i}-{secrets.token_hex(4)}")
                   for i, t in enumerate(tasks)]
        for fut in as_completed(futures):
            yield fut.result()


def autograde(root, assignment: str, *, jobs: int | None = None, executor: str = "local",
              limits: dict | None = None, db_url: str | None = None, students: list[str] | None = None,
              progress: bool = True, log=print) -> list[dict]:
    """Grade every ``submitted/<student>/<assignment>/`` of the course at ``root``.

    jobs: submissions at a time (default: the number of cores); executor: "local" or
    "dask://HOST:PORT"; limits: overrides of DEFAULT_LIMITS; db_url: the gradebook
    (default: the config's); students: only these. Writes the gradebook and
    ``autograded/<student>/<assignment>/`` (the graded notebook) and the instructor's
    report ``reports/<assignment>/grading/<student>.json`` (flags, run status).
    Returns one summary row per student, sorted: {student, score, max, seconds, status,
    flags}. Raises NothingToGrade when there is nothing to grade.
    """
    import nbformat

    from ..course import load_config
    from ..notebooks import fill_answers, read_notebook
    from . import store
    from .graded import graded_notebook
    from .trusted import build_trusted

    root = Path(root).resolve()
    sweep_stale_folders()
    cfg = load_config(root)
    dirs = store.course_dirs(cfg)
    course_id = cfg.get("CourseDirectory", {}).get("course_id", "")
    db_url = store.resolve_db_url(root, cfg, db_url)
    limits = dict(DEFAULT_LIMITS, **(limits or {}))
    source_dir = root / dirs["source"] / assignment
    names = sorted(p.stem for p in source_dir.glob("*.ipynb"))
    if not names:
        raise NothingToGrade(f"no notebook in {source_dir}")
    release_dir = root / dirs["release"] / assignment
    if store.ensure_assignment(root, assignment, db_url, names) or not all(
            (release_dir / f"{n}.ipynb").exists() for n in names):
        log(f"registered {assignment} in the gradebook and regenerated {release_dir}")
        if not all((release_dir / f"{n}.ipynb").exists() for n in names):
            from ..course import api

            api(root, **{"CourseDirectory.db_url": db_url}).generate_assignment(assignment, force=True, create=True)
    sources = {n: read_notebook(source_dir / f"{n}.ipynb") for n in names}
    releases = {n: read_notebook(release_dir / f"{n}.ipynb") for n in names}
    files = release_files(release_dir)
    submitted = root / dirs["submitted"]
    everyone = sorted(d.name for d in submitted.iterdir() if (d / assignment).is_dir()) if submitted.is_dir() else []
    chosen = [s for s in everyone if students is None or s in students]
    if not chosen:
        raise NothingToGrade(f"no submissions in {submitted}/*/{assignment}/")

    # Reference run: the instructor's own solution, in the same sandbox (without the user
    # switch). It must earn every point; the modules it loads are preloaded for students.
    preload: list[str] = []
    with tempfile.TemporaryDirectory(prefix="dgm-reference-") as tmp:
        for n in names:
            path = Path(tmp) / f"{n}.ipynb"
            nbformat.write(fill_answers(releases[n], sources[n]), str(path))
            ref_trusted = build_trusted(sources[n], releases[n], path, n)
            ref = run_worker(ref_trusted, files, limits, instructor_imports(ref_trusted), None)
            ref_score = score_notebook(ref_trusted, ref)
            if ref["status"] != "ok" or ref_score["auto"] != ref_score["auto_max"]:
                bad = [f"cell {i}: {r['ename']}: {str(r['evalue'])[:200]}" for i, r in sorted(ref["cells"].items())
                       if r["status"] != "ok"]
                log(f"WARNING: the solution of {n} earns {ref_score['auto']:g}/{ref_score['auto_max']:g} in the "
                    f"sandbox ({ref['status']}); students cannot do better:\n  " + "\n  ".join(bad or [ref["log"]]))
            preload += [m for m in (ref["modules"] or instructor_imports(ref_trusted)) if m not in preload]

    tasks = []
    for student in chosen:
        folder = submitted / student / assignment
        notebooks = [build_trusted(sources[n], releases[n], folder / f"{n}.ipynb", n) for n in names]
        tasks.append({"student": student, "notebooks": notebooks, "files": files, "limits": limits,
                      "preload": preload})
    by_student = {t["student"]: t for t in tasks}
    jobs = jobs or os.cpu_count() or 1
    rows = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(tasks), desc=f"grading {assignment}", unit="submission", file=sys.stderr)
    try:
        for result in _executor_map(tasks, jobs, executor):
            student = result["student"]
            task = by_student[student]
            folder = submitted / student / assignment
            out_dir = root / dirs["autograded"] / student / assignment
            if out_dir.exists():
                shutil.rmtree(out_dir)
            out_dir.mkdir(parents=True)
            for rel, data in files.items():
                (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                (out_dir / rel).write_bytes(data)
            if (folder / "timestamp.txt").exists():
                shutil.copy(folder / "timestamp.txt", out_dir / "timestamp.txt")
            flags, status, score, score_max = [], "ok", 0.0, 0.0
            for trusted, nb_result in zip(task["notebooks"], result["notebooks"]):
                run, sc = nb_result["run"], nb_result["score"]
                nb = graded_notebook(sources[trusted["name"]], trusted, run, sc)
                nbformat.write(nb, str(out_dir / f"{trusted['name']}.ipynb"))
                flags += trusted["flags"] + run_flags(run)
                status = run["status"] if status == "ok" else status
                score += sc["auto"]
                score_max += sc["auto_max"]
            store.save_grades(db_url, course_id, assignment, student, store.read_timestamp(folder),
                              [{"name": nbr["name"], "scores": nbr["score"]["scores"],
                                "untouched": nbr["score"]["untouched"]} for nbr in result["notebooks"]])
            row = {"student": student, "score": score, "max": score_max, "seconds": result["seconds"],
                   "status": status, "flags": flags}
            report = store.report_path(root, assignment, student)
            report.parent.mkdir(parents=True, exist_ok=True)
            report.write_text(json.dumps(
                dict(row, notebooks=[{"name": n["name"], "status": n["run"]["status"], "scores": n["score"]["scores"],
                                      "log": n["run"]["log"]} for n in result["notebooks"]]), indent=1))
            rows.append(row)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return sorted(rows, key=lambda r: r["student"])
