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
# # 03 · Autoregressive models: the chain rule with a network for each conditional
#
# **Where we are in the story.** Notebook 01 predicted a label $y$ from $x$ with logistic
# regression; notebook 02 made the prediction flexible with learned features (an MLP). Now we
# turn prediction models into a **generative** model: a probability $p(x)$ over the data
# themselves, which we can evaluate and sample from.
#
# The key is the **chain rule** of probability. For any joint distribution over
# $x = (x_0, \dots, x_{n-1})$,
#
# $$p(x) = p(x_0)\, p(x_1 \mid x_0)\, p(x_2 \mid x_0, x_1) \cdots p(x_{n-1} \mid x_{<n-1})
#        = \prod_{i=0}^{n-1} p(x_i \mid x_{<i}).$$
#
# No assumption is made: this holds for every distribution. Each factor $p(x_i \mid x_{<i})$ is a
# *prediction* problem, "predict $x_i$ from the previous variables", and we know how to solve
# those: logistic regression (notebook 01), an MLP (notebook 02). A model that represents each
# conditional this way is **autoregressive**. A language model is exactly this, with words or
# characters as the variables.
#
# ## What you will build
# 1. Parameter counts: a full table, a Bayes net, the fully visible sigmoid belief network
#    (FVSBN) and NADE, and a figure of how each grows with the number of variables.
# 2. `AutoregressiveModel.log_prob` (exact log-likelihood by the chain rule) and `.sample`
#    (ancestral sampling), written once for every model of this notebook.
# 3. Three models of binary vectors: `FVSBN` (a logistic regression per pixel), `NADE` (one
#    hidden layer with weights tied across the conditionals) and `MADE` (an MLP with masks),
#    trained on 8x8 binarized digits and compared with an independent-pixel baseline.
# 4. A next-token model over the characters of first names: a bigram table, a small neural
#    network, their per-character negative log-likelihoods, and sampled names.
#
# **How to work.** Replace each `raise NotImplementedError(...)` with your code, then run the
# test cell below it. A failing test says what is wrong and usually why. Some tests are hidden
# and run only when your notebook is graded: they check the same contract on other inputs.

# %%
import numpy as np
import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F

from dgm_utils.data import load_binarized_digits, load_names
from dgm_utils.plotting import plot_image_grid
from dgm_utils.training import fit

torch.set_num_threads(1)  # small networks: one thread is faster than several
torch.manual_seed(0)
rng = np.random.default_rng(0)
# %matplotlib inline

# %% [markdown]
# ## 1. How many parameters does a distribution need?
#
# **A full table.** A distribution over $n$ variables with $k$ states each lists a probability
# for each of the $k^n$ joint configurations. The probabilities sum to one, so the last one is
# determined by the others: $k^n - 1$ free parameters. For the 64 binary pixels of an 8x8 image
# that is $2^{64} - 1 \approx 1.8 \cdot 10^{19}$: a table is hopeless.
#
# **A Bayes net** assumes that each variable depends only on a few *parents*:
# $p(x) = \prod_i p(x_i \mid x_{\mathrm{pa}(i)})$. The conditional of $x_i$ is a table with one
# row per configuration of its parents ($k^{|\mathrm{pa}(i)|}$ rows), and each row is a
# distribution over $k$ states with $k - 1$ free numbers. If every variable has all previous
# ones as parents, the chain rule is recovered, and so is the full table's count.
#
# ### Exercise 1: the full table (2 points)
# Return an exact Python `int` (NumPy integers overflow and floats round for large $n$).

# %% nbgrader={"grade": false, "grade_id": "tabular_num_params", "locked": false, "schema_version": 3, "solution": true, "task": false}
def tabular_num_params(n_vars, n_states=2):
    """Free parameters of a full probability table over n_vars variables.

    Args:
        n_vars: int >= 1: number of variables.
        n_states: int >= 2: states per variable.

    Returns:
        int: n_states ** n_vars - 1 (the entries sum to one), exact.
    """
    ### BEGIN SOLUTION
    return int(n_states) ** int(n_vars) - 1
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_tabular_num_params", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
import itertools
from dgm_utils.checks import expect, fail

for _n, _k in [(1, 2), (3, 2), (2, 3), (4, 5)]:
    _entries = sum(1 for _ in itertools.product(range(_k), repeat=_n))  # enumerate the table
    _got = tabular_num_params(_n, _k)
    if _got == _entries:
        fail(f"tabular_num_params({_n}, {_k}) = {_got}, the number of table entries: you forgot the "
             "sum-to-one constraint (the last probability is 1 minus the others).", mistake="table_count.sum-to-one")
    expect(_got == _entries - 1, f"tabular_num_params({_n}, {_k}) = {_got}, expected {_entries - 1}",
           mistake="table_count.wrong")
_big = tabular_num_params(784)
expect(isinstance(_big, int),
       f"tabular_num_params must return a Python int, got {type(_big).__name__}. Hint: "
       "use Python's ** on ints (exact), not NumPy or float arithmetic.", mistake="table_count.not-exact")
expect(_big == 2 ** 784 - 1, "tabular_num_params(784) is not exactly 2**784 - 1: use exact integer arithmetic",
       mistake="table_count.not-exact")
expect(tabular_num_params(50, 3) == 3 ** 50 - 1, "tabular_num_params(50, 3) is not exact: avoid floats",
       mistake="table_count.not-exact")
print("tabular_num_params: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_tabular_num_params_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check other sizes when your notebook is graded.
### BEGIN HIDDEN TESTS
from dgm_utils.checks import expect
expect(tabular_num_params(64) == 18446744073709551615, "hidden: tabular_num_params(64)", mistake="table_count.wrong")
expect(tabular_num_params(10, 4) == 4 ** 10 - 1, "hidden: tabular_num_params(10, 4)", mistake="table_count.wrong")
expect(tabular_num_params(1, 7) == 6, "hidden: tabular_num_params(1, 7)", mistake="table_count.wrong")
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 2: a Bayes net (3 points)
# `parents[i]` lists the parents of variable $i$ (for example `[[], [0], [0, 1]]`: $x_1$ depends
# on $x_0$, $x_2$ on both). Sum the free parameters of the conditional tables.

# %% nbgrader={"grade": false, "grade_id": "bayes_net_num_params", "locked": false, "schema_version": 3, "solution": true, "task": false}
def bayes_net_num_params(parents, n_states=2):
    """Free parameters of a Bayes net over variables with n_states states each.

    Args:
        parents: list of lists of int: parents[i] are the parents of variable i (any DAG).
        n_states: int >= 2: states per variable.

    Returns:
        int: sum over i of (n_states - 1) * n_states ** len(parents[i]).
    """
    ### BEGIN SOLUTION
    k = int(n_states)
    return sum((k - 1) * k ** len(pa) for pa in parents)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_bayes_net_num_params", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import itertools
from dgm_utils.checks import expect, fail

def _brute_force_bn(parents, k):
    # Count, for each variable, its conditional table's rows (parent configurations) times the free
    # entries of a row (k - 1: a row sums to one).
    total = 0
    for pa in parents:
        rows = sum(1 for _ in itertools.product(range(k), repeat=len(pa)))
        total += rows * (k - 1)
    return total

_cases = [([[], [], []], 2), ([[], [0], [1], [2]], 2), ([[], [0], [0, 1]], 3), ([[], [], [0, 1], [2]], 2)]
for _parents, _k in _cases:
    _got = bayes_net_num_params(_parents, _k)
    _full_rows = sum(_k ** len(pa) * _k for pa in _parents)
    if _got == _full_rows:
        fail(f"bayes_net_num_params({_parents}, {_k}) = {_got} counts all {_k} entries of every row: "
             "you forgot the sum-to-one constraint (k - 1 free numbers per row).", mistake="bayes_net_count.sum-to-one")
    expect(_got == _brute_force_bn(_parents, _k),
           f"bayes_net_num_params({_parents}, {_k}) = {_got}, expected {_brute_force_bn(_parents, _k)}. Hint: "
           "variable i has a table with k ** len(parents[i]) rows (one per parent configuration), each with k - 1 "
           "free numbers.",
           mistake="bayes_net_count.parent-configurations")
# All previous variables as parents: the chain rule, hence the full table.
_chain = [list(range(i)) for i in range(6)]
expect(bayes_net_num_params(_chain, 2) == 2 ** 6 - 1,
       f"with every previous variable as a parent, the Bayes net is the full table: expected {2 ** 6 - 1}, got "
       f"{bayes_net_num_params(_chain, 2)}", mistake="bayes_net_count.wrong")
print("bayes_net_num_params: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_bayes_net_num_params_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check other graphs when your notebook is graded.
### BEGIN HIDDEN TESTS
from dgm_utils.checks import expect
expect(bayes_net_num_params([[]], 5) == 4, "hidden: one variable with 5 states", mistake="bayes_net_count.wrong")
expect(bayes_net_num_params([list(range(i)) for i in range(5)], 3) == 3 ** 5 - 1, "hidden: full DAG, 3 states",
       mistake="bayes_net_count.wrong")
expect(bayes_net_num_params([[], [0], [0], [0]], 2) == 7, "hidden: a star", mistake="bayes_net_count.wrong")
expect(bayes_net_num_params([[]] + [[i] for i in range(99)], 2) == 199, "hidden: a long Markov chain",
       mistake="bayes_net_count.wrong")
### END HIDDEN TESTS

# %% [markdown]
# **FVSBN.** Keep the chain rule (no independence assumption; the restriction is now on the form of
# each conditional) but replace each conditional table
# by a logistic regression on the previous variables:
#
# $$p(x_i = 1 \mid x_{<i}) = \sigma\Big(b_i + \sum_{j < i} W_{ij} x_j\Big).$$
#
# Conditional $i$ has $i$ weights and one bias. This is the *fully visible sigmoid belief network*.
#
# **NADE** (neural autoregressive density estimator) replaces each logistic regression by a
# one-hidden-layer network (notebook 02) and **ties** the first layer across conditionals:
#
# $$h_i = \sigma\big(c + W_{:, <i}\, x_{<i}\big) \in \mathbb{R}^H, \qquad
#   p(x_i = 1 \mid x_{<i}) = \sigma\big(b_i + V_i^\top h_i\big),$$
#
# with one shared $W \in \mathbb{R}^{H \times n}$ and $c \in \mathbb{R}^H$, and a separate output
# row $V_i \in \mathbb{R}^H$ and bias $b_i$ per conditional. Count only parameters that some
# conditional uses: no conditional sees $x_{n-1}$, so the last column of $W$ is never used.
#
# ### Exercise 3: FVSBN and NADE (3 points)

# %% nbgrader={"grade": false, "grade_id": "fvsbn_nade_num_params", "locked": false, "schema_version": 3, "solution": true, "task": false}
def fvsbn_num_params(n_vars):
    """Parameters of an FVSBN over n_vars binary variables.

    Args:
        n_vars: int >= 1.

    Returns:
        int: sum over conditionals i = 0..n_vars-1 of (i weights + 1 bias).
    """
    ### BEGIN SOLUTION
    return n_vars * (n_vars + 1) // 2
    ### END SOLUTION


def nade_num_params(n_vars, hidden_dim):
    """Parameters of a NADE over n_vars binary variables that some conditional uses.

    Args:
        n_vars: int >= 1; hidden_dim: int >= 1: size H of the hidden layer.

    Returns:
        int: the used entries of W (H x n_vars, last column unused), c (H), V (n_vars x H)
        and b (n_vars).
    """
    ### BEGIN SOLUTION
    return hidden_dim * (n_vars - 1) + hidden_dim + n_vars * hidden_dim + n_vars
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_fvsbn_num_params", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from dgm_utils.checks import expect, fail

for _n in [5, 2, 1, 64, 784]:
    _expected = sum(i + 1 for i in range(_n))  # conditional i: i weights and one bias
    _got = fvsbn_num_params(_n)
    expect(isinstance(_got, int), f"fvsbn_num_params must return an int, got {type(_got).__name__}",
           mistake="fvsbn_count.not-int")
    if _n > 1 and _got == _expected - _n:
        fail(f"fvsbn_num_params({_n}) = {_got}: you forgot the biases (one per conditional).",
             mistake="fvsbn_count.no-biases")
    if _n > 1 and _got in (_n * _n, _n * _n + _n):
        fail(f"fvsbn_num_params({_n}) = {_got}: conditional i only sees x_<i (i weights), not all "
             "n variables.", mistake="fvsbn_count.all-variables")
    expect(_got == _expected, f"fvsbn_num_params({_n}) = {_got}, expected {_expected}", mistake="fvsbn_count.wrong")
print("fvsbn_num_params: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_nade_num_params", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from dgm_utils.checks import expect, fail

for _n, _h in [(6, 5), (2, 1), (64, 32), (784, 500)]:
    _expected = _h * (_n - 1) + _h + _n * _h + _n  # used W columns, c, V, b
    _got = nade_num_params(_n, _h)
    expect(isinstance(_got, int), f"nade_num_params must return an int, got {type(_got).__name__}",
           mistake="nade_count.not-int")
    if _got == _expected + _h:
        fail(f"nade_num_params({_n}, {_h}) = {_got} counts the last column of W, which no conditional "
             "uses (x_{n-1} is never conditioned on).", mistake="nade_count.unused-column")
    _untied = sum(_h * i + _h for i in range(_n)) + _n * _h + _n
    if _got == _untied:
        fail(f"nade_num_params({_n}, {_h}) = {_got} gives each conditional its own first layer: in "
             "NADE the weights W and c are tied (shared) across conditionals.", mistake="nade_count.untied")
    expect(_got == _expected, f"nade_num_params({_n}, {_h}) = {_got}, expected {_expected}", mistake="nade_count.wrong")
print("nade_num_params: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_num_params_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check other sizes when your notebook is graded.
### BEGIN HIDDEN TESTS
from dgm_utils.checks import expect
expect(fvsbn_num_params(3) == 6 and fvsbn_num_params(100) == 5050, "hidden: fvsbn_num_params",
       mistake="fvsbn_count.wrong")
expect(nade_num_params(1, 3) == 7, "hidden: nade_num_params(1, 3)", mistake="nade_count.wrong")
expect(nade_num_params(10, 7) == 2 * 10 * 7 + 10, "hidden: nade_num_params(10, 7)", mistake="nade_count.wrong")
### END HIDDEN TESTS

# %% [markdown]
# How the counts grow with the number of binary variables. Left (log scale): the table explodes
# exponentially. Right (linear scale, without the table): a Markov chain (each variable's only
# parent is the previous one) is cheap but assumes a lot of independence; the FVSBN makes no
# independence assumption (but restricts each conditional to a logistic regression) and grows
# quadratically; NADE with a fixed hidden size grows linearly.

# %% tags=["demo"]
def count_curves(ns, hidden_dim=32):
    return {
        "full table": [tabular_num_params(int(n)) for n in ns],
        "Bayes net: Markov chain": [bayes_net_num_params([[]] + [[i] for i in range(int(n) - 1)]) for n in ns],
        "FVSBN": [fvsbn_num_params(int(n)) for n in ns],
        f"NADE, H = {hidden_dim}": [nade_num_params(int(n), hidden_dim) for n in ns],
    }

small, large = np.arange(1, 65), np.arange(1, 785, 3)
curves_small, curves_large = count_curves(small), count_curves(large)
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
for k, (label, counts) in enumerate(curves_small.items()):
    axes[0].plot(small, [float(c) for c in counts], color=f"C{k}", label=label)
axes[0].set_yscale("log")
axes[0].set(xlabel="number of binary variables n", ylabel="number of parameters", title="n up to 64 (8x8 images)")
for k, (label, counts) in enumerate(curves_large.items()):
    if label != "full table":
        axes[1].plot(large, counts, color=f"C{k}", label=label)
axes[1].set(xlabel="number of binary variables n", ylabel="number of parameters",
            title=f"n up to 784 (28x28 images); the table needs ~1e{len(str(curves_large['full table'][-1])) - 1}")
for ax in axes:
    ax.legend()
    ax.grid(alpha=0.3)
plt.tight_layout()
plt.show()
print(f"n = 64: table {float(tabular_num_params(64)):.3g}, FVSBN {fvsbn_num_params(64)}, "
      f"NADE (H = 64) {nade_num_params(64, 64)}")


# %% [markdown]
# ## 2. One class for every autoregressive model
#
# Each model below maps a batch of $m$ binary vectors over $n$ variables to **logits**, an
# $(m, n)$ tensor: for the row $\ell$ of a vector $x$, $p(x_i = 1 \mid x_{<i}) = \sigma(\ell_i)$,
# and column $i$ may depend on $x_{<i}$ = `x[:, :i]` only (the **autoregressive property**).
# Given those logits, two things are the same for every model.
#
# **The exact log-likelihood** (in nats) is the sum of the log-conditionals,
#
# $$\log p(x) = \sum_{i=0}^{n-1} \Big[x_i \log \sigma(\ell_i) + (1 - x_i) \log \sigma(-\ell_i)\Big]
#            = -\sum_{i} \mathrm{BCE}(\ell_i, x_i),$$
#
# computed from the logits (`F.binary_cross_entropy_with_logits` with `reduction="none"`, or
# `F.logsigmoid`), since $\sigma(\ell)$ rounds to exactly 1 in float32 for $\ell > 17$. One pass
# computes all $n$ conditionals at once, because column $i$ of `forward(x)` ignores `x[:, i:]`.
#
# **Ancestral sampling** draws $x_0 \sim p(x_0)$, then $x_1 \sim p(x_1 \mid x_0)$, and so on: one
# variable at a time, each from its conditional given the values already drawn. Starting from
# zeros, step $i$ calls `forward` on the partial sample and fills column $i$. This takes $n$
# passes: sampling is sequential even though evaluating is parallel.
#
# ### Exercise 4: `log_prob` and `sample` (6 points)
# Write both methods of the base class; every model below inherits them and only defines
# `forward`. Use the `generator` for every random draw (`torch.bernoulli(p, generator=...)` or
# `torch.rand(..., generator=...) < p`) and `torch.no_grad()` while sampling. `log_prob` must
# stay differentiable: the models are trained by maximizing it.

# %% nbgrader={"grade": false, "grade_id": "AutoregressiveModel", "locked": false, "schema_version": 3, "solution": true, "task": false}
class AutoregressiveModel(nn.Module):
    """Base class of autoregressive models over binary vectors x in {0., 1.}^n_vars.

    Subclasses call super().__init__(n_vars) and define forward(x): float32 (n, n_vars) ->
    logits (n, n_vars), column i depending on x[:, :i] only.
    """

    def __init__(self, n_vars):
        super().__init__()
        self.n_vars = n_vars

    def forward(self, x):
        raise NotImplementedError("each model defines its own forward")

    def log_prob(self, x):
        """Exact log-likelihood by the chain rule.

        Args:
            x: float32 tensor (n, n_vars) of 0./1.

        Returns:
            float32 tensor (n,): log p(x) in nats (differentiable in the parameters).

        """
        ### BEGIN SOLUTION
        logits = self.forward(x)
        return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=1)
        ### END SOLUTION

    def sample(self, n_samples, generator=None):
        """Ancestral sampling, one variable at a time.

        Args:
            n_samples: int >= 1: number of vectors to draw.
            generator: torch.Generator or None: source of all random draws.

        Returns:
            float32 tensor (n_samples, n_vars) of 0./1.
        """
        ### BEGIN SOLUTION
        x = torch.zeros(n_samples, self.n_vars)
        with torch.no_grad():
            for i in range(self.n_vars):
                p_i = torch.sigmoid(self.forward(x)[:, i])  # p(x_i = 1 | the x_<i drawn so far)
                x[:, i] = torch.bernoulli(p_i, generator=generator)
        return x
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_log_prob", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import itertools
import numpy as np
import torch
import torch.nn as nn
from scipy.special import log_expit
from dgm_utils.checks import assert_close, assert_finite, assert_shape, expect, fail

class _ToyFVSBN(nn.Module):
    """A test model with known logits, x @ tril(W, -1).T + b, and an attribute n_vars. The tests run your
    methods with self = this model: AutoregressiveModel.log_prob(toy, x) is your log_prob applied to it."""

    def __init__(self, W, b):
        super().__init__()
        self.n_vars = len(b)
        self.W = nn.Parameter(torch.tril(W, -1))
        self.b = nn.Parameter(b)

    def forward(self, x):
        return x @ torch.tril(self.W, -1).T + self.b

def _ref_log_prob(W, b, x):
    # float64 NumPy reference: sum_i x_i log sigma(l_i) + (1 - x_i) log sigma(-l_i)
    W, b, x = (np.asarray(t.detach(), dtype=np.float64) for t in (W, b, x))
    logits = x @ np.tril(W, -1).T + b
    return (x * log_expit(logits) + (1 - x) * log_expit(-logits)).sum(axis=1)

_g = torch.Generator().manual_seed(0)
_n = 5
_W, _b = 1.5 * torch.randn(_n, _n, generator=_g), torch.randn(_n, generator=_g)
_model = _ToyFVSBN(_W, _b)
_all = torch.tensor(list(itertools.product([0.0, 1.0], repeat=_n)))  # all 2^5 binary vectors
_lp = AutoregressiveModel.log_prob(_model, _all)
assert_shape(_lp, (2 ** _n,), "log_prob(x) for x of shape (32, 5)", hint="one log-likelihood per row of x",
             mistake="log_prob.shape")
_ref = _ref_log_prob(_W, _b, _all)
if np.allclose(_lp.detach().numpy(), _ref / _n, atol=1e-4):
    fail("log_prob is the mean over the variables of the log-conditionals: the chain rule multiplies "
         "the conditionals, so sum their logs over the n_vars variables (no mean).", mistake="log_prob.mean-not-sum")
if np.allclose(_lp.detach().numpy(), -_ref, atol=1e-4):
    fail("log_prob has the wrong sign: it returns the negative log-likelihood; return log p(x) <= 0.",
         mistake="log_prob.sign")
assert_close(_lp, _ref, rtol=1e-5, atol=1e-4, name="log_prob(x)",
             hint="log p(x) = sum_i [x_i log sigmoid(l_i) + (1 - x_i) log sigmoid(-l_i)] with l = forward(x)",
             mistake="log_prob.formula")
# Exhaustive normalization: the probabilities of all 2^5 vectors sum to one.
_total = float(torch.logsumexp(_lp.detach().double(), dim=0).exp())
expect(abs(_total - 1) < 1e-4, f"exp(log_prob) summed over all 2^5 vectors is {_total:.6f}, not 1",
       mistake="log_prob.not-normalized")
# Differentiability, on the same FVSBN written as a torch nn.Linear (strictly lower triangular weight): its
# weight and bias require grad, so log_prob's output must require grad too.
_lin = nn.Linear(_n, _n)
_lin.n_vars = _n
with torch.no_grad():
    _lin.weight.copy_(torch.tril(_W, -1))
    _lin.bias.copy_(_b)
_lp_lin = AutoregressiveModel.log_prob(_lin, _all)
assert_close(_lp_lin, _ref, rtol=1e-5, atol=1e-4, name="log_prob(x) with self = nn.Linear (the same FVSBN)",
             hint="compute log p(x) from self(x) only", mistake="log_prob.not-from-forward")
expect(_lp_lin.requires_grad,
       "log_prob(x) is not differentiable (no gradient flows to the parameters). Hint: no "
       "torch.no_grad(), .detach() or NumPy inside log_prob: the models are trained with it.",
       mistake="log_prob.not-differentiable")
# Confident conditionals: logits of several hundred (sigmoid(l) is exactly 0 or 1 in float32).
_Wx, _bx = 200 * _W, 50 * _b
_lpx = AutoregressiveModel.log_prob(_ToyFVSBN(_Wx, _bx), _all)
_hint = ("compute log p(x) from the logits (F.binary_cross_entropy_with_logits or F.logsigmoid), not from "
         "log(sigmoid(l)), which is log(0) = -inf (or clipped) for large |l|")
assert_finite(_lpx, "log_prob(x) for logits of several hundred", hint=_hint, mistake="log_prob.not-from-logits")
assert_close(_lpx, _ref_log_prob(_Wx, _bx, _all), rtol=1e-5, atol=1e-3, name="log_prob(x) for huge logits",
             hint=_hint, mistake="log_prob.not-from-logits")
print("log_prob: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_sample", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import itertools
import numpy as np
import torch
import torch.nn as nn
from scipy.special import log_expit
from dgm_utils.checks import assert_frequencies, assert_shape, expect

class _ToyFVSBN(nn.Module):
    """A test model with known logits, x @ tril(W, -1).T + b, and an attribute n_vars. The tests run your
    methods with self = this model: AutoregressiveModel.sample(toy, n) is your sample applied to it."""

    def __init__(self, W, b):
        super().__init__()
        self.n_vars = len(b)
        self.W = nn.Parameter(torch.tril(W, -1))
        self.b = nn.Parameter(b)

    def forward(self, x):
        return x @ torch.tril(self.W, -1).T + self.b

_g = torch.Generator().manual_seed(1)
_n = 4
_W, _b = 2.0 * torch.randn(_n, _n, generator=_g), torch.randn(_n, generator=_g)
_model = _ToyFVSBN(_W, _b)
_N = 20_000
_s = AutoregressiveModel.sample(_model, _N, generator=torch.Generator().manual_seed(0))
assert_shape(_s, (_N, _n), f"sample({_N})", hint="one row per sample, one column per variable", mistake="sample.shape")
expect(torch.is_floating_point(_s), f"samples must be float 0./1. values, got dtype {_s.dtype}",
       mistake="sample.not-float")
expect(bool(((_s == 0) | (_s == 1)).all()), "samples must contain only 0. and 1.", mistake="sample.not-binary")
# Independent probabilities of the 16 vectors (float64), and observed frequencies.
_all = np.array(list(itertools.product([0.0, 1.0], repeat=_n)))
_logits = _all @ np.tril(_W.numpy().astype(np.float64), -1).T + _b.numpy()
_probs = np.exp((_all * log_expit(_logits) + (1 - _all) * log_expit(-_logits)).sum(axis=1))
_codes = (_s.detach().numpy() @ (2 ** np.arange(_n - 1, -1, -1))).astype(int)  # row of _all for each sample
assert_frequencies(np.bincount(_codes, minlength=2 ** _n), _probs, name="frequencies of the 16 binary vectors",
                   hint="sample ancestrally: draw x_0, then x_1 given the drawn x_0, and so on, calling forward on "
                        "the partial sample before each variable (not all variables at once from one forward pass)",
                   mistake="sample.wrong-distribution")
# A fresh, identically seeded generator for each call.
_s1 = AutoregressiveModel.sample(_model, 50, generator=torch.Generator().manual_seed(5))
_s2 = AutoregressiveModel.sample(_model, 50, generator=torch.Generator().manual_seed(5))
expect(torch.equal(_s1, _s2),
       "two calls with identically seeded generators gave different samples: draw every "
       "random number from the generator argument", mistake="sample.ignores-generator")
assert_shape(AutoregressiveModel.sample(_model, 3), (3, _n), "sample(3) without a generator", mistake="sample.shape")
print("sample: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_autoregressive_base_hidden", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check log_prob and sample on other models when your notebook is graded.
### BEGIN HIDDEN TESTS
import itertools
import numpy as np
import torch
import torch.nn as nn
from dgm_utils.checks import assert_close, assert_frequencies, expect

class _ToyTable(nn.Module):
    """Conditional i given by an arbitrary table of the whole prefix (a non-linear model), with n_vars."""

    def __init__(self, n, seed):
        super().__init__()
        self.n_vars = n
        g = torch.Generator().manual_seed(seed)
        self.T = [3 * torch.randn(2 ** i, generator=g) for i in range(n)]

    def forward(self, x):
        cols = []
        for i in range(self.n_vars):
            code = (x[:, :i] * (2 ** torch.arange(i - 1, -1, -1)).float()).sum(1).long() if i else torch.zeros(len(x), dtype=torch.long)
            cols.append(self.T[i][code])
        return torch.stack(cols, dim=1)

_m = _ToyTable(6, 3)
_all = torch.tensor(list(itertools.product([0.0, 1.0], repeat=6)))
_lp = AutoregressiveModel.log_prob(_m, _all).detach().double()
expect(abs(float(torch.logsumexp(_lp, 0).exp()) - 1) < 1e-4, "hidden: normalization of a table model",
       mistake="log_prob.not-normalized")
_ref = torch.distributions.Bernoulli(logits=_m(_all).double()).log_prob(_all.double()).sum(1)
assert_close(_lp, _ref, rtol=1e-5, atol=1e-4, name="hidden: log_prob of a table model", mistake="log_prob.formula")
_s = AutoregressiveModel.sample(_m, 30_000, generator=torch.Generator().manual_seed(9))
_codes = (_s.numpy() @ (2 ** np.arange(5, -1, -1))).astype(int)
assert_frequencies(np.bincount(_codes, minlength=64), _ref.exp().numpy(), name="hidden: sample of a table model",
                   mistake="sample.wrong-distribution")
### END HIDDEN TESTS

# %% [markdown]
# ## 3. Three models, three ways to keep the conditionals honest
#
# Every model must satisfy the autoregressive property, or `log_prob` is no longer a
# normalized distribution (a conditional that peeks at $x_i$ can "predict" $x_i$ perfectly). The
# tests below check it programmatically: they flip $x_j$ and verify that columns $0..j$ of the
# logits do not move, that the probabilities of all $2^n$ vectors sum to one, and that the
# sampler's frequencies match $\exp(\log p)$. They also count the parameters the module actually
# uses (entries whose change moves the logits) against the closed forms of Exercise 3; masked entries
# therefore do not count, however you store them.
#
# **The shared checks.** The tests of the three models use the functions below (a read-only cell:
# run it, and call them on your own models while you debug if you like).

# %% nbgrader={"grade": false, "grade_id": "autoregressive_checks", "locked": true, "schema_version": 3, "solution": false, "task": false}
import itertools
import numpy as np
import torch
from dgm_utils.checks import assert_frequencies, assert_shape, expect, fail


def randomize_parameters(model, seed, scale=1.0):
    """Overwrite every trainable parameter with scale * N(0, 1) draws (so no weight is zero by
    chance), through model.load_state_dict(..., strict=False); masks and other buffers are kept.
    Returns the model."""
    g = torch.Generator().manual_seed(seed)
    new = {name: scale * torch.randn(p.shape, generator=g)  # drawn in the order of model.parameters()
           for name, p in model.named_parameters() if p.requires_grad}
    model.load_state_dict(new, strict=False)
    return model


def check_autoregressive(model, n, name, seed=0, *, shape_mistake=None, leak_mistake=None, ignores_mistake=None):
    """Flip x_j in 128 random binary vectors, for every j: columns i <= j of model(x) must not move
    (no leak), and every column i > j must move somewhere (conditional i uses all of x_<i).

    model: module mapping float32 (m, n) to logits (m, n); n: int; name: str for the messages.
    shape_mistake, leak_mistake, ignores_mistake: the keys of the mistakes a failure names (a wrong
    shape of forward(x), a conditional that depends on x_j for j >= i, one that ignores some x_j, j < i).
    """
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(128, n, generator=g) < 0.5).float()
    with torch.no_grad():
        base = model(x)
        assert_shape(base, (128, n), f"{name}.forward(x) for x of shape (128, {n})", mistake=shape_mistake)
        diff = torch.zeros(n, n)  # diff[j, i]: largest change of column i when x_j flips
        for j in range(n):
            x2 = x.clone()
            x2[:, j] = 1 - x2[:, j]
            diff[j] = (model(x2) - base).abs().amax(dim=0)
    for i in range(n):
        for j in range(i, n):
            if diff[j, i] > 1e-4:
                fail(
                    f"{name}: conditional {i} depends on x_{j} (mask leak): flipping x[:, {j}] changed column {i} "
                    f"of forward(x) by {float(diff[j, i]):.3g}, but column i may only depend on x[:, :{i}] "
                    f"(x_0 .. x_{i - 1}).", mistake=leak_mistake)
    for i in range(n):
        for j in range(i):
            if diff[j, i] < 1e-6:
                fail(
                    f"{name}: conditional {i} ignores x_{j}: flipping x[:, {j}] never changed column {i} of "
                    f"forward(x). Column i should depend on every x_j with j < i (is a mask too strict, or "
                    "shifted by one?).", mistake=ignores_mistake)


def count_used_parameters(model, n, seed=0):
    """(used, stored): the number of trainable parameter entries that the logits depend on, and
    sum(p.numel()) over the trainable parameters. Each entry in turn is moved by +1 (through
    model.load_state_dict, restored afterwards) and counts as used when the logits of 256 random
    binary vectors move by more than 1e-5: an entry that a mask removes leaves them unchanged
    (up to rounding)."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(256, n, generator=g) < 0.5).float()
    params = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
    used = 0
    with torch.no_grad():
        base = model(x)
        for name, p in params.items():
            for k in range(p.numel()):
                moved = p.flatten().clone()
                moved[k] += 1.0
                model.load_state_dict({name: moved.reshape(p.shape)}, strict=False)
                used += int((model(x) - base).abs().max() > 1e-5)
            model.load_state_dict({name: p}, strict=False)  # restore
    return used, sum(p.numel() for p in params.values())


def check_normalized_and_sampler(model, n, name, seed=0, n_samples=20_000, *, leak_mistake=None,
                                 sampler_mistake=None):
    """Exhaustive check for small n: the chain-rule probabilities of all 2^n binary vectors,
    computed from model(x) with torch.distributions, sum to one; and the frequencies of
    n_samples vectors from model.sample match them (dgm_utils.checks.assert_frequencies).
    leak_mistake, sampler_mistake: the keys of the mistakes a failure names (probabilities that do
    not sum to one: the model is not autoregressive; samples that do not follow the model)."""
    all_x = torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)))
    with torch.no_grad():
        lp = torch.distributions.Bernoulli(logits=model(all_x).double()).log_prob(all_x.double()).sum(1)
        total = float(lp.exp().sum())
        expect(abs(total - 1) < 1e-4, f"{name}: the probabilities of all 2^{n} vectors, from forward's logits by the "
                                      f"chain rule, sum to {total:.6f}, not 1: the model is not autoregressive",
               mistake=leak_mistake)
    s = model.sample(n_samples, generator=torch.Generator().manual_seed(seed))
    codes = (s.detach().numpy() @ (2 ** np.arange(n - 1, -1, -1))).astype(int)
    assert_frequencies(np.bincount(codes, minlength=2 ** n), lp.exp().numpy(), name=f"{name}: sample frequencies",
                       hint="the sampler must draw from the model's own conditionals, ancestrally",
                       mistake=sampler_mistake)


# %% [markdown]
# ### Exercise 5: FVSBN (3 points)
# Store a weight matrix and a bias and mask the matrix to its strictly lower triangle
# (`torch.tril(..., diagonal=-1)`): column $i$ of the logits is $b_i + \sum_{j<i} W_{ij} x_j$.
# Initialize the weights at zero or small random values.

# %% nbgrader={"grade": false, "grade_id": "FVSBN", "locked": false, "schema_version": 3, "solution": true, "task": false}
class FVSBN(AutoregressiveModel):
    """Fully visible sigmoid belief network: one logistic regression per variable on x_<i.

    Args:
        n_vars: int: number of binary variables.

    forward(x): float32 (n, n_vars) of 0./1. -> logits (n, n_vars), column i = b_i + sum_{j<i} W_ij x_j.
    """

    def __init__(self, n_vars):
        super().__init__(n_vars)
        ### BEGIN SOLUTION
        self.W = nn.Parameter(torch.zeros(n_vars, n_vars))
        self.b = nn.Parameter(torch.zeros(n_vars))
        self.register_buffer("mask", torch.tril(torch.ones(n_vars, n_vars), diagonal=-1))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return x @ (self.W * self.mask).T + self.b
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_FVSBN", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import torch
from dgm_utils.checks import expect

_m = randomize_parameters(FVSBN(6), 0)
check_autoregressive(_m, 6, "FVSBN(6)", shape_mistake="fvsbn.shape", leak_mistake="fvsbn.mask-leak",
                     ignores_mistake="fvsbn.mask-too-strict")
_used, _numel = count_used_parameters(_m, 6)
expect(_used == 6 * 7 // 2,
       f"FVSBN(6) uses {_used} parameters ({_numel} stored), but an FVSBN over 6 variables has 6 * 7 / 2 = 21 "
       "(fvsbn_num_params): conditional i uses i weights and one bias.", mistake="fvsbn.parameter-count")
check_normalized_and_sampler(randomize_parameters(FVSBN(4), 1), 4, "FVSBN(4)", leak_mistake="fvsbn.mask-leak",
                             sampler_mistake="sample.wrong-distribution")
print("FVSBN: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_FVSBN_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check other sizes when your notebook is graded.
### BEGIN HIDDEN TESTS
from dgm_utils.checks import expect
_m = randomize_parameters(FVSBN(10), 5)
check_autoregressive(_m, 10, "hidden: FVSBN(10)", shape_mistake="fvsbn.shape", leak_mistake="fvsbn.mask-leak",
                     ignores_mistake="fvsbn.mask-too-strict")
expect(count_used_parameters(_m, 10)[0] == 55, "hidden: FVSBN(10) uses 55 parameters", mistake="fvsbn.parameter-count")
check_normalized_and_sampler(randomize_parameters(FVSBN(5), 6, scale=2.0), 5, "hidden: FVSBN(5)", seed=3,
                             leak_mistake="fvsbn.mask-leak", sampler_mistake="sample.wrong-distribution")
_m1 = FVSBN(1)
expect(_m1(torch.zeros(2, 1)).shape == (2, 1), "hidden: FVSBN(1)", mistake="fvsbn.shape")
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 6: NADE with tied weights (4 points)
# Parameters: `W` $(H, n)$, `c` $(H,)$, `V` $(n, H)$, `b` $(n,)$; initialize `W` and `V` with small
# random values (e.g. `0.1 * torch.randn`). The hidden pre-activation of conditional $i$ is
# $a_i = c + \sum_{j<i} W_{:,j}\, x_j$, and consecutive ones differ by one term:
# $a_{i+1} = a_i + W_{:,i}\, x_i$. So all $n$ hidden vectors come from one *exclusive* cumulative
# sum over $j$ of the terms $x_j W_{:,j}$ (a tensor $(n_\text{examples}, n, H)$), without a loop:
# an $O(nH)$ computation for all conditionals, thanks to the tying. Careful: $a_i$ must not include
# the term of $x_i$ itself.

# %% nbgrader={"grade": false, "grade_id": "NADE", "locked": false, "schema_version": 3, "solution": true, "task": false}
class NADE(AutoregressiveModel):
    """Neural autoregressive density estimator with weights tied across conditionals.

    Args:
        n_vars: int: number of binary variables n.
        hidden_dim: int: hidden units H.

    forward(x): float32 (n_examples, n) of 0./1. -> logits (n_examples, n), column i =
        b_i + V_i . sigmoid(c + sum_{j<i} W[:, j] x_j).
    """

    def __init__(self, n_vars, hidden_dim):
        super().__init__(n_vars)
        ### BEGIN SOLUTION
        self.W = nn.Parameter(0.1 * torch.randn(hidden_dim, n_vars))
        self.c = nn.Parameter(torch.zeros(hidden_dim))
        self.V = nn.Parameter(0.1 * torch.randn(n_vars, hidden_dim))
        self.b = nn.Parameter(torch.zeros(n_vars))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        terms = x.unsqueeze(2) * self.W.T  # (n_examples, n, H): x_j W[:, j]
        before = torch.cumsum(terms[:, :-1], dim=1)  # sum over j <= i - 1, for i = 1 .. n - 1
        a = self.c + torch.cat([torch.zeros_like(terms[:, :1]), before], dim=1)  # a_0 = c
        h = torch.sigmoid(a)
        return (h * self.V).sum(dim=2) + self.b
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_NADE", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
import torch
from dgm_utils.checks import expect, fail

_m = randomize_parameters(NADE(6, 5), 0)
check_autoregressive(_m, 6, "NADE(6, 5)", shape_mistake="nade.shape", leak_mistake="nade.mask-leak",
                     ignores_mistake="nade.mask-too-strict")
_used, _numel = count_used_parameters(_m, 6)
_closed = 2 * 6 * 5 + 6  # W: 5 x 5 used columns, c: 5, V: 6 x 5, b: 6
if _used > _closed:
    fail(f"NADE(6, 5) uses {_used} parameters ({_numel} stored), more than the {_closed} of nade_num_params(6, 5): "
         "the conditionals must share (tie) one W and one c; a separate first layer per conditional costs O(n^2 H).",
         mistake="nade.untied")
expect(_used == _closed,
       f"NADE(6, 5) uses {_used} parameters ({_numel} stored), expected {_closed} "
       "(nade_num_params(6, 5)): W (H, n), c (H,), V (n, H), b (n,)", mistake="nade.parameter-count")
check_normalized_and_sampler(randomize_parameters(NADE(4, 3), 1, scale=2.0), 4, "NADE(4, 3)",
                             leak_mistake="nade.mask-leak", sampler_mistake="sample.wrong-distribution")
print("NADE: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_NADE_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check other sizes when your notebook is graded.
### BEGIN HIDDEN TESTS
from dgm_utils.checks import expect
_m = randomize_parameters(NADE(9, 2), 4)
check_autoregressive(_m, 9, "hidden: NADE(9, 2)", shape_mistake="nade.shape", leak_mistake="nade.mask-leak",
                     ignores_mistake="nade.mask-too-strict")
expect(count_used_parameters(_m, 9)[0] == 2 * 9 * 2 + 9, "hidden: NADE(9, 2) uses 2nH + n parameters",
       mistake="nade.parameter-count")
check_normalized_and_sampler(randomize_parameters(NADE(5, 4), 7, scale=2.0), 5, "hidden: NADE(5, 4)", seed=4,
                             leak_mistake="nade.mask-leak", sampler_mistake="sample.wrong-distribution")
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 7: MADE, an MLP made autoregressive by masks (4 points)
#
# MADE starts from an ordinary MLP (notebook 02) over the whole vector $x$ and multiplies each
# weight matrix by a binary **mask** so that output $i$ cannot see $x_{\ge i}$. Give each unit a
# *degree*:
# - input $j$ has degree $j + 1$ (so degrees $1..n$);
# - each hidden unit gets a degree $m$ drawn uniformly from $\{m_\text{min}, \dots, n - 1\}$, where
#   $m_\text{min}$ is the smallest degree of the previous layer (use a `torch.Generator` seeded
#   with `seed`): the unit may see inputs of degree $\le m$;
# - a hidden connection from a unit of degree $m'$ to a unit of degree $m$ is kept when
#   $m \ge m'$;
# - output $i$ has degree $i + 1$ and keeps a connection from a last-layer unit of degree $m$ only
#   when $i + 1 > m$ (**strictly**: this is what removes $x_i$ itself).
#
# A path from $x_j$ to output $i$ then passes only through degrees $j + 1 \le \dots \le i$, so
# $j < i$. Use the `MaskedLinear` layer below (the mask has the weight's shape
# `(out_features, in_features)`), ReLU between layers, and no activation on the output.

# %%
class MaskedLinear(nn.Linear):
    """nn.Linear whose weight is multiplied by a fixed 0/1 mask (out_features, in_features)."""

    def __init__(self, in_features, out_features, mask):
        super().__init__(in_features, out_features)
        self.register_buffer("mask", torch.as_tensor(mask, dtype=torch.float32))

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


# %% nbgrader={"grade": false, "grade_id": "MADE", "locked": false, "schema_version": 3, "solution": true, "task": false}
class MADE(AutoregressiveModel):
    """Masked autoencoder for distribution estimation (natural variable order).

    Args:
        n_vars: int: number of binary variables n.
        hidden_dims: list of int: widths of the hidden layers.
        seed: int: seed of the hidden units' degrees.

    forward(x): float32 (n_examples, n) of 0./1. -> logits (n_examples, n), column i depending on x[:, :i] only.
    """

    def __init__(self, n_vars, hidden_dims, seed=0):
        super().__init__(n_vars)
        ### BEGIN SOLUTION
        g = torch.Generator().manual_seed(seed)
        degrees = [torch.arange(1, n_vars + 1)]  # input j has degree j + 1
        for width in hidden_dims:
            low = min(int(degrees[-1].min()), n_vars - 1)
            degrees.append(torch.randint(low, n_vars, (width,), generator=g))  # in {low, ..., n - 1}
        layers = []
        for d_in, d_out in zip(degrees[:-1], degrees[1:]):
            layers += [MaskedLinear(len(d_in), len(d_out), d_out[:, None] >= d_in[None, :]), nn.ReLU()]
        d_final = torch.arange(1, n_vars + 1)  # output i has degree i + 1
        layers.append(MaskedLinear(len(degrees[-1]), n_vars, d_final[:, None] > degrees[-1][None, :]))
        self.net = nn.Sequential(*layers)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.net(x)
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_MADE", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
import torch

_m = randomize_parameters(MADE(6, [200]), 0, scale=0.5)
check_autoregressive(_m, 6, "MADE(6, [200])", shape_mistake="made.shape", leak_mistake="made.mask-leak",
                     ignores_mistake="made.mask-too-strict")
_m2 = randomize_parameters(MADE(6, [120, 120], seed=3), 1, scale=0.5)
check_autoregressive(_m2, 6, "MADE(6, [120, 120], seed=3)", shape_mistake="made.shape", leak_mistake="made.mask-leak",
                     ignores_mistake="made.mask-too-strict")
check_normalized_and_sampler(randomize_parameters(MADE(4, [30, 30], seed=1), 2), 4, "MADE(4, [30, 30])",
                             leak_mistake="made.mask-leak", sampler_mistake="sample.wrong-distribution")
print("MADE: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_MADE_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check other sizes and seeds when your notebook is graded.
### BEGIN HIDDEN TESTS
_m = randomize_parameters(MADE(10, [300], seed=7), 3, scale=0.5)
check_autoregressive(_m, 10, "hidden: MADE(10, [300], seed=7)", shape_mistake="made.shape",
                     leak_mistake="made.mask-leak", ignores_mistake="made.mask-too-strict")
_m3 = randomize_parameters(MADE(5, [100, 100, 100], seed=2), 4, scale=0.5)
check_autoregressive(_m3, 5, "hidden: MADE(5, three layers)", shape_mistake="made.shape", leak_mistake="made.mask-leak",
                     ignores_mistake="made.mask-too-strict")
check_normalized_and_sampler(randomize_parameters(MADE(5, [40], seed=5), 5), 5, "hidden: MADE(5, [40])", seed=8,
                             leak_mistake="made.mask-leak", sampler_mistake="sample.wrong-distribution")
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Modelling handwritten digits
#
# The 1,797 handwritten digits bundled with scikit-learn are 8x8 images with 17 gray levels; we
# binarize them (a pixel is 1 when its level exceeds 8) and use the course's fixed split: 1,348
# training and 449 test images, each a vector of $n = 64$ pixels in row-major order.
#
# **Baseline: independent pixels.** $p(x) = \prod_i \mathrm{Bernoulli}(x_i; \mu_i)$ with $\mu_i$
# the (smoothed) frequency of pixel $i$ in the training set. It is the autoregressive model whose
# conditionals ignore $x_{<i}$: an FVSBN with $W = 0$.
#
# We report the **test negative log-likelihood in nats per image**,
# $-\frac{1}{|\text{test}|}\sum_{x \in \text{test}} \log p(x)$: lower is better, and a gain of
# 1 nat means the model gives the test images $e \approx 2.7$ times more probability per image, in
# geometric mean.

# %% tags=["demo"]
x_train, x_test, _, _ = load_binarized_digits()
print(f"train {tuple(x_train.shape)}, test {tuple(x_test.shape)}, mean pixel {float(x_train.mean()):.3f}")

mu = (x_train.sum(0) + 1) / (len(x_train) + 2)  # Laplace-smoothed pixel frequencies
baseline_nll = float(-(x_test * torch.log(mu) + (1 - x_test) * torch.log1p(-mu)).sum(1).mean())
baseline_samples = torch.bernoulli(mu.expand(32, -1), generator=torch.Generator().manual_seed(0))
print(f"independent-pixel baseline: test NLL {baseline_nll:.2f} nats/image")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
plot_image_grid(x_train[:32], ax=axes[0], title="training images")
plot_image_grid(baseline_samples, ax=axes[1], title="independent-pixel samples")
plt.show()


# %% [markdown]
# Each model is trained by maximum likelihood: minimize the mean negative log-likelihood
# $-\frac{1}{|\text{batch}|}\sum \log p(x)$ with Adam, using `dgm_utils.training.fit` (a generic
# minibatch loop with a progress bar). The models are filled into the dictionary `models` as
# they train, so the table and the figures below show whatever has been trained.

# %% tags=["demo"]
def nll_loss(model, x_batch):
    """Mean negative log-likelihood (nats per image) of a batch: the training objective."""
    return -model.log_prob(x_batch).mean()

models, histories, n_params = {}, {}, {}  # filled as the models train

# %% tags=["demo"]
torch.manual_seed(0)
fvsbn = FVSBN(64)
histories["FVSBN"] = fit(fvsbn, nll_loss, x_train, n_epochs=60, lr=1e-2, batch_size=64,
                         generator=torch.Generator().manual_seed(0), desc="FVSBN")
models["FVSBN"], n_params["FVSBN"] = fvsbn, fvsbn_num_params(64)

# %% tags=["demo"]
torch.manual_seed(0)
nade = NADE(64, hidden_dim=64)
histories["NADE"] = fit(nade, nll_loss, x_train, n_epochs=60, lr=1e-2, batch_size=128,
                        generator=torch.Generator().manual_seed(0), desc="NADE")
models["NADE"], n_params["NADE"] = nade, nade_num_params(64, 64)

# %% tags=["demo"]
torch.manual_seed(0)
made = MADE(64, [256], seed=0)
histories["MADE"] = fit(made, nll_loss, x_train, n_epochs=100, lr=1e-3, batch_size=32,
                        generator=torch.Generator().manual_seed(0), desc="MADE")
models["MADE"] = made
n_params["MADE"] = sum(int(layer.mask.sum()) + layer.bias.numel()  # unmasked weights and biases
                       for layer in made.modules() if isinstance(layer, MaskedLinear))

# %% [markdown]
# **Results.** Test NLL of each trained model beside the baseline, and samples drawn
# ancestrally from each (compare them with the training images above: the baseline's samples
# are noise around the average digit; the autoregressive models draw strokes).

# %% tags=["demo"]
test_nll = {"independent pixels": baseline_nll}
n_params["independent pixels"] = 64
with torch.no_grad():
    for name, model in models.items():
        test_nll[name] = float(-model.log_prob(x_test).mean())
print(f"{'model':20s} {'parameters':>10s} {'test NLL (nats/image)':>22s} {'gain over baseline':>19s}")
for name, value in test_nll.items():
    print(f"{name:20s} {n_params[name]:10d} {value:22.2f} {baseline_nll - value:19.2f}")

fig, axes = plt.subplots(1, 1 + len(models), figsize=(4.2 * (1 + len(models)), 3.6),
                         squeeze=False)
axes = axes[0]
for name, losses in histories.items():
    axes[0].plot(np.arange(1, len(losses) + 1), losses, label=f"{name} (train)")
axes[0].axhline(baseline_nll, color="gray", ls="--", label="baseline (test)")
axes[0].set(xlabel="epoch", ylabel="NLL (nats/image)", title="Training", ylim=(10, 40))
axes[0].legend(fontsize=8)
axes[0].grid(alpha=0.3)
for ax, (name, model) in zip(axes[1:], models.items()):
    plot_image_grid(model.sample(32, generator=torch.Generator().manual_seed(1)), ax=ax,
                    title=f"{name} samples (test NLL {test_nll[name]:.1f})")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 5. A next-token model: first names, one character at a time
#
# A language model is an autoregressive model over tokens. Here the tokens are the 26 letters
# plus `.`, which marks the end of a name (and pads the context before the first letter). The
# name "anna" is the sequence `a n n a .`, and the chain rule gives (with a context of four tokens)
#
# $$p(\texttt{anna.}) = p(\texttt{a} \mid \texttt{....})\; p(\texttt{n} \mid \texttt{...a})\;
#   p(\texttt{n} \mid \texttt{..an})\; p(\texttt{a} \mid \texttt{.ann})\; p(\texttt{.} \mid \texttt{anna}).$$
#
# The end token matters: without it the model could not say how long names are, and the
# probabilities of all finite names would not sum to one. Each conditional is now a distribution
# over 27 classes: a **softmax** of 27 logits (the multi-class version of the sigmoid), and
# $\log p$ of the observed token is `-F.cross_entropy(logits, target)`.
#
# The data: the US Census first names shipped with the PyPI package `names` (5,163 distinct names
# of 2 to 11 letters, 6.0 on average), split once at random into 80% training and 20% test names. The helper
# `make_contexts` turns names into prediction problems: for every token of every name, the
# `context_size` previous tokens (padded with `.`), the target token, and the index of the name.

# %%
VOCAB = ".abcdefghijklmnopqrstuvwxyz"  # index 0 is "." (end of name, and padding before the start)
STOI = {ch: i for i, ch in enumerate(VOCAB)}


def make_contexts(names, context_size):
    """Every next-token prediction problem of a list of names.

    Args:
        names: list of str of lower-case letters.
        context_size: int >= 1: tokens of context (earlier positions are padded with ".").

    Returns:
        contexts: long tensor (m, context_size): the previous tokens, oldest first;
        targets: long tensor (m,): the token to predict (0 = end of name);
        name_index: long tensor (m,): which name each row belongs to (m = sum of len(name) + 1).
    """
    contexts, targets, name_index = [], [], []
    for k, name in enumerate(names):
        window = [0] * context_size
        for ch in list(name) + ["."]:
            contexts.append(list(window))
            targets.append(STOI[ch])
            name_index.append(k)
            window = window[1:] + [STOI[ch]]
    return (torch.tensor(contexts, dtype=torch.long).reshape(-1, context_size),
            torch.tensor(targets, dtype=torch.long), torch.tensor(name_index, dtype=torch.long))


all_names = load_names("all")
perm = np.random.default_rng(0).permutation(len(all_names))
n_test_names = len(all_names) // 5
test_names = [all_names[i] for i in perm[:n_test_names]]
train_names = [all_names[i] for i in perm[n_test_names:]]
print(f"{len(train_names)} training names, {len(test_names)} test names, e.g. {train_names[:6]}")
_c, _t, _k = make_contexts(["anna"], 4)
print("contexts of 'anna':", ["".join(VOCAB[i] for i in row) + " -> " + VOCAB[t] for row, t in zip(_c.tolist(), _t.tolist())])


# %% [markdown]
# **The baseline: a bigram table.** The simplest next-token model conditions on the previous
# token only, $p(c_t \mid c_{t-1})$: a $27 \times 27$ table (a Bayes net that is a Markov chain!)
# estimated by counting. Row $a$ holds the distribution of the token that follows $a$. Unseen pairs
# would get probability 0 and an infinite test NLL, so add $\alpha$ to every count (*add-$\alpha$
# smoothing*):
#
# $$p(b \mid a) = \frac{N(a \to b) + \alpha}{\sum_{b'} N(a \to b') + 27\,\alpha}.$$
#
# ### Exercise 8: the bigram table (3 points)

# %% nbgrader={"grade": false, "grade_id": "bigram_log_probs", "locked": false, "schema_version": 3, "solution": true, "task": false}
def bigram_log_probs(names, alpha=1.0):
    """Add-alpha smoothed bigram model of names, as a table of log-probabilities.

    Args:
        names: list of str: training names (each followed by the end token ".", preceded by ".").
        alpha: float > 0: pseudo-count added to every pair.

    Returns:
        float32 tensor (27, 27): entry [a, b] = log p(next token b | previous token a); each row's
        probabilities sum to one.
    """
    ### BEGIN SOLUTION
    contexts, targets, _ = make_contexts(names, 1)
    counts = torch.full((len(VOCAB), len(VOCAB)), float(alpha))
    counts.index_put_((contexts[:, 0], targets), torch.ones(len(targets)), accumulate=True)
    return torch.log(counts / counts.sum(dim=1, keepdim=True))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_bigram_log_probs", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import math
import torch
from dgm_utils.checks import assert_close, assert_finite, assert_shape, fail

_names = ["ab", "abba", "b", "ca"]
_L = bigram_log_probs(_names, alpha=0.5)
assert_shape(_L, (27, 27), "bigram_log_probs(names)", hint="one row per previous token, one column per next token",
             mistake="bigram.shape")
assert_finite(_L, "bigram_log_probs(names, alpha=0.5)",
              hint="unseen pairs get probability alpha / (row count + 27 alpha) > 0: add alpha to every count",
              mistake="bigram.no-smoothing")
# Independent count with Python loops.
_pairs = {}
for _nm in _names:
    _seq = "." + _nm + "."
    for _a, _b in zip(_seq[:-1], _seq[1:]):
        _pairs[(_a, _b)] = _pairs.get((_a, _b), 0) + 1
_ref = torch.zeros(27, 27, dtype=torch.float64)
for _i, _a in enumerate(VOCAB):
    _row = sum(_pairs.get((_a, _b), 0) for _b in VOCAB)
    for _j, _b in enumerate(VOCAB):
        _ref[_i, _j] = math.log((_pairs.get((_a, _b), 0) + 0.5) / (_row + 27 * 0.5))
_row_sums = torch.logsumexp(_L.double(), dim=1).exp()
if not torch.allclose(_row_sums, torch.ones(27, dtype=torch.float64), atol=1e-4):
    fail(f"the probabilities in row 0 of the bigram table sum to {float(_row_sums[0]):.4f}, not 1: "
         "normalize each row (over the next token b, dim=1), not each column.",
         mistake="bigram.normalized-over-columns")
assert_close(_L, _ref, rtol=1e-5, atol=1e-5, name="bigram_log_probs(names, alpha=0.5)",
             hint="entry [a, b] = log((N(a -> b) + alpha) / (N(a -> anything) + 27 alpha)), counting the pairs "
                  "('.', first letter) and (last letter, '.') too", mistake="bigram.formula")
print("bigram_log_probs: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_bigram_log_probs_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check another alpha and larger lists when your notebook is graded.
### BEGIN HIDDEN TESTS
import torch
from dgm_utils.checks import expect
_L2 = bigram_log_probs(["zz"] * 10, alpha=1.0)
expect(abs(float(_L2[STOI["z"], STOI["z"]].exp()) - 11 / 47) < 1e-5, "hidden: p(z | z)", mistake="bigram.formula")
expect(abs(float(_L2[0, STOI["z"]].exp()) - 11 / 37) < 1e-5, "hidden: p(z | start)", mistake="bigram.formula")
expect(abs(float(_L2[STOI["q"], STOI["u"]].exp()) - 1 / 27) < 1e-6, "hidden: unseen row is uniform",
       mistake="bigram.no-smoothing")
### END HIDDEN TESTS

# %% [markdown]
# **A neural next-token model.** Replace the table by a network that reads the last
# `context_size` tokens (notebook 02's MLP, with one change for discrete inputs): each token is
# mapped to a learned vector by an **embedding** table `nn.Embedding(vocab_size, embed_dim)`
# (one row per token, shared by all positions, another form of weight tying), the vectors of the
# context are **concatenated** in order (so the network knows which token came last), then one
# hidden layer with `tanh` and a linear output layer give 27 logits.
#
# ### Exercise 9: `CharMLP` (3 points)

# %% nbgrader={"grade": false, "grade_id": "CharMLP", "locked": false, "schema_version": 3, "solution": true, "task": false}
class CharMLP(nn.Module):
    """Next-token model: embeddings of the context tokens, concatenated, then an MLP.

    Args:
        vocab_size: int: number of tokens V.
        context_size: int: tokens of context k (store it as the attribute context_size).
        embed_dim: int: size E of a token's embedding.
        hidden_dim: int: hidden units H (tanh).

    forward(contexts): long tensor (m, k) of token indices -> logits float32 (m, V).
    Parameters: V*E (embedding) + (k*E + 1)*H (hidden layer) + (H + 1)*V (output layer).
    """

    def __init__(self, vocab_size, context_size, embed_dim=16, hidden_dim=128):
        super().__init__()
        self.context_size = context_size
        ### BEGIN SOLUTION
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.hidden = nn.Linear(context_size * embed_dim, hidden_dim)
        self.out = nn.Linear(hidden_dim, vocab_size)
        ### END SOLUTION

    def forward(self, contexts):
        ### BEGIN SOLUTION
        e = self.embed(contexts).flatten(start_dim=1)  # (m, k * E), oldest token first
        return self.out(torch.tanh(self.hidden(e)))
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_CharMLP", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import torch
from dgm_utils.checks import assert_finite, assert_shape, expect, fail

_V, _k, _E, _H = 27, 5, 4, 9
_m = CharMLP(_V, _k, embed_dim=_E, hidden_dim=_H)
expect(getattr(_m, "context_size", None) == _k, "CharMLP must store context_size as an attribute",
       mistake="char_mlp.context-size")
_numel = sum(p.numel() for p in _m.parameters())
_closed = _V * _E + (_k * _E + 1) * _H + (_H + 1) * _V
if _numel == _V * _E + (_E + 1) * _H + (_H + 1) * _V:
    fail(f"CharMLP has {_numel} parameters: the hidden layer reads one embedding (E inputs). "
         "Concatenate the k embeddings of the context (k * E inputs) so the order of tokens matters.",
         mistake="char_mlp.order-lost")
expect(_numel == _closed,
       f"CharMLP({_V}, {_k}, embed_dim={_E}, hidden_dim={_H}) has {_numel} parameters, expected "
       f"V*E + (k*E + 1)*H + (H + 1)*V = {_closed}", mistake="char_mlp.parameter-count")
_g = torch.Generator().manual_seed(0)
_ctx = torch.randint(0, _V, (11, _k), generator=_g)
_out = _m(_ctx)
assert_shape(_out, (11, _V), "CharMLP(...)(contexts) for contexts of shape (11, 5)",
             hint="one row of V logits per context", mistake="char_mlp.shape")
assert_finite(_out, "CharMLP logits", mistake="char_mlp.not-finite")
_swapped = _ctx[:, [1, 0, 2, 3, 4]]
expect((_m(_swapped) - _out).abs().max() > 1e-6,
       "CharMLP gives the same logits when two context tokens are swapped: the model must know the order of the "
       "context (concatenate the embeddings; do not sum or average them).", mistake="char_mlp.order-lost")
print("CharMLP: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_CharMLP_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check other sizes when your notebook is graded.
### BEGIN HIDDEN TESTS
from dgm_utils.checks import expect
_m = CharMLP(27, 1, embed_dim=3, hidden_dim=2)
expect(sum(p.numel() for p in _m.parameters()) == 27 * 3 + 4 * 2 + 3 * 27, "hidden: CharMLP(27, 1, 3, 2) size",
       mistake="char_mlp.parameter-count")
expect(_m(torch.zeros(4, 1, dtype=torch.long)).shape == (4, 27), "hidden: context_size 1", mistake="char_mlp.shape")
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 10: the exact log-likelihood of a name (3 points)
# For any next-token model with an attribute `context_size` and `forward(contexts) -> logits`
# (the `CharMLP`, or a table), compute $\log p(\text{name})$: the sum over its tokens,
# **including the end token**, of $\log p(\text{token} \mid \text{context})$. Use `make_contexts`,
# one forward pass for all rows, `log_softmax` and a per-name sum (`torch.zeros(n).index_add_`), no
# loop over names.

# %% nbgrader={"grade": false, "grade_id": "sequence_log_prob", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sequence_log_prob(model, names):
    """Exact log-likelihood of each name under a next-token model.

    Args:
        model: module with attribute context_size and forward(long (m, context_size)) -> logits (m, 27).
        names: list of n str of lower-case letters.

    Returns:
        float32 tensor (n,): log p(name + ".") in nats (differentiable in the model's parameters).
    """
    ### BEGIN SOLUTION
    contexts, targets, name_index = make_contexts(names, model.context_size)
    log_p = torch.log_softmax(model(contexts), dim=1).gather(1, targets[:, None])[:, 0]
    return torch.zeros(len(names), dtype=log_p.dtype).index_add(0, name_index, log_p)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_sequence_log_prob", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import math
import torch
import torch.nn as nn
from dgm_utils.checks import assert_close, assert_shape, expect, fail

class _ToyNext(nn.Module):
    """A test next-token model: logits = A[last token] + B[token before] (+ a bias on the end token)."""

    def __init__(self, seed, end_bias=0.0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.context_size = 2
        self.A = nn.Parameter(2 * torch.randn(27, 27, generator=g))
        self.B = nn.Parameter(2 * torch.randn(27, 27, generator=g))
        self.end_bias = end_bias

    def forward(self, contexts):
        logits = self.A[contexts[:, -1]] + self.B[contexts[:, -2]]
        return logits + self.end_bias * (torch.arange(27) == 0).float()

def _ref_seq_log_prob(model, name, with_end=True):
    # Python loop over the tokens of one name, float64
    A, B = model.A.detach().double(), model.B.detach().double()
    toks = [STOI[c] for c in name] + ([0] if with_end else [])
    prev2, prev1, total = 0, 0, 0.0
    for t in toks:
        logits = A[prev1] + B[prev2] + model.end_bias * (torch.arange(27) == 0).double()
        total += float(torch.log_softmax(logits, 0)[t])
        prev2, prev1 = prev1, t
    return total

_model = _ToyNext(0)
_names = ["anna", "bo", "zyx", "eve", "a"]
_lp = sequence_log_prob(_model, _names)
assert_shape(_lp, (5,), "sequence_log_prob(model, 5 names)", hint="one log-likelihood per name",
             mistake="sequence_log_prob.shape")
_ref = torch.tensor([_ref_seq_log_prob(_model, nm) for nm in _names], dtype=torch.float64)
_no_end = torch.tensor([_ref_seq_log_prob(_model, nm, with_end=False) for nm in _names], dtype=torch.float64)
if torch.allclose(_lp.detach().double(), _no_end, atol=1e-4):
    fail("sequence_log_prob leaves out the end token: log p(name) must include log p('.' | name), "
         "or the model never learns where names stop.", mistake="sequence_log_prob.no-end-token")
_lens = torch.tensor([len(nm) + 1 for nm in _names], dtype=torch.float64)
if torch.allclose(_lp.detach().double(), _ref / _lens, atol=1e-4):
    fail("sequence_log_prob averages over the tokens: the chain rule multiplies the conditionals, "
         "so sum their logs (no mean).", mistake="sequence_log_prob.mean-not-sum")
assert_close(_lp, _ref, rtol=1e-5, atol=1e-4, name="sequence_log_prob(model, names)",
             hint="sum over the tokens of each name (end token included) of log_softmax(model(context))[token]",
             mistake="sequence_log_prob.formula")
# The toy's logits require grad (A and B are parameters): log p(name) computed from them must too.
expect(_lp.requires_grad,
       "sequence_log_prob(model, names) is not differentiable (no gradient flows to the "
       "model's parameters), but it is the training objective. Hint: no torch.no_grad(), "
       ".detach(), .item() or NumPy on the logits or log-probabilities.",
       mistake="sequence_log_prob.not-differentiable")
print("sequence_log_prob: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_sequence_log_prob_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check another model when your notebook is graded.
### BEGIN HIDDEN TESTS
_model = _ToyNext(5, end_bias=-2.0)
_names = ["abcdefghijkl", "q", "mm"]
assert_close(sequence_log_prob(_model, _names), torch.tensor([_ref_seq_log_prob(_model, nm) for nm in _names]),
             rtol=1e-5, atol=1e-4, name="hidden: sequence_log_prob", mistake="sequence_log_prob.formula")
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 11: sampling names (3 points)
# Ancestral sampling again, now with a categorical draw (`torch.multinomial(probs, 1,
# generator=...)`) per step: start every name from an all-`.` context, draw a token, append it,
# slide the context window, and stop a name at its first `.`. Sample all names in parallel (a loop
# over positions, not over names) and stop after `max_length` letters.

# %% nbgrader={"grade": false, "grade_id": "sample_names", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sample_names(model, n_samples, generator=None, max_length=12):
    """Draw names from a next-token model, one character at a time.

    Args:
        model: module with attribute context_size and forward(long (m, context_size)) -> logits (m, 27).
        n_samples: int >= 1: number of names.
        generator: torch.Generator or None: source of all random draws.
        max_length: int >= 1: a name is cut after this many letters.

    Returns:
        list of n_samples str (letters only, without the end token; possibly empty).
    """
    ### BEGIN SOLUTION
    context = torch.zeros(n_samples, model.context_size, dtype=torch.long)
    tokens = torch.zeros(n_samples, max_length, dtype=torch.long)
    alive = torch.ones(n_samples, dtype=torch.bool)
    with torch.no_grad():
        for t in range(max_length):
            probs = torch.softmax(model(context), dim=1)
            nxt = torch.multinomial(probs, 1, generator=generator)[:, 0]
            nxt = torch.where(alive, nxt, torch.zeros_like(nxt))
            tokens[:, t] = nxt
            alive &= nxt != 0
            context = torch.cat([context[:, 1:], nxt[:, None]], dim=1)
    return ["".join(VOCAB[i] for i in row).split(".")[0] for row in tokens.tolist()]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_sample_names", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import itertools
import numpy as np
import torch
import torch.nn as nn
from dgm_utils.checks import assert_frequencies, expect

class _ToyNext(nn.Module):
    """A test next-token model: logits = A[last token] + B[token before] (+ a bias on the end token)."""

    def __init__(self, seed, end_bias=0.0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.context_size = 2
        self.A = nn.Parameter(2 * torch.randn(27, 27, generator=g))
        self.B = nn.Parameter(2 * torch.randn(27, 27, generator=g))
        self.end_bias = end_bias

    def forward(self, contexts):
        logits = self.A[contexts[:, -1]] + self.B[contexts[:, -2]]
        return logits + self.end_bias * (torch.arange(27) == 0).float()

_model = _ToyNext(1, end_bias=3.0)
# Independent probabilities of every name of at most 2 letters, then "longer".
_A, _B = _model.A.detach().double(), _model.B.detach().double()
def _cond(p2, p1):
    return torch.softmax(_A[p1] + _B[p2] + 3.0 * (torch.arange(27) == 0).double(), 0)
_words, _probs = [""], [float(_cond(0, 0)[0])]
for _a in range(1, 27):
    _pa = float(_cond(0, 0)[_a])
    _words.append(VOCAB[_a])
    _probs.append(_pa * float(_cond(0, _a)[0]))
    for _b in range(1, 27):
        _words.append(VOCAB[_a] + VOCAB[_b])
        _probs.append(_pa * float(_cond(0, _a)[_b]) * float(_cond(_a, _b)[0]))
_probs.append(1.0 - sum(_probs))
_index = {w: i for i, w in enumerate(_words)}
_N = 20_000
_samples = sample_names(_model, _N, generator=torch.Generator().manual_seed(0))
expect(isinstance(_samples, list) and len(_samples) == _N, f"sample_names must return a list of {_N} str",
       mistake="sample_names.type")
expect(all(isinstance(s, str) and set(s) <= set(VOCAB[1:]) for s in _samples),
       "sampled names must be str of letters only (the end token '.' is not part of the name)",
       mistake="sample_names.not-letters")
_counts = np.bincount([_index.get(s, len(_words)) for s in _samples], minlength=len(_words) + 1)
assert_frequencies(_counts, np.array(_probs), name="frequencies of sampled names (all names of <= 2 letters, then "
                   "'longer')", hint="draw each token from softmax(logits) with torch.multinomial (not the argmax), "
                   "feed it back into the context, and end a name at its first '.'",
                   mistake="sample_names.wrong-distribution")
_s1 = sample_names(_model, 30, generator=torch.Generator().manual_seed(4))
expect(_s1 == sample_names(_model, 30, generator=torch.Generator().manual_seed(4)),
       "two calls with identically seeded generators gave different names: draw from the generator argument",
       mistake="sample_names.ignores-generator")
_long = sample_names(_ToyNext(2, end_bias=-1e4), 5, max_length=7)
expect(all(len(s) == 7 for s in _long),
       f"a model that never ends must give names of max_length = 7 letters, got "
       f"{_long}", mistake="sample_names.max-length")
print("sample_names: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_sample_names_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check other models and lengths when your notebook is graded.
### BEGIN HIDDEN TESTS
from dgm_utils.checks import expect
_always_end = _ToyNext(3, end_bias=1e4)
expect(sample_names(_always_end, 4) == ["", "", "", ""], "hidden: a model that always ends gives empty names",
       mistake="sample_names.stop-at-end")
_s = sample_names(_ToyNext(4, end_bias=-1e4), 3, max_length=1)
expect(all(len(x) == 1 for x in _s), "hidden: max_length = 1", mistake="sample_names.max-length")
### END HIDDEN TESTS

# %% [markdown]
# **Training and comparison.** The bigram table is itself a next-token model with context size 1,
# so the same `sequence_log_prob` evaluates both. We report the **per-character NLL**: the total
# negative log-likelihood of the test names divided by their number of tokens (letters plus end
# tokens), in nats.

# %% tags=["demo"]
class TableModel(nn.Module):
    """A next-token model given by a table of log-probabilities (27, 27): context size 1."""

    def __init__(self, log_probs):
        super().__init__()
        self.context_size = 1
        self.log_probs = log_probs

    def forward(self, contexts):
        return self.log_probs[contexts[:, -1]]


def per_char_nll(model, names):
    with torch.no_grad():
        return float(-sequence_log_prob(model, names).sum()) / sum(len(nm) + 1 for nm in names)


next_token_models = {}
next_token_models["bigram"] = TableModel(bigram_log_probs(train_names, alpha=1.0))

# %% tags=["demo"]
torch.manual_seed(0)
char_mlp = CharMLP(len(VOCAB), context_size=8, embed_dim=16, hidden_dim=128)
ctx_train, tgt_train, _ = make_contexts(train_names, char_mlp.context_size)
char_history = fit(char_mlp, lambda m, c, t: F.cross_entropy(m(c), t), (ctx_train, tgt_train), n_epochs=12,
                   lr=3e-3, batch_size=256, generator=torch.Generator().manual_seed(0), desc="CharMLP")
next_token_models["CharMLP, 8 tokens of context"] = char_mlp

# %% tags=["demo"]
char_nll = {name: (per_char_nll(m, train_names), per_char_nll(m, test_names)) for name, m in next_token_models.items()}
print(f"{'next-token model':36s} {'parameters':>10s} {'train':>7s} {'test NLL (nats/char)':>21s}")
for name, (tr, te) in char_nll.items():
    n_p = 27 * 26 if name == "bigram" else sum(p.numel() for p in next_token_models[name].parameters())
    print(f"{name:36s} {n_p:10d} {tr:7.3f} {te:21.3f}")
train_set = set(train_names)
for name, m in next_token_models.items():
    sampled = sample_names(m, 16, generator=torch.Generator().manual_seed(2))
    print(f"\n{name} samples (* = a training name):")
    print(", ".join(s + ("*" if s in train_set else "") for s in sampled))

# %% [markdown]
# Every number above is an exact log-likelihood computed by the chain rule, and every sample was
# drawn ancestrally, one token at a time: the same two operations as for the digits, with a
# softmax in place of a sigmoid. Notebook 04 keeps the chain rule and moves to continuous
# variables, where the conditionals become densities.
#
# ### Written answer (manually graded, 3 points)
# Why does NADE's weight tying matter? Compare its parameter count with an "untied" version in
# which conditional $i$ has its own first layer $W^{(i)} \in \mathbb{R}^{H \times i}, c^{(i)}$, for
# $n = 64$ and $H = 64$; say what tying buys in computation (how `forward` computes all
# conditionals) and in statistics (how many training images each weight learns from). Answer in
# 4 to 6 sentences.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_weight_tying", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false}
# ### BEGIN SOLUTION
# With tying, all conditionals share one $W \in \mathbb{R}^{H\times n}$ and $c$, so NADE has
# $2nH + n = 8{,}256$ used parameters for $n = H = 64$, linear in $n$. Untied, conditional $i$ needs its own
# $H \times i$ matrix and bias, $H\,n(n+1)/2 + nH + n = 137{,}280$ parameters, quadratic in $n$ (and
# growing like the FVSBN's count times $H$). Computationally, tying makes consecutive
# pre-activations differ by one scaled column of $W$, $a_{i+1} = a_i + W_{:,i}\, x_i$, so one cumulative sum
# gives all $n$ hidden vectors in $O(nH)$ per example instead of $O(n^2 H)$. Statistically, each
# column $W_{:,j}$ is used by every conditional $i > j$, so it is learned from the gradients of
# many conditionals on every image, instead of a separate weight that only one conditional trains;
# with 1,348 training images the untied model would have about 100 parameters per image and
# over-fit. Tying is the same idea as a language model sharing one embedding table across
# positions.
# ### END SOLUTION
