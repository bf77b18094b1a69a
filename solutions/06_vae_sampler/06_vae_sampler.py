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
# # 06 · The generative process of a VAE: simple conditionals, a complicated marginal
#
# **The story so far.** We turned prediction models into generative models one step at a time:
#
# 1. **Logistic regression**: $y$ depends on $x$ linearly through a sigmoid.
# 2. **MLPs**: non-linear features $h = \sigma(Ax + b)$, then logistic regression on $h$.
# 3. **Autoregressive models**: the chain rule writes any joint as a product of conditionals,
#    each one a neural prediction model.
# 4. **Continuous densities**: the same machinery for real-valued $x$.
# 5. **Gaussian mixtures**: a two-node Bayesian network $z \to x$ with a *discrete* $z$.
# 6. **The VAE's generative process** (this notebook): the same network $z \to x$ with a
#    *continuous* $z \sim \mathcal{N}(0, I)$, and a Gaussian $p(x \mid z)$ whose mean and standard
#    deviation are outputs of two neural networks $\mu_\theta(z)$ and $\sigma_\phi(z)$.
#
# Every conditional in this model is as simple as it gets (a diagonal Gaussian), yet the marginal
# $p(x)$ can be almost any shape. The price: $p(x)$ is an integral over $z$ that we can only
# *estimate*, and the estimate gets expensive.
#
# ## What you will build
# - `GaussianDecoder`: the two networks $\mu_\theta$ and $\sigma_\phi$, with $\sigma_\phi(z) > 0$ for every $z$;
# - `sample_prior` and `sample_vae`: ancestral sampling of $(x, z)$, seeded by an explicit `torch.Generator`;
# - `gaussian_log_likelihood`: $\log p(x \mid z)$ for a diagonal Gaussian;
# - `estimate_log_px`: a Monte Carlo estimate of $\log p(x)$ through log-sum-exp;
# - `linear_decoder_log_px`: the exact $\log p(x)$ of a *linear* decoder, the one case where $p(x)$
#   is Gaussian, in closed form.
#
# Then you will draw the density of a decoder that maps a 1-D $z$ onto a ring, watch the
# Monte Carlo error shrink as the number of samples grows, measure how far from Gaussian $p(x)$
# gets as a line is bent into that ring, and see that notebook 05's mixture is the same network
# with a discrete $z$. An optional, ungraded last section trains a small VAE
# on the binarized digits as a preview of the next lecture.
#
# **How to work.** Replace each `raise NotImplementedError(...)` with your code, then run
# the test cell below it. A failing test says what is wrong and usually why. Some tests are
# hidden and run only when your notebook is graded: they check the same contract on other
# inputs, so passing the visible tests *honestly* is the best preparation.

# %%
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
import matplotlib.pyplot as plt

from dgm_utils.seeding import make_generator, seed_everything

seed_everything(0)  # the initial weights of the networks below; samplers take explicit generators
torch.set_num_threads(1)  # our tensors are small: one thread is faster than several competing for the cores
# %matplotlib inline

# %% [markdown]
# ## 1. From a mixture to a continuous latent variable
#
# In notebook 05 the latent variable was a component index $z \in \{1, \dots, K\}$ (numbered
# $0, \dots, K-1$ in the code) and
#
# $$p(x) = \sum_{k=1}^K w_k\, \mathcal{N}(x;\, \mu_k, \sigma_k^2).$$
#
# Now $z \in \mathbb{R}^m$ is continuous, with the simplest prior there is,
# $p(z) = \mathcal{N}(0, I_m)$, and the mean and standard deviation of $x$ are *functions* of $z$
# computed by two neural networks:
#
# $$p(x \mid z) = \mathcal{N}\big(x;\ \mu_\theta(z),\ \operatorname{diag} \sigma_\phi(z)^2\big)
#   = \prod_{j=1}^d \mathcal{N}\big(x_j;\ \mu_\theta(z)_j,\ \sigma_\phi(z)_j^2\big),
# \qquad
# p(x) = \int p(z)\, p(x \mid z)\, dz .$$
#
# The marginal is an *infinite* mixture of Gaussians, one for every $z$, weighted by $p(z)$.
# The network that computes $(\mu, \sigma)$ from $z$ is called the **decoder**.
#
# ### Exercise 1: the decoder (3 points)
# Write an `nn.Module` with two networks: `mu_theta` maps $z$ (n, latent_dim) to the means
# (n, data_dim), `sigma_phi` to the standard deviations (n, data_dim). One hidden layer each
# is enough (any activation). A linear output can be negative, and a standard deviation cannot:
# make $\sigma$ positive for **every** $z$, e.g. with `F.softplus` (plus a small floor such as
# $10^{-4}$, because softplus underflows to 0 far in its left tail) or with `torch.exp`.
# Store `latent_dim` as an attribute: the samplers below read it.

# %% nbgrader={"grade": false, "grade_id": "GaussianDecoder", "locked": false, "schema_version": 3, "solution": true, "task": false}
class GaussianDecoder(nn.Module):
    """p(x | z) = N(x; mu_theta(z), diag sigma_phi(z)^2), with two small neural networks.

    Args:
        latent_dim: int >= 1: dimension m of z.
        data_dim: int >= 1: dimension d of x.
        hidden_dim: int >= 1: width of the hidden layer of each network.

    Attributes:
        latent_dim: int: as given (sample_vae and estimate_log_px read it).
        mu_theta: nn.Module: maps z (n, latent_dim) to the means (n, data_dim).
        sigma_phi: nn.Module: maps z (n, latent_dim) to (the parameters of) the standard
            deviations (n, data_dim).
    """

    def __init__(self, latent_dim, data_dim, hidden_dim):
        super().__init__()
        ### BEGIN SOLUTION
        self.latent_dim, self.data_dim = latent_dim, data_dim
        self.mu_theta = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.Tanh(), nn.Linear(hidden_dim, data_dim))
        self.sigma_phi = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.Tanh(), nn.Linear(hidden_dim, data_dim),
            nn.Softplus())  # softplus(s) = log(1 + e^s) > 0, computed stably by torch
        ### END SOLUTION

    def forward(self, z):
        """Decode latent vectors.

        Args:
            z: float32 tensor (n, latent_dim): latent vectors (any real values).

        Returns:
            (mu, sigma): float32 tensors (n, data_dim) each: the mean and the standard
            deviation of x given each z; sigma > 0 everywhere.
        """
        ### BEGIN SOLUTION
        return self.mu_theta(z), self.sigma_phi(z) + 1e-4  # the floor keeps sigma > 0 in float32
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_GaussianDecoder", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import numpy as np
import torch
from dgm_utils.checks import assert_finite, assert_shape, expect

torch.manual_seed(0)  # the decoder's initial weights
_dec = GaussianDecoder(latent_dim=2, data_dim=3, hidden_dim=16)
expect(all(callable(getattr(_dec, m, None)) for m in ("named_parameters", "state_dict", "load_state_dict")),
       "GaussianDecoder has no parameters or state_dict: it must subclass torch.nn.Module.",
       hint="class GaussianDecoder(nn.Module), and call super().__init__() first in __init__", mistake="decoder.not-a-module")
expect(getattr(_dec, "latent_dim", None) == 2, f"GaussianDecoder(latent_dim=2, ...).latent_dim is {getattr(_dec, 'latent_dim', None)!r}, "
       "expected 2.", hint="store it in __init__ (self.latent_dim = latent_dim): the samplers read it", mistake="decoder.latent-dim")
_params = {}  # network name -> {full parameter name: a copy of its initial value}
for _name in ("mu_theta", "sigma_phi"):
    _net = getattr(_dec, _name, None)
    _params[_name] = {f"{_name}.{n}": p.detach().clone() for n, p in getattr(_net, "named_parameters", dict)()}
    expect(_params[_name], f"GaussianDecoder needs a network self.{_name} with weights to learn "
           "(e.g. nn.Sequential(nn.Linear(...), nn.Tanh(), nn.Linear(...))).", mistake="decoder.networks")
    _lost = sorted(set(_params[_name]) - set(_dec.state_dict()))
    expect(not _lost, f"the parameters {_lost} of {_name} are not parameters of the decoder, so an optimizer of "
           "decoder.parameters() would never train them.", hint=f"assign the network as an attribute "
           f"(self.{_name} = nn.Sequential(...)) after super().__init__()", mistake="decoder.unregistered")
_rng = np.random.default_rng(1)
_z = torch.tensor(3.0 * _rng.normal(size=(500, 2)), dtype=torch.float32)
_out = _dec(_z)
expect(isinstance(_out, (tuple, list)) and len(_out) == 2, "forward(z) must return the pair (mu, sigma)", mistake="decoder.output")
for _t, _what in zip(_out, ("mu", "sigma")):
    assert_shape(_t, (500, 3), f"{_what} for z of shape (500, 2)", hint="each network maps latent_dim -> data_dim", mistake="decoder.shape")
    assert_finite(_t, _what)
_mu, _sigma = _out
expect(bool((_sigma > 0).all()), f"sigma must be positive for every z, but {int((_sigma <= 0).sum())} of {_sigma.numel()} "
       f"entries are <= 0 (smallest: {float(_sigma.detach().min()):.4g}).", hint="the output of a linear layer can be "
       "negative; pass it through F.softplus (plus a small floor) or torch.exp", mistake="decoder.sigma-not-positive")
expect(float(_mu.detach().std(dim=0).min()) > 1e-6, "mu does not change with z: mu_theta must be a function of z", mistake="decoder.mu-constant")
expect(float(_sigma.detach().std(dim=0).min()) > 1e-8, "sigma does not change with z: sigma_phi must be a function of z", mistake="decoder.sigma-constant")
_cut = [n for n, t in zip(("mu", "sigma"), _out) if not t.requires_grad]
expect(not _cut, f"{' and '.join(_cut)} from forward(z) is cut off from the networks' parameters (requires_grad is False): "
       "no gradient would reach them and training could not change them.", hint="compute mu with self.mu_theta(z) and sigma "
       "with self.sigma_phi(z), keeping the graph (no .detach(), no torch.no_grad(), no .item() or .numpy())", mistake="decoder.detached")
_dec.eval()  # a dropout layer, if any, is then the identity: the same z gives the same (mu, sigma)
_decode = lambda: tuple(t.detach() for t in _dec(_z))
_base = _decode()
expect(all(torch.equal(a, b) for a, b in zip(_base, _decode())), "two calls of forward(z) on the same z gave different (mu, sigma): "
       "mu_theta and sigma_phi must be deterministic functions of z (the noise of x is drawn by the sampler, not by the decoder).",
       mistake="decoder.not-deterministic")
# Each parameter of mu_theta must move mu and leave sigma alone, and each parameter of sigma_phi the reverse:
# change one parameter tensor at a time (through load_state_dict) and watch (mu, sigma) on the same z.
for _name, _own, _what, _not, _other in (("mu_theta", 0, "mu", "sigma", "sigma_phi"), ("sigma_phi", 1, "sigma", "mu", "mu_theta")):
    for _key, _p in _params[_name].items():
        _dec.load_state_dict({_key: _p + torch.tensor(0.5 * _rng.normal(size=tuple(_p.shape)), dtype=_p.dtype)}, strict=False)
        _new = _decode()
        _dec.load_state_dict({_key: _p}, strict=False)  # back to the initial value
        expect(not torch.allclose(_new[_own], _base[_own], rtol=1e-5, atol=1e-7), f"changing the parameter {_key} of {_name} "
               f"does not change {_what}: forward(z) does not compute {_what} with self.{_name}(z), so this parameter would "
               "receive no gradient and never be trained.", hint=f"{_what} = self.{_name}(z) (then softplus or exp for sigma), "
               f"using every layer of {_name}", mistake="decoder.wrong-network")
        expect(torch.allclose(_new[1 - _own], _base[1 - _own], rtol=1e-5, atol=1e-7), f"changing the parameter {_key} of {_name} "
               f"changes {_not}: {_not} must be computed by self.{_other}(z) alone, mu and sigma by two networks with their "
               "own parameters (theta for the mean, phi for the standard deviation).", mistake="decoder.wrong-network")
print("GaussianDecoder: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_GaussianDecoder_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check other sizes and larger latent vectors when your notebook is graded.
### BEGIN HIDDEN TESTS
import torch
from dgm_utils.checks import assert_finite, assert_shape, expect

torch.manual_seed(1)
_dec = GaussianDecoder(1, 5, 8)
assert _dec.latent_dim == 1
_z = 10.0 * torch.randn(300, 1, generator=torch.Generator().manual_seed(2))
_mu, _sigma = _dec(_z)
assert_shape(_mu, (300, 5), "mu (hidden)")
assert_shape(_sigma, (300, 5), "sigma (hidden)")
assert_finite(_sigma, "sigma for |z| up to about 30")
expect(bool((_sigma > 0).all()), f"sigma <= 0 for some z of size up to 30 (min {float(_sigma.detach().min())})", mistake="decoder.sigma-not-positive")
_mu1, _sigma1 = _dec(torch.zeros(1, 1))
assert_shape(_mu1, (1, 5), "mu for a single z")
assert bool((_sigma1 > 0).all())
### END HIDDEN TESTS

# %% [markdown]
# What does a decoder *do* to the latent space? Below, straight lines of a grid in the $z$-plane
# are pushed through the mean network $\mu_\theta$ of an untrained `GaussianDecoder(2, 2, 32)`
# (random weights): the plane is bent and folded. Colour shows $\sigma_\phi(z)$, the noise that
# $p(x \mid z)$ adds around each mean.

# %% tags=["demo"]
decoder_2d = GaussianDecoder(latent_dim=2, data_dim=2, hidden_dim=32)
with torch.no_grad():
    t = torch.linspace(-2.5, 2.5, 101)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for level in torch.linspace(-2.5, 2.5, 11):
        for z_line in (torch.stack([t, torch.full_like(t, float(level))], 1),
                       torch.stack([torch.full_like(t, float(level)), t], 1)):
            axes[0].plot(z_line[:, 0], z_line[:, 1], color="0.6", lw=0.8)
            mu_line, sigma_line = decoder_2d(z_line)
            axes[1].plot(mu_line[:, 0], mu_line[:, 1], color="0.6", lw=0.8)
    zz = torch.cartesian_prod(torch.linspace(-2.5, 2.5, 41), torch.linspace(-2.5, 2.5, 41))
    mu_pts, sigma_pts = decoder_2d(zz)
    sc = axes[1].scatter(mu_pts[:, 0], mu_pts[:, 1], c=sigma_pts.mean(1), s=6, cmap="viridis")
    plt.colorbar(sc, ax=axes[1], label=r"mean of $\sigma_\phi(z)$")
axes[0].set(title="a grid in the latent plane", xlabel="$z_1$", ylabel="$z_2$")
axes[1].set(title=r"its image under $\mu_\theta$ (random weights)", xlabel="$x_1$", ylabel="$x_2$")
plt.tight_layout()
plt.show()


# %% [markdown]
# ## 2. Ancestral sampling
#
# A Bayesian network is sampled in topological order (notebooks 03 and 05): first the parent,
# then the child given the parent. Here
#
# $$z \sim \mathcal{N}(0, I_m), \qquad x = \mu_\theta(z) + \sigma_\phi(z) \odot \varepsilon,
#   \quad \varepsilon \sim \mathcal{N}(0, I_d),$$
#
# where $\odot$ multiplies coordinate by coordinate: $\sigma$ is a *standard deviation*, so it
# multiplies the standard normal noise directly (the variance is $\sigma^2$).
#
# **Seeding.** Every sampler takes a `generator` (a `torch.Generator`, or `None` for torch's
# global one) and must draw *all* its random numbers from it: torch's random samplers accept a
# `generator=` keyword argument (PyTorch documentation, "Random sampling"). Beware the samplers
# whose names end in `_like`: they have no `generator` argument, so they silently use the global one.
#
# ### Exercise 2: the prior (3 points)
# Write `sample_prior`: `n` independent draws of $z \sim \mathcal{N}(0, I_m)$ as a float32 tensor,
# every random number taken from `generator`. First ask yourself what $\mathcal{N}(0, I_m)$ says
# about one coordinate of $z$, about two coordinates of the same $z$, and about two different rows.
# The test checks exactly that, statistically: the mean and variance, the whole shape of the
# distribution (a Kolmogorov-Smirnov test against $\mathcal{N}(0, 1)$), no dependence between
# coordinates or between rows, and that the same seed gives the same draws.

# %% [markdown]
# <details><summary>Hint (open only if stuck)</summary>
#
# $\mathcal{N}(0, I_m)$ is $m$ independent standard normal coordinates, and the $n$ rows are
# independent draws: one call of torch's standard normal sampler, with the shape $(n, m)$ and the
# generator, gives all of them. The uniform sampler is a different function.
#
# </details>

# %% nbgrader={"grade": false, "grade_id": "sample_prior", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sample_prior(n, latent_dim, generator=None):
    """Draw n latent vectors from the prior p(z) = N(0, I).

    Args:
        n: int >= 1: number of samples.
        latent_dim: int >= 1: dimension of z.
        generator: torch.Generator or None: the source of randomness (None: torch's global one).

    Returns:
        float32 tensor (n, latent_dim) of independent standard normal entries.
    """
    ### BEGIN SOLUTION
    return torch.randn(n, latent_dim, generator=generator)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_sample_prior", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import torch
from scipy.stats import kstest
from dgm_utils.checks import assert_mean, assert_shape, assert_tensor, expect

_n = 20000
_z = sample_prior(_n, 3, generator=torch.Generator().manual_seed(0))
assert_tensor(_z, "sample_prior(20000, 3)", mistake="prior.not-a-tensor")
assert_shape(_z, (_n, 3), "sample_prior(20000, 3)", hint="one row per sample, latent_dim columns", mistake="prior.shape")
expect(_z.dtype == torch.float32, f"sample_prior must return float32, got {_z.dtype}", mistake="prior.dtype")
_z = _z.double()
expect(not (_z[:, :1] == _z[:, 1:]).all(dim=0).any(), "the coordinates of each z are equal: they must be independent draws",
       mistake="prior.correlated")
expect(len(torch.unique(_z, dim=0)) == _n, "some rows of z are repeated: the n rows must be independent draws, not one z copied",
       mistake="prior.correlated")
_hint = "each coordinate of z is standard normal: mean 0, variance 1, the bell shape (a uniform draw is not)"
assert_mean(_z, 0.0, 1.0, name="mean of z", hint=_hint, mistake="prior.not-standard-normal")
assert_mean(_z**2, 1.0, 2**0.5, name="mean of z**2 (the variance)", hint=_hint, mistake="prior.not-standard-normal")
_p = kstest(_z.flatten().numpy(), "norm").pvalue  # the whole distribution, not only two moments
expect(_p > 1e-6, f"a Kolmogorov-Smirnov test rejects N(0, 1) for the 60000 values of z (p-value {_p:.2g}; a correct "
       "sampler falls below 1e-6 once in a million runs): right mean and variance, wrong shape.", hint=_hint, mistake="prior.not-standard-normal")
_hint = "the coordinates of z, and the rows, are independent draws"
assert_mean(_z[:, :1] * _z[:, 1:], 0.0, 1.0, name="mean of z_1 * z_j (coordinates of one z)", hint=_hint, mistake="prior.correlated")
assert_mean(_z[1:] * _z[:-1], 0.0, 1.0, name="mean of z_i * z_(i+1) (consecutive rows)", hint=_hint, mistake="prior.correlated")
_draw = lambda seed: sample_prior(50, 2, generator=torch.Generator().manual_seed(seed))
expect(torch.equal(_draw(7), _draw(7)) and not torch.equal(_draw(7), _draw(8)), "generators seeded alike must give "
       "the same samples and other seeds other samples: sample_prior ignores its generator argument.",
       hint="take every random number from the generator you are given (generator=generator)", mistake="prior.generator-ignored")
assert_shape(sample_prior(4, 2), (4, 2), "sample_prior(4, 2) without a generator", mistake="prior.shape")
print("sample_prior: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_sample_prior_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check other sizes and seeds when your notebook is graded.
### BEGIN HIDDEN TESTS
import numpy as np
import torch
from scipy.stats import norm
from dgm_utils.checks import assert_frequencies, assert_mean, assert_shape

_z = sample_prior(30000, 1, generator=torch.Generator().manual_seed(123))
assert_shape(_z, (30000, 1), "sample_prior(30000, 1)")
assert_mean(_z, 0.0, 1.0, name="mean of z (hidden)")
assert_mean(_z**2, 1.0, np.sqrt(2.0), name="variance of z (hidden)")
assert_mean(_z**4, 3.0, np.sqrt(96.0), name="fourth moment of z (hidden)")
_edges = np.array([-np.inf, -2.5, -1.5, -0.75, -0.25, 0.25, 0.75, 1.5, 2.5, np.inf])
assert_frequencies(np.histogram(_z.numpy().ravel(), bins=_edges)[0], np.diff(norm.cdf(_edges)),
                   name="histogram of z (hidden)")
assert torch.equal(sample_prior(3, 4, generator=torch.Generator().manual_seed(5)),
                   sample_prior(3, 4, generator=torch.Generator().manual_seed(5)))
### END HIDDEN TESTS

# %% tags=["demo"]
z_demo = sample_prior(2000, 2, generator=make_generator(0))
fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
axes[0].scatter(z_demo[:, 0], z_demo[:, 1], s=4, alpha=0.5)
axes[0].set(title="2,000 draws of z ~ N(0, I)", xlabel="$z_1$", ylabel="$z_2$", aspect="equal")
grid_1d = np.linspace(-4, 4, 200)
axes[1].hist(z_demo[:, 0].numpy(), bins=40, density=True, alpha=0.6, label="histogram of $z_1$")
axes[1].plot(grid_1d, np.exp(-grid_1d**2 / 2) / np.sqrt(2 * np.pi), "k", label="$\\mathcal{N}(0, 1)$ density")
axes[1].legend()
plt.tight_layout()
plt.show()


# %% [markdown]
# ### Exercise 3: ancestral sampling of $(x, z)$ (3 points)
# `sample_vae` must work with **any** decoder: any `nn.Module` with an attribute `latent_dim`
# whose `forward(z)` returns `(mu, sigma)`. Draw $z$ with your `sample_prior`, decode it, add
# the noise, and return both $x$ and the $z$ it came from. Pass the generator to every draw.
#
# The simplest decoder with that interface is linear: $\mu_\theta(z) = Wz + c$ with a constant
# standard deviation $s$. The tests use it (you will meet it again in Exercise 6).

# %%
import torch
from torch import nn


class LinearDecoder(nn.Module):
    """A hand-set decoder: mu(z) = W z + c and sigma(z) = s whatever z.

    W: tensor (data_dim, latent_dim); c, s: tensors (data_dim,), s > 0. They are fixed parameters
    (not trained; a sampler may read next(decoder.parameters()).dtype).
    """

    def __init__(self, W, c, s):
        super().__init__()
        self.W, self.c, self.s = (nn.Parameter(torch.as_tensor(t, dtype=torch.float32), requires_grad=False)
                                  for t in (W, c, s))
        self.latent_dim = self.W.shape[1]

    def forward(self, z):
        return z @ self.W.T + self.c, self.s.expand(z.shape[0], -1)


# %% nbgrader={"grade": false, "grade_id": "sample_vae", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sample_vae(decoder, n, generator=None):
    """Ancestral sampling from the VAE's generative process z -> x.

    Args:
        decoder: nn.Module with an int attribute latent_dim, whose forward(z) maps z
            (n, latent_dim) to (mu, sigma), each (n, data_dim), sigma > 0 (a standard deviation).
        n: int >= 1: number of samples.
        generator: torch.Generator or None: the only source of randomness, for z and for the noise.

    Returns:
        (x, z): float32 tensors (n, data_dim) and (n, latent_dim): z ~ N(0, I) and
        x ~ N(mu(z), diag sigma(z)^2) given that same z.
    """
    ### BEGIN SOLUTION
    z = sample_prior(n, decoder.latent_dim, generator=generator)
    mu, sigma = decoder(z)
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
    return mu + sigma * eps, z
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_sample_vae", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import torch
from dgm_utils.checks import assert_mean, assert_shape, expect

_W = torch.tensor([[1.0, 0.5, 0.0], [0.3, -1.0, 0.8]])  # data_dim 2, latent_dim 3
_c, _s = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 2.0])
_dec = LinearDecoder(_W, _c, _s)
_x, _z = sample_vae(_dec, 20000, generator=torch.Generator().manual_seed(0))
assert_tensor(_x, "x from sample_vae(decoder, 20000)", mistake="sample.not-a-tensor")
assert_tensor(_z, "z from sample_vae(decoder, 20000)", mistake="sample.not-a-tensor")
assert_shape(_x, (20000, 2), "x from sample_vae(decoder, 20000)", hint="x has data_dim columns", mistake="sample.shape")
assert_shape(_z, (20000, 3), "z from sample_vae(decoder, 20000)", hint="z has decoder.latent_dim columns", mistake="sample.shape")
_x, _z = _x.detach().double(), _z.detach().double()
_hint = "z comes from the prior: sample_prior(n, decoder.latent_dim, generator)"
assert_mean(_z, 0.0, 1.0, name="mean of z", hint=_hint, mistake="sample.z-not-from-prior")
assert_mean(_z**2, 1.0, 2**0.5, name="mean of z**2", hint=_hint, mistake="sample.z-not-from-prior")
# Given the returned z, the noise x - mu(z) must be N(0, diag sigma^2).
_mu, _sig = (t.double() for t in _dec(_z.float()))
_noise = _x - _mu
expect(float(_noise.abs().max()) > 1e-6, "x equals mu(z) exactly: the samples have no observation noise. Hint: "
       "x ~ N(mu(z), diag sigma(z)^2) means x = mu(z) + sigma(z) * eps with eps ~ N(0, I).", mistake="sample.no-noise")
expect(not torch.allclose(_noise.std(dim=0), _s.double() ** 2, rtol=0.05), f"the noise x - mu(z) has standard deviations "
       f"{_noise.std(dim=0).numpy().round(3)}, which are sigma**2 = {(_s**2).numpy()}: you used the variance as the "
       "standard deviation. Hint: x = mu + sigma * eps.", mistake="sample.variance-as-std")
_xz = (_x - _c.double()).unsqueeze(2) * _z.unsqueeze(1)  # E[(x - c) z^T] = W E[z z^T] = W if x is decoded from this z
assert_mean(_xz, _W, _xz.std(dim=0), name="mean of (x - c) z^T (it is W for this linear decoder)",
            hint="the z you return must be the z you decoded (draw z once)", mistake="sample.z-mismatch")
assert_mean(_noise / _sig, 0.0, 1.0, name="mean of (x - mu(z)) / sigma(z)",
            hint="the noise must have mean 0: x = mu + sigma * eps, eps ~ N(0, I)", mistake="sample.noise")
assert_mean((_noise / _sig) ** 2, 1.0, 2**0.5, name="mean of ((x - mu(z)) / sigma(z))**2",
            hint="the noise must be scaled by the standard deviation sigma(z) (not by the variance sigma**2, "
                 "nor by sqrt(sigma)), with one standard normal draw per coordinate", mistake="sample.variance-as-std")
assert_mean(_x, _c, _x.std(dim=0), name="mean of x", hint="E[x] = E[mu(z)] = c here", mistake="sample.marginal")
_draw = lambda seed: sample_vae(_dec, 10, generator=torch.Generator().manual_seed(seed))
expect(all(torch.equal(a, b) for a, b in zip(_draw(5), _draw(5))), "two calls with generators seeded alike returned "
       "different (x, z): some random draw ignores the generator argument. Hint: pass generator=generator to "
       "sample_prior and to the draw of the noise; the samplers named ..._like take no generator.",
       mistake="sample.generator-ignored")
print("sample_vae: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_sample_vae_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests use a decoder whose sigma depends on z when your notebook is graded.
### BEGIN HIDDEN TESTS
import numpy as np
import torch
from dgm_utils.checks import assert_mean, assert_shape, expect


class _CurvedDecoder(torch.nn.Module):
    """A non-linear decoder with latent_dim 1 and a sigma that depends on z."""

    latent_dim = 1

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor([0.2, 1.0, 3.0]), requires_grad=False)

    def forward(self, z):
        mu = torch.cat([torch.cos(z), torch.sin(2 * z), z], dim=1)
        sigma = torch.exp(0.5 * z).expand(-1, 3) * self.scale
        return mu, sigma


_dec = _CurvedDecoder()
_x, _z = sample_vae(_dec, 20000, generator=torch.Generator().manual_seed(11))
assert_shape(_x, (20000, 3), "x (hidden)")
assert_shape(_z, (20000, 1), "z (hidden)")
_x, _z = _x.detach().double(), _z.detach().double()
assert_mean(_z, 0.0, 1.0, name="mean of z (hidden)")
_mu, _sig = (t.double() for t in _dec(_z.float()))
_r = (_x - _mu) / _sig
assert_mean(_r, 0.0, 1.0, name="standardized noise (hidden)")
assert_mean(_r**2, 1.0, np.sqrt(2.0), name="squared standardized noise (hidden)")
# E[x_1] = E[cos z] = exp(-1/2) for z ~ N(0, 1); Var[x_1] = E[cos^2 z] - e^-1 + 0.04 E[e^z]
_m1 = np.exp(-0.5)
_v1 = 0.5 * (1 + np.exp(-2.0)) - np.exp(-1.0) + 0.04 * np.exp(0.5)
assert_mean(_x[:, 0], _m1, np.sqrt(_v1), name="mean of x_1 (hidden)")
_xa, _ = sample_vae(_dec, 5, generator=torch.Generator().manual_seed(3))
_xb, _ = sample_vae(_dec, 5, generator=torch.Generator().manual_seed(3))
expect(torch.equal(_xa, _xb), "sample_vae ignores its generator (hidden)", mistake="sample.generator-ignored")
# The marginal of a linear decoder in closed form: N(c, W W^T + diag s^2).
_W = torch.tensor([[1.0, 0.5, 0.0], [0.3, -1.0, 0.8]])
_c, _s = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 2.0])
_x, _ = sample_vae(LinearDecoder(_W, _c, _s), 20000, generator=torch.Generator().manual_seed(12))
_x, _cov = _x.detach().double() - _c.double(), (_W @ _W.T + torch.diag(_s**2)).double()
_d = torch.diag(_cov)
assert_mean((_x.unsqueeze(2) * _x.unsqueeze(1)).reshape(-1, 4), _cov.reshape(4),
            torch.sqrt(torch.outer(_d, _d) + _cov**2).reshape(4),
            name="covariance of x for a linear decoder (hidden)",
            hint="the covariance of x comes from z (through W) and from the observation noise", mistake="sample.marginal")
### END HIDDEN TESTS

# %% [markdown]
# ### A decoder whose samples lie on a ring
#
# To *see* $p(x)$ we use a hand-set decoder with a 1-D latent and 2-D data. It maps $z$ to an
# angle $2\pi\,\Phi(z)$, where $\Phi$ is the standard normal CDF (so $z \sim \mathcal{N}(0, 1)$
# spreads the angles uniformly), and then onto a circle of radius 2. The noise $\sigma_\phi(z)$
# is small (0.05) at angle 0 and large (0.25) on the opposite side. A trained network could
# learn the same two functions; writing them by hand keeps the picture exact and fast.

# %% tags=["demo"]
class RingDecoder(nn.Module):
    """A hand-set decoder with latent_dim = 1 and data_dim = 2: mu(z) on a circle, sigma varying along it.

    mu(z) = radius * (cos a, sin a) with a = 2 pi Phi(z); sigma(z) = s_min + (s_max - s_min) sin^2(a / 2),
    the same in both coordinates.
    """

    def __init__(self, radius=2.0, sigma_min=0.05, sigma_max=0.25):
        super().__init__()
        self.latent_dim = 1
        self.radius, self.sigma_min, self.sigma_max = radius, sigma_min, sigma_max

    def forward(self, z):
        angle = 2 * math.pi * 0.5 * (1 + torch.erf(z / math.sqrt(2)))  # (n, 1)
        mu = self.radius * torch.cat([torch.cos(angle), torch.sin(angle)], dim=1)
        sigma = self.sigma_min + (self.sigma_max - self.sigma_min) * torch.sin(angle / 2) ** 2
        return mu, sigma.expand(-1, 2)


ring = RingDecoder()

# %% tags=["demo"]
with torch.no_grad():
    x_ring, z_ring = sample_vae(ring, 3000, generator=make_generator(1))
    mu_line, _ = ring(torch.linspace(-3.5, 3.5, 400).unsqueeze(1))
colour = plt.Normalize(-3, 3)
fig, axes = plt.subplots(1, 2, figsize=(10, 4.3), gridspec_kw={"width_ratios": [1, 1.25]})
_, edges, bars = axes[0].hist(z_ring[:, 0].numpy(), bins=40, range=(-3.5, 3.5))
for bar, left in zip(bars, edges[:-1]):
    bar.set_facecolor(plt.cm.coolwarm(colour(left)))
axes[0].set(title="step 1: z ~ N(0, 1)", xlabel="z", ylabel="count")
sc = axes[1].scatter(x_ring[:, 0], x_ring[:, 1], c=z_ring[:, 0], cmap="coolwarm", norm=colour, s=4)
axes[1].plot(mu_line[:, 0], mu_line[:, 1], "k", lw=1, label=r"$\mu_\theta(z)$")
plt.colorbar(sc, ax=axes[1], label="z")
axes[1].legend(loc="center")
axes[1].set(title=r"step 2: x ~ N($\mu_\theta(z)$, $\sigma_\phi(z)^2$), coloured by z", xlabel="$x_1$",
            ylabel="$x_2$", aspect="equal")
plt.tight_layout()
plt.show()


# %% [markdown]
# ## 3. Evaluating $p(x)$
#
# ### Exercise 4: the diagonal Gaussian log-likelihood (3 points)
# Independent coordinates multiply their densities, so their **log**-densities *add up*:
#
# $$\log \mathcal{N}(x;\, \mu, \operatorname{diag}\sigma^2) = \sum_{j=1}^d \Big[-\frac{1}{2}\Big(\frac{x_j - \mu_j}{\sigma_j}\Big)^2 - \log \sigma_j - \frac{1}{2}\log(2\pi)\Big].$$
#
# Compute it directly in log space (never the density first: $e^{-500}$ is 0 in float32), and
# sum over the **last** dimension, so that the function also works on stacked tables:
# `x[:, None, :]` of shape (n, 1, d) against `mu[None]` of shape (1, K, d) gives the (n, K)
# table of $\log p(x_i \mid z_k)$ that you need in Exercise 5.

# %% nbgrader={"grade": false, "grade_id": "gaussian_log_likelihood", "locked": false, "schema_version": 3, "solution": true, "task": false}
def gaussian_log_likelihood(x, mu, sigma):
    """log N(x; mu, diag sigma^2), summed over the last dimension, in nats.

    Args:
        x: float tensor (n, d): points (any leading shape (..., d) works the same way).
        mu: float tensor broadcastable to x: means.
        sigma: float tensor broadcastable to x, > 0: standard deviations (not variances).

    Returns:
        float tensor (n,) (in general: the broadcast shape without the last dimension):
        sum_j log N(x_j; mu_j, sigma_j^2); finite even when |x - mu| / sigma is 1e6.
    """
    ### BEGIN SOLUTION
    return (-0.5 * ((x - mu) / sigma) ** 2 - torch.log(sigma) - 0.5 * math.log(2 * math.pi)).sum(dim=-1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_gaussian_log_likelihood", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import math
import numpy as np
import torch
from torch.distributions import Independent, Normal
from dgm_utils.checks import assert_close, assert_finite, assert_shape, assert_tensor, fail

_g = torch.Generator().manual_seed(3)
_x, _mu = torch.randn(6, 4, generator=_g), torch.randn(6, 4, generator=_g)
_sigma = 0.2 + 2.0 * torch.rand(6, 4, generator=_g)
_ref = Independent(Normal(_mu, _sigma), 1).log_prob(_x)  # torch's diagonal Gaussian, summed over dims
_got = gaussian_log_likelihood(_x, _mu, _sigma)
assert_tensor(_got, "gaussian_log_likelihood(x, mu, sigma)", mistake="loglik.not-a-tensor")
assert_shape(_got, (6,), "gaussian_log_likelihood(x (6, 4), mu, sigma)",
             hint="one log-density per row: sum over the last dimension (dim=-1)", mistake="loglik.shape")
if torch.allclose(_got.detach().double(), _ref.double() / 4, rtol=1e-4, atol=1e-4):
    fail("gaussian_log_likelihood is 1/4 of the log-density for d = 4: you took the mean over the "
        "dimensions. Hint: the log of a product of independent densities is the sum of their logs: .sum(dim=-1).", mistake="loglik.mean-not-sum")
if torch.allclose(_got.detach().double(), Independent(Normal(_mu, _sigma.sqrt()), 1).log_prob(_x).double(), rtol=1e-4, atol=1e-4):
    fail("gaussian_log_likelihood treats sigma as the variance. Hint: sigma is the standard deviation; "
        "the variance is sigma**2: -0.5 * ((x - mu) / sigma)**2 - log(sigma) - 0.5 * log(2 pi).", mistake="loglik.sigma-as-variance")
assert_close(_got, _ref, rtol=1e-5, atol=1e-4, name="gaussian_log_likelihood(x, mu, sigma)",
             hint="sum over j of -0.5 ((x_j - mu_j) / sigma_j)^2 - log sigma_j - 0.5 log(2 pi); "
                  "check the constant and the sign", mistake="loglik.formula")
# Far from the mean: (x - mu) / sigma = 1e6 in the first coordinate.
_xe, _mue, _se = torch.tensor([[1e3, 0.5]]), torch.zeros(1, 2), torch.tensor([[1e-3, 1.0]])
_ref_e = -0.5 * 1e12 - math.log(1e-3) - 0.125 - math.log(2 * math.pi)
_got_e = gaussian_log_likelihood(_xe, _mue, _se)
assert_finite(_got_e, "gaussian_log_likelihood 1e6 standard deviations from the mean",
              hint="compute the log-density directly, in log space: the density itself underflows to 0", mistake="loglik.not-log-space")
assert_close(_got_e, np.array([_ref_e]), rtol=1e-5, name="gaussian_log_likelihood far from the mean")
# Leading dimensions: the (n, K) table of log p(x_i | z_k) by broadcasting.
_xt, _mut, _st = torch.randn(5, 1, 3, generator=_g), torch.randn(1, 7, 3, generator=_g), 0.5 + torch.rand(1, 7, 3, generator=_g)
assert_close(gaussian_log_likelihood(_xt, _mut, _st), Independent(Normal(_mut, _st), 1).log_prob(_xt),
             rtol=1e-5, atol=1e-4, name="gaussian_log_likelihood of (5, 1, 3) against (1, 7, 3)",
             hint="sum over the last dimension (dim=-1), whatever the leading dimensions; let torch broadcast", mistake="loglik.broadcast")
print("gaussian_log_likelihood: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_gaussian_log_likelihood_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests compare with scipy on other shapes when your notebook is graded.
### BEGIN HIDDEN TESTS
import numpy as np
import torch
from scipy.stats import multivariate_normal
from dgm_utils.checks import assert_close

_r = np.random.default_rng(44)
_x, _mu = _r.normal(size=(9, 5)) * 3, _r.normal(size=5)
_sigma = _r.uniform(0.1, 3.0, size=5)
_ref = multivariate_normal(_mu, np.diag(_sigma**2)).logpdf(_x)
_got = gaussian_log_likelihood(torch.tensor(_x, dtype=torch.float32), torch.tensor(_mu, dtype=torch.float32),
                               torch.tensor(_sigma, dtype=torch.float32))
assert_close(_got, _ref, rtol=1e-5, atol=1e-3, name="gaussian_log_likelihood vs scipy (hidden)")
_one = gaussian_log_likelihood(torch.tensor([[0.0]]), torch.tensor([[0.0]]), torch.tensor([[1.0]]))
assert_close(_one, np.array([-0.5 * np.log(2 * np.pi)]), rtol=1e-6, name="log N(0; 0, 1) (hidden)")
### END HIDDEN TESTS

# %% [markdown]
# Each conditional $p(x \mid z)$ of the ring decoder is a round Gaussian around $\mu_\theta(z)$,
# narrow or wide depending on $\sigma_\phi(z)$:

# %% tags=["demo"]
lin = torch.linspace(-3, 3, 151)
grid = torch.cartesian_prod(lin, lin).flip(1)  # rows (x1, x2), x1 varying fastest
fig, ax = plt.subplots(figsize=(5, 4.6))
with torch.no_grad():
    mu_line, _ = ring(torch.linspace(-3.5, 3.5, 400).unsqueeze(1))
    for z_value in (-1.5, -0.4, 0.3, 1.2):
        mu_z, sigma_z = ring(torch.tensor([[z_value]]))
        density = gaussian_log_likelihood(grid, mu_z, sigma_z).exp().reshape(151, 151)
        peak = float(density.max())  # contours at 1, 1.5 and 2 standard deviations from the mean
        ax.contour(lin, lin, density, levels=[peak * math.exp(-2), peak * math.exp(-1.125), peak * math.exp(-0.5)],
                   cmap="viridis")
        ax.annotate(f"z = {z_value}", mu_z[0].numpy(), xytext=(6, 6), textcoords="offset points")
ax.plot(mu_line[:, 0], mu_line[:, 1], color="0.7", lw=1)
ax.set(title=r"$p(x \mid z)$ for four values of z", xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
plt.show()


# %% [markdown]
# ### Exercise 5: a Monte Carlo estimate of $\log p(x)$ (5 points)
# The marginal is an expectation over the prior, which we estimate with $K$ prior samples:
#
# $$p(x) = \mathbb{E}_{z \sim p(z)}\big[p(x \mid z)\big] \approx \frac{1}{K}\sum_{k=1}^K p(x \mid z_k),
# \qquad z_1, \dots, z_K \sim \mathcal{N}(0, I).$$
#
# The average of the *probabilities* is unbiased for $p(x)$ (the average of the *log*-probabilities
# is not: by Jensen's inequality $\mathbb{E}[\log p(x \mid z)] \le \log \mathbb{E}[p(x \mid z)]$).
# But $p(x \mid z_k)$ underflows to 0 in float32 as soon as $\log p(x \mid z_k) < -104$, which is
# common (a point 15 standard deviations away). Work in log space, as in notebook 05:
#
# $$\log \frac{1}{K}\sum_k e^{a_k} = \operatorname{logsumexp}_k(a_k) - \log K, \qquad a_k = \log p(x \mid z_k),$$
#
# with `torch.logsumexp(a, dim=...)`, which subtracts the largest $a_k$ before exponentiating.
# Build the (n, K) table $a_{ik} = \log p(x_i \mid z_k)$ with one decoder call on the $K$ samples
# and `gaussian_log_likelihood` by broadcasting (the same $K$ samples may serve every $x_i$). The
# last test runs your estimator 400 times and checks that $e^{\text{estimate}}$ averages to $p(x)$
# (unbiased), within its Monte Carlo error.

# %% nbgrader={"grade": false, "grade_id": "estimate_log_px", "locked": false, "schema_version": 3, "solution": true, "task": false}
def estimate_log_px(decoder, x, n_samples, generator=None):
    """Monte Carlo estimate of log p(x) = log E_{z ~ N(0, I)} p(x | z), for every row of x.

    Args:
        decoder: nn.Module with an int attribute latent_dim, whose forward(z) maps z
            (K, latent_dim) to (mu, sigma), each (K, d), sigma > 0 (standard deviations).
        x: float32 tensor (n, d): the points.
        n_samples: int K >= 1: number of prior samples z_1..z_K.
        generator: torch.Generator or None: the only source of randomness.

    Returns:
        float32 tensor (n,): log (1/K) sum_k p(x_i | z_k), computed with logsumexp; finite even
        where every p(x_i | z_k) underflows in float32.
    """
    ### BEGIN SOLUTION
    z = sample_prior(n_samples, decoder.latent_dim, generator=generator)
    mu, sigma = decoder(z)  # (K, d) each
    log_pxz = gaussian_log_likelihood(x[:, None, :], mu[None], sigma[None])  # (n, K)
    return torch.logsumexp(log_pxz, dim=1) - math.log(n_samples)
    ### END SOLUTION


# %% [markdown]
# **How the tests know $p(x)$.** With a latent space of 1 or 2 dimensions, the integral
# $p(x) = \int p(z)\, p(x \mid z)\, dz$ can be computed by numerical integration: a weighted sum
# of $p(x \mid z)$ over a fixed grid of $z$ (Gauss-Hermite quadrature, whose weights already
# include the prior). It is accurate, needs no formula for $p(x)$, and is useless for a real
# VAE: the grid has $64^m$ points, $10^{29}$ for $m = 16$. The tests use it as the reference.

# %%
import numpy as np
import torch
from torch.distributions import Independent, Normal


def log_px_given_z_on_grid(decoder, x, n_nodes=64):
    """The grid of z (Gauss-Hermite quadrature for p(z) = N(0, I)) and log p(x | z) on it.

    Args:
        decoder: a decoder with latent_dim 1 or 2 (the grid has n_nodes ** latent_dim points).
        x: tensor (n, d): the points.
        n_nodes: number of grid points per latent coordinate.

    Returns:
        (log_w, table): float64 tensors (M,) and (n, M): the log-weights of the M grid points z_k
        (the weights sum to 1) and log p(x_i | z_k). Then log p(x_i) = logsumexp_k (log_w + table)[i, k],
        and E_z[f(z)] = sum_k exp(log_w_k) f(z_k) for any smooth f (numerically).
    """
    nodes, weights = np.polynomial.hermite_e.hermegauss(n_nodes)  # for the weight function exp(-z^2 / 2)
    m = decoder.latent_dim
    z = torch.cartesian_prod(*[torch.tensor(nodes)] * m).reshape(-1, m)
    log_w = torch.cartesian_prod(*[torch.tensor(np.log(weights / weights.sum()))] * m).reshape(-1, m).sum(1)
    with torch.no_grad():
        mu, sigma = (t.double() for t in decoder(z.float()))
    return log_w, Independent(Normal(mu, sigma), 1).log_prob(x.double()[:, None, :])


# %% nbgrader={"grade": true, "grade_id": "test_estimate_log_px", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
import math
import torch
from torch.distributions import Independent, Normal
from dgm_utils.checks import assert_close, assert_finite, assert_shape, assert_tensor, expect

_x = torch.tensor([[0.5, -1.0], [1.5, 0.0], [-1.0, -2.5], [2.0, 1.0]])
_c, _s = torch.tensor([0.5, -1.0]), torch.tensor([0.6, 0.8])
# 1. A decoder that ignores z (W = 0): the average of K equal numbers is that number.
_exact = Independent(Normal(_c, _s), 1).log_prob(_x)
_got = estimate_log_px(LinearDecoder(torch.zeros(2, 2), _c, _s), _x, 7, generator=torch.Generator().manual_seed(0))
assert_tensor(_got, "estimate_log_px(decoder, x, 7)", mistake="estimate.not-a-tensor")
assert_shape(_got, (4,), "estimate_log_px(decoder, x of shape (4, 2), n_samples=7)",
             hint="one estimate per row of x: logsumexp over the samples axis of the (n, K) table", mistake="estimate.shape")
expect(not torch.allclose(_got.detach().double(), _exact.double() + math.log(7), atol=1e-3), "with 7 samples the estimate exceeds log p(x) "
       "by exactly log(7): you forgot to subtract log(n_samples), the 1/K of the average.", mistake="estimate.no-log-k")
assert_close(_got, _exact, rtol=1e-5, atol=1e-4, name="estimate for a decoder that ignores z",
             hint="if p(x | z) does not depend on z, log (1/K) sum_k p(x | z_k) = log p(x | z) exactly", mistake="estimate.formula")
# 2. A decoder that uses z: p(x) by numerical integration; the tolerance follows from K and the spread of p(x | z).
_dec = LinearDecoder(torch.tensor([[1.2, -0.4], [0.5, 0.9]]), _c, _s)
_log_w, _table = log_px_given_z_on_grid(_dec, _x)
_ref = torch.logsumexp(_log_w + _table, dim=1)  # log p(x)
_relvar = torch.exp(torch.logsumexp(_log_w + 2 * _table, dim=1) - 2 * _ref) - 1  # Var_z[p(x | z)] / p(x)^2
_jensen = (_log_w.exp() * _table).sum(dim=1)  # E_z[log p(x | z)]: where an average of log-likelihoods ends up
_K = 20000
_got = estimate_log_px(_dec, _x, _K, generator=torch.Generator().manual_seed(1)).detach().double()
_tol = float((5 * torch.sqrt(_relvar / _K) + _relvar / _K).max())
expect(not bool((_got - _jensen).abs().max() < 0.3), f"your estimates {_got.numpy().round(3)} are the average of "
       f"log p(x | z_k) (about {_jensen.numpy().round(3)}), below log p(x) = {_ref.numpy().round(3)}: by Jensen's inequality "
       "the mean of the logs is a lower bound, not the log of the mean.",
       hint="average the probabilities, in log space: logsumexp(a, dim) - log K", mistake="estimate.mean-of-logs")
expect(not bool((_got - math.log(_K) - _ref).abs().max() < 10 * _tol), "the estimates exceed log p(x) by log(n_samples): "
       "subtract math.log(n_samples).", mistake="estimate.no-log-k")
assert_close(_got, _ref, atol=_tol, rtol=0.0, name=f"estimate_log_px for a linear decoder, K = {_K}",
             hint="log p(x) ~ logsumexp_k log p(x | z_k) - log K with z_k ~ N(0, I)", mistake="estimate.formula")
# 3. A point far from the data: every p(x | z_k) underflows in float32.
_xf, _Kf = _c + torch.tensor([[30.0, -30.0]]), 2000
_got = estimate_log_px(_dec, _xf, _Kf, generator=torch.Generator().manual_seed(2)).detach().double()
assert_finite(_got, "estimate_log_px 30 units from the data", hint="p(x | z_k) underflows to 0 far from the data and "
              "log(0) = -inf: never exponentiate; use torch.logsumexp(log_p, dim) - math.log(n_samples)", mistake="estimate.no-logsumexp")
_log_w, _table = log_px_given_z_on_grid(_dec, _xf)
_low = (_log_w.exp() * _table).sum(1) - 5 * torch.sqrt((_log_w.exp() * (_table - (_log_w.exp() * _table).sum(1)) ** 2).sum(1) / _Kf)
_high = -torch.log(_s).sum() - math.log(2 * math.pi)  # p(x) <= the peak of the densities p(x | z)
# log-mean-exp >= the mean of the logs, itself within 5 standard errors of E_z[log p(x | z)]
expect(bool((_got >= _low).all() and (_got <= _high).all()), f"estimate {float(_got[0]):.2f} far from the data is outside "
       f"[{float(_low[0]):.2f}, {float(_high):.2f}], where a correct estimator lands with probability 1 - 3e-7.",
       mistake="estimate.no-logsumexp")
# 4. Seeding.
_draw = lambda seed: estimate_log_px(_dec, _x, 10, generator=torch.Generator().manual_seed(seed))
expect(torch.equal(_draw(9), _draw(9)) and not torch.equal(_draw(9), _draw(10)), "generators seeded alike must give "
       "the same estimate, and other seeds other estimates: estimate_log_px ignores its generator argument.",
       hint="sample_prior(n_samples, decoder.latent_dim, generator=generator)", mistake="estimate.generator-ignored")
print("estimate_log_px: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_estimate_log_px_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests use other decoders and sample sizes when your notebook is graded.
### BEGIN HIDDEN TESTS
import math
import torch
from torch.distributions import Independent, MultivariateNormal, Normal
from dgm_utils.checks import assert_close, assert_shape


class _LinearDecoder1(torch.nn.Module):
    latent_dim = 1

    def __init__(self):
        super().__init__()
        self.W, self.c, self.s = (torch.nn.Parameter(torch.tensor(v), requires_grad=False)
                                  for v in ([[1.0], [-0.5], [0.3]], [0.0, 1.0, -1.0], [0.8, 0.7, 0.9]))

    def forward(self, z):
        return z @ self.W.T + self.c, self.s.expand(z.shape[0], -1)


_dec = _LinearDecoder1()
_x = torch.tensor([[0.0, 1.0, -1.0], [1.0, 0.5, -0.7], [-1.0, 1.5, -1.2], [0.5, 0.5, 0.0], [1.5, 0.0, -0.5]])
_K = 20000
_got = estimate_log_px(_dec, _x, _K, generator=torch.Generator().manual_seed(21)).detach().double()
assert_shape(_got, (5,), "estimate (hidden)")
_Wd, _cd, _S = _dec.W.double(), _dec.c.double(), torch.diag(_dec.s.double() ** 2)
_ref = MultivariateNormal(_cd, _Wd @ _Wd.T + _S).log_prob(_x.double())
_log_Ep2 = -1.5 * math.log(4 * math.pi) - 0.5 * torch.logdet(_S) + MultivariateNormal(_cd, _Wd @ _Wd.T + _S / 2).log_prob(_x.double())
_relvar = torch.exp(_log_Ep2 - 2 * _ref) - 1
assert_close(_got, _ref, atol=float((5 * torch.sqrt(_relvar / _K) + _relvar / _K).max()), rtol=0.0,
             name="estimate for a 1-D latent (hidden)")
# one sample, a decoder that ignores z: exact
_c, _s = torch.tensor([0.0, 2.0]), torch.tensor([1.5, 0.1])


class _Const(torch.nn.Module):
    latent_dim = 3

    def __init__(self):
        super().__init__()
        self.c, self.s = (torch.nn.Parameter(t, requires_grad=False) for t in (_c, _s))

    def forward(self, z):
        return self.c.expand(z.shape[0], -1), self.s.expand(z.shape[0], -1)


_x2 = torch.tensor([[0.0, 2.0], [3.0, 2.5], [-40.0, 0.0]])
assert_close(estimate_log_px(_Const(), _x2, 1, generator=torch.Generator().manual_seed(0)),
             Independent(Normal(_c, _s), 1).log_prob(_x2), rtol=1e-5, atol=1e-3, name="K = 1 (hidden)")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_estimate_agrees_with_exact", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
import torch
from dgm_utils.checks import assert_mean

# estimate_log_px, run 400 times with K = 6 prior samples, against the exact p(x) (numerical integration).
_W, _c, _s = torch.tensor([[1.0, 0.5], [0.3, -1.0], [0.8, 0.4]]), torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.5, 0.7, 0.4])
_dec = LinearDecoder(_W, _c, _s)
_x = torch.tensor([[1.0, -2.0, 0.5], [2.0, -1.0, 1.0], [0.5, -2.0, -0.5], [1.5, -2.5, 1.2]])
_log_w, _table = log_px_given_z_on_grid(_dec, _x)
_log_px = torch.logsumexp(_log_w + _table, dim=1)
_relvar = torch.exp(torch.logsumexp(_log_w + 2 * _table, dim=1) - 2 * _log_px) - 1  # Var_z[p(x | z)] / p(x)^2
_K, _R = 6, 400
_est = torch.stack([estimate_log_px(_dec, _x, _K, generator=torch.Generator().manual_seed(100 + r)).detach().double()
                    for r in range(_R)])  # (R, n)
# exp(estimate) = (1/K) sum_k p(x | z_k) is unbiased for p(x): the ratio has mean 1 and variance relvar / K.
assert_mean(torch.exp(_est - _log_px), 1.0, torch.sqrt(_relvar / _K), name=f"exp(estimate) / p(x) over {_R} runs with K = {_K}",
            hint="exp(estimate_log_px) must average p(x | z_k) over prior samples: an unbiased estimate of p(x)",
            mistake="estimate.biased")
print("log p(x) by numerical integration:        ", _log_px.numpy().round(3))
print(f"estimate_log_px, K = {_K}, mean of {_R} runs:", _est.mean(dim=0).numpy().round(3), "(lower, by Jensen's inequality)")
print("estimate_log_px agrees with the exact p(x): test passed")

# %% [markdown]
# ### The density of the ring decoder
# With `estimate_log_px` we can draw $p(x)$ on a grid (a few thousand prior samples, shared by all
# grid points). Every conditional is a round Gaussian, but the marginal is a ring with a thin side
# and a thick side: **far from Gaussian**. On the right, the Gaussian with the same mean and
# covariance as the samples (the best Gaussian fit by maximum likelihood) puts its peak in the
# empty middle of the ring. (The speckles on the thin side are Monte Carlo noise: see the next figure.)

# %% tags=["demo"]
lin = torch.linspace(-3, 3, 101)
grid = torch.cartesian_prod(lin, lin).flip(1)  # rows (x1, x2), x1 varying fastest
gen = make_generator(3)
with torch.no_grad():
    # chunks of grid points, to keep the (n, K) table small in memory
    log_px_grid = torch.cat([estimate_log_px(ring, chunk, 2000, generator=gen) for chunk in grid.split(2000)])
    x_fit, _ = sample_vae(ring, 5000, generator=make_generator(4))
    x_held_out, _ = sample_vae(ring, 1000, generator=make_generator(40))
    gauss = torch.distributions.MultivariateNormal(x_fit.mean(0), torch.cov(x_fit.T))
    log_gauss_grid = gauss.log_prob(grid)
    ll_ring = estimate_log_px(ring, x_held_out, 2000, generator=gen).mean()
    ll_gauss = gauss.log_prob(x_held_out).mean()
cell_area = float(lin[1] - lin[0]) ** 2
print(f"mass of the estimated density on the grid: {float(log_px_grid.exp().sum()) * cell_area:.3f} (should be close to 1)")
print(f"mean log-likelihood of fresh ring samples: {float(ll_ring):.2f} nats under p(x), "
      f"{float(ll_gauss):.2f} nats under the best Gaussian")
fig, axes = plt.subplots(1, 2, figsize=(10, 4.3))
for ax, lp, title in [(axes[0], log_px_grid, "estimated $p(x)$ of the ring decoder"),
                      (axes[1], log_gauss_grid, "best Gaussian fit to its samples")]:
    im = ax.imshow(lp.exp().reshape(101, 101), origin="lower", extent=(-3, 3, -3, 3), cmap="magma")
    plt.colorbar(im, ax=ax)
    ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### How many samples?
# The estimate of $p(x)$ is an average of $K$ independent terms, so its standard deviation shrinks
# like $1/\sqrt{K}$; the estimate of $\log p(x)$ behaves the same once $K$ is large enough. How large
# depends on $x$: for a point on the thin side of the ring, only the few $z$ whose $\mu_\theta(z)$ falls
# within $\sigma = 0.05$ of it contribute, and with few samples we usually miss them all (the
# estimate is then far too low). Below, each estimate is repeated 100 times.

# %% tags=["demo"]
points = torch.tensor([[2.0, 0.0], [-2.0, 0.0], [0.0, 0.0]])
labels = ["(2, 0): thin side of the ring", "(-2, 0): thick side", "(0, 0): centre, off the ring"]
Ks = [1, 4, 16, 64, 256, 1024, 4096]
gen = make_generator(5)
with torch.no_grad():
    reference = estimate_log_px(ring, points, 200_000, generator=gen)
    estimates = torch.stack([torch.stack([estimate_log_px(ring, points, K, generator=gen) for _ in range(100)])
                             for K in Ks])  # (len(Ks), 100 repeats, 3 points)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
for j, label in enumerate(labels):
    axes[0].loglog(Ks, estimates[:, :, j].std(dim=1), "o-", label=label)
    axes[1].semilogx(Ks, estimates[:, :, j].mean(dim=1) - reference[j], "o-", label=label)
axes[0].loglog(Ks, 2.0 / np.sqrt(Ks), "k--", label=r"slope $-1/2$: $\propto 1/\sqrt{K}$")
axes[0].set(title=r"spread of the estimate of $\log p(x)$", xlabel="K (samples)", ylabel="standard deviation (nats)")
axes[1].axhline(0, color="k", lw=0.8)
axes[1].set(title=r"mean estimate minus $\log p(x)$ (Jensen: too low)", xlabel="K (samples)",
            ylabel="nats", ylim=(-10, 1))
axes[0].legend(fontsize=8)
plt.tight_layout()
plt.show()


# %% [markdown]
# ### When is $p(x)$ Gaussian? The linear decoder
#
# Take the `LinearDecoder` of the tests: a linear mean and a constant standard deviation,
#
# $$\mu_\theta(z) = Wz + c, \qquad \sigma_\phi(z) = s, \qquad W \in \mathbb{R}^{d \times m},\ c, s \in \mathbb{R}^d .$$
#
# Ancestral sampling writes $x = Wz + c + s \odot \varepsilon$ with independent $z \sim \mathcal{N}(0, I_m)$
# and $\varepsilon \sim \mathcal{N}(0, I_d)$. So $x$ is an affine function of the Gaussian vector
# $(z, \varepsilon)$, hence Gaussian itself, and a Gaussian is fixed by its mean and covariance.
# **Derive them on paper** (you need $\mathbb{E}[zz^\top] = I_m$, $\mathbb{E}[\varepsilon\varepsilon^\top] = I_d$
# and $\mathbb{E}[z\varepsilon^\top] = 0$), then answer the self-check questions before you write any code.
#
# ### Self-check (1 point each)
#
# **Q1.** A linear decoder with latent_dim 1 and data_dim 2 has $W = (2, 1)^\top$, $c = (0, 0)$ and
# $s = (1, 0.5)$. What is the correlation between $x_1$ and $x_2$ under $p(x)$? Give 3 decimals.
#
# **Q2.** Which statement is **false**?
#
# - (a) With $\mu_\theta(z) = Wz + c$ and a constant $\sigma$, $p(x)$ is Gaussian.
# - (b) With $\mu_\theta(z) = Wz + c$ and a $\sigma_\phi(z)$ that changes with $z$, $p(x)$ is still always Gaussian.
# - (c) Two linear decoders with different weights $W$ can define exactly the same $p(x)$.
# - (d) For the ring decoder, the Gaussian with the mean and covariance of its samples has a higher density
#   at the centre of the ring than $p(x)$ has there.

# %% nbgrader={"grade": false, "grade_id": "selfcheck_answers", "locked": false, "schema_version": 3, "solution": true, "task": false}
"""Self-check answers: q1 a number (3 decimals), q2 one letter."""
q1 = None
q2 = None
### BEGIN SOLUTION
q1 = 0.8
q2 = "b"
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_selfcheck_q1", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from dgm_utils.checks import check_answer

check_answer("06.q1", q1, "f0cb47ab4edeab8f", decimals=3,
             hint="write x = W z + c + s * eps and compute E[x], then E[(x - c)(x - c)^T] term by term",
             mistake="selfcheck.q1")
print("Q1: correct")

# %% nbgrader={"grade": true, "grade_id": "test_selfcheck_q2", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from dgm_utils.checks import check_answer

check_answer("06.q2", q2, "18f271bf98fa366d", choices="abcd",
             hint="for each statement, think of an example, or of the figures of section 3", mistake="selfcheck.q2")
print("Q2: correct")

# %% [markdown]
# <details><summary>Hint (open only if stuck)</summary>
#
# $\mathbb{E}[x] = W\,\mathbb{E}[z] + c + s \odot \mathbb{E}[\varepsilon] = c$, and with $x - c = Wz + s \odot \varepsilon$,
#
# $$\operatorname{Cov}[x] = \mathbb{E}\big[(Wz + s \odot \varepsilon)(Wz + s \odot \varepsilon)^\top\big]
#   = W\,\mathbb{E}[zz^\top]\,W^\top + \operatorname{diag}(s)\,\mathbb{E}[\varepsilon\varepsilon^\top]\operatorname{diag}(s)
#   = WW^\top + \operatorname{diag}(s^2),$$
#
# the cross terms vanishing because $z$ and $\varepsilon$ are independent with mean 0. So
# $p(x) = \mathcal{N}\big(x;\ c,\ WW^\top + \operatorname{diag}(s^2)\big)$: factor analysis (probabilistic
# PCA when all $s_j$ are equal). Its log-density is notebook 04's `mvn_log_pdf`, through a Cholesky factor.
#
# </details>
#
# ### Exercise 6: the exact $p(x)$ of a linear decoder (3 points)
# Write `linear_decoder_log_px(x, W, c, s)`: the exact $\log p(x)$ of the linear decoder, in log space
# (through a Cholesky factor as in notebook 04, or any other stable way), in torch. The tests
# compare it with numerical integration over a grid of $z$ (`log_px_given_z_on_grid` above), which
# knows no formula, and (hidden) with scipy.

# %% nbgrader={"grade": false, "grade_id": "linear_decoder_log_px", "locked": false, "schema_version": 3, "solution": true, "task": false}
def linear_decoder_log_px(x, W, c, s):
    """Exact log p(x) for the decoder mu(z) = W z + c, sigma(z) = s, with z ~ N(0, I).

    Args:
        x: float tensor (n, d): the points.
        W: float tensor (d, m): the weights (m = latent_dim, any m >= 1).
        c: float tensor (d,): the offset.
        s: float tensor (d,), > 0: the standard deviations of the observation noise.

    Returns:
        float tensor (n,): log p(x_i) in nats; finite even 1000 standard deviations from c.
    """
    ### BEGIN SOLUTION
    cov = W @ W.T + torch.diag(s**2)
    L = torch.linalg.cholesky(cov)  # cov = L L^T
    u = torch.linalg.solve_triangular(L, (x - c).T, upper=False)  # (d, n): L u = x - c
    d = x.shape[-1]
    return -0.5 * (u**2).sum(0) - torch.log(torch.diagonal(L)).sum() - 0.5 * d * math.log(2 * math.pi)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_linear_decoder_log_px", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import torch
from torch.distributions import Independent, Normal
from dgm_utils.checks import assert_close, assert_finite, assert_shape, expect


def _integrated(W, c, s, x):
    """log p(x) of LinearDecoder(W, c, s) by numerical integration over z (no formula)."""
    log_w, table = log_px_given_z_on_grid(LinearDecoder(W, c, s), x)
    return torch.logsumexp(log_w + table, dim=1)


# 1. Square W (data_dim = latent_dim = 2): each classic mistake gives another recognizable density.
_W, _c, _s = torch.tensor([[1.0, 0.6], [-0.4, 0.8]]), torch.tensor([0.5, -1.0]), torch.tensor([0.7, 0.5])
_x = torch.tensor([[0.5, -1.0], [1.5, -0.5], [-1.0, -2.0], [2.0, 0.5]])
_got = linear_decoder_log_px(_x, _W, _c, _s)
assert_shape(_got, (4,), "linear_decoder_log_px(x of shape (4, 2), ...)", hint="one log-density per row of x", mistake="linear.shape")
_got, _ref = _got.detach().double(), _integrated(_W, _c, _s, _x)
_close = lambda other: bool(torch.allclose(_got, other.double(), rtol=1e-4, atol=1e-3) and not torch.allclose(_ref, other.double(), atol=1e-2))
expect(not _close(Independent(Normal(_c, _s), 1).log_prob(_x)), "your result is log p(x | z = 0): the density of x for the one "
       "latent z = 0. But z varies, and W z spreads x further.", hint="the covariance of x has a term from z and a term from the noise",
       mistake="linear.no-latent")
_u = torch.linalg.solve(_W, (_x - _c).T).T  # the density of W z + c alone, by a change of variables z = W^-1 (x - c)
expect(not _close(Normal(0.0, 1.0).log_prob(_u).sum(1) - torch.log(torch.linalg.det(_W).abs())),
       "your result is the density of W z + c alone: the observation noise s * eps is missing.",
       hint="the covariance of x has a term from z and a term from the noise", mistake="linear.no-noise")
expect(not _close(_integrated(_W, _c, _s.sqrt(), _x)), "your result treats s as the variance of the noise; s is its standard "
       "deviation.", mistake="linear.s-as-variance")
expect(not _close(_integrated(_W.T, _c, _s, _x)), "your result is the density for the transposed W: check the order of the "
       "product in the covariance of W z (it must be a d x d matrix for any latent_dim).", mistake="linear.transposed")
expect(not _close(_integrated(_W, 0 * _c, _s, _x)), "your result is centred at 0 instead of the mean of x.",
       hint="E[x] = W E[z] + c", mistake="linear.mean")
assert_close(_got, _ref, rtol=1e-4, atol=1e-3, name="linear_decoder_log_px (against numerical integration over z)",
             hint="x is Gaussian: find its mean and covariance, then use a Gaussian log-density with a full covariance "
                  "(log-determinant and Mahalanobis term)", mistake="linear.formula")
# 2. More data dimensions than latent ones (d = 3, m = 2), and a point 1000 standard deviations away.
_W, _c, _s = torch.tensor([[1.0, 0.5], [0.3, -1.0], [0.8, 0.4]]), torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.5, 0.7, 0.4])
_x = torch.tensor([[1.0, -2.0, 0.5], [2.0, -1.0, 1.0], [0.0, -3.0, 0.0], [1.5, -2.5, 1.2]])
assert_close(linear_decoder_log_px(_x, _W, _c, _s), _integrated(_W, _c, _s, _x), rtol=1e-4, atol=1e-3,
             name="linear_decoder_log_px with data_dim 3, latent_dim 2", hint="W is (d, m): the covariance of x is d x d",
             mistake="linear.formula")
_far = linear_decoder_log_px(_c + torch.tensor([[1000.0, -800.0, 500.0]]), _W, _c, _s)
assert_finite(_far, "linear_decoder_log_px far from the data", hint="compute the log-density in log space: the density "
              "itself underflows to 0", mistake="linear.not-log-space")
expect(float(_far[0]) < -1e4, f"log p(x) far from the data is {float(_far[0]):.4g}, but it must be below -1e4 there",
       mistake="linear.formula")
print("linear_decoder_log_px: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_linear_decoder_log_px_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests compare with scipy on other sizes (more latent than data dimensions too) when your notebook is graded.
### BEGIN HIDDEN TESTS
import numpy as np
import torch
from scipy.stats import multivariate_normal
from dgm_utils.checks import assert_close

_r = np.random.default_rng(66)
for _d, _m in ((5, 3), (2, 4), (4, 1)):
    _W, _c, _s = _r.normal(size=(_d, _m)), _r.normal(size=_d), _r.uniform(0.3, 1.5, size=_d)
    _x = _c + 2.0 * _r.normal(size=(7, _d))
    _x[0] = _c + 300.0  # far from the data
    _ref = multivariate_normal(_c, _W @ _W.T + np.diag(_s**2)).logpdf(_x)
    _got = linear_decoder_log_px(*(torch.tensor(a, dtype=torch.float32) for a in (_x, _W, _c, _s)))
    assert_close(_got, _ref, rtol=1e-4, atol=2e-3, name=f"linear_decoder_log_px, d = {_d}, m = {_m} (hidden)",
                 mistake="linear.formula")
### END HIDDEN TESTS

# %% [markdown]
# ### How far from Gaussian? Bending a line into the ring
#
# The linear decoder's $p(x)$ is exactly Gaussian; the ring decoder's is far from it. In between,
# blend the two: $\mu_b(z) = (1 - b)\,(Wz + c) + b\,\mu_{\text{ring}}(z)$ and the same for $\sigma$,
# where the line $Wz + c$ runs along the ring's tangent at $z = 0$. To measure how far $p(x)$ is from
# Gaussian, fit the **moment-matched Gaussian** $q$ (the mean and covariance of 4,000 samples, which is
# the maximum-likelihood Gaussian) and compare average log-likelihoods on 1,000 fresh samples:
#
# $$\frac{1}{N}\sum_{i=1}^N \big[\log p(x_i) - \log q(x_i)\big] \approx \mathrm{KL}(p \,\|\, q) \ \ge 0,$$
#
# which is 0 (up to Monte Carlo error) only when $p$ is itself that Gaussian. At $b = 0$ your `linear_decoder_log_px` gives $\log p(x)$
# exactly; elsewhere `estimate_log_px` does (a 1-D $z$ needs only a few thousand samples).

# %% tags=["demo"]
from torch.distributions import MultivariateNormal

line_W, line_c, line_s = torch.tensor([[0.0], [-1.6]]), torch.tensor([-2.0, 0.0]), torch.tensor([0.25, 0.25])


class BentDecoder(nn.Module):
    """(1 - bend) * LinearDecoder(line_W, line_c, line_s) + bend * ring, for mu and sigma alike."""

    def __init__(self, bend):
        super().__init__()
        self.latent_dim, self.bend = 1, bend
        self.line = LinearDecoder(line_W, line_c, line_s)

    def forward(self, z):
        (mu0, sigma0), (mu1, sigma1) = self.line(z), ring(z)
        return (1 - self.bend) * mu0 + self.bend * mu1, (1 - self.bend) * sigma0 + self.bend * sigma1


def gaussian_gap(decoder, seed, n_fit=4000, n_eval=1000, n_samples=2000):
    """(mean log p(x), mean log q(x), q) on fresh samples of the decoder; q is the moment-matched Gaussian."""
    with torch.no_grad():
        x_fit, _ = sample_vae(decoder, n_fit, generator=make_generator(seed))
        x_eval, _ = sample_vae(decoder, n_eval, generator=make_generator(seed + 1))
        q = MultivariateNormal(x_fit.mean(0), torch.cov(x_fit.T))
        log_p = estimate_log_px(decoder, x_eval, n_samples, generator=make_generator(seed + 2))
        return float(log_p.mean()), float(q.log_prob(x_eval).mean()), q


bends = np.linspace(0, 1, 11)
gaps = []
for i, bend in enumerate(bends):
    ll_p, ll_q, _ = gaussian_gap(BentDecoder(float(bend)), seed=100 + 3 * i)
    gaps.append(ll_p - ll_q)
with torch.no_grad():
    x_line, _ = sample_vae(BentDecoder(0.0), 1000, generator=make_generator(99))
    exact_line = float(linear_decoder_log_px(x_line, line_W, line_c, line_s).mean())
    mc_line = float(estimate_log_px(BentDecoder(0.0), x_line, 2000, generator=make_generator(98)).mean())
print(f"bend 0 (linear): mean log p(x) exact {exact_line:.3f}, Monte Carlo {mc_line:.3f} nats")
print("mean log p(x) - mean log q(x) per bend:", np.round(gaps, 2))
fig, ax = plt.subplots(figsize=(5.5, 3.6))
ax.plot(bends, gaps, "o-")
ax.axhline(0, color="k", lw=0.8)
ax.set(title="how far from Gaussian: KL(p || moment-matched Gaussian)", xlabel="bend b (0: linear, 1: ring)",
       ylabel="nats per sample")
plt.tight_layout()
plt.show()

# %% [markdown]
# Move the slider (in a live notebook) to bend the line; the left panel shows samples and the estimated
# $p(x)$, the right panel the moment-matched Gaussian fitted to those samples.

# %% tags=["demo"]
from dgm_utils.plotting import interactive

lin_w = torch.linspace(-3.5, 3.5, 71)
grid_w = torch.cartesian_prod(lin_w, lin_w).flip(1)


def draw_bend(bend):
    decoder = BentDecoder(bend)
    ll_p, ll_q, q = gaussian_gap(decoder, seed=200, n_fit=2000, n_eval=500, n_samples=1000)
    with torch.no_grad():
        x_show, _ = sample_vae(decoder, 500, generator=make_generator(201))
        p_grid = estimate_log_px(decoder, grid_w, 1000, generator=make_generator(202)).exp()
        q_grid = q.log_prob(grid_w).exp()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.3))
    for ax, dens, title in [(axes[0], p_grid, f"p(x), bend = {bend:.1f}"),
                            (axes[1], q_grid, "moment-matched Gaussian q(x)")]:
        ax.imshow(dens.reshape(71, 71), origin="lower", extent=(-3.5, 3.5, -3.5, 3.5), cmap="magma")
        ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$")
    axes[0].scatter(x_show[:, 0], x_show[:, 1], s=2, color="c", alpha=0.5)
    fig.suptitle(f"mean log p(x) = {ll_p:.2f}, mean log q(x) = {ll_q:.2f} nats: gap {ll_p - ll_q:.2f}")
    plt.tight_layout()
    plt.show()


interactive(draw_bend, bend=(0.0, 1.0, 0.1, 0.5))

# %% [markdown]
# ## 4. Back to notebook 05: a mixture is the same network with a discrete $z$
#
# Take $z$ one-hot over $K$ components and two linear layers without bias: $\mu_\theta(z) = M^\top z$
# picks row $k$ of a table of means, $\sigma_\phi(z) = \exp(L^\top z)$ a row of a table of log
# standard deviations. That decoder *is* a Gaussian mixture: $p(x \mid z = e_k) = \mathcal{N}(\mu_k, \sigma_k^2)$,
# and the integral over $z$ becomes a sum of $K$ terms that we compute **exactly**:
#
# $$\log p(x) = \operatorname{logsumexp}_k \big[\log w_k + \log p(x \mid e_k)\big],$$
#
# the same `logsumexp` as in `estimate_log_px`, with the $K$ one-hot codes in place of $K$ random
# draws and the weights $w_k$ in place of $1/K$. To reuse `sample_vae` and `estimate_log_px`
# unchanged, the decoder below reads its discrete $z$ off a 1-D Gaussian one: the component is the
# interval of $\Phi(z)$ between consecutive cumulative weights, which has probability $w_k$.

# %% tags=["demo"]
class MixtureDecoder(nn.Module):
    """Notebook 05's Gaussian mixture as a decoder with latent_dim = 1.

    weights: tensor (K,), the mixture weights; means, stds: tensors (K, d).
    forward(z): component k = bucket of Phi(z) among the cumulative weights; one_hot(k) (n, K) goes
    through two bias-free linear layers (lookup tables): mu = means[k], sigma = stds[k].
    """

    def __init__(self, weights, means, stds):
        super().__init__()
        self.latent_dim, (K, d) = 1, means.shape
        self.register_buffer("edges", torch.cumsum(weights, 0)[:-1])
        self.mu_theta = nn.Linear(K, d, bias=False)
        self.log_sigma_phi = nn.Linear(K, d, bias=False)
        with torch.no_grad():
            self.mu_theta.weight.copy_(means.T)
            self.log_sigma_phi.weight.copy_(stds.log().T)

    def decode_one_hot(self, one_hot):
        return self.mu_theta(one_hot), torch.exp(self.log_sigma_phi(one_hot))

    def forward(self, z):
        k = torch.bucketize(0.5 * (1 + torch.erf(z[:, 0] / math.sqrt(2))), self.edges)
        return self.decode_one_hot(F.one_hot(k, self.mu_theta.in_features).float())


mix_weights = torch.tensor([0.5, 0.3, 0.2])
mixture = MixtureDecoder(mix_weights, torch.tensor([[-1.5, -1.0], [1.5, -0.5], [0.0, 1.5]]),
                         torch.tensor([[0.5, 0.3], [0.3, 0.6], [0.7, 0.4]]))

# %% tags=["demo"]
lin = torch.linspace(-3, 3, 101)
grid = torch.cartesian_prod(lin, lin).flip(1)
with torch.no_grad():
    mu_k, sigma_k = mixture.decode_one_hot(torch.eye(3))  # the K possible values of (mu, sigma)
    exact_grid = torch.logsumexp(torch.log(mix_weights) + gaussian_log_likelihood(grid[:, None, :], mu_k, sigma_k), dim=1)
    mc_grid = estimate_log_px(mixture, grid, 2000, generator=make_generator(6))
    x_mix, z_mix = sample_vae(mixture, 2000, generator=make_generator(7))
    k_mix = torch.bucketize(0.5 * (1 + torch.erf(z_mix[:, 0] / math.sqrt(2))), mixture.edges)
print(f"largest |Monte Carlo - exact| log p(x) where p(x) > 0.01: "
      f"{float((mc_grid - exact_grid)[exact_grid > math.log(0.01)].abs().max()):.3f} nats")
fig, axes = plt.subplots(1, 2, figsize=(10, 4.3))
axes[0].scatter(x_mix[:, 0], x_mix[:, 1], c=k_mix, cmap="tab10", vmax=9, s=4)
axes[0].set(title="sample_vae(mixture decoder): colour = component", xlabel="$x_1$", ylabel="$x_2$",
            xlim=(-3, 3), ylim=(-3, 3), aspect="equal")
im = axes[1].imshow(exact_grid.exp().reshape(101, 101), origin="lower", extent=(-3, 3, -3, 3), cmap="magma")
plt.colorbar(im, ax=axes[1])
axes[1].set(title="exact $p(x)$: a sum over the 3 values of z", xlabel="$x_1$", ylabel="$x_2$")
plt.tight_layout()
plt.show()

# %% [markdown]
# With a discrete $z$ the marginal is a sum of $K$ Gaussians: exact, but only $K$ shapes. With a
# continuous $z$ and a neural decoder it is a continuum of Gaussians that can follow a curve,
# which buys flexibility at the cost of an integral we can only estimate.
#
# ### Written answer (manually graded, 2 points)
# (a) Every conditional $p(x \mid z)$ of the ring decoder is Gaussian, as is every conditional of the
# linear decoder of Exercise 6. Why is the ring's marginal $p(x)$ not Gaussian, when the linear decoder's
# is? (b) For 64-pixel images with a
# 16-dimensional $z$, why would estimating $\log p(x)$ by sampling $z$ from the *prior* need an
# enormous number of samples? Use the figures above. Answer in 4 to 6 sentences.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_marginal", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# ### BEGIN SOLUTION
# (a) $p(x) = \int p(z)\,\mathcal{N}(x; \mu_\theta(z), \operatorname{diag}\sigma_\phi(z)^2)\,dz$ is a
# mixture of infinitely many Gaussians whose centres lie on the curve $\mu_\theta(z)$, here a circle:
# $p(x)$ is a ring with a hole where any Gaussian has its peak, so it cannot be Gaussian (a
# continuous mixture of Gaussians can be Gaussian, as the linear case shows). It is Gaussian when $\mu_\theta$ is linear (affine) in $z$ and
# $\sigma_\phi$ constant: then $x = Wz + c + \sigma\varepsilon$ is a linear function of Gaussians,
# $\mathcal{N}(c, WW^\top + \operatorname{diag}\sigma^2)$ (factor analysis; probabilistic PCA when all
# $\sigma_j$ are equal).
# (b) The estimate averages $p(x \mid z_k)$ over prior samples, but only the $z$ whose decoded
# image lies within a few $\sigma$ of $x$ contribute; in high dimension that region is a tiny
# fraction of the prior's mass (it shrinks exponentially with the dimension), so almost every
# sample contributes essentially 0, the relative variance of the terms is enormous, and the
# estimate is far too low unless $K$ is astronomically large (see the thin side of the ring,
# where even a 1-D $z$ needs hundreds of samples). Sampling $z$ from a distribution concentrated
# on the relevant $z$ (an encoder $q(z \mid x)$, importance sampling) is the fix.
# ### END SOLUTION

# %% [markdown]
# ## 5. Optional, ungraded: training a VAE on the digits (a preview)
#
# We have a sampler and a way to evaluate $p(x)$, but not yet a way to *train* $\theta$ and $\phi$:
# maximizing the prior-sampled estimate of $\log p(x)$ is hopeless in high dimension. The next lecture
# introduces an **encoder** $q_\lambda(z \mid x) = \mathcal{N}(m_\lambda(x), \operatorname{diag} s_\lambda(x)^2)$
# that proposes the $z$ likely to explain $x$, and the **evidence lower bound**
#
# $$\log p(x) \ \ge\ \mathrm{ELBO}(x) = \mathbb{E}_{q(z \mid x)}\big[\log p(x \mid z)\big] - \mathrm{KL}\big(q(z \mid x)\,\|\,p(z)\big),$$
#
# estimated with one **reparameterized** sample $z = m + s \odot \varepsilon$ (so gradients flow into
# the encoder) and the KL in closed form, $\tfrac12 \sum_j (m_j^2 + s_j^2 - 1 - 2\log s_j)$.
# On the binarized digits of notebook 03 the decoder is Bernoulli (64 logits), not Gaussian.
# After training we estimate $\log p(x)$ twice with the same $K$: sampling $z$ from the prior,
# as in Exercise 5, and by **importance sampling** from the encoder,
# $\log \frac1K \sum_k p(x \mid z_k)\,p(z_k) / q(z_k \mid x)$ with $z_k \sim q(z \mid x)$.
# Nothing here is graded; it takes a few seconds.

# %% tags=["demo"]
from dgm_utils.data import load_binarized_digits
from dgm_utils.plotting import plot_image_grid, plot_loss_curve
from dgm_utils.training import fit

x_train, x_test, _, _ = load_binarized_digits()


class DigitVAE(nn.Module):
    """Encoder q(z | x) = N(m(x), diag s(x)^2) and Bernoulli decoder p(x | z) with 64 logits."""

    def __init__(self, latent_dim=8, hidden_dim=128, data_dim=64):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(nn.Linear(data_dim, hidden_dim), nn.Tanh(), nn.Linear(hidden_dim, 2 * latent_dim))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden_dim), nn.Tanh(), nn.Linear(hidden_dim, data_dim))

    def encode(self, x):
        m, s_raw = self.encoder(x).chunk(2, dim=-1)
        return m, F.softplus(s_raw) + 1e-4

    def log_px_given_z(self, x, z):
        logits, x = torch.broadcast_tensors(self.decoder(z), x)
        return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)

    def elbo(self, x, generator=None):
        m, s = self.encode(x)
        z = m + s * torch.randn(m.shape, generator=generator)  # reparameterization
        kl = 0.5 * (m**2 + s**2 - 1 - 2 * torch.log(s)).sum(-1)
        return self.log_px_given_z(x, z) - kl


vae = DigitVAE()
gen = make_generator(8)
# 300 full-batch Adam steps on the mean negative ELBO (one reparameterized sample per image)
losses = fit(vae, lambda model, x: -model.elbo(x, generator=gen).mean(), x_train,
             n_epochs=300, lr=1e-2, batch_size=None, desc="VAE, full batch")


# %% tags=["demo"]
def log_px_importance(vae, x, n_samples, generator=None):
    """log p(x) estimated with z_k ~ q(z | x): logsumexp_k [log p(x | z_k) + log p(z_k) - log q(z_k | x)] - log K."""
    m, s = vae.encode(x)
    z = m[:, None] + s[:, None] * torch.randn(x.shape[0], n_samples, vae.latent_dim, generator=generator)
    log_w = (vae.log_px_given_z(x[:, None], z) + gaussian_log_likelihood(z, torch.zeros_like(z), torch.ones_like(z))
             - gaussian_log_likelihood(z, m[:, None].expand_as(z), s[:, None].expand_as(z)))
    return torch.logsumexp(log_w, dim=1) - math.log(n_samples)


def log_px_prior(vae, x, n_samples, generator=None):
    """log p(x) estimated with z_k ~ p(z), as in estimate_log_px but with the Bernoulli decoder."""
    z = sample_prior(n_samples, vae.latent_dim, generator=generator)
    return torch.logsumexp(vae.log_px_given_z(x[:, None], z[None]), dim=1) - math.log(n_samples)


gen = make_generator(9)
with torch.no_grad():
    test_elbo = vae.elbo(x_test, generator=gen).mean()
    nll_is = -log_px_importance(vae, x_test, 500, generator=gen).mean()
    nll_prior = -log_px_prior(vae, x_test, 500, generator=gen).mean()
    digits = torch.sigmoid(vae.decoder(sample_prior(32, vae.latent_dim, generator=gen)))
print(f"test ELBO: {float(test_elbo):.2f} nats per image")
print(f"test NLL, importance sampling from q(z | x), K = 500: {float(nll_is):.2f} nats")
print(f"test NLL, sampling z from the prior,          K = 500: {float(nll_prior):.2f} nats (a worse estimate)")
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
plot_loss_curve(losses, ax=axes[0], title="training: negative ELBO (full batch)", ylabel="nats per image")
plot_image_grid(digits, n_cols=8, ax=axes[1], title="p(x | z) means for z ~ N(0, I)")
plt.tight_layout()
plt.show()

# %% [markdown]
# The importance-sampled estimate of $\log p(x)$ is the highest of the three (the smallest NLL): with
# the same $K$, samples proposed by the encoder land where $p(x \mid z)$ is large, while most prior
# samples are wasted; and it is above the ELBO, which it reduces to when $K = 1$. How to train the encoder and
# decoder jointly, and why the ELBO is the right objective, is the subject of the next lecture.
