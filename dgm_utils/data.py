"""Offline data sets. Nothing here downloads: data ship with installed packages or are generated."""
from __future__ import annotations

import numpy as np


def _split(X: np.ndarray, y: np.ndarray, test_fraction: float, rng: np.random.Generator):
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n = len(X)
    perm = rng.permutation(n)
    n_test = int(round(test_fraction * n))
    test, train = perm[:n_test], perm[n_test:]
    return X[train], X[test], y[train], y[test]


def load_breast_cancer_split(test_fraction: float = 0.3, seed: int = 0):
    """Wisconsin breast cancer data (bundled with scikit-learn), standardized, split.

    test_fraction: float in (0, 1): share of the 569 examples held out for testing.
    seed: int: seed of the split.

    Returns (X_train, X_test, y_train, y_test, feature_names):
        X_*: float64 (n, 30): features standardized with the *training* mean and std;
        y_*: float64 (n,): 1.0 for benign, 0.0 for malignant;
        feature_names: list of 30 str.
    """
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    X = np.asarray(data.data, dtype=np.float64)
    y = np.asarray(data.target, dtype=np.float64)
    X_tr, X_te, y_tr, y_te = _split(X, y, test_fraction, np.random.default_rng(seed))
    mean, std = X_tr.mean(axis=0), X_tr.std(axis=0)
    return (X_tr - mean) / std, (X_te - mean) / std, y_tr, y_te, list(data.feature_names)


def make_xor(n: int = 400, noise: float = 0.15, rng: np.random.Generator | None = None):
    """Four Gaussian blobs at (+-1, +-1); label 1 when the two signs differ (XOR).

    n: int > 0: number of points.
    noise: float >= 0: standard deviation of each blob.
    rng: numpy Generator (default: seeded with 0).

    Returns X float64 (n, 2), y float64 (n,) of 0./1.
    No linear boundary separates the classes: maximum-likelihood logistic regression is nearly
    constant (about 50% accuracy), though the best linear classifier reaches about 75%.
    """
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(0) if rng is None else rng
    signs = rng.choice([-1.0, 1.0], size=(n, 2))
    X = signs + noise * rng.standard_normal((n, 2))
    y = (signs[:, 0] != signs[:, 1]).astype(np.float64)
    return X, y


def make_moons(n: int = 400, noise: float = 0.2, rng: np.random.Generator | None = None):
    """Two interleaving half circles (scikit-learn's ``make_moons``), seeded by ``rng``.

    n: int > 1: number of points (half per moon).
    noise: float >= 0: standard deviation of the Gaussian noise added to each point.
    rng: numpy Generator (default: seeded with 0).

    Returns X float64 (n, 2), y float64 (n,) of 0./1.
    """
    from sklearn.datasets import make_moons as _moons

    if n <= 1:
        raise ValueError(f"n must be > 1, got {n}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(0) if rng is None else rng
    X, y = _moons(n_samples=n, noise=noise, random_state=int(rng.integers(2**31 - 1)))
    return X.astype(np.float64), y.astype(np.float64)


def train_test_split(X, y, test_fraction: float = 0.3, rng: np.random.Generator | None = None):
    """Random split of paired arrays.

    X: array (n, ...); y: array (n, ...); test_fraction in (0, 1); rng: numpy Generator.
    Returns X_train, X_test, y_train, y_test.
    """
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
    rng = np.random.default_rng(0) if rng is None else rng
    return _split(np.asarray(X), np.asarray(y), test_fraction, rng)


def load_binarized_digits(threshold: float = 8.0, test_fraction: float = 0.25, seed: int = 0):
    """8x8 handwritten digits bundled with scikit-learn (1,797 images, gray levels 0..16),
    binarized at ``threshold`` and split once with a fixed seed.

    threshold: float: a pixel is 1 when its gray level is > threshold.
    test_fraction: float in (0, 1): share held out for testing.
    seed: int: seed of the split (the course's fixed split is the default).

    Returns (x_train, x_test, y_train, y_test) as torch float32 tensors:
        x_*: (n, 64) of 0./1. pixels, row-major 8x8; y_*: (n,) digit labels 0..9 (float32).
    """
    import torch
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data > threshold).astype(np.float32)
    y = digits.target.astype(np.float32)
    x_tr, x_te, y_tr, y_te = _split(x, y, test_fraction, np.random.default_rng(seed))
    return tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in (x_tr, x_te, y_tr, y_te))


def load_names(kind: str = "female", min_length: int = 2, max_length: int = 12) -> list[str]:
    """First names from the US Census 1990 lists shipped inside the PyPI package ``names``.

    kind: "female" (4,275 names), "male" (1,219) or "all" (both, without duplicates).
    min_length, max_length: keep names with that many letters.

    Returns a sorted list of lower-case ASCII names.
    """
    import os

    import names as _names_pkg

    files = {"female": ["dist.female.first"], "male": ["dist.male.first"],
             "all": ["dist.female.first", "dist.male.first"]}
    if kind not in files:
        raise ValueError(f"kind must be one of {sorted(files)}, got {kind!r}")
    folder = os.path.dirname(_names_pkg.__file__)
    out = set()
    for fname in files[kind]:
        with open(os.path.join(folder, fname), encoding="ascii") as fh:
            for line in fh:
                word = line.split()[0].lower() if line.strip() else ""
                if word.isalpha() and min_length <= len(word) <= max_length:
                    out.add(word)
    return sorted(out)
