"""Unit tests of dgm-course's grading machinery (dgm_utils.grading): the answer filter and
scan, the trusted notebook, scoring, the sandbox's building blocks (in subprocesses, so
this test process is never sealed), one sandboxed worker on small synthetic notebooks, and
the command line."""
from __future__ import annotations

import dis
import hashlib
import hmac
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, SOLUTIONS
from dgm_utils.grading import sandbox, scan, trusted
from dgm_utils.notebooks import fill_answers, is_solution_cell, nbgrader_meta, read_notebook

A = "01_logistic_regression"


# ----------------------------------------------------------------------------- scan.py

def test_filter_keeps_definitions_and_line_numbers():
    src = textwrap.dedent('''\
        import numpy as np
        get_ipython().set_custom_exc((Exception,), lambda *a: None)
        %matplotlib inline
        EPS = 1e-9
        def f(x, y=np.pi):
            """doc"""
            return x + EPS
        np.allclose = lambda *a, **k: True
        print(f(1)); import os
        class Model(object):
            """d"""
            k = 3
            def forward(self, x):
                return x
        ''')
    code, removed = scan.filter_answer(src)
    assert len(code.splitlines()) == len(src.splitlines()), "line numbers must be preserved"
    kept = [line for line in code.splitlines() if not line.startswith(scan.REMOVED) and line]
    assert "set_custom_exc" not in code and "np.allclose" not in code and "print(" not in code
    assert "def f(x, y=np.pi):" in kept and "class Model(object):" in kept and "EPS = 1e-9" in kept
    assert len(removed) == 4, removed  # hook call, magic is a comment already, patch, `print; import`
    ns: dict = {}
    exec(compile(code, "<t>", "exec"), ns)  # defining runs nothing the student wrote
    assert ns["f"](1) == 1 + 1e-9


@pytest.mark.parametrize("src, reason", [
    ("def evil(f):\n    return f\n@evil\ndef g(): pass\n", "decorator"),
    ("def g(x=__import__('os')._exit(0)): pass\n", "default value"),
    ("class M(type): pass\nclass C(metaclass=M): pass\n", "class keywords"),
    ("class B:\n    def __init_subclass__(cls): pass\n", "__init_subclass__"),
    ("class B:\n    x = print('hi')\n", "class attribute"),
    ("def g(x: print('hi')): pass\n", "annotation"),
    ("@exec('import os')\ndef g(): pass\n", "decorator"),
    ("for i in range(3):\n    pass\n", "top-level for"),
    ("x = compute()\n", "not a constant"),
])
def test_filter_removes_definition_time_code(src, reason):
    code, removed = scan.filter_answer(src)
    assert removed and reason in " ".join(removed), (removed, reason)
    ns: dict = {}
    exec(compile(code, "<t>", "exec"), ns)  # and what is left runs nothing


def test_filter_syntax_error_becomes_a_raise():
    code, removed = scan.filter_answer("def f(:\n    pass\n")
    assert code.startswith("raise SyntaxError(") and "syntax error" in removed[0]


def test_honest_solutions_are_not_flagged():
    """Every solution cell of every notebook passes the filter untouched and raises no flag."""
    for path in sorted(SOLUTIONS.glob("*/*.ipynb")):
        for cell in read_notebook(path).cells:
            if is_solution_cell(cell) and cell.cell_type == "code":
                code, removed = scan.filter_answer(cell.source)
                gid = nbgrader_meta(cell)["grade_id"]
                assert not removed, f"{path.name}:{gid}: the filter removed {removed}"
                assert not scan.scan_answer(cell.source), f"{path.name}:{gid}: flagged {scan.scan_answer(cell.source)}"


def test_scan_flags_tampering():
    src = textwrap.dedent('''\
        def f(x):
            import sys, gc
            sys._getframe(1).f_globals["a"] = 1
            object.__setattr__(x, "y", 1)
            global np
            np.allclose = None
            return open("/etc/passwd").read()
        ''')
    flags = " ".join(scan.scan_answer(src))
    for word in ("_getframe", "f_globals", "__setattr__", "gc", "global statement",
                 "assigns an attribute of np", "uses open"):
        assert word in flags, (word, flags)


# ----------------------------------------------------------------------------- trusted.py

@pytest.fixture(scope="module")
def notebooks():
    return (read_notebook(SOLUTIONS / A / f"{A}.ipynb"), read_notebook(ROOT / "course" / A / f"{A}.ipynb"))


def _write(nb, path: Path) -> Path:
    nbformat.write(nb, str(path))
    return path


def test_trusted_notebook_takes_only_answers_from_the_student(notebooks, tmp_path):
    source, release = notebooks
    nb = fill_answers(release, source)
    for cell in nb.cells:
        if nbgrader_meta(cell).get("grade") and not is_solution_cell(cell):
            cell.source = "pass"  # every test edited
    nb.cells = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") != "test_sigmoid_hidden"]
    tr = trusted.build_trusted(source, release, _write(nb, tmp_path / "s.ipynb"), A)
    assert tr["status"] == "ok"
    flags = " ".join(tr["flags"])
    assert "deleted test cell test_sigmoid_hidden" in flags and "edited test cell test_sigmoid " in flags
    for cell, src in zip(tr["cells"], source.cells):
        if cell["kind"] in ("test", "plain"):
            assert cell["source"].splitlines()[:3] == trusted.transform_magics(src.source).splitlines()[:3]
        if cell["kind"] == "test" and "BEGIN HIDDEN" in src.source:
            assert cell["hidden_lines"], "hidden lines must be known for feedback"
    answer = next(c for c in tr["cells"] if c["grade_id"] == "sigmoid")
    assert answer["kind"] == "answer" and "np.where" in answer["source"] and answer["exports"] == ["sigmoid"]
    assert answer["filename"].startswith("<student-cell-")


@pytest.mark.parametrize("content", [b"{not json", b"", nbformat.writes(nbformat.v4.new_notebook()).encode()])
def test_corrupt_or_empty_submission_is_graded_as_stubs(notebooks, tmp_path, content):
    source, release = notebooks
    path = tmp_path / "s.ipynb"
    path.write_bytes(content)
    tr = trusted.build_trusted(source, release, path, A)
    answers = [c for c in tr["cells"] if c["kind"] == "answer"]
    assert answers and all("NotImplementedError" in c["source"] for c in answers)
    assert tr["flags"], "an unusable submission must be flagged"


def test_missing_submission(notebooks, tmp_path):
    source, release = notebooks
    tr = trusted.build_trusted(source, release, tmp_path / "absent.ipynb", A)
    assert tr["status"] == "no submitted notebook"


# ----------------------------------------------------------------------------- scoring

def test_score_counts_only_authenticated_ok_results():
    from dgm_utils.grading.runner import format_table, score_notebook

    cells = [{"index": 0, "kind": "answer", "grade_id": "f", "points": None, "untouched": False},
             {"index": 1, "kind": "test", "grade_id": "t1", "points": 2.0},
             {"index": 2, "kind": "test", "grade_id": "t2", "points": 1.0},
             {"index": 3, "kind": "test", "grade_id": "t3", "points": 1.0},
             {"index": 4, "kind": "written", "grade_id": "w", "points": 2.0, "untouched": True}]
    run = {"status": "worker died", "cells": {1: {"status": "ok"}, 2: {"status": "error"}}}
    s = score_notebook({"cells": cells}, run)
    assert s["scores"] == {"t1": 2.0, "t2": 0.0, "t3": 0.0, "w": None}
    assert (s["auto"], s["auto_max"], s["untouched"]) == (2.0, 4.0, ["w"])
    table = format_table([{"student": "ann", "score": 2.0, "max": 4.0, "seconds": 1.25, "status": "ok",
                           "flags": ["x"]}])
    assert "ann" in table and "1: x" in table and "seconds" in table.splitlines()[0]


# ----------------------------------------------------------------------------- sandbox.py

def _functions_in(fn, seen=None):
    """fn and every function reachable through its closure cells."""
    seen = seen if seen is not None else {}
    if id(fn) in seen:
        return seen
    seen[id(fn)] = fn
    for cell in fn.__closure__ or ():
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if isinstance(value, types.FunctionType) and value.__module__.startswith("dgm_utils"):
            _functions_in(value, seen)
    return seen


def _global_loads(code) -> set[str]:
    names = {i.argval for i in dis.get_instructions(code) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_loads(const)
    return names


def test_trust_anchors_use_no_global_names(tmp_path):
    """The audit hook, the tripwire, the MAC, the cipher and the worker loop must not look
    anything up in globals or builtins after student code starts (it could rebind them)."""
    from dgm_utils.grading import worker

    check, restore = sandbox.make_tripwire({"dgm_utils.checks": sys.modules["dgm_utils.checks"]}
                                           if "dgm_utils.checks" in sys.modules else {})
    anchors = [sandbox.make_audit_hook(str(tmp_path), sandbox.library_roots()), check, restore,
               sandbox.make_mac(b"k"), sandbox.make_cipher(b"k"),
               worker._make_trusted_import({}, __import__)]
    functions = {}
    for fn in anchors:
        _functions_in(fn, functions)
    assert len(functions) >= 12, "the hook's helpers were not found through its closure"
    for fn in functions.values():
        assert not _global_loads(fn.__code__), f"{fn.__qualname__} loads globals {_global_loads(fn.__code__)}"
    assert not _global_loads(worker._serve.__code__), _global_loads(worker._serve.__code__)


def test_mac_and_cipher():
    key = os.urandom(32)
    assert sandbox.make_mac(key)(b"payload") == hmac.new(key, b"payload", hashlib.sha256).hexdigest()
    crypt = sandbox.make_cipher(key)
    box = crypt(b"nonce", b"hidden test source")
    assert box != b"hidden test source" and crypt(b"nonce", box) == b"hidden test source"
    assert sandbox.make_cipher(os.urandom(32))(b"nonce", box) != b"hidden test source"


SEAL_SCRIPT = r'''
import math, sys, types, numpy as np, dgm_utils.checks as checks
from dgm_utils.grading import sandbox
mods = sandbox.protected_modules()
sandbox.seal(mods)
check, restore = sandbox.make_tripwire(mods)
out = []
for label, action in [
    ("np.allclose =", lambda: setattr(np, "allclose", None)),
    ("math.isclose =", lambda: setattr(math, "isclose", None)),
    ("checks.assert_close =", lambda: setattr(checks, "assert_close", None)),
    ("del np.isclose", lambda: delattr(np, "isclose")),
    ("np.__class__ =", lambda: setattr(np, "__class__", types.ModuleType)),
    ("SealedModule.__setattr__ =", lambda: setattr(sandbox.SealedModule, "__setattr__", object.__setattr__)),
    ("np.__dict__[...] =", lambda: np.__dict__.__setitem__("allclose", None)),
    ("import builtins; builtins.len =", lambda: setattr(__import__("builtins"), "len", None)),
]:
    try:
        action()
        out.append(label + " ALLOWED")
    except (AttributeError, TypeError):
        out.append(label + " refused")
assert not check(), check()
object.__setattr__(checks, "_fail", lambda *a, **k: None)   # the bypass the tripwire is for
object.__setattr__(np, "__class__", types.ModuleType)
checks.assert_close.__kwdefaults__["rtol"] = 1e9
found = check()
restore()
print("\n".join(out))
print("TRIPWIRE", sorted(found))
print("RESTORED", check(), type(np).__name__, checks.assert_close.__kwdefaults__["rtol"])
'''


def test_sealing_and_tripwire():
    proc = subprocess.run([sys.executable, "-c", SEAL_SCRIPT], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert not [x for x in lines if x.endswith("ALLOWED")], proc.stdout
    tripwire = next(x for x in lines if x.startswith("TRIPWIRE"))
    for what in ("dgm_utils.checks: _fail replaced", "numpy: module unsealed", "assert_close: keyword defaults"):
        assert what in tripwire, tripwire
    assert "RESTORED [] SealedModule 1e-06" in proc.stdout, proc.stdout


HOOK_SCRIPT = r'''
import os, sys, subprocess
from dgm_utils.grading import sandbox
scratch, secret = sys.argv[1], sys.argv[2]
sys.addaudithook(sandbox.make_audit_hook(scratch, sandbox.library_roots()))
os.chdir(scratch)
def attempt(label, f):
    try:
        f()
        print(label, "ALLOWED")
    except PermissionError:
        print(label, "denied")
student = compile("""
def read_secret(): return open(SECRET).read()
def write_outside(): open(SECRET + ".new", "w").write("x")
def frame(): return sys._getframe(1).f_globals
def shell(): return subprocess.run(["true"])
def evaluate(): return eval("1 + 1")
def gc_walk(): import gc; return gc.get_referents(sys)
def fake_name(): return compile("1", "/usr/lib/python3/x.py", "exec")
def tb_frame():
    try:
        raise ValueError
    except ValueError as e:
        return e.__traceback__.tb_frame
""", "<student-cell-1>", "exec")
ns = {"SECRET": secret, "sys": sys, "subprocess": subprocess}
exec(student, ns)
for name in ["read_secret", "write_outside", "frame", "shell", "evaluate", "gc_walk", "fake_name", "tb_frame"]:
    attempt(name, ns[name])
attempt("grader frame", lambda: sys._getframe(0))
attempt("write scratch", lambda: open(os.path.join(scratch, "ok.txt"), "w").write("x"))
attempt("read numpy", lambda: open(__import__("numpy").__file__).read())
attempt("socket", lambda: __import__("socket").socket())
'''


def test_audit_hook_policy(tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("hidden test")
    proc = subprocess.run([sys.executable, "-c", HOOK_SCRIPT, str(scratch), str(secret)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = dict(line.rsplit(" ", 1) for line in proc.stdout.splitlines())
    expected = {"read_secret": "denied", "write_outside": "denied", "frame": "denied", "shell": "denied",
                "evaluate": "denied", "gc_walk": "denied", "fake_name": "denied", "tb_frame": "denied",
                "grader frame": "ALLOWED", "write scratch": "ALLOWED", "read numpy": "ALLOWED", "socket": "denied"}
    assert result == expected


# ----------------------------------------------------------------------------- one worker

def _synthetic(cells: list[tuple[str, str]]) -> dict:
    """A trusted notebook from (kind, source) pairs; test cells are worth 1 point."""
    out = []
    for i, (kind, src) in enumerate(cells):
        out.append({"index": i, "kind": kind, "cell_type": "code", "grade_id": f"c{i}",
                    "points": 1.0 if kind == "test" else None, "source": textwrap.dedent(src),
                    "exports": ["f"] if kind == "answer" else [], "hidden_lines": [], "metadata": {},
                    "filename": f"<{'student' if kind == 'answer' else 'grader'}-cell-{i}>"})
    return {"name": "synthetic", "status": "ok", "flags": [], "cells": out}


@pytest.mark.slow
def test_worker_limits_and_isolation():
    from dgm_utils.grading.runner import run_worker, sandbox_user

    nb = _synthetic([
        ("plain", "import numpy as np\nimport os\n"),
        ("answer", "def f(kind):\n"
                   "    import os, numpy\n"
                   "    if kind == 'memory':\n"
                   "        return [bytearray(10**8) for _ in range(100)]\n"
                   "    if kind == 'loop':\n"
                   "        while True:\n            pass\n"
                   "    if kind == 'print':\n        print('x' * 20000)\n"
                   "    if kind == 'passwd':\n        return open('/etc/passwd').read()\n"
                   "    if kind == 'system':\n        return os.system('true')\n"
                   "    if kind == 'patch':\n        numpy.allclose = None\n"
                   "    return os.getuid()\n"),
        ("test", "f('memory')"), ("test", "f('loop')"), ("test", "f('print')"), ("test", "f('passwd')"),
        ("test", "f('system')"), ("test", "f('patch')"),
        ("test", "assert np.allclose(1, 1) and os.getcwd().startswith(os.environ['HOME'])"),
        ("test", f"assert f('uid') == {sandbox_user()[0] if sandbox_user() else os.getuid()}"),
    ])
    run = run_worker(nb, {"data.txt": b"release data"}, {"timeout": 3, "memory_mb": 700, "max_output": 10000},
                     ["numpy"], sandbox_user())
    assert run["status"] == "ok", run
    got = {i: (r["status"], r["ename"]) for i, r in run["cells"].items()}
    assert got[2] == ("error", "MemoryError"), got
    assert got[3] == ("timeout", "TimeoutError"), got
    assert got[4] == ("output-limit", "OutputLimitExceeded"), got
    assert got[5] == ("error", "SandboxViolation") and got[6] == ("error", "SandboxViolation"), got
    assert got[7] == ("error", "AttributeError"), got
    assert got[8] == ("ok", "") and got[9] == ("ok", ""), (got, run["cells"][9])


@pytest.mark.slow
def test_worker_seals_torch():
    from dgm_utils.grading.runner import run_worker, sandbox_user

    nb = _synthetic([
        ("plain", "import torch\nimport torch.testing\n"),
        ("answer", "def f():\n    import torch\n    torch.allclose = lambda *a, **k: True\n"),
        ("answer", "def g():\n    import torch\n    torch.testing.assert_close = lambda *a, **k: None\n"),
        ("test", "f()"),
        ("test", "g()"),
        ("test", "assert torch.allclose(torch.ones(2), torch.ones(2))"),
    ])
    nb["cells"][2]["exports"] = ["g"]
    run = run_worker(nb, {}, {"timeout": 60}, ["torch", "torch.testing"], sandbox_user())
    assert run["status"] == "ok", run
    got = {i: (r["status"], r["ename"], r["evalue"][:80]) for i, r in run["cells"].items()}
    assert got[3][:2] == ("error", "AttributeError") and "torch.allclose" in got[3][2], got
    assert got[4][:2] == ("error", "AttributeError") and "torch.testing.assert_close" in got[4][2], got
    assert got[5][0] == "ok", got


# ----------------------------------------------------------------------------- command line

def test_every_subcommand_has_help(capsys):
    from dgm_utils.grading.cli import build_parser, main

    commands = sorted(build_parser()._subparsers._group_actions[0].choices)
    assert commands == ["autograde", "demo", "export", "feedback", "release", "report"]
    for command in commands:
        with pytest.raises(SystemExit) as exit_:
            main([command, "--help"])
        assert exit_.value.code == 0
        assert "usage: dgm-course " + command in capsys.readouterr().out


def test_console_script_is_declared_and_installed():
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["dgm-course"] == "dgm_utils.grading.cli:main"
    exe = Path(sys.executable).parent / "dgm-course"
    assert exe.exists(), "reinstall the project: pip install --no-deps --no-build-isolation -e ."
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "autograde" in proc.stdout


def test_release_fails_on_a_leak(tmp_path, monkeypatch, capsys):
    """A release that still holds a solution line makes `dgm-course release` exit 1."""
    import shutil

    import dgm_utils.course as course
    from dgm_utils.grading.cli import main

    (tmp_path / "solutions").mkdir()
    shutil.copytree(SOLUTIONS / A, tmp_path / "solutions" / A)
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)

    def leaky_release(root, names=None):
        (Path(root) / "course" / A).mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(root) / "solutions" / A / f"{A}.ipynb", Path(root) / "course" / A / f"{A}.ipynb")
        return [A]

    monkeypatch.setattr(course, "generate_release", leaky_release)
    assert main(["release", "--course", str(tmp_path), A]) == 1
    assert "leak" in capsys.readouterr().err
