"""The OS sandbox of the student process (dgm_course/sandbox.py), probed from inside by student
code: what it sees, what it can reach, its limits, and that nothing it starts outlives it."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from shlex import quote as shlex_quote
import time
from pathlib import Path

import pytest

from boundary import forked_pair, require_bwrap, run_cells, status, student_template
from conftest import ROOT

pytestmark = pytest.mark.slow

PROBE = """
    import os, resource, socket, sys
    def probe(port, paths):
        out = {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups()}
        status = open("/proc/self/status").read().splitlines()
        out["status"] = {l.split(":")[0]: l.split(":")[1].strip() for l in status
                         if l.startswith(("CapEff", "CapPrm", "CapBnd", "NoNewPrivs"))}
        out["root"] = sorted(os.listdir("/"))
        out["visible"] = {p: os.path.exists(p) for p in paths}
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            out["net"] = "connected"
        except OSError as err:
            out["net"] = type(err).__name__
        out["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        out["limits"] = {n: resource.getrlimit(getattr(resource, n))[0]
                         for n in ("RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE")}
        out["cwd"] = os.getcwd()
        try:
            with open("fill.bin", "wb") as fh:
                for _ in range(300):
                    fh.write(b"0" * 2**20)
                    fh.flush()
            out["fill"] = "wrote 300 MB"
        except OSError as err:
            out["fill"] = err.errno
        finally:
            if os.path.exists("fill.bin"):
                os.remove("fill.bin")
        out["writable"] = []
        for p in ("/usr/x", "/opt/dgm/x", os.path.join(sys.prefix, "x"), "/proc/x", "/x"):
            try:
                open(p, "w").close()
                out["writable"].append(p)
            except OSError:
                pass
        return out
"""


@pytest.mark.parametrize("template", [True, False], ids=["template", "bwrap"])
def assert_path(results, template: bool) -> None:
    """The student process was forked from the template (as grading does as root) or started
    with bwrap, as the test asked."""
    from dgm_course.sandbox import ForkedStudentProcess, template_available

    forked = isinstance(results["_runner"].conn.proc, ForkedStudentProcess)
    assert forked == (template and template_available()), f"forked from the template: {forked}"


@pytest.mark.parametrize("template", [True, False], ids=["template", "bwrap"])
def test_the_student_process_sees_only_python_and_its_scratch(tmp_path, template):
    require_bwrap()
    secret = tmp_path / "other-student-scratch"
    secret.mkdir()
    (secret / "answers.txt").write_text("do not read")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    paths = [str(ROOT / "solutions"), str(ROOT / "course"), str(ROOT / "dgm_course" / "coordinator.py"),
             str(ROOT / "nbgrader_config.py"), str(secret), str(secret / "answers.txt"), "/etc/passwd",
             "/root/.bashrc", "/var", "/home"]
    r = run_cells(("answer", PROBE), ("test", f"info = probe({port}, {paths!r})"), memory_mb=1536, scratch_mb=64,
                  template=template)
    listener.close()
    assert status(r, 1) == "ok"
    assert_path(r, template)
    info = r["_runner"].ns["info"]
    if os.geteuid() == 0:  # a uid of its own, so that process limits are per sandbox
        assert info["uid"] >= 300_000 and info["gid"] == info["uid"] and info["groups"] == [], info
    else:
        assert info["uid"] == 65534 and info["gid"] == 65534, info
    assert info["status"]["CapEff"] == info["status"]["CapPrm"] == "0000000000000000"
    if os.geteuid() == 0:
        assert info["status"]["CapBnd"] == "0000000000000000" and info["status"]["NoNewPrivs"] == "1"
    assert not any(info["visible"].values()), f"visible from the sandbox: {info['visible']}"
    python_tops = {Path(p).parts[1] for p in (sys.prefix, sys.base_prefix)}  # wherever Python is installed
    allowed = {"bin", "dev", "lib", "lib64", "opt", "proc", "sbin", "tmp", "usr", "etc"} | python_tops
    assert set(info["root"]) <= allowed, f"{sorted(set(info['root']) - allowed)} at the sandbox's root"
    assert info["net"] != "connected", "the sandbox reached a server on the host's loopback"
    assert os.getpid() not in info["pids"] and len(info["pids"]) < 10, info["pids"]
    from dgm_course.sandbox import template_available

    if template and template_available():  # on top of what the template maps (its libraries: under 2 GB)
        assert 1536 * 2**20 < info["limits"]["RLIMIT_AS"] < (1536 + 2048) * 2**20, info["limits"]
    else:
        assert info["limits"]["RLIMIT_AS"] == 1536 * 2**20, info["limits"]
    assert info["limits"]["RLIMIT_CORE"] == 0
    assert info["limits"]["RLIMIT_FSIZE"] == 64 * 2**20 and info["limits"]["RLIMIT_NOFILE"] == 512
    assert info["fill"] in (27, 28), f"filling the scratch folder did not stop: {info['fill']}"
    assert info["cwd"] == "/tmp" and info["writable"] == [], info["writable"]


def _sleepers(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if (entry / "cmdline").read_bytes() == b"sleep\0" + marker.encode() + b"\0":
                found.append(int(entry.name))
        except OSError:
            continue
    return found


DAEMON = """
    import os, signal
    def daemon(marker):
        pid = os.fork()
        if pid == 0:
            os.setsid()
            if os.fork() == 0:
                for sig in (signal.SIGHUP, signal.SIGTERM):
                    signal.signal(sig, signal.SIG_IGN)
                os.execv("/bin/sleep", ["sleep", marker])
            os._exit(0)
        os.waitpid(pid, 0)
        return True
"""


@pytest.mark.parametrize("template", [True, False], ids=["template", "bwrap"])
def test_what_the_student_process_starts_ends_with_it(template):
    require_bwrap()
    marker = "4321.123"
    r = run_cells(("answer", DAEMON),
                  ("test", f"""
                      import time
                      from test_sandbox import _sleepers
                      assert daemon({marker!r})
                      time.sleep(0.5)
                      alive_during_run = len(_sleepers({marker!r}))"""), template=template)
    assert status(r, 1) == "ok"
    assert_path(r, template)
    assert r["_runner"].ns["alive_during_run"] == 1, "the daemon never ran: the test proves nothing"
    deadline = time.monotonic() + 10
    while _sleepers(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _sleepers(marker), "a daemon started by student code outlived its sandbox"


@pytest.mark.parametrize("template", [True, False], ids=["template", "bwrap"])
def test_killing_the_checker_ends_the_sandbox(tmp_path, template):
    """If the checker itself dies (kill -9) while student code runs, the student process and what
    it started die too (bwrap: --die-with-parent; forked from a template: its supervisor sees
    the checker go)."""
    from dgm_course.sandbox import template_available

    require_bwrap()
    if template and not template_available():
        pytest.skip("templates are used only when grading as root (the bwrap case covers this machine)")
    fd = student_template().fileno if template else None
    marker = f"4321.{456 + template}"
    script = tmp_path / "checker.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]
        from dgm_course.checker import Conn, Remote
        from dgm_course.sandbox import SandboxConfig
        import textwrap
        from test_sandbox import DAEMON
        conn = Conn(SandboxConfig(mode="bwrap", template_fd={fd!r}))
        conn.start()
        assert type(conn.proc).__name__ == {"ForkedStudentProcess" if template else "StudentProcess"!r}
        conn.deadline = time.monotonic() + 60
        conn.request({{"op": "exec", "source": textwrap.dedent(DAEMON), "filename": "<student-cell-0>"}})
        Remote(conn, "daemon", "daemon")({marker!r})
        conn.begin({{"op": "exec", "source": "while True: pass", "filename": "<student-cell-1>"}})  # deaf now
        print("ready", flush=True)
        time.sleep(600)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                            pass_fds=(fd,) if fd is not None else ())
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        assert len(_sleepers(marker)) == 1
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _sleepers(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _sleepers(marker), "the sandbox outlived its checker"
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in _sleepers(marker):
            os.kill(pid, signal.SIGKILL)


def test_autograde_refuses_without_bwrap_and_says_what_to_install(monkeypatch):
    from dgm_course import sandbox

    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    with pytest.raises(sandbox.SandboxUnavailable) as err:
        sandbox.check_bwrap()
    assert "apt-get install bubblewrap" in str(err.value) and "--no-sandbox" in str(err.value)


@pytest.mark.parametrize("template", [True, False], ids=["template", "bwrap"])
def test_a_sandbox_of_memory_hogs_cannot_take_the_machine(template):
    """Forked processes each under the per-process memory limit: the sandbox's cgroup caps their
    sum (here 4 x the headroom under a 1536 MB limit), and the process cap stops a fork bomb."""
    from dgm_course.sandbox import Cgroups

    require_bwrap()
    probe = Cgroups("dgm-probe", 2**30, 64)
    probe.remove()
    if os.geteuid() == 0 and os.access("/sys/fs/cgroup/memory", os.W_OK):
        assert probe.applied == ["memory", "pids"], "cgroups are writable here but were not applied"
    else:
        pytest.skip("this machine does not let the grader create cgroups (the rlimits alone hold)")
    r = run_cells(("answer", """
        import os, resource, time
        def headroom_mb():
            # what one more allocation may take under the address-space limit (the process
            # already maps the interpreter and its libraries)
            vm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmSize:"))
            return resource.getrlimit(resource.RLIMIT_AS)[0] // 2**20 - vm // 1024 - 64
        def hogs(n, mb):
            # how many hogs hold all their memory at once: each writes its index on a pipe once
            # every page is touched, then sleeps; counted when all have written or died (or after
            # 25 s on a busy machine: a hog still touching then holds less than its share)
            r, w = os.pipe()
            pids = []
            for k in range(n):
                try:
                    pid = os.fork()
                except (OSError, MemoryError):  # the cap may also refuse the fork itself
                    break
                if pid == 0:  # never return into the student process's loop
                    try:
                        block = bytearray(mb * 2**20)
                        for i in range(0, len(block), 4096):
                            block[i] = 1
                        os.write(w, bytes([k]))
                        time.sleep(30)
                    finally:
                        os._exit(0)
                pids.append(pid)
            os.close(w)
            alive, holding, deadline = dict(enumerate(pids)), set(), time.monotonic() + 25
            os.set_blocking(r, False)
            while time.monotonic() < deadline:
                try:
                    holding |= set(os.read(r, 64))
                except BlockingIOError:
                    pass
                for k, pid in list(alive.items()):
                    if os.waitpid(pid, os.WNOHANG)[0] != 0:
                        del alive[k]
                if all(k in holding or k not in alive for k in range(len(pids))):
                    break
                time.sleep(0.1)
            return len([k for k in holding if k in alive])
        def bomb():
            n = 0
            try:
                while True:
                    if os.fork() == 0:
                        time.sleep(30)
                        os._exit(0)
                    n += 1
            except OSError:
                return n
        """),
        ("test", "mb = headroom_mb()"),
        ("test", "alive = hogs(4, mb)"),
        ("test", "forks = bomb()"),
        memory_mb=1536, timeout=30, template=template)
    assert_path(r, template)
    ns = r["_runner"].ns
    # each hog fits under the address-space limit; 4 of them do not fit in the sandbox's cgroup
    # (1536 MB + the scratch folder)
    assert status(r, 1) == "ok" and ns["mb"] >= 500, f"{ns.get('mb')} MB of headroom under a 1.5 GB limit"
    assert status(r, 2) == "ok" and ns["alive"] < 4, f"{ns.get('alive')} hogs of {ns['mb']} MB lived in 1.5 GB"
    assert status(r, 3) == "ok" and ns["forks"] < 256, ns.get("forks")


LEAVE = """
    import ctypes, os, socket
    def leave(marker):
        open("/tmp/" + marker, "w").write("left")
        open("/dev/shm/" + marker, "w").write("left")
        libc = ctypes.CDLL(None, use_errno=True)
        shm = libc.shmget(0x5EED, 4096, 0o1666)  # IPC_CREAT | rw for everyone
        sock = socket.socket(socket.AF_UNIX)
        sock.bind("\\0" + marker)
        sock.listen(1)
        globals()["_keep"] = sock
        return shm >= 0, os.getuid()

    def find(marker):
        found = [p for p in ("/tmp/" + marker, "/dev/shm/" + marker) if os.path.exists(p)]
        if ctypes.CDLL(None, use_errno=True).shmget(0x5EED, 0, 0) >= 0:
            found.append("SysV shared memory")
        try:
            socket.socket(socket.AF_UNIX).connect("\\0" + marker)
            found.append("abstract socket")
        except OSError:
            pass
        return found, os.getuid()
"""


def test_a_student_process_finds_nothing_another_one_left():
    """Student processes forked from the same template (a worker grading one submission after
    another, or a restart) share nothing: files in /tmp and /dev/shm, SysV IPC objects and
    abstract sockets made by one are not there for the next, even while the first still runs,
    nor is its uid."""
    from dgm_course.checker import Remote
    from dgm_course.sandbox import template_available

    require_bwrap()
    if not template_available():
        pytest.skip("templates are used only when grading as root; every bwrap sandbox is fresh anyway")
    with forked_pair(LEAVE) as conns:
        made, uid1 = Remote(conns[0], "leave", "leave")("dgm-leak-1")
        assert made and sorted(Remote(conns[0], "find", "find")("dgm-leak-1")[0]) == sorted(
            ["/tmp/dgm-leak-1", "/dev/shm/dgm-leak-1", "SysV shared memory", "abstract socket"])
        found, uid2 = Remote(conns[1], "find", "find")("dgm-leak-1")  # the first one is still alive
        assert found == [], f"left by another student process: {found}"
        assert uid2 != uid1


def test_cgroups_left_by_a_killed_checker_are_swept_but_not_live_ones():
    from dgm_course.sandbox import Cgroups

    empty, busy = Cgroups("dgm-student-sweep-empty", 2**30, 64), Cgroups("dgm-student-sweep-busy", 2**30, 64)
    if not empty.paths:
        empty.remove()
        busy.remove()
        pytest.skip("this machine does not let the grader create cgroups")
    sleeper = subprocess.Popen(["sleep", "30"], preexec_fn=busy.join)
    try:
        # only this test's cgroups: other tests' sandboxes are running
        assert Cgroups.sweep(older_than=0, prefix="dgm-student-sweep-") == len(empty.paths)
        assert not any(p.exists() for p in empty.paths), "an empty cgroup was not swept"
        assert all(p.exists() for p in busy.paths), "a cgroup with a live process in it was removed"
    finally:
        sleeper.kill()
        sleeper.wait()
        busy.remove()


def test_a_dead_template_falls_back_to_bwrap():
    """If a worker's template died, the student process starts with bwrap instead (same
    sandbox, slower) and the notebook is graded."""
    from dgm_course.sandbox import SandboxConfig, StudentProcess, StudentTemplate, template_available

    require_bwrap()
    if not template_available():
        pytest.skip("templates are used only when grading as root")
    dead = StudentTemplate(SandboxConfig())
    os.killpg(dead.proc.pid, signal.SIGKILL)  # bwrap; the template inside dies with it (--die-with-parent)
    dead.proc.wait()
    dead.sock.settimeout(10)
    assert dead.sock.recv(16) == b"", "the template outlived bwrap"  # its end of the socket is closed
    dead.sock.settimeout(None)
    try:
        r = run_cells(("answer", "def f(x):\n    return x + 1"), ("test", "assert f(1) == 2"), template=False,
                      template_fd=dead.fileno)
        assert status(r, 1) == "ok"
        assert type(r["_runner"].conn.proc) is StudentProcess and r["_runner"].conn.cfg.template_fd is None
    finally:
        dead.close()


VENV_UNDER_TMP = """
import json, sys
sys.path.insert(0, {tests!r})
from boundary import run_cells, status
from dgm_course.sandbox import ForkedStudentProcess
r = run_cells(("answer", STUDENT), ("test", "assert lazy.endswith('__init__.py')"), memory_mb=2048, timeout=60)
print(json.dumps({{"prefix": sys.prefix, "forked": isinstance(r["_runner"].conn.proc, ForkedStudentProcess),
                  "answer": status(r, 0), "test": status(r, 1)}}))
"""
STUDENT_UNDER_TMP = """
import os, sys
import torch._dynamo  # not preloaded by the template: imported from the virtual environment now
lazy = torch._dynamo.__file__
try:
    open(os.path.join(sys.prefix, "lib", "planted.py"), "w").close()
    raise RuntimeError("the virtual environment is writable from the sandbox")
except OSError:
    pass
mounts = [line.split() for line in open("/proc/self/mountinfo")]
venv_mounts = [(m[4], m[5]) for m in mounts if m[4].startswith(sys.prefix)]
if not venv_mounts or any("ro" not in options.split(",") for _, options in venv_mounts):
    raise RuntimeError(f"the virtual environment's mounts are not all read-only: {venv_mounts}")
"""


def test_a_fork_sees_a_virtual_environment_that_lives_under_tmp(tmp_path):
    """Each fork of a template mounts a fresh /tmp. A virtual environment under /tmp (a clone made
    with mktemp) must stay visible to the student process, read-only, or modules imported lazily
    (here torch._dynamo, which the template does not preload) fail. This very .venv is bound at
    a path under /tmp in a private mount namespace, and the grading code runs from there."""
    import json
    import shutil

    from dgm_course.sandbox import template_available

    require_bwrap()
    if not template_available():
        pytest.skip("templates are used only when grading as root")
    assert shutil.which("unshare"), "unshare (util-linux) is needed to bind the venv under /tmp"
    inside = Path("/tmp") / f"dgm-venv-{os.getpid()}" / ".venv"
    script = VENV_UNDER_TMP.format(tests=str(Path(__file__).parent)).replace(
        "STUDENT", repr(STUDENT_UNDER_TMP))
    shell = (f"mkdir -p {inside} && mount --bind {sys.prefix} {inside} && "
             f"exec {inside}/bin/python -c {shlex_quote(script)}")
    try:
        out = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", shell],
                             capture_output=True, text=True, timeout=240, cwd=tmp_path)
    finally:
        shutil.rmtree(inside.parent, ignore_errors=True)
    assert out.returncode == 0, out.stderr[-3000:]
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["prefix"] == str(inside), info
    assert info["forked"], "the student process was not forked from a template"
    assert info["answer"] == "ok" and info["test"] == "ok", info
