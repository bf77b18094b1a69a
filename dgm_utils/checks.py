"""Assertions for test cells: every failure says what differs, where, by how much, and
(when the caller gives a ``hint``) the likely mistake.

All functions accept numpy arrays, Python scalars and torch tensors (detached and copied
to numpy first). They raise ``CheckFailed`` (an ``AssertionError``) with a readable message
and return None.

``mistake``: the short stable key of the classic mistake a failure names (for example
``sigmoid.naive-overflow``), kept on the exception (``CheckFailed.mistake``) and shown beside
the hint. The grader collects these keys across a class (``dgm-course report``); the plain
words for each key are in ``solutions/<assignment>/mistakes.toml``.
"""
from __future__ import annotations

import contextlib
import hashlib
import math
import re
from typing import Callable, Iterator

import numpy as np

__all__ = [
    "CheckFailed",
    "fail",
    "expect",
    "no_float_errors",
    "float_errors",
    "to_numpy",
    "assert_shape",
    "assert_tensor",
    "assert_finite",
    "assert_close",
    "assert_probabilities",
    "numerical_gradient",
    "check_gradient",
    "assert_frequencies",
    "assert_mean",
    "answer_digest",
    "check_answer",
]


def to_numpy(x) -> np.ndarray:
    """Return ``x`` as a float64 numpy array (torch tensors are detached first)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


MISTAKE_KEY = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
RAISE_FLOAT_ERRORS = dict(over="raise", invalid="raise", divide="raise", under="ignore")  # underflow to 0 is fine


class CheckFailed(AssertionError):
    """A failed check. mistake: the key of the mistake its message names, or None."""

    def __init__(self, message: str, mistake: str | None = None):
        super().__init__(message)
        self.mistake = mistake


def _fail(message: str, hint: str | None, mistake: str | None = None) -> None:
    if mistake is not None and not MISTAKE_KEY.fullmatch(mistake):
        raise ValueError(f"mistake key {mistake!r}: lowercase letters, digits, '.', '-', '_' (at most 64)")
    if hint:
        message = f"{message}\nHint: {hint}"
    if mistake:
        message = f"{message}\n(mistake: {mistake})"
    raise CheckFailed(message, mistake)


def fail(message: str, *, hint: str | None = None, mistake: str | None = None) -> None:
    """Fail the check with ``message`` (and the hint), naming ``mistake``."""
    _fail(message, hint, mistake)


def expect(condition, message: str, *, hint: str | None = None, mistake: str | None = None) -> None:
    """``assert condition, message`` that names the mistake: fails with ``message`` (and the
    hint) when ``condition`` is false."""
    if not condition:
        _fail(message, hint, mistake)


@contextlib.contextmanager
def no_float_errors(what: str, *, hint: str | None = None, mistake: str | None = None) -> Iterator[None]:
    """Run the block with NumPy's overflow, invalid-operation and divide-by-zero warnings turned
    into a failed check (underflow to 0 is allowed): the naive formulas that overflow or take
    log(0) fail here with ``what`` named, instead of printing a warning and returning inf or nan.

    what: what the block computes, e.g. "sigmoid(z)"; hint: the likely mistake; mistake: its key.
    Use it around the call only, so that a later failed check keeps its own message::

        with no_float_errors("sigmoid(z)", hint="use a stable form", mistake="sigmoid.naive-overflow"):
            s = sigmoid(z)
    """
    with np.errstate(**RAISE_FLOAT_ERRORS):
        try:
            yield
        except FloatingPointError as err:
            _fail(f"{what} hit a floating-point error: {err}.", hint, mistake)


def float_errors(f: Callable, *inputs) -> list[bool]:
    """For each input, whether ``f(input)`` hits a NumPy overflow, invalid operation or division
    by zero (raised and caught here; underflow is allowed). Tells *where* a formula is unstable,
    e.g. ``neg, pos = float_errors(sigmoid, z[z < 0], z[z > 0])``."""
    out = []
    for x in inputs:
        try:
            with np.errstate(**RAISE_FLOAT_ERRORS):
                f(x)
        except FloatingPointError:
            out.append(True)
        else:
            out.append(False)
    return out


def _fmt_index(idx: tuple) -> str:
    return "" if len(idx) == 0 else "[" + ", ".join(str(int(i)) for i in idx) + "]"


def assert_shape(x, shape: tuple, name: str = "result", hint: str | None = None,
                 mistake: str | None = None) -> None:
    """Check that ``x`` has exactly ``shape``.

    x: array-like or tensor; shape: tuple of int; name: what ``x`` is, for the message.
    """
    actual = tuple(np.shape(x)) if not hasattr(x, "shape") else tuple(x.shape)
    if actual != tuple(shape):
        _fail(f"{name} has shape {actual}, expected {tuple(shape)}.", hint, mistake)


def assert_tensor(x, name: str = "result", hint: str | None = None, mistake: str | None = None) -> None:
    """Check that ``x`` is a torch tensor: a NumPy array (or a list, a number) where a tensor is
    expected gets this message, not an AttributeError further on."""
    import torch

    if not isinstance(x, torch.Tensor):
        kind = f"{type(x).__module__}.{type(x).__name__}" if type(x).__module__ != "builtins" else type(x).__name__
        _fail(f"{name} is a {kind}; return a torch tensor (stay in torch: no .numpy(), no NumPy or SciPy "
              "functions on the way).", hint, mistake)


def assert_finite(x, name: str = "result", hint: str | None = None,
                  mistake: str | None = None) -> None:
    """Check that every entry of ``x`` is finite (no nan, no +-inf)."""
    a = to_numpy(x)
    bad = ~np.isfinite(a)
    if bad.any():
        idx = np.unravel_index(np.argmax(bad), a.shape) if a.ndim else ()
        _fail(
            f"{name} has {int(bad.sum())} non-finite value(s) out of {a.size}; "
            f"first: {a[idx]} at {name}{_fmt_index(idx)}.",
            hint,
            mistake,
        )


def assert_close(
    actual,
    expected,
    *,
    atol: float = 1e-8,
    rtol: float = 1e-6,
    name: str = "result",
    hint: str | None = None,
    mistake: str | None = None,
) -> None:
    """Check |actual - expected| <= atol + rtol * |expected| entry-wise, and equal shapes.

    actual: array-like or tensor: what the student's code returned.
    expected: array-like or tensor: the independent reference, same shape.
    atol, rtol: absolute and relative tolerances.
    name: what is compared, e.g. "sigmoid(z)"; hint: the likely mistake if it differs.

    Non-finite values must match exactly (inf == inf, nan == nan); a nan or inf where the
    reference is finite is reported as such (usually an overflow).
    """
    a, e = to_numpy(actual), to_numpy(expected)
    if a.shape != e.shape:
        _fail(f"{name} has shape {a.shape}, expected {e.shape}.", hint, mistake)
    a_fin, e_fin = np.isfinite(a), np.isfinite(e)
    overflow = ~a_fin & e_fin
    if overflow.any():
        idx = np.unravel_index(np.argmax(overflow), a.shape) if a.ndim else ()
        _fail(
            f"{name}{_fmt_index(idx)} is {a[idx]} but should be {e[idx]:.6g} "
            f"({int(overflow.sum())} non-finite value(s) where the true value is finite: "
            "an overflow or a log of 0?).",
            hint,
            mistake,
        )
    nonfinite_mismatch = ~e_fin & ~((a == e) | (np.isnan(a) & np.isnan(e)))
    if nonfinite_mismatch.any():
        idx = np.unravel_index(np.argmax(nonfinite_mismatch), a.shape) if a.ndim else ()
        _fail(f"{name}{_fmt_index(idx)} is {a[idx]} but should be {e[idx]}.", hint, mistake)
    both = a_fin & e_fin
    a0, e0 = np.where(both, a, 0.0), np.where(both, e, 0.0)
    err = np.abs(a0 - e0)
    tol = atol + rtol * np.abs(e0)
    bad = err > tol
    if bad.any():
        idx = np.unravel_index(np.argmax(np.where(bad, err - tol, -np.inf)), a.shape) if a.ndim else ()
        _fail(
            f"{name}: {int(bad.sum())} of {a.size} value(s) differ; worst at "
            f"{name}{_fmt_index(idx)}: got {a[idx]:.10g}, expected {e[idx]:.10g} "
            f"(difference {err[idx]:.3g}, tolerance {tol[idx]:.3g}).",
            hint,
            mistake,
        )


def assert_probabilities(p, name: str = "probabilities", hint: str | None = None,
                         mistake: str | None = None) -> None:
    """Check that every entry of ``p`` is a probability: finite and in [0, 1]."""
    a = to_numpy(p)
    assert_finite(a, name, hint, mistake)
    bad = (a < 0) | (a > 1)
    if bad.any():
        idx = np.unravel_index(np.argmax(bad), a.shape) if a.ndim else ()
        _fail(f"{name}{_fmt_index(idx)} = {a[idx]:.6g} is not in [0, 1].", hint, mistake)


def numerical_gradient(f: Callable[[np.ndarray], float], x, eps: float = 1e-6) -> np.ndarray:
    """Central finite-difference gradient of a scalar function.

    f: callable taking a float64 array shaped like ``x`` and returning a float.
    x: array (any shape): where to differentiate.
    eps: step size.

    Returns an array shaped like ``x``: (f(x + eps e_i) - f(x - eps e_i)) / (2 eps).
    """
    x = np.array(to_numpy(x), dtype=np.float64)
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):  # one coordinate at a time: this loops over parameters
        old = flat[i]
        flat[i] = old + eps
        up = float(f(x))
        flat[i] = old - eps
        down = float(f(x))
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


def check_gradient(
    f: Callable[[np.ndarray], float],
    grad,
    x,
    *,
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-4,
    name: str = "gradient",
    hint: str | None = None,
    mistake: str | None = None,
) -> None:
    """Compare an analytic gradient with central finite differences of ``f`` at ``x``.

    f: callable (array shaped like x) -> float.
    grad: array shaped like x: the analytic gradient at x.
    x: array: the point.
    The message names the worst coordinate and says when the gradient is zero, its sign is
    flipped or it is off by a constant factor (e.g. sum instead of mean); ``mistake`` then gets
    ".zero", ".sign-flipped" or ".scaled" appended.
    """
    g = to_numpy(grad)
    fd = numerical_gradient(f, x, eps)
    if g.shape != fd.shape:
        _fail(f"{name} has shape {g.shape}, expected {fd.shape} (the shape of x).", hint, mistake)
    err = np.abs(g - fd)
    tol = atol + rtol * np.abs(fd)
    if (err > tol).any():
        idx = np.unravel_index(np.argmax(err - tol), g.shape) if g.ndim else ()
        extra = ""
        norm = float(np.dot(fd.ravel(), fd.ravel()))
        if norm > 0 and not g.any():
            extra = " Your gradient is zero (a missing term?)."
            mistake = mistake and mistake + ".zero"
        elif norm > 0:
            ratio = float(np.dot(g.ravel(), fd.ravel())) / norm
            resid = np.linalg.norm(g.ravel() - ratio * fd.ravel()) / math.sqrt(norm)
            if resid < 1e-3 and abs(ratio - 1) > 1e-3:
                if mistake:
                    mistake += ".sign-flipped" if ratio < 0 else ".scaled"
                extra = (
                    f" Your gradient is {ratio:.4g} times the true one"
                    + (" (a sign error?)" if ratio < 0 else " (sum instead of mean, or a missing factor?)")
                    + "."
                )
        _fail(
            f"{name} disagrees with finite differences in {int((err > tol).sum())} of {g.size} "
            f"coordinate(s); worst at {name}{_fmt_index(idx)}: analytic {g[idx]:.8g}, "
            f"finite difference {fd[idx]:.8g}.{extra}",
            hint,
            mistake,
        )


def _require_finite(values: np.ndarray, name: str, hint: str | None, mistake: str | None) -> None:
    """Fail if ``values`` holds a nan or an infinity: every comparison with a nan is False, so a
    statistical check would otherwise pass it."""
    bad = ~np.isfinite(values.astype(np.float64))
    if bad.any():
        _fail(f"{name}: {int(bad.sum())} of {values.size} value(s) are not finite (nan or inf), e.g. "
              f"{values[np.unravel_index(np.argmax(bad), values.shape)]}.", hint, mistake)


def assert_frequencies(
    counts, probs, *, z: float = 5.0, name: str = "sample frequencies", hint: str | None = None,
    mistake: str | None = None,
) -> None:
    """Check observed category counts against probabilities, with a tolerance from the
    sample size: |count_k - n p_k| <= z * sqrt(n p_k (1 - p_k)) + 1 for every k.

    counts: array (K,) of non-negative counts, n = counts.sum().
    probs: array (K,) of probabilities summing to 1.
    z: how many binomial standard deviations are tolerated (5: a false alarm about once
       in 1.7 million per category, so a correct sampler passes for any seed).
    """
    c, p = to_numpy(counts), to_numpy(probs)
    if c.shape != p.shape:
        _fail(f"{name}: counts have shape {c.shape} but probabilities {p.shape}.", hint, mistake)
    _require_finite(c, name, hint, mistake)
    n = c.sum()
    expected = n * p
    tol = z * np.sqrt(n * p * (1 - p)) + 1.0
    bad = np.abs(c - expected) > tol
    if bad.any():
        k = int(np.argmax(np.abs(c - expected) - tol))
        _fail(
            f"{name}: category {k} was drawn {int(c[k])} times in {int(n)} draws, but its "
            f"probability {p[k]:.4g} predicts {expected[k]:.1f} +- {tol[k]:.1f} "
            f"({int(bad.sum())} of {c.size} categories off).",
            hint,
            mistake,
        )


def assert_mean(
    samples, mean, std, *, z: float = 5.0, name: str = "sample mean", hint: str | None = None,
    mistake: str | None = None,
) -> None:
    """Check the mean of i.i.d. samples against the true mean, with a tolerance from the
    sample size: |mean(samples) - mean| <= z * std / sqrt(n), entry-wise over trailing dims.

    samples: array (n, ...); mean, std: arrays broadcastable to samples.shape[1:]: true
    mean and true standard deviation of one sample.
    """
    s = to_numpy(samples)
    _require_finite(s, name, hint, mistake)
    n = s.shape[0]
    m = s.mean(axis=0)
    mu = np.broadcast_to(to_numpy(mean), m.shape)
    tol = z * np.broadcast_to(to_numpy(std), m.shape) / math.sqrt(n) + 1e-12
    err = np.abs(m - mu)
    bad = err > tol
    if bad.any():
        idx = np.unravel_index(np.argmax(err - tol), m.shape) if m.ndim else ()
        _fail(
            f"{name}{_fmt_index(idx)} = {m[idx]:.5g} over {n} samples, but the true mean is "
            f"{mu[idx]:.5g} (allowed deviation {tol[idx]:.3g} = {z} standard errors).",
            hint,
            mistake,
        )


# -- self-check questions: the test cell stores a digest of the right answer, not the answer

def _normalize_answer(answer, decimals: int | None) -> list[str]:
    """The spellings of ``answer`` that count: a choice lower-cased and stripped; a number rounded
    to ``decimals`` places, with its two neighbours one unit of the last place away."""
    if decimals is None:
        return [str(answer).strip().lower()]
    x = float(answer)
    if decimals == 0:  # a count: exactly
        return [f"{round(x):d}"]
    step = 10.0 ** -decimals
    return [f"{round(x + k * step, decimals):.{decimals}f}" for k in (0, -1, 1)]


def answer_digest(question: str, answer, decimals: int | None = None) -> str:
    """The digest a self-check test stores for the right ``answer`` of ``question`` (an id such as
    "01.q1"): the first 16 hex digits of sha256("question:answer"), the answer normalized as in
    ``check_answer``. Instructors compute it with ``python -m dgm_utils.checks QUESTION ANSWER [DECIMALS]``."""
    return _digest(question, _normalize_answer(answer, decimals)[0])


def _digest(question: str, spelled: str) -> str:
    return hashlib.sha256(f"{question}:{spelled}".encode()).hexdigest()[:16]


def check_answer(question: str, answer, digest: str, *, decimals: int | None = None, choices: str | None = None,
                 hint: str | None = None, mistake: str | None = None) -> None:
    """Check a self-check answer against the stored ``digest`` (``answer_digest``). Only a wrong
    answer names ``mistake``; a missing or malformed one is work to do, not a misconception.

    question: its id, e.g. "01.q1"; answer: the student's answer (a letter for a multiple-choice
    question, a number otherwise); decimals: for a number, the places it is compared to (a value
    one unit of the last place off also counts; with 0, an integer, exactly); choices: the valid
    letters, e.g. "abcd".
    """
    fetch = getattr(type(answer), "__data__", None)  # when graded, the student's variable is a proxy
    if fetch is not None:
        try:
            answer = fetch(answer)
        except TypeError as err:
            _fail(f"question {question}: {err}; answer with a letter or a number.", hint)
    if answer is None:
        _fail(f"question {question}: no answer yet (replace None with your answer).", hint)  # no mistake
    if choices is not None:
        letter = answer.strip().lower() if isinstance(answer, str) else None
        if letter is None or len(letter) != 1 or letter not in choices:
            _fail(f"question {question}: answer with one letter of {', '.join(choices)}, got {answer!r}.",
                  hint)
    elif decimals is not None:
        try:
            float(answer)
        except (TypeError, ValueError):
            _fail(f"question {question}: answer with a number, got {answer!r}.", hint)
    if choices is None and decimals is None:
        raise ValueError("check_answer needs choices= (multiple choice) or decimals= (a number)")
    spellings = _normalize_answer(answer, decimals)
    if not any(_digest(question, a) == digest for a in spellings):
        what = f"{answer!r}" if decimals is None else f"{spellings[0]} (to {decimals} decimal places)"
        _fail(f"question {question}: {what} is not the answer.", hint, mistake)


if __name__ == "__main__":  # python -m dgm_utils.checks QUESTION ANSWER [DECIMALS]
    import sys

    _q, _a, *_d = sys.argv[1:]
    print(answer_digest(_q, float(_a) if _d else _a, int(_d[0]) if _d else None))
