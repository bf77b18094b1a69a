"""The checker: runs every cell that decides a grade, and never executes student code.

One checker process grades one submitted notebook. It receives the notebook's *plan* (every
cell, hidden tests included) from the coordinator, starts a student process in the sandbox
(``sandbox.py``), and walks the cells in order:

- an *answer* cell is sent to the student process and run there; the names the instructor's
  solution cell defines (``sigmoid``, ``MLP``...) become ``Remote`` proxies in the checker's
  namespace;
- a *plain* cell (public instructor code) runs in the student process, as it did in Jupyter,
  and also in the checker when it reads no name that only the student side has;
- a *test* cell runs in the checker only. When it calls a proxy, the arguments cross the
  channel as data (copies), the student process runs the call, and the result comes back as
  data rebuilt here (no subclass, no operator overload, no foreign class) or as a handle to a
  student object, whose methods and attributes are again remote calls. Instructor objects the
  test hands to student code (functions, decoders, toy models) stay here and are called back;
  torch.nn layers from torch itself (``nn.Linear``) are sent by value and their trained
  parameters copied back; random generators are sent by value.

A crash, timeout or broken channel during an exercise costs that exercise: its remaining
test cells are not run, and the next exercise gets a fresh student process that is brought
to it by re-running the answers and plain cells before it (skipping cells that crashed it).
Results go to the coordinator as one JSON line per cell on the result file descriptor.
"""
from __future__ import annotations

import builtins
import collections
import contextlib
import io
import json
import math
import os
import random
import re
import sys
import time
import traceback
import types
import warnings
import weakref

from .channel import (ChannelError, Deadline, Decoder, Encoder, PeerGone, apply_layer_state, data_kind, layer_spec,
                      read_frame, write_frame)
from . import sandbox
from .sandbox import ForkedStudentProcess, SandboxConfig, StudentProcess
from .sandbox import TemplateGone as StudentTemplateGone
from .student import EXCEPTIONS, MAX_MESSAGE, WARNINGS, describe_exception

READ_ONLY_MODULE_METHODS = frozenset({
    "forward", "parameters", "named_parameters", "buffers", "named_buffers", "children", "named_children",
    "modules", "named_modules", "state_dict", "extra_repr", "eval", "train"})
MAX_OUTPUT = 200_000
MAX_FROM_STUDENT = 128 * 2**20  # bytes in one message from the student process


class StudentCrashed(BaseException):
    """The student process died, hung past its time limit, or could no longer be talked to. A
    BaseException, so that a test's ``except Exception`` cannot swallow it."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class RemoteError(Exception):
    """Base of student exceptions whose type has no builtin counterpart."""


_EXCEPTION_CLASSES: dict[tuple[str, type], type] = {}


def rebuild_exception(info) -> BaseException:
    """An exception of the checker's own classes for a student error report: the builtin class
    the student's exception derives from (so ``except ValueError`` works), renamed after the
    student's class; ``student_frames`` holds the student-side frames it reported."""
    if not isinstance(info, dict):
        return ChannelError("a malformed error report")
    base_name, name = info.get("base"), info.get("type")
    base = getattr(builtins, base_name) if base_name in EXCEPTIONS else RemoteError
    if base is Exception:
        base = RemoteError
    if not isinstance(name, str) or not name.isidentifier() or len(name) > 100:
        name = base.__name__
    if name == base.__name__:
        cls = base
    else:
        cls = _EXCEPTION_CLASSES.get((name, base))
        if cls is None:
            cls = _EXCEPTION_CLASSES[(name, base)] = type(name, (base,), {"__module__": "student"})
    message = info.get("message")
    exc = cls(message[:MAX_MESSAGE] if isinstance(message, str) else "")
    frames = info.get("frames")
    exc.student_frames = [[f[0], f[1], f[2][:100]] for f in frames[:8]
                          if isinstance(f, list) and len(f) == 3 and isinstance(f[0], str)
                          and _STUDENT_FRAME.fullmatch(f[0]) and type(f[1]) is int and 0 < f[1] < 100_000
                          and isinstance(f[2], str)] if isinstance(frames, list) else []
    return exc


# Frames a student may report: the cells it ran (never a path, which the checker would read).
_STUDENT_FRAME = re.compile(r"<(student|plain)-cell-\d{1,4}>")


# ----------------------------------------------------------------------------- proxies

SEEDINGS = {"numpy": 0, "torch": 0}  # how often the checker's global generators were seeded


def watch_seeding() -> None:
    """Count the seedings of the checker's global generators (torch.manual_seed, np.random.seed...),
    so that seeding again to the same state still reaches the student process."""
    for lib, module_name, names in (("torch", "torch", ("manual_seed", "seed", "set_rng_state")),
                                    ("torch", "torch.random", ("manual_seed", "seed", "set_rng_state")),
                                    ("numpy", "numpy.random", ("seed", "set_state"))):
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for name in names:
            original = getattr(module, name, None)
            if original is None or getattr(original, "_dgm_counts", False):
                continue

            def counted(*args, _original=original, _lib=lib, **kwargs):
                SEEDINGS[_lib] += 1
                return _original(*args, **kwargs)

            counted._dgm_counts = True
            counted.__doc__, counted.__name__ = original.__doc__, getattr(original, "__name__", name)
            setattr(module, name, counted)


class Remote:
    """A student object seen from the checker: a handle (``ref`` an int) or a name defined by the
    student's notebook (``ref`` a str). Calls, attribute reads, iteration, len, indexing and
    ``in`` are remote; the results come back as data or as new handles."""

    __slots__ = ("_conn", "_ref", "_type", "_generation", "__weakref__")

    def __init__(self, conn: Conn, ref, type_name: str):
        object.__setattr__(self, "_conn", conn)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_generation", conn.generation)

    def _request(self, msg: dict):
        conn = self._conn
        if self._generation != conn.generation and isinstance(self._ref, int):
            raise RuntimeError(f"this {self._type} came from a student process that has since been restarted "
                               "(after a crash); the object no longer exists")
        msg["target"] = self._ref if isinstance(self._ref, str) else self
        msg["ctx"] = conn.context()
        return conn.request(msg)

    def __call__(self, *args, **kwargs):
        return self._request({"op": "call", "args": list(args), "kwargs": kwargs})

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._request({"op": "getattr", "name": name})

    def _apply(self, fn: str, *args):
        return self._request({"op": "apply", "fn": fn, "args": list(args)})

    def __data__(self):
        """The value this name or handle stands for, when it is plain data (None, a number, a
        string, an array...: e.g. a self-check answer ``q1``), rebuilt here from data; a
        TypeError when it is an object (``dgm_utils.checks.check_answer`` reads answers so)."""
        value = self._apply("self")
        if isinstance(value, Remote):
            raise TypeError(f"the student's {self._ref if isinstance(self._ref, str) else self._type} is a "
                            f"{value._type}, not plain data")
        return value

    def __iter__(self):
        return _RemoteIterator(self._apply("iter"))

    def __len__(self):
        n = self._apply("len")
        if type(n) is not int or n < 0:
            raise TypeError("len() of a student object did not return a non-negative int")
        return n

    def __bool__(self):
        return self._apply("bool") is True

    def __getitem__(self, key):
        return self._apply("getitem", key)

    def __contains__(self, item):
        return self._apply("contains", item) is True

    def __setattr__(self, name, value):
        raise AttributeError(f"a test cannot set attributes of a student {self._type} when grading "
                             "(use its methods, e.g. load_state_dict)")

    def __mro_entries__(self, bases):
        what = self._ref if isinstance(self._ref, str) else self._type
        raise TypeError(f"a test cannot subclass the student's {what} "
                        "when grading: pass an instructor object to its methods instead "
                        "(e.g. AutoregressiveModel.log_prob(toy, x))")

    def __repr__(self):
        return f"<student {self._type}>" if isinstance(self._ref, int) else f"<student name {self._ref}>"


class _RemoteIterator:
    def __init__(self, it):
        self._it = it

    def __iter__(self):
        return self

    def __next__(self):
        if not isinstance(self._it, Remote):  # iter() returned data: iterate over it here
            self._it = iter(self._it)
            return next(self._it)
        return self._it._apply("next")


# ----------------------------------------------------------------------------- the channel, checker side

class CheckerEncoder(Encoder):
    """Data by value; student handles as their reference; torch.nn layers from torch by value;
    every other object as a callback (it stays in the checker)."""

    def __init__(self, conn: Conn):
        super().__init__()
        self.conn = conn

    def other(self, v, depth):
        if isinstance(v, Remote):
            if isinstance(v._ref, str):  # a student name passed as an argument: resolve it first
                self.value(v._apply("self"), depth)
                return
            if v._generation != self.conn.generation:
                raise RuntimeError(f"this {v._type} came from a student process that has since been restarted")
            self.student_ref(v._ref, v._type)
            return
        if data_kind(v) is not None:
            super().other(v, depth)
            return
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(v, torch.nn.Module):
            spec = layer_spec(v)
            if spec is not None:
                self.by_value.append(v)
                self.out += b"M"
                self.value(spec, depth + 1)
                return
        self.checker_ref(self.conn.register_callback(v), type(v).__name__)


class CheckerDecoder(Decoder):
    """Accepts data, handles (``S``), the checker's own callbacks (``K``, only ids it handed
    out) and generators (as fresh copies); never a layer (``M``)."""

    def __init__(self, conn: Conn, data: bytes):
        super().__init__(data)
        self.conn = conn

    def student_ref(self, ref_id, type_name):
        return self.conn.handle(ref_id, type_name)

    def tensor(self):
        t = super().tensor()
        if t.requires_grad:  # a copy of a student parameter: in-place changes would not reach the student
            self.conn.parameter_copies.append((t, t._version))
        return t

    def checker_ref(self, ref_id, type_name):
        if ref_id not in self.conn.callbacks:
            raise ChannelError(f"no grader object {ref_id}")
        return self.conn.callbacks[ref_id]


def is_data(value, depth: int = 0) -> bool:
    """True when ``value`` is plain data (what the channel sends by value)."""
    if depth > 32:
        return False
    if value is None or type(value) in (bool, int, float, complex, str, bytes):
        return True
    if type(value) in (list, tuple):
        return all(is_data(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(is_data(k, depth + 1) and is_data(v, depth + 1) for k, v in value.items())
    return data_kind(value) in ("ndarray", "npscalar", "tensor")


class Conn:
    """The checker's end of one student process (and of its restarts)."""

    def __init__(self, cfg: SandboxConfig, startup_timeout: float = 180.0):
        self.cfg = cfg
        self.startup_timeout = startup_timeout
        self.proc: StudentProcess | ForkedStudentProcess | None = None
        self.generation = 0
        self.dead_reason: str | None = "not started"
        self.deadline = math.inf
        self.next_request = 1
        self.handles: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
        self.pending_release: list[int] = []
        self.callbacks: dict[int, object] = {}
        self._callback_ids: dict[int, int] = {}
        self._np_rng_sent = None
        self._torch_rng_sent = None
        self.crashes: list[str] = []
        self.startup_seconds: list[float] = []
        self._ready_pending = False
        self._started = 0.0
        self.in_checker_cell = False
        self.parameter_copies: list = []  # (tensor, version) of copies of student parameters in this cell

    # -- lifecycle
    def start(self) -> None:
        self.close()
        self.generation += 1
        self.dead_reason = None
        self.pending_release.clear()
        self._np_rng_sent = self._torch_rng_sent = None
        self._started = time.monotonic()
        self.proc = None
        if self.cfg.mode == "bwrap" and self.cfg.template_fd is not None:
            try:
                self.proc = ForkedStudentProcess(self.cfg, self.cfg.template_fd)
            except StudentTemplateGone:  # start this one and the next ones with bwrap
                self.cfg.template_fd = None
        if self.proc is None:
            self.proc = StudentProcess(self.cfg)
        self._ready_pending = True

    def _await_ready(self) -> None:
        """Read the student process's first message ("ready"), once, before its first reply."""
        if not self._ready_pending:
            return
        self._ready_pending = False
        try:
            hello = CheckerDecoder(self, read_frame(self.proc.cout, self._started + self.startup_timeout,
                                                    MAX_FROM_STUDENT)).decode()
        except (ChannelError, OSError) as err:
            self.kill(f"did not start: {self._reason_for(err)}")
            raise StudentCrashed(self.dead_reason) from None
        if not isinstance(hello, dict) or hello.get("op") != "ready":
            self.kill("did not start: an unexpected first message")
            raise StudentCrashed(self.dead_reason)
        self.startup_seconds.append(time.monotonic() - self._started)

    def alive(self) -> bool:
        return self.proc is not None and self.dead_reason is None and self.proc.alive()

    def kill(self, reason: str) -> None:
        if self.proc is not None:
            self.proc.kill()
        if self.dead_reason is None:
            self.dead_reason = reason
            self.crashes.append(reason)

    def close(self) -> None:
        """End the student process normally (or kill it)."""
        if self.proc is not None:
            if self.alive():
                with contextlib.suppress(ChannelError, OSError):
                    write_frame(self.proc.cin, CheckerEncoder(self).encode({"op": "bye"}), time.monotonic() + 1)
                with contextlib.suppress(Exception):
                    self.proc.wait(timeout=0.2)
            self.proc.kill()
            self.dead_reason = self.dead_reason or "closed"

    def log_tail(self) -> str:
        return self.proc.log_tail() if self.proc is not None else ""

    def _reason_for(self, err: BaseException) -> str:
        if isinstance(err, Deadline):
            return "timeout: no answer within the time limit"
        if type(err) is ChannelError:  # the process is alive but broke the protocol
            return f"channel: {err}"
        if self.proc is not None:
            with contextlib.suppress(Exception):
                self.proc.wait(timeout=2)
            if not self.proc.alive():
                return self.proc.exit_reason()
        return f"channel: {err}"

    def crash(self, err: BaseException):
        reason = self._reason_for(err)
        self.kill(reason)
        raise StudentCrashed(reason) from None

    # -- registries
    def handle(self, ref: int, type_name: str) -> Remote:
        remote = self.handles.get(ref)
        if remote is None:
            remote = Remote(self, ref, type_name)
            self.handles[ref] = remote
            if ref in self.pending_release:
                self.pending_release.remove(ref)
            weakref.finalize(remote, self._release, ref, self.generation)
        return remote

    def _release(self, ref: int, generation: int) -> None:
        if generation == self.generation and ref not in self.handles:
            self.pending_release.append(ref)

    def register_callback(self, obj) -> int:
        ref = self._callback_ids.get(id(obj))
        if ref is None or self.callbacks.get(ref) is not obj:
            ref = len(self.callbacks) + 1
            self.callbacks[ref] = obj
            self._callback_ids[id(obj)] = ref
        return ref

    # -- context of a call: the checker's floating-point mode, grad mode and global RNG states
    def context(self) -> dict:
        """The global RNG state travels when the test changed it since the last call (drew from it,
        or seeded it, even to the same state): then the student's stream restarts from the test's,
        as in one process; otherwise the student's stream goes on where it was."""
        watch_seeding()
        ctx = {}
        np = sys.modules.get("numpy")
        if np is not None:
            ctx["np_err"] = dict(np.geterr())
            state = np.random.get_state()
            key = (state[1].tobytes(), state[2], state[3], state[4], SEEDINGS["numpy"])
            if key != self._np_rng_sent:
                ctx["np_rng"] = list(state)
                self._np_rng_sent = key
        torch = sys.modules.get("torch")
        if torch is not None:
            ctx["grad"] = bool(torch.is_grad_enabled())
            rng = torch.get_rng_state().numpy().tobytes()
            if (rng, SEEDINGS["torch"]) != self._torch_rng_sent:
                ctx["torch_rng"] = rng
                self._torch_rng_sent = (rng, SEEDINGS["torch"])
        return ctx

    # -- requests
    def _send(self, msg: dict) -> CheckerEncoder:
        enc = CheckerEncoder(self)
        payload = enc.encode(msg)
        try:
            write_frame(self.proc.cin, payload, self.deadline)
        except (Deadline, PeerGone) as err:
            self.crash(err)
        return enc

    def request(self, msg: dict):
        """Send a request to the student process and wait for its reply, serving the callbacks
        it makes meanwhile. Raises the student's error, ChannelError for a message that breaks
        the protocol (that call fails), or StudentCrashed."""
        return self.finish(*self.begin(msg))

    def begin(self, msg: dict) -> tuple[int, CheckerEncoder]:
        """Send a request without waiting for the reply (``finish`` waits)."""
        if not self.alive():
            raise StudentCrashed(self.dead_reason or "the student process is not running")
        rid = self.next_request
        self.next_request += 1
        msg["id"] = rid
        if self.pending_release:
            msg["release"], self.pending_release = list(self.pending_release), []
        return rid, self._send(msg)

    def finish(self, rid: int, sent: CheckerEncoder):
        """Wait for the reply to request ``rid`` (see ``request``). A message that breaks the
        protocol (malformed, oversized, out of order) fails the call: the student process is then
        in an unknown state (it may have written more such messages), so it is ended like a crash
        and the next exercise gets a fresh one."""
        self._await_ready()
        while True:
            try:
                data = read_frame(self.proc.cout, self.deadline, MAX_FROM_STUDENT)
                reply = CheckerDecoder(self, data).decode()
                if not isinstance(reply, dict) or not isinstance(reply.get("op"), str):
                    raise ChannelError("a message that is not a request or a reply")
                op = reply["op"]
                if op == "reply" and reply.get("id") != rid:
                    raise ChannelError(f"a reply to request {reply.get('id')!r} while waiting for request {rid}")
                if op not in ("reply", "callback", "cbgetattr", "cbapply"):
                    raise ChannelError(f"an unexpected {op!r} message while waiting for a reply")
            except ChannelError as err:  # PeerGone and Deadline included
                self.crash(err)
            if op == "reply":
                break
            self.serve_callback(reply)
        self._reissue_warnings(reply.get("warnings"))
        copyback = reply.get("copyback")
        if isinstance(copyback, list) and len(copyback) == len(sent.by_value):
            for obj, state in zip(sent.by_value, copyback):
                if data_kind(obj) is None and state is not None:  # a torch.nn layer trained in place
                    apply_layer_state(obj, state)
        if "error" in reply:
            raise rebuild_exception(reply["error"])
        return reply.get("value")

    def _reissue_warnings(self, items) -> None:
        """Warnings raised by student code during a call of a test, raised again in the test (as
        in one process); outside a test cell (the student's own cells) they are dropped."""
        if not isinstance(items, list) or not self.in_checker_cell:
            return
        for item in items[:20]:
            if not (isinstance(item, list) and len(item) == 4 and isinstance(item[1], str)):
                continue
            category = getattr(builtins, item[0]) if item[0] in WARNINGS else UserWarning
            # "<student>", never the file name it reports: the warnings module reads the named file
            warnings.warn_explicit(item[1][:1000], category, "<student>", 0, module="student")

    # -- callbacks: student code calling an object of the checker
    def serve_callback(self, msg: dict) -> None:
        cid = msg.get("id")
        dec_created = []
        try:
            target = msg.get("target")
            if id(target) not in self._callback_ids or self.callbacks.get(self._callback_ids[id(target)]) is not target:
                raise TypeError("this object was not handed to student code")
            op = msg["op"]
            if op == "callback":
                if not callable(target):
                    raise TypeError(f"a {type(target).__name__} is not callable")
                args, kwargs = msg.get("args"), msg.get("kwargs")
                well_formed = isinstance(args, list) and isinstance(kwargs, dict)
                if not (well_formed and all(isinstance(k, str) for k in kwargs)):
                    raise TypeError("malformed arguments")
                dec_created = [a for a in _walk(args, kwargs) if data_kind(a) in ("npgen", "torchgen")]
                value = target(*args, **kwargs)
            elif op == "cbgetattr":
                value = self._callback_getattr(target, msg.get("name"))
            else:
                value = self._callback_apply(target, msg.get("fn"))
            reply = {"op": "reply", "id": cid, "value": value,
                     "copyback": [_generator_state(g) for g in dec_created]}
        except StudentCrashed:
            raise
        except BaseException as exc:  # noqa: B036 (report any instructor-side failure to the caller)
            info = describe_exception(exc)
            info["frames"] = []
            reply = {"op": "reply", "id": cid, "error": info}
        try:
            self._send(reply)
        except ChannelError as err:  # the value could not be sent: send the error instead
            self._send({"op": "reply", "id": cid, "error": {"type": "TypeError", "base": "TypeError", "frames": [],
                                                            "message": f"the grader's value could not be sent: {err}"}})

    @staticmethod
    def _callback_getattr(obj, name):
        """What student code may read from an instructor object: public data attributes (as
        copies), its own read-only methods, and submodules of a torch module."""
        if not isinstance(name, str) or name.startswith("_"):
            raise AttributeError(f"'{type(obj).__name__}' attribute {name!r} is not available to student code "
                                 "when grading")
        value = getattr(obj, name)
        if is_data(value):
            return value
        torch = sys.modules.get("torch")
        if isinstance(value, types.MethodType) and value.__self__ is obj:
            code = getattr(value.__func__, "__code__", None)
            own = code is not None and code.co_filename.startswith("<grader-cell-")
            module_read = torch is not None and isinstance(obj, torch.nn.Module) and name in READ_ONLY_MODULE_METHODS
            if own or module_read:
                return value
        if torch is not None and isinstance(obj, torch.nn.Module) and isinstance(value, torch.nn.Module):
            return value
        raise AttributeError(f"'{type(obj).__name__}' attribute {name!r} is not available to student code "
                             "when grading")

    @staticmethod
    def _callback_apply(obj, fn):
        if fn == "len" and isinstance(obj, (list, tuple, dict)):
            return len(obj)
        if fn in ("iter", "next") and isinstance(obj, (types.GeneratorType, type(iter(())), type(iter([])))):
            return iter(obj) if fn == "iter" else next(obj)
        if fn == "iter" and isinstance(obj, (list, tuple)):
            return iter(obj)
        raise TypeError(f"{fn}() of a grader {type(obj).__name__} is not available to student code")


def _walk(args, kwargs):
    stack = [args, kwargs]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        else:
            yield item


def _generator_state(gen):
    if data_kind(gen) == "npgen":
        return gen.bit_generator.state
    return gen.get_state().numpy().tobytes()


# ----------------------------------------------------------------------------- running a notebook

class CappedText(io.StringIO):
    """Captured output, truncated after ``limit`` characters."""

    def __init__(self, limit: int = MAX_OUTPUT):
        super().__init__()
        self.limit, self.dropped = limit, 0

    def write(self, s):
        room = self.limit - self.tell()
        if room <= 0:
            self.dropped += len(s)
            return len(s)
        if len(s) > room:
            self.dropped += len(s) - room
        return super().write(s[:room])

    def text(self) -> str:
        out = self.getvalue()
        return out + (f"\n[{self.dropped} more characters not shown]\n" if self.dropped else "")


class _Shell:
    """``get_ipython()`` for instructor cells in the checker (magics: matplotlib, config)."""

    def run_line_magic(self, name, line, _stack_depth=1):
        if name in ("matplotlib", "config", "load_ext", "autoreload"):
            return None
        raise NotImplementedError(f"the magic %{name} does not run in the checker")

    def run_cell_magic(self, name, line, cell):
        raise NotImplementedError(f"the cell magic %%{name} does not run in the checker")


def _transform(source: str) -> str:
    if "%" not in source and "!" not in source:
        return source
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _frames(exc: BaseException) -> list[list]:
    """Frames of an exception raised in the checker: those of the notebook's cells and of
    libraries (not the proxies), then the student-side frames it reports."""
    here = os.path.dirname(os.path.abspath(__file__))
    frames = [[f.filename, f.lineno or 0, f.name] for f in traceback.extract_tb(exc.__traceback__)
              if not os.path.abspath(f.filename).startswith(here + os.sep)]
    return frames + list(getattr(exc, "student_frames", []))


class Runner:
    """Runs one notebook's plan: the checker's main loop."""

    def __init__(self, job: dict, emit):
        self.cells = job["cells"]
        self.timeout = float(job["limits"]["timeout"])
        self.emit = emit
        self.conn = Conn(SandboxConfig(**job["sandbox"]), float(job["limits"].get("startup_timeout", 180)))
        self.max_restarts = int(job["limits"].get("max_restarts", 2 + 2 * len(self.cells)))
        self.ns: dict = {"__name__": "__main__", "__builtins__": builtins, "get_ipython": lambda: _Shell(),
                         "display": lambda *a, **k: None}
        self.lost: dict[str, str] = {}  # exercise -> why its remaining tests do not run
        self.crashed_cells: set[int] = set()  # cells that killed a student process (skipped on replay)
        self.student_done: list[dict] = []  # answer/plain cells run by the current student process
        self.restarts = 0
        self.pending: collections.deque = collections.deque()  # deferred cells: (cell, rid, sent, sent_at)

    # -- the student process
    def _student_cells_before(self, index: int) -> list[dict]:
        return [c for c in self.cells if c["index"] < index and c["kind"] in ("answer", "plain")
                and c.get("in_student", True) and c["index"] not in self.crashed_cells]

    def ensure_student(self, index: int) -> None:
        """A live student process that has run every answer and plain cell before ``index``."""
        if self.conn.alive():
            return
        while True:
            if self.conn.generation > 0:
                self.restarts += 1
                if self.restarts > self.max_restarts:
                    raise StudentCrashed(f"the student process was restarted {self.max_restarts} times; giving up")
            self.conn.start()
            self.student_done = []
            replay_failed = False
            for cell in self._student_cells_before(index):
                try:
                    self._student_exec(cell)
                except StudentCrashed:
                    self.crashed_cells.add(cell["index"])
                    replay_failed = True
                    break
                except BaseException:  # noqa: B036 (an error in a replayed cell is ignored, as it was before)
                    pass
            if not replay_failed:
                return

    def _student_exec(self, cell: dict) -> None:
        self.conn.deadline = time.monotonic() + self.timeout
        try:
            self.conn.request(self._exec_message(cell))
        finally:
            self.student_done.append(cell)
            self.conn.deadline = math.inf

    # -- cells
    def run(self) -> None:
        random.seed(0)
        np = _maybe("numpy")
        if np is not None:
            np.random.seed(0)
        preloaded = False
        for cell in self.cells:
            kind = cell["kind"]
            if kind == "answer" or (kind == "plain" and not cell.get("in_checker")):
                self.defer(cell)  # the student process runs it while the checker goes on
                if not preloaded:  # meanwhile, import what the tests will import
                    preloaded = True
                    preload(self.cells)
                    watch_seeding()
                if kind == "answer":
                    for name in cell.get("exports", []):
                        self.ns[name] = Remote(self.conn, name, name)
                continue
            self.drain()
            t0 = time.monotonic()
            result = self.run_plain(cell) if kind == "plain" else self.run_test(cell)
            result.update(index=cell["index"], kind=kind, seconds=round(time.monotonic() - t0, 4))
            self.emit(result)
        self.drain()
        self.conn.close()

    def defer(self, cell: dict) -> None:
        """Send an answer or student-only plain cell to the student process without waiting."""
        try:
            self.ensure_student(cell["index"])
            self.conn.deadline = time.monotonic() + self.timeout
            self.pending.append((cell, *self.conn.begin(self._exec_message(cell)), time.monotonic()))
        except StudentCrashed:  # the process died before this cell was sent: find out in which cell
            self.drain()
            self._emit_student_result(cell, self.run_student_cell(cell), time.monotonic())
        finally:
            self.conn.deadline = math.inf

    def drain(self) -> None:
        """Collect the replies of the deferred cells, in order."""
        done_at = 0.0
        while self.pending:
            cell, rid, sent, sent_at = self.pending.popleft()
            started = max(sent_at, done_at)
            self.conn.deadline = started + self.timeout
            try:
                self.conn.finish(rid, sent)
                result = {"status": "ok"}
            except StudentCrashed as crash:
                result = self._crashed(cell, crash)
                rest = list(self.pending)
                self.pending.clear()
                self.student_done.append(cell)
                self._emit_student_result(cell, result, started)
                for later, *_ in rest:  # sent to a process that died before running them
                    self._emit_student_result(later, self.run_student_cell(later), time.monotonic())
                return
            except BaseException as exc:  # noqa: B036 (the student's own error)
                result = {"status": "error", "ename": type(exc).__name__, "evalue": str(exc)[:MAX_MESSAGE],
                          "frames": _frames(exc)}
            finally:
                self.conn.deadline = math.inf
            done_at = time.monotonic()
            self.student_done.append(cell)
            self._emit_student_result(cell, result, started)

    def _emit_student_result(self, cell: dict, result: dict, started: float) -> None:
        result.update(index=cell["index"], kind=cell["kind"], seconds=round(time.monotonic() - started, 4))
        self.emit(result)

    def _crashed(self, cell: dict, crash: StudentCrashed) -> dict:
        self.crashed_cells.add(cell["index"])
        if cell["kind"] == "answer" and cell.get("exercise"):
            self.lost.setdefault(cell["exercise"], f"the student process crashed while running this answer cell "
                                                   f"({crash.reason})")
        return {"status": "crashed", "ename": "StudentCrashed", "evalue": crash.reason, "reason": crash.reason}

    @staticmethod
    def _exec_message(cell: dict) -> dict:
        filename = f"<student-cell-{cell['index']}>" if cell["kind"] == "answer" else f"<plain-cell-{cell['index']}>"
        return {"op": "exec", "source": cell["student_source"], "filename": filename}

    def run_plain(self, cell: dict) -> dict:
        """A plain cell: in the student process and, when the tests need it, here at the same
        time (the request is sent first, the reply read after the checker's own run)."""
        if not cell.get("in_checker"):
            return self.run_student_cell(cell)
        pending = None
        student = {"status": "ok"}
        try:
            self.ensure_student(cell["index"])
            self.conn.deadline = time.monotonic() + self.timeout
            pending = self.conn.begin(self._exec_message(cell))
        except StudentCrashed as crash:
            student = self._crashed(cell, crash)
        result = self.run_checker_cell(cell)
        if pending is not None:
            try:
                self.conn.finish(*pending)
            except StudentCrashed as crash:
                student = self._crashed(cell, crash)
            except BaseException as exc:  # noqa: B036 (the cell failed on the student side)
                student = {"status": "error", "ename": type(exc).__name__, "evalue": str(exc)[:MAX_MESSAGE],
                           "frames": _frames(exc)}
            finally:
                self.student_done.append(cell)
                self.conn.deadline = math.inf
        if student["status"] != "ok" and result["status"] == "ok":
            result = dict(student, stdout=result.get("stdout", ""), stderr=result.get("stderr", ""))
        return result

    def run_student_cell(self, cell: dict) -> dict:
        """Run an answer or plain cell in the student process and wait for it."""
        try:
            self.ensure_student(cell["index"])
            self._student_exec(cell)
            return {"status": "ok"}
        except StudentCrashed as crash:
            return self._crashed(cell, crash)
        except BaseException as exc:  # noqa: B036 (the student's own error, e.g. a SyntaxError)
            return {"status": "error", "ename": type(exc).__name__, "evalue": str(exc)[:MAX_MESSAGE],
                    "frames": _frames(exc)}

    def run_checker_cell(self, cell: dict) -> dict:
        """Run instructor code (a plain or test cell) here, output captured."""
        out, err = CappedText(), CappedText()
        status = {"status": "ok"}
        self.conn.in_checker_cell = True
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                exec(compile(_transform(cell["source"]), f"<grader-cell-{cell['index']}>", "exec"), self.ns)
            except StudentCrashed:
                raise
            except BaseException as exc:  # noqa: B036 (a failing test may raise anything)
                status = {"status": "error", "ename": type(exc).__name__, "evalue": str(exc)[:MAX_MESSAGE],
                          "frames": _frames(exc)}
                mistake = _named_mistake(exc)
                if mistake:
                    status["mistake"] = mistake
            finally:
                self.conn.in_checker_cell = False
                plt = sys.modules.get("matplotlib.pyplot")
                if plt is not None:
                    plt.close("all")
        status.update(stdout=out.text(), stderr=err.text())
        return status

    def run_test(self, cell: dict) -> dict:
        exercise = cell.get("exercise")
        if exercise in self.lost:
            return {"status": "not-run", "ename": "StudentCrashed", "evalue": self.lost[exercise],
                    "reason": self.lost[exercise]}
        crashes_before = len(self.conn.crashes)
        try:
            self.ensure_student(cell["index"])
        except StudentCrashed as crash:
            return {"status": "crashed", "ename": "StudentCrashed", "evalue": crash.reason, "reason": crash.reason}
        self.conn.deadline = time.monotonic() + self.timeout
        try:
            result = self.run_checker_cell(cell)
        except StudentCrashed as crash:
            result = {"status": "crashed", "ename": "StudentCrashed", "evalue": crash.reason, "reason": crash.reason}
        finally:
            self.conn.deadline = math.inf
        changed = [t for t, version in self.conn.parameter_copies if t._version != version]
        self.conn.parameter_copies = []
        if changed and result["status"] == "ok":
            result.update(status="error", ename="GradingBoundaryError", frames=[], evalue=(
                "this test changed a copy of a student model's parameter in place (copy_, fill_, +=...), which "
                "does not reach the student's model when grading; change it with model.load_state_dict(...)"))
        if len(self.conn.crashes) > crashes_before:  # even if the test swallowed the StudentCrashed
            reason = self.conn.crashes[-1]
            result.update(status="crashed", ename="StudentCrashed", evalue=reason, reason=reason)
            if exercise:
                self.lost.setdefault(exercise, f"the student process crashed in an earlier test of this exercise "
                                               f"({reason})")
        return result


def _named_mistake(exc: BaseException) -> str | None:
    """The key of the mistake a failed check names (``dgm_utils.checks.CheckFailed``, raised
    here by test code: student code's exceptions reach the checker as builtin classes)."""
    checks = sys.modules.get("dgm_utils.checks")
    if checks is None or not isinstance(exc, checks.CheckFailed):
        return None
    key = exc.mistake
    return key if isinstance(key, str) and checks.MISTAKE_KEY.fullmatch(key) else None


def preload(cells: list[dict]) -> None:
    """Import the modules the test cells import (while the student process starts and runs the
    first cells, on the other core): an import error is left for the test to report."""
    import ast

    for cell in cells:
        if cell["kind"] != "test":
            continue
        try:
            tree = ast.parse(_transform(cell["source"]))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for name in names:
                if name not in sys.modules:
                    with contextlib.suppress(Exception):
                        __import__(name)


def _maybe(name: str):
    try:
        return __import__(name)
    except ImportError:
        return None


def run_job(job: dict, result_fd: int) -> None:
    """Run one job (a notebook's plan, limits and sandbox) and write one JSON line per cell and
    a final summary on ``result_fd``. Never returns."""
    out = os.fdopen(result_fd, "w", buffering=1)

    def emit(record: dict) -> None:
        out.write(json.dumps(record) + "\n")

    runner = Runner(job, emit)
    try:
        runner.run()
    except StudentCrashed as crash:  # too many restarts: the rest is not run
        emit({"fatal": crash.reason})
    finally:
        runner.conn.close()
    emit({"done": True, "restarts": runner.restarts, "crashes": runner.conn.crashes,
          "startup_seconds": runner.conn.startup_seconds, "log": runner.conn.log_tail()[-8000:]})
    out.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip the interpreter's teardown (torch's, matplotlib's): everything is reported


# ----------------------------------------------------------------------------- the template
# A grading worker forks its checkers from one template process that imported the libraries
# the tests use once (``CheckerTemplate``). The template runs only this module's code, as the
# grading user, like any checker: no student code ever runs in it or in its forks.

PRELOAD = ("numpy", "scipy.special", "scipy.stats", "scipy.linalg", "torch", "torch.nn", "torch.nn.functional",
           "matplotlib", "matplotlib.pyplot", "sklearn.mixture", "IPython.core.inputtransformer2", "dgm_utils",
           "dgm_utils.checks", "dgm_utils.data", "dgm_utils.plotting", "dgm_utils.seeding", "dgm_utils.training")


class TemplateGone(sandbox.TemplateGone):
    """The checker template is gone or did not start."""


class CheckerTemplate(sandbox.TemplateProcess):
    """The grading worker's end of a checker template process."""

    Gone = TemplateGone
    what = "the checker template"

    def __init__(self, env_for_home, preexec_fn=None, startup_timeout: float = 120.0, wait: bool = True):
        """``env_for_home(folder)``: the template's environment, given its own scratch folder."""
        import tempfile

        self.home = tempfile.mkdtemp(prefix="dgm-checker-template-")
        super().__init__([sys.executable, "-m", "dgm_course.checker", "--template"], env_for_home(self.home),
                         self.home, startup_timeout, wait, preexec_fn)

    def fork(self, cwd: str, env: dict[str, str], memory_bytes: int, job_fd: int, result_fd: int, log_fd: int,
             student_template: int | None) -> ForkedChecker:
        """A checker forked from the template: reads its job on ``job_fd``, writes its results
        on ``result_fd`` and its errors on ``log_fd``; forks student processes from
        ``student_template`` (a socket to a ``sandbox.StudentTemplate``) when given."""
        status_r, status_w = os.pipe()
        fds = [job_fd, result_fd, log_fd, status_w] + ([student_template] if student_template is not None else [])
        try:
            self.send({"cwd": cwd, "env": env, "memory_bytes": memory_bytes}, fds)
        except TemplateGone:
            os.close(status_r)
            raise
        finally:
            os.close(status_w)
        return ForkedChecker(status_r)

    def close(self) -> None:
        import shutil

        super().close()
        shutil.rmtree(self.home, ignore_errors=True)


class ForkedChecker:
    """A checker forked from the template, as much of ``subprocess.Popen`` as the coordinator
    uses: pid, poll(), wait(), returncode. Its supervisor (the fork's parent) reports the pid,
    then the exit status, on a pipe."""

    def __init__(self, status_fd: int, timeout: float = 60.0):
        import select

        self._fd = status_fd
        self._buffer = b""
        self.returncode: int | None = None
        self.pid = 0
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([status_fd], [], [], left)[0]:
                raise TemplateGone("the checker template did not fork")
            chunk = os.read(status_fd, 256)
            if not chunk:
                raise TemplateGone("the checker template did not fork")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        self.pid = int(line.split()[1])

    def _read(self, timeout: float | None) -> None:
        import select

        while self.returncode is None and self._fd >= 0:
            if b"\n" in self._buffer:
                line = self._buffer.split(b"\n", 1)[0].split()
                self.returncode = os.waitstatus_to_exitcode(int(line[1])) if line[:1] == [b"status"] else -9
                break
            if not select.select([self._fd], [], [], timeout)[0]:
                return
            chunk = os.read(self._fd, 256)
            if not chunk:  # the supervisor is gone (killed with the checker's group)
                self.returncode = -9
                break
            self._buffer += chunk
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def poll(self) -> int | None:
        self._read(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import subprocess

        self._read(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired("checker", timeout)
        return self.returncode


def _forked_checker(request: dict, fds: list[int], template_fd: int) -> None:
    """In a fork of the template: fork the checker, report its pid and exit status. Never returns."""
    import resource
    import signal
    import tempfile

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.close(template_fd)
    job_fd, result_fd, log_fd, status_fd, *student_template = fds
    pid = os.fork()
    if pid == 0:
        os.close(status_fd)
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for target, fd in ((0, job_fd), (1, null), (2, log_fd)):
            os.dup2(fd, target)
        for fd in (job_fd, null, log_fd):
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None
        size = int(request["memory_bytes"])
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        job = json.loads(sys.stdin.buffer.read())
        job["sandbox"]["template_fd"] = student_template[0] if student_template else None
        run_job(job, result_fd)
    for fd in (job_fd, result_fd, log_fd, *student_template):
        os.close(fd)
    os.write(status_fd, f"pid {pid}\n".encode())
    _, status = os.waitpid(pid, 0)
    os.write(status_fd, f"status {status}\n".encode())
    os._exit(0)


def template_main(fd: int) -> None:
    """``python -m dgm_course.checker --template FD``: import the libraries, then fork a checker
    for each request read on the socket FD, until it closes."""
    sandbox.serve_forks(fd, PRELOAD, 8, lambda request, fds: len(fds) in (4, 5) and isinstance(request["env"], dict),
                        _forked_checker)


def main() -> None:
    """``python -m dgm_course.checker RESULT_FD``: read the job (JSON) on stdin, write one JSON
    line per cell and a final summary on RESULT_FD."""
    if sys.argv[1:2] == ["--template"]:
        template_main(int(sys.argv[2]))
        return
    run_job(json.loads(sys.stdin.buffer.read()), int(sys.argv[1]))


if __name__ == "__main__":
    main()
