"""Random generators for notebooks: explicit, seeded, never hidden global state."""
from __future__ import annotations

import random

import numpy as np


def make_rng(seed: int = 0) -> np.random.Generator:
    """Return a fresh ``numpy.random.Generator`` (PCG64) seeded with ``seed``.

    seed: int >= 0: the seed; the same seed gives the same stream.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(int(seed))


def make_generator(seed: int = 0):
    """Return a fresh CPU ``torch.Generator`` seeded with ``seed``.

    seed: int >= 0: the seed; the same seed gives the same stream.
    """
    import torch

    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    gen = torch.Generator()
    gen.manual_seed(int(seed))
    return gen


def seed_everything(seed: int = 0) -> None:
    """Seed Python's, NumPy's and (if imported) torch's *global* generators.

    Meant for the top of a notebook only, so that a student's code that does not take a
    generator is still reproducible. Library code takes explicit generators instead.

    seed: int >= 0.
    """
    import sys

    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed))
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(int(seed))
