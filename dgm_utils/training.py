"""A generic minibatch training loop with a progress bar, shared by the torch notebooks.

Notebooks whose exercise *is* the training loop (02_mlp's ``train_classifier``) have the
students write their own; later notebooks call ``fit`` so that the exercise stays on the
model and its likelihood.
"""
from __future__ import annotations

from typing import Callable, Sequence


def _as_tuple(data) -> tuple:
    """``data`` as a non-empty tuple of tensors sharing their first dimension."""
    import torch

    tensors = tuple(data) if isinstance(data, (tuple, list)) else (data,)
    if not tensors:
        raise ValueError("data must be a tensor or a non-empty tuple of tensors")
    for t in tensors:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"data must hold torch tensors, got {type(t).__name__}")
        if t.ndim == 0:
            raise ValueError("data tensors need a first (example) dimension, got a 0-d tensor")
    n = len(tensors[0])
    if any(len(t) != n for t in tensors):
        raise ValueError(f"data tensors must have the same length, got {[len(t) for t in tensors]}")
    if n == 0:
        raise ValueError("data is empty")
    return tensors


def fit(
    model,
    loss_fn: Callable,
    data,
    n_epochs: int,
    lr: float,
    batch_size: int | None = None,
    generator=None,
    *,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    progress: bool = True,
    desc: str | None = None,
) -> list[float]:
    """Train ``model`` by minibatch gradient descent on ``loss_fn``; return per-epoch losses.

    model: torch ``nn.Module`` whose parameters are trained (in train mode while training,
        left in eval mode on return).
    loss_fn: callable ``loss_fn(model, *batch) -> 0-d tensor``: the *mean* loss over the
        examples of ``batch`` (e.g. the mean negative log-likelihood in nats).
    data: a tensor (n, ...) or a tuple/list of tensors with the same first dimension n
        (e.g. ``(X, y)``); each batch passes the corresponding rows of every tensor.
    n_epochs: int >= 0: passes over the data, each in a fresh random order.
    lr: float > 0: learning rate.
    batch_size: int > 0, or None for full-batch training (one step per epoch).
    generator: ``torch.Generator`` for the shuffling (None: torch's global generator).
    optimizer: "adam" or "sgd".
    weight_decay: float >= 0: L2 penalty passed to the optimizer.
    progress: show a ``tqdm.auto`` progress bar with the running epoch loss.
    desc: label of the progress bar.

    Returns a list of ``n_epochs`` floats: the mean loss of each epoch, averaged over examples
    (batches weighted by their size), computed on the fly during the epoch.
    """
    import torch
    from tqdm.auto import tqdm

    tensors = _as_tuple(data)
    n = len(tensors[0])
    if int(n_epochs) != n_epochs or n_epochs < 0:
        raise ValueError(f"n_epochs must be a non-negative integer, got {n_epochs!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if batch_size is None:
        batch_size = n
    if int(batch_size) != batch_size or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")
    batch_size = int(batch_size)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    if optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    else:
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")

    model.train()
    losses: list[float] = []
    bar = tqdm(range(int(n_epochs)), desc=desc or type(model).__name__, disable=not progress,
               leave=True)
    for _ in bar:
        perm = torch.randperm(n, generator=generator) if batch_size < n else torch.arange(n)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            loss = loss_fn(model, *(t[idx] for t in tensors))
            if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
                shape = getattr(loss, "shape", None)
                raise ValueError("loss_fn must return a 0-d tensor (the mean loss of the batch), "
                                 f"got {type(loss).__name__} of shape {shape}")
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / n)
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    bar.close()
    model.eval()
    return losses


def evaluate(model, loss_fn: Callable, data, batch_size: int | None = None) -> float:
    """Mean of ``loss_fn`` over ``data`` without gradients (batches weighted by size).

    model, loss_fn, data: as in ``fit``; batch_size: int > 0 or None (all at once).
    Returns a float.
    """
    import torch

    tensors = _as_tuple(data)
    n = len(tensors[0])
    batch_size = n if batch_size is None else int(batch_size)
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    total = 0.0
    with torch.no_grad():
        for start in range(0, n, batch_size):
            batch = tuple(t[start:start + batch_size] for t in tensors)
            total += float(loss_fn(model, *batch)) * len(batch[0])
    return total / n


__all__: Sequence[str] = ["fit", "evaluate"]
