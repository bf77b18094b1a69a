"""dgm_utils.data, plotting and seeding: offline, seeded, shapes as documented."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dgm_utils import data, plotting, seeding  # noqa: E402


def test_breast_cancer_split_is_standardized_and_fixed():
    X_tr, X_te, y_tr, y_te, names = data.load_breast_cancer_split()
    assert X_tr.shape == (398, 30) and X_te.shape == (171, 30) and len(names) == 30
    np.testing.assert_allclose(X_tr.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(X_tr.std(axis=0), 1, atol=1e-12)
    assert set(np.unique(y_tr)) == {0.0, 1.0}
    again = data.load_breast_cancer_split()
    np.testing.assert_array_equal(again[0], X_tr)
    other = data.load_breast_cancer_split(seed=1)
    assert not np.array_equal(other[2], y_tr)


def test_xor_is_not_linearly_separable_and_moons_are_seeded():
    from sklearn.linear_model import LogisticRegression

    X, y = data.make_xor(400, rng=np.random.default_rng(0))
    assert X.shape == (400, 2) and X.dtype == np.float64
    assert LogisticRegression().fit(X, y).score(X, y) < 0.65
    a = data.make_moons(100, rng=np.random.default_rng(3))
    b = data.make_moons(100, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(ValueError, match="noise"):
        data.make_xor(10, noise=-1)


def test_binarized_digits():
    x_tr, x_te, y_tr, y_te = data.load_binarized_digits()
    assert x_tr.shape == (1348, 64) and x_te.shape == (449, 64) and x_tr.dtype == torch.float32
    assert set(torch.unique(x_tr).tolist()) == {0.0, 1.0}
    assert torch.equal(data.load_binarized_digits()[1], x_te)


def test_names():
    female = data.load_names("female")
    assert len(female) > 4000 and female == sorted(female) and all(n.isalpha() and n.islower() for n in female)
    assert set(data.load_names("male")) <= set(data.load_names("all"))
    with pytest.raises(ValueError, match="kind"):
        data.load_names("dogs")


def test_plots_draw_something():
    X, y = data.make_moons(50)
    ax = plotting.plot_decision_boundary(lambda G: 1 / (1 + np.exp(-G[:, 0])), X, y, title="t")
    assert ax.get_title() == "t" and ax.collections
    ax = plotting.plot_loss_curve([3.0, 2.0, 1.0])
    assert list(ax.lines[0].get_ydata()) == [3.0, 2.0, 1.0]
    ax = plotting.plot_image_grid(torch.zeros(10, 64), n_cols=5)
    assert ax.images[0].get_array().shape == (2 * 9 - 1, 5 * 9 - 1)
    with pytest.raises(ValueError):
        plotting.plot_image_grid(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="2-D"):
        plotting.plot_decision_boundary(lambda G: G[:, 0], np.zeros((5, 3)), np.zeros(5))
    plt.close("all")


def test_seeding_gives_reproducible_independent_generators():
    assert seeding.make_rng(5).normal() == seeding.make_rng(5).normal()
    assert seeding.make_rng(5).normal() != seeding.make_rng(6).normal()
    g1, g2 = seeding.make_generator(7), seeding.make_generator(7)
    assert torch.equal(torch.randn(3, generator=g1), torch.randn(3, generator=g2))
    with pytest.raises(ValueError):
        seeding.make_rng(-1)
    seeding.seed_everything(3)
    a = np.random.rand()
    seeding.seed_everything(3)
    assert np.random.rand() == a


def test_interactive_draws_once_with_the_initial_values_when_headless(monkeypatch):
    from dgm_utils.plotting import interactive

    calls = []
    monkeypatch.setenv("DGM_STATIC_FIGURES", "1")
    interactive(lambda width, kind: calls.append((width, kind)), width=(1.0, 10.0, 1.0, 4.0), kind=["a", "b"])
    assert calls == [(4.0, "a")]
    monkeypatch.delenv("DGM_STATIC_FIGURES")
    interactive(lambda width: calls.append(width), width=(1.0, 10.0, 1.0, 2.0))  # no IPython kernel here
    assert calls[-1] == 2.0
    with pytest.raises(ValueError, match="control 'width'"):
        interactive(lambda width: None, width=(1.0, 2.0))
