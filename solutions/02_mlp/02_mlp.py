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
# # 02 · Multilayer perceptrons: logistic regression on learned features
#
# **Where we are in the story.** In notebook 01, logistic regression assumed that the log-odds
# of $y$ are a *linear* function of $x$, and it failed on XOR and on the two moons. This notebook
# keeps logistic regression but changes what it looks at:
#
# 1. Logistic regression: $p(y = 1 \mid x) = \sigma(w^\top x + b)$.
# 2. **MLPs** (this notebook): first compute non-linear features $h = \sigma(Ax + b)$, then do
#    logistic regression on $h$.
# 3. Autoregressive models (next): the chain rule writes a joint distribution $p(x)$ as a product
#    of conditionals $p(x_i \mid x_{<i})$, and each conditional is a prediction model like the
#    one you build here.
# 4. Continuous densities, 5. Gaussian mixtures, 6. the VAE's generative process.
#
# ## What you will build
# In PyTorch (float32 tensors): the one-hidden-layer network exactly as written above
# (`one_hidden_layer_forward`), an `MLP` module that stacks any number of layers and returns
# logits, the closed-form parameter count `count_parameters`, a training loop
# `train_classifier` (binary cross-entropy from logits, a `torch.optim` optimizer, a progress
# bar) and its careful sibling `train_with_early_stopping` (a validation set, early stopping, the
# best parameters kept). Then you will watch logistic regression fail and the MLP succeed on XOR
# and the moons, see the features the hidden units learn, and see what more parameters buy, and
# cost.
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
from tqdm.auto import trange

from dgm_utils.data import make_moons, make_xor
from dgm_utils.plotting import plot_decision_boundary, plot_loss_curve

torch.set_num_threads(1)  # small networks: one thread is faster than several
torch.manual_seed(0)
rng = np.random.default_rng(0)
# %matplotlib inline

# %% [markdown]
# ## 1. One hidden layer, written out
#
# Take $H$ logistic regressions of the input at once: row $k$ of $A \in \mathbb{R}^{H \times d}$
# and entry $b_k$ give the feature $h_k = \sigma(a_k^\top x + b_k)$. Then do ordinary logistic
# regression on the features:
#
# $$h = \sigma(Ax + b) \in (0, 1)^H, \qquad p(y = 1 \mid x) = \sigma(\alpha^\top h + \alpha_0).$$
#
# With examples stacked as rows of $X \in \mathbb{R}^{n \times d}$, all features at once are
# $\sigma(X A^\top + b)$, an $(n, H)$ matrix (the bias $b$ broadcasts over the rows). The last
# step is exactly notebook 01's model, with $h$ in place of $x$. What is new is that $A$ and
# $b$ are *learned*: the network chooses the features in which the classes become linearly
# separable.
#
# ### Exercise 1: the forward pass (3 points)
# Use `torch.sigmoid` (it is stable for any input). No loop over examples.

# %% nbgrader={"grade": false, "grade_id": "one_hidden_layer_forward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def one_hidden_layer_forward(x, A, b, alpha, alpha0):
    """p(y = 1 | x) of a one-hidden-layer network with sigmoid units.

    Args:
        x: float32 tensor (n, d): one example per row.
        A: float32 tensor (H, d): hidden weights, one row per hidden unit.
        b: float32 tensor (H,): hidden biases.
        alpha: float32 tensor (H,): output weights.
        alpha0: float or 0-d tensor: output bias.

    Returns:
        float32 tensor (n,): sigmoid(h @ alpha + alpha0) with h = sigmoid(x @ A.T + b).
    """
    ### BEGIN SOLUTION
    h = torch.sigmoid(x @ A.T + b)  # (n, H): the learned features
    return torch.sigmoid(h @ alpha + alpha0)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_one_hidden_layer_forward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import numpy as np
import torch
from scipy.special import expit
from dgm_utils.checks import assert_close, assert_probabilities, assert_shape, expect, fail, to_numpy

_g = torch.Generator().manual_seed(0)
_x, _A = torch.randn(7, 3, generator=_g), torch.randn(5, 3, generator=_g)
_b, _alpha, _alpha0 = torch.randn(5, generator=_g), torch.randn(5, generator=_g), 0.3
try:
    _p = one_hidden_layer_forward(_x, _A, _b, _alpha, _alpha0)
except NotImplementedError:
    raise
except Exception as err:
    fail(f"one_hidden_layer_forward raised {type(err).__name__}: {err}\nHint: x is (n, d) and "
                         "A is (H, d), so the pre-activations are x @ A.T (the transpose A^T), an (n, H) "
                         "matrix.", mistake="forward.transpose")
expect(isinstance(_p, torch.Tensor), f"one_hidden_layer_forward returned a {type(_p).__module__}.{type(_p).__name__}; "
       "return a torch tensor.", hint="stay in torch (torch.sigmoid, @): no .numpy(), no NumPy or SciPy functions",
       mistake="forward.not-a-tensor")
assert_shape(_p, (7,), "one_hidden_layer_forward(x, A, b, alpha, alpha0)",
             hint="one probability per example: h @ alpha is (n,)", mistake="forward.shape")
# Independent reference in float64 NumPy.
_xn, _An, _bn, _an = (to_numpy(t) for t in (_x, _A, _b, _alpha))
_h = expit(_xn @ _An.T + _bn)
_ref = expit(_h @ _an + _alpha0)
_got = to_numpy(_p)
if np.allclose(_got, _h @ _an + _alpha0, atol=1e-5):
    fail("one_hidden_layer_forward returned the output logits h . alpha + alpha0, not "
                         "probabilities. Hint: apply the output sigmoid as well.", mistake="forward.logits-not-probabilities")
if np.allclose(_got, expit(expit(_xn @ _An.T) @ _an + _alpha0), atol=1e-5):
    fail("one_hidden_layer_forward ignores the hidden bias b. Hint: h = sigmoid(x @ A.T + b).", mistake="forward.no-hidden-bias")
if np.allclose(_got, expit(_h @ _an), atol=1e-5):
    fail("one_hidden_layer_forward ignores the output bias alpha0. "
                         "Hint: p = sigmoid(h @ alpha + alpha0).", mistake="forward.no-output-bias")
assert_probabilities(_p, "one_hidden_layer_forward(...)",
                     hint="the output is a probability: the sigmoid of the output logit", mistake="forward.logits-not-probabilities")
assert_close(_p, _ref, rtol=1e-5, atol=1e-6, name="one_hidden_layer_forward(x, A, b, alpha, alpha0)",
             hint="the hidden features are h = sigmoid(x @ A.T + b) (a sigmoid, not another "
                  "non-linearity), then p = sigmoid(h @ alpha + alpha0)", mistake="forward.wrong-activation")
print("one_hidden_layer_forward: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_one_hidden_layer_forward_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check other shapes, a tensor alpha0 and saturated units when your notebook is graded.
### BEGIN HIDDEN TESTS
import numpy as np
import torch
from scipy.special import expit
from dgm_utils.checks import assert_close, assert_probabilities, to_numpy

_g = torch.Generator().manual_seed(1)
_x, _A = 30 * torch.randn(11, 2, generator=_g), 5 * torch.randn(1, 2, generator=_g)
_b, _alpha = torch.randn(1, generator=_g), 4 * torch.randn(1, generator=_g)
_p = one_hidden_layer_forward(_x, _A, _b, _alpha, torch.tensor(-0.5))
assert_probabilities(_p, "one_hidden_layer_forward with saturated units")
_ref = expit(expit(to_numpy(_x) @ to_numpy(_A).T + to_numpy(_b)) @ to_numpy(_alpha) - 0.5)
assert_close(_p, _ref, rtol=1e-5, atol=1e-6, name="one_hidden_layer_forward (H = 1, large inputs)")
### END HIDDEN TESTS

# %% [markdown]
# **Seeing the features.** On XOR (label 1 when the two coordinates have different signs), two
# hand-made features suffice: $h_1 \approx 1$ only near $(1, -1)$ and $h_2 \approx 1$ only near
# $(-1, 1)$. In the plane of $(h_1, h_2)$ the classes *are* linearly separable, and the output
# unit draws the line $\alpha^\top h + \alpha_0 = 0$ there. Left: the boundary in $x$-space;
# right: the same data in feature space.

# %% tags=["demo"]
X_xor_np, y_xor_np = make_xor(400, rng=rng)
A_hand = torch.tensor([[5.0, -5.0], [-5.0, 5.0]])
b_hand = torch.tensor([-5.0, -5.0])
alpha_hand, alpha0_hand = torch.tensor([10.0, 10.0]), -5.0

def hand_network(G):
    return one_hidden_layer_forward(torch.as_tensor(G, dtype=torch.float32), A_hand, b_hand,
                                    alpha_hand, alpha0_hand)

acc_hand = np.mean((hand_network(X_xor_np).numpy() > 0.5) == y_xor_np)
H_xor = torch.sigmoid(torch.as_tensor(X_xor_np, dtype=torch.float32) @ A_hand.T + b_hand).numpy()
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
plot_decision_boundary(hand_network, X_xor_np, y_xor_np, ax=axes[0],
                       title=f"XOR, hand-made network: accuracy {acc_hand:.2f}")
axes[1].scatter(H_xor[:, 0], H_xor[:, 1], c=y_xor_np, cmap="coolwarm", s=12, alpha=0.6)
t = np.linspace(-0.05, 1.05, 2)
axes[1].plot(t, -alpha0_hand / 10.0 - t, "k-", label=r"$\alpha^\top h + \alpha_0 = 0$")
axes[1].set_xlabel("$h_1$")
axes[1].set_ylabel("$h_2$")
axes[1].set_xlim(-0.05, 1.05)
axes[1].set_ylim(-0.05, 1.05)
axes[1].set_title("The same points in feature space")
axes[1].legend(loc="upper right")
plt.tight_layout()
plt.show()


# %% [markdown]
# **Move one hidden unit.** Below, the sliders set the weights $a_1 = (a_{11}, a_{12})$ and the bias
# $b_1$ of the first hidden unit of the hand-made network (the second unit and the output unit stay
# as they are). Left: the feature $h_1 = \sigma(a_1^\top x + b_1)$, with its line $a_1^\top x + b_1 = 0$
# in black; right: the network's decision boundary. Rotate the line, shift it, scale all three
# numbers together (Q2 below): when does XOR stay solved? (In a live notebook these are sliders;
# elsewhere the figure is drawn once.)

# %% tags=["demo"]
from dgm_utils.plotting import interactive

def draw_hidden_unit(a11=5.0, a12=-5.0, b1=-5.0):
    A = A_hand.clone()
    A[0] = torch.tensor([a11, a12])
    b = b_hand.clone()
    b[0] = b1

    def network(G):
        return one_hidden_layer_forward(torch.as_tensor(G, dtype=torch.float32), A, b, alpha_hand, alpha0_hand)

    def feature(G):
        return torch.sigmoid(torch.as_tensor(G, dtype=torch.float32) @ A[0] + b[0])

    acc = np.mean((network(X_xor_np).numpy() > 0.5) == y_xor_np)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    plot_decision_boundary(feature, X_xor_np, y_xor_np, ax=axes[0], title="feature $h_1$ and its line")
    plot_decision_boundary(network, X_xor_np, y_xor_np, ax=axes[1], title=f"the network: accuracy {acc:.2f}")
    plt.tight_layout()
    plt.show()

interactive(draw_hidden_unit, a11=(-10.0, 10.0, 0.5, 5.0), a12=(-10.0, 10.0, 0.5, -5.0), b1=(-10.0, 10.0, 0.5, -5.0))


# %% [markdown]
# ## 2. Stacking layers: the `MLP`
#
# Nothing stops us from computing features of features. With widths
# $d = H_0, H_1, \dots, H_L$ and an output width $K$,
#
# $$h^{(0)} = x, \qquad h^{(\ell)} = \sigma\big(W_\ell h^{(\ell - 1)} + b_\ell\big) \;(\ell = 1..L),
# \qquad \text{logits} = W_{L+1} h^{(L)} + b_{L+1},$$
#
# with $W_\ell \in \mathbb{R}^{H_\ell \times H_{\ell - 1}}$. The last layer is *linear*: the
# module returns **logits** (for $K = 1$ output the log-odds; for $K > 1$ unnormalized
# log-probabilities, which a softmax turns into probabilities), and the loss turns them into probabilities stably (as in
# notebook 01, working with logits avoids $\log 0$). With no hidden layer at all
# (`hidden_dims=[]`) the MLP is exactly logistic regression.
#
# ### Exercise 2: an `nn.Module` with any number of layers (4 points)
# Build the layers in `__init__` from `in_dim`, the list `hidden_dims` and `out_dim`, using
# `nn.Linear` and the `activation` class between layers (not after the last one). Register the
# layers with `nn.Sequential` or `nn.ModuleList` (a plain Python list hides them from
# `model.parameters()`, so the optimizer would never see them).

# %% nbgrader={"grade": false, "grade_id": "MLP", "locked": false, "schema_version": 3, "solution": true, "task": false}
class MLP(nn.Module):
    """Multilayer perceptron returning logits.

    Args:
        in_dim: int: input dimension d.
        hidden_dims: list of int (possibly empty): widths H_1, ..., H_L of the hidden layers.
        out_dim: int: number of output logits K.
        activation: nn.Module class applied after every hidden layer (default nn.Sigmoid,
            the h = sigma(A x + b) of the story); never after the output layer.

    forward(x): x float32 tensor (n, in_dim) -> logits float32 tensor (n, out_dim).
    """

    def __init__(self, in_dim, hidden_dims, out_dim=1, activation=nn.Sigmoid):
        super().__init__()
        ### BEGIN SOLUTION
        widths = [in_dim, *hidden_dims]
        layers = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(fan_in, fan_out), activation()]
        layers.append(nn.Linear(widths[-1], out_dim))
        self.net = nn.Sequential(*layers)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.net(x)
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_MLP", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
import numpy as np
import torch
import torch.nn as nn
from dgm_utils.checks import assert_finite, assert_shape, expect, fail

_MODULE_METHODS = ("parameters", "named_parameters", "state_dict", "load_state_dict", "zero_grad", "train", "eval")

def _missing_module_methods(model):
    # What nn.Module gives every subclass, and what the optimizer and these tests use.
    return [name for name in _MODULE_METHODS if not callable(getattr(model, name, None))]

def _randomize(model, seed, scale=2.0):
    # Large random parameters, drawn in the order of named_parameters(), set with the model's load_state_dict.
    g = torch.Generator().manual_seed(seed)
    model.load_state_dict({name: scale * torch.randn(p.shape, generator=g)
                           for name, p in model.named_parameters()}, strict=False)
    return model

def _ref_count(in_dim, hidden_dims, out_dim):
    # The parameters of the test's own stack of nn.Linear layers with these widths.
    widths = [in_dim, *hidden_dims, out_dim]
    return sum(p.numel() for a, b in zip(widths[:-1], widths[1:]) for p in nn.Linear(a, b).parameters())

_g = torch.Generator().manual_seed(2)
for _cfg in [(3, [], 1), (3, [5], 1), (4, [6, 7, 3], 2), (2, [1], 3)]:
    try:
        _m = MLP(*_cfg)
    except NotImplementedError:
        raise
    except Exception as err:
        fail(f"MLP{_cfg} raised {type(err).__name__}: {err}\nHint: build the layers from the widths "
                             "[in_dim, *hidden_dims, out_dim]; hidden_dims may be empty (then the MLP is the single "
                             "layer nn.Linear(in_dim, out_dim)).", mistake="mlp.widths")
    _missing = _missing_module_methods(_m)
    if _missing:
        fail(f"MLP must be a subclass of nn.Module: MLP{_cfg} has no {', '.join(_missing)}(). "
                             "Hint: declare class MLP(nn.Module) and call super().__init__() first in __init__; "
                             "nn.Module provides parameters(), which the optimizer needs.", mistake="mlp.not-a-module")
    _n_params = sum(p.numel() for p in _m.parameters())
    if _n_params == 0:
        fail(f"MLP{_cfg} has no parameters. Hint: register the layers with nn.Sequential "
                             "or nn.ModuleList; a plain Python list hides them from model.parameters().", mistake="mlp.unregistered-layers")
    if _n_params != _ref_count(*_cfg):
        fail(f"MLP{_cfg} has {_n_params} parameters, but a stack of nn.Linear layers with widths "
            f"{[_cfg[0], *_cfg[1], _cfg[2]]} has {_ref_count(*_cfg)}. Hint: build one nn.Linear per hidden "
            "layer (every entry of hidden_dims, in order) plus the output layer, and register them "
            "(nn.Sequential / nn.ModuleList).", mistake="mlp.layers")
    _out = _m(torch.randn(7, _cfg[0], generator=_g))
    expect(isinstance(_out, torch.Tensor), f"MLP{_cfg}(x) returned a {type(_out).__module__}.{type(_out).__name__}; "
           "return a torch tensor.", hint="return the logits of the last nn.Linear as they are: no .numpy(), "
           "no .tolist() (the loss and backward() need a tensor)", mistake="mlp.not-a-tensor")
    assert_shape(_out, (7, _cfg[2]), f"MLP{_cfg}(x) for x of shape (7, {_cfg[0]})",
                 hint="forward returns logits of shape (n, out_dim), also when out_dim = 1", mistake="mlp.output-shape")
    assert_finite(_out, f"MLP{_cfg}(x)")

# Logits, not probabilities: with large weights the outputs leave [0, 1].
_out = _randomize(MLP(3, [4]), 0)(3 * torch.randn(200, 3, generator=_g)).detach()
expect(((_out < 0) | (_out > 1)).any(), f"MLP(3, [4]) returned values in [{float(_out.min()):.3f}, {float(_out.max()):.3f}] for large weights: "
    "forward must return logits, not probabilities. Hint: no activation (no sigmoid) after the "
    "last layer.", mistake="mlp.output-activation")

def _midpoint_gap(model, seed):
    g = torch.Generator().manual_seed(seed)
    a, c = 2 * torch.randn(100, 2, generator=g), 2 * torch.randn(100, 2, generator=g)
    with torch.no_grad():
        return float(((model((a + c) / 2) - (model(a) + model(c)) / 2).abs()).max())

# hidden_dims = [] is logistic regression: an affine map x -> w.x + b.
_gap0 = _midpoint_gap(_randomize(MLP(2, []), 1), 3)
expect(_gap0 < 1e-4, f"MLP(2, []) is not an affine function of x (midpoint gap {_gap0:.3g}): with no hidden layer it is "
    "logistic regression and returns the logits w.x + b. Hint: no activation after the last layer.", mistake="mlp.output-activation")
# With hidden layers the logits must not be affine: the activations make the features non-linear.
_gap = _midpoint_gap(_randomize(MLP(2, [8, 8]), 4), 5)
expect(_gap > 1e-2, f"MLP(2, [8, 8]) computes an affine function of x (midpoint gap {_gap:.3g}): a stack of linear layers "
    "without an activation between them collapses into one linear layer. Hint: put an activation after "
    "every hidden layer.", mistake="mlp.no-activation")
print("MLP: all visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "test_MLP_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check deeper and wider networks and a custom activation when your notebook is graded.
### BEGIN HIDDEN TESTS
import torch
import torch.nn as nn
from dgm_utils.checks import assert_shape, expect

def _randomize(model, seed, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    model.load_state_dict({name: scale * torch.randn(p.shape, generator=g)
                           for name, p in model.named_parameters()}, strict=False)
    return model

def _ref_count(in_dim, hidden_dims, out_dim):
    widths = [in_dim, *hidden_dims, out_dim]
    return sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))

def _midpoint_gap(model, seed):
    g = torch.Generator().manual_seed(seed)
    a, c = 2 * torch.randn(100, 2, generator=g), 2 * torch.randn(100, 2, generator=g)
    with torch.no_grad():
        return float(((model((a + c) / 2) - (model(a) + model(c)) / 2).abs()).max())

for _cfg in [(1, [3, 3, 3, 3], 1), (5, [2], 4), (64, [32, 16], 10)]:
    _m = MLP(*_cfg)
    expect(sum(p.numel() for p in _m.parameters()) == _ref_count(*_cfg), f"hidden: MLP{_cfg} parameter count", mistake="mlp.layers")
    assert_shape(_m(torch.zeros(3, _cfg[0])), (3, _cfg[2]), f"hidden: MLP{_cfg}(x)")
_mt = _randomize(MLP(2, [6], activation=nn.Tanh), 7)
expect(_midpoint_gap(_mt, 8) > 1e-2, "hidden: MLP(2, [6], activation=nn.Tanh) is affine", mistake="mlp.no-activation")
# With activation=nn.Identity every layer is affine, so the whole MLP must be affine too.
_gap_id = _midpoint_gap(_randomize(MLP(2, [8, 8], activation=nn.Identity), 9, scale=1.0), 10)
expect(_gap_id < 1e-4, f"hidden: MLP(2, [8, 8], activation=nn.Identity) is not affine (midpoint gap {_gap_id:.3g}): the activation "
    "argument is ignored. Hint: build the hidden non-linearities with activation(), not a fixed nn.Sigmoid().", mistake="mlp.activation-ignored")
### END HIDDEN TESTS

# %% [markdown]
# ### Self-check (1 point each)
# Answer on paper, then put one letter per question in the cell below. Q1 is the count you will
# program in Exercise 3: work it out by hand first.
#
# **Q1.** How many parameters (weights and biases) does `MLP(3, [4, 2])` (one output) have?
# (a) 22 (b) 26 (c) 29 (d) 31
#
# **Q2.** Multiply the weights $a_k$ *and* the bias $b_k$ of one hidden unit by 3. The line
# $a_k^\top x + b_k = 0$ of that unit:
# (a) moves 3 times farther from the origin;
# (b) stays where it is, and $h_k$ switches from 0 to 1 more sharply across it;
# (c) stays where it is, and $h_k$ switches from 0 to 1 more gently across it;
# (d) rotates by a third of a turn.
#
# **Q3.** Which statement is **false**?
# (a) `MLP(2, [])` is logistic regression on $x$.
# (b) With `activation=nn.Identity`, `MLP(2, [8, 8])` has more parameters than `MLP(2, [])` but still
# draws only straight-line decision boundaries.
# (c) Doubling the width of a hidden layer doubles the number of weights going into it.
# (d) With a single sigmoid hidden unit, `MLP(2, [1])` can separate XOR.

# %% nbgrader={"grade": false, "grade_id": "selfcheck_answers", "locked": false, "schema_version": 3, "solution": true, "task": false}
"""Your answers: one letter for each of q1, q2 and q3."""
q1 = None  # "a", "b", "c" or "d"
q2 = None  # "a", "b", "c" or "d"
q3 = None  # "a", "b", "c" or "d"
### BEGIN SOLUTION
q1 = "c"
q2 = "b"
q3 = "d"
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_selfcheck_q1", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from dgm_utils.checks import check_answer

check_answer("02.q1", q1, "014eafbbedfab6e5", choices="abcd",
             hint="count layer by layer: the weight matrix and the bias of every nn.Linear, the output layer "
                  "included", mistake="selfcheck.q1")
print("Q1: correct")

# %% nbgrader={"grade": true, "grade_id": "test_selfcheck_q2", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from dgm_utils.checks import check_answer

check_answer("02.q2", q2, "b2f75be4e9e1561b", choices="abcd",
             hint="which points x satisfy 3 (a_k . x + b_k) = 0? And what does sigma do to a logit 3 times larger?",
             mistake="selfcheck.q2")
print("Q2: correct")

# %% nbgrader={"grade": true, "grade_id": "test_selfcheck_q3", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from dgm_utils.checks import check_answer

check_answer("02.q3", q3, "67950465566badc2", choices="abcd",
             hint="for each statement, write p(y = 1 | x) of that network and ask along which sets of x it is "
                  "constant", mistake="selfcheck.q3")
print("Q3: correct")

# %% [markdown]
# ## 3. Counting parameters
#
# How many numbers does training have to pin down? Count them layer by layer: `nn.Linear(a, b)`
# holds a weight matrix and a bias vector (which shapes?), and an MLP with widths
# $d, H_1, \dots, H_L, K$ has one such layer between each pair of consecutive widths. Your answer
# to Q1 is one instance; write the general sum before coding.
#
# This count is the first half of a trade-off you will see below: more parameters make more
# flexible decision boundaries, and need more data to pin down.
#
# ### Exercise 3: the count, in closed form (3 points)
# Compute the number with integer arithmetic, without building a network. The tests compare it
# with the parameters of a stack of `nn.Linear` layers they build themselves, with counts worked
# out by hand, and with your `MLP`.

# %% [markdown]
# <details><summary>Hint (open only if stuck)</summary>
#
# A layer from width $a$ to width $b$ has a $b \times a$ weight matrix and $b$ biases:
# $(a + 1)\,b$ parameters. Summing over the layers of an MLP with widths $d, H_1, \dots, H_L, K$:
#
# $$\#\theta = \sum_{\ell=1}^{L+1} (H_{\ell-1} + 1)\, H_\ell, \qquad H_0 = d,\; H_{L+1} = K.$$
#
# </details>

# %% nbgrader={"grade": false, "grade_id": "count_parameters", "locked": false, "schema_version": 3, "solution": true, "task": false}
def count_parameters(in_dim, hidden_dims, out_dim=1):
    """Number of parameters (weights and biases) of MLP(in_dim, hidden_dims, out_dim).

    Args:
        in_dim: int: input dimension d.
        hidden_dims: list of int (possibly empty): hidden widths.
        out_dim: int: number of outputs.

    Returns:
        int: sum over layers of (fan_in + 1) * fan_out.
    """
    ### BEGIN SOLUTION
    widths = [in_dim, *hidden_dims, out_dim]
    return int(sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(widths[:-1], widths[1:])))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_count_parameters", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
import numpy as np
import torch.nn as nn
from dgm_utils.checks import expect, fail

def _linear_stack(in_dim, hidden_dims, out_dim):
    """The test's own network: one nn.Linear between each pair of consecutive widths."""
    widths = [in_dim, *hidden_dims, out_dim]
    return nn.Sequential(*(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:])))

# Worked out by hand: (in_dim, hidden_dims, out_dim) -> number of parameters.
_BY_HAND = {(3, (5, 4), 2): 54, (2, (), 1): 3, (2, (16,), 1): 65, (784, (256, 128, 64), 10): 242_762}
for (_d, _hidden, _k), _by_hand in _BY_HAND.items():
    _cfg, _net = (_d, list(_hidden), _k), _linear_stack(_d, list(_hidden), _k)
    _w = sum(p.numel() for name, p in _net.named_parameters() if name.endswith("weight"))
    _bias = sum(p.numel() for name, p in _net.named_parameters() if name.endswith("bias"))
    _last = sum(p.numel() for p in _net[-1].parameters())
    _got = count_parameters(*_cfg)
    if isinstance(_got, (float, np.floating)):
        fail(f"count_parameters{_cfg} returned the float {_got!r}: a count is an exact integer.",
             hint="use // (integer division) and integer arithmetic only, never /", mistake="count.not-int")
    expect(isinstance(_got, (int, np.integer)) and not isinstance(_got, bool),
           f"count_parameters{_cfg} must return an integer, got {type(_got).__name__}", mistake="count.not-int")
    if _got == _w:
        fail(f"count_parameters{_cfg} = {_got} counts only the weights: you forgot the biases "
             f"(one per unit of every layer, {_bias} here).", mistake="count.no-biases")
    if _hidden and _got == _w + _bias - _last:
        fail(f"count_parameters{_cfg} = {_got}: you forgot the output layer "
             "(from the last hidden width to out_dim).", mistake="count.no-output-layer")
    expect(_got == _w + _bias == _by_hand, f"count_parameters{_cfg} = {_got}, but a stack of nn.Linear layers with "
           f"widths {[_d, *_hidden, _k]} has {_w + _bias} parameters ({_w} weights + {_bias} biases).",
           hint="count the weight matrix and the bias of every layer, output layer included", mistake="count.wrong")
print("count_parameters: matches stacks of nn.Linear and the counts worked out by hand")

# %% nbgrader={"grade": true, "grade_id": "test_count_parameters_mlp", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
import torch
from dgm_utils.checks import expect

for _cfg in [(2, [], 1), (2, [16], 1), (3, [5, 4], 2), (10, [1, 8], 3)]:
    _numel = sum(p.numel() for p in MLP(*_cfg).parameters())
    expect(count_parameters(*_cfg) == _numel, f"count_parameters{_cfg} = {count_parameters(*_cfg)} but MLP{_cfg} has {_numel} parameters "
        "(sum of p.numel()): the closed form and your module must agree.", mistake="count.disagrees-with-mlp")
print("count_parameters: agrees with your MLP")

# %% nbgrader={"grade": true, "grade_id": "test_count_parameters_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check other architectures when your notebook is graded.
### BEGIN HIDDEN TESTS
from dgm_utils.checks import expect
for _cfg in [(1, [1], 1), (5, [3, 3, 3, 3, 3], 7), (100, [1000], 1)]:
    _widths = [_cfg[0], *_cfg[1], _cfg[2]]
    _expected = sum((a + 1) * b for a, b in zip(_widths[:-1], _widths[1:]))
    expect(count_parameters(*_cfg) == _expected, f"hidden: count_parameters{_cfg}", mistake="count.wrong")
expect(count_parameters(4, [2]) == 13, "hidden: count_parameters(4, [2]) with the default out_dim", mistake="count.wrong")
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Training
#
# We fit the parameters by minimizing the mean binary cross-entropy (the mean negative
# log-likelihood of notebook 01) of the logits $s_i$:
#
# $$\mathcal{L}(\theta) = \frac{1}{n} \sum_{i=1}^n \Big[\log\big(1 + e^{-s_i}\big) y_i + \log\big(1 + e^{s_i}\big) (1 - y_i)\Big],$$
#
# which `F.binary_cross_entropy_with_logits` computes stably. We do not derive the gradient by
# hand this time: `loss.backward()` computes it exactly by the chain rule through every layer
# (backpropagation). One epoch is one pass over the data in shuffled mini-batches; each step:
#
# ```
# optimizer.zero_grad()   # gradients accumulate in .grad unless cleared
# loss = ...(model(X_batch), y_batch)
# loss.backward()
# optimizer.step()
# ```
#
# ### Exercise 4: a training loop with a progress bar (5 points)
# Use the optimizer `torch.optim.Adam` (the tests pass learning rates chosen for it), the
# `generator` for shuffling, and `trange` from `tqdm.auto` for the progress bar (disabled when
# `progress=False`). Return the mean loss of every epoch (average over the examples of the epoch).
# Choose defaults that train `MLP(2, [16])` on a few hundred 2-D points in about a second; the
# tests pass their own `n_epochs`, `lr`, `batch_size` and `generator`, so they grade the loop, not
# your choice of defaults.

# %% nbgrader={"grade": false, "grade_id": "train_classifier", "locked": false, "schema_version": 3, "solution": true, "task": false}
def train_classifier(model, X, y, n_epochs=200, lr=0.05, batch_size=64, generator=None, progress=True):
    """Train a binary classifier by minibatch gradient descent on the binary cross-entropy.

    Args:
        model: nn.Module mapping float32 (m, d) inputs to logits (m, 1) (or (m,)); trained in place.
        X: float32 tensor (n, d): inputs.
        y: float32 tensor (n,): labels in {0., 1.}.
        n_epochs: int >= 1: passes over the data.
        lr: float > 0: learning rate.
        batch_size: int > 0: examples per step.
        generator: torch.Generator or None: randomness of the shuffling.
        progress: bool: show a tqdm progress bar.

    Returns:
        list of n_epochs floats: the mean binary cross-entropy (nats) of each epoch.
    """
    ### BEGIN SOLUTION
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(X)
    losses = []
    for _ in trange(n_epochs, desc="training", disable=not progress, leave=False):
        perm = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            logits = model(X[idx]).reshape(-1)
            loss = F.binary_cross_entropy_with_logits(logits, y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        losses.append(total / n)
    return losses
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_train_classifier", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import math
import numpy as np
import torch
import torch.nn as nn
from dgm_utils.checks import assert_close, expect, fail

# A frozen model (learning rate ~ 0): every epoch's loss is the BCE of fixed logits.
_g = torch.Generator().manual_seed(3)
_X = torch.randn(128, 2, generator=_g)
_y = (torch.rand(128, generator=_g) < 0.5).float()
_lin = nn.Linear(2, 1)
with torch.no_grad():
    _lin.weight.copy_(torch.tensor([[1.5, -2.0]]))
    _lin.bias.fill_(0.25)
_s = (_X @ torch.tensor([1.5, -2.0]) + 0.25).double()
_ref = float(torch.mean(_y * nn.functional.softplus(-_s) + (1 - _y) * nn.functional.softplus(_s)))
_losses = train_classifier(_lin, _X, _y, n_epochs=3, lr=1e-12, batch_size=32,
                           generator=torch.Generator().manual_seed(0), progress=False)
expect(not isinstance(_losses, (np.ndarray, torch.Tensor)), f"train_classifier returned a "
       f"{type(_losses).__module__}.{type(_losses).__name__}; return a Python list of floats, one per epoch.",
       hint="losses.append(total / n) with total a Python float (loss.item())", mistake="train.losses-not-a-list")
expect(isinstance(_losses, (list, tuple)) and len(_losses) == 3, f"train_classifier(..., n_epochs=3) must return a list of 3 per-epoch losses, got {_losses!r}", mistake="train.losses-not-per-epoch")
_l0 = float(_losses[0])
if abs(_l0 - 128 * _ref) < 1e-3 * 128 or abs(_l0 - 32 * _ref) < 1e-3 * 32:
    fail(f"epoch loss {_l0:.4f} is a sum, not a mean ({_ref:.4f}). Hint: use the mean "
                         "binary cross-entropy of each batch and average over the epoch.", mistake="train.sum-not-mean")
_p = torch.sigmoid(_s)
_double = float(torch.mean(_y * nn.functional.softplus(-_p) + (1 - _y) * nn.functional.softplus(_p)))
if abs(_l0 - _double) < 1e-4:
    fail(f"epoch loss {_l0:.4f} is the BCE-with-logits of sigmoid(logits): you applied the "
                         "sigmoid twice. Hint: F.binary_cross_entropy_with_logits takes the logits themselves.", mistake="train.sigmoid-twice")
assert_close(np.array(_losses, dtype=float), np.full(3, _ref), atol=1e-4, rtol=1e-4,
             name="per-epoch losses of a frozen model",
             hint="return the mean over the epoch (all batches) of the binary cross-entropy of the logits, "
                  "one number per epoch, not the loss of the last batch", mistake="train.last-batch-loss")

# Confident and wrong: logit +50 for label 0 costs 50 nats. sigmoid(50) == 1.0 in float32.
_lin2 = nn.Linear(1, 1)
with torch.no_grad():
    _lin2.weight.fill_(0.0)
    _lin2.bias.fill_(50.0)
_l = train_classifier(_lin2, torch.zeros(4, 1), torch.zeros(4), n_epochs=1, lr=1e-12, batch_size=4,
                      progress=False)
expect(abs(float(_l[0]) - 50.0) < 1e-3, f"the loss of logit +50 with label 0 should be 50 nats, got {float(_l[0]):.4f}. Hint: compute the BCE "
    "from logits (F.binary_cross_entropy_with_logits); log(1 - sigmoid(50)) = log(0) in float32.", mistake="train.bce-on-probabilities")
# The shuffling comes from `generator`: the same seed repeats a run exactly, another seed reorders the batches.
def _run_with_seed(seed):
    lin = nn.Linear(2, 1)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[0.5, -0.5]]))
        lin.bias.zero_()
    return np.array(train_classifier(lin, _X, _y, n_epochs=2, lr=0.1, batch_size=16,
                                     generator=torch.Generator().manual_seed(seed), progress=False), dtype=float)

_run0, _run0_again, _run1 = _run_with_seed(0), _run_with_seed(0), _run_with_seed(1)
expect(np.allclose(_run0, _run0_again, rtol=0, atol=1e-6), f"two trainings with generator=torch.Generator().manual_seed(0) from the same initial model gave different "
    f"losses ({_run0} vs {_run0_again}): the shuffling does not come from `generator`. Hint: "
    "torch.randperm(n, generator=generator), not the global random state.", mistake="train.generator-ignored")
expect(np.abs(_run0 - _run1).max() > 1e-5, f"trainings with generator seeds 0 and 1 gave the same losses {_run0}: the mini-batches are not shuffled "
    "with `generator`. Hint: draw a new order every epoch with torch.randperm(n, generator=generator).", mistake="train.not-shuffled")
print("train_classifier: losses are per-epoch means of the BCE from logits; the shuffling follows `generator`")

# %% nbgrader={"grade": true, "grade_id": "test_train_classifier_fit", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import numpy as np
import torch
import torch.nn as nn
from scipy.special import log_expit
from sklearn.linear_model import LogisticRegression
from dgm_utils.checks import expect

# Logistic regression (an nn.Linear) trained with these settings (Adam, 200 epochs) must reach the optimum.
_r = np.random.default_rng(5)
_Xn = _r.normal(size=(300, 2))
_yn = (_r.random(300) < 1 / (1 + np.exp(-(_Xn @ np.array([2.0, -1.0]) + 0.5)))).astype(float)
_sk = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(_Xn, _yn)
_sopt = _Xn @ _sk.coef_[0] + _sk.intercept_[0]
_opt = -np.mean(_yn * log_expit(_sopt) + (1 - _yn) * log_expit(-_sopt))
torch.manual_seed(0)
_lin = nn.Linear(2, 1)
_losses = train_classifier(_lin, torch.tensor(_Xn, dtype=torch.float32), torch.tensor(_yn, dtype=torch.float32),
                           n_epochs=200, lr=0.05, batch_size=64, generator=torch.Generator().manual_seed(0),
                           progress=False)
with torch.no_grad():
    _s = (_lin(torch.tensor(_Xn, dtype=torch.float32)).reshape(-1)).double().numpy()
_final = -np.mean(_yn * log_expit(_s) + (1 - _yn) * log_expit(-_s))
expect(_final - _opt <= 0.01, f"after training, the model's mean BCE is {_final:.4f}, {_final - _opt:.3g} nats above scikit-learn's "
    f"optimum {_opt:.4f} (per-epoch losses went {_losses[0]:.3f} -> {_losses[-1]:.3f}). Hint: if the loss "
    "grows, the gradients accumulate across steps: call optimizer.zero_grad() before every backward(); "
    "otherwise check that train_classifier uses the n_epochs, lr and batch_size it is given, with "
    "torch.optim.Adam, and that every epoch visits all the examples.",
    mistake="train.not-converged")
print(f"train_classifier: within {_final - _opt:.1e} nats of the optimum")

# %% nbgrader={"grade": true, "grade_id": "test_train_classifier_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check other batch sizes and numbers of epochs when your notebook is graded.
### BEGIN HIDDEN TESTS
import math
import torch
import torch.nn as nn
from dgm_utils.checks import expect

_lin = nn.Linear(3, 1)
with torch.no_grad():
    _lin.weight.zero_()
    _lin.bias.zero_()
_l = train_classifier(_lin, torch.randn(50, 3), (torch.arange(50) % 2).float(), n_epochs=5, lr=1e-12,
                      batch_size=10, progress=False)
expect(len(_l) == 5, "hidden: 5 epochs give 5 losses", mistake="train.losses-not-per-epoch")
expect(all(abs(float(v) - math.log(2)) < 1e-4 for v in _l), "hidden: zero logits cost log 2 per example", mistake="train.wrong-loss")
### END HIDDEN TESTS

# %% [markdown]
# The loop you just wrote is the core of all the training in the course. From notebook 03 on,
# the course calls the shared `dgm_utils.training.fit`, the generic version of your loop (any loss
# function, any tuple of data tensors), so that the exercises stay on the models. Exercise 5 adds
# what `fit` does not do: watching a validation set, stopping early and keeping the best
# parameters.
#
# ### Exercise 5: validation, early stopping and the best parameters (3 points)
# Section 6 will show a large network fitting the noise of a small training set: its training
# loss keeps falling while its loss on new data rises. The standard remedy is to hold out a
# *validation set* and watch it while training:
#
# - after every epoch (its steps done), compute the mean binary cross-entropy of the model on
#   `(X_val, y_val)`, without gradients (`torch.no_grad()`);
# - an epoch *improves* when its validation loss is strictly lower than that of every earlier
#   epoch; keep a snapshot of the parameters of the best epoch so far (one that later steps
#   cannot change);
# - stop after the first epoch that ends `patience` epochs in a row without improvement (or
#   after `n_epochs` epochs);
# - before returning, load the best parameters into the model (`model.load_state_dict`).
#
# Train as in Exercise 4: one `torch.optim.Adam` for the whole run, shuffled mini-batches drawn
# with `generator`, a progress bar (showing both losses is nice: `bar.set_postfix(...)`).

# %% nbgrader={"grade": false, "grade_id": "train_with_early_stopping", "locked": false, "schema_version": 3, "solution": true, "task": false}
def train_with_early_stopping(model, X, y, X_val, y_val, n_epochs=500, lr=0.05, batch_size=64, patience=20,
                              generator=None, progress=True):
    """Train a binary classifier like train_classifier, watch a validation set, stop early, keep the best.

    Args:
        model: nn.Module mapping float32 (m, d) inputs to logits (m, 1) (or (m,)); trained in place and left
            with the parameters of the best epoch.
        X, y: float32 tensors (n, d) and (n,): training inputs and 0./1. labels.
        X_val, y_val: float32 tensors (n_val, d) and (n_val,): validation inputs and labels.
        n_epochs: int >= 1: the most epochs to run.
        lr: float > 0: learning rate of torch.optim.Adam.
        batch_size: int > 0: examples per step.
        patience: int >= 1: stop after this many epochs in a row without a strictly lower validation loss.
        generator: torch.Generator or None: randomness of the shuffling.
        progress: bool: show a tqdm progress bar.

    Returns:
        (train_losses, val_losses, best_state): two lists of floats with one entry per epoch run (the mean
        training BCE of the epoch, the validation BCE after it), and a dict name -> tensor: copies of
        model.state_dict() at the epoch with the lowest validation loss.
    """
    ### BEGIN SOLUTION
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(X)
    train_losses, val_losses = [], []
    best_loss, best_state, waited = float("inf"), None, 0
    bar = trange(n_epochs, desc="training", disable=not progress, leave=False)
    for _ in bar:
        perm = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            loss = F.binary_cross_entropy_with_logits(model(X[idx]).reshape(-1), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        train_losses.append(total / n)
        with torch.no_grad():
            val_losses.append(float(F.binary_cross_entropy_with_logits(model(X_val).reshape(-1), y_val)))
        bar.set_postfix(train=f"{train_losses[-1]:.4f}", val=f"{val_losses[-1]:.4f}")
        if val_losses[-1] < best_loss:
            best_loss, waited = val_losses[-1], 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if waited >= patience:
                break
    bar.close()
    model.load_state_dict(best_state)
    return train_losses, val_losses, best_state
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_train_with_early_stopping", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy.special import expit
from dgm_utils.checks import assert_close, expect, fail, to_numpy

# 1-D data: the training labels follow the steep logit 4x, the validation labels the gentle logit x, so along
# the training path the validation loss first falls, then rises (over-fitting, by construction).
_r = np.random.default_rng(8)
_xt, _xv = _r.normal(size=200), _r.normal(size=200)
_yt = torch.tensor((_r.random(200) < expit(4 * _xt)).astype(np.float32))
_yv = torch.tensor((_r.random(200) < expit(_xv)).astype(np.float32))
_Xt, _Xv = (torch.tensor(a[:, None], dtype=torch.float32) for a in (_xt, _xv))

def _zero_linear():
    lin = nn.Linear(1, 1)
    with torch.no_grad():
        lin.weight.zero_()
        lin.bias.zero_()
    return lin

def _reference_run(n_epochs, lr):
    """The test's own full-batch Adam from zero. Per epoch: the training loss of the step, the validation and
    training losses after it, and the parameters after it."""
    lin, rows = _zero_linear(), []
    opt = torch.optim.Adam(lin.parameters(), lr=lr)
    for _ in range(n_epochs):
        loss = F.binary_cross_entropy_with_logits(lin(_Xt).reshape(-1), _yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            rows.append((float(loss), float(F.binary_cross_entropy_with_logits(lin(_Xv).reshape(-1), _yv)),
                         float(F.binary_cross_entropy_with_logits(lin(_Xt).reshape(-1), _yt)),
                         {k: v.clone() for k, v in lin.state_dict().items()}))
    return [list(column) for column in zip(*rows)]

def _stopping_epoch(val, patience):
    """The first epoch (1-based) that ends `patience` epochs in a row without a strictly lower validation loss."""
    best, waited = float("inf"), 0
    for epoch, v in enumerate(val, start=1):
        best, waited = (v, 0) if v < best else (best, waited + 1)
        if waited == patience:
            return epoch
    return len(val)

def _same(state, ref):
    return all(np.allclose(to_numpy(state[k]), ref[k].numpy(), atol=1e-4) for k in ref)

_ref_train, _ref_val, _ref_train_after, _ref_states = _reference_run(100, 0.1)
_stop = _stopping_epoch(_ref_val, 5)
_best = int(np.argmin(_ref_val[:_stop]))  # index of the best epoch
_lin = _zero_linear()
_tr, _va, _state = train_with_early_stopping(_lin, _Xt, _yt, _Xv, _yv, n_epochs=100, lr=0.1, batch_size=200,
                                             patience=5, generator=torch.Generator().manual_seed(0), progress=False)
expect(isinstance(_tr, (list, tuple)) and isinstance(_va, (list, tuple)) and len(_tr) == len(_va) > 0,
       "train_with_early_stopping must return (train_losses, val_losses, best_state) with two Python lists of floats, "
       "one entry per epoch run, got "
       f"{type(_tr).__name__} and {type(_va).__name__}", mistake="es.return-format")
_k = min(len(_va), 100)
if np.allclose(np.array(_va[:_k], dtype=float), _ref_train_after[:_k], atol=1e-4):
    fail("your validation losses are the losses on the training set: evaluate the model on (X_val, y_val).",
         mistake="es.val-on-train")
assert_close(np.array(_va[:_k], dtype=float), np.array(_ref_val[:_k]), atol=1e-4, rtol=1e-4,
             name="validation loss after each epoch (full batch, Adam, lr 0.1)",
             hint="after each epoch's steps, the mean BCE of the model on (X_val, y_val); create one torch.optim.Adam "
                  "before the epoch loop (a new one every epoch forgets its running averages)", mistake="es.val-losses")
assert_close(np.array(_tr[:_k], dtype=float), np.array(_ref_train[:_k]), atol=1e-4, rtol=1e-4,
             name="training loss of each epoch", hint="as in train_classifier: the mean BCE over the epoch's batches",
             mistake="es.train-losses")
expect(len(_va) == _stop, f"training ran {len(_va)} epochs, but the validation loss was lowest at epoch {_best + 1}, so "
       f"with patience 5 it should stop after epoch {_stop}.", hint="count the epochs in a row without a strictly "
       "lower validation loss; stop as soon as that count reaches patience", mistake="es.patience")
expect(isinstance(_state, dict) and set(_state) == set(_ref_states[0]), "best_state must be a dict like "
       f"model.state_dict() (keys {sorted(_ref_states[0])}), got {_state!r}", mistake="es.return-format")
for _key, _v in _state.items():
    expect(isinstance(_v, torch.Tensor), f"best_state[{_key!r}] is a {type(_v).__module__}.{type(_v).__name__}; "
           "return torch tensors (copies of the tensors of model.state_dict()).", mistake="es.not-a-tensor")
if _same(_state, _ref_states[len(_va) - 1]):
    fail(f"best_state holds the parameters after the LAST epoch ({len(_va)}), not those of the best one "
         f"({_best + 1}): model.state_dict() returns the live parameter tensors, which later steps keep changing.",
         hint="store copies: {k: v.detach().clone() for k, v in model.state_dict().items()}",
         mistake="es.best-state-not-copied")
expect(_same(_state, _ref_states[_best]), f"best_state differs from the parameters after epoch {_best + 1}, the "
       "epoch with the lowest validation loss.", mistake="es.best-state")
expect(_same(_lin.state_dict(), _ref_states[_best]), "after train_with_early_stopping the model does not hold the "
       f"best parameters (those after epoch {_best + 1}).", hint="model.load_state_dict(best_state) before returning",
       mistake="es.best-not-restored")
print(f"train_with_early_stopping: stopped after epoch {len(_va)}, kept epoch {_best + 1}")

# %% nbgrader={"grade": true, "grade_id": "test_train_with_early_stopping_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Hidden tests check mini-batches, a constant validation loss and a patience longer than the run.
### BEGIN HIDDEN TESTS
import numpy as np
import torch
import torch.nn as nn
from dgm_utils.checks import assert_close, expect

def _frozen_linear():
    lin = nn.Linear(2, 1)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[0.5, -0.75]]))
        lin.bias.fill_(0.25)
    return lin

_g = torch.Generator().manual_seed(12)
_X, _Xv = torch.randn(64, 2, generator=_g), torch.randn(40, 2, generator=_g)
_y, _yv = (torch.rand(64, generator=_g) < 0.5).float(), (torch.rand(40, generator=_g) < 0.5).float()
_s = (_Xv.double() @ torch.tensor([0.5, -0.75], dtype=torch.float64) + 0.25)
_ref = float(torch.mean(_yv * nn.functional.softplus(-_s) + (1 - _yv) * nn.functional.softplus(_s)))
_tr, _va, _st = train_with_early_stopping(_frozen_linear(), _X, _y, _Xv, _yv, n_epochs=50, lr=1e-12, batch_size=16,
                                          patience=3, generator=torch.Generator().manual_seed(0), progress=False)
expect(len(_va) == 4, f"hidden: a constant validation loss improves only at epoch 1 (strictly lower), so patience 3 "
       f"stops after epoch 4; ran {len(_va)}", mistake="es.patience")
assert_close(np.array(_va, dtype=float), np.full(4, _ref), atol=1e-5, name="hidden: validation losses of a frozen model",
             mistake="es.val-losses")
_tr, _va, _st = train_with_early_stopping(_frozen_linear(), _X, _y, _Xv, _yv, n_epochs=6, lr=1e-12, batch_size=64,
                                          patience=100, generator=torch.Generator().manual_seed(0), progress=False)
expect(len(_tr) == len(_va) == 6, "hidden: with patience 100, all 6 epochs run", mistake="es.patience")
assert_close(_st["weight"], np.array([[0.5, -0.75]]), atol=1e-6, name="hidden: best_state of a frozen model",
             mistake="es.best-state")
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Where logistic regression fails, the MLP succeeds
#
# `MLP(2, [])` is logistic regression; `MLP(2, [16])` adds 16 learned sigmoid features. We train
# both with your loop on XOR and on the moons and draw the decision boundaries on held-out test
# points.

# %% tags=["demo"]
def as_tensors(X, y):
    return torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)

def proba(model):
    """p(y = 1 | x) of a trained model as a function of a float64 NumPy grid (for plotting)."""
    def f(G):
        with torch.no_grad():
            return torch.sigmoid(model(torch.as_tensor(G, dtype=torch.float32))).reshape(-1)
    return f

def accuracy(model, X, y):
    with torch.no_grad():
        return float(((model(X).reshape(-1) > 0).float() == y).float().mean())

datasets = {
    "XOR": (as_tensors(*make_xor(400, rng=rng)), as_tensors(*make_xor(1000, rng=rng))),
    "moons": (as_tensors(*make_moons(400, rng=rng)), as_tensors(*make_moons(1000, rng=rng))),
}

# %% tags=["demo"]
def label_of(hidden):
    return "logistic regression" if not hidden else f"MLP(2, {hidden})"

fig, axes = plt.subplots(2, 3, figsize=(14, 8))
test_accuracy, trained_models = {}, {}
for row, (name, ((X_tr, y_tr), (X_te, y_te))) in enumerate(datasets.items()):
    curves = {}
    for col, hidden in enumerate([[], [16]]):
        torch.manual_seed(0)
        model = MLP(2, hidden)
        curves[str(hidden)] = train_classifier(model, X_tr, y_tr, n_epochs=200, lr=0.05, batch_size=64,
                                               generator=torch.Generator().manual_seed(0))
        trained_models[(name, label_of(hidden))] = model
        label = label_of(hidden)
        test_accuracy[(name, label)] = accuracy(model, X_te, y_te)
        plot_decision_boundary(proba(model), X_te.numpy(), y_te.numpy(), ax=axes[row, col],
                               title=f"{name}, {label}: test accuracy {test_accuracy[(name, label)]:.3f}")
    for hidden, losses in curves.items():
        axes[row, 2].plot(np.arange(1, len(losses) + 1), losses,
                          label="logistic regression" if hidden == "[]" else f"MLP(2, {hidden})")
    axes[row, 2].set(xlabel="epoch", ylabel="mean BCE (nats)", title=f"{name}: training loss")
    axes[row, 2].legend()
    axes[row, 2].grid(alpha=0.3)
plt.tight_layout()
plt.show()
for (name, label), acc in test_accuracy.items():
    print(f"{name:6s} {label:20s} test accuracy {acc:.3f}")

# %% [markdown]
# **The learned features, seen.** Each hidden unit $k$ of the trained `MLP(2, [16])` is a soft step
# $h_k = \sigma(a_k^\top x + b_k)$ across its line $a_k^\top x + b_k = 0$. Left: the 16 lines on the
# moons, red where the output weight $\alpha_k$ of the unit is positive (the unit votes for class 1
# on its side where $h_k \approx 1$), blue where it is negative, thicker for larger $|\alpha_k|$.
# Right: the decision boundary, which bends along those lines: logistic regression on 16 learned
# step features.

# %% tags=["demo"]
def unit_lines(ax, A, c, alpha, xlim, ylim):
    """Draw the line a_k . x + c_k = 0 of every hidden unit, coloured by the sign of its output weight."""
    for a, c_k, w_out in zip(A, c, alpha):
        if abs(a[1]) > abs(a[0]):  # not too steep: parametrize by x1
            u = np.linspace(*xlim, 2)
            pts = (u, -(a[0] * u + c_k) / a[1])
        else:
            v = np.linspace(*ylim, 2)
            pts = (-(a[1] * v + c_k) / a[0], v)
        ax.plot(*pts, color="#b2182b" if w_out > 0 else "#2166ac", lw=0.5 + 2.5 * abs(w_out) / np.abs(alpha).max())
    ax.set(xlim=xlim, ylim=ylim)

moons_mlp = MLP(2, [16])  # a copy of the network trained on the moons above
moons_mlp.load_state_dict(trained_models[("moons", "MLP(2, [16])")].state_dict())
linears = [m for m in moons_mlp.modules() if isinstance(m, nn.Linear)]  # first: hidden layer; last: output
A_moons, b_moons = linears[0].weight.detach().numpy(), linears[0].bias.detach().numpy()
alpha_moons = linears[-1].weight.detach().numpy()[0]
(_, _), (X_te, y_te) = datasets["moons"]
X_te_np, y_te_np = X_te.numpy(), y_te.numpy()
xlim = (X_te_np[:, 0].min() - 0.5, X_te_np[:, 0].max() + 0.5)
ylim = (X_te_np[:, 1].min() - 0.5, X_te_np[:, 1].max() + 0.5)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
axes[0].scatter(X_te_np[:, 0], X_te_np[:, 1], c=y_te_np, cmap="coolwarm", s=6, alpha=0.4)
unit_lines(axes[0], A_moons, b_moons, alpha_moons, xlim, ylim)
axes[0].set_title("the 16 hidden units' lines $a_k^\\top x + b_k = 0$")
plot_decision_boundary(proba(moons_mlp), X_te_np, y_te_np, ax=axes[1],
                       title="the decision boundary of MLP(2, [16])")
plt.tight_layout()
plt.show()

# %% [markdown]
# The test below repeats the moons experiment with fresh data, your `MLP` and your
# `train_classifier` (200 epochs, learning rate 0.05, batches of 64): the MLP must reach a test
# accuracy of at least 0.95 (logistic regression, not tested here, reaches about 0.87).

# %% nbgrader={"grade": true, "grade_id": "test_moons_accuracy", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import numpy as np
import torch
from dgm_utils.data import make_moons
from dgm_utils.checks import expect

_r = np.random.default_rng(7)
_Xtr, _ytr = (torch.tensor(a, dtype=torch.float32) for a in make_moons(400, rng=_r))
_Xte, _yte = (torch.tensor(a, dtype=torch.float32) for a in make_moons(2000, rng=_r))
torch.manual_seed(1)
_mlp = MLP(2, [16])
train_classifier(_mlp, _Xtr, _ytr, n_epochs=200, lr=0.05, batch_size=64, generator=torch.Generator().manual_seed(1),
                 progress=False)
with torch.no_grad():
    _acc = float(((_mlp(_Xte).reshape(-1) > 0).float() == _yte).float().mean())
expect(_acc >= 0.95, f"MLP(2, [16]) trained by train_classifier (200 epochs, lr 0.05, batches of 64) reaches test "
    f"accuracy {_acc:.3f} on the moons; expected >= 0.95. Hint: check that the hidden layers have an activation "
    "and that train_classifier uses the n_epochs, lr and batch_size it is given.", mistake="moons.low-accuracy")
print(f"moons: MLP test accuracy {_acc:.3f}")

# %% [markdown]
# ## 6. Parameters versus flexibility
#
# With one hidden layer, every hidden unit adds $d + 2$ parameters (its $d$ input weights, its
# bias and its output weight) and one more sigmoid "edge" that the boundary can bend along; with
# more layers a unit also feeds every unit of the next layer, so the count grows faster (the
# formula of Exercise 3). On a *small*, noisy training set (60 points) we train MLPs of growing
# size, full batch for a fixed 1,000 steps, and measure the mean negative log-likelihood on
# 2,000 test points. The training loss *tends* to go down as the model grows, but nothing forces
# it to: each network starts from its own random weights and gets the same fixed budget of
# steps, so a bigger one can end higher (a bigger model could only match a smaller one for sure
# if it could copy the smaller one's solution and training found the best fit). The test loss
# goes down while the extra flexibility captures the moons' shape, then up when the model starts
# fitting the noise of the 60 points (over-fitting). The right size depends on how much data
# pins the parameters down, a trade-off that returns with every generative model of this course.

# %% tags=["demo"]
X_small, y_small = as_tensors(*make_moons(60, noise=0.3, rng=np.random.default_rng(1)))
X_big, y_big = as_tensors(*make_moons(2000, noise=0.3, rng=np.random.default_rng(2)))
architectures = [[], [1], [2], [4], [8], [32], [128], [64, 64]]
sweep = []
for hidden in architectures:
    torch.manual_seed(0)
    model = MLP(2, hidden)
    train_classifier(model, X_small, y_small, n_epochs=1000, lr=0.02, batch_size=len(X_small),
                     generator=torch.Generator().manual_seed(0), progress=False)
    with torch.no_grad():
        nll_train = float(F.binary_cross_entropy_with_logits(model(X_small).reshape(-1), y_small))
        nll_test = float(F.binary_cross_entropy_with_logits(model(X_big).reshape(-1), y_big))
    sweep.append((hidden, count_parameters(2, hidden), nll_train, nll_test, model))
    print(f"hidden {str(hidden):9s} {count_parameters(2, hidden):5d} parameters: "
          f"train NLL {nll_train:.3f}, test NLL {nll_test:.3f} nats")

fig = plt.figure(figsize=(15, 4))
ax = fig.add_subplot(1, 4, 1)
n_params = [s[1] for s in sweep]
ax.plot(n_params, [s[2] for s in sweep], "o-", label="train (60 points)")
ax.plot(n_params, [s[3] for s in sweep], "s-", label="test (2,000 points)")
ax.set_xscale("log")
ax.set(xlabel="number of parameters", ylabel="mean NLL (nats)", title="Parameters vs fit")
ax.legend()
ax.grid(alpha=0.3)
for k, idx in enumerate([1, 4, 7]):
    hidden, n_p, _, nll_test, model = sweep[idx]
    plot_decision_boundary(proba(model), X_small.numpy(), y_small.numpy(), ax=fig.add_subplot(1, 4, k + 2),
                           title=f"MLP(2, {hidden}): {n_p} parameters\ntest NLL {nll_test:.2f}")
plt.tight_layout()
plt.show()

# %% [markdown]
# **Early stopping against over-fitting.** The largest one-layer network of the sweep,
# `MLP(2, [128])`, trained again on the same 60 points, now with your `train_with_early_stopping`
# watching 200 other noisy points as a validation set: the run stops once the validation loss has
# not improved for 100 epochs and keeps the parameters of its best epoch. Compare its test NLL with
# the sweep's, trained for the full 1,000 epochs.

# %% tags=["demo"]
X_val, y_val = as_tensors(*make_moons(200, noise=0.3, rng=np.random.default_rng(3)))
torch.manual_seed(0)
model_es = MLP(2, [128])
train_curve, val_curve, best_state = train_with_early_stopping(
    model_es, X_small, y_small, X_val, y_val, n_epochs=1000, lr=0.02, batch_size=len(X_small), patience=100,
    generator=torch.Generator().manual_seed(0), progress=False)
with torch.no_grad():
    nll_test_es = float(F.binary_cross_entropy_with_logits(model_es(X_big).reshape(-1), y_big))
best_epoch = int(np.argmin(val_curve)) + 1
nll_test_full = next(s[3] for s in sweep if s[0] == [128])

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
epochs = np.arange(1, len(train_curve) + 1)
axes[0].plot(epochs, train_curve, label="training (60 points)")
axes[0].plot(epochs, val_curve, label="validation (200 points)")
axes[0].axvline(best_epoch, color="k", ls="--", lw=1, label=f"best epoch {best_epoch}")
axes[0].set(xlabel="epoch", ylabel="mean BCE (nats)", title="MLP(2, [128]) with early stopping")
axes[0].legend()
axes[0].grid(alpha=0.3)
plot_decision_boundary(proba(model_es), X_small.numpy(), y_small.numpy(), ax=axes[1],
                       title=f"best epoch's parameters: test NLL {nll_test_es:.3f}")
plt.tight_layout()
plt.show()
print(f"MLP(2, [128]) test NLL: {nll_test_es:.3f} nats with early stopping (stopped after epoch {len(val_curve)}, "
      f"kept epoch {best_epoch}), {nll_test_full:.3f} nats after 1,000 epochs")

# %% [markdown]
# ### Written answer (manually graded, 2 points)
# Explain in 3 to 5 sentences why an MLP is "logistic regression on learned features". Which
# part of `one_hidden_layer_forward` is logistic regression, what do the hidden units compute,
# and why does this let the model separate XOR when logistic regression on $x$ cannot? Cite one
# figure above.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_learned_features", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# ### BEGIN SOLUTION
# The last step, $p = \sigma(\alpha^\top h + \alpha_0)$, is exactly logistic regression with the
# feature vector $h$ in place of $x$: its decision boundary is a hyperplane in $h$-space. The
# hidden units compute those features, $h_k = \sigma(a_k^\top x + b_k)$, each a soft step along one
# learned direction of $x$, and training chooses $A, b$ jointly with $\alpha$ so that the classes
# become linearly separable in $h$. In the XOR figure the two hand-made features map the four
# blobs so that a single line in the $(h_1, h_2)$ plane separates them, while the same line
# pulled back to $x$-space is a curved, two-part boundary that no linear model on $x$ can
# produce. More hidden units give more features and more flexible boundaries, at the cost of
# more parameters to pin down with data (the over-fitting in the last figure).
# ### END SOLUTION
