"""Correct answers of 01_logistic_regression written another way (see tests/test_mutations.py)."""

_FIT_CELL = """def fit_logistic_regression(X, y, lr=1.0, n_steps=3000):
    \"\"\"Fit logistic regression by full-batch gradient descent on the mean NLL, from zeros.

    Args:
        X: float64 array (n, d): standardized features.
        y: float64 array (n,): labels in {0., 1.}.
        lr: float > 0: step size.
        n_steps: int >= 0: number of gradient steps.

    Returns:
        (w, b): float64 array (d,) and float.
    \"\"\"
    ### BEGIN SOLUTION
    X = np.asarray(X, dtype=np.float64)
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(n_steps):
        gw, gb = nll_gradient(X, y, w, b)
        w, b = w - lr * gw, b - lr * gb
    return w, b
    ### END SOLUTION"""


def _fit_with_tol(tol: float) -> str:
    """fit_logistic_regression with extra keywords: tol (stop once the gradient's norm is below it), verbose."""
    return f"""def fit_logistic_regression(X, y, lr=1.0, n_steps=3000, tol={tol!r}, verbose=False):
    \"\"\"Full-batch gradient descent from zeros; stops early once the gradient's norm is below tol.\"\"\"
    X = np.asarray(X, dtype=np.float64)
    w, b = np.zeros(X.shape[1]), 0.0
    for step in range(n_steps):
        gw, gb = nll_gradient(X, y, w, b)
        if np.sqrt(np.sum(gw ** 2) + gb ** 2) < tol:  # close enough to the optimum
            break
        w, b = w - lr * gw, b - lr * gb
        if verbose and step % 500 == 0:
            print(step, negative_log_likelihood(X, y, w, b))
    return w, b"""


ALTERNATIVES = [
    # Exercise 1: sigmoid (stable, NumPy only, any shape, scalars too).
    dict(name="sigmoid through logaddexp",
         cell="sigmoid",
         old="""    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))""",
         new="""    return np.exp(-np.logaddexp(0.0, -np.asarray(z, dtype=float)))"""),
    dict(name="sigmoid with boolean masks, each branch on its own entries only",
         cell="sigmoid",
         old="""    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))""",
         new="""    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out"""),
    dict(name="sigmoid as exp(min(z, 0)) / (exp(min(z, 0)) + exp(min(-z, 0)))",
         cell="sigmoid",
         old="""    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))""",
         new="""    num = np.exp(np.minimum(z, 0.0))
    return num / (num + np.exp(np.minimum(-z, 0.0)))"""),
    dict(name="sigmoid with np.piecewise, returning a Python float for a scalar",
         cell="sigmoid",
         old="""    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))""",
         new="""    out = np.piecewise(z, [z >= 0], [lambda t: 1.0 / (1.0 + np.exp(-t)),
                                     lambda t: np.exp(t) / (1.0 + np.exp(t))])
    return float(out) if out.ndim == 0 else out"""),
    # Exercise 2: predict_proba.
    dict(name="predict_proba with einsum",
         cell="predict_proba",
         old="return sigmoid(np.asarray(X) @ np.asarray(w) + b)",
         new='return sigmoid(np.einsum("nd,d->n", np.asarray(X, dtype=float), np.asarray(w, dtype=float)) + b)'),
    dict(name="predict_proba through a column vector, flattened",
         cell="predict_proba",
         old="return sigmoid(np.asarray(X) @ np.asarray(w) + b)",
         new="return sigmoid(np.asarray(X).dot(np.asarray(w).reshape(-1, 1)) + b).reshape(-1)"),
    # Exercise 3: negative_log_likelihood from logits.
    dict(name="NLL as mean(softplus(s) - y s)",
         cell="negative_log_likelihood",
         old="return float(np.mean(y * np.logaddexp(0.0, -s) + (1.0 - y) * np.logaddexp(0.0, s)))",
         new="return float(np.mean(np.logaddexp(0.0, s) - y * s))"),
    dict(name="NLL with the signed logit (1 - 2y) s, returning a NumPy float",
         cell="negative_log_likelihood",
         old="return float(np.mean(y * np.logaddexp(0.0, -s) + (1.0 - y) * np.logaddexp(0.0, s)))",
         new="return np.logaddexp(0.0, np.where(y == 1.0, -s, s)).mean()"),
    dict(name="NLL with softplus written as max(t, 0) + log1p(exp(-|t|))",
         cell="negative_log_likelihood",
         old="return float(np.mean(y * np.logaddexp(0.0, -s) + (1.0 - y) * np.logaddexp(0.0, s)))",
         new="""def softplus(t):
        return np.maximum(t, 0.0) + np.log1p(np.exp(-np.abs(t)))
    return float(np.sum(y * softplus(-s) + (1.0 - y) * softplus(s)) / len(s))"""),
    # Exercise 4: nll_gradient.
    dict(name="gradient as a mean of rows, returned as a list with a NumPy float bias",
         cell="nll_gradient",
         old="return X.T @ r / len(r), float(np.mean(r))",
         new="return [np.mean(X * r[:, None], axis=0), r.mean()]"),
    dict(name="gradient from sigmoid(s) and -sigmoid(-s) per label, with einsum",
         cell="nll_gradient",
         old="""    r = predict_proba(X, w, b) - np.asarray(y, dtype=np.float64)
    return X.T @ r / len(r), float(np.mean(r))""",
         new="""    y = np.asarray(y, dtype=np.float64)
    s = X @ np.asarray(w) + b
    r = np.where(y == 1.0, -sigmoid(-s), sigmoid(s))  # d loss_i / d s_i
    n = X.shape[0]
    return np.einsum("nd,n->d", X, r) / n, float(r.sum() / n)"""),
    # Exercise 5: fit_logistic_regression (full-batch gradient descent from zeros).
    dict(name="gradient descent with other defaults (lr 4, 1500 steps)",
         cell="fit_logistic_regression",
         old="""def fit_logistic_regression(X, y, lr=1.0, n_steps=3000):""",
         new="""def fit_logistic_regression(X, y, lr=4.0, n_steps=1500):"""),
    dict(name="gradient descent with extra keywords (tol, verbose) and an early stop on a vanishing gradient",
         cell="fit_logistic_regression",
         old=_FIT_CELL,
         new=_fit_with_tol(1e-10)),
    # A stopping rule that still meets the statement's contract (within 1e-4 nats of the optimum): 6e-5 nats on
    # the visible data set, 1.5e-5 on the hidden one.
    dict(name="gradient descent stopping once the gradient's norm is below 2e-3",
         cell="fit_logistic_regression",
         old=_FIT_CELL,
         new=_fit_with_tol(2e-3)),
    dict(name="gradient descent with in-place updates, bias returned as a float",
         cell="fit_logistic_regression",
         old="""        w, b = w - lr * gw, b - lr * gb
    return w, b""",
         new="""        w -= lr * gw
        b -= lr * gb
    return w, float(b)"""),
    dict(name="gradient descent on the stacked parameter vector (w, b), returned as a list",
         cell="fit_logistic_regression",
         old="""    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(n_steps):
        gw, gb = nll_gradient(X, y, w, b)
        w, b = w - lr * gw, b - lr * gb
    return w, b""",
         new="""    theta = np.zeros(X.shape[1] + 1)  # (w, b)
    for _ in range(n_steps):
        gw, gb = nll_gradient(X, y, theta[:-1], theta[-1])
        theta = theta - lr * np.append(gw, gb)
    return [theta[:-1], theta[-1]]"""),
]
