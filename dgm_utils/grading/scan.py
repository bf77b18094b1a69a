"""Static analysis of student answer cells, done by the coordinator before anything runs.

Two jobs, both pure functions of source text (deterministic, no execution):

``filter_answer``
    Keeps only the *definitions* of an answer cell: imports, ``def``, ``class`` (whose body
    holds only defs, docstrings, constant assignments and ``pass``), simple constant
    assignments and docstrings. Everything else at top level (calls, loops, ``if``, hooks
    such as ``get_ipython().set_custom_exc(...)``, ``np.allclose = ...``,
    ``os._exit(0)``) is removed before the cell reaches the worker, so nothing the student
    wrote runs when the cell is *defined*: student code runs only when the instructor's
    tests call it. Expressions evaluated at definition time (decorators, default values,
    annotations, base classes) must be simple (names, attributes, constants) and may not
    name anything the student defined. Line numbers are preserved: a removed statement
    becomes comment lines, so tracebacks point at the student's own lines.

``scan_answer``
    Flags constructs an honest solution of this course does not need but a tampering one
    does (``__dict__``, ``__globals__``, ``object.__setattr__``, ``gc``, ``ctypes``,
    ``sys.modules``, ``exec``, ``open``, ``global``...). Flags are for the instructor's
    review; they never change a score.
"""
from __future__ import annotations

import ast
import re

REMOVED = "# [dgm-course removed]"

# Attributes whose use (read or write) says "I am reaching into the interpreter".
SUSPICIOUS_ATTRS = {
    "__dict__", "__class__", "__subclasses__", "__globals__", "__code__", "__builtins__",
    "__closure__", "__defaults__", "__kwdefaults__", "__bases__", "__mro__", "__base__",
    "__getattribute__", "__setattr__", "__delattr__", "__import__", "__loader__", "__spec__",
    "__traceback__", "__self__", "__func__", "__wrapped__", "__reduce__", "__reduce_ex__",
    "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "tb_frame", "tb_next",
    "gi_frame", "cr_frame", "ag_frame", "co_code", "co_consts", "modules", "meta_path",
    "path_hooks", "settrace", "setprofile", "_getframe", "_current_frames", "addaudithook",
    "set_custom_exc", "input_transformers_post", "input_transformers_cleanup", "events",
    "register_magic_function", "_exit", "system", "popen", "kill", "fork",
}
# Names (modules, builtins, IPython) whose use deserves a look.
SUSPICIOUS_NAMES = {
    "gc", "ctypes", "sys", "builtins", "importlib", "inspect", "marshal", "signal",
    "subprocess", "os", "socket", "threading", "_thread", "multiprocessing", "sqlite3",
    "shutil", "resource", "pty", "atexit", "types", "traceback", "linecache", "dis",
    "faulthandler", "pathlib", "glob", "tempfile", "urllib", "http", "requests", "pickle",
    "weakref", "io", "code", "codeop", "_posixsubprocess", "posix",
    "open", "exec", "eval", "compile", "globals", "locals", "vars", "getattr", "setattr",
    "delattr", "__import__", "get_ipython", "breakpoint", "input", "exit", "quit",
    "memoryview", "object", "timeit", "runpy", "doctest",
}
# Decorator calls allowed at definition time (by final attribute name): they only wrap.
SAFE_DECORATOR_CALLS = {"no_grad", "inference_mode", "enable_grad", "lru_cache", "cache",
                        "dataclass", "wraps", "total_ordering"}
# Methods that Python runs while a class (or a subclass) is being *defined*.
DEFINITION_TIME_METHODS = {"__init_subclass__", "__set_name__", "__mro_entries__",
                           "__prepare__", "__class_getitem__"}


def strip_magics(source: str) -> str:
    """``source`` with IPython syntax (``%magic``, ``%%cell magic``, ``!shell``) turned into
    comment lines, so that it parses as Python with unchanged line numbers."""
    out = []
    for line in source.splitlines():
        s = line.lstrip()
        out.append(REMOVED + " " + s[:60] if s.startswith(("%", "!")) else line)
    return "\n".join(out)


def _assigned_names(tree: ast.AST) -> set[str]:
    """Names bound at the top level of ``tree`` by def, class or assignment (not imports)."""
    names: set[str] = set()
    for node in getattr(tree, "body", []):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                names.update(_target_names(t))
    return names


def _target_names(target: ast.AST) -> set[str]:
    """Names an assignment target binds (``a``, ``a, (b, *c)``), not ``x.attr`` or ``x[i]``."""
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    if isinstance(target, (ast.Tuple, ast.List)):
        return set().union(*(_target_names(e) for e in target.elts)) if target.elts else set()
    return set()


def defined_names(source: str) -> list[str]:
    """Top-level names a cell defines with def/class/assignment (sorted); [] if it does not
    parse. Used on the instructor's solution cell: these are the names the tests may take
    from the student's code."""
    try:
        return sorted(_assigned_names(ast.parse(strip_magics(source))))
    except SyntaxError:
        return []


def _is_constant(node: ast.AST) -> bool:
    """A literal: numbers, strings, None/True/False, -1, and tuples/lists/sets/dicts of them."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return _is_constant(node.operand)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_constant(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _is_constant(k) for k in node.keys) and all(
            _is_constant(v) for v in node.values)
    return False


def _is_simple(node: ast.AST | None, student: set[str], calls: bool = False) -> bool:
    """An expression safe to evaluate at definition time: constants, names and attribute
    chains not defined by the student, subscripts/unions of those (annotations), and, if
    ``calls``, a call of an allow-listed decorator with constant arguments."""
    if node is None or _is_constant(node):
        return True
    if isinstance(node, ast.Name):
        return node.id not in student
    if isinstance(node, ast.Attribute):
        return _is_simple(node.value, student)
    if isinstance(node, ast.Subscript):
        return _is_simple(node.value, student) and _is_simple(node.slice, student)
    if isinstance(node, ast.Tuple):
        return all(_is_simple(e, student) for e in node.elts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _is_simple(node.left, student) and _is_simple(node.right, student)
    if calls and isinstance(node, ast.Call):
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        return (name in SAFE_DECORATOR_CALLS and _is_simple(node.func, student)
                and all(_is_constant(a) for a in node.args)
                and all(_is_constant(k.value) for k in node.keywords))
    return False


def _def_problem(node, student: set[str]) -> str | None:
    """Why a def/async def would run student code at definition time (None if it would not)."""
    args = node.args
    if not all(_is_simple(d, student, calls=True) for d in node.decorator_list):
        return "decorator is not a simple library name"
    defaults = list(args.defaults) + [d for d in args.kw_defaults if d is not None]
    if not all(_is_simple(d, student) for d in defaults):
        return "default value is not a constant or a name"
    every = args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]
    if not all(_is_simple(a.annotation, student) for a in every) or not _is_simple(node.returns, student):
        return "annotation is not a simple name"
    return None


def _class_problem(node: ast.ClassDef, student: set[str]) -> str | None:
    """Why a class statement would run student code at definition time (None if safe)."""
    if node.keywords:
        return "class keywords (metaclass=...) are not allowed"
    if not all(_is_simple(d, student, calls=True) for d in node.decorator_list):
        return "decorator is not a simple library name"
    # A base may be the student's own class: with no metaclass keyword and no definition-time
    # methods, creating the subclass runs no student code.
    if not all(isinstance(b, (ast.Name, ast.Attribute)) and _is_simple(b, set()) for b in node.bases):
        return "base class is not a simple name"
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if item.name in DEFINITION_TIME_METHODS:
                return f"method {item.name} runs at definition time"
            problem = _def_problem(item, student)
            if problem:
                return f"method {item.name}: {problem}"
        elif isinstance(item, (ast.Assign, ast.AnnAssign)):
            value = item.value
            if value is not None and not _is_constant(value):
                return "class attribute is not a constant"
            if isinstance(item, ast.AnnAssign) and not _is_simple(item.annotation, student):
                return "annotation is not a simple name"
        elif isinstance(item, ast.Expr) and isinstance(item.value, ast.Constant):
            continue
        elif not isinstance(item, ast.Pass):
            return f"class body holds a {type(item).__name__} statement"
    return None


def _statement_problem(node: ast.stmt, student: set[str]) -> str | None:
    """Why a top-level statement of an answer cell must not run (None: it is kept)."""
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.Pass)):
        return None
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return _def_problem(node, student)
    if isinstance(node, ast.ClassDef):
        return _class_problem(node, student)
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return None  # a docstring
    if isinstance(node, ast.Assign):
        ok = all(isinstance(t, ast.Name) or (isinstance(t, ast.Tuple) and all(
            isinstance(e, ast.Name) for e in t.elts)) for t in node.targets)
        if ok and (_is_constant(node.value) or _is_simple(node.value, set())):
            return None
        return "top-level assignment is not a constant"
    if isinstance(node, ast.AnnAssign):
        if isinstance(node.target, ast.Name) and (node.value is None or _is_constant(node.value)) \
                and _is_simple(node.annotation, student):
            return None
        return "top-level assignment is not a constant"
    return f"top-level {type(node).__name__.lower()} statement"


def _span(node: ast.stmt) -> tuple[int, int]:
    """First and last line (1-based) of a statement, decorators included."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return first, node.end_lineno or node.lineno


def filter_answer(source: str, student_names: set[str] | None = None) -> tuple[str, list[str]]:
    """The part of an answer cell that may run at definition time, and what was removed.

    source: the student's cell; student_names: names defined by the student's answer cells
    (defaults to this cell's), which definition-time expressions may not use.
    Returns (code, removed): ``code`` has the same number of lines as ``source``, removed
    statements replaced by comment lines; ``removed`` lists "line N: reason: text".
    A cell that does not parse becomes a ``raise SyntaxError`` with the parser's message.
    """
    text = strip_magics(source)
    lines = text.splitlines()
    try:
        tree = ast.parse(text)
    except SyntaxError as err:
        msg = f"line {err.lineno}: {err.msg}"
        return f"raise SyntaxError({msg!r})", [f"line {err.lineno}: syntax error: {err.msg}"]
    student = set(student_names or ()) | _assigned_names(tree)
    keep = [True] * len(lines)
    problems = [(node, _statement_problem(node, student)) for node in tree.body]
    bad_lines = {ln for node, p in problems if p for ln in range(_span(node)[0], _span(node)[1] + 1)}
    removed = []
    for node, problem in problems:
        first, last = _span(node)
        if problem is None and bad_lines & set(range(first, last + 1)):
            problem = "shares a line with a removed statement"
        if problem:
            snippet = " ".join(lines[first - 1].split())[:70]
            removed.append(f"line {first}: {problem}: {snippet}")
            for ln in range(first, last + 1):
                keep[ln - 1] = False
    out = [line if k else (REMOVED if line.strip() else "") for line, k in zip(lines, keep)]
    code = "\n".join(out)
    try:
        ast.parse(code)
    except SyntaxError:  # e.g. a kept def whose decorator line was shared: drop to definitions only
        code = "\n".join(REMOVED for _ in lines)
        removed.append("cell could not be reduced to its definitions")
    return code, removed


def _local_names(fn: ast.AST) -> set[str]:
    """Parameters and names assigned inside a function (its locals, roughly)."""
    names = set()
    if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        a = fn.args
        names.update(x.arg for x in a.posonlyargs + a.args + a.kwonlyargs)
        names.update(x.arg for x in (a.vararg, a.kwarg) if x)
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def scan_answer(source: str) -> list[str]:
    """Suspicious constructs in a student's answer cell, as sorted unique "reason" strings
    (with the first line where each occurs). Never raises; a cell that does not parse is
    scanned by regular expression for the same words."""
    text = strip_magics(source)
    found: dict[str, int] = {}

    def hit(reason: str, line: int) -> None:
        found.setdefault(reason, line)

    try:
        tree = ast.parse(text)
    except SyntaxError:
        for i, line in enumerate(source.splitlines(), 1):
            for word in sorted(SUSPICIOUS_ATTRS | SUSPICIOUS_NAMES):
                if re.search(rf"\b{re.escape(word)}\b", line):
                    hit(f"uses {word}", i)
        return [f"{r} (line {n})" for r, n in sorted(found.items(), key=lambda x: (x[1], x[0]))]
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Attribute) and node.attr in SUSPICIOUS_ATTRS:
            hit(f"uses .{node.attr}", line)
        elif isinstance(node, ast.Name) and node.id in SUSPICIOUS_NAMES:
            hit(f"uses {node.id}", line)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for m in mods:
                if m.split(".")[0] in SUSPICIOUS_NAMES:
                    hit(f"imports {m}", line)
            if isinstance(node, ast.ImportFrom):
                for a in node.names:
                    if a.name in SUSPICIOUS_NAMES | SUSPICIOUS_ATTRS or a.name == "*":
                        hit(f"imports {a.name} from {node.module}", line)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            hit(f"{type(node).__name__.lower()} statement", line)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            for word in ("solutions", "gradebook", "autograded", "submitted", "HIDDEN TESTS"):
                if word in node.value:
                    hit(f"string mentions {word!r}", line)
    for fn in ast.walk(tree):  # attribute assignment to something that is not a local
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            local = _local_names(fn) - {"self", "cls"}
            for node in ast.walk(fn):
                targets = getattr(node, "targets", None) or ([node.target] if isinstance(
                    node, (ast.AugAssign, ast.AnnAssign)) else [])
                for t in targets:
                    base = t
                    while isinstance(base, (ast.Attribute, ast.Subscript)):
                        base = base.value
                    if isinstance(t, ast.Attribute) and isinstance(base, ast.Name) \
                            and base.id not in local and base.id not in ("self", "cls"):
                        hit(f"assigns an attribute of {base.id}", node.lineno)
    return [f"{r} (line {n})" for r, n in sorted(found.items(), key=lambda x: (x[1], x[0]))]
