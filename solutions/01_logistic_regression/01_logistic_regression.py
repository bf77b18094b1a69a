# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: kernelspec,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Logistic regression: a prediction model with one assumption
#
# **The story of this course.** We want *generative* models: models that assign a
# probability $p(x)$ to data and can sample new data. We get there from the simplest
# *prediction* model, logistic regression, in six steps:
#
# 1. **Logistic regression** (this notebook): $y$ depends on $x$ *linearly* through a sigmoid.
# 2. **MLPs**: first compute non-linear features $h = \sigma(Ax + b)$, then do logistic regression on $h$.
# 3. **Autoregressive models**: the chain rule writes any joint distribution as a product of
#    conditionals, and each conditional is a prediction model like this one.
# 4. **Continuous densities**: the same machinery for real-valued $x$.
# 5. **Gaussian mixtures**: a two-node Bayesian network $z \to x$, the first latent-variable model.
# 6. **The VAE's generative process**: $p(x \mid z)$ Gaussian with neural-network mean and scale.
#
# ## What you will build
# `sigmoid`, `predict_proba`, `negative_log_likelihood`, `nll_gradient` and
# `fit_logistic_regression`, in NumPy only, stable for extreme inputs; then you will fit the
# model to a real medical data set and watch it fail on data that are not linearly separable.
#
# **How to work.** Replace each `raise NotImplementedError(...)` with your code, then run
# the test cell below it. A failing test says what is wrong and usually why. Some tests are
# hidden and run only when your notebook is graded: they check the same contract on other
# inputs, so passing the visible tests *honestly* is the best preparation.

# %%
import numpy as np
import matplotlib.pyplot as plt

from dgm_utils.data import load_breast_cancer_split, make_moons, make_xor
from dgm_utils.plotting import plot_decision_boundary, plot_loss_curve

rng = np.random.default_rng(0)
# %matplotlib inline

# %% [markdown]
# ## 1. The model
#
# Logistic regression models a binary label $y \in \{0, 1\}$ given features $x \in \mathbb{R}^d$:
#
# $$p(y = 1 \mid x) = \sigma(w^\top x + b), \qquad \sigma(s) = \frac{1}{1 + e^{-s}}.$$
#
# The **assumption**: the log-odds $\log \frac{p(y=1\mid x)}{p(y=0\mid x)} = w^\top x + b$
# are a *linear* function of $x$. The decision boundary $p = 1/2$ is the hyperplane
# $w^\top x + b = 0$.
#
# ### Exercise 1: a stable sigmoid (3 points)
# Computed literally, $1/(1 + e^{-s})$ evaluates $e^{1000}$ for $s=-1000$: an overflow
# (NumPy warns and returns `inf`). Use the identity
# $\sigma(s) = \frac{e^{s}}{1 + e^{s}}$ for $s < 0$ so that you only ever exponentiate
# non-positive numbers. It must work on scalars and on arrays of any shape.

# %% nbgrader={"grade": false, "grade_id": "sigmoid", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sigmoid(z):
    """Logistic function sigma(z) = 1 / (1 + exp(-z)), computed without overflow.

    Args:
        z: float or float64 array of any shape: the logits; |z| may be as large as 1e4.

    Returns:
        float64 array shaped like z (a 0-d array or float for scalar input), in [0, 1].
    """
    ### BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_sigmoid", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import numpy as np
from scipy.special import expit
from dgm_utils.checks import assert_close, expect, fail, float_errors, to_numpy

z = np.array([-1e4, -800.0, -30.0, -1.0, 0.0, 1.0, 30.0, 800.0, 1e4])
with np.errstate(all="ignore"):  # the values alone, warnings aside
    _quiet = to_numpy(sigmoid(z))
_right = _quiet.shape == z.shape and np.allclose(_quiet, expit(z), rtol=1e-12, atol=1e-300)
_neg, _pos = float_errors(sigmoid, z[z < 0], z[z > 0])  # does NumPy warn of an overflow there?
expect(not (_right and _neg and _pos), "sigmoid(z) returns the right values, but NumPy warned of an overflow for very large "
       "AND very negative z. np.where(cond, a, b) evaluates BOTH a and b on every entry before choosing, so each "
       "branch still overflows on the entries it is not chosen for (the inf or nan is thrown away, the warning "
       "is not).", hint="compute only exponentials that cannot overflow: e = np.exp(-np.abs(z)) is in (0, 1], "
       "then pick 1 / (1 + e) where z >= 0 and e / (1 + e) where z < 0.", mistake="sigmoid.where-both-branches")
expect(not (_neg or _pos), f"sigmoid(z) overflows for very {'negative' if _neg else 'large'} z (NumPy warned).",
       hint="exp(-z) overflows for very negative z; use exp(z) / (1 + exp(z)) when z < 0, or exp(-|z|).",
       mistake="sigmoid.naive-overflow")
assert_close(_quiet, expit(z), rtol=1e-12, atol=1e-300, name="sigmoid(z)",
             hint="compare with 1 / (1 + exp(-z)) for small |z|", mistake="sigmoid.wrong-formula")
try:
    _half = sigmoid(0.0)
except NotImplementedError:
    raise
except Exception as err:
    fail(f"sigmoid(0.0) raised {type(err).__name__}: {err}.", hint="sigmoid must accept a Python float (a "
         "scalar) too: convert with np.asarray(z) first.", mistake="sigmoid.scalar-input")
assert_close(_half, 0.5, name="sigmoid(0.0)", hint="sigmoid of a scalar must be the number 0.5",
             mistake="sigmoid.scalar-input")
print("sigmoid: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_sigmoid_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check other shapes and values when your notebook is graded.
### BEGIN HIDDEN TESTS
import numpy as np
from scipy.special import expit
from dgm_utils.checks import assert_close, assert_shape, no_float_errors

_z = np.random.default_rng(11).normal(scale=50.0, size=(7, 5))
assert_shape(sigmoid(_z), (7, 5), "sigmoid of a (7, 5) array")
assert_close(sigmoid(_z), expit(_z), rtol=1e-12, atol=1e-300, name="sigmoid(2-D z)", mistake="sigmoid.wrong-formula")
assert_close(sigmoid(_z) + sigmoid(-_z), np.ones_like(_z), atol=1e-12, name="sigmoid(z) + sigmoid(-z)")
with no_float_errors("sigmoid(+-1e4)", mistake="sigmoid.naive-overflow"):
    assert_close(sigmoid(np.array([-1e4, 1e4])), np.array([0.0, 1.0]), atol=1e-300, name="sigmoid(+-1e4)",
                 mistake="sigmoid.naive-overflow")
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 2: predictions (1 point)
# With examples stacked as rows of $X \in \mathbb{R}^{n \times d}$, the probabilities of all
# examples are $\sigma(Xw + b)$: one matrix-vector product, no loop over examples.

# %% nbgrader={"grade": false, "grade_id": "predict_proba", "locked": false, "schema_version": 3, "solution": true, "task": false}
def predict_proba(X, w, b):
    """p(y = 1 | x) for every row x of X under logistic regression.

    Args:
        X: float64 array (n, d): one example per row.
        w: float64 array (d,): weights.
        b: float: bias.

    Returns:
        float64 array (n,): sigmoid(X @ w + b).
    """
    ### BEGIN SOLUTION
    return sigmoid(np.asarray(X) @ np.asarray(w) + b)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_predict_proba", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
import numpy as np
from scipy.special import expit
from dgm_utils.checks import assert_close, assert_shape, no_float_errors

_r = np.random.default_rng(1)
_X, _w, _b = _r.normal(size=(6, 3)), _r.normal(size=3), 0.7
assert_shape(predict_proba(_X, _w, _b), (6,), "predict_proba(X, w, b)",
             hint="one probability per row of X: use X @ w, not w @ X.T reshaped", mistake="predict_proba.shape")
assert_close(predict_proba(_X, _w, _b), expit(_X @ _w + _b), rtol=1e-10, name="predict_proba(X, w, b)",
             hint="p = sigmoid(X @ w + b); did you forget the bias or its sign?", mistake="predict_proba.bias")
### BEGIN HIDDEN TESTS
_X1 = _r.normal(size=(1, 4)) * 500
_w1 = _r.normal(size=4)
with no_float_errors("predict_proba with huge logits", mistake="predict_proba.overflow"):
    assert_close(predict_proba(_X1, _w1, -3.0), expit(_X1 @ _w1 - 3.0), rtol=1e-10, atol=1e-300,
                 name="predict_proba with huge logits", mistake="predict_proba.overflow")
### END HIDDEN TESTS
print("predict_proba: tests passed")


# %% [markdown]
# ## 2. Maximum likelihood
#
# Each label is a Bernoulli draw, so the log-likelihood of one example is
# $y \log p + (1 - y) \log (1 - p)$ with $p = \sigma(s)$, $s = w^\top x + b$. We minimize the
# **mean negative log-likelihood** (in nats; also called the binary cross-entropy):
#
# $$\mathrm{NLL}(w, b) = -\frac{1}{n} \sum_{i=1}^n \Big[ y_i \log \sigma(s_i) + (1 - y_i) \log\big(1 - \sigma(s_i)\big) \Big].$$
#
# **Numerics.** When a confident prediction is wrong (say $s = -1000$ but $y = 1$),
# $\sigma(s)$ underflows to $0$ and $\log 0 = -\infty$, although the true loss is a finite $1000$.
# Work with logits: $\log \sigma(s) = -\log(1 + e^{-s})$ and $\log(1 - \sigma(s)) = \log \sigma(-s)$,
# and compute $\log(1 + e^{t})$ stably, e.g. with `np.logaddexp(0, t)`.
#
# ### Exercise 3: the negative log-likelihood (3 points)

# %% nbgrader={"grade": false, "grade_id": "negative_log_likelihood", "locked": false, "schema_version": 3, "solution": true, "task": false}
def negative_log_likelihood(X, y, w, b):
    """Mean negative log-likelihood (nats) of logistic regression, computed from logits.

    Args:
        X: float64 array (n, d): examples.
        y: float64 array (n,): labels in {0., 1.}.
        w: float64 array (d,): weights.
        b: float: bias.

    Returns:
        float: -(1/n) sum_i [y_i log p_i + (1 - y_i) log(1 - p_i)], p_i = sigmoid(x_i . w + b);
        finite and correct even for logits of +-1000.
    """
    ### BEGIN SOLUTION
    s = np.asarray(X) @ np.asarray(w) + b
    y = np.asarray(y, dtype=np.float64)
    # -log sigmoid(s) = log(1 + exp(-s)); -log(1 - sigmoid(s)) = log(1 + exp(s))
    return float(np.mean(y * np.logaddexp(0.0, -s) + (1.0 - y) * np.logaddexp(0.0, s)))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_negative_log_likelihood", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import numpy as np
from scipy.special import log_expit
from sklearn.metrics import log_loss
from dgm_utils.checks import assert_close, expect, fail, no_float_errors

_r = np.random.default_rng(2)
_X, _w, _b = _r.normal(size=(50, 3)), _r.normal(size=3), -0.3
_y = (_r.random(50) < 0.5).astype(float)
_p = 1 / (1 + np.exp(-(_X @ _w + _b)))
_ref = log_loss(_y, _p)  # scikit-learn's mean binary cross-entropy
_got = negative_log_likelihood(_X, _y, _w, _b)
expect(np.ndim(_got) == 0, f"negative_log_likelihood must return one number, got shape {np.shape(_got)}",
       mistake="nll.not-a-number")
if abs(_got - 50 * _ref) < 1e-6 * 50:
    fail(f"negative_log_likelihood = {_got:.4f} is 50 x the expected {_ref:.4f}: you summed over the 50 "
         "examples; take the mean.", mistake="nll.sum-not-mean")
assert_close(_got, _ref, rtol=1e-8, name="negative_log_likelihood",
             hint="-mean(y log p + (1 - y) log(1 - p)); check signs and that you used y and 1 - y",
             mistake="nll.wrong-formula")
# Logits +1000 for both examples: confidently wrong for y = 0 (1000 nats), right for y = 1 (0 nats); mean 500.
_Xc, _yc = np.array([[1000.0], [1000.0]]), np.array([0.0, 1.0])
with no_float_errors("negative_log_likelihood on logits of 1000", hint="log(1 - sigmoid(s)) is log(0) at "
                     "s = 1000; use np.logaddexp(0, s).", mistake="nll.log-of-probability"):
    _big = negative_log_likelihood(_Xc, _yc, np.array([1.0]), 0.0)
assert_close(_big, 500.0, rtol=1e-10, name="NLL of logits (+1000, +1000) for labels (0, 1)",
             hint="the loss of a wrong confident prediction is finite (1000 nats): compute it from "
                  "the logit with log(1 + exp(s)) = np.logaddexp(0, s), not log of a probability",
             mistake="nll.log-of-probability")
print("negative_log_likelihood: tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_negative_log_likelihood_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check extreme and random inputs when your notebook is graded.
### BEGIN HIDDEN TESTS
import numpy as np
from scipy.special import log_expit
from dgm_utils.checks import assert_close, expect, no_float_errors

_r = np.random.default_rng(22)
_X = _r.normal(size=(40, 5)) * 300
_w = _r.normal(size=5)
_y = (_r.random(40) < 0.5).astype(float)
_s = _X @ _w + 1.5
_ref = -np.mean(_y * log_expit(_s) + (1 - _y) * log_expit(-_s))
with no_float_errors("NLL on large logits", mistake="nll.log-of-probability"):
    _got = negative_log_likelihood(_X, _y, _w, 1.5)
expect(np.isfinite(_got), f"NLL on large logits is {_got}", mistake="nll.log-of-probability")
expect(abs(_got - 40 * _ref) > 1e-6 * 40 * _ref, "NLL on 40 examples is 40 x the mean", mistake="nll.sum-not-mean")
assert_close(_got, _ref, rtol=1e-10, name="NLL, large logits", mistake="nll.wrong-formula")
_got0 = negative_log_likelihood(np.zeros((3, 2)), np.array([1.0, 0.0, 1.0]), np.zeros(2), 0.0)
expect(abs(_got0 - 3 * np.log(2)) > 1e-9, "NLL at w = 0 on 3 examples is 3 log 2", mistake="nll.sum-not-mean")
assert_close(_got0, np.log(2), rtol=1e-12, name="NLL at w = 0, b = 0", mistake="nll.wrong-formula")
### END HIDDEN TESTS

# %% [markdown]
# ### Self-check (1 point each)
# Answer on paper first, then put your answers in the cell below (a number for Q1, a letter for
# Q2 and Q3). Q1 is the derivation you need for Exercise 4: do it before writing any code.
#
# **Q1.** Two examples, $x_1 = (2, 0)$ with $y_1 = 1$ and $x_2 = (0, 4)$ with $y_2 = 0$, and the
# parameters $w = (0, 0)$, $b = 0$. Differentiate the mean NLL of Section 2 by hand (write each
# example's loss as a function of its logit $s_i = w^\top x_i + b$, then use the chain rule; recall
# $\sigma'(s) = \sigma(s)(1 - \sigma(s))$). What is $\partial\, \mathrm{NLL} / \partial w_2$, the
# derivative with respect to the *second* weight? (a number, 3 decimals)
#
# **Q2.** A fitted model has $w = (2, -1)$ and $b = 0.5$. Moving from $x = (1, 1)$ to $x = (2, 1)$
# multiplies the odds $p / (1 - p)$ of $y = 1$ by:
# (a) $2$ (b) $e^{2}$ (c) $e^{2.5}$ (d) it depends on the starting point $x$.
#
# **Q3.** XOR: the label is 1 when $x_1$ and $x_2$ have different signs (blobs at $(\pm 1, \pm 1)$).
# Logistic regression on the three features $(x_1, x_2, x_1 x_2)$ with $b = 0$: which weights
# classify the four blob centres correctly?
# (a) $(1, 1, 0)$ (b) $(0, 0, 1)$ (c) $(0, 0, -1)$ (d) $(1, -1, 0)$.

# %% nbgrader={"grade": false, "grade_id": "selfcheck_answers", "locked": false, "schema_version": 3, "solution": true, "task": false}
"""Your answers: a number for q1, one letter for q2 and q3."""
q1 = None  # a number, e.g. 0.25
q2 = None  # "a", "b", "c" or "d"
q3 = None  # "a", "b", "c" or "d"
### BEGIN SOLUTION
q1 = 1.0
q2 = "b"
q3 = "c"
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_selfcheck_q1", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from dgm_utils.checks import check_answer

check_answer("01.q1", q1, "e761038f8915beee", decimals=3,
             hint="differentiate each example's loss with respect to its logit first; only the second example "
                  "depends on w_2, and the NLL is a mean over the 2 examples", mistake="selfcheck.q1")
print("Q1: correct")

# %% nbgrader={"grade": true, "grade_id": "test_selfcheck_q2", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from dgm_utils.checks import check_answer

check_answer("01.q2", q2, "f0acf260a35c898b", choices="abcd",
             hint="re-read the assumption of Section 1: what changes the log-odds when one coordinate of x "
                  "grows by 1?", mistake="selfcheck.q2")
print("Q2: correct")

# %% nbgrader={"grade": true, "grade_id": "test_selfcheck_q3", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from dgm_utils.checks import check_answer

check_answer("01.q3", q3, "43c389206dc79f2d", choices="abcd",
             hint="evaluate the logit w . (x1, x2, x1 x2) at (1, -1) and at (1, 1): which sign must each have?",
             mistake="selfcheck.q3")
print("Q3: correct")

# %% [markdown]
# ### Exercise 4: the gradient (3 points)
# Generalize your answer to Q1: derive $\nabla_w \mathrm{NLL}$ and $\partial\, \mathrm{NLL} / \partial b$
# for $n$ examples, in matrix form (no loop over examples). Start from the derivative of one
# example's loss with respect to its logit $s_i$ (use $1 - \sigma(s) = \sigma(-s)$; the result is
# short), then apply the chain rule through $s_i = w^\top x_i + b$ and average. The test compares
# your gradient with finite differences of an independent implementation of the NLL, and with a
# small example worked out by hand.

# %% [markdown]
# <details><summary>Hint (open only if stuck)</summary>
#
# With $p_i = \sigma(s_i)$, the derivative of example $i$'s loss with respect to its logit is
# $p_i - y_i$, so
#
# $$\nabla_w \mathrm{NLL} = \frac{1}{n} X^\top (p - y), \qquad \frac{\partial\, \mathrm{NLL}}{\partial b} = \frac{1}{n} \sum_i (p_i - y_i).$$
#
# </details>

# %% nbgrader={"grade": false, "grade_id": "nll_gradient", "locked": false, "schema_version": 3, "solution": true, "task": false}
def nll_gradient(X, y, w, b):
    """Gradient of negative_log_likelihood (the mean) with respect to w and b.

    Args:
        X: float64 array (n, d); y: float64 array (n,) of 0./1.; w: float64 array (d,); b: float.

    Returns:
        (grad_w, grad_b): float64 array (d,) and float.
    """
    ### BEGIN SOLUTION
    X = np.asarray(X)
    r = predict_proba(X, w, b) - np.asarray(y, dtype=np.float64)
    return X.T @ r / len(r), float(np.mean(r))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_nll_gradient", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import numpy as np
from scipy.special import log_expit
from dgm_utils.checks import assert_close, check_gradient

def _ref_nll(X, y, w, b):
    s = X @ w + b
    return -np.mean(y * log_expit(s) + (1 - y) * log_expit(-s))

_r = np.random.default_rng(3)
_X, _w, _b = _r.normal(size=(30, 4)), _r.normal(size=4), 0.4
_y = (_r.random(30) < 0.5).astype(float)
_gw, _gb = nll_gradient(_X, _y, _w, _b)
check_gradient(lambda w: _ref_nll(_X, _y, w, _b), _gw, _w, name="grad_w",
               hint="check the sign (a step against the gradient must lower the loss) and that you average "
                    "over the n examples", mistake="nll_gradient.grad-w")
check_gradient(lambda b: _ref_nll(_X, _y, _w, float(b)), np.array(_gb), np.array(_b), name="grad_b",
               hint="the bias enters every logit with coefficient 1", mistake="nll_gradient.grad-b")
# Worked by hand: at w = 0, b = log 3 every p_i = 3/4; three examples.
_gw, _gb = nll_gradient(np.array([[2.0, 0.0], [0.0, 4.0], [1.0, 1.0]]), np.array([1.0, 0.0, 1.0]), np.zeros(2),
                        np.log(3.0))
assert_close(_gw, np.array([-1 / 4, 11 / 12]), rtol=1e-10, name="grad_w of the worked example",
             hint="use the predicted probabilities p_i = sigmoid(x_i . w + b), bias included", mistake="nll_gradient.grad-w")
assert_close(_gb, 1 / 12, rtol=1e-10, name="grad_b of the worked example", mistake="nll_gradient.grad-b")
print("nll_gradient: tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_nll_gradient_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check the gradient at other points when your notebook is graded.
### BEGIN HIDDEN TESTS
import numpy as np
from dgm_utils.checks import check_gradient, assert_close, no_float_errors

_r = np.random.default_rng(33)
_X, _w = _r.normal(size=(64, 2)), _r.normal(size=2) * 3
_y = (_r.random(64) < 0.3).astype(float)
_gw, _gb = nll_gradient(_X, _y, _w, -1.0)
check_gradient(lambda w: _ref_nll(_X, _y, w, -1.0), _gw, _w, name="grad_w (hidden)", mistake="nll_gradient.grad-w")
check_gradient(lambda b: _ref_nll(_X, _y, _w, float(b)), np.array(_gb), np.array(-1.0), name="grad_b (hidden)",
               mistake="nll_gradient.grad-b")
with no_float_errors("grad_w at logit -1000", mistake="nll_gradient.overflow"):
    _gw2, _gb2 = nll_gradient(np.array([[1000.0]]), np.array([1.0]), np.array([-1.0]), 0.0)
assert_close(_gw2, np.array([-1000.0]), rtol=1e-10, name="grad_w at logit -1000", mistake="nll_gradient.overflow")
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 5: gradient descent (3 points)
# The NLL of logistic regression is convex and smooth, so full-batch gradient descent
# $w \leftarrow w - \eta \nabla_w \mathrm{NLL}$, $b \leftarrow b - \eta\, \partial_b \mathrm{NLL}$ from
# $w = 0, b = 0$ drives it to its lowest value for a small enough step $\eta$. That value is reached
# (a global minimizer exists) when the classes are not linearly separable, as here; on separable data
# $\|w\|$ grows without bound instead. Choose defaults
# that reach the optimum (within $10^{-4}$ nats of an independent solver) on standardized
# features with a few hundred examples. No loop over examples: one step is one call to
# `nll_gradient`.

# %% nbgrader={"grade": false, "grade_id": "fit_logistic_regression", "locked": false, "schema_version": 3, "solution": true, "task": false}
def fit_logistic_regression(X, y, lr=1.0, n_steps=3000):
    """Fit logistic regression by full-batch gradient descent on the mean NLL, from zeros.

    Args:
        X: float64 array (n, d): standardized features.
        y: float64 array (n,): labels in {0., 1.}.
        lr: float > 0: step size.
        n_steps: int >= 0: number of gradient steps.

    Returns:
        (w, b): float64 array (d,) and float.
    """
    ### BEGIN SOLUTION
    X = np.asarray(X, dtype=np.float64)
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(n_steps):
        gw, gb = nll_gradient(X, y, w, b)
        w, b = w - lr * gw, b - lr * gb
    return w, b
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_fit_logistic_regression", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import numpy as np
from scipy.special import log_expit
from sklearn.linear_model import LogisticRegression
from dgm_utils.checks import expect

def _ref_nll(X, y, w, b):
    s = X @ w + b
    return -np.mean(y * log_expit(s) + (1 - y) * log_expit(-s))

_r = np.random.default_rng(4)
_X = _r.normal(size=(300, 3))
_y = (_r.random(300) < 1 / (1 + np.exp(-(_X @ np.array([1.5, -2.0, 0.5]) + 0.3)))).astype(float)
_sk = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(_X, _y)
_opt = _ref_nll(_X, _y, _sk.coef_[0], _sk.intercept_[0])
_w, _b = fit_logistic_regression(_X, _y)
expect(np.shape(_w) == (3,), f"w must have shape (3,), got {np.shape(_w)}", mistake="fit.w-shape")
_gap = _ref_nll(_X, _y, np.asarray(_w, dtype=float), float(_b)) - _opt
expect(_gap <= 1e-4, f"your fit's NLL is {_gap:.3g} nats above scikit-learn's optimum {_opt:.5f}.",
       hint="more steps or a larger learning rate (if the loss diverges instead, the rate is too large or the "
       "gradient's sign is wrong); start from w = 0, b = 0 and update both w and b.", mistake="fit.not-converged")
print(f"fit_logistic_regression: within {_gap:.2e} nats of scikit-learn's optimum")

# %% nbgrader={"grade": true, "grade_id": "test_fit_logistic_regression_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests fit another data set when your notebook is graded.
### BEGIN HIDDEN TESTS
import numpy as np
from sklearn.linear_model import LogisticRegression
from dgm_utils.checks import expect

_r = np.random.default_rng(44)
_X = _r.normal(size=(200, 2))
_y = (_r.random(200) < 1 / (1 + np.exp(-(_X @ np.array([-1.0, 0.8]) - 0.5)))).astype(float)
_sk = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(_X, _y)
_w, _b = fit_logistic_regression(_X, _y)
_gap = _ref_nll(_X, _y, np.asarray(_w, dtype=float), float(_b)) - _ref_nll(_X, _y, _sk.coef_[0], _sk.intercept_[0])
# The NLL is strictly convex here: a fit within 1e-4 nats of the optimum is near it in (w, b) too. A check
# of w itself (atol 1e-2) rejected correct fits within 1e-4 nats (they may lie 0.04 away), so the gap decides.
expect(_gap <= 1e-4, f"hidden fit: {_gap:.3g} nats above the optimum", mistake="fit.not-converged")
### END HIDDEN TESTS

# %% [markdown]
# ## 3. A real data set: breast cancer diagnosis
#
# The Wisconsin breast cancer data (569 tumours, 30 features, bundled with scikit-learn) label
# each tumour benign ($y=1$) or malignant ($y=0$). We keep two features so we can draw the
# decision boundary, standardize them with the training statistics, and fit.

# %% tags=["demo"]
X_train, X_test, y_train, y_test, feature_names = load_breast_cancer_split(test_fraction=0.3, seed=0)
features = [feature_names.index("worst radius"), feature_names.index("worst concave points")]
X2_train, X2_test = X_train[:, features], X_test[:, features]

w_hat, b_hat = fit_logistic_regression(X2_train, y_train)
accuracy = np.mean((predict_proba(X2_test, w_hat, b_hat) > 0.5) == y_test)
print(f"w = {w_hat}, b = {b_hat:.3f}")
print(f"train NLL = {negative_log_likelihood(X2_train, y_train, w_hat, b_hat):.4f} nats, "
      f"test accuracy = {accuracy:.3f}")

# %% [markdown]
# The loss along gradient descent (recomputed with your functions) and the boundary on the test set:

# %% tags=["demo"]
w, b, losses = np.zeros(2), 0.0, []
for _ in range(300):
    losses.append(negative_log_likelihood(X2_train, y_train, w, b))
    gw, gb = nll_gradient(X2_train, y_train, w, b)
    w, b = w - 1.0 * gw, b - 1.0 * gb

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
plot_loss_curve(losses, ax=axes[0], title="Gradient descent on the breast cancer data")
plot_decision_boundary(lambda G: predict_proba(G, w_hat, b_hat), X2_test, y_test, ax=axes[1],
                       title=f"Test set, accuracy {accuracy:.2f}")
axes[1].set_xlabel(feature_names[features[0]] + " (standardized)")
axes[1].set_ylabel(feature_names[features[1]] + " (standardized)")
plt.tight_layout()
plt.show()

# %% [markdown]
# **The assumption, seen.** Left: the sigmoid squashes any logit into $(0, 1)$. Middle: a line
# through the training data, along the direction of $w$. Right: along that line the predicted
# probability rises as a sigmoid, while the log-odds $\log \frac{p}{1 - p}$ (computed from your
# `predict_proba`) are exactly a straight line, $w^\top x + b$: this is all logistic regression
# can express.

# %% tags=["demo"]
s_grid = np.linspace(-8, 8, 401)
sigma_grid = sigmoid(s_grid)
center = X2_train.mean(axis=0)
direction = w_hat / np.linalg.norm(w_hat)
t = np.linspace(-3, 3, 201)
p_line = predict_proba(center + t[:, None] * direction, w_hat, b_hat)
log_odds = np.log(p_line) - np.log1p(-p_line)

fig, axes = plt.subplots(1, 3, figsize=(15, 4))
axes[0].plot(s_grid, sigma_grid)
axes[0].axhline(0.5, color="gray", lw=0.8, ls="--")
axes[0].set(xlabel="logit $s$", ylabel=r"$\sigma(s)$", title="The sigmoid")
axes[1].scatter(X2_train[:, 0], X2_train[:, 1], c=y_train, cmap="coolwarm", s=10, alpha=0.6)
axes[1].plot(*(center + t[:, None] * direction).T, "k-", lw=2, label="the line $x(t)$")
axes[1].set(xlabel=feature_names[features[0]], ylabel=feature_names[features[1]], title="A line through the data")
axes[1].legend()
axes[2].plot(t, p_line, label="$p(y = 1 \\mid x(t))$")
axes[2].set(xlabel="position $t$ along the line", ylabel="probability")
twin = axes[2].twinx()
twin.plot(t, log_odds, "k--", label="log-odds")
twin.set_ylabel(r"$\log \frac{p}{1 - p}$")
axes[2].set_title("Along the line: a sigmoid, and straight log-odds")
axes[2].legend(loc="upper left")
twin.legend(loc="lower right")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Where the assumption fails
#
# A linear boundary cannot separate XOR (label 1 when the two coordinates have different
# signs) and can only approximate two interleaving moons. The model is not badly trained:
# it is the best *linear* log-odds model, and the assumption is wrong for these data.

# %% tags=["demo"]
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, (name, (X, y)) in zip(axes, [("XOR", make_xor(400, rng=rng)), ("moons", make_moons(400, rng=rng))]):
    w_toy, b_toy = fit_logistic_regression(X, y)
    acc = np.mean((predict_proba(X, w_toy, b_toy) > 0.5) == y)
    plot_decision_boundary(lambda G: predict_proba(G, w_toy, b_toy), X, y, ax=ax,
                           title=f"{name}: logistic regression, accuracy {acc:.2f}")
plt.tight_layout()
plt.show()

# %% [markdown]
# **A hand-made feature.** The model is linear in its *features*, and nothing forces the
# features to be the raw coordinates. Append the product $x_1 x_2$ as a third feature (your
# answer to Q3 says which sign its weight needs) and fit the same logistic regression on
# $(x_1, x_2, x_1 x_2)$: the boundary $w^\top (x_1, x_2, x_1 x_2) + b = 0$ is a straight plane in
# the three features, and a pair of curves (a hyperbola) back in the plane of $x$.

# %% tags=["demo"]
def with_product(X):
    """The features (x1, x2, x1 * x2) of 2-D points X (n, 2)."""
    return np.column_stack([X, X[:, 0] * X[:, 1]])

X_xor, y_xor = make_xor(400, rng=rng)
w_prod, b_prod = fit_logistic_regression(with_product(X_xor), y_xor)
acc_prod = np.mean((predict_proba(with_product(X_xor), w_prod, b_prod) > 0.5) == y_xor)
w_lin, b_lin = fit_logistic_regression(X_xor, y_xor)
acc_lin = np.mean((predict_proba(X_xor, w_lin, b_lin) > 0.5) == y_xor)
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
plot_decision_boundary(lambda G: predict_proba(G, w_lin, b_lin), X_xor, y_xor, ax=axes[0],
                       title=f"features $(x_1, x_2)$: accuracy {acc_lin:.2f}")
plot_decision_boundary(lambda G: predict_proba(with_product(G), w_prod, b_prod), X_xor, y_xor, ax=axes[1],
                       title=f"features $(x_1, x_2, x_1 x_2)$: accuracy {acc_prod:.2f}")
plt.tight_layout()
plt.show()

# %% [markdown]
# Here we knew which feature XOR needs; on the moons, or on images, nobody does. The next
# notebook keeps logistic regression but feeds it *learned non-linear features*
# $h = \sigma(Ax + b)$: a multilayer perceptron.
#
# ### Written answer (manually graded, 2 points)
# What assumption does logistic regression make about how $y$ depends on $x$? Where does it
# fail, and why does more data or more gradient steps not fix it? Answer in 3 to 5 sentences,
# citing one of the figures above.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_assumption", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# ### BEGIN SOLUTION
# Logistic regression assumes that the log-odds of $y = 1$ are a linear function of $x$,
# so the decision boundary $p = 1/2$ is a hyperplane and the probability changes
# monotonically along one direction $w$. It fails when the classes are not linearly separable
# in the given features: on XOR the maximum-likelihood linear model is nearly constant, so at
# chance (about 50%), although a line cutting off one blob would reach about 75% (logistic
# regression maximizes the likelihood, not the accuracy); on the moons it cuts through both
# crescents. More data or more steps only find the best linear model
# more precisely; the error is in the model family (bias), not in the estimate. We need
# non-linear features of $x$, which an MLP learns.
# ### END SOLUTION
