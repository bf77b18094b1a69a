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
# # 04 · Continuous densities: the chain rule without tables
#
# **Where we are in the story.** Logistic regression (01) predicted a binary $y$ from $x$; an MLP
# (02) did the same on learned features; in 03 the **chain rule**
# $p(x_0, \dots, x_{d-1}) = \prod_i p(x_i \mid x_{<i})$ (counting from 0, as the code does) turned a stack of such prediction models into a
# generative model of binary vectors: every conditional was a Bernoulli, a *table* of two numbers
# or a network that outputs one probability.
#
# Real data are often real-valued: pixel intensities, positions, sensor readings. A single
# real number can take uncountably many values, so tables no longer work. The same machinery
# carries over to **densities**: the chain rule, conditionals and Bayes nets are unchanged, only the
# sums become integrals and the tables become *parametric functions* such as the Gaussian. This
# notebook does that for the Gaussian family, where every conditional has a closed form; the
# next notebook adds a latent variable (a two-node Bayes net $z \to x$), and the last one lets neural
# networks output the parameters of $p(x \mid z)$: the VAE.
#
# ## What you will build
# In NumPy (float64 arrays), stable in the tails:
# `gaussian_pdf`, `gaussian_log_pdf`, `uniform_pdf`, `uniform_log_pdf` (1-D densities);
# `mvn_log_pdf` and `sample_mvn` (the multivariate Gaussian through its Cholesky factor);
# `gaussian_conditional` (the distribution of one coordinate given the previous ones); and
# `chain_rule_log_pdf`, which rebuilds the joint log-density as a sum of conditionals and
# agrees with `mvn_log_pdf` to machine precision. A demonstration then reads the same Gaussian as a linear
# autoregressive model (a continuous FVSBN), its regression weights off the Cholesky factor.
#
# **How to work.** Replace each `raise NotImplementedError(...)` with your code, then run
# the test cell below it. A failing test says what is wrong and usually why. Some tests are
# hidden and run only when your notebook is graded: they check the same contract on other
# inputs, so passing the visible tests *honestly* is the best preparation.

# %%
import numpy as np
import matplotlib.pyplot as plt
from scipy.linalg import solve_triangular

rng = np.random.default_rng(0)
# %matplotlib inline

# %% [markdown]
# ## 1. From tables to densities
#
# For a discrete variable a table lists $P(x = v)$ for every value $v$, and the entries sum to 1.
# For a real-valued $x$ every single value has probability $0$; what a model gives instead is a
# **density** $p(x) \ge 0$ whose *integrals* are probabilities:
#
# $$P(a \le x \le b) = \int_a^b p(x)\, dx, \qquad \int_{-\infty}^{\infty} p(x)\, dx = 1.$$
#
# A density is not a probability: it can exceed 1 (a narrow bump must be tall to hold mass 1), and
# its unit is "probability per unit of $x$". The likelihood of continuous data is the product of
# densities, and the negative log-likelihood is still our training loss (it can now be negative).
#
# The workhorse is the **Gaussian** (normal) density with mean $\mu$ and **standard deviation**
# $\sigma > 0$ (variance $\sigma^2$):
#
# $$\mathcal{N}(x; \mu, \sigma^2) = \frac{1}{\sigma\sqrt{2\pi}} \exp\!\Big(-\frac{(x-\mu)^2}{2\sigma^2}\Big),
# \qquad \log \mathcal{N}(x; \mu, \sigma^2) = -\frac12 \Big(\frac{x-\mu}{\sigma}\Big)^2 - \log\sigma - \frac12\log(2\pi).$$
#
# Two numbers describe it on the whole real line.
#
# ### Exercise 1: the Gaussian density (2 points)
# Work elementwise with broadcasting: `x`, `mu` and `sigma` may be scalars or arrays of
# compatible shapes. No loops.

# %% nbgrader={"grade": false, "grade_id": "gaussian_pdf", "locked": false, "schema_version": 3, "solution": true, "task": false}
def gaussian_pdf(x, mu, sigma):
    """Density of the normal distribution N(mu, sigma^2), elementwise.

    Args:
        x: float or float64 array of any shape: where to evaluate the density.
        mu: float or float64 array broadcastable with x: the mean.
        sigma: float or float64 array broadcastable with x, > 0: the standard deviation
            (not the variance).

    Returns:
        float64 array of the broadcast shape of (x, mu, sigma) (0-d for scalars):
        exp(-(x - mu)^2 / (2 sigma^2)) / (sigma sqrt(2 pi)).
    """
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    z = (x - mu) / sigma
    return np.exp(-0.5 * z**2) / (sigma * np.sqrt(2.0 * np.pi))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_gaussian_pdf", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import numpy as np
from scipy.integrate import quad
from scipy.stats import norm
from dgm_utils.checks import assert_close, assert_shape

# The shape of the bell, whatever the normalizer: one standard deviation out, the density drops by exp(-1/2).
_ratio = gaussian_pdf(3.0, 1.0, 2.0) / gaussian_pdf(1.0, 1.0, 2.0)
assert_close(_ratio, np.exp(-0.5), rtol=1e-10, name="gaussian_pdf(mu + sigma) / gaussian_pdf(mu) for mu=1, sigma=2",
             hint="sigma is the standard deviation, not the variance: the exponent is "
                  "-0.5 ((x - mu) / sigma)**2, so (x - mu) is divided by sigma, not by sigma**2", mistake="pdf.variance-as-std")
_mass = quad(lambda t: float(gaussian_pdf(t, 1.0, 0.3)), -15.0, 17.0, points=[1.0])[0]
assert_close(_mass, 1.0, rtol=1e-8, name="integral of gaussian_pdf(x, 1, 0.3) over x (scipy.integrate.quad)",
             hint="a density integrates to 1: the normalizing constant is 1 / (sigma sqrt(2 pi)), "
                  "with sigma itself (not sigma**2, not sqrt(sigma))", mistake="pdf.normalizer")
_x = np.linspace(-6.0, 8.0, 29)
assert_shape(gaussian_pdf(_x, 0.5, 2.0), (29,), "gaussian_pdf(x, 0.5, 2.0) for x of shape (29,)",
             hint="one density value per entry of x", mistake="pdf.shape")
assert_close(gaussian_pdf(_x, 0.5, 2.0), norm.pdf(_x, loc=0.5, scale=2.0), rtol=1e-10, atol=0.0,
             name="gaussian_pdf(x, 0.5, 2.0)", hint="compare with scipy.stats.norm.pdf(x, loc=mu, scale=sigma)", mistake="pdf.formula")
assert_close(gaussian_pdf(0.0, 0.0, 0.1), 1.0 / (0.1 * np.sqrt(2 * np.pi)), rtol=1e-12,
             name="gaussian_pdf(0.0, 0.0, 0.1) (Python floats)",
             hint="a density can exceed 1 (here 3.99); the function must accept Python floats too", mistake="pdf.scalar-input")
print("gaussian_pdf: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_gaussian_pdf_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check broadcasting and other parameters when your notebook is graded.
### BEGIN HIDDEN TESTS
import numpy as np
from scipy.stats import norm
from dgm_utils.checks import assert_close, assert_shape

_x = np.linspace(-4.0, 4.0, 5).reshape(5, 1)
_mu, _sd = np.array([-1.0, 0.0, 2.5]), np.array([0.2, 1.0, 3.0])
assert_shape(gaussian_pdf(_x, _mu, _sd), (5, 3), "gaussian_pdf with x (5, 1), mu (3,), sigma (3,)")
assert_close(gaussian_pdf(_x, _mu, _sd), norm.pdf(_x, _mu, _sd), rtol=1e-10, atol=0.0,
             name="gaussian_pdf (broadcast)", mistake="pdf.formula")
assert_close(gaussian_pdf(np.array([-40.0, 0.0, 40.0]), 0.0, 1.0), norm.pdf([-40.0, 0.0, 40.0]),
             rtol=1e-10, atol=0.0, name="gaussian_pdf far in the tails", mistake="pdf.formula")
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 2: the Gaussian log-density, in log space (2 points)
# Likelihoods multiply, so in practice we always add **log**-densities. Taking `np.log` of
# `gaussian_pdf` fails far in the tails: at $x = 10^3$, $\mu = 0$, $\sigma = 10^{-3}$ the density is
# $e^{-5\cdot 10^{11}}$, which underflows to $0$, and $\log 0 = -\infty$, although the true
# log-density is the perfectly ordinary number $-5\cdot 10^{11} + 5.99$. Compute the formula above
# directly, never forming the density.

# %% nbgrader={"grade": false, "grade_id": "gaussian_log_pdf", "locked": false, "schema_version": 3, "solution": true, "task": false}
def gaussian_log_pdf(x, mu, sigma):
    """log N(x; mu, sigma^2), elementwise, computed in log space (finite far in the tails).

    Args:
        x: float or float64 array of any shape: where to evaluate.
        mu: float or float64 array broadcastable with x: the mean.
        sigma: float or float64 array broadcastable with x, > 0: the standard deviation.

    Returns:
        float64 array of the broadcast shape (0-d for scalars):
        -0.5 ((x - mu) / sigma)^2 - log(sigma) - 0.5 log(2 pi); finite for x = 1e3, sigma = 1e-3.
    """
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    z = (x - mu) / sigma
    return -0.5 * z**2 - np.log(sigma) - 0.5 * np.log(2.0 * np.pi)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_gaussian_log_pdf", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import numpy as np
from scipy.stats import norm
from dgm_utils.checks import assert_close, no_float_errors

assert_close(gaussian_log_pdf(0.0, 0.0, 1.0), -0.5 * np.log(2 * np.pi), rtol=1e-12, name="gaussian_log_pdf(0, 0, 1)",
             hint="at the mean of N(0, 1) the log-density is -0.5 log(2 pi) = -0.919: "
                  "did you drop the -0.5 log(2 pi) of the normalizer?", mistake="logpdf.missing-log-2pi")
assert_close(gaussian_log_pdf(3.0, 3.0, 4.0), -np.log(4.0) - 0.5 * np.log(2 * np.pi), rtol=1e-12,
             name="gaussian_log_pdf(3, 3, 4)",
             hint="at the mean only the normalizer 1 / (sigma sqrt(2 pi)) is left: -log(sigma) - 0.5 log(2 pi)", mistake="logpdf.missing-log-sigma")
_x = np.linspace(-10.0, 12.0, 45)
assert_close(gaussian_log_pdf(_x, 1.5, 2.5), norm.logpdf(_x, 1.5, 2.5), rtol=1e-10,
             name="gaussian_log_pdf(x, 1.5, 2.5)",
             hint="log N = -0.5 ((x - mu) / sigma)**2 - log(sigma) - 0.5 log(2 pi), where sigma is the "
                  "standard deviation (not the variance)", mistake="logpdf.variance-as-std")
# Far in the tail: the density underflows, the log-density does not.
with no_float_errors("gaussian_log_pdf(1e3, 0, 1e-3)", hint="the density underflows to 0 there and log(0) = -inf: "
                     "compute the log-density in log space, -0.5 z**2 - log(sigma) - 0.5 log(2 pi), instead of "
                     "taking the log of the pdf.", mistake="logpdf.log-of-pdf"):
    _far = gaussian_log_pdf(np.array([1e3, -1e3]), 0.0, 1e-3)
assert_close(_far, norm.logpdf([1e3, -1e3], 0.0, 1e-3), rtol=1e-12, name="gaussian_log_pdf(+-1e3, 0, 1e-3)",
             hint="the true value is about -5e11, finite: compute in log space, never np.log(gaussian_pdf(...))", mistake="logpdf.log-of-pdf")
print("gaussian_log_pdf: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_gaussian_log_pdf_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check broadcasting and extreme inputs when your notebook is graded.
### BEGIN HIDDEN TESTS
import numpy as np
from scipy.stats import norm
from dgm_utils.checks import assert_close, no_float_errors

_x = np.array([[-1e4], [0.3], [7e2]])
_mu, _sd = np.array([0.0, 5.0]), np.array([1e-3, 30.0])
with no_float_errors("gaussian_log_pdf (broadcast, extreme)", mistake="logpdf.log-of-pdf"):
    assert_close(gaussian_log_pdf(_x, _mu, _sd), norm.logpdf(_x, _mu, _sd), rtol=1e-12,
                 name="gaussian_log_pdf (broadcast, extreme)", mistake="logpdf.log-of-pdf")
_g = np.random.default_rng(12).normal(size=(4, 6)) * 5
assert_close(gaussian_log_pdf(_g, 1.0, 3.0), norm.logpdf(_g, 1.0, 3.0), rtol=1e-10,
             name="gaussian_log_pdf of a (4, 6) array", mistake="logpdf.formula")
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 3: the uniform density (2 points)
# $\mathrm{Uniform}(a, b)$ spreads mass 1 evenly over $[a, b]$: its density is the constant
# $1/(b - a)$ inside and $0$ outside, so its log-density is $-\log(b - a)$ inside and $-\infty$
# outside. (Use `np.where`; the endpoints themselves have probability 0, so either convention is fine
# there.) It will be the prior of a latent variable in the next notebook.

# %% nbgrader={"grade": false, "grade_id": "uniform_pdf", "locked": false, "schema_version": 3, "solution": true, "task": false}
def uniform_pdf(x, a, b):
    """Density of Uniform(a, b), elementwise.

    Args:
        x: float or float64 array of any shape.
        a, b: floats with a < b: the interval.

    Returns:
        float64 array shaped like x: 1 / (b - a) inside [a, b], 0 outside.
    """
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    inside = (x >= a) & (x <= b)
    return np.where(inside, 1.0 / (b - a), 0.0)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_uniform_pdf", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
import numpy as np
from scipy.integrate import quad
from scipy.stats import uniform
from dgm_utils.checks import assert_close

_out = np.array([-50.0, -1.5, 3.5, 1e6])
assert_close(uniform_pdf(_out, -1.0, 3.0), np.zeros(4), atol=0.0, name="uniform_pdf outside [-1, 3]",
             hint="the density is 0 outside [a, b]: np.where(inside, 1 / (b - a), 0.0)", mistake="uniform.not-zero-outside")
_in = np.array([-0.99, 0.0, 1.0, 2.99])
assert_close(uniform_pdf(_in, -1.0, 3.0), np.full(4, 0.25), rtol=1e-12, name="uniform_pdf inside [-1, 3]",
             hint="inside [a, b] the density is the constant 1 / (b - a) (here 1/4), so that it integrates to 1", mistake="uniform.height")
_mass = quad(lambda t: float(uniform_pdf(t, 0.2, 0.7)), -2.0, 2.0, points=[0.2, 0.7])[0]
assert_close(_mass, 1.0, rtol=1e-8, name="integral of uniform_pdf(x, 0.2, 0.7) over x",
             hint="1 / (b - a) = 2 here: a density can exceed 1", mistake="uniform.height")
_x = np.linspace(-3.1, 5.1, 42)
assert_close(uniform_pdf(_x, -1.0, 3.0), uniform(loc=-1.0, scale=4.0).pdf(_x), atol=1e-15,
             name="uniform_pdf(x, -1, 3)", hint="compare with scipy.stats.uniform(loc=a, scale=b - a).pdf", mistake="uniform.formula")
print("uniform_pdf: all visible tests passed")


# %% nbgrader={"grade": false, "grade_id": "uniform_log_pdf", "locked": false, "schema_version": 3, "solution": true, "task": false}
def uniform_log_pdf(x, a, b):
    """Log-density of Uniform(a, b), elementwise.

    Args:
        x: float or float64 array of any shape.
        a, b: floats with a < b.

    Returns:
        float64 array shaped like x: -log(b - a) inside [a, b], -inf outside.
    """
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    inside = (x >= a) & (x <= b)
    return np.where(inside, -np.log(b - a), -np.inf)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_uniform_log_pdf", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
import numpy as np
from scipy.stats import uniform
from dgm_utils.checks import assert_close

with np.errstate(divide="ignore"):  # np.log(0) = -inf is the right answer outside [a, b]
    _li = uniform_log_pdf(np.array([-0.5, 0.0, 2.5]), -1.0, 3.0)
    _lo = uniform_log_pdf(np.array([-5.0, -1.01, 3.01, 40.0]), -1.0, 3.0)
    _lg = uniform_log_pdf(np.linspace(-0.13, 1.27, 15), 0.0, 0.5)  # no point at an endpoint 0 or 0.5
assert_close(_li, np.full(3, -np.log(4.0)), rtol=1e-12, name="uniform_log_pdf inside [-1, 3]",
             hint="log(1 / (b - a)) = -log(b - a)", mistake="uniform.log-height")
assert_close(_lo, np.full(4, -np.inf), name="uniform_log_pdf outside [-1, 3]",
             hint="outside [a, b] the density is 0, so its log is -inf (np.where(inside, -np.log(b - a), -np.inf)), "
                  "not 0 and not a large negative number", mistake="uniform.log-not-minus-inf-outside")
assert_close(_lg, uniform(loc=0.0, scale=0.5).logpdf(np.linspace(-0.13, 1.27, 15)), rtol=1e-12,
             name="uniform_log_pdf(x, 0, 0.5)", hint="compare with scipy.stats.uniform(loc=a, scale=b - a).logpdf", mistake="uniform.log-formula")
print("uniform_log_pdf: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_uniform_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check other intervals and shapes when your notebook is graded.
### BEGIN HIDDEN TESTS
import numpy as np
from scipy.stats import uniform
from dgm_utils.checks import assert_close, assert_shape

_x = np.random.default_rng(13).uniform(-10.0, 10.0, size=(3, 7))
_ref = uniform(loc=-2.5, scale=7.0)
assert_shape(uniform_pdf(_x, -2.5, 4.5), (3, 7), "uniform_pdf of a (3, 7) array")
assert_close(uniform_pdf(_x, -2.5, 4.5), _ref.pdf(_x), atol=1e-15, name="uniform_pdf (hidden)", mistake="uniform.formula")
with np.errstate(divide="ignore"):
    assert_close(uniform_log_pdf(_x, -2.5, 4.5), _ref.logpdf(_x), rtol=1e-12, name="uniform_log_pdf (hidden)", mistake="uniform.log-formula")
### END HIDDEN TESTS

# %% [markdown]
# ### Figure: densities in one dimension
# Left: densities with different widths (a narrow Gaussian is taller than 1). Middle: log-densities;
# `np.log(gaussian_pdf(...))` becomes $-\infty$ once the density underflows (about $38$ standard
# deviations out), `gaussian_log_pdf` stays a parabola. Right: what a table can do with a density:
# store the mass of finitely many bins of a bounded range. Finer bins need more entries, and the
# unbounded tails are never covered.

# %% tags=["demo"]
xs = np.linspace(-6.0, 8.0, 1000)
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for mu, sd in [(0.0, 1.0), (0.0, 0.3), (2.0, 2.0)]:
    axes[0].plot(xs, gaussian_pdf(xs, mu, sd), label=rf"$\mathcal{{N}}({mu:g}, {sd:g}^2)$")
axes[0].plot(xs, uniform_pdf(xs, -1.0, 3.0), label="Uniform(-1, 3)")
axes[0].set(title="1-D densities", xlabel="$x$", ylabel="$p(x)$")
axes[0].legend()

xt = np.linspace(0.0, 60.0, 600)
with np.errstate(divide="ignore"):
    naive = np.log(gaussian_pdf(xt, 0.0, 1.0))
axes[1].plot(xt, gaussian_log_pdf(xt, 0.0, 1.0), lw=3, alpha=0.5, label="gaussian_log_pdf (log space)")
axes[1].plot(xt, np.where(np.isfinite(naive), naive, np.nan), "k--", label="np.log(gaussian_pdf)")
axes[1].axvline(xt[np.argmax(~np.isfinite(naive))], color="r", lw=0.8, label="pdf underflows to 0")
axes[1].set(title=r"$\log \mathcal{N}(x; 0, 1)$ far in the tail", xlabel="$x$", ylabel="log-density")
axes[1].legend()

for n_bins, color in [(6, "C1"), (24, "C2")]:
    edges = np.linspace(-4.0, 4.0, n_bins + 1)
    centers, width = (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]
    mass = np.array([np.mean(gaussian_pdf(np.linspace(lo, hi, 50), 0.0, 1.0)) * width
                     for lo, hi in zip(edges[:-1], edges[1:])])
    axes[2].bar(centers, mass / width, width=width, alpha=0.35, color=color, edgecolor=color,
                label=f"table of {n_bins} bin masses (height = mass / width)")
axes[2].plot(xs, gaussian_pdf(xs, 0.0, 1.0), "k", label="density")
axes[2].set(title="A table approximates a density on bounded bins", xlabel="$x$", xlim=(-6, 6))
axes[2].legend(fontsize=8)
plt.tight_layout()
plt.show()


# %% [markdown]
# ## 2. The multivariate Gaussian, through its Cholesky factor
#
# For $x \in \mathbb{R}^d$ with mean $\mu$ and symmetric positive-definite covariance $\Sigma$:
#
# $$\log \mathcal{N}(x; \mu, \Sigma) = -\frac12 (x - \mu)^\top \Sigma^{-1} (x - \mu) - \frac12 \log\det\Sigma - \frac d2 \log(2\pi).$$
#
# Never invert $\Sigma$. Factor it once, $\Sigma = L L^\top$ with $L$ **lower**-triangular
# (`np.linalg.cholesky` returns this $L$). Then
# * the quadratic form is $\lVert y \rVert^2$ where $y$ solves the triangular system $L y = x - \mu$
#   (`scipy.linalg.solve_triangular(L, ..., lower=True)`, cheap and accurate);
# * $\log\det\Sigma = 2 \sum_i \log L_{ii}$ (the determinant of a triangular matrix is the product of its diagonal).
#
# ### Exercise 4: the multivariate Gaussian log-density (3 points)
# `x` holds one point per row; handle all rows at once (solve for all of them in one call).

# %% nbgrader={"grade": false, "grade_id": "mvn_log_pdf", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mvn_log_pdf(x, mu, cov):
    """log N(x_i; mu, cov) for every row x_i of x, through the Cholesky factor of cov.

    Args:
        x: float64 array (n, d): one point per row.
        mu: float64 array (d,): the mean.
        cov: float64 array (d, d): symmetric positive-definite covariance.

    Returns:
        float64 array (n,): the log-densities (finite even where the density underflows).
    """
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    mu, cov = np.asarray(mu, dtype=np.float64), np.asarray(cov, dtype=np.float64)
    d = mu.shape[0]
    L = np.linalg.cholesky(cov)  # cov = L @ L.T, L lower-triangular
    y = solve_triangular(L, (x - mu).T, lower=True)  # (d, n): L y = x - mu
    maha = np.sum(y**2, axis=0)  # (x - mu)^T cov^{-1} (x - mu)
    log_det = 2.0 * np.sum(np.log(np.diag(L)))
    return -0.5 * maha - 0.5 * log_det - 0.5 * d * np.log(2.0 * np.pi)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_mvn_log_pdf", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import numpy as np
from scipy.stats import multivariate_normal
from dgm_utils.checks import assert_close, assert_shape, no_float_errors

# 1. At the mean of N(0, I_3): only the normalizer is left.
_v = mvn_log_pdf(np.zeros((1, 3)), np.zeros(3), np.eye(3))
assert_shape(_v, (1,), "mvn_log_pdf of one 3-D point", hint="one log-density per row of x", mistake="mvn.shape")
assert_close(_v, [-1.5 * np.log(2 * np.pi)], rtol=1e-12, name="log N(0; 0, I_3)",
             hint="in d dimensions the normalizer contributes -(d/2) log(2 pi): one -0.5 log(2 pi) per coordinate", mistake="mvn.log-2pi-times-d")
# 2. At the mean of a diagonal covariance: the log-determinant.
_mu = np.array([1.0, -2.0, 0.5])
_D = np.diag([4.0, 9.0, 0.25])  # det = 9
assert_close(mvn_log_pdf(_mu[None, :], _mu, _D), [-1.5 * np.log(2 * np.pi) - 0.5 * np.log(9.0)], rtol=1e-12,
             name="log-density at the mean of N(mu, diag(4, 9, 0.25))",
             hint="-0.5 log det(cov), and with cov = L L^T, log det(cov) = 2 sum(log diag(L)): the factor 2 "
                  "is easy to forget", mistake="mvn.log-det")
# 3. Away from the mean, diagonal covariance: the quadratic form.
_x = np.array([[3.0, 1.0, 0.0], [-1.0, -5.0, 1.5], [1.0, -2.0, 0.5]])
assert_close(mvn_log_pdf(_x, _mu, _D), multivariate_normal(_mu, _D).logpdf(_x), rtol=1e-10,
             name="mvn_log_pdf with a diagonal covariance",
             hint="the quadratic form is (x - mu)^T cov^{-1} (x - mu), with the inverse of the covariance: "
                  "with L y = x - mu it is sum(y**2)", mistake="mvn.quadratic-form")
# 4. A correlated covariance, compared with scipy.stats.multivariate_normal.
_r = np.random.default_rng(7)
_A = _r.normal(size=(4, 4))
_S, _m = _A @ _A.T + 0.3 * np.eye(4), _r.normal(size=4)
_X = _m + 2.0 * _r.normal(size=(20, 4))
assert_close(mvn_log_pdf(_X, _m, _S), multivariate_normal(_m, _S).logpdf(_X), rtol=1e-9,
             name="mvn_log_pdf with a correlated covariance",
             hint="np.linalg.cholesky(cov) returns the lower-triangular L with cov = L L^T: solve L y = x - mu "
                  "(solve_triangular(L, (x - mu).T, lower=True)), not L.T y = x - mu", mistake="mvn.cholesky")
# 5. Far from the mean the density underflows; the log-density is -0.5 * 3e8 - 0.5 log det(0.01 I) - 1.5 log(2 pi).
with no_float_errors("mvn_log_pdf far from the mean", hint="work in log space; never form the density itself.",
                     mistake="mvn.not-log-space"):
    _far = mvn_log_pdf(np.array([[1e3, -1e3, 1e3]]), np.zeros(3), 1e-2 * np.eye(3))
assert_close(_far, [-1.5e8 + 1.5 * np.log(100 / (2 * np.pi))], rtol=1e-12, name="mvn_log_pdf far from the mean",
             hint="work in log space", mistake="mvn.not-log-space")
print("mvn_log_pdf: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_mvn_log_pdf_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check other dimensions when your notebook is graded.
### BEGIN HIDDEN TESTS
import numpy as np
from scipy.stats import multivariate_normal, norm
from dgm_utils.checks import assert_close, assert_shape

_r = np.random.default_rng(14)
_A = _r.normal(size=(6, 6))
_S, _m = _A @ _A.T / 6 + 0.1 * np.eye(6), _r.normal(size=6)
_X = _m + 3.0 * _r.normal(size=(50, 6))
assert_shape(mvn_log_pdf(_X, _m, _S), (50,), "mvn_log_pdf in 6-D")
assert_close(mvn_log_pdf(_X, _m, _S), multivariate_normal(_m, _S).logpdf(_X), rtol=1e-9, name="mvn_log_pdf 6-D", mistake="mvn.cholesky")
_x1 = np.linspace(-3, 3, 7)[:, None]
assert_close(mvn_log_pdf(_x1, np.array([0.5]), np.array([[2.25]])), norm.logpdf(_x1[:, 0], 0.5, 1.5), rtol=1e-12,
             name="mvn_log_pdf in 1-D", mistake="mvn.formula")
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 5: sampling through the Cholesky factor (2 points)
# If $\varepsilon \sim \mathcal{N}(0, I_d)$ then $x = \mu + L\varepsilon$ has covariance
# $\mathbb{E}[L\varepsilon\varepsilon^\top L^\top] = L L^\top = \Sigma$. With samples as *rows*,
# $X = \mu + E L^\top$ for $E$ of shape $(n, d)$. This is the **reparameterization** a VAE uses:
# all the randomness sits in $\varepsilon$, the parameters enter through a deterministic map.
# Draw every random number from `rng` (a `numpy.random.Generator`), never from `np.random`.

# %% nbgrader={"grade": false, "grade_id": "sample_mvn", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sample_mvn(mu, cov, n, rng):
    """n independent samples of N(mu, cov), as x = mu + L eps with cov = L L^T and eps ~ N(0, I).

    Args:
        mu: float64 array (d,): the mean.
        cov: float64 array (d, d): symmetric positive-definite covariance.
        n: int >= 0: number of samples.
        rng: numpy.random.Generator: the only source of randomness.

    Returns:
        float64 array (n, d): one sample per row.
    """
    ### BEGIN SOLUTION
    mu, cov = np.asarray(mu, dtype=np.float64), np.asarray(cov, dtype=np.float64)
    L = np.linalg.cholesky(cov)
    eps = rng.standard_normal((n, mu.shape[0]))
    return mu + eps @ L.T
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_sample_mvn", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import numpy as np
from dgm_utils.checks import assert_close, assert_finite, assert_mean, assert_shape

_mu = np.array([1.0, -2.0, 0.5])
_S = np.array([[2.0, 0.8, -0.5], [0.8, 1.0, 0.1], [-0.5, 0.1, 0.6]])
_n = 20_000
_x = sample_mvn(_mu, _S, _n, np.random.default_rng(6))
assert_shape(_x, (_n, 3), "sample_mvn(mu, cov, 20000, rng)", hint="one sample per row: shape (n, d)", mistake="sample.shape")
assert_finite(_x, "samples")
assert_close(sample_mvn(_mu, _S, _n, np.random.default_rng(6)), _x, rtol=0.0, atol=0.0,
             name="a second draw with the same seed",
             hint="draw every random number from the rng argument (rng.standard_normal), not from np.random", mistake="sample.global-random")
# The mean and every covariance entry, with tolerances of 5 standard errors for 20000 samples.
assert_mean(_x, _mu, np.sqrt(np.diag(_S)), name="sample mean",
            hint="x = mu + eps @ L.T: did you forget to add mu?", mistake="sample.no-mean")
_dev = _x - _mu
_prod = _dev[:, :, None] * _dev[:, None, :]  # (n, 3, 3): unbiased for cov since the true mean is used
_sd_prod = np.sqrt(np.outer(np.diag(_S), np.diag(_S)) + _S**2)  # std of (x_i - mu_i)(x_j - mu_j) for a Gaussian
assert_mean(_prod, _S, _sd_prod, name="sample covariance",
            hint="x = mu + eps @ L.T with L = np.linalg.cholesky(cov), so that cov(x) = L L^T: using cov itself "
                 "instead of its factor, or L instead of L.T, gives the wrong covariance", mistake="sample.covariance")
print("sample_mvn: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_sample_mvn_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check the distribution of projections when your notebook is graded.
### BEGIN HIDDEN TESTS
import numpy as np
from scipy.stats import kstest, norm
from dgm_utils.checks import assert_mean, assert_shape, expect

_mu = np.array([0.0, 3.0])
_S = np.array([[1.0, -0.9], [-0.9, 4.0]])
_n = 20_000
_x = sample_mvn(_mu, _S, _n, np.random.default_rng(15))
assert_shape(_x, (_n, 2), "sample_mvn 2-D")
assert_mean(_x, _mu, np.sqrt(np.diag(_S)), name="sample mean (hidden)", mistake="sample.no-mean")
# A projection v.x ~ N(v.mu, v^T S v): Kolmogorov-Smirnov distance within the DKW bound (false alarm < 1e-6).
_v = np.array([1.0, 0.7])
_D = kstest(_x @ _v, norm(_v @ _mu, np.sqrt(_v @ _S @ _v)).cdf).statistic
_bound = np.sqrt(np.log(2 / 1e-6) / (2 * _n))
expect(_D <= _bound, f"the projection v.x of the samples is not N(v.mu, v^T cov v): KS distance {_D:.4f} > {_bound:.4f}", mistake="sample.covariance")
expect(sample_mvn(_mu, _S, 0, np.random.default_rng(0)).shape == (0, 2), "sample_mvn with n = 0 must return (0, d)", mistake="sample.shape")
### END HIDDEN TESTS

# %% [markdown]
# ### Figure: two-dimensional Gaussians and their samples
# Contours of `mvn_log_pdf` on a grid (each contour is an ellipse whose axes are the eigenvectors of
# $\Sigma$), with 400 samples of `sample_mvn`.

# %% tags=["demo"]
fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
examples = [(np.array([0.0, 0.0]), np.array([[1.0, 0.8], [0.8, 1.0]]), r"correlated, $\rho = 0.8$"),
            (np.array([1.0, -0.5]), np.array([[3.0, -0.6], [-0.6, 0.4]]), "anisotropic, negative correlation")]
g0, g1 = np.meshgrid(np.linspace(-5, 7, 200), np.linspace(-4, 4, 150))
grid = np.column_stack([g0.ravel(), g1.ravel()])
for ax, (mu2, cov2, title) in zip(axes, examples):
    dens2 = np.exp(mvn_log_pdf(grid, mu2, cov2)).reshape(g0.shape)
    ax.contourf(g0, g1, dens2, levels=np.linspace(0.02, 1.0, 11) * dens2.max(), cmap="Blues")
    samples = sample_mvn(mu2, cov2, 400, rng)
    ax.scatter(samples[:, 0], samples[:, 1], s=4, c="k", alpha=0.5, label="sample_mvn")
    ax.set(title=title, xlabel="$x_0$", ylabel="$x_1$", aspect="equal")
    ax.legend(loc="upper left")
plt.tight_layout()
plt.show()


# %% [markdown]
# ## 3. Conditionals of a Gaussian
#
# The chain rule needs the distribution of the next coordinate given the previous ones. Counting from 0
# as in the code, the observed coordinates are $o = \{0, \dots, k-1\}$ (`x_given = x[:k]`) and the next
# one is $k$. For a joint Gaussian, the conditional is again Gaussian, with
#
# $$\mathbb{E}[x_k \mid x_o] = \mu_k + \Sigma_{k o}\, \Sigma_{o o}^{-1} (x_o - \mu_o),
# \qquad \mathrm{Var}[x_k \mid x_o] = \Sigma_{kk} - \Sigma_{k o}\, \Sigma_{o o}^{-1} \Sigma_{o k}.$$
#
# The variance is the **Schur complement** of $\Sigma_{oo}$: observing correlated coordinates can only
# *reduce* the uncertainty, and the amount does not depend on the observed values. The mean is a
# linear function of the deviations $x_o - \mu_o$, and the noise around it is Gaussian with a
# constant variance: the conditional is a **linear-Gaussian regression** of $x_k$ on $x_o$. It
# plays the role that logistic regression played in notebook 01 (a prediction model of one
# variable given others) but it is a different model: a real-valued target, Gaussian noise instead
# of a Bernoulli, no sigmoid. With nothing observed ($k = 0$) the conditional is the marginal
# $\mathcal{N}(\mu_0, \Sigma_{00})$.
#
# Geometrically, the conditional is a **slice** of the joint density at the observed values,
# renormalized: $p(x_k \mid x_o) = p(x_o, x_k) / p(x_o)$. The test checks your formula against such a
# slice of `scipy.stats.multivariate_normal`.
#
# ### Exercise 6: the conditional of a joint Gaussian (3 points)
# Use `np.linalg.solve` rather than an explicit inverse. Make `k = 0` (an empty `x_given`) work. As an
# optional extension, accept `x_given` of shape `(n, k)` and return a mean of shape `(n,)`: the chain
# rule below then needs no loop over examples.

# %% nbgrader={"grade": false, "grade_id": "gaussian_conditional", "locked": false, "schema_version": 3, "solution": true, "task": false}
def gaussian_conditional(mu, cov, x_given):
    """Mean and variance of x_k given x_0..x_{k-1} = x_given under N(mu, cov), with k = len(x_given).

    Args:
        mu: float64 array (d,): the joint mean.
        cov: float64 array (d, d): the joint covariance (symmetric positive-definite).
        x_given: float64 array (k,) with 0 <= k < d: observed values of the first k coordinates.
            The tests pass (k,); accepting (n, k) too (one row of observations per example) lets
            chain_rule_log_pdf below call it once for all examples, without a loop over them.

    Returns:
        (mean, var): the conditional mean (float, or (n,) for (n, k) x_given) and the conditional
        variance (float; it does not depend on the observed values).
    """
    ### BEGIN SOLUTION
    mu, cov = np.asarray(mu, dtype=np.float64), np.asarray(cov, dtype=np.float64)
    x_given = np.asarray(x_given, dtype=np.float64)
    k = x_given.shape[-1]
    s = cov[:k, k]  # (k,): covariances of x_k with the observed coordinates
    w = np.linalg.solve(cov[:k, :k], s)  # (k,): Sigma_oo^{-1} Sigma_ok (regression weights)
    mean = mu[k] + (x_given - mu[:k]) @ w
    var = cov[k, k] - s @ w  # the Schur complement
    return mean, float(var)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_gaussian_conditional", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import numpy as np
from scipy.stats import multivariate_normal
from dgm_utils.checks import assert_close

_r = np.random.default_rng(8)
_A = _r.normal(size=(4, 4))
_S, _m = _A @ _A.T + 0.5 * np.eye(4), _r.normal(size=4)
# k = 0: nothing observed, the conditional of x_0 is its marginal.
_m0, _v0 = gaussian_conditional(_m, _S, np.zeros(0))
assert_close([np.squeeze(_m0), np.squeeze(_v0)], [_m[0], _S[0, 0]], rtol=1e-12, name="(mean, var) with nothing observed (k = 0)",
             hint="with an empty x_given the conditional of x_0 is its marginal N(mu[0], cov[0, 0])", mistake="conditional.nothing-observed")
# k = 2: read the conditional of x_2 off a slice of the joint, p(x_0, x_1, x_2) / p(x_0, x_1).
_xg = _m[:2] + np.array([1.3, -0.7])
_t = _m[2] + np.linspace(-3.0, 3.0, 7)
_log_slice = (multivariate_normal(_m[:3], _S[:3, :3]).logpdf(np.column_stack([np.tile(_xg, (7, 1)), _t]))
              - multivariate_normal(_m[:2], _S[:2, :2]).logpdf(_xg))
_c2, _c1, _ = np.polyfit(_t, _log_slice, 2)  # log N(t; m, v) = -t^2 / (2 v) + t m / v + const
_v_ref = -1.0 / (2.0 * _c2)
_m_ref = _c1 * _v_ref
_mean, _var = gaussian_conditional(_m, _S, _xg)
assert_close(np.squeeze(_var), _v_ref, rtol=1e-7, name="conditional variance of x_2 given x_0, x_1",
             hint="the Schur complement: var = cov[k, k] - cov[k, :k] cov[:k, :k]^{-1} cov[:k, k]; observing "
                  "correlated coordinates can only reduce the variance (a minus sign, never above cov[k, k])", mistake="conditional.variance")
assert_close(np.squeeze(_mean), _m_ref, rtol=1e-7, atol=1e-9, name="conditional mean of x_2 given x_0, x_1",
             hint="mean = mu[k] + cov[k, :k] cov[:k, :k]^{-1} (x_given - mu[:k]): the observed values enter as "
                  "deviations from their means, weighted by the solve with the observed block cov[:k, :k]", mistake="conditional.mean")
print("gaussian_conditional: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_gaussian_conditional_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check other dimensions and numbers of observed coordinates when your notebook is graded.
### BEGIN HIDDEN TESTS
import numpy as np
from dgm_utils.checks import assert_close

_r = np.random.default_rng(16)
_A = _r.normal(size=(5, 5))
_S, _m = _A @ _A.T + 0.2 * np.eye(5), _r.normal(size=5)
for _k in (1, 3, 4):
    _xg = _m[:_k] + _r.normal(size=_k)
    _P = np.linalg.inv(_S[:_k + 1, :_k + 1])  # precision of the first k+1 coordinates
    _v_ref = 1.0 / _P[_k, _k]
    _m_ref = _m[_k] - _v_ref * _P[_k, :_k] @ (_xg - _m[:_k])
    _mean, _var = gaussian_conditional(_m, _S, _xg)
    assert_close(np.squeeze(_var), _v_ref, rtol=1e-8, name=f"conditional variance, k = {_k}", mistake="conditional.variance")
    assert_close(np.squeeze(_mean), _m_ref, rtol=1e-8, atol=1e-10, name=f"conditional mean, k = {_k}", mistake="conditional.mean")
### END HIDDEN TESTS

# %% [markdown]
# ### Figure: the conditional is a slice
# Left: a correlated 2-D Gaussian and the line $x_0 = 1.5$. Right: the joint density along that line,
# renormalized numerically (a slice), lies exactly on $\mathcal{N}(x_1; m, v)$ from your
# `gaussian_conditional`; the marginal $p(x_1)$ is wider and centred elsewhere.

# %% tags=["demo"]
mu2, cov2 = np.array([0.0, 0.5]), np.array([[1.0, 0.8], [0.8, 1.5]])
x1_obs = 1.5
g0, g1 = np.meshgrid(np.linspace(-3.5, 3.5, 150), np.linspace(-3.5, 4.5, 150))
dens = np.exp(mvn_log_pdf(np.column_stack([g0.ravel(), g1.ravel()]), mu2, cov2)).reshape(g0.shape)
t = np.linspace(-3.5, 4.5, 400)
slice_logp = mvn_log_pdf(np.column_stack([np.full_like(t, x1_obs), t]), mu2, cov2)
slice_p = np.exp(slice_logp)
slice_p /= np.sum(slice_p) * (t[1] - t[0])  # renormalize the slice numerically
m_c, v_c = gaussian_conditional(mu2, cov2, np.array([x1_obs]))

fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
axes[0].contourf(g0, g1, dens, levels=np.linspace(0.02, 1.0, 11) * dens.max(), cmap="Blues")
axes[0].axvline(x1_obs, color="C3", lw=2, label=f"slice $x_0 = {x1_obs}$")
axes[0].set(title="joint density $p(x_0, x_1)$", xlabel="$x_0$", ylabel="$x_1$", aspect="equal")
axes[0].legend(loc="upper left")
axes[1].plot(t, slice_p, color="C3", lw=4, alpha=0.5, label="slice of the joint, renormalized")
axes[1].plot(t, gaussian_pdf(t, m_c, np.sqrt(v_c)), "k--",
             label=f"gaussian_conditional: N({float(np.squeeze(m_c)):.2f}, {v_c:.2f})")
axes[1].plot(t, gaussian_pdf(t, mu2[1], np.sqrt(cov2[1, 1])), color="gray", label="marginal $p(x_1)$")
axes[1].set(title=f"$p(x_1 \\mid x_0 = {x1_obs})$", xlabel="$x_1$", ylabel="density")
axes[1].legend()
plt.tight_layout()
plt.show()


# %% [markdown]
# ## 4. The chain rule for densities
#
# Exactly as for binary vectors in notebook 03,
#
# $$\log p(x_0, x_1, x_2) = \log p(x_0) + \log p(x_1 \mid x_0) + \log p(x_2 \mid x_0, x_1),$$
#
# and in general $\log p(x) = \sum_{i} \log p(x_i \mid x_{<i})$. For a Gaussian every term is a
# 1-D Gaussian log-density with the mean and variance of Exercise 6. An autoregressive model of
# real-valued data does the same with a neural network that outputs $(m_i, v_i)$ from $x_{<i}$.
#
# ### Exercise 7: the joint as a sum of conditionals (2 points)
# Loop over the $d$ coordinates (the positions of the chain, that loop is fine), not over examples.
# Note that `gaussian_conditional` returns a *variance* while `gaussian_log_pdf` takes a *standard
# deviation*. The result must equal `mvn_log_pdf`. (The sum of the *marginal* log-densities,
# $\sum_i \log p(x_i)$, would be the joint only if the coordinates were independent.)

# %% nbgrader={"grade": false, "grade_id": "chain_rule_log_pdf", "locked": false, "schema_version": 3, "solution": true, "task": false}
def chain_rule_log_pdf(x, mu, cov):
    """log N(x_i; mu, cov) for every row, as the sum over coordinates j of log p(x_j | x_<j).

    Args:
        x: float64 array (n, d): one point per row.
        mu: float64 array (d,): the mean.
        cov: float64 array (d, d): symmetric positive-definite covariance.

    Returns:
        float64 array (n,): sum_j log N(x_j; mean_j(x_<j), var_j), equal to mvn_log_pdf(x, mu, cov).
    """
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    total = np.zeros(x.shape[0])
    for j in range(x.shape[1]):  # a loop over the positions of the chain, not over examples
        mean, var = gaussian_conditional(mu, cov, x[:, :j])
        total += gaussian_log_pdf(x[:, j], mean, np.sqrt(var))
    return total
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_chain_rule_log_pdf", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import numpy as np
from scipy.stats import multivariate_normal, norm
from dgm_utils.checks import assert_close, assert_shape, expect

_r = np.random.default_rng(9)
_S = np.array([[1.5, 0.9, -0.3], [0.9, 1.2, 0.4], [-0.3, 0.4, 0.8]])
_m = np.array([0.3, -1.0, 2.0])
_x = _m + 1.5 * _r.normal(size=(25, 3))
_got = chain_rule_log_pdf(_x, _m, _S)
assert_shape(_got, (25,), "chain_rule_log_pdf(x) for x of shape (25, 3)", hint="one log-density per row", mistake="chain.shape")
_marginals = norm.logpdf(_x, _m, np.sqrt(np.diag(_S))).sum(axis=1)
expect(not np.allclose(_got, _marginals, rtol=1e-8), "chain_rule_log_pdf returned log p(x_0) + log p(x_1) + log p(x_2), "
       "the product of marginals: that is the joint only for independent coordinates",
       hint="condition each coordinate on the previous ones: log p(x_j | x_<j) with (mean, var) = "
            "gaussian_conditional(mu, cov, x_<j)", mistake="chain.product-of-marginals")
assert_close(_got, multivariate_normal(_m, _S).logpdf(_x), rtol=1e-9, name="chain_rule_log_pdf(x)",
             hint="sum over j of log N(x_j; mean_j, var_j) with (mean_j, var_j) from gaussian_conditional on x_<j; "
                  "gaussian_log_pdf takes the standard deviation sqrt(var_j), not the variance", mistake="chain.formula")
print("chain_rule_log_pdf: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_chain_rule_log_pdf_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check other dimensions and far-away points when your notebook is graded.
### BEGIN HIDDEN TESTS
import numpy as np
from scipy.stats import multivariate_normal, norm
from dgm_utils.checks import assert_close, no_float_errors

_r = np.random.default_rng(17)
_A = _r.normal(size=(5, 5))
_S, _m = _A @ _A.T + 0.2 * np.eye(5), _r.normal(size=5)
_x = _m + 2.0 * _r.normal(size=(30, 5))
assert_close(chain_rule_log_pdf(_x, _m, _S), multivariate_normal(_m, _S).logpdf(_x), rtol=1e-8,
             name="chain_rule_log_pdf 5-D", mistake="chain.formula")
_xf = np.array([[300.0, -200.0, 100.0, 0.0, 50.0]])
with no_float_errors("chain_rule_log_pdf far away", mistake="chain.formula"):
    assert_close(chain_rule_log_pdf(_xf, _m, _S), np.atleast_1d(multivariate_normal(_m, _S).logpdf(_xf)), rtol=1e-8,
                 name="chain_rule_log_pdf far away", mistake="chain.formula")
assert_close(chain_rule_log_pdf(np.array([[0.5], [2.0]]), np.array([1.0]), np.array([[4.0]])),
             norm.logpdf([0.5, 2.0], 1.0, 2.0), rtol=1e-12, name="chain_rule_log_pdf 1-D", mistake="chain.formula")
### END HIDDEN TESTS

# %% [markdown]
# ### Figure: the chain rule rebuilds the joint
# For 300 samples of a correlated 3-D Gaussian, the chain rule (sum of conditionals) and
# `mvn_log_pdf` agree to machine precision, while the sum of marginals does not: it ignores the
# correlations.

# %% tags=["demo"]
mu3 = np.array([0.0, 1.0, -1.0])
cov3 = np.array([[1.0, 0.9, 0.5], [0.9, 1.5, 0.7], [0.5, 0.7, 1.0]])
x3 = sample_mvn(mu3, cov3, 300, rng)
joint = mvn_log_pdf(x3, mu3, cov3)
chain = chain_rule_log_pdf(x3, mu3, cov3)
marg = gaussian_log_pdf(x3, mu3, np.sqrt(np.diag(cov3))).sum(axis=1)
print(f"max |chain rule - joint|        = {np.max(np.abs(chain - joint)):.2e}")
print(f"max |sum of marginals - joint|  = {np.max(np.abs(marg - joint)):.2f}")
print(f"mean log-likelihood: joint {joint.mean():.4f}, product of marginals {marg.mean():.4f} nats")

fig, ax = plt.subplots(figsize=(5, 4.5))
ax.scatter(joint, chain, s=10, label="chain rule: $\\sum_j \\log p(x_j \\mid x_{<j})$")
ax.scatter(joint, marg, s=10, marker="x", label="product of marginals: $\\sum_j \\log p(x_j)$")
lims = [joint.min() - 1, joint.max() + 1]
ax.plot(lims, lims, "k--", lw=1)
ax.set(xlabel="mvn_log_pdf (the joint)", ylabel="rebuilt log-density", title="Chain rule for a 3-D Gaussian")
ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 5. A Gaussian is a linear autoregressive model: a continuous FVSBN
#
# Every conditional of Exercise 6 is a linear regression on the previous coordinates with Gaussian noise:
#
# $$x_i = \mu_i + \sum_{j < i} B_{ij}\, (x_j - \mu_j) + \sqrt{v_i}\, \varepsilon_i, \qquad \varepsilon_i \sim \mathcal{N}(0, 1),$$
#
# with regression weights $B_{ij}$ ($B$ strictly lower-triangular) and conditional variances $v_i$. This is the
# continuous twin of the FVSBN of notebook 03, where pixel $i$ was a *logistic* regression on the previous
# pixels. Sampling it one coordinate at a time is ancestral sampling, as in 03.
#
# Where are $B$ and $v$ hidden in $(\mu, \Sigma)$? Stack the $d$ equations: $(I - B)(x - \mu) = \mathrm{diag}(\sqrt{v})\,\varepsilon$,
# so $x = \mu + (I - B)^{-1} \mathrm{diag}(\sqrt{v})\, \varepsilon$. Compare with $x = \mu + L\varepsilon$ of Exercise 5: a
# lower-triangular matrix with positive diagonal whose product with its transpose is $\Sigma$ is unique, so
# $L = (I - B)^{-1}\mathrm{diag}(\sqrt{v})$. Reading it backwards, with $U = L\, \mathrm{diag}(1 / L_{ii})$ (unit diagonal):
#
# $$v_i = L_{ii}^2, \qquad B = I - U^{-1}.$$
#
# (Equivalently, from the precision matrix $\Sigma^{-1} = (I - B)^\top \mathrm{diag}(1/v)\, (I - B)$.) **Counting
# parameters:** $d$ intercepts $\mu_i$, $d(d-1)/2$ weights and $d$ variances, $d + d(d+1)/2$ in all: exactly as many
# as $(\mu, \Sigma)$, since they are the same model written two ways.
#
# The demonstration below reads $B$ and $v$ off the Cholesky factor of a 4-D covariance and checks them against
# an independent source, your `gaussian_conditional`: its mean is linear in the observed values, so moving one
# observed coordinate by $1$ moves the mean by that coordinate's weight. Then it samples by the recursion above and
# compares the sample covariance with $\Sigma$.

# %% tags=["demo"]
d = 4
rng_ar = np.random.default_rng(4)
A4 = rng_ar.normal(size=(d, d))
mu4, cov4 = np.array([0.5, -1.0, 0.0, 2.0]), A4 @ A4.T + 0.5 * np.eye(d)
L4 = np.linalg.cholesky(cov4)
U4 = L4 / np.diag(L4)  # unit lower-triangular: L = U diag(L_ii)
B_chol = np.eye(d) - np.linalg.inv(U4)  # strictly lower-triangular regression weights
v_chol = np.diag(L4) ** 2  # conditional variances

# Independent check: the weights and variances of gaussian_conditional (finite differences of a linear map).
B_reg, v_reg = np.zeros((d, d)), np.zeros(d)
for i in range(d):
    m_base, v_reg[i] = gaussian_conditional(mu4, cov4, mu4[:i])
    for j in range(i):
        m_moved, _ = gaussian_conditional(mu4, cov4, mu4[:i] + np.eye(d)[j, :i])
        B_reg[i, j] = float(np.squeeze(m_moved)) - float(np.squeeze(m_base))
print("regression weights B read off the Cholesky factor:")
print(np.round(B_chol, 3))
print(f"max |B (Cholesky) - B (gaussian_conditional)| = {np.max(np.abs(B_chol - B_reg)):.1e}")
print(f"max |v (Cholesky) - v (gaussian_conditional)| = {np.max(np.abs(v_chol - v_reg)):.1e}")
print(f"parameters: {d} intercepts + {d * (d - 1) // 2} weights + {d} variances = {d + d * (d + 1) // 2} "
      f"= d + d(d+1)/2, as many as mu ({d}) and the distinct entries of cov ({d * (d + 1) // 2})")

# Ancestral sampling of the autoregressive model, one coordinate at a time.
n_ar = 20_000
eps = rng_ar.standard_normal((n_ar, d))
x_ar = np.zeros((n_ar, d))
for i in range(d):
    x_ar[:, i] = mu4[i] + (x_ar[:, :i] - mu4[:i]) @ B_chol[i, :i] + np.sqrt(v_chol[i]) * eps[:, i]
cov_ar = np.cov(x_ar, rowvar=False)
print(f"largest |sample covariance - cov| over 20000 autoregressive samples: {np.max(np.abs(cov_ar - cov4)):.3f} "
      f"(entries of cov up to {np.max(np.abs(cov4)):.1f})")

fig, axes = plt.subplots(1, 3, figsize=(14, 4))
ims = axes[0].imshow(np.where(np.tril(np.ones((d, d)), -1) > 0, B_chol, np.nan), cmap="coolwarm", vmin=-1.5, vmax=1.5)
for i in range(d):
    for j in range(i):
        axes[0].text(j, i, f"{B_chol[i, j]:.2f}", ha="center", va="center", fontsize=9)
axes[0].set(title="weights $B_{ij}$ of $x_i$ on $x_j$ (from $L$)", xlabel="$j$ (previous coordinate)", ylabel="$i$",
            xticks=range(d), yticks=range(d))
fig.colorbar(ims, ax=axes[0], shrink=0.8)
axes[1].scatter(cov4.ravel(), cov_ar.ravel(), s=20)
lims = [cov4.min() - 0.5, cov4.max() + 0.5]
axes[1].plot(lims, lims, "k--", lw=1)
axes[1].set(title="autoregressive samples have covariance $\\Sigma$", xlabel="entry of $\\Sigma$",
            ylabel="sample covariance (20000 samples)")
dims = np.arange(1, 65)
axes[2].plot(dims, dims + dims * (dims + 1) / 2, label="Gaussian = linear AR model: $d + d(d+1)/2$")
axes[2].plot(dims, dims * (dims + 1) / 2, "--", label="binary FVSBN (03): $d(d+1)/2$")
axes[2].plot(dims, 2 * dims, ":", label="independent coordinates: $2d$")
axes[2].set(title="number of parameters", xlabel="dimension $d$", yscale="log")
axes[2].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Self-check (1 point each)
# Work these out on paper (a calculator is fine), then write your answers in the cell below, in place of
# its `raise` line (for instance `q1 = 0.5`).
#
# **Q1.** $(x_0, x_1)$ is Gaussian with mean $(0, 0)$, variances $1$ and $1$ and covariance $0.8$. You observe
# $x_0 = 3$. What is the variance of $x_1$ given $x_0 = 3$? (a number, 3 decimals)
#
# **Q2.** A linear-Gaussian autoregressive model of $d = 10$ real coordinates in which each $x_i$ depends only on
# (at most) the two coordinates just before it, $x_{i-1}$ and $x_{i-2}$: every conditional has an intercept, one
# weight per coordinate it depends on, and a variance. How many parameters does it have?
# (a) 40 (b) 65 (c) 37 (d) 27
#
# **Q3.** Which statement is **false**? For a real-valued $x$ with density $p$:
# (a) $P(x = 0.5) = p(0.5)$.
# (b) $p(x)$ can be larger than 1.
# (c) The negative log-likelihood of real-valued data can be negative.
# (d) The log-density of $\mathcal{N}(0, 10^{-6})$ (variance $10^{-6}$) at its mean is positive.

# %% nbgrader={"grade": false, "grade_id": "selfcheck_answers", "locked": false, "schema_version": 3, "solution": true, "task": false}
"""Your answers to the self-check questions above: set q1, q2, q3 in place of the raise line below."""
q1 = None  # a number, e.g. 0.5
q2 = None  # a letter: "a", "b", "c" or "d"
q3 = None  # a letter: "a", "b", "c" or "d"
### BEGIN SOLUTION
q1 = 0.36
q2 = "c"
q3 = "a"
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_selfcheck_q1", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from dgm_utils.checks import check_answer

check_answer("04.q1", q1, "48394eb2606ce85d", decimals=3,
             hint="the conditional variance of a Gaussian (section 3): does it depend on the observed value?",
             mistake="selfcheck.q1")
print("Q1: correct")

# %% nbgrader={"grade": true, "grade_id": "test_selfcheck_q2", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from dgm_utils.checks import check_answer

check_answer("04.q2", q2, "5a74497ac4a848ed", choices="abcd",
             hint="count conditional by conditional: x_0 has no coordinate before it, x_1 only one", mistake="selfcheck.q2")
print("Q2: correct")

# %% nbgrader={"grade": true, "grade_id": "test_selfcheck_q3", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from dgm_utils.checks import check_answer

check_answer("04.q3", q3, "eba20017e27fcd8f", choices="abcd",
             hint="re-read section 1: what a density is, and what it is not", mistake="selfcheck.q3")
print("Q3: correct")

# %% [markdown]
# The chain rule, conditionals and Bayes nets carry over from tables to densities; the conditionals
# are now parametric functions. Next, a two-node Bayes net $z \to x$ with a discrete $z$ and Gaussian
# $p(x \mid z)$: a mixture of Gaussians, our first latent-variable model.
#
# ### Written answer (manually graded, 2 points)
# In notebook 03 each conditional of a binary variable was a table. Why can a table not represent a
# density over the real line? Say what a table would need, what goes wrong if you bin the line
# instead (cite the right panel of the first figure), and what replaces the table in this notebook.
# Answer in 3 to 5 sentences.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_tables", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# ### BEGIN SOLUTION
# A table stores one probability per value, so it needs a finite (at most countable) list of values whose
# entries sum to 1; the real line has uncountably many values, and under a continuous distribution
# each single value has probability 0, so every entry would be 0 and the table would say nothing.
# What carries the information is a density, whose *integrals* over intervals are probabilities.
# Binning the line turns it back into a table, but only approximately: the density is flattened
# inside each bin (the right panel), finer resolution needs ever more entries (and exponentially more
# in d dimensions), and a finite table can only cover a bounded range, never the unbounded tails.
# This notebook replaces tables with parametric functions: a Gaussian is described on the whole line
# by two numbers (mu, sigma), and each conditional p(x_k | x_<k) by a mean linear in the observed
# values and a variance that does not depend on them.
# ### END SOLUTION
