"""The student process: runs the student's answer cells and the public plain cells of one
notebook, in order, and answers the checker's requests about the objects they define.

It runs inside the sandbox (``sandbox.py``) and never receives a test cell, a hidden test, a
reference value or a solution: only cell sources it is allowed to see (the student's own
answers, the release's plain cells) and the inputs of the calls the checker makes. Nothing
here is trusted by the checker: a student may replace any of it from an answer cell, and the
checker validates every message it gets back (``channel.py``).

Requests (checker -> student), each answered by ``{"op": "reply", "id", "value" | "error"}``:

    exec     run a cell's source in the notebook namespace
    call     call a global name or a handle with arguments; reply carries the value, the new
             state of layers passed by value ("copyback") and the warnings raised
    getattr  read an attribute of a global name or a handle
    apply    iter / next / len / bool / getitem / contains / repr on a global or handle
    release  forget handles the checker no longer holds (no reply)
    bye      exit

While serving a request, student code may call an object that lives in the checker (a
*callback*: an instructor function or decoder passed as an argument); the student side then
sends ``callback`` / ``cbgetattr`` / ``cbapply`` and serves nested requests until the reply.
"""
from __future__ import annotations

import builtins
import contextlib
import os
import random
import sys
import time
import traceback
import types
import warnings

from dgm_course.channel import (ChannelError, Decoder, Encoder, build_layer, data_kind, layer_state, read_frame,
                                write_frame)

FOREVER = 10.0**7  # the student waits for the checker as long as the checker lives
EXCEPTIONS = ("NotImplementedError", "FloatingPointError", "ZeroDivisionError", "OverflowError", "ArithmeticError",
              "ValueError", "TypeError", "IndexError", "KeyError", "LookupError", "AttributeError", "NameError",
              "UnboundLocalError", "AssertionError", "RuntimeError", "RecursionError", "MemoryError", "StopIteration",
              "ImportError", "ModuleNotFoundError", "OSError", "EOFError", "Exception")
WARNINGS = ("RuntimeWarning", "UserWarning", "DeprecationWarning", "FutureWarning", "PendingDeprecationWarning",
            "SyntaxWarning", "ImportWarning", "UnicodeWarning", "BytesWarning", "ResourceWarning", "Warning")
MAX_MESSAGE = 4000


def describe_exception(exc: BaseException) -> dict:
    """{"type", "base", "message", "frames"} of an exception: "base" is the nearest builtin
    exception class the checker may rebuild; frames are those of notebook cells."""
    base = next((c.__name__ for c in type(exc).__mro__ if c.__module__ == "builtins" and c.__name__ in EXCEPTIONS),
                "Exception")
    try:
        message = str(exc)
    except Exception:  # a __str__ that fails
        message = "<exception message unavailable>"
    frames = [[f.filename, f.lineno or 0, f.name] for f in traceback.extract_tb(exc.__traceback__)
              if f.filename.startswith("<")]
    return {"type": type(exc).__name__[:100], "base": base, "message": message[:MAX_MESSAGE], "frames": frames[-8:]}


def rebuild_exception(info) -> BaseException:
    """An exception raised in student code for an error the checker reported (a callback failed)."""
    if not isinstance(info, dict):
        return RuntimeError("the grader reported an error")
    cls = getattr(builtins, str(info.get("base")), RuntimeError) if info.get("base") in EXCEPTIONS else RuntimeError
    return cls(str(info.get("message", ""))[:MAX_MESSAGE])


class Callback:
    """An object that lives in the checker (an instructor function or model passed to student
    code). Calling it, reading its attributes or iterating over it asks the checker."""

    __slots__ = ("_server", "_ref", "_type")

    def __init__(self, server, ref: int, type_name: str):
        object.__setattr__(self, "_server", server)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_type", type_name)

    def __call__(self, *args, **kwargs):
        return self._server.request({"op": "callback", "target": self, "args": list(args), "kwargs": kwargs})

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._server.request({"op": "cbgetattr", "target": self, "name": name})

    def __iter__(self):
        return self._server.request({"op": "cbapply", "fn": "iter", "target": self, "args": []})

    def __next__(self):
        return self._server.request({"op": "cbapply", "fn": "next", "target": self, "args": []})

    def __len__(self):
        return self._server.request({"op": "cbapply", "fn": "len", "target": self, "args": []})

    def __repr__(self):
        return f"<{self._type} (grader object)>"


class StudentEncoder(Encoder):
    """Data by value; checker objects back as their reference; everything else as a handle."""

    def __init__(self, server):
        super().__init__()
        self.server = server

    def other(self, v, depth):
        if isinstance(v, Callback):
            self.checker_ref(v._ref, v._type)
        elif data_kind(v) is not None:
            super().other(v, depth)
        else:
            self.student_ref(self.server.register(v), type(v).__name__)


class StudentDecoder(Decoder):
    def __init__(self, server, data: bytes):
        super().__init__(data)
        self.server = server

    def student_ref(self, ref_id, type_name):
        if ref_id not in self.server.objects:
            raise ChannelError(f"no student object {ref_id}")
        return self.server.objects[ref_id]

    def checker_ref(self, ref_id, type_name):
        return Callback(self.server, ref_id, type_name)

    def module(self, spec):
        layer = build_layer(spec)
        self.created.append(layer)
        return layer


class Shell:
    """What ``get_ipython()`` returns when a cell uses IPython syntax (``%matplotlib inline``)."""

    def __init__(self, ns):
        self.ns = ns

    def run_line_magic(self, name, line, _stack_depth=1):
        if name in ("matplotlib", "config", "load_ext", "autoreload"):
            return None
        if name in ("time", "timeit"):
            exec(compile(line, "<magic>", "exec"), self.ns)
            return None
        raise NotImplementedError(f"the magic %{name} does not run when the notebook is graded")

    def run_cell_magic(self, name, line, cell):
        if name in ("time", "timeit", "capture"):
            exec(compile(cell, "<magic>", "exec"), self.ns)
            return None
        raise NotImplementedError(f"the cell magic %%{name} does not run when the notebook is graded")

    def system(self, cmd):
        os.system(cmd)

    def getoutput(self, cmd):
        import subprocess

        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.splitlines()


def _transform(source: str) -> str:
    if "%" not in source and "!" not in source:
        return source
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


class Server:
    def __init__(self, cin: int, cout: int):
        self.cin, self.cout = cin, cout
        self.objects: dict[int, object] = {}
        self.ids: dict[int, int] = {}
        self.next_id = 1
        self.next_request = 1
        main = types.ModuleType("__main__")
        sys.modules["__main__"] = main
        self.ns = main.__dict__
        self.ns["get_ipython"] = lambda: self.shell
        self.ns["display"] = lambda *objects, **kwargs: None
        self.shell = Shell(self.ns)

    # -- handles
    def register(self, obj) -> int:
        known = self.ids.get(id(obj))
        if known is not None and self.objects.get(known) is obj:
            return known
        ref = self.next_id
        self.next_id += 1
        self.objects[ref] = obj
        self.ids[id(obj)] = ref
        return ref

    def release(self, ref) -> None:
        obj = self.objects.pop(ref, None) if isinstance(ref, int) else None
        if obj is not None and self.ids.get(id(obj)) == ref:
            del self.ids[id(obj)]

    # -- messages
    def send(self, msg: dict) -> Encoder:
        enc = StudentEncoder(self)
        try:
            payload = enc.encode(msg)
        except ChannelError as err:  # a result that is not data the channel can carry
            enc = StudentEncoder(self)
            payload = enc.encode({"op": "reply", "id": msg.get("id"), "error": {
                "type": "TypeError", "base": "TypeError", "frames": [],
                "message": f"the value could not be sent to the grader: {err}"}})
        write_frame(self.cout, payload, time.monotonic() + FOREVER)
        return enc

    def receive(self):
        data = read_frame(self.cin, time.monotonic() + FOREVER)
        dec = StudentDecoder(self, data)
        return dec.decode(), dec

    def serve(self) -> None:
        self.send({"op": "ready", "pid": os.getpid(), "uid": os.getuid()})
        while True:
            try:
                msg, dec = self.receive()
            except ChannelError as err:
                self.send({"op": "reply", "id": None, "error": describe_exception(err)})
                continue
            if not isinstance(msg, dict):
                continue
            if msg.get("op") == "bye":
                os._exit(0)  # nothing to clean up: the sandbox goes with the process
            self.dispatch(msg, dec)

    def dispatch(self, msg: dict, dec) -> None:
        for ref in msg.get("release") or ():
            self.release(ref)
        op = msg.get("op")
        if op == "release":
            return
        try:
            if op == "exec":
                reply = self.exec_cell(msg)
            elif op in ("call", "getattr", "apply"):
                reply = self.invoke(msg, dec)
            else:
                raise ChannelError(f"unknown request {op!r}")
        except BaseException as exc:  # noqa: B036 (student code may raise anything, SystemExit included)
            reply = {"error": describe_exception(exc)}
        reply.update(op="reply", id=msg.get("id"))
        self.send(reply)

    def request(self, msg: dict):
        """Ask the checker about one of its objects; serve its nested requests meanwhile."""
        rid = self.next_request
        self.next_request += 1
        msg["id"] = rid
        sent = self.send(msg)
        while True:
            reply, dec = self.receive()
            if not isinstance(reply, dict):
                raise ChannelError("a malformed message from the grader")
            if reply.get("op") == "reply" and reply.get("id") == rid:
                break
            self.dispatch(reply, dec)
        for obj, state in zip(sent.by_value, reply.get("copyback") or ()):
            if state is None:
                continue
            if data_kind(obj) == "npgen":
                obj.bit_generator.state = state
            elif data_kind(obj) == "torchgen":
                import torch

                obj.set_state(torch.frombuffer(bytearray(state), dtype=torch.uint8))
        if "error" in reply:
            raise rebuild_exception(reply["error"])
        return reply.get("value")

    # -- requests
    def exec_cell(self, msg: dict) -> dict:
        source, filename = str(msg.get("source", "")), str(msg.get("filename", "<cell>"))
        try:
            exec(compile(_transform(source), filename, "exec"), self.ns)
        finally:
            _close_figures()
        return {"value": None}

    def _target(self, target):
        if isinstance(target, str):
            if target in self.ns:
                return self.ns[target]
            raise NameError(f"name '{target}' is not defined")
        return target

    def invoke(self, msg: dict, dec) -> dict:
        target = self._target(msg.get("target"))
        op = msg["op"]
        caught: list = []
        with contextlib.ExitStack() as stack:
            _apply_context(stack, msg.get("ctx") or {})
            caught = stack.enter_context(warnings.catch_warnings(record=True))
            warnings.simplefilter("always")
            try:
                if op == "call":
                    args, kwargs = msg.get("args") or [], msg.get("kwargs") or {}
                    value = target(*args, **kwargs)
                elif op == "getattr":
                    value = getattr(target, str(msg.get("name")))
                else:
                    value = _apply(str(msg.get("fn")), target, msg.get("args") or [])
            except BaseException as exc:  # noqa: B036
                return {"error": describe_exception(exc), "warnings": _warnings(caught)}
            finally:
                _close_figures()
        copyback = [layer_state(obj) if data_kind(obj) is None else None for obj in dec.created]
        return {"value": value, "copyback": copyback, "warnings": _warnings(caught)}


def _apply(fn: str, target, args: list):
    if fn == "self":
        return target
    if fn == "iter":
        return iter(target)
    if fn == "next":
        return next(target)
    if fn == "len":
        return len(target)
    if fn == "bool":
        return bool(target)
    if fn == "getitem":
        return target[args[0]]
    if fn == "contains":
        return args[0] in target
    if fn == "repr":
        return repr(target)[:MAX_MESSAGE]
    raise ValueError(f"unknown operation {fn!r}")


def _apply_context(stack: contextlib.ExitStack, ctx: dict) -> None:
    """Enter the checker's floating-point error mode, grad mode and global random states."""
    np = sys.modules.get("numpy")
    err = ctx.get("np_err")
    if np is not None and isinstance(err, dict):
        modes = ("ignore", "warn", "raise", "print")
        stack.enter_context(np.errstate(**{k: v for k, v in err.items()
                                           if k in ("divide", "over", "under", "invalid") and v in modes}))
    if ctx.get("np_rng") is not None:
        import numpy

        numpy.random.set_state(tuple(ctx["np_rng"]))
    if "grad" in ctx or ctx.get("torch_rng") is not None:
        import torch

        if "grad" in ctx:
            stack.enter_context(torch.set_grad_enabled(bool(ctx["grad"])))
        if ctx.get("torch_rng") is not None:
            torch.set_rng_state(torch.frombuffer(bytearray(ctx["torch_rng"]), dtype=torch.uint8))


def _warnings(caught) -> list:
    out = []
    for w in list(caught)[:20]:
        base = next((c.__name__ for c in w.category.__mro__ if c.__name__ in WARNINGS), "UserWarning")
        out.append([base, str(w.message)[:1000], str(w.filename)[:200], int(w.lineno or 0)])
    return out


def _close_figures() -> None:
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        try:
            plt.close("all")
        except Exception:  # a student may have broken pyplot; not our problem
            pass


def main() -> None:
    from dgm_course.sandbox import join_new_session_keyring

    join_new_session_keyring()  # not the grader's session keyring (see sandbox.seccomp_program)
    cin, cout = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)  # what student code prints goes to the log, never into the channel
    os.set_blocking(cin, False)
    os.set_blocking(cout, False)
    random.seed(0)
    try:
        import numpy

        numpy.random.seed(0)
    except ImportError:
        pass
    Server(cin, cout).serve()


if __name__ == "__main__":
    main()
