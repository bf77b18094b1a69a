"""Attacks on student processes forked from a student template (``sandbox.StudentTemplate``,
``sandbox._forked_student``), written as a hostile student would: each test runs student code
that tries to reach past its fork's sandbox and asserts that the protection holds.

The fork chain (grading as root): template (root, all capabilities, its own bwrap namespaces)
-> supervisor A (unshares mount/PID/net/IPC/UTS, fresh /tmp and /dev/shm, writes the data
files) -> B = PID 1 of the new PID namespace (mounts /proc, joins the cgroups, reaps) ->
C = the student process (random uid, no capabilities, no_new_privs, only its pipes).

Three weaknesses this review found are fixed, and their tests now guard the fixes:

- ``test_the_graders_session_keyring_is_out_of_reach[template]`` and ``[bwrap]``: the grader's
  session keyring (where it has one) was readable and writable by student code;
- ``test_a_reused_uid_finds_nothing_of_its_previous_sandbox``: per-uid keyrings outlived the
  sandbox (low: needs two sandboxes to draw the same random uid);
- ``test_concurrent_forks_share_no_terminal``: one devpts instance was shared by every fork of
  a template (low: needs two sandboxes of one template alive at once).

The fixes: a seccomp filter in every student process refusing the keyring system calls (and
every call of another ABI), a new anonymous session keyring joined before any student code
(``sandbox.seccomp_program``, ``sandbox.join_new_session_keyring``), and a devpts instance per
fork.

Every other test passes when the protection holds.

x86_64 only (raw syscall numbers); every test is skipped where templates are not used (not
grading as root, or no bwrap).
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap
import time

import pytest

from boundary import forked_pair, require_bwrap, run_cells, status, student_template
from conftest import ROOT

pytestmark = pytest.mark.slow


def _require_template():
    from dgm_course.sandbox import template_available

    require_bwrap()
    if not template_available():
        pytest.skip("student processes are forked from a template only when grading as root")
    if platform.machine() != "x86_64":
        pytest.skip("the probes use x86_64 syscall numbers")


def _forked(results) -> None:
    from dgm_course.sandbox import ForkedStudentProcess

    assert isinstance(results["_runner"].conn.proc, ForkedStudentProcess), "not forked from the template"


def _run(*cells, **kw):
    _require_template()
    r = run_cells(*cells, **kw)
    _forked(r)
    return r


def _ns(results):
    return results["_runner"].ns


# Student-side helpers shared by the attacks: raw syscalls through ctypes, and running an attack
# in a forked child (single-threaded, and whatever it changes dies with it).
COMMON = r'''
import ctypes, errno, json, os, signal, stat, struct, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
L = ctypes.c_long

def en(e=None):
    e = ctypes.get_errno() if e is None else e
    return errno.errorcode.get(e, str(e))

def sysc(nr, *args):
    """(result, None) or (-1, errno name)"""
    conv = [a if isinstance(a, (bytes, ctypes.Array, type(None), ctypes._Pointer)) else L(a) for a in args]
    ctypes.set_errno(0)
    r = libc.syscall(L(nr), *conv)
    return (r, None) if r != -1 else (r, en())

def keyctl(*args):
    return sysc(250, *args)

def add_key(ktype, desc, payload, ring):
    return sysc(248, ktype, desc, payload, len(payload), ring)

def in_child(fn, *args):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            try:
                out = fn(*args)
            except BaseException as exc:
                out = {"error": repr(exc)}
            data = json.dumps(out).encode()
            while data:
                data = data[os.write(w, data):]
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data) if data else {"error": "the child said nothing"}

def attempt(results, name, fn):
    """Record "ok" or the errno name of one attempt."""
    ctypes.set_errno(0)
    try:
        rv = fn()
        results[name] = en() if isinstance(rv, int) and not isinstance(rv, bool) and rv < 0 else "ok"
    except OSError as exc:
        results[name] = en(exc.errno)
    except Exception as exc:
        results[name] = repr(exc)
'''


# ----------------------------------------------------------------------------- (e)/(c) file descriptors
FDS = COMMON + r'''
def fd_probe():
    out = {"self": {}, "others": {}}
    for name in os.listdir("/proc/self/fd"):
        try:
            out["self"][name] = os.readlink("/proc/self/fd/" + name)
        except OSError as exc:
            out["self"][name] = "error " + en(exc.errno)
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                out["others"][pid] = sorted(os.listdir("/proc/%s/fd" % pid))
            except OSError as exc:
                out["others"][pid] = en(exc.errno)
    out["ttys"] = [os.isatty(i) for i in range(3)]
    try:
        os.close(os.open("/dev/tty", os.O_RDWR))
        out["dev_tty"] = "opened"
    except OSError as exc:
        out["dev_tty"] = en(exc.errno)
    return out
'''


def test_the_forked_student_process_holds_only_its_pipes():
    """No descriptor of the template, the supervisor or PID 1 (the template's socket, the ctl
    socket, the cgroup.procs files, the data-file memfd) survives into the student process, and
    PID 1's descriptors cannot be listed; no terminal is reachable (TIOCSTI)."""
    r = _run(("answer", FDS), ("test", "info = fd_probe()"))
    assert status(r, 1) == "ok"
    info = _ns(r)["info"]
    bad = {fd: target for fd, target in info["self"].items()  # ENOENT: the listing's own descriptor
           if not (target.startswith("pipe:") or target == "/dev/null" or target == "error ENOENT")}
    assert not bad, f"descriptors the student process should not hold: {bad}"
    assert info["others"], "PID 1 is not visible: the probe proves nothing"
    assert all(v == "EACCES" for v in info["others"].values()), f"another process's fds listed: {info['others']}"
    assert info["ttys"] == [False, False, False] and info["dev_tty"] == "ENXIO", info


# ----------------------------------------------------------------------------- (b) PID 1 (root)
PID1 = COMMON + r'''
import fcntl

def pid1_probe():
    out = {"read": {}, "write": [], "ptrace": {}, "signals": {}, "pidfd": {}}
    for entry in ("environ", "mem", "maps", "smaps", "pagemap", "auxv", "stack", "syscall", "io", "personality",
                  "fd", "fdinfo", "map_files", "cwd", "root", "ns"):
        path = "/proc/1/" + entry
        try:
            if entry in ("fd", "fdinfo", "map_files", "cwd", "root", "ns"):
                out["read"][entry] = "listed %d" % len(os.listdir(path))
            else:
                with open(path, "rb") as fh:
                    out["read"][entry] = "read %d" % len(fh.read(4096))
        except OSError as exc:
            out["read"][entry] = en(exc.errno)
    for link in ("cwd", "root", "exe", "ns/mnt"):
        try:
            out["read"]["readlink " + link] = os.readlink("/proc/1/" + link)
        except OSError as exc:
            out["read"]["readlink " + link] = en(exc.errno)
    # every writable-looking file of /proc/1: write back what is there (or "0")
    for entry in sorted(os.listdir("/proc/1")):
        path = "/proc/1/" + entry
        if os.path.isdir(path) or entry in ("mem", "clear_refs", "sysrq-trigger"):
            continue
        try:
            fd = os.open(path, os.O_WRONLY)
        except OSError:
            continue
        try:
            try:
                value = open(path, "rb").read() or b"0"
            except OSError:
                value = b"0"
            os.write(fd, value)
            out["write"].append(entry)
        except OSError:
            pass
        finally:
            os.close(fd)
    libc.ptrace.restype = ctypes.c_long
    for name, req in (("attach", 16), ("seize", 0x4206)):
        ctypes.set_errno(0)
        rv = libc.ptrace(L(req), L(1), None, None)
        out["ptrace"][name] = "ok" if rv == 0 else en()
        if rv == 0:
            libc.ptrace(L(17), L(1), None, None)
    buf = ctypes.create_string_buffer(64)
    local = (ctypes.c_void_p * 2)(ctypes.cast(buf, ctypes.c_void_p), 64)
    remote = (ctypes.c_void_p * 2)(0x400000, 64)
    out["ptrace"]["process_vm_readv"] = sysc(310, 1, local, 1, remote, 1, 0)[1] or "ok"
    pidfd, err = sysc(434, 1, 0)  # pidfd_open
    out["pidfd"]["open"] = err or "ok"
    if err is None:
        got = [sysc(438, pidfd, fd, 0) for fd in range(0, 16)]  # pidfd_getfd: PID 1's descriptors
        out["pidfd"]["getfd"] = sorted({e or "ok" for _, e in got})
        out["pidfd"]["send_signal"] = sysc(424, pidfd, signal.SIGINT, None, 0)[1] or "ok"
        os.close(pidfd)
    for sig in (0, signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGCHLD, signal.SIGCONT,
                signal.SIGTSTP, signal.SIGSTOP, signal.SIGKILL):
        try:
            os.kill(1, sig)
            out["signals"][str(sig)] = "ok"
        except OSError as exc:
            out["signals"][str(sig)] = en(exc.errno)
    # SIGIO: a pipe owned by PID 1 that signals it (SIGINT) when it becomes readable
    r, w = os.pipe()
    fcntl.fcntl(r, fcntl.F_SETOWN, 1)
    fcntl.fcntl(r, 10, signal.SIGINT)  # F_SETSIG
    fcntl.fcntl(r, fcntl.F_SETFL, fcntl.fcntl(r, fcntl.F_GETFL) | os.O_ASYNC)
    os.write(w, b"x")
    out["sigio"] = "armed"
    return out

def pid1_alive():
    time.sleep(0.5)
    return os.getppid(), open("/proc/1/stat").read().split()[2]
'''


def test_pid1_cannot_be_read_written_traced_or_signalled():
    """B is root with every capability (a fork of the template): the student process cannot
    read its memory, environment, descriptors, cwd (the template's old /tmp) or root, write its
    /proc files, ptrace it, take its descriptors (pidfd_getfd) or signal it (kill, pidfd, SIGIO)."""
    r = _run(("answer", PID1), ("test", "info = pid1_probe()"), ("test", "ppid, state = pid1_alive()"))
    assert status(r, 1) == "ok" and status(r, 2) == "ok", (status(r, 1), status(r, 2))
    info, ns = _ns(r)["info"], _ns(r)
    readable = {k: v for k, v in info["read"].items() if not v.startswith("E")}
    assert not readable, f"PID 1 (root) exposes: {readable}"
    assert info["write"] == [], f"PID 1's /proc files written: {info['write']}"
    assert set(info["ptrace"].values()) == {"EPERM"}, info["ptrace"]
    assert info["pidfd"].get("getfd", ["EPERM"]) == ["EPERM"] and info["pidfd"].get("send_signal", "EPERM") == "EPERM"
    assert set(info["signals"].values()) == {"EPERM"}, f"signals to PID 1: {info['signals']}"
    assert ns["ppid"] == 1 and ns["state"] in ("S", "R"), (ns["ppid"], ns["state"])


# ----------------------------------------------------------------------------- (f) privileges
PRIV = COMMON + r'''
def priv_probe():
    out = {}
    status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
    out["status"] = {k: status[k].strip() for k in ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd",
                                                    "CapAmb", "NoNewPrivs")}
    libc.prctl.restype = ctypes.c_int
    out["securebits"] = libc.prctl(27, 0, 0, 0, 0)
    def child():
        res = {}
        attempt(res, "setuid 0", lambda: os.setuid(0))
        attempt(res, "setresuid 0", lambda: os.setresuid(0, 0, 0))
        attempt(res, "setgid 0", lambda: os.setgid(0))
        attempt(res, "setgroups [0]", lambda: os.setgroups([0]))
        hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)
        data = (ctypes.c_uint32 * 6)(*([0xFFFFFFFF] * 6))
        attempt(res, "capset all", lambda: libc.capset(hdr, data))
        attempt(res, "ambient raise CAP_SYS_ADMIN", lambda: libc.prctl(47, 2, 21, 0, 0))
        attempt(res, "unshare mount ns", lambda: libc.unshare(0x20000))
        attempt(res, "unshare net ns", lambda: libc.unshare(0x40000000))
        attempt(res, "mount tmpfs /opt", lambda: libc.mount(b"tmpfs", b"/opt", b"tmpfs", L(0), None))
        attempt(res, "remount /usr rw", lambda: libc.mount(None, b"/usr", None, L(32 | 4096), None))
        attempt(res, "remount / rw", lambda: libc.mount(None, b"/", None, L(32), None))
        attempt(res, "umount /tmp", lambda: libc.umount2(b"/tmp", 2))
        attempt(res, "umount /proc", lambda: libc.umount2(b"/proc", 2))
        attempt(res, "sethostname", lambda: libc.sethostname(b"pwned", 5))
        attempt(res, "chroot", lambda: libc.chroot(b"/tmp"))
        attempt(res, "mknod block device", lambda: os.mknod("/tmp/sda", 0o600 | stat.S_IFBLK, os.makedev(8, 0)))
        attempt(res, "write /", lambda: open("/.dgm-attack", "w").close())
        attempt(res, "write /opt/dgm", lambda: open("/opt/dgm/.dgm-attack", "w").close())
        attempt(res, "write /dev", lambda: open("/dev/.dgm-attack", "w").close())
        attempt(res, "write /proc/sysrq-trigger", lambda: open("/proc/sysrq-trigger", "w").write("h"))
        attempt(res, "write /proc/sys/kernel/core_pattern",
                lambda: open("/proc/sys/kernel/core_pattern", "w").write("|/tmp/x"))
        attempt(res, "setns to PID 1's mount ns", lambda: os.open("/proc/1/ns/mnt", os.O_RDONLY))
        # setuid-root programs: no_new_privs and the empty bounding set make them plain programs
        setuid = []
        for folder in ("/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/lib"):
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            for name in names:
                try:
                    st = os.stat(os.path.join(folder, name))
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode) and st.st_mode & stat.S_ISUID and st.st_uid == 0:
                    setuid.append(os.path.join(folder, name))
        res["setuid-root programs"] = sorted(set(setuid))[:20]
        return res
    out["attempts"] = in_child(child)
    return out
'''


def test_no_privilege_is_left_or_regained():
    """The student process has no capability in any set, an empty bounding set, no_new_privs,
    no securebits that keep capabilities, and cannot get root back (setuid, capset, ambient),
    unshare or mount, remount anything read-write, make devices, chroot, or write outside its
    scratch folder."""
    r = _run(("answer", PRIV), ("test", "info = priv_probe()"))
    assert status(r, 1) == "ok"
    info = _ns(r)["info"]
    st = info["status"]
    uid = int(st["Uid"].split()[0])
    assert 300_000 <= uid < 400_000 and st["Uid"].split() == [str(uid)] * 4 and st["Gid"].split() == [str(uid)] * 4
    assert st["Groups"] == ""
    for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert st[key] == "0000000000000000", (key, st[key])
    assert st["NoNewPrivs"] == "1" and info["securebits"] == 0, (st, info["securebits"])
    attempts = {k: v for k, v in info["attempts"].items() if k != "setuid-root programs"}
    assert "error" not in attempts, attempts
    succeeded = {k: v for k, v in attempts.items() if v == "ok"}
    assert not succeeded, f"privileged operations that succeeded: {succeeded}"


# ----------------------------------------------------------------------------- (f) a user namespace
USERNS = COMMON + r'''
def userns_probe():
    def child():
        out = {}
        uid, gid = os.getuid(), os.getgid()
        libc.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: so that /proc/self/uid_map is ours to write
        if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
            return {"userns": en()}
        out["userns"] = "created"
        try:
            open("/proc/self/setgroups", "w").write("deny")
            open("/proc/self/uid_map", "w").write("0 %d 1" % uid)
            open("/proc/self/gid_map", "w").write("0 %d 1" % gid)
        except OSError as exc:
            out["maps"] = en(exc.errno)
        if libc.unshare(0x20000 | 0x02000000) != 0:  # CLONE_NEWNS | CLONE_NEWCGROUP
            out["mntns"] = en()
            return out
        res = {}
        tmp_before = sorted(os.listdir("/tmp"))
        attempt(res, "umount /tmp (the template's /tmp is under it)", lambda: libc.umount2(b"/tmp", 2))
        if res["umount /tmp (the template's /tmp is under it)"] == "ok":
            out["template /tmp"] = sorted(os.listdir("/tmp"))
        attempt(res, "umount /proc (the template's /proc is under it)", lambda: libc.umount2(b"/proc", 2))
        if res["umount /proc (the template's /proc is under it)"] == "ok":
            out["template /proc"] = sorted(p for p in os.listdir("/proc") if p.isdigit())
        attempt(res, "umount /dev/shm", lambda: libc.umount2(b"/dev/shm", 2))
        attempt(res, "umount /opt/dgm/dgm_course/student.py",
                lambda: libc.umount2(b"/opt/dgm/dgm_course/student.py", 2))
        for target in ("/usr", "/opt/dgm/dgm_course/student.py", "/opt/dgm/dgm_utils", sys.prefix, "/", "/dev"):
            attempt(res, "remount rw " + target,
                    lambda t=target: libc.mount(None, t.encode(), None, L(32 | 4096), None))
        attempt(res, "remount / rw (superblock)", lambda: libc.mount(None, b"/", None, L(32), None))
        for target in ("/.dgm-attack", "/usr/.dgm-attack", "/opt/dgm/.dgm-attack", "/dev/.dgm-attack",
                       os.path.join(sys.prefix, ".dgm-attack")):
            attempt(res, "create " + target, lambda t=target: open(t, "w").close())
        for name, fstype, opts in (("cgroup memory", b"cgroup", b"memory"), ("cgroup pids", b"cgroup", b"pids"),
                                   ("cgroup2", b"cgroup2", None), ("named cgroup hierarchy", b"cgroup",
                                                                   b"none,name=dgmattack"),
                                   ("sysfs", b"sysfs", None), ("proc", b"proc", None)):
            target = "/tmp/mnt-" + fstype.decode()
            os.makedirs(target, exist_ok=True)
            attempt(res, "mount " + name, lambda: libc.mount(fstype, target.encode(), fstype, L(0), opts))
            if res["mount " + name] == "ok":
                out.setdefault("mounted", {})[name] = sorted(os.listdir(target))[:30]
                for leaf, value in (("cgroup.procs", "1"), ("memory.limit_in_bytes", "-1"), ("pids.max", "max")):
                    p = os.path.join(target, leaf)
                    if os.path.exists(p):
                        attempt(res, "write %s %s" % (name, leaf), lambda p=p, v=value: open(p, "w").write(v))
                attempt(res, "mkdir in " + name, lambda: os.mkdir(os.path.join(target, "dgm-attack")))
                libc.umount2(target.encode(), 2)
        attempt(res, "list /proc/1/cwd", lambda: os.listdir("/proc/1/cwd"))
        attempt(res, "setns to PID 1's mount ns", lambda: os.open("/proc/1/ns/mnt", os.O_RDONLY))
        out["attempts"] = res
        return out
    return in_child(child)
'''


def test_a_user_namespace_unlocks_no_mount():
    """Student code may create a user namespace (as with bwrap+setpriv: nested user namespaces
    are disabled only when grading without root). Inside it, the mounts it inherited are locked:
    it cannot unmount /tmp or /proc to reach the template's, remount anything read-write, write
    to the shared root tmpfs, or mount and write a cgroup hierarchy."""
    r = _run(("answer", USERNS), ("test", "info = userns_probe()"))
    assert status(r, 1) == "ok"
    info = _ns(r)["info"]
    print("user namespace:", json.dumps(info, indent=1))
    if info.get("userns") != "created":
        return  # no user namespace at all: nothing more to check
    attempts = info["attempts"]
    allowed_ok = {"mount cgroup memory", "mount cgroup pids", "mount cgroup2", "mount sysfs", "mount proc",
                  "mount named cgroup hierarchy"}  # read-only views of its own cgroup are harmless; writes are not
    succeeded = {k: v for k, v in attempts.items() if v == "ok" and k not in allowed_ok}
    assert not succeeded, f"from a user namespace: {succeeded}"


# ----------------------------------------------------------------------------- (a) writable places
SCAN = COMMON + r'''
def _mounts():
    mounts = []
    for line in open("/proc/self/mountinfo"):
        parts = line.split()
        sep = parts.index("-")
        mounts.append((parts[4], parts[5], parts[sep + 1]))
    return mounts

def writable_scan(token):
    mounts = _mounts()
    points = {m[0] for m in mounts}
    dirs, created, files = [], [], []
    for point, opts, fstype in mounts:
        if "ro" in opts.split(",") or point.startswith("/proc") or not os.path.isdir(point):
            continue
        for dirpath, dirnames, filenames in os.walk(point):
            dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in points]
            if os.access(dirpath, os.W_OK):
                dirs.append(dirpath)
                try:
                    with open(os.path.join(dirpath, ".dgm-attack-" + token), "w") as fh:
                        fh.write(token)
                    created.append(dirpath)
                except OSError:
                    pass
            for name in filenames:
                path = os.path.join(dirpath, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode) and st.st_uid != os.getuid() and os.access(path, os.W_OK):
                    files.append(path)
    sys_writable = []
    for dirpath, dirnames, filenames in os.walk("/proc/sys"):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.access(path, os.W_OK):  # mode 0666 (ns_last_pid): the handler decides; write back its value
                try:
                    value = open(path, "rb").read()
                    with open(path, "wb", buffering=0) as fh:
                        fh.write(value)
                    sys_writable.append(path)
                except OSError:
                    pass
    for path in ("/proc/sysrq-trigger", "/proc/kcore", "/proc/kmsg"):
        if os.access(path, os.W_OK) or os.access(path, os.R_OK):
            sys_writable.append(path)
    return {"mounts": mounts, "dirs": sorted(set(dirs)), "created": sorted(set(created)), "files": files,
            "proc": sys_writable}

def find_markers(token):
    found = []
    for point, opts, fstype in _mounts():
        if "ro" in opts.split(",") or point.startswith("/proc") or not os.path.isdir(point):
            continue
        for dirpath, dirnames, filenames in os.walk(point):
            found += [os.path.join(dirpath, n) for n in filenames if n.startswith(".dgm-attack-")]
    return sorted(set(found))
'''


def test_no_writable_place_is_shared_with_the_next_fork():
    """Student code writes a marker wherever it can (every read-write mount, every folder it may
    write, every writable file it does not own, /proc/sys): only its own fresh /tmp and /dev/shm
    take it, and the next submission forked from the same template finds none of them. The
    template's root tmpfs and /dev, shared by every fork, stay unwritable."""
    r1 = _run(("answer", SCAN), ("test", "info = writable_scan('first')"), timeout=90)
    assert status(r1, 1) == "ok"
    info = _ns(r1)["info"]
    outside = [d for d in info["created"] if not (d == "/tmp" or d.startswith("/tmp/") or d == "/dev/shm"
                                                  or d.startswith("/dev/shm/"))]
    assert not outside, f"student code wrote outside its fresh /tmp and /dev/shm: {outside}"
    assert "/tmp" in info["created"] and "/dev/shm" in info["created"], "the scan proves nothing"
    assert info["files"] == [], f"writable files the student does not own: {info['files']}"
    assert info["proc"] == [], f"writable /proc files: {info['proc']}"
    r2 = _run(("answer", SCAN), ("test", "found = find_markers('first')"), timeout=90)
    assert status(r2, 1) == "ok"
    assert _ns(r2)["found"] == [], f"left by the previous submission: {_ns(r2)['found']}"


# ----------------------------------------------------------------------------- (a) IPC
IPC = COMMON + r'''
import socket
KEY = 0x44474D41

def leave_ipc(token):
    out = {}
    libc.shmat.restype = ctypes.c_void_p
    shm = libc.shmget(KEY, 4096, 0o1666)
    out["shm"] = "ok" if shm >= 0 else en()
    if shm >= 0:
        addr = libc.shmat(shm, None, 0)
        ctypes.memmove(addr, token.encode(), len(token))
    out["msg"] = "ok" if libc.msgget(KEY, 0o1666) >= 0 else en()
    out["sem"] = "ok" if libc.semget(KEY, 1, 0o1666) >= 0 else en()
    mq, err = sysc(240, b"dgm-attack", os.O_CREAT | os.O_RDWR, 0o666, None)  # mq_open
    out["mq"] = err or "ok"
    open("/dev/shm/dgm-attack", "w").write(token)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind("\0dgm-attack")
    sock.listen(1)
    globals()["_keep"] = sock
    out["sysvipc"] = {k: len(open("/proc/sysvipc/" + k).read().splitlines()) - 1 for k in ("shm", "msg", "sem")}
    return out

def find_ipc():
    found = []
    if libc.shmget(KEY, 0, 0) >= 0:
        found.append("SysV shm")
    if libc.msgget(KEY, 0) >= 0:
        found.append("SysV msg")
    if libc.semget(KEY, 0, 0) >= 0:
        found.append("SysV sem")
    if sysc(240, b"dgm-attack", os.O_RDONLY, 0, None)[1] is None:
        found.append("POSIX mqueue")
    if os.path.exists("/dev/shm/dgm-attack"):
        found.append("/dev/shm file")
    try:
        socket.socket(socket.AF_UNIX).connect("\0dgm-attack")
        found.append("abstract socket")
    except OSError:
        pass
    for k in ("shm", "msg", "sem"):
        if len(open("/proc/sysvipc/" + k).read().splitlines()) > 1:
            found.append("/proc/sysvipc/" + k)
    if "@dgm-attack" in open("/proc/net/unix").read():
        found.append("/proc/net/unix")
    return found
'''


def test_ipc_objects_do_not_reach_the_next_fork():
    """SysV shared memory, message queues, semaphores, a POSIX message queue, a /dev/shm file
    and an abstract socket made by one submission are gone for the next one from the same
    template (and invisible to a concurrent one)."""
    from dgm_course.checker import Conn, Remote
    from dgm_course.sandbox import SandboxConfig

    r1 = _run(("answer", IPC), ("test", "made = leave_ipc('first')"), ("test", "own = find_ipc()"))
    assert status(r1, 1) == "ok" and status(r1, 2) == "ok"
    made = _ns(r1)["made"]
    assert made["shm"] == made["msg"] == made["sem"] == made["mq"] == "ok", made
    assert len(_ns(r1)["own"]) >= 6, f"the probe does not see its own objects: {_ns(r1)['own']}"
    r2 = _run(("answer", IPC), ("test", "found = find_ipc()"))
    assert status(r2, 1) == "ok" and _ns(r2)["found"] == [], _ns(r2)["found"]
    # concurrent forks of one template
    conns = []
    try:
        for _ in range(2):
            conn = Conn(SandboxConfig(mode="bwrap", template_fd=student_template().fileno))
            conn.start()
            conn.deadline = time.monotonic() + 60
            conn.request({"op": "exec", "source": textwrap.dedent(IPC), "filename": "<student-cell-0>"})
            conns.append(conn)
        Remote(conns[0], "leave_ipc", "leave_ipc")("concurrent")
        assert Remote(conns[1], "find_ipc", "find_ipc")() == []
    finally:
        for conn in conns:
            conn.close()


# ----------------------------------------------------------------------------- (a)/(b) memory
MEMORY = COMMON + r'''
def _maps():
    out = []
    for line in open("/proc/self/maps").read().splitlines():
        parts = line.split(None, 5)
        start, end = (int(x, 16) for x in parts[0].split("-"))
        out.append((start, end, parts[1], parts[5] if len(parts) > 5 else ""))
    return out

def _exe_page():
    exe = os.path.realpath("/proc/self/exe")
    return next(m for m in _maps() if m[3] == exe)

def memory_attack(token):
    out = {"shared": [], "written": []}
    libc.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE (setresuid cleared it): /proc/self/mem becomes ours to open
    for start, end, perms, path in _maps():
        if perms[3] == "s":
            out["shared"].append("%x %s %s" % (start, perms, path))
            if perms[1] == "w":
                ctypes.memmove(start, token.encode(), len(token))
                out["written"].append(path)
    start = _exe_page()[0]
    with open("/proc/self/mem", "r+b", buffering=0) as mem:  # FOLL_FORCE into a read-only private page
        mem.seek(start + 9)  # the ELF header's e_ident padding: unused
        mem.write(token.encode())
    out["exe_page"] = start
    out["exe_written"] = ctypes.string_at(start + 9, len(token)).decode("latin-1")
    import numpy, dgm_utils
    numpy.pi = 4.0
    dgm_utils.DGM_ATTACK = token
    os.environ["DGM_ATTACK"] = token
    sys.modules["dgm_course.student"].DGM_ATTACK = token
    out["auxv_random"] = _at_random()
    return out

def _at_random():
    libc.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: /proc/self/auxv becomes ours to read
    data = open("/proc/self/auxv", "rb").read()
    for i in range(0, len(data), 16):
        kind, value = struct.unpack("QQ", data[i:i + 16])
        if kind == 25:  # AT_RANDOM: the stack protector's and pointer guard's seed
            return ctypes.string_at(value, 16).hex()

def memory_check(token):
    import numpy, dgm_utils
    found = []
    start = _exe_page()[0]
    if ctypes.string_at(start + 9, len(token)) == token.encode():
        found.append("executable page")
    exe = os.path.realpath("/proc/self/exe")
    with open(exe, "rb") as fh:
        fh.seek(9)
        if fh.read(len(token)) == token.encode():
            found.append("executable file")
    for s, e, perms, path in _maps():
        if perms[3] == "s" and perms[0] == "r" and ctypes.string_at(s, len(token)) == token.encode():
            found.append("shared mapping " + path)
    if numpy.pi != 3.141592653589793:
        found.append("numpy.pi")
    if hasattr(dgm_utils, "DGM_ATTACK") or hasattr(sys.modules["dgm_course.student"], "DGM_ATTACK"):
        found.append("module attribute")
    if "DGM_ATTACK" in os.environ:
        found.append("environment")
    return found, start, _at_random()
'''


def test_the_template_memory_is_copy_on_write():
    """Student code writes into every shared mapping it has, forces a write into a read-only page
    of the interpreter (/proc/self/mem) and changes module globals and the environment: the next
    submission forked from the same template sees none of it (no MAP_SHARED mapping is inherited
    from the template)."""
    r1 = _run(("answer", MEMORY), ("test", "info = memory_attack('DGMATK1')"))
    assert status(r1, 1) == "ok"
    info = _ns(r1)["info"]
    assert info["exe_written"] == "DGMATK1", "the forced write did not happen: the test proves nothing"
    writable = [m for m in info["shared"] if m.split()[1][1] == "w"]  # r--s of a read-only file is harmless
    assert writable == [], f"writable shared mappings inherited from the template: {writable}"
    r2 = _run(("answer", MEMORY), ("test", "found, start, at_random = memory_check('DGMATK1')"))
    assert status(r2, 1) == "ok"
    ns = _ns(r2)
    assert ns["found"] == [], f"the previous submission's writes reached this one: {ns['found']}"
    # Observation (not a failure): every fork of a template has the template's address layout and
    # stack-protector seed (AT_RANDOM), as do its root supervisor and PID 1.
    print("same layout:", ns["start"] == info["exe_page"], "same AT_RANDOM:", ns["at_random"] == info["auxv_random"])


# ----------------------------------------------------------------------------- (a) keyrings
KEYS = COMMON + r'''
RINGS = {"session": -3, "user": -4, "user-session": -5}

def leave_keys(token):
    out = {"uid": os.getuid()}
    for name, ring in RINGS.items():
        out[name] = add_key(b"user", ("dgm-attack-" + name).encode(), token.encode(), ring)[1] or "ok"
    persistent, err = keyctl(22, -1, -3)  # KEYCTL_GET_PERSISTENT, linked into the session keyring
    out["persistent"] = err or add_key(b"user", b"dgm-attack-persistent", token.encode(), persistent)[1] or "ok"
    return out

def find_keys(token):
    found = []
    for name, ring in RINGS.items():
        for desc in ("dgm-attack-session", "dgm-attack-user", "dgm-attack-user-session", "dgm-attack-persistent"):
            kid, err = keyctl(10, ring, b"user", desc.encode(), 0)  # KEYCTL_SEARCH
            if err is None:
                buf = ctypes.create_string_buffer(256)
                n, err = keyctl(11, kid, buf, 256)
                found.append((name, desc, buf.raw[:n].decode("latin-1") if err is None else err))
    persistent, err = keyctl(22, -1, -3)
    if err is None:
        kid, err = keyctl(10, persistent, b"user", b"dgm-attack-persistent", 0)
        if err is None:
            found.append(("persistent", "dgm-attack-persistent", kid))
    try:
        found += [line for line in open("/proc/keys").read().splitlines() if "dgm-attack" in line]
    except OSError:
        pass
    return found, os.getuid()

def clear_keys():
    """Leave nothing behind for this uid (the kernel keeps a uid's keyrings after its processes end)."""
    rings = [keyctl(0, ring, 0)[0] for ring in (-4, -5)] + [keyctl(22, -1, -5)[0]]
    for ring in rings:
        if ring > 0:
            keyctl(7, ring)  # KEYCTL_CLEAR
            keyctl(21, ring)  # KEYCTL_INVALIDATE
    return os.getuid()
'''


def _uids(monkeypatch, *offsets):
    """Make the next sandboxes draw these uids (UID_BASE + offset), in turn."""
    import secrets

    draws = iter(offsets)
    monkeypatch.setattr(secrets, "randbelow", lambda n: next(draws))


def _clear_keys(monkeypatch, offset):
    _uids(monkeypatch, offset)
    run_cells(("answer", KEYS), ("test", "clear_keys()"))


def test_keys_left_by_one_submission_are_not_found_by_the_next(monkeypatch):
    """Keys added to the session, user, user-session and persistent keyrings by one submission
    are not found by the next submission (another uid) from the same template."""
    _require_template()
    _uids(monkeypatch, 42_425, 42_426)
    try:
        r1 = _run(("answer", KEYS), ("test", "made = leave_keys('first-submission')"))
        assert status(r1, 1) == "ok"
        made = _ns(r1)["made"]
        if made["user"] != "ok":
            return  # keyrings are refused to student code: nothing can be carried
        r2 = _run(("answer", KEYS), ("test", "found, uid = find_keys('first-submission')"))
        assert status(r2, 1) == "ok"
        assert _ns(r2)["uid"] != made["uid"]
        assert _ns(r2)["found"] == [], f"keys of the previous submission: {_ns(r2)['found']}"
    finally:
        for offset in (42_425, 42_426):
            _clear_keys(monkeypatch, offset)


SESSION_STUDENT = COMMON + r'''
def session_attack(tag):
    out = {"keys": {}}
    sid, err = keyctl(0, -3, 0)  # KEYCTL_GET_KEYRING_ID of the session keyring
    out["session"] = sid if err is None else err
    buf = ctypes.create_string_buffer(4096)
    n, err = keyctl(11, -3, buf, 4096)  # its key ids
    if err is None:
        for kid in struct.unpack("%di" % (min(n, 4096) // 4), buf.raw[:min(n, 4096)]):
            d = ctypes.create_string_buffer(512)
            m, e1 = keyctl(6, kid, d, 512)
            p = ctypes.create_string_buffer(512)
            m2, e2 = keyctl(11, kid, p, 512)
            out["keys"][d.value.decode() if e1 is None else str(kid)] = (
                p.raw[:m2].decode("latin-1") if e2 is None else e2)
    else:
        out["read"] = err
    for desc in list(out["keys"]):  # KEYCTL_UPDATE a key of the grader (possessor "write")
        if "grader" in desc and tag == "second":
            kid, err = keyctl(10, -3, b"user", desc.rsplit(";", 1)[1].encode(), 0)
            new = b"replaced by a student"
            out["update " + desc] = err or keyctl(2, kid, new, len(new))[1] or "ok"
    out["add"] = add_key(b"user", ("note-from-" + tag).encode(), ("left by the %s submission" % tag).encode(),
                         -3)[1] or "ok"
    return out
'''

SESSION_GRADER = r'''
import ctypes, json, sys
sys.path[:0] = [{root!r}, {tests!r}]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
L = ctypes.c_long
# The grader runs with a session keyring of its own, as under systemd (KeyringMode=private, the
# default for system services), runc/Kubernetes (one per container) or a PAM login (pam_keyinit).
assert libc.syscall(L(250), L(1), b"dgm-grader-session") > 0  # KEYCTL_JOIN_SESSION_KEYRING
secret = b"grader-secret-7f3a"
assert libc.syscall(L(248), b"user", b"grader-api-token", secret, L(len(secret)), L(-3)) > 0
import boundary
out = {{}}
for tag in ("first", "second"):
    r = boundary.run_cells(("answer", {student!r}), ("test", "out = session_attack(%r)" % tag),
                           template={template!r})
    out[tag] = r["_runner"].ns.get("out") or boundary.status(r, 1)
    out[tag + " forked"] = type(r["_runner"].conn.proc).__name__
buf = ctypes.create_string_buffer(4096)
n = libc.syscall(L(250), L(11), L(-3), buf, L(4096))
out["grader keyring after"] = n // 4
kid = libc.syscall(L(250), L(10), L(-3), b"user", b"grader-api-token", L(0))
m = libc.syscall(L(250), L(11), L(kid), buf, L(4096))
out["grader key after"] = buf.raw[:m].decode("latin-1")
print("RESULT " + json.dumps(out))
'''


@pytest.mark.parametrize("template", [True, False], ids=["template", "bwrap"])
def test_the_graders_session_keyring_is_out_of_reach(tmp_path, template):
    """Fixed (was vulnerable): the student process inherited the session keyring of the process that
    started the template (or bwrap), and possesses it: it reads every key in it and adds keys
    that the next submission, forked from the same template (or started by the same grader),
    reads. Wherever the grader has a session keyring of its own (systemd services by default,
    containers started by runc, PAM logins), that is a channel between submissions (a) and a
    read of the grader's keys (c). Here the grader's session keyring is made explicitly; on this
    machine the grader has none, so the fallback per-uid keyring is used and nothing is shared.

    Cause was: neither ``_forked_student`` (nor ``setpriv`` on the bwrap path) gave the student
    process a session keyring of its own; ``setresuid`` keeps the session keyring, and
    possession grants the possessor rights regardless of uid (view, read, write, search, link,
    setattr: the student can also replace, revoke or unlink the grader's keys). Fix: in the student process, before
    any student code, ``keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)`` (a fresh anonymous session
    keyring, after the uid change), and better still a seccomp filter denying ``add_key``,
    ``request_key`` and ``keyctl`` (as Docker's default profile does): keyrings are not
    namespaced."""
    _require_template()
    script = tmp_path / "grader.py"
    script.write_text(SESSION_GRADER.format(root=str(ROOT), tests=str(ROOT / "tests"),
                                            student=textwrap.dedent(SESSION_STUDENT), template=template))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600, cwd=str(ROOT))
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line, proc.stdout[-2000:] + proc.stderr[-4000:]
    out = json.loads(line[len("RESULT "):])
    print(json.dumps(out, indent=1))
    assert out["first forked"] == ("ForkedStudentProcess" if template else "StudentProcess")
    leaked = [k for k, v in out["first"]["keys"].items() if "grader-secret" in str(v)]
    assert not leaked, f"the student process read the grader's key: {out['first']['keys']}"
    carried = [k for k in out["second"]["keys"] if "note-from-first" in k]
    assert not carried, f"a key left by the first submission reached the second: {out['second']['keys']}"
    assert out["grader keyring after"] == 1, "students added keys to the grader's session keyring"
    assert out["grader key after"] == "grader-secret-7f3a", "a student replaced the grader's key"


def test_a_reused_uid_finds_nothing_of_its_previous_sandbox(monkeypatch):
    """Fixed (was vulnerable, low severity): the user keyring, user-session keyring and persistent
    keyring of a uid outlive its sandbox (the kernel keeps them for the uid in the initial user
    namespace), so a later sandbox that draws the same random uid (1 in 100 000 per pair: with
    thousands of sandbox starts per course some pairs do) reads what an earlier one left. Forced
    here by fixing the random draw.

    Cause was: keyrings are keyed by uid and not namespaced; ``UID_BASE + randbelow(UID_RANGE)``
    reuses uids across sandboxes. Fix: a seccomp filter denying ``add_key``/``request_key``/
    ``keyctl`` in the student process (or, weaker, unlinking/clearing the uid's keyrings when a
    sandbox ends, e.g. from the supervisor with ``KEYCTL_CLEAR`` after ``setresuid`` in a helper)."""
    _require_template()
    _uids(monkeypatch, 42_424, 42_424)
    try:
        r1 = _run(("answer", KEYS), ("test", "made = leave_keys('first-submission')"))
        assert status(r1, 1) == "ok"
        if _ns(r1)["made"]["user"] != "ok":
            return  # keyrings are refused to student code: nothing can be carried
        r2 = _run(("answer", KEYS), ("test", "found, uid = find_keys('first-submission')"))
        assert status(r2, 1) == "ok" and _ns(r2)["uid"] == _ns(r1)["made"]["uid"] == 342_424
        assert _ns(r2)["found"] == [], f"keys of an earlier sandbox with the same uid: {_ns(r2)['found']}"
    finally:
        _clear_keys(monkeypatch, 42_424)


# ----------------------------------------------------------------------------- (a) /dev/pts
PTY = COMMON + r'''
import fcntl, termios, tty

def make_pty():
    try:
        master, slave = os.openpty()
    except OSError as exc:
        return None, en(exc.errno)
    name = os.ttyname(slave)
    os.chmod(name, 0o666)  # the owner of a pty may open it to everyone
    os.set_blocking(master, False)
    globals()["_pty"] = (master, slave)
    return name, sorted(os.listdir("/dev/pts"))

def read_master():
    time.sleep(0.2)
    try:
        return os.read(_pty[0], 1024).decode("latin-1")
    except OSError as exc:
        return en(exc.errno)

def grab_pty(name):
    listing = sorted(os.listdir("/dev/pts"))
    try:
        fd = os.open(name, os.O_RDWR | os.O_NOCTTY)
    except OSError as exc:
        return listing, en(exc.errno)
    os.write(fd, b"hello from another sandbox\n")
    return listing, "opened"
'''


def test_concurrent_forks_share_no_terminal():
    """Fixed (was vulnerable, low severity, needs two sandboxes of one template alive at once): the
    template's devpts instance (bwrap --dev, mounted once in the template's mount namespace) is
    shared by every fork, so one student process can see the ptys of another (/dev/pts lists
    them) and open one its owner made world-accessible: a channel between concurrent sandboxes,
    which separate bwrap sandboxes (a devpts instance each) do not have. A worker runs one
    student process at a time, so this needs overlapping lifetimes (a previous sandbox still
    being torn down, or a future change running forks side by side).

    Cause was: ``_forked_student`` made a fresh /tmp and /dev/shm but not /dev/pts. Fix: in the
    supervisor, mount a new devpts instance on /dev/pts (``newinstance,ptmxmode=0666,mode=620``)
    and bind /dev/pts/ptmx over /dev/ptmx (or mount an empty tmpfs over /dev/pts and remove
    /dev/ptmx if students need no pty)."""
    from dgm_course.checker import Remote

    _require_template()
    with forked_pair(PTY) as conns:
        name, own_listing = Remote(conns[0], "make_pty", "make_pty")()
        if name is None:
            return  # no pty for student code at all
        listing, opened = Remote(conns[1], "grab_pty", "grab_pty")(name)
        received = Remote(conns[0], "read_master", "read_master")()
        print("first:", name, own_listing, "second sees:", listing, opened, "first received:", repr(received))
        assert opened != "opened" and "hello" not in received, \
            f"a concurrent sandbox opened {name} and wrote to its owner: {received!r}"
        assert os.path.basename(name) not in listing, f"a concurrent sandbox sees another's pty: {listing}"


# ----------------------------------------------------------------------------- (d)/(g) ptrace games
ORPHAN = COMMON + r'''
def traced_orphan(marker):
    """A grandchild, orphaned (so PID 1 adopts it), makes PID 1 its tracer and execs: it then
    sits stopped under a root tracer that never lets it go."""
    pid = os.fork()
    if pid == 0:
        if os.fork() == 0:
            time.sleep(0.3)
            libc.ptrace(L(0), L(0), None, None)  # PTRACE_TRACEME
            os.execv("/bin/sleep", ["sleep", marker])
        os._exit(0)
    os.waitpid(pid, 0)
    time.sleep(1.0)
    states = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if open("/proc/%s/cmdline" % p, "rb").read() == b"sleep\0" + marker.encode() + b"\0":
                    st = dict(l.split(":", 1) for l in open("/proc/%s/status" % p).read().splitlines() if ":" in l)
                    states[p] = (st["State"].strip(), st["TracerPid"].strip(), st["PPid"].strip())
            except OSError:
                pass
    return states
'''


def test_a_process_stopped_under_pid1_does_not_outlive_the_sandbox():
    """An orphan that makes PID 1 (root) its tracer (PTRACE_TRACEME needs no permission) stops at
    its exec and stays stopped: it still dies with the sandbox, and PID 1 keeps serving."""
    from test_sandbox import _sleepers

    marker = "4321.789"
    r = _run(("answer", ORPHAN), ("test", f"states = traced_orphan({marker!r})"), ("test", "again = 1 + 1"))
    assert status(r, 1) == "ok" and status(r, 2) == "ok"
    states = _ns(r)["states"]
    print("traced orphan:", states)
    assert states, "the orphan never ran: the test proves nothing"
    deadline = time.monotonic() + 10
    while _sleepers(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _sleepers(marker), "a process stopped under PID 1 outlived its sandbox"


SELF_STOP = COMMON + r'''
def stop_under_pid1():
    libc.ptrace(L(0), L(0), None, None)  # PTRACE_TRACEME: PID 1 is now the student process's tracer
    os.kill(os.getpid(), signal.SIGSTOP)
    return "still here"
'''


def test_the_template_survives_what_a_student_process_does_to_its_pid1():
    """A student process that stops under PID 1's ptrace, and one that kills everything it can
    signal, end only their own sandbox: the template keeps forking sound student processes."""
    _require_template()
    r = _run(("answer", SELF_STOP), ("test", "x = stop_under_pid1()"), timeout=10)
    print("stop under PID 1:", status(r, 1), r["_runner"].conn.crashes)
    r = _run(("answer", "import os, signal\ndef everything():\n    os.kill(-1, signal.SIGKILL)\n"),
             ("test", "everything()"), timeout=10)
    assert student_template().alive(), "the template died"
    r = _run(("answer", "def ok():\n    import os\n    return os.getuid() >= 300000\n"), ("test", "fine = ok()"))
    assert status(r, 1) == "ok" and _ns(r)["fine"] is True


# ----------------------------------------------------------------------------- data files
def test_release_file_names_cannot_escape_the_scratch_folder(tmp_path):
    """The supervisor writes the release's data files as root: a name that leaves /tmp (or aims at
    .mpl) makes the fork fail before anything is written, so nothing lands in the template's root
    tmpfs, which every later fork shares. The files it does write are read-only to the student."""
    from dgm_course.sandbox import ForkedStudentProcess, SandboxConfig

    _require_template()
    payload = tmp_path / "payload.txt"
    payload.write_text("escaped")
    names = ["../dgm-escape.txt", "/etc/dgm-escape.txt", "a/../../dgm-escape.txt", ".mpl/dgm-escape.txt",
             "/tmp/../opt/dgm/dgm-escape.txt", ".."]
    for rel in names:
        proc = ForkedStudentProcess(SandboxConfig(files={rel: str(payload)}), student_template().fileno)
        try:
            code = proc.wait(timeout=30)
        finally:
            proc.kill()
        assert code == -1, f"{rel!r}: the fork started ({code})"
    data = tmp_path / "train.txt"
    data.write_text("release data")
    r = _run(("answer", COMMON + r'''
def check_files():
    out = {"escaped": [p for p in ("/dgm-escape.txt", "/etc/dgm-escape.txt", "/opt/dgm/dgm-escape.txt",
                                   "/tmp/.mpl/dgm-escape.txt") if os.path.exists(p)]}
    out["content"] = open("data/train.txt").read()
    res = {}
    attempt(res, "write", lambda: open("data/train.txt", "w").write("changed"))
    attempt(res, "unlink", lambda: os.unlink("data/train.txt"))
    attempt(res, "rename", lambda: os.rename("data/train.txt", "mine.txt"))
    attempt(res, "chmod", lambda: os.chmod("data/train.txt", 0o666))
    attempt(res, "create in data/", lambda: open("data/extra.txt", "w").close())
    attempt(res, "rename data/", lambda: os.rename("data", "moved"))
    out["attempts"] = res
    return out
'''), ("test", "info = check_files()"), files={"data/train.txt": str(data)})
    assert status(r, 1) == "ok"
    info = _ns(r)["info"]
    assert info["escaped"] == [] and info["content"] == "release data", info
    assert "ok" not in info["attempts"].values(), info["attempts"]
