"""Figures shared by the notebooks. Each function draws on ``ax`` (a new figure if None)
and returns the Axes, so notebooks can compose panels."""
from __future__ import annotations

import os
from typing import Callable, Sequence

import numpy as np


def _axes(ax):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4))
    return ax


def plot_decision_boundary(
    predict_proba: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    ax=None,
    title: str = "",
    resolution: int = 200,
    margin: float = 0.5,
):
    """Shade p(y=1 | x) over the plane and draw the 0.5 contour and the data.

    predict_proba: callable (m, 2) float64 array -> (m,) probabilities (numpy or tensor).
    X: (n, 2) points; y: (n,) labels 0/1.
    resolution: grid points per axis; margin: space around the data.
    """
    from matplotlib.colors import ListedColormap

    from .checks import to_numpy

    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs 2-D inputs, got X of shape {X.shape}")
    ax = _axes(ax)
    x0 = np.linspace(X[:, 0].min() - margin, X[:, 0].max() + margin, resolution)
    x1 = np.linspace(X[:, 1].min() - margin, X[:, 1].max() + margin, resolution)
    g0, g1 = np.meshgrid(x0, x1)
    grid = np.column_stack([g0.ravel(), g1.ravel()])
    p = to_numpy(predict_proba(grid)).reshape(g0.shape)
    ax.contourf(g0, g1, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
    ax.contour(g0, g1, p, levels=[0.5], colors="k", linewidths=1.5)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=ListedColormap(["#2166ac", "#b2182b"]),
               s=12, edgecolors="white", linewidths=0.3)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return ax


def plot_loss_curve(losses: Sequence[float], ax=None, title: str = "Training loss",
                    ylabel: str = "mean negative log-likelihood (nats)", logy: bool = False):
    """Plot a loss per step/epoch.

    losses: sequence of floats, one per step; logy: log-scale y axis.
    """
    ax = _axes(ax)
    ax.plot(np.arange(1, len(losses) + 1), np.asarray(losses, dtype=np.float64))
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return ax


def plot_image_grid(images, n_cols: int = 8, ax=None, title: str = "", cmap: str = "gray_r"):
    """Show a grid of small images.

    images: array or tensor (n, H, W), or (n, H*W) with H = W = sqrt(H*W).
    n_cols: images per row.
    """
    from .checks import to_numpy

    imgs = to_numpy(images)
    if imgs.ndim == 2:
        side = int(round(np.sqrt(imgs.shape[1])))
        if side * side != imgs.shape[1]:
            raise ValueError(f"cannot reshape vectors of length {imgs.shape[1]} into square images")
        imgs = imgs.reshape(-1, side, side)
    if imgs.ndim != 3:
        raise ValueError(f"images must be (n, H, W) or (n, H*W), got shape {imgs.shape}")
    n, h, w = imgs.shape
    n_rows = int(np.ceil(n / n_cols))
    canvas = np.full((n_rows * (h + 1) - 1, n_cols * (w + 1) - 1), np.nan)
    for k in range(n):
        r, c = divmod(k, n_cols)
        canvas[r * (h + 1): r * (h + 1) + h, c * (w + 1): c * (w + 1) + w] = imgs[k]
    ax = _axes(ax)
    ax.imshow(canvas, cmap=cmap, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def interactive(draw: Callable[..., None], **controls) -> None:
    """Draw a figure with sliders when a live notebook can show widgets; otherwise draw it once.

    draw: callable(**values) that draws one complete figure (and calls plt.show()).
    controls: name=(low, high, step, value) for a float slider, or name=[option, ...] for a
        drop-down (the first option is the value drawn without widgets).
    Without ipywidgets, outside IPython, or with DGM_STATIC_FIGURES=1 (set by the tests and the
    benchmark: headless runs), ``draw`` is called once with each control's value: a static figure.
    """
    for name, spec in controls.items():
        if not (isinstance(spec, list) and spec) and not (isinstance(spec, tuple) and len(spec) == 4):
            raise ValueError(f"control {name!r}: give (low, high, step, value) or a list of options, got {spec!r}")
    values = {k: (v[0] if isinstance(v, list) else v[3]) for k, v in controls.items()}
    static = os.environ.get("DGM_STATIC_FIGURES") == "1"
    try:
        from IPython import get_ipython

        static = static or get_ipython() is None or not hasattr(get_ipython(), "kernel")
        import ipywidgets
    except ImportError:
        static = True
    if static:
        draw(**values)
        return
    widgets = {k: ipywidgets.Dropdown(options=v, value=v[0], description=k) if isinstance(v, list) else
               ipywidgets.FloatSlider(min=v[0], max=v[1], step=v[2], value=v[3], description=k,
                                      continuous_update=False)
               for k, v in controls.items()}
    ipywidgets.interact(draw, **widgets)
