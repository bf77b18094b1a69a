"""Unit tests of dgm_utils.training (the generic training loop shared by the torch notebooks)."""
from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from dgm_utils.training import evaluate, fit  # noqa: E402


def _regression(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 3, generator=g)
    y = X @ torch.tensor([1.0, -2.0, 0.5]) + 0.3
    return X, y


def _mse(model, X, y):
    return ((model(X).squeeze(-1) - y) ** 2).mean()


def test_fit_returns_one_decreasing_loss_per_epoch():
    torch.manual_seed(0)
    X, y = _regression()
    model = nn.Linear(3, 1)
    losses = fit(model, _mse, (X, y), n_epochs=40, lr=0.05, batch_size=16,
                 generator=torch.Generator().manual_seed(0), progress=False)
    assert isinstance(losses, list) and len(losses) == 40
    assert all(isinstance(v, float) and math.isfinite(v) for v in losses)
    assert losses[-1] < 1e-2 < losses[0]
    assert evaluate(model, _mse, (X, y)) < 1e-2


def test_epoch_loss_is_the_example_weighted_mean_over_uneven_batches():
    X, y = _regression(n=10)
    model = nn.Linear(3, 1)
    with torch.no_grad():
        full = float(_mse(model, X, y))
    # A negligible learning rate keeps the model fixed: the epoch mean must equal the full-data mean
    # even though the batches (3, 3, 3, 1) have different sizes.
    losses = fit(model, _mse, (X, y), n_epochs=2, lr=1e-12, batch_size=3, optimizer="sgd",
                 generator=torch.Generator().manual_seed(1), progress=False)
    assert losses == pytest.approx([full, full], rel=1e-5)
    assert evaluate(model, _mse, (X, y), batch_size=3) == pytest.approx(full, rel=1e-5)


def test_every_example_is_seen_once_per_epoch_with_rows_kept_together():
    n = 11
    X = torch.arange(n, dtype=torch.float32)[:, None]
    y = 10 * torch.arange(n, dtype=torch.float32)
    seen = []
    model = nn.Linear(1, 1)

    def loss_fn(m, xb, yb):
        assert torch.equal(yb, 10 * xb[:, 0]), "rows of X and y were separated"
        assert m.training, "the model must be in train mode while training"
        seen.append(xb[:, 0].long().tolist())
        return (m(xb).squeeze(-1) * 0).sum() + yb.sum() * 0

    fit(model, loss_fn, (X, y), n_epochs=3, lr=0.1, batch_size=4,
        generator=torch.Generator().manual_seed(2), progress=False)
    per_epoch = [sum(seen[k:k + 3], []) for k in range(0, 9, 3)]
    assert len(seen) == 9  # ceil(11 / 4) = 3 batches per epoch
    assert all(sorted(ep) == list(range(n)) for ep in per_epoch)
    assert per_epoch[0] != per_epoch[1]  # reshuffled between epochs
    assert not model.training  # left in eval mode


def test_same_generator_seed_gives_the_same_run():
    X, y = _regression()
    runs = []
    for seed in (3, 3, 4):
        torch.manual_seed(0)
        model = nn.Linear(3, 1)
        losses = fit(model, _mse, (X, y), n_epochs=5, lr=0.01, batch_size=8,
                     generator=torch.Generator().manual_seed(seed), progress=False)
        runs.append((losses, model.weight.detach().clone()))
    assert runs[0][0] == runs[1][0] and torch.equal(runs[0][1], runs[1][1])
    assert runs[0][0] != runs[2][0]


def test_full_batch_and_a_single_tensor():
    X, _ = _regression(n=20)
    calls = []

    def loss_fn(m, xb):
        calls.append(len(xb))
        return (m(xb) ** 2).mean()

    fit(nn.Linear(3, 1), loss_fn, X, n_epochs=4, lr=0.01, progress=False)
    assert calls == [20, 20, 20, 20]


def test_zero_epochs_leaves_the_model_unchanged():
    model = nn.Linear(3, 1)
    before = [p.detach().clone() for p in model.parameters()]
    assert fit(model, _mse, _regression(), n_epochs=0, lr=0.1, progress=False) == []
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_weight_decay_shrinks_the_weights():
    X, y = _regression()
    norms = []
    for wd in (0.0, 1.0):
        torch.manual_seed(0)
        model = nn.Linear(3, 1)
        fit(model, _mse, (X, y), n_epochs=30, lr=0.05, batch_size=16, weight_decay=wd,
            generator=torch.Generator().manual_seed(0), progress=False)
        norms.append(float(model.weight.detach().norm()))
    assert norms[1] < norms[0]


def test_progress_bar_can_be_disabled(capsys):
    fit(nn.Linear(3, 1), _mse, _regression(), n_epochs=2, lr=0.01, progress=False)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    fit(nn.Linear(3, 1), _mse, _regression(), n_epochs=2, lr=0.01, progress=True, desc="demo")
    assert "demo" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs,match", [
    (dict(n_epochs=-1), "n_epochs"),
    (dict(n_epochs=1.5), "n_epochs"),
    (dict(lr=0.0), "lr"),
    (dict(batch_size=0), "batch_size"),
    (dict(optimizer="rmsprop"), "optimizer"),
])
def test_invalid_arguments_are_rejected(kwargs, match):
    args = dict(n_epochs=1, lr=0.1, progress=False)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        fit(nn.Linear(3, 1), _mse, _regression(), **args)


def test_invalid_data_and_losses_are_rejected():
    X, y = _regression()
    with pytest.raises(ValueError, match="same length"):
        fit(nn.Linear(3, 1), _mse, (X, y[:-1]), n_epochs=1, lr=0.1, progress=False)
    with pytest.raises(TypeError, match="torch tensors"):
        fit(nn.Linear(3, 1), _mse, (X.numpy(), y), n_epochs=1, lr=0.1, progress=False)
    with pytest.raises(ValueError, match="0-d tensor"):
        fit(nn.Linear(3, 1), lambda m, xb, yb: (m(xb).squeeze(-1) - yb) ** 2, (X, y), n_epochs=1,
            lr=0.1, progress=False)
    frozen = nn.Linear(3, 1).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        fit(frozen, _mse, (X, y), n_epochs=1, lr=0.1, progress=False)
