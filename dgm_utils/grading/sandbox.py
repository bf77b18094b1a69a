"""Process-level sandbox of a grading worker: limits, user switch, module sealing, tripwire,
audit hook and message authentication.

Everything here runs in the worker *before* any student code. The objects that keep
working afterwards (the audit hook, the tripwire, the MAC) are closures whose code uses no
global name: every function, class and exception they need is captured when they are
made, so rebinding a builtin or a module attribute later cannot change them
(``tests/test_grading.py`` checks this with ``dis``). They are reachable only through
frames, ``gc`` or closure introspection, which the audit hook denies to student code.
"""
from __future__ import annotations

import os
import sys
import types

# Packages whose modules are sealed and watched by the tripwire (every loaded submodule).
SEAL_PACKAGES = ("numpy", "scipy", "sklearn", "dgm_utils", "math", "cmath", "builtins",
                 "operator", "functools", "statistics", "random")
# torch is large and sets attributes on some of its own modules: only these are sealed.
SEAL_TORCH = ("torch", "torch.testing", "torch.nn.functional", "torch.linalg", "torch.special")
# Standard-library modules imported before the switch to the unprivileged user (a Python
# installed in a folder that user cannot read can no longer import them afterwards).
PRELOAD_STDLIB = ("math", "cmath", "random", "statistics", "itertools", "functools", "collections",
                  "heapq", "bisect", "string", "re", "dataclasses", "typing", "copy", "time",
                  "datetime", "fractions", "decimal", "operator", "warnings", "contextlib", "enum",
                  "json", "textwrap", "numbers", "abc", "array", "struct", "pprint", "inspect",
                  "traceback", "linecache", "unittest.mock")
# Frame-reaching attributes whose read raises an ``object.__getattr__`` audit event.
FRAME_ATTRS = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
# Attributes whose assignment raises ``object.__setattr__`` and that student code may not set.
GUARDED_SETATTR = frozenset({"__code__", "__defaults__", "__kwdefaults__", "__class__", "__bases__",
                             "__dict__", "__globals__", "__builtins__", "__closure__"})
ALWAYS_DENIED = frozenset({
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
    "os.forkpty", "pty.spawn", "os.kill", "os.killpg", "signal.pthread_kill",
    "sys.addaudithook", "sys.settrace", "sys.setprofile", "resource.setrlimit",
    "resource.prlimit", "sqlite3.connect", "sqlite3.connect/handle", "webbrowser.open",
    "os.startfile", "urllib.Request", "http.client.connect", "ftplib.connect",
    "smtplib.connect", "os.symlink", "os.link", "os.chroot", "os.setuid", "os.setgid"})
UNTRUSTED_DENIED = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents", "code.__new__",
                              "function.__new__"})
FRAME_EVENTS = frozenset({"sys._getframe", "sys._current_frames"})
# Standard-library modules that hand frame objects back to their caller: a frame request
# they make counts as the student's own when student code is on the stack.
FRAME_EXPOSERS = ("/inspect.py", "/traceback.py", "/logging/__init__.py", "/bdb.py", "/pdb.py",
                  "/cgitb.py", "/code.py", "/faulthandler.py", "/threading.py")
WRITE_EVENTS = frozenset({"os.remove", "os.rmdir", "os.rename", "os.mkdir", "os.chmod", "os.chown",
                          "os.truncate", "os.utime", "os.chflags", "os.lchown", "os.lchmod",
                          "os.setxattr", "os.removexattr", "shutil.rmtree", "shutil.copyfile",
                          "shutil.copymode", "shutil.copystat", "shutil.move", "shutil.chown"})
READ_EVENTS = frozenset({"os.listdir", "os.scandir", "glob.glob", "os.getxattr", "os.listxattr"})
SYSTEM_READ_FILES = ("/dev/null", "/dev/urandom", "/dev/random", "/etc/localtime", "/proc/meminfo",
                     "/proc/cpuinfo", "/proc/stat", "/proc/self/status", "/proc/self/stat",
                     "/proc/self/statm", "/proc/self/maps", "/proc/self/cgroup")
SYSTEM_READ_DIRS = ("/usr/share/fonts", "/usr/share/zoneinfo", "/sys/devices/system/cpu",
                    "/sys/fs/cgroup", "/usr/lib/locale")


class SandboxViolation(PermissionError):
    """Raised by the audit hook when graded code attempts something the sandbox forbids."""


class TamperingDetected(Exception):
    """Raised (reported) when a cell left a protected library modified."""


# ----------------------------------------------------------------------------- limits

def apply_limits(memory_mb: int, fsize_mb: int, cpu_seconds: int, nproc: int | None,
                 nofile: int = 512) -> None:
    """Hard resource limits for this process and its children (soft = hard, so graded code
    cannot raise them): address space, file size, CPU time, open files, no core dumps, and
    (when ``nproc``) the number of processes of the user."""
    import resource

    def cap(which, value):
        _, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value))

    cap(resource.RLIMIT_AS, int(memory_mb) * 2**20)
    cap(resource.RLIMIT_FSIZE, int(fsize_mb) * 2**20)
    cap(resource.RLIMIT_CPU, int(cpu_seconds))
    cap(resource.RLIMIT_NOFILE, int(nofile))
    cap(resource.RLIMIT_CORE, 0)
    if nproc:
        cap(resource.RLIMIT_NPROC, int(nproc))


def drop_privileges(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` with no supplementary groups, irreversibly (RuntimeError if the
    switch did not take or could be undone)."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid or os.getgid() != gid:
        raise RuntimeError(f"could not switch to uid {uid} gid {gid}")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise RuntimeError("privileges could be regained after the switch")


def preload(names) -> list[str]:
    """Import each module in ``names`` (trusted: the instructor's imports); returns the
    "name: error" strings of those that failed."""
    import importlib

    names = list(names)
    if "torch" in names and "torch._dynamo" not in names:
        names.insert(names.index("torch") + 1, "torch._dynamo")  # it rebinds torch.manual_seed on import
    failed = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as err:  # a missing optional package must not stop grading
            failed.append(f"{name}: {type(err).__name__}: {err}")
    return failed


# ----------------------------------------------------------------------------- sealing

class _SealMeta(type):
    """Metaclass of SealedModule: its methods cannot be replaced by attribute assignment."""

    def __setattr__(cls, name, value):
        raise AttributeError("dgm-course: the sealed-module type is read-only while grading")

    def __delattr__(cls, name):
        raise AttributeError("dgm-course: the sealed-module type is read-only while grading")


_module_dict = types.ModuleType.__dict__["__dict__"].__get__
_module_getattribute = types.ModuleType.__getattribute__
_module_setattr = types.ModuleType.__setattr__


class SealedModule(types.ModuleType, metaclass=_SealMeta):
    """A module whose attributes cannot be assigned or deleted and whose ``__dict__`` is a
    read-only view. The import system may still attach a newly imported submodule."""

    def __setattr__(self, name, value):
        modname = _module_getattribute(self, "__name__")
        if (isinstance(value, types.ModuleType) and sys.modules.get(f"{modname}.{name}") is value
                and _module_dict(self).get(name, value) is value):
            _module_setattr(self, name, value)  # importlib attaching a submodule
            return
        raise AttributeError(f"dgm-course: {modname}.{name} cannot be changed while grading "
                             "(libraries are read-only)")

    def __delattr__(self, name):
        modname = _module_getattribute(self, "__name__")
        raise AttributeError(f"dgm-course: {modname}.{name} cannot be deleted while grading")

    def __getattribute__(self, name):
        if name == "__dict__":
            return types.MappingProxyType(_module_dict(self))
        return _module_getattribute(self, name)

    def __dir__(self):
        return sorted(_module_dict(self))


def protected_modules(modules: dict | None = None) -> dict[str, types.ModuleType]:
    """The loaded modules to seal, {name: module}, sorted by name: every module of
    SEAL_PACKAGES, the torch modules of SEAL_TORCH (and torch.testing's submodules), and
    this grading package. Modules of another type than ModuleType are left alone."""
    modules = sys.modules if modules is None else modules
    out = {}
    for name, mod in sorted(modules.items()):
        top = name.split(".")[0]
        wanted = (top in SEAL_PACKAGES or name in SEAL_TORCH or name.startswith("torch.testing."))
        if wanted and type(mod) in (types.ModuleType, SealedModule):
            out[name] = mod
    return out


def seal(modules: dict[str, types.ModuleType]) -> None:
    """Make every module in ``modules`` a SealedModule (in place)."""
    for mod in modules.values():
        if type(mod) is not SealedModule:
            mod.__class__ = SealedModule


# ----------------------------------------------------------------------------- tripwire

def make_tripwire(modules: dict[str, types.ModuleType]):
    """(check, restore) closures over a snapshot of ``modules`` taken now.

    check() returns a list of changes since the snapshot (empty when intact): a function,
    class or submodule of a protected module replaced or deleted, a builtin shadowed by a
    new module global, a module unsealed or swapped in sys.modules, a class method
    replaced, a function's defaults replaced. restore() puts the snapshot back.
    """
    import builtins

    mdict, sysmods, sealed, tp, len_, str_, all_ = _module_dict, sys.modules, SealedModule, type, len, str, all
    obj_setattr, type_setattr = object.__setattr__, type.__setattr__
    builtin_names = frozenset(_module_dict(builtins))
    entries, classes, funcs = [], [], []
    seen_classes = set()
    for name, mod in modules.items():
        d = mdict(mod)
        keep = [(k, v) for k, v in d.items() if callable(v) or isinstance(v, types.ModuleType)]
        entries.append((name, mod, d, keep, frozenset(d)))
        for k, v in keep:
            if isinstance(v, type) and getattr(v, "__module__", None) == name and id(v) not in seen_classes:
                seen_classes.add(id(v))
                proxy = type.__dict__["__dict__"].__get__(v)
                members = [(a, m) for a, m in proxy.items()
                           if isinstance(m, (types.FunctionType, classmethod, staticmethod, property))]
                if members:
                    classes.append((f"{name}.{k}", v, proxy, members))
            elif isinstance(v, types.FunctionType) and (v.__defaults__ or v.__kwdefaults__):
                kw = v.__kwdefaults__
                funcs.append((f"{name}.{k}", v, v.__defaults__, kw, list(kw.items()) if kw else []))
    for cls in (SealedModule, _SealMeta):
        proxy = type.__dict__["__dict__"].__get__(cls)
        classes.append((cls.__name__, cls, proxy, list(proxy.items())))
    get_defaults = types.FunctionType.__dict__["__defaults__"].__get__
    get_kwdefaults = types.FunctionType.__dict__["__kwdefaults__"].__get__
    fmt = "{}: {}".format

    def check():
        problems = []
        for name, mod, d, keep, keys in entries:
            if tp(mod) is not sealed:
                problems.append(fmt(name, "module unsealed"))
            if sysmods.get(name) is not mod:
                problems.append(fmt(name, "replaced in sys.modules"))
            for k, v in keep:
                if d.get(k) is not v:
                    problems.append(fmt(name, k + " replaced or deleted"))
            if len_(d) != len_(keys) or not keys.issuperset(d):
                for k in d:
                    if tp(k) is not str_:
                        problems.append(fmt(name, "a non-string global added"))
                    elif k not in keys and (k in builtin_names or name == "builtins"):
                        problems.append(fmt(name, k + " added (shadows a builtin)"))
        for qual, _cls, proxy, members in classes:
            for a, m in members:
                if proxy.get(a) is not m:
                    problems.append(fmt(qual, a + " replaced or deleted"))
        for qual, f, defaults, kwdefaults, kwitems in funcs:
            if get_defaults(f) is not defaults or get_kwdefaults(f) is not kwdefaults:
                problems.append(fmt(qual, "default arguments replaced"))
            elif kwitems and (len_(kwdefaults) != len_(kwitems) or not all_(
                    kwdefaults.get(a, kwdefaults) is v for a, v in kwitems)):
                problems.append(fmt(qual, "keyword defaults changed"))
        return problems

    def restore():
        for name, mod, d, keep, keys in entries:
            if tp(mod) is not sealed:
                obj_setattr(mod, "__class__", sealed)
            if sysmods.get(name) is not mod:
                sysmods[name] = mod
            for k, v in keep:
                if d.get(k) is not v:
                    d[k] = v
            for k in [k for k in d if tp(k) is not str_ or (
                    k not in keys and (k in builtin_names or name == "builtins"))]:
                del d[k]
        for _qual, cls, proxy, members in classes:
            for a, m in members:
                if proxy.get(a) is not m:
                    type_setattr(cls, a, m)
        for _qual, f, defaults, kwdefaults, kwitems in funcs:
            if get_defaults(f) is not defaults or get_kwdefaults(f) is not kwdefaults:
                obj_setattr(f, "__defaults__", defaults)
                obj_setattr(f, "__kwdefaults__", kwdefaults)
            if kwitems:
                kwdefaults.clear()
                kwdefaults.update(kwitems)

    return check, restore


# ----------------------------------------------------------------------------- audit hook

def library_roots() -> tuple[str, ...]:
    """Folders of trusted code and data: the standard library, site-packages, the
    absolute entries of sys.path (but not the current folder) and the installed dgm_utils
    package. Call it before moving to the scratch folder."""
    import site
    import sysconfig

    import dgm_utils

    roots = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.update(site.getsitepackages())
    # sys.path entries, except the current folder and the folder holding dgm_utils (the
    # course repository itself when it is on PYTHONPATH: it holds solutions/).
    roots.update(p for p in sys.path if p and os.path.isabs(p) and os.path.realpath(p) != os.getcwd()
                 and not os.path.isdir(os.path.join(p, "dgm_utils")))
    roots.add(os.path.dirname(os.path.abspath(dgm_utils.__file__)))
    return tuple(sorted(os.path.realpath(r).rstrip("/") + "/" for r in roots if r))


def make_audit_hook(scratch: str, read_roots: tuple[str, ...], denials: list | None = None):
    """The worker's audit hook (install with ``sys.addaudithook``; it cannot be removed).

    scratch: the only folder graded code may write to (it may also read it);
    read_roots: folders it may read (library code and data).

    *Untrusted* code is code whose file name starts with ``<student`` (the worker compiles
    answer cells under that name) or whose file is not in a library folder (a module
    written into scratch). Code compiled at run time by a library (dataclasses, typing,
    torch templates: ``<string>``...) is trusted, and untrusted code may only compile
    under a ``<student`` name, so it cannot pass its code off as trusted.

    Denied always: processes (subprocess, os.system, exec, fork, spawn), signals to other
    processes, sockets and network clients, sqlite, new audit hooks, tracing and profiling,
    rlimit changes, links; opening files outside the allowed folders (writing outside
    scratch). Denied while untrusted code is on the stack: frame access (sys._getframe, tracebacks'
    tb_frame, generators' gi_frame...), gc's object graph, building code objects, ctypes,
    and setting a function's code, defaults or an object's class. Every denial is also
    appended to ``denials`` (at most 200 entries) for the instructor's report.
    """
    import posix
    import stat as _stat
    import threading

    tls = threading.local()
    getframe, lstat, readlink, getcwd = sys._getframe, posix.lstat, posix.readlink, posix.getcwd
    islnk, decode = _stat.S_ISLNK, bytes.decode
    str_, bytes_, int_, tp, len_, getattr_ = str, bytes, int, type, len, getattr
    OSError_, Violation = OSError, SandboxViolation
    import pathlib
    path_types = (pathlib.PosixPath, pathlib.PurePosixPath)
    path_str = pathlib.PurePath.__dict__["_str"].__get__  # the slot (C): no pathlib code runs
    AttributeError_ = AttributeError
    scratch = scratch.rstrip("/") + "/"
    scratch_dir = scratch[:-1]
    read_roots = tuple(read_roots) + (scratch,) + tuple(d.rstrip("/") + "/" for d in SYSTEM_READ_DIRS)
    pid = str(os.getpid())
    read_files = frozenset(SYSTEM_READ_FILES) | frozenset(
        f.replace("/proc/self/", "/proc/" + pid + "/") for f in SYSTEM_READ_FILES)
    lib_roots = tuple(read_roots[:-len(SYSTEM_READ_DIRS) - 1])
    always, untrusted_denied = ALWAYS_DENIED, UNTRUSTED_DENIED
    write_events, read_events = WRITE_EVENTS, READ_EVENTS
    frame_attrs, guarded_setattr, frame_events, exposers = FRAME_ATTRS, GUARDED_SETATTR, FRAME_EVENTS, FRAME_EXPOSERS
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def resolve(path):
        """Absolute path with '.', '..' and symbolic links resolved (no Python-level os.path)."""
        if not path.startswith("/"):
            path = getcwd() + "/" + path
        todo = path.split("/")
        todo.reverse()
        out = []
        hops = 0
        while todo:
            part = todo.pop()
            if part == "" or part == ".":
                continue
            if part == "..":
                if out:
                    out.pop()
                continue
            candidate = "/" + "/".join(out + [part])
            try:
                link = islnk(lstat(candidate).st_mode)
            except OSError_:
                link = False
            if link and hops < 40:
                hops += 1
                target = readlink(candidate).split("/")
                target.reverse()
                todo.extend(target)
                if readlink(candidate).startswith("/"):
                    out = []
                continue
            out.append(part)
        return "/" + "/".join(out)

    def as_path(obj):
        """A str path for ``obj``, None for a file descriptor; raises for other objects
        (their __fspath__ could be student code)."""
        t = tp(obj)
        if t is str_:
            return obj
        if t is bytes_:
            return decode(obj, "utf-8", "surrogateescape")
        if t is int_:
            return None
        if t in path_types:
            try:
                p = path_str(obj)
            except AttributeError_:
                p = None
            if tp(p) is str_:
                return p
        raise Violation("dgm-course sandbox: a path given as an unusual object is denied")

    def is_untrusted(fn):
        if fn.startswith("<"):
            return fn.startswith("<student")
        return not fn.startswith(lib_roots)

    def untrusted():
        """True when untrusted code is on this thread's stack."""
        f = getframe(2)
        while f is not None:
            if is_untrusted(f.f_code.co_filename):
                return True
            f = f.f_back
        return False

    def caller_untrusted():
        """True when the code that triggered the event is itself untrusted."""
        f = getframe(3)
        return f is not None and is_untrusted(f.f_code.co_filename)

    def frame_request_untrusted():
        """A frame request on behalf of untrusted code: made by it, or by a standard
        module that returns frames (inspect, traceback...) while it is on the stack.
        Libraries reading a caller's module name (typing, torch) are not affected."""
        f = getframe(3)
        if f is None:
            return False
        fn = f.f_code.co_filename
        return is_untrusted(fn) or (fn.endswith(exposers) and untrusted())

    def may_read(p):
        r = resolve(p)
        return r in read_files or (r + "/").startswith(read_roots) or r.startswith(read_roots)

    def may_write(p):
        r = resolve(p)
        return r == "/dev/null" or r == scratch_dir or r.startswith(scratch)

    denials = [] if denials is None else denials

    def deny(event, detail):
        if len_(denials) < 200:
            denials.append(event + (" (" + detail + ")" if detail else ""))
        raise Violation("dgm-course sandbox: " + event + " denied" + (" (" + detail + ")" if detail else ""))

    def decide(event, args):
        if event in always or event.startswith("socket.") or event.startswith("syslog."):
            deny(event, "")
        if event == "open":
            p = as_path(args[0])
            if p is None:
                return
            mode = args[1] if tp(args[1]) is str_ else ""
            flags = args[2] if tp(args[2]) is int_ else 0
            writing = ("w" in mode or "a" in mode or "x" in mode or "+" in mode or (flags & write_flags) != 0)
            if writing and not may_write(p):
                deny("writing " + p, "only the scratch folder is writable")
            if not writing and not may_read(p):
                deny("reading " + p, "outside the files a submission may read")
            return
        if event in read_events:
            p = as_path(args[0]) if len_(args) and args[0] is not None else "."
            if p is not None and not may_read(p):
                deny(event + " " + p, "")
            return
        if event in write_events or event == "os.chdir":
            for a in args[:2]:
                p = as_path(a) if tp(a) in (str_, bytes_) or tp(a) in path_types else None
                if p is not None and not may_write(p):
                    deny(event + " " + p, "only the scratch folder may be changed")
            return
        if event in untrusted_denied or event.startswith("ctypes."):
            if untrusted():
                deny(event, "introspection is not allowed in graded code")
            return
        if event in frame_events:
            if frame_request_untrusted():
                deny(event, "introspection is not allowed in graded code")
            return
        if event == "object.__getattr__":
            if frame_request_untrusted():
                deny("reading ." + str_(args[1]), "introspection is not allowed in graded code")
            return
        if event == "object.__setattr__" or event == "object.__delattr__":
            if untrusted():
                deny("setting ." + str_(args[1]), "not allowed in graded code")
            return
        if event == "compile" or event == "marshal.loads":
            fn = args[1] if event == "compile" else "<marshal>"
            if tp(fn) is bytes_:
                fn = decode(fn, "utf-8", "surrogateescape")
            if (tp(fn) is not str_ or not fn.startswith("<student")) and caller_untrusted():
                deny(event + " as " + (fn if tp(fn) is str_ else "?"),
                     "graded code may only compile code under its own name (no exec/eval of text)")

    def hook(event, args):
        if event == "object.__getattr__":
            if args[1] not in frame_attrs:
                return
        elif event == "object.__setattr__" or event == "object.__delattr__":
            if args[1] not in guarded_setattr:
                return
        elif event == "import" or event == "exec" or event == "builtins.id":
            return
        if getattr_(tls, "busy", False):
            return
        tls.busy = True
        try:
            decide(event, args)
        finally:
            tls.busy = False

    return hook


# ----------------------------------------------------------------------------- messages

def make_mac(key: bytes):
    """A closure computing the hex HMAC-SHA256 of bytes under ``key``, built from C
    functions captured now (hashlib's sha256)."""
    import hashlib

    sha256 = hashlib.sha256
    if len(key) > 64:
        key = sha256(key).digest()
    key = key.ljust(64, b"\0")
    ikey = bytes(b ^ 0x36 for b in key)
    okey = bytes(b ^ 0x5C for b in key)

    def mac(data):
        inner = sha256(ikey)
        inner.update(data)
        outer = sha256(okey)
        outer.update(inner.digest())
        return outer.hexdigest()

    return mac


def make_cipher(key: bytes):
    """A closure XOR-ing bytes with a SHAKE-256 keystream of (key, nonce): the same call
    encrypts and decrypts. Commands carry hidden-test source; a thread left running by a
    student cannot read them off the pipe."""
    import hashlib

    shake, from_bytes, len_ = hashlib.shake_256, int.from_bytes, len

    def crypt(nonce, data):
        n = len_(data)
        if n == 0:
            return b""
        stream = shake(key + nonce).digest(n)
        return (from_bytes(data, "little") ^ from_bytes(stream, "little")).to_bytes(n, "little")

    return crypt
