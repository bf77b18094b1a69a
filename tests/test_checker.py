"""The checker's side of the boundary (dgm_course/checker.py), with a real sandboxed student
process: what a test cell sees of student code, and what student code can reach of the test.

Each test runs a few cells: answers (student code, in the sandbox) and tests (in the checker)."""
from __future__ import annotations

import pytest

from boundary import run_cells, status

pytestmark = pytest.mark.slow


def test_calls_values_errors_and_the_floating_point_context():
    r = run_cells(
        ("answer", """
            import numpy as np
            class Oops(ValueError):
                pass
            def f(x):
                return np.exp(-x)
            def g():
                raise Oops("bad input 42")
            def todo():
                raise NotImplementedError("write me")
            def warn():
                import warnings
                warnings.warn("careful", RuntimeWarning)
                return 1
        """),
        ("test", """
            import numpy as np, warnings
            assert np.allclose(f(np.array([0.0, 1.0])), [1.0, np.exp(-1)])
            try:
                g()
            except ValueError as err:  # the student's class arrives as a ValueError named after it
                assert type(err).__name__ == "Oops" and str(err) == "bad input 42"
            else:
                raise AssertionError("no error")
            try:
                todo()
            except NotImplementedError as err:
                assert "write me" in str(err)
            with np.errstate(over="raise"):  # the checker's floating-point mode is the student's
                try:
                    f(np.array([-1000.0]))
                except FloatingPointError:
                    pass
                else:
                    raise AssertionError("the overflow did not raise")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                assert warn() == 1
            assert [str(w.message) for w in caught] == ["careful"] and caught[0].category is RuntimeWarning
            assert caught[0].filename == "<student>"
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                try:
                    warn()
                except RuntimeWarning:
                    pass
                else:
                    raise AssertionError("the warning did not become an error")
            try:
                undefined_name
            except NameError:
                pass
        """),
    )
    assert status(r, 1) == "ok"


def test_inputs_are_copies_and_results_are_plain_data():
    r = run_cells(
        ("answer", """
            import numpy as np, torch
            class Liar(float):
                def __eq__(self, other):
                    return True
            class Always(np.ndarray):
                def __eq__(self, other):
                    return np.ones(self.shape, bool)
            class Evil(torch.Tensor):
                @classmethod
                def __torch_function__(cls, func, types, args=(), kwargs=None):
                    return True
            def mutate(x, t, d):
                x[:] = 0; t.zero_(); d["k"] = "changed"; d.clear()
                return Liar(1.0), np.zeros(2).view(Always), torch.zeros(2).as_subclass(Evil)
        """),
        ("test", """
            import numpy as np, torch
            x, t, d = np.ones(3), torch.ones(2), {"k": "v"}
            a, b, c = mutate(x, t, d)
            assert np.array_equal(x, np.ones(3)) and torch.equal(t, torch.ones(2)) and d == {"k": "v"}
            assert type(a) is float and a != 2.0
            assert type(b) is np.ndarray and not (b == 1).any()
            assert type(c) is torch.Tensor and not torch.equal(c, torch.ones(2))
        """),
    )
    assert status(r, 1) == "ok"


def test_student_objects_are_handles():
    r = run_cells(
        ("answer", """
            import torch, torch.nn as nn
            class Model(nn.Module):
                def __init__(self, n):
                    super().__init__()
                    self.n = n
                    self.W = nn.Parameter(torch.zeros(n, n))
                def forward(self, x):
                    return x @ self.W.T
        """),
        ("test", """
            import torch
            m = Model(3)
            assert not isinstance(m, torch.nn.Module)          # a handle, not the object
            assert m.n == 3 and type(m.n) is int               # attributes are copies
            ps = list(m.parameters())                          # remote iteration
            assert len(ps) == 1 and ps[0].shape == (3, 3) and ps[0].requires_grad
            m.load_state_dict({"W": torch.eye(3)}, strict=False)
            assert torch.equal(m(torch.ones(2, 3)), torch.ones(2, 3))
            assert m.eval() is m                               # the same object, the same handle
            try:
                m.n = 4
            except AttributeError:
                pass
            try:
                class Sub(Model):
                    pass
            except TypeError as err:
                assert "cannot subclass" in str(err)
            else:
                raise AssertionError("subclassing a student class must fail clearly")
        """),
        ("test", """
            import torch
            p = next(iter(m.parameters()))
            with torch.no_grad():
                p.copy_(torch.ones(3, 3))  # changes a copy: the checker says so
        """),
    )
    assert status(r, 1) == "ok"
    assert r[2]["status"] == "error" and r[2]["ename"] == "GradingBoundaryError"


def test_random_state_generators_and_layers():
    r = run_cells(
        ("answer", """
            import numpy as np, torch
            def draw():
                return torch.randn(3), np.random.rand(2)
            def from_generator(g, rng):
                return torch.randn(2, generator=g), rng.normal(size=2)
            def train(layer):
                with torch.no_grad():
                    layer.weight.fill_(7.0)
                return type(layer).__name__
        """),
        ("test", """
            import numpy as np, torch
            torch.manual_seed(1); np.random.seed(2)
            t, a = draw()
            torch.manual_seed(1); np.random.seed(2)
            assert torch.equal(t, torch.randn(3)) and np.array_equal(a, np.random.rand(2))
            t2, _ = draw()  # the student's stream continues, as in one process
            assert not torch.equal(t, t2)
            g, rng = torch.Generator().manual_seed(5), np.random.default_rng(5)
            x, y = from_generator(g, rng)
            assert torch.equal(x, torch.randn(2, generator=torch.Generator().manual_seed(5)))
            assert torch.equal(torch.randn(2, generator=g), x), "the checker's generator must not move"
            assert np.array_equal(rng.normal(size=2), y)
            lin = torch.nn.Linear(2, 1)
            assert train(lin) == "Linear" and torch.equal(lin.weight, torch.full((1, 2), 7.0))
        """),
    )
    assert status(r, 1) == "ok"


def test_callbacks_are_called_back_and_reveal_nothing_else():
    r = run_cells(
        ("answer", """
            import numpy as np
            def use(f, model, z):
                out = {"call": float(f(np.ones(2)).sum()), "attr": model.scale, "fwd": float(model(z).sum())}
                for name in ("__globals__", "__closure__", "__code__", "_secret", "__dict__"):
                    try:
                        getattr(f, name)
                        out[name] = "LEAK"
                    except AttributeError:
                        pass
                for how in ("load_state_dict", "register_forward_hook", "_parameters", "__dict__"):
                    try:
                        getattr(model, how)
                        out[how] = "LEAK"
                    except AttributeError:
                        pass
                for p in model.parameters():
                    p.data.fill_(1e6)  # a copy: the grader's model does not change
                out["sub"] = float(model.inner(z).sum())
                return out
        """),
        ("test", """
            import numpy as np, torch
            SECRET = "hidden-value-123"
            class Scaled(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.scale = 2.0
                    self._secret = SECRET
                    self.inner = torch.nn.Linear(1, 1)
                    with torch.no_grad():
                        self.inner.weight.fill_(3.0); self.inner.bias.fill_(0.0)
                def forward(self, z):
                    return self.scale * z
            model = Scaled()
            out = use(lambda v: v * 3 + len(SECRET) * 0, model, torch.ones(4, 1))
            assert out == {"call": 6.0, "attr": 2.0, "fwd": 8.0, "sub": 12.0}, out
            assert float(model.inner.weight) == 3.0
        """),
    )
    assert status(r, 1) == "ok"


def test_a_crash_costs_its_exercise_only():
    r = run_cells(
        ("answer", "def first():\n    return 1\n"),
        ("test", "assert first() == 1"),
        ("answer", "import os\ndef boom():\n    os._exit(3)\n"),
        ("test", "boom()"),
        ("test", "assert True  # the rest of the crashed exercise is not run"),
        ("answer", "def loop():\n    while True:\n        pass\n"),
        ("test", "loop()"),
        ("answer", "import numpy as np\ndef bomb():\n    return np.ones(2**31)\n"),
        ("test", "try:\n    bomb()\nexcept MemoryError:\n    pass\nelse:\n    raise AssertionError('no limit')"),
        ("answer", "def last():\n    return first() + 1\n"),
        ("test", "assert last() == 2 and first() == 1"),
        timeout=5, memory_mb=1536,
    )
    assert status(r, 1) == "ok"
    assert r[3]["status"] == "crashed" and "exit code 3" in r[3]["reason"]
    assert r[4]["status"] == "not-run" and "exit code 3" in r[4]["reason"]
    assert r[6]["status"] == "crashed" and "timeout" in r[6]["reason"]
    assert status(r, 8) == "ok", "a memory limit is an exception, not a crash"
    assert status(r, 10) == "ok", "the exercises after a crash are graded in a fresh student process"
    assert r["_runner"].restarts == 2


def test_without_sandbox_the_process_boundary_still_holds():
    r = run_cells(
        ("answer", "import sys\ndef frames():\n    return [f for f in dir(sys.modules['__main__'])]\n"),
        ("test", "names = frames()\nassert 'assert_close' not in names and 'names' not in names"),
        mode="none",
    )
    assert status(r, 1) == "ok"


def test_seeding_again_to_the_same_state_reaches_the_student():
    r = run_cells(
        ("answer", """
            import torch, numpy as np
            def noisy():
                return torch.rand(1), np.random.rand(1)
        """),
        ("test", """
            import torch, numpy as np
            torch.manual_seed(0); np.random.seed(0)
            a = noisy()
            torch.manual_seed(0); np.random.seed(0)
            b = noisy()
            assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]), (a, b)
            c = noisy()
            assert not torch.equal(a[0], c[0]), "without a new seed the student's stream goes on"
        """),
        ("test", """
            import torch
            m = torch.nn.Linear(2, 2)  # no effect on the student's state: drawn here
            state = noisy()
        """),
    )
    assert status(r, 1) == "ok" and status(r, 2) == "ok"


def test_the_checker_records_the_mistake_a_failed_check_names_and_student_code_cannot_forge_one():
    r = run_cells(
        ("answer", """
            from dgm_utils.checks import CheckFailed
            def f(x):
                raise CheckFailed("forged", mistake="sigmoid.naive-overflow")
            def g(x):
                return x + 1
            """),
        ("test", """
            from dgm_utils.checks import assert_close
            assert_close(g(1.0), 3.0, name="g(1)", mistake="g.off-by-one")"""),
        ("test", "f(1.0)"),
        ("test", "assert g(1.0) == 3.0"))
    assert r[1]["status"] == "error" and r[1]["mistake"] == "g.off-by-one", r[1]
    assert r[2]["status"] == "error" and "mistake" not in r[2], r[2]  # raised by student code: no key
    assert r[3]["status"] == "error" and "mistake" not in r[3], r[3]  # a plain assert names none


def test_self_check_answers_are_read_by_value_across_the_boundary():
    """A self-check answer is a student variable (``q1 = "b"``): when graded the test sees a proxy,
    and check_answer reads its value as data; an object in its place fails, it cannot pass."""
    from dgm_utils.checks import answer_digest

    d1, d2 = answer_digest("00.q1", "b"), answer_digest("00.q2", 0.8, 3)
    r = run_cells(
        ("answer", """
            q1 = " B "
            q2 = 0.8
            class Sly(str):
                def __eq__(self, other):
                    return True
                def lower(self):
                    return self
            q3 = Sly("z")
            q4 = None
            q5 = object()
        """),
        ("test", f"""
            from dgm_utils.checks import check_answer
            check_answer("00.q1", q1, {d1!r}, choices="abcd")
            check_answer("00.q2", q2, {d2!r}, decimals=3)
        """),
        ("test", f"""
            from dgm_utils.checks import check_answer
            check_answer("00.q1", q3, {d1!r}, choices="abcdz")
        """),
        ("test", f"""
            from dgm_utils.checks import check_answer
            check_answer("00.q1", q4, {d1!r}, choices="abcd")
        """),
        ("test", f"""
            from dgm_utils.checks import check_answer
            check_answer("00.q1", q5, {d1!r}, choices="abcd", mistake="selfcheck.q1")
        """),
    )
    assert r[1]["status"] == "ok", r[1]
    assert r[2]["status"] == "error" and "'z' is not the answer" in r[2]["evalue"], r[2]  # a plain str arrived
    assert r[3]["status"] == "error" and "no answer yet" in r[3]["evalue"], r[3]
    assert r[4]["status"] == "error" and "not plain data" in r[4]["evalue"] and "mistake" not in r[4], r[4]
