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
#    hidden layer with weights tied across the conditionals) and `MADE` (an MLP with masks, built
#    in two steps: first the masks, `made_masks`, then the module), trained on 8x8 binarized
#    digits and compared with an independent-pixel baseline, a full table and a Bayes net fitted
#    by counting.
# 4. A next-token model over the characters of first names: a bigram table, a small neural
#    network, their per-character negative log-likelihoods, and sampled names (at several
#    temperatures).
#
# Points: 21 for the autograded exercises, 2 for the written answer, 3 for the self-check
# questions at the end.
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
# for each of the $k^n$ joint configurations, and these probabilities sum to one. How many of
# them can you choose freely? Work it out for $n = 1$, $k = 2$ (a coin) and for $n = 2$, $k = 2$
# before you write the general count. For the 64 binary pixels of an 8x8 image the table has
# $2^{64} \approx 1.8 \cdot 10^{19}$ entries: a table is hopeless.
#
# **A Bayes net** assumes that each variable depends only on a few *parents*:
# $p(x) = \prod_i p(x_i \mid x_{\mathrm{pa}(i)})$. The conditional of $x_i$ is a table with one
# row for each configuration of the parents' values, each row a distribution over the $k$ states of
# $x_i$. A worked example: three binary variables, $x_1$ depending on $x_0$, $x_2$ on $x_0$ and $x_1$
# (`parents = [[], [0], [0, 1]]`). The table of $p(x_0)$ has one row, of $p(x_1 \mid x_0)$ two
# rows ($x_0 = 0$ and $x_0 = 1$), of $p(x_2 \mid x_0, x_1)$ four rows. If every variable has all
# previous ones as parents, the chain rule is recovered, and so is the full table's count.
#
# ### Exercise 1: the full table (1 point)
# Return an exact Python `int` (NumPy integers overflow and floats round for large $n$).

# %% [markdown]
# <details><summary>Hint (open only if stuck)</summary>
#
# The $k^n$ probabilities sum to one, so once $k^n - 1$ of them are chosen the last one is
# determined: $k^n - 1$ free parameters (a coin: 1; two coins: 3). In Python, `n_states ** n_vars - 1`
# on ints is exact.
# </details>

# %% nbgrader={"grade": false, "grade_id": "tabular_num_params", "locked": false, "schema_version": 3, "solution": true, "task": false}
def tabular_num_params(n_vars, n_states=2):
    """Free parameters of a full probability table over n_vars variables.

    Args:
        n_vars: int >= 1: number of variables.
        n_states: int >= 2: states per variable.

    Returns:
        int: the number of entries of the table that can be chosen freely, exact.
    """
    ### BEGIN SOLUTION
    return int(n_states) ** int(n_vars) - 1
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_tabular_num_params", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
import itertools
from dgm_utils.checks import expect, fail

# Worked examples: (n_vars, n_states) -> free parameters, counted by hand.
_worked = {(1, 2): 1, (3, 2): 7, (2, 3): 8, (4, 5): 624}
for (_n, _k), _expected in _worked.items():
    _entries = sum(1 for _ in itertools.product(range(_k), repeat=_n))  # enumerate the table's entries
    _got = tabular_num_params(_n, _k)
    if _got == _entries:
        fail(f"tabular_num_params({_n}, {_k}) = {_got}, the number of table entries: you forgot the "
             "sum-to-one constraint (the entries are not all free).", mistake="table_count.sum-to-one")
    expect(_got == _expected, f"tabular_num_params({_n}, {_k}) = {_got}, expected {_expected}",
           mistake="table_count.wrong")
_big = tabular_num_params(784)
expect(isinstance(_big, int),
       f"tabular_num_params must return a Python int, got {type(_big).__name__}. Hint: "
       "use Python's ** on ints (exact), not NumPy or float arithmetic.", mistake="table_count.not-exact")
# 784 binary pixels: a number of 237 decimal digits, ending in ...650815.
expect(len(str(_big)) == 237 and _big % 10 ** 6 == 650815,
       "tabular_num_params(784) is not exact (it should have 237 digits and end in 650815): use exact integer "
       "arithmetic", mistake="table_count.not-exact")
expect(tabular_num_params(50, 3) == 717897987691852588770248, "tabular_num_params(50, 3) is not exact: avoid floats",
       mistake="table_count.not-exact")
print("tabular_num_params: all visible tests passed")
### BEGIN HIDDEN TESTS
expect(tabular_num_params(64) == 18446744073709551615, "hidden: tabular_num_params(64)", mistake="table_count.wrong")
expect(tabular_num_params(10, 4) == 4 ** 10 - 1, "hidden: tabular_num_params(10, 4)", mistake="table_count.wrong")
expect(tabular_num_params(1, 7) == 6, "hidden: tabular_num_params(1, 7)", mistake="table_count.wrong")
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 2: a Bayes net (1 point)
# `parents[i]` lists the parents of variable $i$ (for example `[[], [0], [0, 1]]`, the worked
# example above). Count the free parameters of every conditional table, as you did for the full
# table, and sum them. (The worked example has 7: check that your count gives it.)

# %% [markdown]
# <details><summary>Hint (open only if stuck)</summary>
#
# Variable $i$ has a table with $k^{|\mathrm{pa}(i)|}$ rows (one per configuration of its parents),
# and each row, a distribution over $k$ states, has $k - 1$ free numbers: the count is
# $\sum_i (k - 1)\, k^{|\mathrm{pa}(i)|}$.
# </details>

# %% nbgrader={"grade": false, "grade_id": "bayes_net_num_params", "locked": false, "schema_version": 3, "solution": true, "task": false}
def bayes_net_num_params(parents, n_states=2):
    """Free parameters of a Bayes net over variables with n_states states each.

    Args:
        parents: list of lists of int: parents[i] are the parents of variable i (any DAG).
        n_states: int >= 2: states per variable.

    Returns:
        int: the number of free entries of all the conditional tables p(x_i | x_parents(i)).
    """
    ### BEGIN SOLUTION
    k = int(n_states)
    return sum((k - 1) * k ** len(pa) for pa in parents)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_bayes_net_num_params", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
import numbers
from dgm_utils.checks import expect, fail

# Worked examples counted by hand: (parents, k) -> (free parameters, the count with every entry of a row).
_worked = [(([[], [], []], 2), 3, 6), (([[], [0], [1], [2]], 2), 7, 14), (([[], [0], [0, 1]], 3), 26, 39),
           (([[], [], [0, 1], [2]], 2), 8, 16)]
for (_parents, _k), _expected, _all_entries in _worked:
    _got = bayes_net_num_params(_parents, _k)
    expect(isinstance(_got, numbers.Integral), f"bayes_net_num_params must return an integer (any integer type), "
           f"got {type(_got).__name__} {_got!r}", hint="use // (integer division) and integer arithmetic, never /",
           mistake="bayes_net_count.not-int")
    if _got == _all_entries:
        fail(f"bayes_net_num_params({_parents}, {_k}) = {_got} counts all {_k} entries of every row: "
             "you forgot the sum-to-one constraint (each row is a distribution).", mistake="bayes_net_count.sum-to-one")
    expect(_got == _expected,
           f"bayes_net_num_params({_parents}, {_k}) = {_got}, expected {_expected}. Hint: variable i has a table "
           "with one row per parent configuration (every combination of the parents' values, not one row per "
           "parent), and each row has fewer free numbers than entries.",
           mistake="bayes_net_count.parent-configurations")
# All previous variables as parents: the chain rule, hence the full table over 6 binary variables.
_chain = [list(range(i)) for i in range(6)]
expect(bayes_net_num_params(_chain, 2) == 63,
       f"with every previous variable as a parent, the Bayes net is the full table: expected 63, got "
       f"{bayes_net_num_params(_chain, 2)}", mistake="bayes_net_count.wrong")
print("bayes_net_num_params: all visible tests passed")
### BEGIN HIDDEN TESTS
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
# ### Exercise 3: FVSBN and NADE (2 points)
# Write each count in closed form (no loop over the conditionals), as an exact `int`. Derive it on
# paper first: how many parameters do the conditionals $0, 1, 2, \dots$ use, and what is the sum?

# %% [markdown]
# <details><summary>Hint (open only if stuck)</summary>
#
# FVSBN: $\sum_{i=0}^{n-1} (i + 1) = n(n+1)/2$ (use `//` to stay an int).
# NADE: $H(n - 1)$ used entries of $W$, $H$ for $c$, $nH$ for $V$ and $n$ for $b$:
# $H(n-1) + H + nH + n = 2nH + n$.
# </details>

# %% nbgrader={"grade": false, "grade_id": "fvsbn_nade_num_params", "locked": false, "schema_version": 3, "solution": true, "task": false}
def fvsbn_num_params(n_vars):
    """Parameters of an FVSBN over n_vars binary variables.

    Args:
        n_vars: int >= 1.

    Returns:
        int: the number of weights and biases of all the conditionals.
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
import numbers
import warnings
import torch.nn as nn
from dgm_utils.checks import expect, fail

for _n in [5, 2, 1, 64, 784]:
    # An actual FVSBN as torch modules: conditional i is a logistic regression nn.Linear(i, 1) on x_<i.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nn.Linear(0, 1), conditional 0, has no weight to initialize
        _module = nn.ModuleList(nn.Linear(i, 1) for i in range(_n))
    _expected = sum(p.numel() for p in _module.parameters())
    _got = fvsbn_num_params(_n)
    expect(isinstance(_got, numbers.Integral), f"fvsbn_num_params must return an integer (any integer type), got "
           f"{type(_got).__name__} {_got!r}", hint="use // (integer division) and integer arithmetic, never /",
           mistake="fvsbn_count.not-int")
    if _n > 1 and _got == _expected - _n:
        fail(f"fvsbn_num_params({_n}) = {_got}: you forgot the biases (one per conditional).",
             mistake="fvsbn_count.no-biases")
    if _n > 1 and _got in (_n * _n, _n * _n + _n):
        fail(f"fvsbn_num_params({_n}) = {_got}: conditional i only sees x_<i (i weights), not all "
             "n variables.", mistake="fvsbn_count.all-variables")
    expect(_got == _expected, f"fvsbn_num_params({_n}) = {_got}, but an FVSBN built from {_n} nn.Linear logistic "
           f"regressions has {_expected} parameters", mistake="fvsbn_count.wrong")
print("fvsbn_num_params: all visible tests passed")
### BEGIN HIDDEN TESTS
expect(fvsbn_num_params(3) == 6 and fvsbn_num_params(100) == 5050, "hidden: fvsbn_num_params",
       mistake="fvsbn_count.wrong")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_nade_num_params", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
import numbers
import torch.nn as nn
from dgm_utils.checks import expect, fail

for _n, _h in [(6, 5), (2, 1), (64, 32), (784, 500)]:
    # An actual NADE as torch modules: the shared first layer reads x_0 .. x_{n-2} (W's used columns, and c),
    # the output layer gives one logit per conditional (V and b).
    _module = nn.ModuleList([nn.Linear(_n - 1, _h), nn.Linear(_h, _n)])
    _expected = sum(p.numel() for p in _module.parameters())
    _got = nade_num_params(_n, _h)
    expect(isinstance(_got, numbers.Integral), f"nade_num_params must return an integer (any integer type), got "
           f"{type(_got).__name__} {_got!r}", hint="use // (integer division) and integer arithmetic, never /",
           mistake="nade_count.not-int")
    if _got == _expected + _h:
        fail(f"nade_num_params({_n}, {_h}) = {_got} counts the last column of W, which no conditional "
             "uses (x_{n-1} is never conditioned on).", mistake="nade_count.unused-column")
    _untied = sum(_h * i + _h for i in range(_n)) + _n * _h + _n
    if _got == _untied:
        fail(f"nade_num_params({_n}, {_h}) = {_got} gives each conditional its own first layer: in "
             "NADE the weights W and c are tied (shared) across conditionals.", mistake="nade_count.untied")
    expect(_got == _expected, f"nade_num_params({_n}, {_h}) = {_got}, but the NADE built from torch layers has "
           f"{_expected} parameters (W's used columns, c, V, b)", mistake="nade_count.wrong")
print("nade_num_params: all visible tests passed")
### BEGIN HIDDEN TESTS
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
# ### Exercise 4: `log_prob` and `sample` (4 points)
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
### BEGIN HIDDEN TESTS
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
_ref = torch.distributions.Bernoulli(logits=_m(_all).double()).log_prob(_all.double()).sum(1)
_lp = AutoregressiveModel.log_prob(_m, _all).detach().double()
expect(abs(float(torch.logsumexp(_lp, 0).exp()) - 1) < 1e-4, "hidden: normalization of a table model",
       mistake="log_prob.not-normalized")
assert_close(_lp, _ref, rtol=1e-5, atol=1e-4, name="hidden: log_prob of a table model", mistake="log_prob.formula")
### END HIDDEN TESTS

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
### BEGIN HIDDEN TESTS
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
_ref = torch.distributions.Bernoulli(logits=_m(_all).double()).log_prob(_all.double()).sum(1)
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
# logits do not move, that the probabilities of all $2^n$ vectors sum to one, that the model's own
# `log_prob` (inherited, or your override if you write a faster one) is the chain rule of its
# conditionals, and that the sampler's frequencies (again the model's own `sample`) match
# $\exp(\log p)$. They also count the parameters the module actually
# uses (entries whose change moves the logits) against the closed forms of Exercise 3; masked entries
# therefore do not count, however you store them.
#
# **The shared checks.** The tests of the three models use the functions below (a read-only cell:
# run it, and call them on your own models while you debug if you like).

# %% nbgrader={"grade": false, "grade_id": "autoregressive_checks", "locked": true, "schema_version": 3, "solution": false, "task": false}
import itertools
import numpy as np
import torch
from dgm_utils.checks import assert_close, assert_frequencies, assert_shape, assert_tensor, expect, fail


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
        assert_tensor(base, f"{name}.forward(x)", mistake=shape_mistake)
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
                    f"of forward(x) by {float(diff[j, i]):.3g}, but column {i} may only depend on x[:, :{i}] "
                    f"({f'x_0 .. x_{i - 1}' if i else 'no variable: it is p(x_0), a constant'}).",
                    mistake=leak_mistake)
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
                                 log_prob_mistake=None, grad_mistake=None, sampler_mistake=None,
                                 generator_mistake=None):
    """Exhaustive check for small n, of the model's own methods (inherited or overridden):
    - the chain-rule probabilities of all 2^n binary vectors, computed here from the model's
      conditionals (model(x), with torch.distributions), sum to one;
    - model.log_prob(x) equals that chain rule on all 2^n vectors (so exp(log_prob) sums to one),
      and is differentiable (its result requires grad outside torch.no_grad());
    - the frequencies of n_samples vectors from model.sample match exp(log_prob)
      (dgm_utils.checks.assert_frequencies), and two calls with identically seeded generators agree.
    leak_mistake, log_prob_mistake, grad_mistake, sampler_mistake, generator_mistake: the keys of the
    mistakes a failure names (probabilities that do not sum to one: the model is not autoregressive;
    a log_prob that is not the chain rule of forward's conditionals; a log_prob cut off from the
    parameters; samples that do not follow the model; a sampler that ignores its generator)."""
    all_x = torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)))
    with torch.no_grad():
        chain = torch.distributions.Bernoulli(logits=model(all_x).double()).log_prob(all_x.double()).sum(1)
        total = float(chain.exp().sum())
        expect(abs(total - 1) < 1e-4, f"{name}: the probabilities of all 2^{n} vectors, from forward's logits by the "
                                      f"chain rule, sum to {total:.6f}, not 1: the model is not autoregressive",
               mistake=leak_mistake)
        lp = model.log_prob(all_x)
    assert_shape(lp, (2 ** n,), f"{name}.log_prob(x) for the 2^{n} binary vectors", mistake=log_prob_mistake)
    total_lp = float(torch.logsumexp(lp.double(), dim=0).exp())
    assert_close(lp, chain, rtol=1e-5, atol=1e-4, name=f"{name}.log_prob(x) (exp sums to {total_lp:.6f})",
                 hint="the model's log_prob (inherited, or overridden in the class) must be the sum over i of "
                      "log p(x_i | x_<i) from its own forward's logits", mistake=log_prob_mistake)
    expect(model.log_prob(all_x[:3]).requires_grad,
           f"{name}.log_prob(x) is not differentiable (its result does not require grad): the model's log_prob "
           "(inherited, or overridden in the class) must not use torch.no_grad(), .detach() or NumPy",
           mistake=grad_mistake)
    s = model.sample(n_samples, generator=torch.Generator().manual_seed(seed))
    assert_shape(s, (n_samples, n), f"{name}.sample({n_samples})", mistake=sampler_mistake)
    expect(bool(((s == 0) | (s == 1)).all()), f"{name}.sample returns values other than 0. and 1.",
           mistake=sampler_mistake)
    codes = (s.detach().numpy() @ (2 ** np.arange(n - 1, -1, -1))).astype(int)
    assert_frequencies(np.bincount(codes, minlength=2 ** n), lp.detach().double().exp().numpy(),
                       name=f"{name}: sample frequencies against exp(log_prob)",
                       hint="the sampler (inherited, or overridden in the class) must draw from the model's own "
                            "conditionals, ancestrally", mistake=sampler_mistake)
    again = [model.sample(40, generator=torch.Generator().manual_seed(seed + 1)) for _ in range(2)]
    expect(torch.equal(again[0], again[1]),
           f"{name}.sample: two calls with identically seeded generators gave different samples: the sampler "
           "(inherited, or overridden in the class) must draw every random number from its generator argument",
           mistake=generator_mistake)


# %% [markdown]
# ### Exercise 5: FVSBN (2 points)
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
expect(_used == 21,
       f"FVSBN(6) uses {_used} parameters ({_numel} stored), but an FVSBN over 6 variables has 21 "
       "(fvsbn_num_params(6)): conditional i uses i weights and one bias.", mistake="fvsbn.parameter-count")
check_normalized_and_sampler(randomize_parameters(FVSBN(4), 1), 4, "FVSBN(4)", leak_mistake="fvsbn.mask-leak",
                             log_prob_mistake="log_prob.model-mismatch", sampler_mistake="sample.wrong-distribution",
                             grad_mistake="log_prob.not-differentiable", generator_mistake="sample.ignores-generator")
print("FVSBN: all visible tests passed")
### BEGIN HIDDEN TESTS
_m = randomize_parameters(FVSBN(10), 5)
check_autoregressive(_m, 10, "hidden: FVSBN(10)", shape_mistake="fvsbn.shape", leak_mistake="fvsbn.mask-leak",
                     ignores_mistake="fvsbn.mask-too-strict")
expect(count_used_parameters(_m, 10)[0] == 55, "hidden: FVSBN(10) uses 55 parameters", mistake="fvsbn.parameter-count")
check_normalized_and_sampler(randomize_parameters(FVSBN(5), 6, scale=2.0), 5, "hidden: FVSBN(5)", seed=3,
                             leak_mistake="fvsbn.mask-leak", log_prob_mistake="log_prob.model-mismatch",
                             sampler_mistake="sample.wrong-distribution",
                             grad_mistake="log_prob.not-differentiable", generator_mistake="sample.ignores-generator")
_m1 = FVSBN(1)
expect(_m1(torch.zeros(2, 1)).shape == (2, 1), "hidden: FVSBN(1)", mistake="fvsbn.shape")
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 6: NADE with tied weights (2 points)
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


# %% nbgrader={"grade": true, "grade_id": "test_NADE", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import torch
from dgm_utils.checks import expect, fail

_m = randomize_parameters(NADE(6, 5), 0)
check_autoregressive(_m, 6, "NADE(6, 5)", shape_mistake="nade.shape", leak_mistake="nade.mask-leak",
                     ignores_mistake="nade.mask-too-strict")
_used, _numel = count_used_parameters(_m, 6)
_closed = 66  # nade_num_params(6, 5): W's used columns, c, V and b
if _used > _closed:
    fail(f"NADE(6, 5) uses {_used} parameters ({_numel} stored), more than the {_closed} of nade_num_params(6, 5): "
         "the conditionals must share (tie) one W and one c; a separate first layer per conditional costs O(n^2 H).",
         mistake="nade.untied")
expect(_used == _closed,
       f"NADE(6, 5) uses {_used} parameters ({_numel} stored), expected {_closed} "
       "(nade_num_params(6, 5)): W (H, n), c (H,), V (n, H), b (n,)", mistake="nade.parameter-count")
check_normalized_and_sampler(randomize_parameters(NADE(4, 3), 1, scale=2.0), 4, "NADE(4, 3)",
                             leak_mistake="nade.mask-leak", log_prob_mistake="log_prob.model-mismatch",
                             sampler_mistake="sample.wrong-distribution",
                             grad_mistake="log_prob.not-differentiable", generator_mistake="sample.ignores-generator")
print("NADE: all visible tests passed")
### BEGIN HIDDEN TESTS
_m = randomize_parameters(NADE(9, 2), 4)
check_autoregressive(_m, 9, "hidden: NADE(9, 2)", shape_mistake="nade.shape", leak_mistake="nade.mask-leak",
                     ignores_mistake="nade.mask-too-strict")
expect(count_used_parameters(_m, 9)[0] == 2 * 9 * 2 + 9, "hidden: NADE(9, 2) uses 2nH + n parameters",
       mistake="nade.parameter-count")
check_normalized_and_sampler(randomize_parameters(NADE(5, 4), 7, scale=2.0), 5, "hidden: NADE(5, 4)", seed=4,
                             leak_mistake="nade.mask-leak", log_prob_mistake="log_prob.model-mismatch",
                             sampler_mistake="sample.wrong-distribution",
                             grad_mistake="log_prob.not-differentiable", generator_mistake="sample.ignores-generator")
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 7: MADE's masks (2 points)
#
# MADE starts from an ordinary MLP (notebook 02) over the whole vector $x$ and multiplies each
# weight matrix by a binary **mask** so that output $i$ cannot see $x_{\ge i}$. We build it in two
# steps: first the masks (this exercise, tested on its own), then the module (Exercise 8). Give
# each unit a *degree*:
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
# $j < i$. A mask has the shape of the weight it multiplies, `(out_features, in_features)`: entry
# `[u, v]` is 1 when unit `u` of the next layer may read unit `v` of the previous one.
#
# **Checkpoint.** The product of the masks, `masks[-1] @ ... @ masks[0]`, is an $(n, n)$ matrix
# whose entry $[i, j]$ counts the paths from input $j$ to output $i$: it must be zero on and above
# the diagonal, and positive below it. Work out by hand the two masks of $n = 3$ variables and one
# hidden layer of three units of degrees 1, 2, 2, and their product, then compare with what your
# function gives (the row sums of `masks[0]` are the degrees it drew).

# %% nbgrader={"grade": false, "grade_id": "made_masks", "locked": false, "schema_version": 3, "solution": true, "task": false}
def made_masks(n_vars, hidden_dims, seed=0):
    """The masks of MADE over n_vars variables in their natural order.

    Args:
        n_vars: int >= 2: number of variables n (inputs and outputs).
        hidden_dims: list of int: widths of the hidden layers (at least one).
        seed: int: seed of the torch.Generator that draws the hidden units' degrees.

    Returns:
        list of len(hidden_dims) + 1 float32 tensors of 0./1.: masks[0] has shape (hidden_dims[0], n_vars),
        masks[l] has shape (hidden_dims[l], hidden_dims[l - 1]), masks[-1] has shape (n_vars, hidden_dims[-1]).
    """
    ### BEGIN SOLUTION
    g = torch.Generator().manual_seed(seed)
    degrees = [torch.arange(1, n_vars + 1)]  # input j has degree j + 1
    for width in hidden_dims:
        low = min(int(degrees[-1].min()), n_vars - 1)
        degrees.append(torch.randint(low, n_vars, (width,), generator=g))  # in {low, ..., n - 1}
    masks = [(d_out[:, None] >= d_in[None, :]).float() for d_in, d_out in zip(degrees[:-1], degrees[1:])]
    d_final = torch.arange(1, n_vars + 1)  # output i has degree i + 1
    masks.append((d_final[:, None] > degrees[-1][None, :]).float())
    return masks
    ### END SOLUTION


# %% tags=["demo"]
# Checkpoint: your masks for n = 3 variables and one hidden layer of 4 units, and their product (the
# number of paths from input j to output i): compare with the ones you worked out by hand.
checkpoint_masks = made_masks(3, [4], seed=0)
for layer, mask in enumerate(checkpoint_masks):
    print(f"masks[{layer}], shape {tuple(mask.shape)}:\n{mask.int().numpy()}")
paths = checkpoint_masks[1] @ checkpoint_masks[0]
print(f"product masks[1] @ masks[0] (zero on and above the diagonal):\n{paths.int().numpy()}")

# %% nbgrader={"grade": true, "grade_id": "test_made_masks", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import numpy as np
import torch
from dgm_utils.checks import assert_frequencies, assert_shape, expect, fail

def _paths(masks):
    """(n, n): entry [i, j] = number of paths from input j to output i through the masks."""
    p = masks[0].double()
    for mk in masks[1:]:
        p = mk.double() @ p
    return p

for _n, _dims, _seed in [(6, [200], 0), (6, [120, 120], 3), (4, [30, 30, 30], 1)]:
    _masks = made_masks(_n, _dims, seed=_seed)
    _call = f"made_masks({_n}, {_dims}, seed={_seed})"
    expect(len(_masks) == len(_dims) + 1, f"{_call} returned {len(_masks)} masks, expected {len(_dims) + 1} "
           "(one per weight matrix)", mistake="made_masks.shape")
    for _l, (_mk, _shape) in enumerate(zip(_masks, zip(_dims + [_n], [_n] + _dims))):
        assert_shape(_mk, _shape, f"{_call}[{_l}]", hint="a mask has the shape of its weight: (out_features, "
                     "in_features)", mistake="made_masks.shape")
        expect(bool(((_mk == 0) | (_mk == 1)).all()), f"{_call}[{_l}] holds values other than 0 and 1",
               mistake="made_masks.shape")
    _P = _paths(_masks)
    for _i in range(_n):
        for _j in range(_n):
            if _j >= _i and _P[_i, _j] > 0:
                fail(f"{_call}: output {_i} is reached from input x_{_j} (mask leak): the product of the masks has "
                     f"{int(_P[_i, _j])} path(s) at [{_i}, {_j}]; output i may only see x_0 .. x_(i-1). Check the "
                     "input degrees (j + 1) and the strict > of the output mask.", mistake="made.mask-leak")
            if _j < _i and _P[_i, _j] == 0:
                fail(f"{_call}: output {_i} ignores input x_{_j}: no path through the masks (a mask too strict? "
                     "hidden connections use >=).", mistake="made.mask-too-strict")
    _deg1 = _masks[0].sum(dim=1)  # a first-layer unit of degree m reads inputs x_0 .. x_(m-1)
    expect(bool(((_deg1 >= 1) & (_deg1 <= _n - 1)).all()),
           f"{_call}: a first-layer unit reads {int(_deg1.min())} or {int(_deg1.max())} inputs; every hidden "
           f"degree must lie in 1 .. n - 1 = {_n - 1} (a unit of degree 0 reads nothing, one of degree n reaches no "
           "output)", mistake="made_masks.degree-range")
# Degrees uniform on {1, ..., n - 1}: the row sums of the first mask of a wide layer.
_deg = made_masks(4, [3000], seed=0)[0].sum(dim=1).long().numpy()
assert_frequencies(np.bincount(_deg, minlength=5)[1:4], np.full(3, 1 / 3), name="degrees of 3000 first-layer units, "
                   "n = 4", hint="draw each degree uniformly from {m_min, ..., n - 1} (both ends included)",
                   mistake="made_masks.degree-distribution")
expect(all(torch.equal(a, b) for a, b in zip(made_masks(5, [40], seed=7), made_masks(5, [40], seed=7))),
       "two calls with the same seed gave different masks: draw the degrees from torch.Generator().manual_seed(seed)",
       mistake="made_masks.ignores-seed")
expect(not torch.equal(made_masks(5, [40], seed=7)[0], made_masks(5, [40], seed=8)[0]),
       "seeds 7 and 8 gave the same masks: the seed must set the generator of the degrees",
       mistake="made_masks.ignores-seed")
print("made_masks: all visible tests passed")
### BEGIN HIDDEN TESTS
for _n, _dims, _seed in [(10, [300], 7), (5, [100, 100, 100], 2), (2, [8], 1)]:
    _P = _paths(made_masks(_n, _dims, seed=_seed))
    expect(bool((torch.triu(_P) == 0).all()), f"hidden: made_masks({_n}, {_dims}) leaks", mistake="made.mask-leak")
    expect(int((torch.tril(_P, -1) > 0).sum()) == _n * (_n - 1) // 2, f"hidden: made_masks({_n}, {_dims}) too strict",
           mistake="made.mask-too-strict")
_deg2 = made_masks(3, [2000, 2000], seed=5)
_d1 = _deg2[0].sum(1)
_d2 = torch.where(_deg2[1].sum(1) > (_d1 <= 1).sum(), 2, 1)  # second-layer degrees, from their row sums
expect(abs(float((_d2 == 1).float().mean()) - 0.5) < 0.06, "hidden: second-layer degrees uniform",
       mistake="made_masks.degree-distribution")
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 8: MADE, an MLP made autoregressive by masks (1 point)
# Build the network from your masks: one `MaskedLinear` layer (below) per mask, ReLU between
# layers, and no activation on the output.

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
        seed: int: seed of the hidden units' degrees (passed to made_masks).

    forward(x): float32 (n_examples, n) of 0./1. -> logits (n_examples, n), column i depending on x[:, :i] only.
    """

    def __init__(self, n_vars, hidden_dims, seed=0):
        super().__init__(n_vars)
        ### BEGIN SOLUTION
        layers = []
        for mask in made_masks(n_vars, hidden_dims, seed=seed):
            out_features, in_features = mask.shape
            layers += [MaskedLinear(in_features, out_features, mask), nn.ReLU()]
        self.net = nn.Sequential(*layers[:-1])  # no ReLU on the logits
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.net(x)
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_MADE", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
import torch
from dgm_utils.checks import expect

_m = randomize_parameters(MADE(6, [200]), 0, scale=0.5)
with torch.no_grad():
    _logits = _m((torch.rand(64, 6, generator=torch.Generator().manual_seed(0)) < 0.5).float())
expect(bool((_logits < 0).any()), "MADE(6, [200])'s logits are never negative (with random weights): the output "
       "layer must have no activation (no ReLU after the last MaskedLinear)", mistake="made.output-activation")
check_autoregressive(_m, 6, "MADE(6, [200])", shape_mistake="made.shape", leak_mistake="made.mask-leak",
                     ignores_mistake="made.mask-too-strict")
_m2 = randomize_parameters(MADE(6, [120, 120], seed=3), 1, scale=0.5)
check_autoregressive(_m2, 6, "MADE(6, [120, 120], seed=3)", shape_mistake="made.shape", leak_mistake="made.mask-leak",
                     ignores_mistake="made.mask-too-strict")
check_normalized_and_sampler(randomize_parameters(MADE(4, [30, 30], seed=1), 2), 4, "MADE(4, [30, 30])",
                             leak_mistake="made.mask-leak", log_prob_mistake="log_prob.model-mismatch",
                             sampler_mistake="sample.wrong-distribution",
                             grad_mistake="log_prob.not-differentiable", generator_mistake="sample.ignores-generator")
print("MADE: all visible tests passed")
### BEGIN HIDDEN TESTS
_m = randomize_parameters(MADE(10, [300], seed=7), 3, scale=0.5)
check_autoregressive(_m, 10, "hidden: MADE(10, [300], seed=7)", shape_mistake="made.shape",
                     leak_mistake="made.mask-leak", ignores_mistake="made.mask-too-strict")
_m3 = randomize_parameters(MADE(5, [100, 100, 100], seed=2), 4, scale=0.5)
check_autoregressive(_m3, 5, "hidden: MADE(5, three layers)", shape_mistake="made.shape", leak_mistake="made.mask-leak",
                     ignores_mistake="made.mask-too-strict")
check_normalized_and_sampler(randomize_parameters(MADE(5, [40], seed=5), 5), 5, "hidden: MADE(5, [40])", seed=8,
                             leak_mistake="made.mask-leak", log_prob_mistake="log_prob.model-mismatch",
                             sampler_mistake="sample.wrong-distribution",
                             grad_mistake="log_prob.not-differentiable", generator_mistake="sample.ignores-generator")
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
# **Two models fitted by counting.** Before any network, the two extremes of Section 1, on the
# same data.
#
# *The full table*, fitted by maximum likelihood, is the empirical distribution: $p(x)$ = (number
# of training images equal to $x$) / 1,348, with raw counts. It is the best possible fit of the
# training set, and it gives probability 0 to every image it has not seen.
#
# *A Bayes net* in which the parents of each pixel are the pixel above it and the pixel to its left
# (those that exist): pixel $i$ has a table $p(x_i = 1 \mid \text{above}, \text{left})$ with at most
# 4 rows. We fit each row by counting, with **add-one (Laplace) smoothing**,
# $p = (N_1 + 1) / (N + 2)$, where $N$ counts the training images with that parent configuration
# and $N_1$ those among them with $x_i = 1$. Why smooth: with raw counts a row seen only with
# $x_i = 0$ (a pixel that is always blank in training after two blank neighbours, say) gives
# probability 0 to $x_i = 1$, so a single unusual pixel of a test image makes its NLL infinite, and
# a row never seen at all is $0 / 0$. Add-one is the posterior mean of $p$ under a uniform prior,
# and it changes well-estimated rows (hundreds of images) very little. The counting below is
# vectorized: one parent-configuration code per pixel and image, then sums over the images.

# %% tags=["demo"]
def image_keys(x):
    """Each binary 8x8 image as one 64-bit integer (its pixels as bits)."""
    return np.packbits(x.numpy().astype(np.uint8), axis=1).view(np.uint64)[:, 0]


train_keys, test_keys = image_keys(x_train), image_keys(x_test)
distinct, counts = np.unique(train_keys, return_counts=True)
seen = np.isin(test_keys, distinct)
test_counts = np.where(seen, counts[np.searchsorted(distinct, test_keys).clip(max=len(distinct) - 1)], 0)
with np.errstate(divide="ignore"):  # log(0) = -inf for the unseen test images: that is the point
    full_table_nll = float(-np.log(test_counts / len(x_train)).mean())
print(f"full table: {len(distinct)} distinct training images out of {len(x_train)}; "
      f"{int(seen.sum())} of the {len(x_test)} test images occur in the training set, so "
      f"{int((~seen).sum())} get probability 0 and the test NLL is {full_table_nll}")

# The Bayes net: parents of pixel (r, c) = the pixel above (r - 1, c) and the pixel to the left (r, c - 1).
grid_parents = [[p - 8] * (p >= 8) + [p - 1] * (p % 8 > 0) for p in range(64)]


def parent_codes(x):
    """(m, 64) long: 2 * above + left for every pixel of every image (a missing parent counts as 0)."""
    img = x.reshape(-1, 8, 8)
    above = F.pad(img, (0, 0, 1, 0))[:, :-1, :]  # shifted down by one row
    left = F.pad(img, (1, 0, 0, 0))[:, :, :-1]  # shifted right by one column
    return (2 * above + left).reshape(len(x), 64).long()


def fit_grid_bayes_net(x, alpha=1.0):
    """(64, 4): p(x_i = 1 | parent code) with add-alpha smoothing (alpha = 0: raw counts)."""
    onehot = F.one_hot(parent_codes(x), 4).double()  # (m, 64, 4)
    n_rows = onehot.sum(0)  # N: images per (pixel, parent configuration)
    n_ones = (onehot * x.double()[:, :, None]).sum(0)  # N_1: those with x_i = 1
    return (n_ones + alpha) / (n_rows + 2 * alpha)


def grid_bayes_net_log_prob(p1, x):
    p = p1[torch.arange(64), parent_codes(x)]  # (m, 64): p(x_i = 1 | its parents' values in this image)
    return torch.where(x == 1, torch.log(p), torch.log1p(-p)).sum(1)  # log(0) = -inf where a count was 0


with np.errstate(all="ignore"), torch.no_grad():
    raw = grid_bayes_net_log_prob(fit_grid_bayes_net(x_train, alpha=0.0), x_test)
bayes_net_nll = float(-grid_bayes_net_log_prob(fit_grid_bayes_net(x_train, alpha=1.0), x_test).mean())
print(f"Bayes net (above, left), raw counts: of the {len(x_test)} test images, {int((raw == -np.inf).sum())} get "
      f"probability 0 and {int(raw.isnan().sum())} meet a parent configuration never seen in training (0/0): "
      f"test NLL {float(-raw.mean())}")
print(f"Bayes net (above, left), add-one smoothing: {bayes_net_num_params(grid_parents)} parameters, "
      f"test NLL {bayes_net_nll:.2f} nats/image")


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
# **Results.** Test NLL of each model, the two fitted by counting and the three trained networks,
# beside the baseline, and samples drawn ancestrally from each network (compare them with the training images above: the baseline's samples
# are noise around the average digit; the autoregressive models draw strokes).

# %% tags=["demo"]
test_nll = {"independent pixels": baseline_nll, "full table": full_table_nll, "Bayes net": bayes_net_nll}
n_params["independent pixels"] = 64
n_params["full table"] = tabular_num_params(64)
n_params["Bayes net"] = bayes_net_num_params(grid_parents)
with torch.no_grad():
    for name, model in models.items():
        test_nll[name] = float(-model.log_prob(x_test).mean())
print(f"{'model':20s} {'parameters':>20s} {'test NLL (nats/image)':>22s} {'gain over baseline':>19s}")
for name, value in test_nll.items():
    print(f"{name:20s} {n_params[name]:20d} {value:22.2f} {baseline_nll - value:19.2f}")

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
# **No free lunch.** The full table assumes nothing about digits and fits the training set
# perfectly, yet it cannot say anything about an image it has not seen: almost every test image
# gets probability 0. Every model that does better on the test images does so because it
# *assumes* something, and each assumption is a bet that similar prefixes have similar
# conditionals:
# - the **Bayes net** assumes that, given the pixel above and the pixel to the left, a pixel is
#   independent of every other earlier pixel (its table cannot use anything else);
# - the **FVSBN** keeps every dependency but assumes each conditional is a logistic regression:
#   the log-odds of $x_i$ are *linear* in $x_{<i}$ (no interactions between earlier pixels);
# - **NADE** assumes all conditionals are read off one shared set of $H$ hidden features, computed
#   from the same running sum $\sum_{j<i} W_{:,j}\, x_j$ (tied weights);
# - **MADE** assumes the conditionals are the outputs of one masked MLP of a given width, whose
#   hidden units (and their random degrees) are shared by many conditionals.
#
# None of these is true of handwriting; which bet pays off is an empirical question, answered by
# the test NLL above (and it would change with more data). The figure below shows what each model
# actually uses: entry $[i, j]$ is the mean change of the logit of conditional $i$ when $x_j$ is
# flipped, over test images (the Bayes net's entries are its parents). Everything on and above
# the diagonal is zero: that is the autoregressive property the tests checked.

# %% tags=["demo"]
def dependency_matrix(model, x):
    """(n, n): entry [i, j] = mean |change of logit i| when x_j is flipped, over the rows of x."""
    with torch.no_grad():
        base = model(x)
        rows = []
        for j in range(x.shape[1]):
            flipped = x.clone()
            flipped[:, j] = 1 - flipped[:, j]
            rows.append((model(flipped) - base).abs().mean(0))
    return torch.stack(rows, dim=1)  # [i, j]


dependencies = {"Bayes net (parents)": torch.zeros(64, 64)}
for i, pa in enumerate(grid_parents):
    dependencies["Bayes net (parents)"][i, pa] = 1.0
for name, model in models.items():
    dependencies[name] = dependency_matrix(model, x_test[:128])
fig, axes = plt.subplots(1, len(dependencies), figsize=(3.6 * len(dependencies), 3.6))
for ax, (name, dep) in zip(np.atleast_1d(axes), dependencies.items()):
    ax.imshow(dep.numpy() / float(dep.max()), cmap="magma")
    ax.set(title=name, xlabel="input pixel j", ylabel="conditional i")
plt.tight_layout()
plt.show()

# %% [markdown]
# MADE's dependencies come from its masks alone. Below: the two masks of the trained MADE (input to
# hidden, hidden to output, each unit sorted by its degree) and their product, the number of paths
# from input $j$ to output $i$: zero on and above the diagonal by construction, whatever the weights.

# %% tags=["demo"]
if "MADE" in models:
    mask_in, mask_out = [layer.mask.numpy() for layer in models["MADE"].modules() if isinstance(layer, MaskedLinear)]
    order = np.argsort(mask_in.sum(1), kind="stable")  # hidden units by degree
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), gridspec_kw={"width_ratios": [1.3, 3, 1]})
    axes[0].imshow(mask_in[order], aspect="auto", cmap="gray_r", interpolation="nearest")
    axes[0].set(title="mask 1 (hidden x input; black = kept)", xlabel="input j", ylabel="hidden unit (by degree)")
    axes[1].imshow(mask_out[:, order], aspect="auto", cmap="gray_r", interpolation="nearest")
    axes[1].set(title="mask 2 (output x hidden; black = kept)", xlabel="hidden unit (by degree)", ylabel="output i")
    axes[2].imshow(mask_out @ mask_in, cmap="magma")
    axes[2].set(title="product: paths from j to i", xlabel="input j", ylabel="output i")
    plt.tight_layout()
    plt.show()

# %% [markdown]
# **Completing digits.** An autoregressive model in this pixel order can complete the bottom of an
# image given its top: keep the top four rows (pixels 0 to 31) of a test image and draw pixels 32 to
# 63 one at a time from $p(x_i \mid x_{<i})$, exactly as in `sample` but starting from the observed
# pixels. (The other way round, the top given the bottom, would need another order or another
# model: the conditionals $p(x_i \mid x_{<i})$ only look backwards.)

# %% tags=["demo"]
def complete(model, x, start, generator=None):
    """Keep x[:, :start] and sample the other pixels ancestrally from the model."""
    x = x.clone()
    with torch.no_grad():
        for i in range(start, x.shape[1]):
            x[:, i] = torch.bernoulli(torch.sigmoid(model(x)[:, i]), generator=generator)
    return x


originals = x_test[:8]
top_only = originals.clone()
top_only[:, 32:] = 0.5  # shown as gray: unknown
rows = {"test image": originals, "top half given": top_only}
for name, model in models.items():
    rows[f"{name} completion"] = complete(model, originals, 32, generator=torch.Generator().manual_seed(0))
fig, axes = plt.subplots(len(rows), 1, figsize=(7, 1.25 * len(rows)))
for ax, (name, images) in zip(np.atleast_1d(axes), rows.items()):
    plot_image_grid(images, n_cols=len(images), ax=ax, title=name)
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
# ### Exercise 9: the bigram table (1 point)

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


# %% nbgrader={"grade": true, "grade_id": "test_bigram_log_probs", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
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
# ### Exercise 10: `CharMLP` (1 point)

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


# %% nbgrader={"grade": true, "grade_id": "test_CharMLP", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
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
### BEGIN HIDDEN TESTS
from dgm_utils.checks import expect
_m = CharMLP(27, 1, embed_dim=3, hidden_dim=2)
expect(sum(p.numel() for p in _m.parameters()) == 27 * 3 + 4 * 2 + 3 * 27, "hidden: CharMLP(27, 1, 3, 2) size",
       mistake="char_mlp.parameter-count")
expect(_m(torch.zeros(4, 1, dtype=torch.long)).shape == (4, 27), "hidden: context_size 1", mistake="char_mlp.shape")
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 11: the exact log-likelihood of a name (2 points)
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
### BEGIN HIDDEN TESTS
_model = _ToyNext(5, end_bias=-2.0)
_names = ["abcdefghijkl", "q", "mm"]
assert_close(sequence_log_prob(_model, _names), torch.tensor([_ref_seq_log_prob(_model, nm) for nm in _names]),
             rtol=1e-5, atol=1e-4, name="hidden: sequence_log_prob", mistake="sequence_log_prob.formula")
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 12: sampling names (2 points)
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
# tokens), in nats. The `CharMLP` below uses wide embeddings (64 numbers per token) and 256 hidden
# units, and is trained briefly: 4 epochs at a high learning rate, then 2 at a lower one. With only
# 4,131 training names, longer training lowers the training NLL but raises the test NLL (over-fitting);
# the lower learning rate at the end lets the parameters settle instead of jittering around the
# minimum.

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

# %% [markdown]
# The bigram table of the training names as a heat map: row $a$ is the distribution of the next
# token after $a$ (the first row, after `.`, is the distribution of first letters; the first
# column is the probability that a name ends after $a$).

# %% tags=["demo"]
if "bigram" in next_token_models:
    fig, ax = plt.subplots(figsize=(6.5, 6))
    image = ax.imshow(next_token_models["bigram"].log_probs.exp().numpy(), cmap="Blues")
    ax.set_xticks(range(len(VOCAB)), list(VOCAB))
    ax.set_yticks(range(len(VOCAB)), list(VOCAB))
    ax.set(xlabel="next token b", ylabel="previous token a", title="bigram p(b | a), add-one smoothing")
    fig.colorbar(image, ax=ax, shrink=0.8)
    plt.show()

# %% tags=["demo"]
torch.manual_seed(0)
char_config = dict(context_size=6, embed_dim=64, hidden_dim=256)
char_mlp = CharMLP(len(VOCAB), **char_config)
ctx_train, tgt_train, _ = make_contexts(train_names, char_mlp.context_size)


def next_token_loss(model, contexts, targets):
    """Mean negative log-likelihood per token (nats) of a batch: the training objective."""
    return F.cross_entropy(model(contexts), targets)


# 4 epochs at a high learning rate, then 2 at a lower one (annealing); more epochs over-fit these 4,131 names.
char_history = fit(char_mlp, next_token_loss, (ctx_train, tgt_train), n_epochs=4, lr=3e-3, batch_size=256,
                   generator=torch.Generator().manual_seed(0), desc="CharMLP")
char_history += fit(char_mlp, next_token_loss, (ctx_train, tgt_train), n_epochs=2, lr=5e-4, batch_size=256,
                    generator=torch.Generator().manual_seed(1), desc="CharMLP, lower learning rate")
next_token_models["CharMLP, 6 tokens of context"] = char_mlp

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
# **Tying the weights across positions.** The `CharMLP` is *one* network shared by every position
# of a name: the same weights predict the first letter, the second, ..., and the end token, as the
# context window slides. An *untied* model would give each position $t$ its own network for
# $p(c_t \mid c_{t-k}, \dots, c_{t-1})$, as the untied NADE of the written answer gives each
# conditional its own first layer. We count its parameters by building it (untrained), and count
# how many training tokens each of its networks would learn from.

# %% tags=["demo"]
n_positions = max(len(nm) for nm in all_names) + 1  # the letters of the longest name, then its end token
untied = nn.ModuleList(CharMLP(len(VOCAB), **char_config) for _ in range(n_positions))
n_tied, n_untied = (sum(p.numel() for p in m.parameters()) for m in (char_mlp, untied))
lengths = torch.tensor([len(nm) + 1 for nm in train_names])  # tokens per training name
tokens_at = (lengths[:, None] > torch.arange(n_positions)).sum(0)  # training tokens at each position
print(f"tied (one network for every position): {n_tied:,} parameters, trained on all {int(lengths.sum()):,} "
      f"training tokens")
print(f"untied (one network per position, {n_positions} positions): {n_untied:,} parameters "
      f"({n_untied / n_tied:.0f} times more); the network of position t learns from the tokens at position t only:")
print("  " + ", ".join(f"t={t}: {int(c)}" for t, c in enumerate(tokens_at)))

# %% [markdown]
# **Temperature.** Dividing the logits by a temperature $T$ before the softmax,
# $p_T(c \mid \text{context}) \propto p(c \mid \text{context})^{1/T}$, sharpens the conditionals ($T < 1$: the
# likely letters become likelier, the samples more typical and more repetitive) or flattens them
# ($T > 1$: more surprising names, more misspellings). $T = 1$ is the model itself, and the only
# temperature at which the samples follow the distribution that `sequence_log_prob` scores. The
# same `sample_names` draws from the tempered model, and the same `sequence_log_prob` scores it.

# %% tags=["demo"]
class Tempered(nn.Module):
    """A next-token model with its logits divided by a temperature."""

    def __init__(self, model, temperature):
        super().__init__()
        self.model, self.temperature, self.context_size = model, temperature, model.context_size

    def forward(self, contexts):
        return self.model(contexts) / self.temperature


for char_name in [name for name in next_token_models if name.startswith("CharMLP")]:  # once trained
    for temperature in (0.3, 0.7, 1.0, 1.5):
        tempered = Tempered(next_token_models[char_name], temperature)
        sampled = sample_names(tempered, 10, generator=torch.Generator().manual_seed(3))
        print(f"T = {temperature}: test NLL {per_char_nll(tempered, test_names):.3f} nats/char; "
              + ", ".join(sampled))

# %% [markdown]
# Every number above is an exact log-likelihood computed by the chain rule, and every sample was
# drawn ancestrally, one token at a time: the same two operations as for the digits, with a
# softmax in place of a sigmoid. Notebook 04 keeps the chain rule and moves to continuous
# variables, where the conditionals become densities.
#
# ### Written answer (manually graded, 2 points)
# Why does NADE's weight tying matter? Compare its parameter count with an "untied" version in
# which conditional $i$ has its own first layer $W^{(i)} \in \mathbb{R}^{H \times i}, c^{(i)}$, for
# $n = 64$ and $H = 64$; say what tying buys in computation (how `forward` computes all
# conditionals) and in statistics (how many training images each weight learns from). Answer in
# 4 to 6 sentences.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_weight_tying", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
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

# %% [markdown]
# ### Self-check (1 point each)
#
# **Q1.** A Bayes net over the 16 binary pixels of a 4x4 image gives each pixel as parents the pixel
# above it and the pixel to its left (those that exist), as in the digits' Bayes net. How many free
# parameters does it have? (A number.)
#
# **Q2.** Which statement is **false**?
# (a) Computing $\log p(x)$ of a 64-pixel image with MADE takes one forward pass; drawing a sample
# takes 64.
# (b) On the digits, the full table has an infinite test NLL because it gives probability 0 to every
# test image that does not occur in the training set.
# (c) The FVSBN makes no independence assumption, so with enough training data it can represent
# any distribution over binary vectors.
# (d) With add-one smoothing, every probability in the Bayes net's conditional tables lies strictly
# between 0 and 1.
#
# **Q3.** A MADE over $n = 4$ variables has one hidden layer, and every hidden unit happens to get
# degree 2. Which statement is **true**?
# (a) Output 1 depends on $x_0$.
# (b) Outputs 2 and 3 depend on $x_0$ and $x_1$ only; outputs 0 and 1 are constants (their biases).
# (c) Output 3 depends on $x_0$, $x_1$ and $x_2$.
# (d) Every output depends on $x_0$ only.

# %% nbgrader={"grade": false, "grade_id": "selfcheck_answers", "locked": false, "schema_version": 3, "solution": true, "task": false}
"""Your answers: a number for q1, one letter for q2 and q3."""
q1 = None  # a number, e.g. 12
q2 = None  # "a", "b", "c" or "d"
q3 = None  # "a", "b", "c" or "d"
### BEGIN SOLUTION
q1 = 49
q2 = "c"
q3 = "b"
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_selfcheck_q1", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from dgm_utils.checks import check_answer

check_answer("03.q1", q1, "f4ce0b0b2739f7db", decimals=0,
             hint="count the rows of each pixel's table (one per configuration of its parents)",
             mistake="selfcheck.q1")

# %% nbgrader={"grade": true, "grade_id": "test_selfcheck_q2", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from dgm_utils.checks import check_answer

check_answer("03.q2", q2, "1e27e33218c388e3", choices="abcd", mistake="selfcheck.q2")

# %% nbgrader={"grade": true, "grade_id": "test_selfcheck_q3", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from dgm_utils.checks import check_answer

check_answer("03.q3", q3, "d2b29baf3319b3ec", choices="abcd", mistake="selfcheck.q3")
