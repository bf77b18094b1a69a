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
# # 05 · Gaussian mixtures: the two-node Bayes net $z \to x$
#
# **Where we are in the story.** Notebook 03 wrote a joint distribution as a product of
# conditionals, each one a prediction model; notebook 04 did the same for real-valued data, with
# Gaussian conditionals. All the variables there were *observed*. Now we add a variable that we never
# observe: a **latent** $z$. The smallest Bayes net with a latent variable has two nodes,
#
# $$z \to x: \qquad z \sim \mathrm{Bernoulli}(p), \qquad x \mid z \sim \mathcal{N}(\mu_z, \sigma_z^2),$$
#
# and its marginal $p(x) = \sum_z p(z)\, p(x \mid z)$ is a **mixture of two Gaussians**: a density
# that can be bimodal (when the means are far apart relative to the standard deviations), which no
# single Gaussian can represent, built from two Gaussians and a coin. With $K$
# components, $z \sim \mathrm{Categorical}(w_1, \dots, w_K)$. This is the first latent-variable
# model of the course and the blueprint of the VAE (notebook 06), where $z$ becomes continuous,
# $z \sim \mathcal{N}(0, I)$, and the mean and scale of $p(x \mid z)$ are outputs of neural networks.
#
# ## What you will build
# In NumPy (float64 arrays): `sample_mixture` (ancestral sampling), `mixture_log_pdf` (the marginal
# by log-sum-exp, finite far from every mean), `posterior` ($p(z \mid x)$ by Bayes' rule),
# `fit_em` (expectation-maximization, compared with scikit-learn's `GaussianMixture`), and for a
# *continuous* latent $z \sim \mathrm{Uniform}(a, b)$: `uniform_latent_log_pdf` (closed form) and
# `monte_carlo_log_pdf` (a generic Monte Carlo estimator of $\log p(x)$, the estimator the VAE
# notebook uses).
#
# **How to work.** Replace each `raise NotImplementedError(...)` with your code, then run
# the test cell below it. A failing test says what is wrong and usually why. Some tests are
# hidden and run only when your notebook is graded: they check the same contract on other
# inputs, so passing the visible tests *honestly* is the best preparation.

# %%
import time

import numpy as np
import matplotlib.pyplot as plt
from scipy.special import log_ndtr, logsumexp
from sklearn.mixture import GaussianMixture

from dgm_utils.plotting import interactive, plot_loss_curve

rng = np.random.default_rng(0)
# %matplotlib inline

# %% [markdown]
# You wrote the Gaussian log-density in notebook 04; here it is given, from SciPy (also computed
# in log space, and broadcasting over its arguments):

# %%
from scipy.stats import norm


def gaussian_log_pdf(x, mu, sigma):
    """log N(x; mu, sigma^2) elementwise, in log space; sigma is the standard deviation.

    x, mu, sigma: floats or float64 arrays of broadcastable shapes. Returns the broadcast shape.
    """
    return norm.logpdf(x, loc=mu, scale=sigma)


# %% [markdown]
# ### The network, and how many numbers describe it
# Two nodes and one arrow: the latent $z$ (white: never observed) is the parent of the observed $x$
# (gray). Each node carries a conditional distribution given its parents: $p(z)$ has no parent, $p(x \mid z)$
# is one Gaussian per value of $z$.

# %% tags=["demo"]
fig, ax = plt.subplots(figsize=(6.5, 2.2))
for cx, label, face in [(0.0, "$z$", "white"), (3.0, "$x$", "lightgray")]:
    ax.add_patch(plt.Circle((cx, 0.0), 0.45, facecolor=face, edgecolor="k", lw=1.5))
    ax.text(cx, 0.0, label, ha="center", va="center", fontsize=18)
ax.annotate("", xy=(2.52, 0.0), xytext=(0.48, 0.0), arrowprops=dict(arrowstyle="-|>", lw=1.5, color="k"))
ax.text(0.0, -0.7, "$p(z) = \\mathrm{Categorical}(w_1, \\dots, w_K)$\nlatent: never observed", ha="center", va="top")
ax.text(3.0, -0.7, "$p(x \\mid z = k) = \\mathcal{N}(\\mu_k, \\sigma_k^2)$\nobserved", ha="center", va="top")
ax.set(xlim=(-1.8, 4.8), ylim=(-1.7, 0.6), aspect="equal", title="the Bayes net $z \\to x$")
ax.axis("off")
plt.show()

# %% [markdown]
# **Counting parameters.** $p(z)$ needs $K - 1$ numbers (the weights sum to 1, so the last one is
# determined), and $p(x \mid z)$ a mean and a standard deviation per component: $2K$. In all,
# $3K - 1$ free parameters for $K$ components in one dimension. Below, the count is checked against
# scikit-learn's: its Bayesian information criterion is $\mathrm{BIC} = -2 \log p(\text{data}) + (\text{number
# of free parameters}) \log n$, from which we read its count off.

# %% tags=["demo"]
x_count = np.concatenate([rng.normal(-2.0, 1.0, 250), rng.normal(2.0, 0.5, 250)])[:, None]
for K in range(1, 5):
    gm_K = GaussianMixture(n_components=K, random_state=0).fit(x_count)
    sklearn_count = (gm_K.bic(x_count) + 2 * gm_K.score(x_count) * len(x_count)) / np.log(len(x_count))
    print(f"K = {K}: 3K - 1 = {3 * K - 1:2d}, scikit-learn's count: {sklearn_count:.3f}")

# %% [markdown]
# ## 1. Ancestral sampling
#
# A Bayes net is sampled **parents first**: draw each variable from its conditional given the values
# already drawn for its parents. With two components and $w = (1 - p, p)$, $z$ is a
# $\mathrm{Bernoulli}(p)$ coin. Keeping the $z_i$ tells us which component produced each $x_i$; a real
# data set would only show us the $x_i$.
#
# ### Exercise 1: sample a mixture (2 points)
# **Derive first** (on paper): to draw one $x$ from this network, what do you draw first, from which
# distribution, and how does the second draw use the first? Why does keeping only $x$ give a sample of
# the marginal $p(x) = \sum_k w_k\, \mathcal{N}(x; \mu_k, \sigma_k^2)$ (think of $p(x, z) = p(z)\, p(x \mid z)$)?
# Then vectorize: all $n$ samples at once, no loop over samples. Draw every random number from `rng`.

# %% [markdown]
# <details><summary>Hint (open only if stuck)</summary>
#
# $z_i \sim \mathrm{Categorical}(w)$, then $x_i \mid z_i \sim \mathcal{N}(\mu_{z_i}, \sigma_{z_i}^2)$. In NumPy: all
# $n$ labels at once with `z = rng.choice(K, size=n, p=weights)`, then all $x$ at once with
# `rng.normal(means[z], stds[z])` (fancy indexing picks each sample's component; `scale` is a
# standard deviation, not a variance).
#
# </details>

# %% nbgrader={"grade": false, "grade_id": "sample_mixture", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sample_mixture(n, weights, means, stds, rng):
    """Ancestral sampling from the Gaussian mixture sum_k weights[k] N(means[k], stds[k]^2).

    Args:
        n: int >= 0: number of samples.
        weights: float64 array (K,): mixture weights p(z = k), non-negative, summing to 1.
        means: float64 array (K,): component means.
        stds: float64 array (K,), > 0: component standard deviations.
        rng: numpy.random.Generator: the only source of randomness.

    Returns:
        (x, z): float64 array (n,) of samples, int array (n,) of their components in 0..K-1.
    """
    ### BEGIN SOLUTION
    weights = np.asarray(weights, dtype=np.float64)
    means, stds = np.asarray(means, dtype=np.float64), np.asarray(stds, dtype=np.float64)
    z = rng.choice(len(weights), size=n, p=weights)
    x = rng.normal(means[z], stds[z])
    return x, z
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_sample_mixture", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import numpy as np
from dgm_utils.checks import assert_close, assert_frequencies, assert_mean, assert_shape, expect

_w, _m, _s = np.array([0.2, 0.5, 0.3]), np.array([-3.0, 0.0, 4.0]), np.array([0.5, 1.0, 2.0])
_n = 30_000
_x, _z = sample_mixture(_n, _w, _m, _s, np.random.default_rng(21))
assert_shape(_x, (_n,), "x from sample_mixture(30000, ...)", hint="one sample per row: shape (n,)", mistake="sample.shape")
assert_shape(_z, (_n,), "z from sample_mixture(30000, ...)", hint="one component index per sample: shape (n,)", mistake="sample.shape")
expect(np.issubdtype(np.asarray(_z).dtype, np.integer), f"z must hold integer component indices, got dtype {np.asarray(_z).dtype}", mistake="sample.z-not-integer")
expect(np.all((_z >= 0) & (_z < 3)), "z must hold component indices in 0..K-1", mistake="sample.z-range")
# z ~ Categorical(weights): counts within 5 binomial standard deviations.
assert_frequencies(np.bincount(_z, minlength=3), _w, name="frequencies of z",
                   hint="z ~ Categorical(weights): draw it with the weights as probabilities, not uniformly",
                   mistake="sample.z-ignores-weights")
# x | z = k ~ N(means[k], stds[k]^2): mean and mean squared deviation, 5 standard errors.
for _k in range(3):
    _xk = _x[_z == _k]
    assert_mean(_xk, _m[_k], _s[_k], name=f"mean of x given z = {_k}",
                hint="ancestral sampling: each x_i must come from the component of the same z_i that you return",
                mistake="sample.x-not-from-z")
    assert_mean((_xk - _m[_k]) ** 2, _s[_k] ** 2, np.sqrt(2) * _s[_k] ** 2,
                name=f"mean squared deviation of x given z = {_k}",
                hint="stds are standard deviations: rng.normal(loc, scale) takes the standard deviation as "
                     "scale, not the variance", mistake="sample.variance-as-std")
_x2, _ = sample_mixture(_n, _w, _m, _s, np.random.default_rng(21))
assert_close(_x2, _x, rtol=0.0, atol=0.0, name="x from a second call with the same seed",
             hint="draw every random number from the rng argument, not from np.random", mistake="sample.global-random")
# Two components: z ~ Bernoulli(p) with p = weights[1].
_, _zb = sample_mixture(10_000, np.array([0.7, 0.3]), np.array([-1.0, 1.0]), np.array([0.5, 0.5]),
                        np.random.default_rng(22))
assert_frequencies(np.bincount(_zb, minlength=2), np.array([0.7, 0.3]), name="z with weights (0.7, 0.3)",
                   hint="with two components z ~ Bernoulli(weights[1]): P(z = 1) = 0.3 here", mistake="sample.z-ignores-weights")
print("sample_mixture: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_sample_mixture_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check the distribution of x when your notebook is graded.
### BEGIN HIDDEN TESTS
import numpy as np
from scipy.stats import kstest, norm
from dgm_utils.checks import assert_frequencies, expect

_w, _m, _s = np.array([0.6, 0.1, 0.3]), np.array([1.0, -6.0, 3.0]), np.array([0.3, 2.0, 1.0])
_n = 20_000
_x, _z = sample_mixture(_n, _w, _m, _s, np.random.default_rng(31))
assert_frequencies(np.bincount(_z, minlength=3), _w, name="frequencies of z (hidden)", mistake="sample.z-ignores-weights")
# Kolmogorov-Smirnov distance of x to the mixture CDF within the DKW bound (false alarm < 1e-6).
_D = kstest(_x, lambda t: np.sum(_w * norm.cdf(np.asarray(t)[..., None], _m, _s), axis=-1)).statistic
_bound = np.sqrt(np.log(2 / 1e-6) / (2 * _n))
expect(_D <= _bound, f"x is not distributed as the mixture: KS distance {_D:.4f} > {_bound:.4f}", mistake="sample.x-wrong-distribution")
_x1, _z1 = sample_mixture(500, np.array([1.0]), np.array([2.0]), np.array([0.5]), np.random.default_rng(32))
expect(np.all(_z1 == 0) and np.shape(_x1) == (500,), "a single component must give z = 0 everywhere", mistake="sample.z-range")
### END HIDDEN TESTS

# %% [markdown]
# ## 2. The marginal density, by log-sum-exp
#
# Summing the joint $p(x, z) = p(z)\, p(x \mid z)$ over the latent gives the **marginal**
#
# $$p(x) = \sum_{k=1}^K w_k\, \mathcal{N}(x; \mu_k, \sigma_k^2), \qquad
# \log p(x) = \operatorname{logsumexp}_k \big( \log w_k + \log \mathcal{N}(x; \mu_k, \sigma_k^2) \big),$$
#
# where $\operatorname{logsumexp}_k(a_k) = \log \sum_k e^{a_k} = m + \log \sum_k e^{a_k - m}$ with
# $m = \max_k a_k$. Far from every mean each $\mathcal{N}(x; \mu_k, \sigma_k^2)$ underflows to $0$ and
# $\log \sum_k w_k \mathcal{N}_k = \log 0$, although the log-density is finite; log-sum-exp never
# exponentiates a large positive number and keeps the largest term exactly.
#
# ### Exercise 2: the mixture log-density (2 points)
# Build the $(n, K)$ table of $\log w_k + \log \mathcal{N}(x_i; \mu_k, \sigma_k^2)$ by broadcasting
# (`x[:, None]` against arrays of shape `(K,)`), then reduce over $k$ with `scipy.special.logsumexp`.

# %% nbgrader={"grade": false, "grade_id": "mixture_log_pdf", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mixture_log_pdf(x, weights, means, stds):
    """log p(x_i) = log sum_k weights[k] N(x_i; means[k], stds[k]^2), by log-sum-exp.

    Args:
        x: float64 array (n,): points.
        weights: float64 array (K,): mixture weights, positive, summing to 1.
        means: float64 array (K,): component means.
        stds: float64 array (K,), > 0: component standard deviations.

    Returns:
        float64 array (n,): the log-densities, finite even far from every mean.
    """
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    log_joint = np.log(weights) + gaussian_log_pdf(x[:, None], means, stds)  # (n, K): log p(x_i, z = k)
    return logsumexp(log_joint, axis=1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_mixture_log_pdf", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import numpy as np
from scipy.integrate import quad
from scipy.special import logsumexp
from scipy.stats import norm
from dgm_utils.checks import assert_close, assert_shape, expect, no_float_errors

_w, _m, _s = np.array([0.1, 0.6, 0.3]), np.array([-2.0, 0.0, 3.0]), np.array([0.5, 1.0, 2.0])
_x = np.linspace(-6.0, 9.0, 31)
_got = mixture_log_pdf(_x, _w, _m, _s)
assert_shape(_got, (31,), "mixture_log_pdf(x) for x of shape (31,)",
             hint="one log-density per point: reduce the (n, K) table over the components k (axis=1)", mistake="mixture.wrong-axis")
expect(not np.allclose(_got, np.log(norm.pdf(_x[:, None], _m, _s).sum(axis=1)), rtol=1e-8),
       "mixture_log_pdf equals log sum_k N(x; mu_k, sigma_k^2): you forgot the mixture weights",
       hint="add log(weights[k]) to each component's log-density before the log-sum-exp", mistake="mixture.no-weights")
assert_close(_got, np.log(np.sum(_w * norm.pdf(_x[:, None], _m, _s), axis=1)), rtol=1e-10,
             name="mixture_log_pdf(x)",
             hint="log p(x) = log sum_k w_k N(x; mu_k, sigma_k^2): a log-sum-exp of log(w_k) + log N_k over k "
                  "(a max over k only approximates it)", mistake="mixture.formula")
_mass = quad(lambda t: float(np.exp(mixture_log_pdf(np.array([t]), _w, _m, _s))[0]), -30.0, 30.0,
             points=[-2.0, 0.0, 3.0], limit=200)[0]
assert_close(_mass, 1.0, rtol=1e-8, name="integral of exp(mixture_log_pdf) over x (scipy.integrate.quad)",
             hint="a mixture of densities with weights summing to 1 integrates to 1", mistake="mixture.not-normalized")
# Far from every mean, each component density underflows but the log-density is finite.
_xf = np.array([-1e3, 1e3, 80.0])
with no_float_errors("mixture_log_pdf far from every mean", hint="every component density underflows to 0 there, "
                     "so log(sum_k w_k N_k) = log(0); use a log-sum-exp over log(w_k) + log N_k "
                     "(scipy.special.logsumexp).", mistake="mixture.no-logsumexp"):
    _far = mixture_log_pdf(_xf, _w, _m, _s)
assert_close(_far, logsumexp(np.log(_w) + norm.logpdf(_xf[:, None], _m, _s), axis=1), rtol=1e-12,
             name="mixture_log_pdf far from every mean",
             hint="use a log-sum-exp over log(w_k) + log N_k (scipy.special.logsumexp), never exp then log", mistake="mixture.no-logsumexp")
print("mixture_log_pdf: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_mixture_log_pdf_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check other mixtures when your notebook is graded.
### BEGIN HIDDEN TESTS
import numpy as np
from scipy.special import logsumexp
from scipy.stats import norm
from dgm_utils.checks import assert_close, no_float_errors

_w, _m, _s = np.array([0.5, 0.25, 0.125, 0.125]), np.array([0.0, 10.0, -10.0, 50.0]), np.array([1e-2, 3.0, 1.0, 0.1])
_x = np.concatenate([np.random.default_rng(33).normal(0, 20, size=40), [-5e3, 5e3]])
with no_float_errors("mixture_log_pdf at +-5e3 (hidden)", mistake="mixture.no-logsumexp"):
    assert_close(mixture_log_pdf(_x, _w, _m, _s), logsumexp(np.log(_w) + norm.logpdf(_x[:, None], _m, _s), axis=1),
                 rtol=1e-12, name="mixture_log_pdf (hidden)", mistake="mixture.formula")
assert_close(mixture_log_pdf(np.array([0.3, -1.0]), np.array([1.0]), np.array([0.0]), np.array([2.0])),
             norm.logpdf([0.3, -1.0], 0.0, 2.0), rtol=1e-12, name="mixture with one component", mistake="mixture.formula")
### END HIDDEN TESTS

# %% [markdown]
# ### Figure: samples under the density
# Histograms of 5000 ancestral samples against $\exp(\texttt{mixture\_log\_pdf})$ and its weighted
# components $w_k \mathcal{N}(x; \mu_k, \sigma_k^2)$. Left: two components with a
# $\mathrm{Bernoulli}(0.3)$ coin; right: three components. Neither density is a Gaussian.

# %% tags=["demo"]
mixtures = [("two components, z ~ Bernoulli(0.3)", np.array([0.7, 0.3]), np.array([-1.5, 2.0]), np.array([0.8, 0.6])),
            ("three components", np.array([0.25, 0.45, 0.3]), np.array([-4.0, 0.0, 3.0]), np.array([0.7, 1.2, 0.5]))]
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for ax, (title, w, m, s) in zip(axes, mixtures):
    x_s, z_s = sample_mixture(5000, w, m, s, rng)
    grid = np.linspace(x_s.min() - 1, x_s.max() + 1, 500)
    ax.hist(x_s, bins=80, density=True, color="lightgray", label="5000 samples")
    ax.plot(grid, np.exp(mixture_log_pdf(grid, w, m, s)), "k", lw=2, label="$p(x)$")
    for k in range(len(w)):
        ax.plot(grid, w[k] * np.exp(gaussian_log_pdf(grid, m[k], s[k])), "--",
                label=f"$w_{k}\\,\\mathcal{{N}}(x; {m[k]:g}, {s[k]:g}^2)$, {np.mean(z_s == k):.1%} of $z$")
    ax.set(title=title, xlabel="$x$", ylabel="density")
    ax.legend(fontsize=8)
plt.tight_layout()
plt.show()


# %% [markdown]
# ## 3. Inference: the posterior $p(z \mid x)$
#
# Given an observed $x$, which component produced it? Bayes' rule:
#
# $$p(z = k \mid x) = \frac{w_k\, \mathcal{N}(x; \mu_k, \sigma_k^2)}{\sum_j w_j\, \mathcal{N}(x; \mu_j, \sigma_j^2)}
# = \exp\big(\log w_k + \log \mathcal{N}_k - \log p(x)\big).$$
#
# These probabilities are called the **responsibilities** of the components for $x$. The prior weights
# matter: a rare component needs more evidence. Compute them in log space (a softmax over $k$ of the same
# table as in Exercise 2): far from every mean the naive ratio is $0/0$.
#
# ### Exercise 3: the posterior (2 points)

# %% nbgrader={"grade": false, "grade_id": "posterior", "locked": false, "schema_version": 3, "solution": true, "task": false}
def posterior(x, weights, means, stds):
    """Responsibilities p(z = k | x_i) of a Gaussian mixture, by Bayes' rule in log space.

    Args:
        x: float64 array (n,): points.
        weights: float64 array (K,): mixture weights (the prior p(z)), positive, summing to 1.
        means: float64 array (K,): component means.
        stds: float64 array (K,), > 0: component standard deviations.

    Returns:
        float64 array (n, K): row i is p(z | x_i); every row sums to 1, also far from every mean.
    """
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    log_joint = np.log(weights) + gaussian_log_pdf(x[:, None], means, stds)  # (n, K)
    return np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_posterior", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import numpy as np
from scipy.special import softmax
from scipy.stats import norm
from dgm_utils.checks import assert_close, assert_probabilities, assert_shape, expect, no_float_errors

_w, _m, _s = np.array([0.1, 0.6, 0.3]), np.array([-2.0, 0.0, 3.0]), np.array([0.5, 1.0, 2.0])
_x = np.linspace(-5.0, 7.0, 25)
_p = posterior(_x, _w, _m, _s)
assert_shape(_p, (25, 3), "posterior(x) for 25 points and 3 components", hint="one row p(z | x_i) per point", mistake="posterior.shape")
assert_probabilities(_p, "posterior(x)")
assert_close(np.sum(_p, axis=1), np.ones(25), rtol=1e-12, name="row sums of posterior(x)",
             hint="each row is the distribution p(z | x_i) over the K components: normalize over k (axis=1), "
                  "not over the examples", mistake="posterior.normalized-over-examples")
_lik = norm.pdf(_x[:, None], _m, _s)
expect(not np.allclose(_p, _lik / _lik.sum(axis=1, keepdims=True), atol=1e-6),
       "posterior(x) ignores the prior weights: it is proportional to N(x; mu_k, sigma_k^2) alone",
       hint="Bayes' rule: p(z = k | x) is proportional to w_k N(x; mu_k, sigma_k^2); add log(weights) before "
            "normalizing", mistake="posterior.no-prior")
assert_close(_p, _w * _lik / np.sum(_w * _lik, axis=1, keepdims=True), rtol=1e-9, atol=1e-14,
             name="posterior(x)", hint="Bayes' rule: p(z = k | x) = w_k N(x; mu_k, sigma_k^2) / p(x)", mistake="posterior.formula")
# Far from every mean: the naive ratio is 0 / 0.
_xf = np.array([-1e3, 1e3, 60.0])
with no_float_errors("posterior far from every mean", hint="every w_k N_k underflows to 0 there, so the ratio is "
                     "0 / 0; compute it in log space: exp(log w_k + log N_k - logsumexp_j(log w_j + log N_j)).",
                     mistake="posterior.no-log-space"):
    _pf = posterior(_xf, _w, _m, _s)
assert_close(_pf, softmax(np.log(_w) + norm.logpdf(_xf[:, None], _m, _s), axis=1), atol=1e-12,
             name="posterior far from every mean", hint="compute it in log space (a softmax over k)", mistake="posterior.no-log-space")
print("posterior: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_posterior_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check other mixtures when your notebook is graded.
### BEGIN HIDDEN TESTS
import numpy as np
from scipy.special import softmax
from scipy.stats import norm
from dgm_utils.checks import assert_close, no_float_errors

_w, _m, _s = np.array([0.05, 0.9, 0.05]), np.array([-1.0, 0.0, 1.0]), np.array([0.2, 3.0, 0.2])
_x = np.random.default_rng(34).normal(0.0, 4.0, size=60)
with no_float_errors("posterior at +-1e4 (hidden)", mistake="posterior.no-log-space"):
    assert_close(posterior(_x, _w, _m, _s), softmax(np.log(_w) + norm.logpdf(_x[:, None], _m, _s), axis=1),
                 atol=1e-12, name="posterior (hidden)", mistake="posterior.formula")
    assert_close(posterior(np.array([-1e4, 1e4]), _w, _m, _s), np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]),
                 atol=1e-12, name="posterior at +-1e4", mistake="posterior.no-log-space")
### END HIDDEN TESTS

# %% [markdown]
# ### Figure: responsibilities along $x$
# Top: the weighted components. Bottom: the responsibilities $p(z = k \mid x)$ as stacked areas; the
# boundaries sit where two weighted components cross, not halfway between the means, and the widest
# component eventually wins in both tails (on the right beyond $x \approx 5.2$, on the left only
# beyond $x \approx -9.6$).

# %% tags=["demo"]
w, m, s = np.array([0.25, 0.45, 0.3]), np.array([-4.0, 0.0, 3.0]), np.array([0.7, 1.2, 0.5])
grid = np.linspace(-11, 7, 700)
resp = posterior(grid, w, m, s)
fig, axes = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True, height_ratios=[1, 1.2])
for k in range(3):
    axes[0].plot(grid, w[k] * np.exp(gaussian_log_pdf(grid, m[k], s[k])), color=f"C{k}", label=f"$w_{k} p(x | z={k})$")
axes[0].plot(grid, np.exp(mixture_log_pdf(grid, w, m, s)), "k", lw=1, label="$p(x)$")
axes[0].set(ylabel="density")
axes[0].legend(fontsize=8)
axes[1].stackplot(grid, resp.T, colors=["C0", "C1", "C2"], alpha=0.7, labels=[f"$p(z={k} | x)$" for k in range(3)])
axes[1].set(xlabel="$x$", ylabel="responsibility", ylim=(0, 1))
axes[1].legend(fontsize=8, loc="center left")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Try it: weights, means and spreads move the posterior
# Two components (in a live notebook, move the sliders): `w1` is the weight of component 1, `mu0`, `mu1`
# the means, `sigma0`, `sigma1` the standard deviations. Top: the weighted components and $p(x)$; bottom:
# $p(z = 1 \mid x)$ from your `posterior`. Watch the boundary $p(z = 1 \mid x) = 1/2$ move towards the rarer
# component as `w1` changes, and a second boundary appear in a tail when the spreads differ.

# %% tags=["demo"]
def draw_posterior(w1, mu0, mu1, sigma0, sigma1):
    w, m, s = np.array([1.0 - w1, w1]), np.array([mu0, mu1]), np.array([sigma0, sigma1])
    grid = np.linspace(-8, 8, 600)
    fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    for k in range(2):
        axes[0].plot(grid, w[k] * np.exp(gaussian_log_pdf(grid, m[k], s[k])), color=f"C{k}",
                     label=f"$w_{k}\\,\\mathcal{{N}}(x; {m[k]:g}, {s[k]:g}^2)$")
    axes[0].plot(grid, np.exp(mixture_log_pdf(grid, w, m, s)), "k", lw=1, label="$p(x)$")
    axes[0].set(ylabel="density", title=f"weights ({w[0]:.2f}, {w[1]:.2f})")
    axes[0].legend(fontsize=8)
    axes[1].plot(grid, posterior(grid, w, m, s)[:, 1], color="C1", lw=2)
    axes[1].axhline(0.5, color="gray", ls=":", lw=1)
    axes[1].set(xlabel="$x$", ylabel="$p(z = 1 \\mid x)$", ylim=(-0.02, 1.02))
    plt.tight_layout()
    plt.show()


interactive(draw_posterior, w1=(0.05, 0.95, 0.05, 0.3), mu0=(-4.0, 4.0, 0.25, -1.5), mu1=(-4.0, 4.0, 0.25, 2.0),
            sigma0=(0.2, 3.0, 0.1, 1.0), sigma1=(0.2, 3.0, 0.1, 0.6))


# %% [markdown]
# ## 4. Learning with a latent variable: expectation-maximization
#
# If we observed $z$, maximum likelihood would be counting and averaging per component. We don't, and
# the log-likelihood $\sum_i \log \sum_k w_k \mathcal{N}(x_i; \mu_k, \sigma_k^2)$ has a sum inside the
# log. **EM** alternates two easy steps:
#
# * **E-step**: with the current parameters, compute the responsibilities $r_{ik} = p(z_i = k \mid x_i)$
#   (Exercise 3): a *soft* guess of the missing labels.
# * **M-step**: maximum likelihood as if each $x_i$ belonged to component $k$ with weight $r_{ik}$, that is,
#   maximize over the parameters, with the responsibilities held fixed,
#
# $$Q(w, \mu, \sigma) = \sum_{i=1}^n \sum_{k=1}^K r_{ik} \big(\log w_k + \log \mathcal{N}(x_i; \mu_k, \sigma_k^2)\big).$$
#
# Each iteration can only increase (or keep) the log-likelihood: the history must never decrease.
# This is a local optimizer: start from spread-out means, for instance the quantiles
# $\frac{k - 1/2}{K}$, $k = 1, \dots, K$, of the data, standard deviations equal to the data's, and uniform weights.
#
# **Derive first** (on paper): set the derivatives of $Q$ with respect to $\mu_k$ and $\sigma_k$ to zero, and
# maximize over the weights under $\sum_k w_k = 1$ (a Lagrange multiplier). Each update should read like a
# familiar estimator in which example $i$ counts for component $k$ with weight $r_{ik}$. Try your updates on
# question Q2 below before you code them.

# %% [markdown]
# <details><summary>Hint (open only if stuck)</summary>
#
# With $N_k = \sum_i r_{ik}$ (the "number of examples" of component $k$):
#
# $$w_k = \frac{N_k}{n}, \qquad \mu_k = \frac{1}{N_k}\sum_i r_{ik}\, x_i, \qquad
# \sigma_k = \sqrt{\frac{1}{N_k}\sum_i r_{ik}\, (x_i - \mu_k)^2}.$$
#
# </details>

# %% [markdown]
# ### Self-check (1 point each)
# Work these out on paper (a calculator is fine), then write your answers in the cell below, in place of
# its `raise` line (for instance `q1 = 0.5`).
#
# **Q1.** A mixture with weights $(0.8, 0.2)$, means $(0, 2)$ and both standard deviations equal to $1$.
# You observe $x = 1$. What is $p(z = 1 \mid x = 1)$? (a number, 3 decimals)
#
# **Q2.** One M-step on three points $x = (0, 1, 4)$ whose responsibilities for component 1 are
# $(r_{11}, r_{21}, r_{31}) = (0.2, 0.5, 1.0)$. What is the updated mean $\mu_1$? (a number, 3 decimals)
#
# **Q3.** A mixture of $K = 4$ Gaussians in $d = 2$ dimensions, each with its own mean vector and its own
# full (symmetric) covariance matrix. How many free parameters does it have?
# (a) 20 (b) 23 (c) 24 (d) 27

# %% nbgrader={"grade": false, "grade_id": "selfcheck_answers", "locked": false, "schema_version": 3, "solution": true, "task": false}
"""Your answers to the self-check questions above: set q1, q2, q3 in place of the raise line below."""
q1 = None  # a number, e.g. 0.5
q2 = None  # a number
q3 = None  # a letter: "a", "b", "c" or "d"
### BEGIN SOLUTION
q1 = 0.2
q2 = 2.647
q3 = "b"
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_selfcheck_q1", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from dgm_utils.checks import check_answer

check_answer("05.q1", q1, "01a9a619fe775352", decimals=3,
             hint="Bayes' rule: compare w_k N(x; mu_k, sigma_k^2) for the two components at x = 1", mistake="selfcheck.q1")
print("Q1: correct")

# %% nbgrader={"grade": true, "grade_id": "test_selfcheck_q2", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from dgm_utils.checks import check_answer

check_answer("05.q2", q2, "ccf05b48bd5d14e2", decimals=3,
             hint="the M-step for a mean: every point counts with its responsibility", mistake="selfcheck.q2")
print("Q2: correct")

# %% nbgrader={"grade": true, "grade_id": "test_selfcheck_q3", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from dgm_utils.checks import check_answer

check_answer("05.q3", q3, "ff62f90dc5869e62", choices="abcd",
             hint="count the weights (they sum to 1), the means and the distinct entries of each symmetric "
                  "covariance", mistake="selfcheck.q3")
print("Q3: correct")

# %% [markdown]
# ### Exercise 4: EM for a 1-D Gaussian mixture (3 points)
# Record the mean log-likelihood (per example, in nats) once per iteration, in log space. No loop over
# examples: each step is a few array operations on the $(n, K)$ table. You may stop early when the
# improvement is tiny, and floor the standard deviations at a tiny value (a component that collapses
# onto one point would make the likelihood infinite).
#
# The tests compare your EM with two independent references: on two far-apart clusters the responsibilities
# are 0 or 1, so EM must agree with counting and averaging per cluster; on overlapping clusters, with
# scikit-learn's `GaussianMixture` run to convergence.

# %% nbgrader={"grade": false, "grade_id": "fit_em", "locked": false, "schema_version": 3, "solution": true, "task": false}
def fit_em(x, n_components, n_iters=500, rng=None, tol=1e-10, min_std=1e-6):
    """Fit a 1-D Gaussian mixture to x by expectation-maximization.

    Args:
        x: float64 array (n,): the data.
        n_components: int K >= 1: number of components.
        n_iters: int >= 1: maximum number of EM iterations.
        rng: numpy.random.Generator or None: None gives the deterministic initialization (means at
            the quantiles (k + 1/2) / K of x, k = 0..K-1); a generator jitters those means (for random restarts).
        tol: stop when an iteration improves the mean log-likelihood by less than tol.
        min_std: floor of the standard deviations.

    Returns:
        (weights, means, stds, history): float64 arrays (K,), (K,), (K,) of the fitted parameters, and
        history, a float64 array (n_done,): the mean log-likelihood (nats per example) at the start of
        each iteration, never decreasing.
    """
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    n, K = x.shape[0], n_components
    means = np.quantile(x, (np.arange(K) + 0.5) / K)
    if rng is not None:
        means = means + 0.1 * x.std() * rng.standard_normal(K)
    stds = np.full(K, x.std())
    weights = np.full(K, 1.0 / K)
    history = []
    for _ in range(n_iters):
        # E-step: responsibilities under the current parameters, and the current log-likelihood
        log_joint = np.log(weights) + gaussian_log_pdf(x[:, None], means, stds)  # (n, K)
        log_px = logsumexp(log_joint, axis=1)
        history.append(float(np.mean(log_px)))
        if len(history) > 1 and history[-1] - history[-2] < tol:
            break
        r = np.exp(log_joint - log_px[:, None])
        # M-step: weighted maximum likelihood
        nk = r.sum(axis=0)
        weights = nk / n
        means = r.T @ x / nk
        var = np.sum(r * (x[:, None] - means) ** 2, axis=0) / nk
        stds = np.sqrt(np.maximum(var, min_std**2))
    return weights, means, stds, np.array(history)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_fit_em", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
import numpy as np
from scipy.special import logsumexp
from scipy.stats import norm
from sklearn.mixture import GaussianMixture
from dgm_utils.checks import assert_close, assert_shape, expect

_r = np.random.default_rng(23)
_ztrue = (_r.random(3000) < 0.7).astype(int)
_x = np.where(_ztrue == 1, _r.normal(2.0, 1.0, 3000), _r.normal(-2.0, 0.6, 3000))
_w, _m, _s, _h = (np.asarray(_a, dtype=np.float64) for _a in fit_em(_x, 2))
for _a, _name in [(_w, "weights"), (_m, "means"), (_s, "stds")]:
    assert_shape(_a, (2,), f"{_name} from fit_em(x, 2)", hint="one value per component", mistake="em.shape")
expect(_h.ndim == 1 and _h.size >= 2, f"history must hold one mean log-likelihood per iteration, got shape {_h.shape}", mistake="em.history")
expect(np.all(np.diff(_h) >= -1e-9), f"the log-likelihood history decreased (by up to {-np.min(np.diff(_h)):.3g} nats), "
       "but an EM iteration never decreases it", hint="the E-step must use the current parameters, prior weights "
       "included; the M-step must return standard deviations, not variances", mistake="em.likelihood-decreased")
# 1. Two far-apart clusters: the responsibilities are 0 or 1, so EM must return what counting and averaging
#    per cluster gives (maximum likelihood as if z were observed). Components come in any order: sort by mean.
_zc = (_r.random(2000) < 0.4).astype(int)
_xc = np.where(_zc == 1, _r.normal(100.0, 2.0, 2000), _r.normal(-100.0, 0.5, 2000))
_wc, _mc, _sc, _hc = (np.asarray(_a, dtype=np.float64) for _a in fit_em(_xc, 2))
_o, _cl = np.argsort(_mc), [_xc[_zc == 0], _xc[_zc == 1]]
# Converged? The history may end with the last (tiny) improvement or just before it: judge the returned parameters
# against the same EM run for 100 iterations without early stopping (far-apart clusters converge in a few).
def _mean_ll(w, m, s):
    return float(np.mean(logsumexp(np.log(np.asarray(w, dtype=np.float64)) + norm.logpdf(_xc[:, None], m, s), axis=1)))
_ll_c, _ll_long = _mean_ll(_wc, _mc, _sc), _mean_ll(*fit_em(_xc, 2, n_iters=100, tol=0.0)[:3])
expect(_ll_c >= _ll_long - 1e-6, f"on two far-apart clusters EM stopped after {_hc.size} iterations at a mean "
       f"log-likelihood of {_ll_c:.6f} nats, while more iterations reach {_ll_long:.6f} (fit_em(x, 2, n_iters=100, tol=0))",
       hint="run more iterations (stop only when the improvement is tiny)", mistake="em.not-converged")
expect(np.ptp(_mc) > 1.0, f"all fitted means are equal ({_mc}) for two clusters 200 apart",
       hint="each mean is the average of x weighted by the responsibilities of its component, not the plain average",
       mistake="em.means")
assert_close(_sc[_o], [c.std() for c in _cl], atol=1e-6, name="fitted stds of two far-apart clusters",
             hint="each std is the square root of the variance of x weighted by the responsibilities of its component "
                  "(here: the std of its cluster): a standard deviation, not a variance", mistake="em.stds")
assert_close(_mc[_o], [c.mean() for c in _cl], atol=1e-6, name="fitted means of two far-apart clusters",
             hint="each mean is the average of x weighted by the responsibilities of its component (here: the "
                  "mean of its cluster)", mistake="em.means")
assert_close(_wc[_o], [np.mean(_zc == 0), np.mean(_zc == 1)], atol=1e-6, name="fitted weights of two far-apart clusters",
             hint="re-estimate the weights at every M-step from the responsibilities (here: the fraction of the "
                  "points in each cluster)", mistake="em.weights")
# 2. Overlapping clusters: scikit-learn's own EM, run to convergence on the same data, as reference.
_gm = GaussianMixture(n_components=2, tol=1e-10, max_iter=1000, random_state=0).fit(_x[:, None])
_o, _og = np.argsort(_m), np.argsort(_gm.means_[:, 0])
assert_close(np.concatenate([_w[_o], _m[_o], _s[_o]]),
             np.concatenate([_gm.weights_[_og], _gm.means_[_og, 0], np.sqrt(_gm.covariances_[_og].ravel())]), atol=1e-3,
             name="fitted (weights, means, stds) against scikit-learn's GaussianMixture",
             hint="the E-step must compute the responsibilities with the current weights as the prior (prior weights "
                  "included, as in Exercise 3); start from spread-out means and run EM to convergence", mistake="em.not-converged")
_ll = float(np.mean(logsumexp(np.log(_w) + norm.logpdf(_x[:, None], _m, _s), axis=1)))
expect(_ll >= _h[-1] - 1e-9, f"the returned parameters have a mean log-likelihood of {_ll:.6f}, below the last "
                              f"history entry {_h[-1]:.6f}: return the parameters of the last iteration", mistake="em.stale-parameters")
_ll_sk = float(_gm.score(_x[:, None]))
expect(_ll >= _ll_sk - 1e-4, f"your EM reaches a mean log-likelihood of {_ll:.5f} nats, below scikit-learn's {_ll_sk:.5f}",
       hint="start from spread-out means (quantiles of x) and run more iterations", mistake="em.not-converged")
print(f"fit_em: mean log-likelihood {_ll:.5f} nats (scikit-learn: {_ll_sk:.5f}) after {_h.size} iterations")

# %% nbgrader={"grade": true, "grade_id": "test_fit_em_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests fit three components when your notebook is graded.
### BEGIN HIDDEN TESTS
import numpy as np
from scipy.special import logsumexp
from scipy.stats import norm
from sklearn.mixture import GaussianMixture
from dgm_utils.checks import expect

_r = np.random.default_rng(25)
_zt = _r.choice(3, size=3000, p=[0.2, 0.5, 0.3])
_x = _r.normal(np.array([-5.0, 0.0, 5.0])[_zt], np.array([1.0, 0.7, 1.3])[_zt])
for _rng in (None, np.random.default_rng(3)):
    _w, _m, _s, _h = (np.asarray(_a, dtype=np.float64) for _a in fit_em(_x, 3, rng=_rng))
    expect(np.all(np.diff(_h) >= -1e-9), "hidden: the EM history decreased", mistake="em.likelihood-decreased")
    _ll = float(np.mean(logsumexp(np.log(_w) + norm.logpdf(_x[:, None], _m, _s), axis=1)))
    _ll_sk = float(GaussianMixture(n_components=3, random_state=0).fit(_x[:, None]).score(_x[:, None]))
    expect(_ll >= _ll_sk - 1e-3, f"hidden: EM mean log-likelihood {_ll:.5f} below scikit-learn's {_ll_sk:.5f}", mistake="em.not-converged")
    expect(np.allclose(np.sort(_m), [-5.0, 0.0, 5.0], atol=0.2), f"hidden: fitted means {_m}", mistake="em.means")
# Converged parameters are a fixed point: one more E-step and M-step (done here) leaves them unchanged.
_lj = np.log(_w) + norm.logpdf(_x[:, None], _m, _s)
_rr = np.exp(_lj - logsumexp(_lj, axis=1, keepdims=True))
_nk = _rr.sum(axis=0)
_m_next = _rr.T @ _x / _nk
expect(np.allclose(_w, _nk / _x.size, atol=1e-3), "hidden: the weights are not a fixed point of EM", mistake="em.weights")
expect(np.allclose(_m, _m_next, atol=1e-3), "hidden: the means are not a fixed point of EM", mistake="em.means")
expect(np.allclose(_s, np.sqrt(np.sum(_rr * (_x[:, None] - _m_next) ** 2, axis=0) / _nk), atol=1e-3),
       "hidden: the stds are not a fixed point of EM", mistake="em.stds")
### END HIDDEN TESTS

# %% [markdown]
# ### Your EM against scikit-learn
# The same data (2000 samples of a three-component mixture), fitted by your `fit_em` and by
# `sklearn.mixture.GaussianMixture` (k-means initialization, stops when an iteration gains less than
# `tol = 1e-3`; a second run with `tol = 1e-10` for a like-for-like comparison). The mean
# log-likelihood is per example, in nats; higher is better. Times are wall-clock seconds of `fit`.

# %% tags=["demo"]
true_w, true_m, true_s = np.array([0.25, 0.45, 0.3]), np.array([-4.0, 0.0, 3.0]), np.array([0.7, 1.2, 0.5])
x_data, _ = sample_mixture(2000, true_w, true_m, true_s, np.random.default_rng(1))

start = time.perf_counter()
w_em, m_em, s_em, history = fit_em(x_data, 3)
t_em = time.perf_counter() - start
rows = [("your fit_em", float(np.mean(mixture_log_pdf(x_data, w_em, m_em, s_em))), len(history), t_em, m_em)]
for tol in (1e-3, 1e-10):
    start = time.perf_counter()
    gm = GaussianMixture(n_components=3, tol=tol, max_iter=1000, random_state=0).fit(x_data[:, None])
    t_sk = time.perf_counter() - start
    rows.append((f"scikit-learn, tol={tol:g}", float(gm.score(x_data[:, None])), gm.n_iter_, t_sk,
                 gm.means_[:, 0]))
print(f"{'method':26s} {'mean log-lik':>12s} {'iterations':>10s} {'seconds':>9s}   sorted means")
for name, ll, iters, secs, means in rows:
    print(f"{name:26s} {ll:12.6f} {iters:10d} {secs:9.4f}   {np.round(np.sort(means), 3)}")
print(f"true parameters:  means {true_m}, stds {true_s}, weights {true_w}")
print(f"your EM - scikit-learn (default tol): {rows[0][1] - rows[1][1]:+.2e} nats per example")

fig, axes = plt.subplots(1, 2, figsize=(12, 4))
plot_loss_curve(history, ax=axes[0], title="EM iterations", ylabel="mean log-likelihood (nats)")
axes[0].axhline(rows[1][1], color="C1", ls="--", label="scikit-learn (default tol)")
axes[0].set_xlabel("iteration")
axes[0].set_xscale("log")
axes[0].legend()
grid = np.linspace(-7, 6, 500)
axes[1].hist(x_data, bins=60, density=True, color="lightgray", label="data")
axes[1].plot(grid, np.exp(mixture_log_pdf(grid, true_w, true_m, true_s)), "k", lw=3, alpha=0.4, label="true density")
axes[1].plot(grid, np.exp(mixture_log_pdf(grid, w_em, m_em, s_em)), "C0", label="your EM")
axes[1].plot(grid, np.exp(gm.score_samples(grid[:, None])), "C1--", label="scikit-learn")
axes[1].set(title="Fitted mixtures", xlabel="$x$", ylabel="density")
axes[1].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Figure: EM, iteration by iteration
# `fit_em(x, 3, n_iters=t)` stops after $t$ iterations. Right: the fitted density after 1, 3, 10 and 30
# iterations and at convergence (the initialization puts the means at quantiles of the data, all with the
# data's spread). Left: the log-likelihood history, with the same stages marked. The first few iterations
# do most of the work: they move the components onto the clusters; the rest fine-tunes.

# %% tags=["demo"]
# The same data as above (2000 samples of a three-component mixture), fitted again.
x_em, _ = sample_mixture(2000, np.array([0.25, 0.45, 0.3]), np.array([-4.0, 0.0, 3.0]), np.array([0.7, 1.2, 0.5]),
                         np.random.default_rng(1))
history_em = fit_em(x_em, 3)[3]
stages = [t for t in (1, 3, 10, 30) if t < len(history_em)] + [len(history_em)]
grid = np.linspace(-7, 6, 500)
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
axes[0].plot(np.arange(len(history_em)), history_em, "k", lw=1, label="history (0 = the initialization)")
axes[1].hist(x_em, bins=60, density=True, color="lightgray", label="data")
for i, t in enumerate(stages):
    w_t, m_t, s_t, _ = fit_em(x_em, 3, n_iters=t)
    done = f"after {t} iteration" + ("s" if t > 1 else "")
    ll_t = float(np.mean(mixture_log_pdf(x_em, w_t, m_t, s_t)))
    axes[0].plot(t, ll_t, "o", color=f"C{i}", label=f"{done}: {ll_t:.4f}")
    axes[1].plot(grid, np.exp(mixture_log_pdf(grid, w_t, m_t, s_t)), color=f"C{i}", label=done)
axes[0].set_xscale("symlog", linthresh=1.0)
axes[0].set(xlabel="EM iterations done", ylabel="mean log-likelihood (nats)", title="EM log-likelihood")
axes[0].legend(fontsize=8)
axes[1].set(title="fitted density during EM", xlabel="$x$", ylabel="density")
axes[1].legend(fontsize=8)
plt.tight_layout()
plt.show()


# %% [markdown]
# ## 5. A continuous latent variable, and Monte Carlo
#
# Nothing forces $z$ to be discrete. Take
#
# $$z \sim \mathrm{Uniform}(a, b), \qquad x \mid z \sim \mathcal{N}(z, \sigma^2), \qquad
# p(x) = \int_a^b \frac{1}{b - a}\, \mathcal{N}(x; z, \sigma^2)\, dz,$$
#
# a "blurred box". The sum over $z$ became an integral. Here the integral has a closed form in terms of the
# standard normal CDF $\Phi$; for a VAE, where $p(x \mid z)$ is a neural network, it has none, and we
# estimate it by **Monte Carlo**: $p(x) = \mathbb{E}_{z \sim p(z)}[p(x \mid z)] \approx \frac{1}{S}\sum_{s=1}^S p(x \mid z_s)$
# with $z_s \sim p(z)$.
#
# ### Exercise 5: the closed form, in log space (2 points)
# **Derive first** (on paper): write $\mathcal{N}(x; z, \sigma^2)$ as a function of $t = (z - x)/\sigma$ and change
# variables in the integral. Over which interval of $t$ do you integrate the standard normal density? Write
# $p(x)$ with $\Phi$.
#
# Then look at your formula 40 standard deviations outside $[a, b]$. In float64, $\Phi(-40) \approx 10^{-349}$
# is below the smallest positive number, and $\Phi(40)$ rounds to exactly $1$. Your function must stay
# finite *and accurate* there: work in log space with `scipy.special.log_ndtr(t)` $= \log \Phi(t)$ (accurate
# for very negative $t$), and find a way never to subtract two numbers that both round to $1$. The tests
# compare with a numerical integration of the definition above.

# %% [markdown]
# <details><summary>Hint 1: the closed form (open only if stuck)</summary>
#
# $$p(x) = \frac{\Phi\big(\frac{b - x}{\sigma}\big) - \Phi\big(\frac{a - x}{\sigma}\big)}{b - a}.$$
#
# </details>

# %% [markdown]
# <details><summary>Hint 2: staying finite (open only if stuck)</summary>
#
# For $u > l$, $\log\big(\Phi(u) - \Phi(l)\big) = \log\Phi(u) + \log\big(1 - e^{\log\Phi(l) - \log\Phi(u)}\big)$, the last
# term as `np.log(-np.expm1(...))`. When $x < a$, both $u = (b - x)/\sigma$ and $l = (a - x)/\sigma$ are large
# and positive: use the symmetry $\Phi(u) - \Phi(l) = \Phi(-l) - \Phi(-u)$ there, so that the arguments are negative.
#
# </details>

# %% nbgrader={"grade": false, "grade_id": "uniform_latent_log_pdf", "locked": false, "schema_version": 3, "solution": true, "task": false}
def uniform_latent_log_pdf(x, a, b, sigma):
    """log p(x) for z ~ Uniform(a, b), x | z ~ N(z, sigma^2), in closed form, computed in log space.

    Args:
        x: float64 array (n,): points.
        a, b: floats with a < b: the support of the latent z.
        sigma: float > 0: the standard deviation of x given z.

    Returns:
        float64 array (n,): log p(x_i), accurate and finite at least 100 sigma outside [a, b].
    """
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    u, l = (b - x) / sigma, (a - x) / sigma  # p(x) = (Phi(u) - Phi(l)) / (b - a), u > l
    flip = l > 0  # left of a: Phi(u) - Phi(l) = Phi(-l) - Phi(-u), with negative arguments
    hi, lo = np.where(flip, -l, u), np.where(flip, -u, l)
    log_hi, log_lo = log_ndtr(hi), log_ndtr(lo)
    return log_hi + np.log(-np.expm1(log_lo - log_hi)) - np.log(b - a)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_uniform_latent_log_pdf", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import numpy as np
from scipy.integrate import quad
from scipy.stats import norm
from dgm_utils.checks import assert_close, assert_shape, no_float_errors

_a, _b, _sg = -1.0, 2.0, 0.5
_x = np.array([-3.0, -1.0, 0.0, 0.5, 2.0, 3.5])
# Reference: integrate the generative definition p(x) = int_a^b N(x; z, sigma^2) / (b - a) dz numerically.
_ref = np.log([quad(lambda z: norm.pdf(xi, z, _sg) / (_b - _a), _a, _b)[0] for xi in _x])
_got = uniform_latent_log_pdf(_x, _a, _b, _sg)
assert_shape(_got, (6,), "uniform_latent_log_pdf(x) for x of shape (6,)", hint="one log-density per point", mistake="uniform.shape")
assert_close(_got, _ref, rtol=1e-8, name="uniform_latent_log_pdf(x, -1, 2, 0.5) against numerical integration",
             hint="p(x) averages N(x; z, sigma^2) over z ~ Uniform(a, b): include the prior density 1 / (b - a), and "
                  "sigma is a standard deviation", mistake="uniform.formula")
_mass = quad(lambda t: float(np.exp(uniform_latent_log_pdf(np.array([t]), _a, _b, _sg))[0]), -8.0, 9.0,
             points=[_a, _b])[0]
assert_close(_mass, 1.0, rtol=1e-8, name="integral of exp(uniform_latent_log_pdf) over x",
             hint="p(x) must integrate to 1: divide by (b - a)", mistake="uniform.not-normalized")
# 40 sigma outside [a, b] (x = 22 and x = -21) the true log p(x) is finite: the reference was computed once by
# integrating the definition numerically in 40-digit arithmetic (mpmath.quad over 200 subintervals of [a, b]).
_xf = np.array([_b + 40 * _sg, _a - 40 * _sg])
with no_float_errors("uniform_latent_log_pdf 40 sigma outside [a, b]", hint="Phi(-40) underflows to 0 and "
                     "Phi(46) - Phi(40) rounds to 1 - 1 = 0: work in log space with scipy.special.log_ndtr, and "
                     "rewrite the difference left of a so that both arguments are negative.", mistake="uniform.no-log-space"):
    _far = uniform_latent_log_pdf(_xf, _a, _b, _sg)
assert_close(_far, [-805.7070543024025, -805.7070543024025], rtol=1e-10,
             name="uniform_latent_log_pdf 40 sigma outside [a, b]",
             hint="work in log space with scipy.special.log_ndtr on negative arguments", mistake="uniform.no-log-space")
print("uniform_latent_log_pdf: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_uniform_latent_log_pdf_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check other intervals and points 100 sigma away when your notebook is graded.
### BEGIN HIDDEN TESTS
import numpy as np
from scipy.integrate import quad
from scipy.special import log_ndtr
from scipy.stats import norm
from dgm_utils.checks import assert_close, no_float_errors

_a, _b, _sg = 0.0, 10.0, 2.0
_x = np.array([-5.0, 0.0, 3.3, 10.0, 14.0])
_ref = np.log([quad(lambda z: norm.pdf(xi, z, _sg) / (_b - _a), _a, _b)[0] for xi in _x])
assert_close(uniform_latent_log_pdf(_x, _a, _b, _sg), _ref, rtol=1e-8, name="uniform_latent_log_pdf (hidden)", mistake="uniform.formula")
with no_float_errors("100 sigma outside (hidden)", mistake="uniform.no-log-space"):
    _far = uniform_latent_log_pdf(np.array([_b + 100 * _sg, _a - 100 * _sg]), _a, _b, _sg)
assert_close(_far, np.full(2, log_ndtr(-100.0) - np.log(_b - _a)), rtol=1e-10, name="100 sigma outside (hidden)", mistake="uniform.no-log-space")
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 6: a generic Monte Carlo estimator of $\log p(x)$ (2 points)
# Write it for *any* latent-variable model, given two functions: `sample_z(n_samples, rng)` draws
# latents from the prior and `log_px_given_z(x, z)` returns the $(n, S)$ table of
# $\log p(x_i \mid z_s)$. Then
#
# $$\log \hat p(x_i) = \log \frac1S \sum_{s=1}^S e^{\log p(x_i \mid z_s)}
# = \operatorname{logsumexp}_s \log p(x_i \mid z_s) - \log S.$$
#
# Two traps. **Log of the mean, not mean of the logs**: $\frac1S\sum_s \log p(x \mid z_s)$ estimates
# $\mathbb{E}[\log p(x \mid z)]$, which is *smaller* than $\log \mathbb{E}[p(x \mid z)] = \log p(x)$ by
# Jensen's inequality, however many samples you draw. And **log-sum-exp**: $p(x \mid z_s)$ underflows for
# $x$ far from every sampled $z_s$. The same latents may serve every $x_i$.

# %% nbgrader={"grade": false, "grade_id": "monte_carlo_log_pdf", "locked": false, "schema_version": 3, "solution": true, "task": false}
def monte_carlo_log_pdf(x, sample_z, log_px_given_z, n_samples, rng):
    """Monte Carlo estimate of log p(x_i) = log E_{z ~ p(z)} p(x_i | z), for every x_i.

    Args:
        x: float64 array (n,): points.
        sample_z: callable (n_samples: int, rng) -> array (n_samples,) of latents drawn from p(z).
        log_px_given_z: callable (x (n,), z (n_samples,)) -> float64 array (n, n_samples) of log p(x_i | z_s).
        n_samples: int >= 1: number of latent samples S.
        rng: numpy.random.Generator: passed to sample_z.

    Returns:
        float64 array (n,): logsumexp_s log p(x_i | z_s) - log(S), finite far from every z_s.
    """
    ### BEGIN SOLUTION
    z = sample_z(n_samples, rng)
    log_w = log_px_given_z(np.asarray(x, dtype=np.float64), z)  # (n, S)
    return logsumexp(log_w, axis=1) - np.log(n_samples)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_monte_carlo_log_pdf", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import numpy as np
from scipy.stats import norm
from dgm_utils.checks import assert_close, assert_finite, assert_shape, expect, no_float_errors

# A model with a known marginal: z ~ N(0, 1), x | z ~ N(z, s^2), so x ~ N(0, 1 + s^2).
_sd, _S = 0.5, 20_000
def _sample_z(m, rng):
    return rng.standard_normal(m)
def _log_px_z(x, z):
    return norm.logpdf(x[:, None], z[None, :], _sd)
_x = np.array([-2.0, -0.5, 0.0, 1.0, 2.5])
_est = monte_carlo_log_pdf(_x, _sample_z, _log_px_z, _S, np.random.default_rng(24))
assert_shape(_est, (5,), "monte_carlo_log_pdf(x) for x of shape (5,)", hint="one estimate per point: reduce over the samples (axis=1)", mistake="mc.shape")
_p = norm.pdf(_x, 0.0, np.sqrt(1 + _sd**2))
# 5 standard errors of an average of S values p(x | z_s), with E[p(x | z)^2] = N(x; 0, 1 + s^2/2) / (2 s sqrt(pi)).
_tol = 5 * np.sqrt((norm.pdf(_x, 0.0, np.sqrt(1 + _sd**2 / 2)) / (2 * _sd * np.sqrt(np.pi)) - _p**2) / _S)
expect(not np.all(np.exp(_est) < _p - _tol), "every estimate is below the true p(x) by more than 5 standard errors: "
       "this is the mean of the logs, E[log p(x | z)] <= log E[p(x | z)] by Jensen's inequality",
       hint="estimate the log of the mean, logsumexp_s log p(x | z_s) - log(n_samples)", mistake="mc.mean-of-logs")
expect(not np.allclose(_est - np.log(_S), np.log(_p), atol=0.05), f"the estimates are log(n_samples) = {np.log(_S):.2f} "
       "too large: you summed instead of averaging", hint="subtract log(n_samples) after the log-sum-exp", mistake="mc.sum-not-mean")
assert_close(np.exp(_est), _p, rtol=0.0, atol=_tol, name=f"exp(monte_carlo_log_pdf(x)) with {_S} samples against the true p(x)",
             hint="draw z_s = sample_z(n_samples, rng) and average p(x | z_s) in log space: "
                  "logsumexp_s log p(x | z_s) - log(n_samples)", mistake="mc.wrong-estimate")
assert_close(monte_carlo_log_pdf(_x, _sample_z, _log_px_z, _S, np.random.default_rng(24)), _est, rtol=0.0, atol=0.0,
             name="a second estimate with the same seed", hint="draw the latents with sample_z(n_samples, rng)", mistake="mc.rng")
# Far from every sampled z: each p(x | z_s) underflows, log p(x) does not.
with no_float_errors("monte_carlo_log_pdf at x = +-40", hint="every p(x | z_s) underflows to 0 there; average in "
                     "log space with a log-sum-exp: logsumexp_s log p(x | z_s) - log(n_samples).",
                     mistake="mc.no-logsumexp"):
    _far = monte_carlo_log_pdf(np.array([40.0, -40.0]), _sample_z, _log_px_z, 1000, np.random.default_rng(25))
assert_finite(_far, "monte_carlo_log_pdf at x = +-40", hint="use a log-sum-exp over the samples", mistake="mc.no-logsumexp")
print("monte_carlo_log_pdf: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_monte_carlo_log_pdf_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check the estimator on the uniform-latent model when your notebook is graded.
### BEGIN HIDDEN TESTS
import numpy as np
from scipy.integrate import quad
from scipy.stats import norm
from dgm_utils.checks import expect

_a, _b, _sg = -1.0, 2.0, 0.4
_x = np.array([-1.5, 0.0, 1.0, 2.2])
_S = 40_000
_est = monte_carlo_log_pdf(_x, lambda m, rng: rng.uniform(_a, _b, size=m),
                           lambda x, z: norm.logpdf(x[:, None], z[None, :], _sg), _S, np.random.default_rng(35))
_p = np.array([quad(lambda z: norm.pdf(xi, z, _sg) / (_b - _a), _a, _b)[0] for xi in _x])
_Ew2 = np.array([quad(lambda z: norm.pdf(xi, z, _sg) ** 2 / (_b - _a), _a, _b)[0] for xi in _x])
_tol = 5 * np.sqrt((_Ew2 - _p**2) / _S)
expect(np.all(np.abs(np.exp(_est) - _p) <= _tol), f"hidden: estimates {np.exp(_est)}, true {_p}, tolerance {_tol}", mistake="mc.wrong-estimate")
### END HIDDEN TESTS

# %% [markdown]
# ### Figure: Monte Carlo error against the number of samples
# Left: the closed form, the Monte Carlo estimate with 200 samples, and a histogram of ancestral
# samples of the model ($z$ first, then $x$). Right: the root-mean-square error of $\log \hat p(x)$ over
# 20 repetitions, for $x \in \{-1, 0.5, 2.5\}$: it falls like $1/\sqrt{S}$. The mean of the logs does not
# converge to $\log p(x)$: its error stalls at the Jensen gap.

# %% tags=["demo"]
a, b, sigma = -1.0, 2.0, 0.4
sample_z = lambda m, r: r.uniform(a, b, size=m)
log_px_given_z = lambda x, z: gaussian_log_pdf(x[:, None], z[None, :], sigma)

z_samp = rng.uniform(a, b, size=20_000)
x_samp = rng.normal(z_samp, sigma)
grid = np.linspace(-3, 4, 300)
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
axes[0].hist(x_samp, bins=80, density=True, color="lightgray", label="samples: z ~ U(a, b), x ~ N(z, sigma^2)")
axes[0].plot(grid, np.exp(uniform_latent_log_pdf(grid, a, b, sigma)), "k", lw=2, label="closed form")
axes[0].plot(grid, np.exp(monte_carlo_log_pdf(grid, sample_z, log_px_given_z, 200, rng)), "C1--",
             label="Monte Carlo, 200 samples")
axes[0].set(title=f"z ~ Uniform({a:g}, {b:g}), x | z ~ N(z, {sigma:g}^2)", xlabel="$x$", ylabel="density")
axes[0].legend(fontsize=8)

x_eval = np.array([-1.0, 0.5, 2.5])
exact = uniform_latent_log_pdf(x_eval, a, b, sigma)
sizes = np.unique(np.logspace(0.5, 4.5, 9).astype(int))
rmse, rmse_logs = [], []
for S in sizes:
    est = np.array([monte_carlo_log_pdf(x_eval, sample_z, log_px_given_z, S, rng) for _ in range(20)])
    mean_of_logs = np.array([log_px_given_z(x_eval, sample_z(S, rng)).mean(axis=1) for _ in range(20)])
    rmse.append(np.sqrt(np.mean((est - exact) ** 2, axis=0)))
    rmse_logs.append(np.sqrt(np.mean((mean_of_logs - exact) ** 2, axis=0)))
rmse, rmse_logs = np.array(rmse), np.array(rmse_logs)
for i, xe in enumerate(x_eval):
    axes[1].loglog(sizes, rmse[:, i], "o-", color=f"C{i}", label=f"log-sum-exp estimator, x = {xe:g}")
    axes[1].loglog(sizes, rmse_logs[:, i], "x:", color=f"C{i}", label=f"mean of the logs, x = {xe:g}")
axes[1].loglog(sizes, rmse[-1].mean() * np.sqrt(sizes[-1] / sizes), "k--", lw=1, label=r"$\propto 1/\sqrt{S}$")
axes[1].set(title="Monte Carlo error of log p(x)", xlabel="number of samples S", ylabel="RMS error (nats)")
axes[1].legend(fontsize=7, ncol=2)
plt.tight_layout()
plt.show()

# %% [markdown]
# A VAE (notebook 06) is this last model with $z \sim \mathcal{N}(0, I)$ and $p(x \mid z)$ Gaussian with
# mean $\mu_\theta(z)$ and scale $\sigma_\phi(z)$ given by neural networks; the same estimator as
# `monte_carlo_log_pdf`, rewritten in PyTorch as `estimate_log_px`, is how we will estimate its $\log p(x)$.
#
# ### Written answer (manually graded, 2 points)
# Look at the EM iterations figure: the log-likelihood never decreases. Explain why, in 3 to 6
# sentences. Hint: for any distribution $q(z)$ over the latent of one example,
# $\log p(x) \ge \mathbb{E}_{q}[\log p(x, z)] - \mathbb{E}_{q}[\log q(z)]$ (Jensen's inequality), with
# equality when $q(z) = p(z \mid x)$. Which step makes the bound tight, and which step raises it?

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_em", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# ### BEGIN SOLUTION
# Write $\mathcal{L}(q, \theta) = \sum_i \mathbb{E}_{q_i}[\log p_\theta(x_i, z_i)] - \mathbb{E}_{q_i}[\log q_i(z_i)]$;
# by Jensen's inequality $\mathcal{L}(q, \theta) \le \log p_\theta(x)$ for every $q$ and $\theta$, with equality
# when each $q_i$ is the posterior $p_\theta(z_i \mid x_i)$. The E-step sets $q_i = p_{\theta_t}(z_i \mid x_i)$
# (the responsibilities), which makes the bound tight: $\mathcal{L}(q, \theta_t) = \log p_{\theta_t}(x)$.
# The M-step maximizes $\mathcal{L}(q, \theta)$ over $\theta$ with $q$ fixed (the entropy term does not depend
# on $\theta$, so this is the weighted maximum likelihood of the formulas), so
# $\mathcal{L}(q, \theta_{t+1}) \ge \mathcal{L}(q, \theta_t)$. Chaining,
# $\log p_{\theta_{t+1}}(x) \ge \mathcal{L}(q, \theta_{t+1}) \ge \mathcal{L}(q, \theta_t) = \log p_{\theta_t}(x)$:
# each iteration can only increase the log-likelihood, so its values converge, typically to a local
# (not necessarily global) maximum; in general EM only guarantees a stationary point. The same lower bound, with a learned $q(z \mid x)$ instead of the exact posterior, is the ELBO of the VAE.
# ### END SOLUTION
