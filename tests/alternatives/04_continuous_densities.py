"""Correct answers of 04_continuous_densities written another way (see tests/test_mutations.py)."""

ALTERNATIVES = [
    # Exercise 1: gaussian_pdf
    dict(name="pdf as 1 / sqrt(2 pi sigma^2) times exp of the squared distance over 2 sigma^2",
         cell="gaussian_pdf",
         old="""    z = (x - mu) / sigma
    return np.exp(-0.5 * z**2) / (sigma * np.sqrt(2.0 * np.pi))""",
         new="""    var = np.square(sigma)
    return np.exp(-((x - mu) ** 2) / (2.0 * var)) / np.sqrt(2.0 * np.pi * var)"""),
    dict(name="pdf with an extra keyword-only argument",
         cell="gaussian_pdf",
         old="""def gaussian_pdf(x, mu, sigma):""",
         new="""def gaussian_pdf(x, mu, sigma, *, dtype=np.float64):"""),
    dict(name="pdf exponentiating the whole log-density",
         cell="gaussian_pdf",
         old="""    return np.exp(-0.5 * z**2) / (sigma * np.sqrt(2.0 * np.pi))""",
         new="""    return np.exp(-0.5 * z * z - np.log(sigma) - 0.5 * np.log(2.0 * np.pi))"""),
    # Exercise 2: gaussian_log_pdf
    dict(name="log-pdf with -0.5 log(2 pi sigma^2) and the squared distance over 2 sigma^2",
         cell="gaussian_log_pdf",
         old="""    z = (x - mu) / sigma
    return -0.5 * z**2 - np.log(sigma) - 0.5 * np.log(2.0 * np.pi)""",
         new="""    var = np.square(sigma)
    return -0.5 * np.log(2.0 * np.pi * var) - (x - mu) ** 2 / (2.0 * var)"""),
    dict(name="log-pdf with -log(sigma sqrt(2 pi)) and np.square",
         cell="gaussian_log_pdf",
         old="""    return -0.5 * z**2 - np.log(sigma) - 0.5 * np.log(2.0 * np.pi)""",
         new="""    return -np.log(sigma * np.sqrt(2.0 * np.pi)) - 0.5 * np.square(z)"""),
    # Exercise 3: uniform_pdf and uniform_log_pdf
    dict(name="uniform pdf as the indicator divided by (b - a)",
         cell="uniform_pdf",
         old="""    inside = (x >= a) & (x <= b)
    return np.where(inside, 1.0 / (b - a), 0.0)""",
         new="""    return ((a <= x) & (x <= b)).astype(np.float64) / (b - a)"""),
    dict(name="uniform pdf on the open interval (a, b)",
         cell="uniform_pdf",
         old="""    inside = (x >= a) & (x <= b)""",
         new="""    inside = (x > a) & (x < b)  # the endpoints have probability 0: either convention"""),
    dict(name="uniform log-pdf on the open interval (a, b)",
         cell="uniform_log_pdf",
         old="""    inside = (x >= a) & (x <= b)""",
         new="""    inside = (x > a) & (x < b)  # the endpoints have probability 0: either convention"""),
    dict(name="uniform log-pdf with the distance to the midpoint, -inf outside",
         cell="uniform_log_pdf",
         old="""    inside = (x >= a) & (x <= b)
    return np.where(inside, -np.log(b - a), -np.inf)""",
         new="""    half = 0.5 * (b - a)
    out = np.full(x.shape, -np.log(b - a))
    out[np.abs(x - (a + half)) > half] = -np.inf
    return out"""),
    # Exercise 4: mvn_log_pdf
    dict(name="mvn log-pdf through scipy's upper Cholesky factor (cov = U^T U)",
         cell="mvn_log_pdf",
         old="""    L = np.linalg.cholesky(cov)  # cov = L @ L.T, L lower-triangular
    y = solve_triangular(L, (x - mu).T, lower=True)  # (d, n): L y = x - mu
    maha = np.sum(y**2, axis=0)  # (x - mu)^T cov^{-1} (x - mu)
    log_det = 2.0 * np.sum(np.log(np.diag(L)))""",
         new="""    from scipy.linalg import cholesky
    U = cholesky(cov, lower=False)  # cov = U.T @ U, U upper-triangular
    y = solve_triangular(U, (x - mu).T, trans="T", lower=False)  # U^T y = x - mu
    maha = np.einsum("dn,dn->n", y, y)
    log_det = 2.0 * np.log(np.diag(U)).sum()"""),
    dict(name="mvn log-pdf with cho_factor / cho_solve and the quadratic form x^T cov^-1 x",
         cell="mvn_log_pdf",
         old="""    L = np.linalg.cholesky(cov)  # cov = L @ L.T, L lower-triangular
    y = solve_triangular(L, (x - mu).T, lower=True)  # (d, n): L y = x - mu
    maha = np.sum(y**2, axis=0)  # (x - mu)^T cov^{-1} (x - mu)
    log_det = 2.0 * np.sum(np.log(np.diag(L)))""",
         new="""    from scipy.linalg import cho_factor, cho_solve
    c, low = cho_factor(cov, lower=True)
    diff = x - mu  # (n, d)
    maha = np.sum(diff * cho_solve((c, low), diff.T).T, axis=1)
    log_det = 2.0 * np.sum(np.log(np.diag(c)))"""),
    dict(name="mvn log-pdf solving with the Cholesky factor by np.linalg.solve, log det by slogdet",
         cell="mvn_log_pdf",
         old="""    y = solve_triangular(L, (x - mu).T, lower=True)  # (d, n): L y = x - mu
    maha = np.sum(y**2, axis=0)  # (x - mu)^T cov^{-1} (x - mu)
    log_det = 2.0 * np.sum(np.log(np.diag(L)))""",
         new="""    y = np.linalg.solve(L, (x - mu).T)  # (d, n)
    maha = (y * y).sum(axis=0)
    sign, log_det = np.linalg.slogdet(cov)"""),
    # Exercise 5: sample_mvn
    dict(name="sampling L @ eps with eps drawn as (d, n)",
         cell="sample_mvn",
         old="""    eps = rng.standard_normal((n, mu.shape[0]))
    return mu + eps @ L.T""",
         new="""    eps = rng.standard_normal((mu.shape[0], n))  # one column per sample: another order of draws
    return mu + (L @ eps).T"""),
    dict(name="sampling one coordinate of eps at a time (another order of draws)",
         cell="sample_mvn",
         old="""    eps = rng.standard_normal((n, mu.shape[0]))
    return mu + eps @ L.T""",
         new="""    eps = np.zeros((n, mu.shape[0]))
    for j in range(mu.shape[0]):  # a loop over coordinates, not samples
        eps[:, j] = rng.normal(0.0, 1.0, size=n)
    return mu[None, :] + np.einsum("ij,nj->ni", L, eps)"""),
    dict(name="sampling with rng.multivariate_normal(method='cholesky')",
         cell="sample_mvn",
         old="""    L = np.linalg.cholesky(cov)
    eps = rng.standard_normal((n, mu.shape[0]))
    return mu + eps @ L.T""",
         new="""    return rng.multivariate_normal(mu, cov, size=n, method="cholesky")  # mu + eps @ L.T inside"""),
    dict(name="sampling with an extra keyword argument",
         cell="sample_mvn",
         old="""def sample_mvn(mu, cov, n, rng):""",
         new="""def sample_mvn(mu, cov, n, rng, *, dtype=np.float64):"""),
    # Exercise 6: gaussian_conditional
    dict(name="conditional through the Cholesky factor of the observed block",
         cell="gaussian_conditional",
         old="""    s = cov[:k, k]  # (k,): covariances of x_k with the observed coordinates
    w = np.linalg.solve(cov[:k, :k], s)  # (k,): Sigma_oo^{-1} Sigma_ok (regression weights)
    mean = mu[k] + (x_given - mu[:k]) @ w
    var = cov[k, k] - s @ w  # the Schur complement
    return mean, float(var)""",
         new="""    if k == 0:
        return mu[0] + np.zeros(x_given.shape[:-1]), cov[0, 0]
    L = np.linalg.cholesky(cov[:k, :k])
    c = solve_triangular(L, cov[:k, k], lower=True)  # L c = Sigma_ok
    y = solve_triangular(L, (x_given - mu[:k]).T, lower=True)  # (k,) or (k, n)
    return mu[k] + c @ y, cov[k, k] - c @ c"""),
    dict(name="conditional from the last column of the precision of x_0..x_k (one solve)",
         cell="gaussian_conditional",
         old="""    s = cov[:k, k]  # (k,): covariances of x_k with the observed coordinates
    w = np.linalg.solve(cov[:k, :k], s)  # (k,): Sigma_oo^{-1} Sigma_ok (regression weights)
    mean = mu[k] + (x_given - mu[:k]) @ w
    var = cov[k, k] - s @ w  # the Schur complement
    return mean, float(var)""",
         new="""    e = np.zeros(k + 1)
    e[k] = 1.0
    p = np.linalg.solve(cov[:k + 1, :k + 1], e)  # last column of the precision of x_0..x_k
    var = 1.0 / p[k]
    mean = mu[k] - var * ((x_given - mu[:k]) @ p[:k])
    return mean, var"""),
    dict(name="conditional mean as Sigma_ko solve(Sigma_oo, x_o - mu_o)",
         cell="gaussian_conditional",
         old="""    mean = mu[k] + (x_given - mu[:k]) @ w""",
         new="""    mean = mu[k] + s @ np.linalg.solve(cov[:k, :k], (x_given - mu[:k]).T)"""),
    # Exercise 7: chain_rule_log_pdf
    dict(name="chain rule with the 1-D log-density written out from the variance, summed at the end",
         cell="chain_rule_log_pdf",
         old="""    total = np.zeros(x.shape[0])
    for j in range(x.shape[1]):  # a loop over the positions of the chain, not over examples
        mean, var = gaussian_conditional(mu, cov, x[:, :j])
        total += gaussian_log_pdf(x[:, j], mean, np.sqrt(var))
    return total""",
         new="""    terms = []
    for j in range(x.shape[1]):
        m_j, v_j = gaussian_conditional(mu, cov, x[:, :j])
        terms.append(-0.5 * (x[:, j] - m_j) ** 2 / v_j - 0.5 * np.log(2.0 * np.pi * v_j))
    return np.sum(terms, axis=0)"""),
    dict(name="chain rule with conditionals read off the Cholesky factor (forward substitution)",
         cell="chain_rule_log_pdf",
         old="""    total = np.zeros(x.shape[0])
    for j in range(x.shape[1]):  # a loop over the positions of the chain, not over examples
        mean, var = gaussian_conditional(mu, cov, x[:, :j])
        total += gaussian_log_pdf(x[:, j], mean, np.sqrt(var))
    return total""",
         new="""    L = np.linalg.cholesky(cov)  # x_j = mu_j + L[j, :j] y_<j + L_jj y_j, y ~ N(0, I)
    y = np.zeros_like(x)
    total = 0.0
    for j in range(x.shape[1]):
        mean_j = mu[j] + y[:, :j] @ L[j, :j]  # E[x_j | x_<j]; its standard deviation is L_jj
        y[:, j] = (x[:, j] - mean_j) / L[j, j]
        total = total + gaussian_log_pdf(x[:, j], mean_j, L[j, j])
    return total"""),
]
