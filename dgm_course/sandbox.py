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
STUDENT_MODULES = ("__init__.py", "channel.py", "student.py", "sandbox.py")  # the student side's dgm_course


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces here."""


@dataclasses.dataclass
class SandboxConfig:
    """How student processes are started.

    mode: "bwrap" (OS sandbox) or "none" (process boundary only); memory_mb: address-space
    limit (forked from a template: on top of the template's own mappings); cpu_seconds:
    CPU-time limit of the student process; fsize_mb: largest file it may write; scratch_mb:
    size of its /tmp; nproc: processes of the sandbox user (all sandboxes); nofile: open files;
    files: {relative path: host path} of the release's data files, shown read-only in its
    working directory; mpl_cache: a matplotlib font list to show (optional); template_fd: a
    socket to a template process (``StudentTemplate``) to fork student processes from, instead
    of starting each one with bwrap.
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
    template_fd: int | None = None


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


def _bwrap_prefix(cfg: SandboxConfig, uid: int = SANDBOX_UID, template: bool = False,
                  seccomp_fd: int | None = None) -> list[str]:
    """bwrap and its options up to the command (namespaces, mounts, environment); as root, the
    command then drops to ``uid``. ``template``: the command keeps root's capabilities (the
    template process forks every student process and sets each one up; see below)."""
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
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    args += ["--chdir", "/tmp", "--clearenv"]
    for key, value in student_env("/tmp", "/opt/dgm").items():
        args += ["--setenv", key, value]
    if template:
        return args + ["--cap-add", "ALL", "--"]
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


# ----------------------------------------------------------------------------- seccomp
# Kernel keyrings are not namespaced: a student process would share its session keyring with
# the grader that started it (and, through per-uid keyrings, with a later sandbox drawing the
# same uid). So every student process runs under a seccomp filter that refuses add_key,
# request_key and keyctl (EPERM), except keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL), which
# ``join_new_session_keyring`` calls first thing to leave the inherited keyring; it also refuses
# every system call of another ABI (32-bit or x32 calls would bypass the numbers below).

_SECCOMP = {"x86_64": (0xC000003E, 248, 249, 250, 0x40000000), "aarch64": (0xC00000B7, 217, 218, 219, None)}


def seccomp_program() -> bytes | None:
    """The filter above as a classic BPF program (what ``bwrap --seccomp`` and
    ``PR_SET_SECCOMP`` take); None on an architecture without a table here."""
    import errno
    import platform
    import struct

    entry = _SECCOMP.get(platform.machine())
    if entry is None:
        return None
    audit_arch, add_key, request_key, keyctl, x32 = entry
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | errno.EPERM
    # (code, k, jump-if-true label, jump-if-false label); None = fall through
    prog = [("", ld, 4, None, None), ("", jeq, audit_arch, None, "deny"), ("", ld, 0, None, None)]
    if x32 is not None:
        prog.append(("", jge, x32, "deny", None))
    prog += [("", jeq, add_key, "deny", None), ("", jeq, request_key, "deny", None),
             ("", jeq, keyctl, None, "allow"),
             ("", ld, 16, None, None), ("", jeq, 1, None, "deny"),  # option == KEYCTL_JOIN_SESSION_KEYRING
             ("", ld, 24, None, None), ("", jeq, 0, None, "deny"),  # name == NULL (low and high words)
             ("", ld, 28, None, None), ("", jeq, 0, "allow", "deny"),
             ("allow", ret, allow, None, None), ("deny", ret, deny, None, None)]
    where = {label: i for i, (label, *_rest) in enumerate(prog) if label}
    out = b""
    for i, (_, code, k, jt, jf) in enumerate(prog):
        jumps = [0 if target is None else where[target] - i - 1 for target in (jt, jf)]
        out += struct.pack("=HBBI", code, *jumps, k)
    return out


def install_seccomp() -> None:
    """Apply ``seccomp_program`` to this process (needs no_new_privs or CAP_SYS_ADMIN)."""
    import ctypes

    program = seccomp_program()
    if program is None:
        return

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    buf = ctypes.create_string_buffer(program)
    fprog = SockFprog(len(program) // 8, ctypes.addressof(buf))
    _check(_libc().prctl(22, 2, ctypes.byref(fprog), 0, 0), "install the seccomp filter")  # SECCOMP_MODE_FILTER


def join_new_session_keyring() -> None:
    """Leave the inherited session keyring for a new, empty one (best effort; the student side
    calls this before any student code)."""
    import ctypes
    import platform

    entry = _SECCOMP.get(platform.machine())
    if entry is not None:
        ctypes.CDLL(None, use_errno=True).syscall(ctypes.c_long(entry[3]), ctypes.c_long(1), ctypes.c_void_p(None))


class _LogTail:
    """What a student process prints (its stderr, where its stdout goes too), last 64 kB, for the
    instructor's report only."""

    LOG_BYTES = 64 * 1024

    def _start_log(self, fd: int, close: bool = False) -> None:
        self._log = collections.deque()
        self._log_size = 0
        self._drain = threading.Thread(target=self._read_log, args=(fd, close), daemon=True)
        self._drain.start()

    def _read_log(self, fd: int, close: bool) -> None:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                if close:
                    os.close(fd)
                return
            self._log.append(chunk)
            self._log_size += len(chunk)
            while self._log_size > self.LOG_BYTES and len(self._log) > 1:
                self._log_size -= len(self._log.popleft())

    def log_tail(self) -> str:
        """The last lines the student process printed (for the instructor's report only)."""
        return b"".join(self._log)[-self.LOG_BYTES:].decode("utf-8", "replace")


class StudentProcess(_LogTail):
    """A running student process: ``cin`` (write) and ``cout`` (read) are the non-blocking
    pipe ends of the channel; what it prints is kept in ``log_tail()`` (never in feedback)."""

    def __init__(self, cfg: SandboxConfig):
        import secrets

        self.cfg = cfg
        self.scratch: str | None = None
        self.uid = UID_BASE + secrets.randbelow(UID_RANGE) if os.geteuid() == 0 else SANDBOX_UID
        self.cgroups = Cgroups(f"dgm-student-{secrets.token_hex(6)}",
                               (cfg.memory_mb + cfg.scratch_mb + 16) * 2**20, cfg.nproc)
        pass_fds: tuple = ()
        if cfg.mode == "bwrap":
            program = seccomp_program()
            if program is not None:
                seccomp_fd = os.memfd_create("dgm-seccomp", 0)  # inherited by bwrap, which reads it
                os.write(seccomp_fd, program)
                os.lseek(seccomp_fd, 0, os.SEEK_SET)
                pass_fds = (seccomp_fd,)
            cmd = _bwrap_prefix(cfg, self.uid, seccomp_fd=pass_fds[0] if pass_fds else None) + [
                sys.executable, "-m", "dgm_course.student"]
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
                                     close_fds=True, pass_fds=pass_fds)
        for fd in pass_fds:
            os.close(fd)
        self.cin, self.cout = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        os.set_blocking(self.cin, False)
        os.set_blocking(self.cout, False)
        self._start_log(self.proc.stderr.fileno())

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout: float | None = None) -> int:
        return self.proc.wait(timeout=timeout)

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

    @classmethod
    def sweep(cls, older_than: float = 600.0, prefix: str = "dgm-student-") -> int:
        """Remove the empty per-sandbox cgroups (``prefix``...) older than ``older_than`` seconds
        that a killed checker left behind (a cgroup with processes in it is never removed);
        returns how many."""
        removed = 0
        for controller in ("memory", "pids"):
            base = cls._own(cls, controller)
            if base is None:
                continue
            for path in base.glob(prefix + "*"):
                try:
                    if time.time() - path.stat().st_mtime > older_than:
                        path.rmdir()
                        removed += 1
                except OSError:
                    continue
        return removed

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


# ----------------------------------------------------------------------------- the template
#
# Starting a student process costs bwrap, a Python interpreter and the imports of numpy, torch,
# scipy and matplotlib: most of the grading time of a short notebook. So (when grading as root,
# the usual case on a grading server or in a container) each grading worker starts one
# *template*: a Python process in a bwrap sandbox like the one above, which imports those
# libraries once, never runs student code, and forks every student process of that worker.
# Each fork gets a sandbox of its own before it runs anything else (``_forked_student``):
#
# - new mount, PID, network, IPC and UTS namespaces; a fresh tmpfs scratch folder /tmp and
#   /dev/shm; the release's data files written into it (and, read-only, the Python folders that
#   live under /tmp, as in the bwrap sandbox); a fresh /proc of its own PID namespace
#   (it is PID 1 there: when it ends, the kernel kills everything it started);
# - its memory and pids cgroups (the checker opens their ``cgroup.procs``; the fork joins them);
# - the rlimits, then a uid/gid of its own (random, above 300000), no groups, an empty bounding
#   set, no capabilities, no_new_privs; every file descriptor but its three pipes closed;
# - a supervisor (the fork's parent, our code) that SIGKILLs it when the checker asks or goes
#   away, and reports its exit status to the checker.
#
# The template's own namespaces are shared by nothing else, and each fork replaces every one a
# student could use to reach another submission. Where the template is not available (not
# root, or it died), the checker starts each student process with bwrap as above.

PRELOAD = ("numpy", "scipy.special", "scipy.stats", "scipy.linalg", "torch", "torch.nn", "torch.nn.functional",
           "matplotlib", "matplotlib.pyplot", "sklearn.mixture", "tqdm.auto", "IPython.core.inputtransformer2",
           "dgm_utils", "dgm_utils.checks", "dgm_utils.data", "dgm_utils.plotting", "dgm_utils.seeding",
           "dgm_utils.training", "dgm_course.student")
_CLONE_NEWNS, _CLONE_NEWUTS, _CLONE_NEWIPC, _CLONE_NEWPID, _CLONE_NEWNET = \
    0x00020000, 0x04000000, 0x08000000, 0x20000000, 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = \
    1, 2, 4, 8, 32, 4096, 16384, 1 << 18
_PR_SET_PDEATHSIG, _PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS = 1, 24, 38
MAX_REQUEST = 64 * 1024


def await_ready(sock, timeout: float) -> bool:
    """Whether a template's first message, b"ready", arrives on ``sock`` within ``timeout``."""
    sock.settimeout(timeout)
    try:
        ready = sock.recv(16)
    except OSError:
        ready = b""
    sock.settimeout(None)
    return ready == b"ready"


def template_available() -> bool:
    """Student processes can be forked from a template here: bwrap, and grading as root."""
    return os.geteuid() == 0 and bwrap_path() is not None and os.environ.get("DGM_COURSE_NO_TEMPLATE") != "1"


class TemplateGone(RuntimeError):
    """The template process is gone or refused the request."""


def send_request(sock, request: dict, fds: list[int], what: str = "the template process",
                 gone: type[Exception] = TemplateGone) -> None:
    """Ask a template on ``sock`` for a fork: ``request`` (JSON) and the descriptors it hands
    over; ``gone`` if the template is gone."""
    import json
    import socket

    try:
        socket.send_fds(sock, [json.dumps(request).encode()], fds)
    except OSError as err:
        raise gone(f"{what} is gone ({err})") from None


class TemplateProcess:
    """The grading worker's end of a template process: a Python process that imports the
    libraries once, then forks a child for each request sent on a socket (``serve_forks``).
    Subclasses give the command; the last argument appended is the socket's descriptor."""

    Gone = TemplateGone
    what = "the template process"

    def __init__(self, cmd: list[str], env: dict[str, str], cwd: str, startup_timeout: float, wait: bool,
                 preexec_fn=None):
        import socket

        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(cmd + [str(theirs.fileno())], pass_fds=(theirs.fileno(),),
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, env=env, cwd=cwd, start_new_session=True,
                                         preexec_fn=preexec_fn)
        except BaseException:
            mine.close()
            raise
        finally:
            theirs.close()
        self.sock = mine
        self.startup_timeout = startup_timeout
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        """Wait for the template's "ready" (its imports done); ``Gone`` if it does not come."""
        if not await_ready(self.sock, self.startup_timeout):
            self.close()
            raise self.Gone(f"{self.what} did not start")

    @property
    def fileno(self) -> int:
        return self.sock.fileno()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, request: dict, fds: list[int]) -> None:
        """Ask the template for a fork (``send_request``); ``Gone`` if the template is gone."""
        send_request(self.sock, request, fds, self.what, self.Gone)

    def close(self) -> None:
        self.sock.close()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


def serve_forks(fd: int, preload: tuple[str, ...], max_fds: int, valid, child) -> None:
    """The template's side: import ``preload``, say "ready" on the socket ``fd``, then for each
    request whose ``valid(request, fds)`` holds fork ``child(request, fds, fd)`` (which never
    returns), until the socket closes. Malformed requests are dropped, their descriptors closed."""
    import importlib
    import json
    import socket

    for name in preload:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    sock = socket.socket(fileno=fd)
    sock.send(b"ready")
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, MAX_REQUEST, max_fds)
        except OSError:
            return
        if not message:
            return
        try:
            request = json.loads(message)
            if not isinstance(request, dict) or not valid(request, fds):
                raise ValueError("bad request")
        except (ValueError, KeyError, TypeError, AttributeError):
            for f in fds:
                os.close(f)
            continue
        if os.fork() == 0:
            try:
                child(request, fds, fd)
            finally:
                os._exit(70)
        for f in fds:
            os.close(f)


class StudentTemplate(TemplateProcess):
    """The grading worker's end of a student template: it imports the student side's libraries
    once inside bwrap and forks every student process (``ForkedStudentProcess``)."""

    def __init__(self, cfg: SandboxConfig, startup_timeout: float = 180.0, wait: bool = True):
        cmd = _bwrap_prefix(cfg, template=True) + [sys.executable, "-m", "dgm_course.sandbox", "template"]
        super().__init__(cmd, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, "/", startup_timeout, wait)


def _pack_files(files: dict[str, str]) -> int:
    """A memory file holding the release's data files (path and content, length-prefixed)."""
    fd = os.memfd_create("dgm-files")
    for rel, host in sorted(files.items()):
        data = Path(host).read_bytes()
        name = rel.encode()
        os.write(fd, len(name).to_bytes(4, "big") + name + len(data).to_bytes(8, "big"))
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


class ForkedStudentProcess(_LogTail):
    """A student process forked from a template (the same interface as ``StudentProcess``)."""

    def __init__(self, cfg: SandboxConfig, template_fd: int):
        import secrets
        import socket

        self.cfg = cfg
        self.scratch = None
        self.uid = UID_BASE + secrets.randbelow(UID_RANGE)
        self.cgroups = Cgroups(f"dgm-student-{secrets.token_hex(6)}",
                               (cfg.memory_mb + cfg.scratch_mb + 16) * 2**20, cfg.nproc)
        self._status: int | None = None
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        self.ctl, ctl_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        theirs = [in_r, out_w, err_w, ctl_theirs.fileno()]
        files = _pack_files(cfg.files)
        theirs.append(files)
        cgroup_fds = []
        for path in self.cgroups.paths:
            with contextlib.suppress(OSError):
                cgroup_fds.append(os.open(path / "cgroup.procs", os.O_WRONLY))
        theirs += cgroup_fds
        request = {"uid": self.uid, "memory_mb": cfg.memory_mb, "cpu_seconds": cfg.cpu_seconds,
                   "fsize_mb": cfg.fsize_mb, "scratch_mb": cfg.scratch_mb, "nproc": cfg.nproc, "nofile": cfg.nofile,
                   "cgroups": len(cgroup_fds)}
        self.started = time.monotonic()
        try:
            template = socket.socket(fileno=os.dup(template_fd))
            try:
                send_request(template, request, theirs)
            finally:
                template.close()
        except TemplateGone:
            for fd in (in_w, out_r, err_r):
                os.close(fd)
            self.ctl.close()
            self.cgroups.remove()
            raise
        finally:
            for fd in theirs[:3] + theirs[4:]:
                os.close(fd)
            ctl_theirs.close()
        self.cin, self.cout = in_w, out_r
        os.set_blocking(self.cin, False)
        os.set_blocking(self.cout, False)
        self._start_log(err_r, close=True)

    def _poll_status(self, timeout: float | None) -> int | None:
        """The supervisor's report of the exit status (waitpid's), waiting up to ``timeout``."""
        import select

        if self._status is not None:
            return self._status
        try:
            ready, _, _ = select.select([self.ctl], [], [], 0 if timeout is None else timeout)
            if ready:
                data = self.ctl.recv(64)
                self._status = int(data) if data.strip().lstrip(b"-").isdigit() else -1
        except (OSError, ValueError):
            self._status = -1
        return self._status

    def alive(self) -> bool:
        return self._poll_status(None) is None

    def wait(self, timeout: float | None = None) -> int:
        status = self._poll_status(timeout)
        if status is None:
            raise subprocess.TimeoutExpired("student", timeout)
        return status

    def kill(self) -> None:
        if self._status is None:
            with contextlib.suppress(OSError):
                self.ctl.send(b"k")
            self._poll_status(10)
        with contextlib.suppress(OSError):
            self.ctl.close()
        for fd in (self.cin, self.cout):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.cin = self.cout = -1
        self.cgroups.remove()

    def exit_reason(self) -> str:
        status = self._status if self._status is not None else self._poll_status(None)
        if status is None:
            return "still running"
        if status == -1:
            return "killed (its supervisor is gone)"
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        if os.WIFSIGNALED(status) or (code is not None and code > 128):  # PID 1 reports a signal as 128 + n
            sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else code - 128
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = "?"
            hint = " (the memory or CPU limit, or a kill)" if sig in (signal.SIGKILL, signal.SIGXCPU) else ""
            return f"killed by signal {sig} ({name}){hint}"
        return f"exit code {os.WEXITSTATUS(status)}"


# -- inside the template (runs as root in its bwrap sandbox; never runs student code)

def _libc():
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    import ctypes

    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(libc, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda v: v.encode() if v is not None else None  # noqa: E731
    _check(libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def _unpack_files(fd: int) -> list[tuple[str, bytes]]:
    out = []
    with os.fdopen(fd, "rb") as fh:
        while True:
            head = fh.read(4)
            if not head:
                return out
            name = fh.read(int.from_bytes(head, "big")).decode()
            out.append((name, fh.read(int.from_bytes(fh.read(8), "big"))))


def _drop_privileges(libc, uid: int) -> None:
    """No groups, an empty bounding set, uid/gid ``uid``, no capabilities, no_new_privs."""
    import ctypes

    os.setgroups([])
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for cap in range(last + 1):
        _check(libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0), "drop the bounding set")
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # clears the permitted and effective sets
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable (x2): all empty
    _check(libc.capset(header, data), "clear the capabilities")
    _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "set no_new_privs")


def _open_tmp_roots() -> list[tuple[str, int]]:
    """(path, O_PATH descriptor) of each Python folder (``_python_roots``) that lies under /tmp,
    where the template sees it (bwrap bound it there, read-only); a fork's fresh /tmp would hide
    it, and modules imported lazily (such as torch._dynamo) would then be missing."""
    return [(inside, os.open(inside, os.O_PATH | os.O_NOFOLLOW)) for _, inside in _python_roots()
            if inside.startswith("/tmp/")]


def _rebind_tmp_roots(libc, roots: list[tuple[str, int]]) -> None:
    """Bind each folder of ``_open_tmp_roots`` back at its path in the fresh /tmp, read-only,
    under parents of mode 0755 owned by root (as bwrap does); close the descriptors."""
    for inside, fd in roots:
        source = f"/proc/self/fd/{fd}"
        os.makedirs(os.path.dirname(inside), mode=0o755, exist_ok=True)
        if os.path.isdir(source):
            os.mkdir(inside, 0o755)
        else:
            os.close(os.open(inside, os.O_CREAT | os.O_WRONLY, 0o644))
        _mount(libc, source, inside, None, _MS_BIND | _MS_REC)
        _mount(libc, None, inside, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
        os.close(fd)


def _forked_student(request: dict, fds: list[int], template_fd: int) -> None:
    """The supervisor (this process), the PID 1 of a new PID namespace, and the student process
    under it: see the comment above ``PRELOAD``. Never returns."""
    import select
    import socket

    libc = _libc()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _check(libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "die with the template")
    os.close(template_fd)
    stdin_r, stdout_w, stderr_w, ctl_fd, files_fd, *cgroup_fds = fds
    ctl = socket.socket(fileno=ctl_fd)
    files = _unpack_files(files_fd)
    os.umask(0o022)
    _check(libc.unshare(_CLONE_NEWNS | _CLONE_NEWIPC | _CLONE_NEWNET | _CLONE_NEWUTS | _CLONE_NEWPID), "unshare")
    _mount(libc, None, "/", None, _MS_REC | _MS_PRIVATE)
    # a devpts instance of its own (the template's is shared by its forks)
    _mount(libc, "devpts", "/dev/pts", "devpts", _MS_NOSUID | _MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")
    scratch = int(request["scratch_mb"]) * 2**20 + sum(len(data) for _, data in files)
    python_under_tmp = _open_tmp_roots()
    _mount(libc, "tmpfs", "/tmp", "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={scratch},mode=1777")
    _rebind_tmp_roots(libc, python_under_tmp)
    _mount(libc, "tmpfs", "/dev/shm", "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={16 * 2**20},mode=1777")
    os.mkdir("/tmp/.mpl", 0o777)
    os.chmod("/tmp/.mpl", 0o777)
    for rel, data in files:
        inside = os.path.normpath(os.path.join("/tmp", rel))
        if not inside.startswith("/tmp/") or inside.startswith("/tmp/.mpl"):
            raise ValueError(f"release file {rel!r} is outside the working directory")
        os.makedirs(os.path.dirname(inside), mode=0o755, exist_ok=True)
        Path(inside).write_bytes(data)
        os.chmod(inside, 0o644)
    init = os.fork()
    if init == 0:  # PID 1 of the new namespace: mounts its /proc, joins the cgroups, reaps
        try:
            _check(libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "die with the supervisor")
            ctl.close()
            _mount(libc, "proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
            for fd in cgroup_fds:
                os.write(fd, b"0")
                os.close(fd)
            student = os.fork()
            if student == 0:
                _check(libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "die with PID 1")
                os.setsid()
                for target, fd in ((0, stdin_r), (1, stdout_w), (2, stderr_w)):
                    os.dup2(fd, target)
                for name in os.listdir("/proc/self/fd"):
                    if int(name) > 2:
                        with contextlib.suppress(OSError):
                            os.close(int(name))
                mb = 2**20
                # the address space beyond what the template maps (its pre-imported libraries), as
                # a fresh process's limit counts only what it maps itself
                mapped = next(int(line.split()[1]) for line in open("/proc/self/status")
                              if line.startswith("VmSize:")) * 1024
                for res, value in ((resource.RLIMIT_AS, mapped + request["memory_mb"] * mb),
                                   (resource.RLIMIT_CPU, request["cpu_seconds"]),
                                   (resource.RLIMIT_FSIZE, request["fsize_mb"] * mb),
                                   (resource.RLIMIT_NPROC, request["nproc"]),
                                   (resource.RLIMIT_NOFILE, request["nofile"]), (resource.RLIMIT_CORE, 0)):
                    resource.setrlimit(res, (value, value))
                _drop_privileges(libc, int(request["uid"]))
                install_seccomp()
                os.chdir("/tmp")
                from dgm_course import student as server

                server.main()
                os._exit(0)
            for fd in (stdin_r, stdout_w, stderr_w):
                os.close(fd)
            while True:
                pid, status = os.waitpid(-1, 0)
                if pid == student and not os.WIFSTOPPED(status):  # stopped: it made PID 1 its tracer
                    os._exit(128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))
        finally:
            os._exit(70)
    for fd in (stdin_r, stdout_w, stderr_w, *cgroup_fds):
        os.close(fd)
    pidfd = os.pidfd_open(init)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.register(ctl, select.POLLIN | select.POLLHUP | select.POLLERR)
    while True:
        events = dict(poller.poll())
        if pidfd in events:
            break
        if events:  # the checker asks (or went away): end the sandbox
            with contextlib.suppress(ProcessLookupError):
                os.kill(init, signal.SIGKILL)
            poller.unregister(ctl)
    _, status = os.waitpid(init, 0)
    with contextlib.suppress(OSError):
        ctl.send(str(status).encode())
    os._exit(0)


def _template_main(fd: int) -> None:
    """``python -m dgm_course.sandbox template FD``: import the libraries, then fork a student
    process for each request read on the socket FD, until it closes."""
    serve_forks(fd, PRELOAD, 16, lambda request, fds: len(fds) == 5 + int(request["cgroups"]), _forked_student)


if __name__ == "__main__":
    if sys.argv[1:2] == ["template"]:
        _template_main(int(sys.argv[2]))
