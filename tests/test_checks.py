"""dgm_utils.checks: each check passes on correct input and fails with a message that says what differs."""
import numpy as np
import pytest
import torch

from dgm_utils import checks


def fails_with(fn, *words):
    with pytest.raises(AssertionError) as info:
        fn()
    msg = str(info.value)
    for w in words:
        assert w in msg, f"{w!r} not in message: {msg}"
    return msg


def test_assert_close_passes_and_accepts_tensors():
    checks.assert_close(torch.tensor([1.0, 2.0]), np.array([1.0, 2.0]), rtol=1e-6)
    checks.assert_close(np.inf, np.inf)
    checks.assert_close(0.1 + 0.2, 0.3)


def test_assert_close_reports_worst_entry_and_hint():
    msg = fails_with(lambda: checks.assert_close(np.array([1.0, 2.5, 3.0]), np.array([1.0, 2.0, 3.0]),
                                                 name="f(x)", hint="check the mean"),
                     "f(x)[1]", "got 2.5", "expected 2", "1 of 3", "Hint: check the mean")
    assert "difference 0.5" in msg


def test_assert_close_reports_shape_and_overflow():
    fails_with(lambda: checks.assert_close(np.zeros((3, 1)), np.zeros(3)), "shape (3, 1)", "expected (3,)")
    fails_with(lambda: checks.assert_close(np.array([np.nan]), np.array([1.0])), "nan", "overflow")
    fails_with(lambda: checks.assert_close(np.array([1.0]), np.array([-np.inf])), "-inf")


def test_assert_shape_finite_probabilities():
    checks.assert_shape(torch.zeros(2, 3), (2, 3))
    fails_with(lambda: checks.assert_shape(np.zeros(4), (4, 1), "p"), "p has shape (4,)")
    fails_with(lambda: checks.assert_finite(np.array([0.0, np.inf]), "logp"), "logp[1]", "inf")
    fails_with(lambda: checks.assert_probabilities(np.array([0.2, 1.2])), "1.2", "[0, 1]")
    checks.assert_probabilities(np.array([0.0, 1.0]))


def test_numerical_gradient_matches_closed_form():
    x = np.array([0.3, -1.2, 2.0])
    np.testing.assert_allclose(checks.numerical_gradient(lambda v: np.sum(np.sin(v)), x), np.cos(x), rtol=1e-8)


def test_check_gradient_names_sign_and_scale_errors():
    x = np.array([1.0, -2.0, 0.5])
    f = lambda v: float(np.sum(v ** 2))  # noqa: E731
    checks.check_gradient(f, 2 * x, x)
    fails_with(lambda: checks.check_gradient(f, -2 * x, x), "sign error")
    fails_with(lambda: checks.check_gradient(f, 6 * x, x), "3 times the true one")
    fails_with(lambda: checks.check_gradient(f, 2 * x + np.array([0, 1.0, 0]), x), "gradient[1]")


def test_assert_frequencies_tolerance_from_sample_size():
    rng = np.random.default_rng(0)
    p = np.array([0.1, 0.2, 0.7])
    for seed in range(20):  # a correct sampler passes for every seed
        counts = np.bincount(np.random.default_rng(seed).choice(3, size=5000, p=p), minlength=3)
        checks.assert_frequencies(counts, p)
    wrong = np.bincount(rng.choice(3, size=5000, p=[0.2, 0.2, 0.6]), minlength=3)
    fails_with(lambda: checks.assert_frequencies(wrong, p), "category", "5000 draws")


def test_assert_mean():
    for seed in range(20):
        s = np.random.default_rng(seed).normal(2.0, 3.0, size=(4000, 2))
        checks.assert_mean(s, 2.0, 3.0)
    s = np.random.default_rng(0).normal(2.3, 3.0, size=(4000, 2))
    fails_with(lambda: checks.assert_mean(s, 2.0, 3.0, name="x"), "true mean is 2", "standard errors")


def test_statistical_checks_refuse_nan_and_inf():
    """Every comparison with a nan is False: a nan sample mean must not pass as 'not too far'."""
    s = np.random.default_rng(0).normal(2.0, 3.0, size=(4000, 2))
    s[5, 1] = np.nan
    fails_with(lambda: checks.assert_mean(s, 2.0, 3.0, name="x"), "not finite")
    fails_with(lambda: checks.assert_mean(np.full(10, np.inf), 0.0, 1.0), "not finite")
    fails_with(lambda: checks.assert_frequencies(np.array([np.nan, 10.0]), np.array([0.5, 0.5])), "not finite")


def test_a_failed_check_names_its_mistake_beside_the_message():
    with pytest.raises(checks.CheckFailed) as err:
        checks.assert_close(np.array([1.0, 2.0]), np.array([1.0, 3.0]), name="f(x)", hint="check f",
                            mistake="f.wrong-value")
    assert isinstance(err.value, AssertionError) and err.value.mistake == "f.wrong-value"
    assert str(err.value).endswith("Hint: check f\n(mistake: f.wrong-value)"), str(err.value)
    for call in (lambda: checks.assert_shape(np.zeros(2), (3,), mistake="a.shape"),
                 lambda: checks.assert_finite(np.array([np.inf]), mistake="a.inf"),
                 lambda: checks.assert_probabilities(np.array([1.5]), mistake="a.prob"),
                 lambda: checks.assert_frequencies(np.array([100, 0]), np.array([0.5, 0.5]), mistake="a.freq"),
                 lambda: checks.assert_mean(np.ones((100, 1)), 0.0, 0.1, mistake="a.mean"),
                 lambda: checks.expect(1 == 2, "one is not two", mistake="a.expect"),
                 lambda: checks.fail("always", mistake="a.fail")):
        with pytest.raises(checks.CheckFailed) as err:
            call()
        assert err.value.mistake and f"(mistake: {err.value.mistake})" in str(err.value)
    checks.expect(True, "never shown", mistake="a.expect")  # a true condition passes
    with pytest.raises(checks.CheckFailed) as err:
        checks.assert_close(1.0, 2.0)
    assert err.value.mistake is None and "(mistake:" not in str(err.value)
    with pytest.raises(ValueError, match="mistake key"):
        checks.fail("x", mistake="Not A Key!")


def test_check_gradient_refines_the_mistake_key():
    f = lambda x: float(np.sum(x ** 2))  # noqa: E731  (gradient 2x)
    x = np.array([1.0, -2.0, 0.5])
    for grad, suffix in ((-2 * x, ".sign-flipped"), (6 * x, ".scaled"), (np.zeros(3), ".zero"),
                         (2 * x + np.array([0.0, 1.0, 0.0]), "")):
        with pytest.raises(checks.CheckFailed) as err:
            checks.check_gradient(f, grad, x, mistake="g.w")
        assert err.value.mistake == "g.w" + suffix, (suffix, str(err.value))


def test_no_float_errors_names_the_overflow_and_the_mistake():
    def naive_sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    def run():
        with checks.no_float_errors("sigmoid(z)", hint="use a stable form", mistake="sigmoid.naive-overflow"):
            naive_sigmoid(np.array([-1e4]))

    msg = fails_with(run, "sigmoid(z) hit a floating-point error", "overflow", "Hint: use a stable form",
                     "(mistake: sigmoid.naive-overflow)")
    assert msg
    with pytest.raises(checks.CheckFailed) as info:
        run()
    assert info.value.mistake == "sigmoid.naive-overflow"
    before = np.geterr()
    with checks.no_float_errors("log"):
        assert np.exp(-1e4) == 0.0  # underflow to 0 is allowed
        ok = np.log(np.array([1.0, 2.0]))
    assert np.allclose(ok, [0.0, np.log(2.0)])
    assert np.geterr() == before, "the floating-point settings must be restored"

    def log_of_zero():
        with checks.no_float_errors("log(p)"):
            np.log(np.array([0.5, 0.0]))

    fails_with(log_of_zero, "log(p) hit a floating-point error", "divide by zero")
    assert np.geterr() == before


def test_check_answer_accepts_the_right_answer_only_and_keeps_it_unreadable():
    import hashlib

    digest = checks.answer_digest("01.q1", "b")
    assert digest == hashlib.sha256(b"01.q1:b").hexdigest()[:16]  # independent: the documented recipe
    checks.check_answer("01.q1", " B ", digest, choices="abcd")
    fails_with(lambda: checks.check_answer("01.q1", "c", digest, choices="abcd"), "question 01.q1", "'c' is not")
    for bad in ("e", "", "ab", 2):
        fails_with(lambda bad=bad: checks.check_answer("01.q1", bad, digest, choices="abcd"),
                   "one letter of a, b, c, d")
    fails_with(lambda: checks.check_answer("01.q1", None, digest, choices="abcd"), "no answer yet")
    for answer, key in ((None, None), ("e", None), ("c", "selfcheck.q1")):  # only a wrong answer is a mistake
        with pytest.raises(checks.CheckFailed) as info:
            checks.check_answer("01.q1", answer, digest, choices="abcd", mistake="selfcheck.q1")
        assert info.value.mistake == key, (answer, info.value.mistake)
    # another question with the same answer has another digest (the id salts it)
    assert checks.answer_digest("01.q2", "b") != digest


def test_check_answer_numbers_to_the_stated_places():
    import math

    digest = checks.answer_digest("04.q1", math.log(2), decimals=3)  # 0.693
    for ok in (0.693, 0.6931, 0.6925, 0.694, 0.692):
        checks.check_answer("04.q1", ok, digest, decimals=3)
    for bad in (0.69, 0.7, -0.693, 0.696):
        fails_with(lambda bad=bad: checks.check_answer("04.q1", bad, digest, decimals=3), "is not the answer")
    fails_with(lambda: checks.check_answer("04.q1", "ln 2", digest, decimals=3), "answer with a number")
    with pytest.raises(ValueError):
        checks.check_answer("04.q1", 1.0, digest)
    count = checks.answer_digest("03.q1", 49, decimals=0)  # a count is exact
    checks.check_answer("03.q1", 49, count, decimals=0)
    checks.check_answer("03.q1", 49.0, count, decimals=0)
    for bad in (48, 50):
        fails_with(lambda bad=bad: checks.check_answer("03.q1", bad, count, decimals=0), "is not the answer")


def test_assert_tensor_names_what_came_back():
    checks.assert_tensor(torch.zeros(2), "z")
    fails_with(lambda: checks.assert_tensor(np.zeros(2), "sample_prior(2, 1)"), "sample_prior(2, 1) is a numpy.ndarray",
               "return a torch tensor")
    fails_with(lambda: checks.assert_tensor([0.0], "z"), "z is a list")


def test_float_errors_tells_where_a_formula_overflows():
    def naive(z):
        return 1.0 / (1.0 + np.exp(-z))

    def both(z):
        return np.where(z >= 0, 1.0 / (1.0 + np.exp(-z)), np.exp(z) / (1.0 + np.exp(z)))

    neg, pos = np.array([-1e4, -30.0]), np.array([30.0, 1e4])
    assert checks.float_errors(naive, neg, pos) == [True, False]
    assert checks.float_errors(both, neg, pos) == [True, True]
    assert checks.float_errors(lambda z: np.exp(-np.abs(z)), neg, pos) == [False, False]  # underflow is allowed
    before = np.geterr()
    checks.float_errors(naive, neg)
    assert np.geterr() == before
