"""Where isolation is enforced: the student process and the OS sandbox around it.

Every submission's answer code runs in a *student process* started here, and nowhere else.
The checker (``checker.py``), which runs the tests and decides the grade, talks to it only
through the two pipes of ``channel.py`` and never executes student code itself.

With bubblewrap (``bwrap``, the default) the student process gets:

- a mount namespace that shows only: /usr, /lib, /lib64, /bin (read-only, the system
  libraries), the Python installation and the virtual environment (read-only, their library
  folders only), ``dgm_utils`` and the three ``dgm_course`` modules the student side needs
  (read-only, at /opt/dgm), the release's data files (read-only), a fresh /proc and /dev, and
  an empty scratch folder /tmp (a tmpfs of ``scratch_mb``, its working directory and HOME).
  The repository, solutions/, submitted/, autograded/, the gradebook and every other scratch
  folder do not exist in it;
- new PID, network (no interface but a down loopback), IPC, UTS and cgroup namespaces;
- an unprivileged user: started as root, bwrap sets up the mounts and ``setpriv`` then drops
  to a uid/gid of its own (a random one above 300000, so the process limit of one sandbox is
  not shared with another) with no capabilities, an empty bounding set and no_new_privs;
  started as another user, bwrap maps that user to 65534 in a new user namespace and forbids
  nested ones;
- ``--die-with-parent`` and ``--new-session``: when the checker dies, the sandbox is killed;
  when the student process (PID 1's child) ends for any reason, the PID namespace ends and
  the kernel kills everything it started;
- rlimits: address space (``memory_mb``), CPU seconds, file size, processes (counted per
  uid: per sandbox when started as root), open files, no core dumps;
- when the machine lets the grader create cgroups (v1 ``memory`` and ``pids`` controllers), a
  cgroup per sandbox caps the memory and the number of processes of everything in it together
  (a fork bomb of memory hogs cannot exhaust the machine); ``StudentProcess.cgroups`` says
  which caps were applied.

``--no-sandbox`` (``mode="none"``) keeps the process boundary (a separate process, its own
scratch folder, the rlimits) but none of the above: the student process runs as the grading
user and sees its files. ``dgm-course autograde`` refuses to run without bwrap unless asked.
"""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SANDBOX_UID = 65534  # nobody: the uid inside a user namespace (grading as a normal user)
UID_BASE, UID_RANGE = 300_000, 100_000  # as root, each sandbox gets a uid of its own from this range
STUDENT_MODULES = ("__init__.py", "channel.py", "student.py")  # what the student side imports from dgm_course


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces here."""


@dataclasses.dataclass
class SandboxConfig:
    """How student processes are started.

    mode: "bwrap" (OS sandbox) or "none" (process boundary only); memory_mb: address-space
    limit; cpu_seconds: CPU-time limit of the student process; fsize_mb: largest file it may
    write; scratch_mb: size of its /tmp; nproc: processes of the sandbox user (all sandboxes);
    nofile: open files; files: {relative path: host path} of the release's data files, shown
    read-only in its working directory; mpl_cache: a matplotlib font list to show (optional).
    """

    mode: str = "bwrap"
    memory_mb: int = 2048
    cpu_seconds: int = 900
    fsize_mb: int = 64
    scratch_mb: int = 64
    nproc: int = 256
    nofile: int = 512
    files: dict[str, str] = dataclasses.field(default_factory=dict)
    mpl_cache: str | None = None


def bwrap_path() -> str | None:
    """The bwrap executable, or None."""
    return shutil.which("bwrap")


def check_bwrap() -> None:
    """Raise SandboxUnavailable with what to do when bwrap is missing or does not work."""
    exe = bwrap_path()
    if exe is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed, so student code cannot be sandboxed. Install it "
            "(Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install bubblewrap) or pass "
            "--no-sandbox to grade with the process boundary alone (not recommended: student code then "
            "runs as you and can read your files).")
    probe = subprocess.run(_bwrap_prefix(SandboxConfig()) + ["/bin/true"], capture_output=True, text=True,
                           timeout=60)
    if probe.returncode != 0:
        raise SandboxUnavailable(f"bubblewrap cannot create a sandbox here ({probe.stderr.strip()[:300]}); "
                                 "user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone=1) "
                                 "or pass --no-sandbox")


def _python_roots() -> list[tuple[str, str]]:
    """(host path, sandbox path) of the Python installation and the virtual environment's
    library folders, read-only, at their own paths (so the interpreter finds itself)."""
    binds = [(sys.base_prefix, sys.base_prefix)]
    if sys.prefix != sys.base_prefix:
        for part in ("bin", "lib", "lib64", "pyvenv.cfg"):
            path = os.path.join(sys.prefix, part)
            if os.path.lexists(path) and not os.path.islink(path):
                binds.append((path, path))
    return binds


def _parents(path: str, made: set[str]) -> list[str]:
    """bwrap arguments creating every missing parent folder of ``path`` with mode 0755 (bwrap
    makes them 0700 otherwise, which the unprivileged user cannot cross)."""
    args = []
    parts = Path(path).parent.parts
    for i in range(2, len(parts) + 1):
        folder = str(Path(*parts[:i]))
        if folder not in made and folder not in ("/tmp", "/usr", "/lib", "/lib64", "/bin", "/proc", "/dev"):
            made.add(folder)
            args += ["--perms", "0755", "--dir", folder]
    return args


def _bwrap_prefix(cfg: SandboxConfig, uid: int = SANDBOX_UID) -> list[str]:
    """bwrap and its options up to the command (namespaces, mounts, environment); as root, the
    command then drops to ``uid``."""
    args = [bwrap_path() or "bwrap", "--die-with-parent", "--new-session",
            "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    if os.geteuid() != 0:
        args += ["--unshare-user", "--disable-userns", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
    for system in ("/usr", "/lib", "/lib64", "/bin", "/sbin"):
        if os.path.exists(system):
            args += ["--ro-bind", system, system] if not os.path.islink(system) else \
                ["--symlink", os.readlink(system), system]
    args += ["--ro-bind-try", "/etc/alternatives", "/etc/alternatives",
             "--proc", "/proc", "--dev", "/dev", "--size", str(16 * 2**20), "--perms", "01777", "--tmpfs", "/dev/shm",
             "--size", str(cfg.scratch_mb * 2**20), "--perms", "01777", "--tmpfs", "/tmp"]
    made: set[str] = set()
    for host, inside in _python_roots():
        args += _parents(inside, made) + ["--ro-bind", host, inside]
    package = Path(__file__).resolve().parent
    utils = package.parent / "dgm_utils"
    args += _parents("/opt/dgm/x", made) + ["--ro-bind", str(utils), "/opt/dgm/dgm_utils",
                                             "--perms", "0755", "--dir", "/opt/dgm/dgm_course"]
    for name in STUDENT_MODULES:
        args += ["--ro-bind", str(package / name), f"/opt/dgm/dgm_course/{name}"]
    args += ["--perms", "0777", "--dir", "/tmp/.mpl"]
    if cfg.mpl_cache:
        args += ["--ro-bind", cfg.mpl_cache, "/tmp/.mpl/" + os.path.basename(cfg.mpl_cache)]
    inside_files = {}
    for rel, host in sorted(cfg.files.items()):
        inside = os.path.normpath(os.path.join("/tmp", rel))
        if not inside.startswith("/tmp/") or inside.startswith("/tmp/.mpl"):
            raise ValueError(f"release file {rel!r} is outside the working directory")
        inside_files[inside] = host
    folders = {str(p) for f in inside_files for p in Path(f).parents if str(p).startswith("/tmp/")}
    for folder in sorted(folders, key=len):
        args += ["--perms", "0755", "--dir", folder]
    for inside, host in inside_files.items():
        args += ["--ro-bind", host, inside]
    args += ["--chdir", "/tmp", "--clearenv"]
    for key, value in student_env("/tmp", "/opt/dgm").items():
        args += ["--setenv", key, value]
    args += ["--"]
    if os.geteuid() == 0:
        args += [shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}",
                 "--clear-groups", "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs"]
    return args


def student_env(scratch: str, pythonpath: str) -> dict[str, str]:
    """The student process's whole environment."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": scratch, "TMPDIR": scratch,
            "MPLCONFIGDIR": os.path.join(scratch, ".mpl"), "MPLBACKEND": "Agg",
            "XDG_CACHE_HOME": os.path.join(scratch, ".cache"), "PYTHONPATH": pythonpath,
            "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
            "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TQDM_DISABLE": "1"}


def _limits(cfg: SandboxConfig, cgroups: Cgroups | None = None):
    """preexec_fn of the student process: its cgroups and rlimits (inherited by everything it
    starts)."""
    def apply():
        if cgroups is not None:
            cgroups.join()
        mb = 2**20
        for res, value in ((resource.RLIMIT_AS, cfg.memory_mb * mb), (resource.RLIMIT_CPU, cfg.cpu_seconds),
                           (resource.RLIMIT_FSIZE, cfg.fsize_mb * mb), (resource.RLIMIT_NPROC, cfg.nproc),
                           (resource.RLIMIT_NOFILE, cfg.nofile), (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(res, (value, value))
    return apply


class StudentProcess:
    """A running student process: ``cin`` (write) and ``cout`` (read) are the non-blocking
    pipe ends of the channel; what it prints is kept in ``log_tail()`` (never in feedback)."""

    LOG_BYTES = 64 * 1024

    def __init__(self, cfg: SandboxConfig):
        import secrets

        self.cfg = cfg
        self.scratch: str | None = None
        self.uid = UID_BASE + secrets.randbelow(UID_RANGE) if os.geteuid() == 0 else SANDBOX_UID
        self.cgroups = Cgroups(f"dgm-student-{secrets.token_hex(6)}",
                               (cfg.memory_mb + cfg.scratch_mb + 16) * 2**20, cfg.nproc)
        if cfg.mode == "bwrap":
            cmd = _bwrap_prefix(cfg, self.uid) + [sys.executable, "-m", "dgm_course.student"]
            env, cwd = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, "/"
        elif cfg.mode == "none":
            self.scratch = tempfile.mkdtemp(prefix="dgm-student-")
            for rel, host in cfg.files.items():
                dest = Path(self.scratch) / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(host, dest)
            (Path(self.scratch) / ".mpl").mkdir()
            if cfg.mpl_cache:
                shutil.copy(cfg.mpl_cache, Path(self.scratch) / ".mpl")
            cmd = [sys.executable, "-m", "dgm_course.student"]
            env = student_env(self.scratch, str(Path(__file__).resolve().parents[1]))
            cwd = self.scratch
        else:
            raise ValueError(f"sandbox mode must be 'bwrap' or 'none', got {cfg.mode!r}")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, cwd=cwd, preexec_fn=_limits(cfg, self.cgroups),
                                     start_new_session=True,
                                     close_fds=True)
        self.cin, self.cout = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        os.set_blocking(self.cin, False)
        os.set_blocking(self.cout, False)
        self._log = collections.deque()
        self._log_size = 0
        self._drain = threading.Thread(target=self._read_log, daemon=True)
        self._drain.start()

    def _read_log(self) -> None:
        fd = self.proc.stderr.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            self._log.append(chunk)
            self._log_size += len(chunk)
            while self._log_size > self.LOG_BYTES and len(self._log) > 1:
                self._log_size -= len(self._log.popleft())

    def log_tail(self) -> str:
        """The last lines the student process printed (for the instructor's report only)."""
        return b"".join(self._log)[-self.LOG_BYTES:].decode("utf-8", "replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the student process and everything it started (its process group, and with
        bwrap its whole PID namespace)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None
        self.cgroups.remove()

    def exit_reason(self) -> str:
        """Why the process ended, in words ("exit code 1", "killed by signal 9 (SIGKILL)")."""
        code = self.proc.poll()
        if code is None:
            return "still running"
        if self.cfg.mode == "bwrap" and code > 128:  # bwrap reports a child's signal as 128 + signal
            code = -(code - 128)
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = "?"
            hint = " (the memory or CPU limit, or a kill)" if -code in (signal.SIGKILL, signal.SIGXCPU) else ""
            return f"killed by signal {-code} ({name}){hint}"
        return f"exit code {code}"


class Cgroups:
    """Best effort: one cgroup per sandbox in the cgroup v1 ``memory`` and ``pids`` hierarchies,
    under the grader's own cgroup, capping the memory and the processes of everything in the
    sandbox together. ``applied`` lists the caps that could be set (none where the machine
    does not let the grader create cgroups: then the rlimits alone hold)."""

    ROOT = Path("/sys/fs/cgroup")

    def __init__(self, name: str, memory_bytes: int, pids: int):
        self.paths: list[Path] = []
        self.applied: list[str] = []
        for controller, limits in (("memory", {"memory.limit_in_bytes": memory_bytes}),
                                   ("pids", {"pids.max": pids})):
            base = self._own(controller)
            if base is None:
                continue
            path = base / name
            try:
                path.mkdir()
                for key, value in limits.items():
                    (path / key).write_text(str(value))
                if controller == "memory":  # swap counts too, when the kernel accounts it
                    with contextlib.suppress(OSError):
                        (path / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
                self.paths.append(path)
                self.applied.append(controller)
            except OSError:
                with contextlib.suppress(OSError):
                    path.rmdir()

    def _own(self, controller: str) -> Path | None:
        """This process's cgroup folder in a v1 hierarchy, if it exists and is writable."""
        try:
            for line in Path("/proc/self/cgroup").read_text().splitlines():
                _, controllers, path = line.split(":", 2)
                if controller in controllers.split(","):
                    folder = self.ROOT / controller / path.lstrip("/")
                    return folder if folder.is_dir() and os.access(folder, os.W_OK) else None
        except OSError:
            return None
        return None

    def join(self) -> None:
        """Move the calling process into the cgroups (runs in the child before exec)."""
        for path in self.paths:
            with contextlib.suppress(OSError):
                (path / "cgroup.procs").write_text(str(os.getpid()))

    def remove(self) -> None:
        for path in self.paths:
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # processes still leaving
                    time.sleep(0.02)
        self.paths = []


_CACHE_LOCK = threading.Lock()


def matplotlib_font_cache() -> str | None:
    """A matplotlib font list built once for this environment (shown read-only to student
    processes, so none of them rebuilds it); None when matplotlib is not installed."""
    import hashlib
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        return None
    key = hashlib.sha1(sys.prefix.encode()).hexdigest()[:10]
    folder = Path(tempfile.gettempdir()) / f"dgm-course-fontlist-{os.getuid()}-{key}"
    with _CACHE_LOCK:
        found = sorted(folder.glob("fontlist-*.json")) if folder.is_dir() else []
        if not found:
            build = Path(tempfile.mkdtemp(prefix="dgm-fontlist-"))
            env = dict(os.environ, MPLCONFIGDIR=str(build), MPLBACKEND="Agg")
            subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env=env, capture_output=True,
                           timeout=300, check=False)
            for path in [build, *build.iterdir()]:
                os.chmod(path, 0o755 if path.is_dir() else 0o644)
            try:
                build.rename(folder)
            except OSError:  # another process won the race
                shutil.rmtree(build, ignore_errors=True)
            found = sorted(folder.glob("fontlist-*.json"))
        return str(found[-1]) if found else None
