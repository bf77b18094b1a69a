"""The grading worker: one process per submitted notebook, started by ``runner.run_worker``.

Protocol (all on pipes; see runner.py for the design):

1. The coordinator writes one JSON line of configuration on stdin (run key, limits,
   scratch folder, user to become, modules to preload, output file descriptors).
2. The worker sets its limits, preloads and seals the libraries, snapshots the tripwire,
   moves to the scratch folder, drops privileges, installs its audit hook, and reports
   ``ready``. No student code has run so far.
3. For each cell the coordinator sends an encrypted command; the worker runs the cell
   (student answers in the student namespace, instructor cells in the grader namespace)
   and replies with an authenticated result. ``finish`` ends the run.

Everything the loop uses after step 2 is held in local variables of ``_serve`` (see
sandbox.py for why).
"""
from __future__ import annotations

import os
import sys


class CellTimeout(BaseException):
    """Raised in the worker when a cell exceeds its time limit."""


class _Shell:
    """The ``get_ipython()`` seen by the instructor's cells: only ``%matplotlib`` (a no-op:
    the backend is Agg) is supported."""

    def run_line_magic(self, name, line, _stack_depth=1):
        if name == "matplotlib":
            return None
        raise NotImplementedError(f"%{name} is not available while grading")

    def run_cell_magic(self, name, line, cell):
        raise NotImplementedError(f"%%{name} is not available while grading")

    def system(self, cmd):
        raise NotImplementedError("shell commands are not available while grading")


_SHELL = _Shell()


def _get_ipython() -> _Shell:
    """``get_ipython()`` for the instructor's cells."""
    return _SHELL


def _read_line(fd: int) -> bytes:
    """One line (without the newline) read from ``fd`` byte by byte (never reads past it)."""
    out = bytearray()
    while True:
        b = os.read(fd, 1)
        if not b:
            raise EOFError("the coordinator closed the pipe")
        if b == b"\n":
            return bytes(out)
        out += b


def _make_trusted_import(table: dict, real_import):
    """The ``__import__`` of the grader namespace: a protected module is returned from the
    table made before student code ran (so swapping ``sys.modules`` entries or importlib
    internals cannot hand the tests a fake); anything else goes to the real import."""
    hasattr_, get = hasattr, table.get

    def trusted_import(name, globals=None, locals=None, fromlist=(), level=0):
        mod = get(name) if level == 0 else None
        if mod is not None:
            if not fromlist:
                top = get(name.partition(".")[0])
                if top is not None:
                    return top
            else:
                ok = True
                for f in fromlist:
                    if f != "*" and get(name + "." + f) is None and not hasattr_(mod, f):
                        ok = False
                if ok:
                    return mod
        return real_import(name, globals, locals, fromlist, level)

    return trusted_import


def _capture_context(cfg: dict) -> dict:
    """Set the process up (trusted code only) and return everything ``_serve`` needs."""
    import _thread
    import binascii
    import builtins
    import io
    import json
    import json.scanner
    import signal
    import time

    from . import sandbox

    key = bytes.fromhex(cfg["key"])
    report_fd = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    os.set_inheritable(report_fd, False)
    lim = cfg["limits"]
    sandbox.apply_limits(lim["memory_mb"], lim["fsize_mb"], lim["cpu_seconds"],
                         lim["nproc"] if cfg.get("uid") is not None else None)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over-long output: EFBIG, not death
    failed = sandbox.preload(list(sandbox.PRELOAD_STDLIB) + list(cfg["preload"]))
    out = io.TextIOWrapper(io.FileIO(cfg["out_fd"], "w", closefd=False), encoding="utf-8",
                           errors="backslashreplace", write_through=True)
    err = io.TextIOWrapper(io.FileIO(cfg["err_fd"], "w", closefd=False), encoding="utf-8",
                           errors="backslashreplace", write_through=True)
    mods = sandbox.protected_modules()
    sandbox.seal(mods)
    check, restore = sandbox.make_tripwire(mods)
    roots = sandbox.library_roots()
    denials: list = []
    hook = sandbox.make_audit_hook(cfg["scratch"], roots, denials)  # everything it needs imported now
    mac, crypt = sandbox.make_mac(key), sandbox.make_cipher(key)
    os.chdir(cfg["scratch"])
    if cfg.get("uid") is not None:
        sandbox.drop_privileges(cfg["uid"], cfg["gid"])

    real_builtins = dict(vars(builtins))
    grader_builtins = dict(real_builtins, __import__=_make_trusted_import(dict(mods), builtins.__import__))
    student_builtins = dict(real_builtins)
    ndarray = sys.modules["numpy"].ndarray if "numpy" in sys.modules else None
    ctx = {
        "key": key, "mac": mac, "crypt": crypt,
        "report_fd": report_fd, "out": out, "err": err, "out_fd": cfg["out_fd"], "err_fd": cfg["err_fd"],
        "check": check, "restore": restore, "hook": hook, "denials": denials,
        "T": {"__name__": "__main__", "__builtins__": grader_builtins, "get_ipython": _get_ipython},
        "S": {"__name__": "__main__", "__builtins__": student_builtins},
        "scan": json.scanner.c_make_scanner(json.JSONDecoder()),
        "esc": json.encoder.c_encode_basestring_ascii or json.encoder.py_encode_basestring_ascii,
        "a2b": binascii.a2b_base64, "fromhex": bytes.fromhex, "read": os.read, "write": os.write,
        "lseek": os.lseek, "exit": os._exit, "compile": compile, "exec": exec, "sys": sys,
        "setitimer": signal.setitimer, "ITIMER_REAL": signal.ITIMER_REAL, "signal": signal.signal,
        "SIGALRM": signal.SIGALRM, "perf": time.perf_counter, "CellTimeout": CellTimeout,
        "tname": type.__dict__["__name__"].__get__, "exc_str": BaseException.__str__,
        "exc_tb": BaseException.__dict__["__traceback__"].__get__,
        "ndarray": ndarray, "ndarray_copy": ndarray.copy if ndarray else None,
        "float_repr": float.__repr__, "int_repr": int.__repr__,
        "types": (str, int, float, bool, list, tuple, dict, type(None), bytes, bytearray),
        "builtins": (len, isinstance, type, min, max, list, dict, sorted, BaseException, SyntaxError, getattr, id),
        "preload_failed": failed, "thread_count": _thread._count, "addaudithook": sys.addaudithook,
    }
    return ctx


def _serve(ctx: dict) -> None:  # noqa: C901 (one loop on purpose: everything stays local)
    """Run cells as the coordinator asks until ``finish``. Uses no global names."""
    mac, crypt, report_fd = ctx["mac"], ctx["crypt"], ctx["report_fd"]
    out, err, out_fd, err_fd = ctx["out"], ctx["err"], ctx["out_fd"], ctx["err_fd"]
    check, restore = ctx["check"], ctx["restore"]
    denials = ctx["denials"]
    T, S, scan, esc, a2b, fromhex = ctx["T"], ctx["S"], ctx["scan"], ctx["esc"], ctx["a2b"], ctx["fromhex"]
    read, write, lseek, exit_, compile_, exec_, sys_ = (ctx["read"], ctx["write"], ctx["lseek"],
                                                        ctx["exit"], ctx["compile"], ctx["exec"], ctx["sys"])
    setitimer, ITIMER_REAL, signal_, SIGALRM = ctx["setitimer"], ctx["ITIMER_REAL"], ctx["signal"], ctx["SIGALRM"]
    perf, CellTimeout_, tname, exc_str, exc_tb = (ctx["perf"], ctx["CellTimeout"], ctx["tname"],
                                                   ctx["exc_str"], ctx["exc_tb"])
    ndarray, ndarray_copy = ctx["ndarray"], ctx["ndarray_copy"]
    float_repr, int_repr, thread_count = ctx["float_repr"], ctx["int_repr"], ctx["thread_count"]
    str_, int_, float_, bool_, list_, tuple_, dict_, none_, bytes_, bytearray_ = ctx["types"]
    (len_, isinstance_, type_, min_, max_, list_f, dict_f, sorted_, BaseException_, SyntaxError_, getattr_,
     id_) = ctx["builtins"]
    exported: list = []
    armed = [False]

    def on_alarm(signum, frame):
        if armed[0]:
            raise CellTimeout_("cell timed out")

    def dump(obj):
        """JSON text of plain data built by this loop."""
        t = type_(obj)
        if t is str_:
            return esc(obj)
        if obj is None:
            return "null"
        if t is bool_:
            return "true" if obj else "false"
        if t is int_:
            return int_repr(obj)
        if t is float_:
            return float_repr(obj) if obj == obj and obj not in (float_("inf"), float_("-inf")) else "null"
        if t is list_ or t is tuple_:
            return "[" + ",".join([dump(x) for x in obj]) + "]"
        if t is dict_:
            return "{" + ",".join([esc(k) + ":" + dump(v) for k, v in obj.items()]) + "}"
        return esc("<unserializable>")

    def send(payload):
        text = dump(payload)
        line = ("{\"p\":" + esc(text) + ",\"m\":\"" + mac(text.encode("utf-8")) + "\"}\n").encode("ascii")
        view = 0
        while view < len_(line):
            view += write(report_fd, line[view:])

    buf = bytearray_()

    def receive():
        while True:
            i = buf.find(b"\n")
            if i >= 0:
                line = bytes_(buf[:i])
                del buf[:i + 1]
                break
            chunk = read(0, 65536)
            if not chunk:
                exit_(75)
            buf.extend(chunk)
        env = scan(line.decode("ascii"), 0)[0]
        plain = crypt(fromhex(env["n"]), a2b(env["c"]))
        return scan(plain.decode("utf-8"), 0)[0]

    def safe_text(e, limit):
        try:
            s = exc_str(e)
        except BaseException_:
            s = "<the error message could not be printed>"
        if type_(s) is not str_:
            s = "<the error message is not text>"
        return s[:limit]

    def frames_of(e):
        frames = []
        tb = exc_tb(e)
        n = 0
        while tb is not None and n < 200:
            code = tb.tb_frame.f_code
            frames.append([code.co_filename, tb.tb_lineno, code.co_name])
            tb = tb.tb_next
            n += 1
        return frames[-40:]

    def offset(fd):
        try:
            return lseek(fd, 0, 1)
        except BaseException_:
            return -1

    signal_(SIGALRM, on_alarm)
    preload_failed = [str_(x)[:200] for x in ctx["preload_failed"][:20]]
    ctx.clear()
    send({"ready": True, "preload_failed": preload_failed})
    while True:
        msg = receive()
        op = msg["op"]
        seq = msg["seq"]
        if op == "finish":
            send({"seq": seq, "done": True, "modules": sorted_([m for m in sys_.modules if type_(m) is str_])})
            exit_(0)
        cell = msg["cell"]
        kind, timeout = cell["kind"], cell["timeout"]
        ns = S if kind == "answer" else T
        before = dict_f(T) if kind == "plain" else None
        sys_.stdout, sys_.stderr = out, err
        o0, e0 = offset(out_fd), offset(err_fd)
        d0 = len_(denials)
        status, ename, evalue, frames, tamper = "ok", "", "", [], []
        t0 = perf()
        try:
            try:
                code = compile_(cell["source"], cell["filename"], "exec", dont_inherit=True)
                armed[0] = True
                setitimer(ITIMER_REAL, timeout, 1.0)
                exec_(code, ns)
                armed[0] = False
            except CellTimeout_ as e:
                armed[0] = False
                status, ename, evalue, frames = "timeout", "TimeoutError", f"cell exceeded {timeout:g} s", frames_of(e)
            except BaseException_ as e:
                armed[0] = False
                status, ename = "error", tname(type_(e))
                evalue, frames = safe_text(e, 4000), frames_of(e)
        except CellTimeout_:
            armed[0] = False
            status, ename, evalue = "timeout", "TimeoutError", f"cell exceeded {timeout:g} s"
        armed[0] = False
        setitimer(ITIMER_REAL, 0)
        seconds = perf() - t0
        sys_.stdout, sys_.stderr = out, err
        o1, e1 = offset(out_fd), offset(err_fd)
        if (o1 - o0) + (e1 - e0) > cell["max_output"] or o1 < o0 or e1 < e0:
            if status == "ok":
                status, ename = "output-limit", "OutputLimitExceeded"
                evalue = f"the cell printed more than {cell['max_output']} bytes"
        tamper = check()
        if tamper:
            restore()
            if check():
                send({"seq": seq, "i": cell["index"], "fatal": "a protected library could not be restored"})
                exit_(3)
            status, ename = "tamper", "TamperingDetected"
            evalue = "a protected library was modified: " + "; ".join(tamper[:5])
        if kind == "answer":
            for name in cell["exports"]:
                if name not in exported:
                    exported.append(name)
            for name in exported:
                if name in S:
                    T[name] = S[name]
                elif name in T:
                    del T[name]
        elif kind == "plain":
            for name, value in list_f(T.items()):
                if name.startswith("__") or (name in before and before[name] is value):
                    continue
                if ndarray is not None and type_(value) is ndarray:
                    value = ndarray_copy(value)
                elif type_(value) is list_ or type_(value) is dict_:
                    value = type_(value)(value)
                S[name] = value
        send({"seq": seq, "i": cell["index"], "status": status, "ename": ename, "evalue": evalue,
              "frames": frames, "out": [o0, o1], "err": [e0, e1], "tamper": tamper,
              "denied": [str_(d)[:300] for d in denials[d0:d0 + 10]], "threads": thread_count(),
              "seconds": seconds})


def main() -> None:
    """Entry point of the worker process (``python -c`` from the coordinator)."""
    import json

    try:
        cfg = json.loads(_read_line(0).decode("utf-8"))
        ctx = _capture_context(cfg)
        ctx["addaudithook"](ctx["hook"])
    except BaseException:
        import traceback

        traceback.print_exc()
        os._exit(70)
    _serve(ctx)


if __name__ == "__main__":
    main()
