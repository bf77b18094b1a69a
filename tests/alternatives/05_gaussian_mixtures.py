"""Correct answers of 05_gaussian_mixtures written another way (see tests/test_mutations.py)."""

ALTERNATIVES = [
    # Exercise 1: sample_mixture
    dict(name="z by the inverse CDF of rng.random, x as means[z] + stds[z] * rng.standard_normal",
         cell="sample_mixture",
         old="""    z = rng.choice(len(weights), size=n, p=weights)
    x = rng.normal(means[z], stds[z])""",
         new="""    u = rng.random(n)
    z = np.minimum(np.searchsorted(np.cumsum(weights), u, side="right"), len(weights) - 1)
    x = means[z] + stds[z] * rng.standard_normal(n)"""),
    dict(name="z as the argmax of one-hot rng.multinomial draws",
         cell="sample_mixture",
         old="""    z = rng.choice(len(weights), size=n, p=weights)""",
         new="""    z = np.argmax(rng.multinomial(1, weights, size=n), axis=1)"""),
    dict(name="x drawn all of one component at once (a loop over components)",
         cell="sample_mixture",
         old="""    x = rng.normal(means[z], stds[z])""",
         new="""    x = np.empty(n)
    for k in range(len(weights)):  # a loop over components, not over samples
        idx = np.flatnonzero(z == k)
        x[idx] = rng.normal(means[k], stds[k], size=idx.size)"""),
    dict(name="counts by rng.multinomial, labels shuffled, then x (another order of draws)",
         cell="sample_mixture",
         old="""    z = rng.choice(len(weights), size=n, p=weights)
    x = rng.normal(means[z], stds[z])""",
         new="""    counts = rng.multinomial(n, weights)  # how many samples of each component
    z = rng.permutation(np.repeat(np.arange(len(weights)), counts))  # i.i.d. labels in random order
    eps = rng.standard_normal(n)
    x = means[z] + stds[z] * eps"""),
    # Exercise 2: mixture_log_pdf
    dict(name="mixture log-pdf with a hand-written log-sum-exp (max shift)",
         cell="mixture_log_pdf",
         old="""    return logsumexp(log_joint, axis=1)""",
         new="""    top = np.max(log_joint, axis=1, keepdims=True)
    return (top + np.log(np.sum(np.exp(log_joint - top), axis=1, keepdims=True)))[:, 0]"""),
    dict(name="mixture log-pdf with np.logaddexp.reduce and the Gaussian log-density written out",
         cell="mixture_log_pdf",
         old="""    log_joint = np.log(weights) + gaussian_log_pdf(x[:, None], means, stds)  # (n, K): log p(x_i, z = k)
    return logsumexp(log_joint, axis=1)""",
         new="""    zz = (x[:, None] - means[None, :]) / stds[None, :]
    log_joint = np.log(weights) - 0.5 * zz**2 - np.log(stds) - 0.5 * np.log(2 * np.pi)
    return np.logaddexp.reduce(log_joint, axis=1)"""),
    dict(name="mixture log-pdf with logsumexp's b= weights",
         cell="mixture_log_pdf",
         old="""    log_joint = np.log(weights) + gaussian_log_pdf(x[:, None], means, stds)  # (n, K): log p(x_i, z = k)
    return logsumexp(log_joint, axis=1)""",
         new="""    log_px_given_z = gaussian_log_pdf(x[:, None], means, stds)  # (n, K)
    return logsumexp(log_px_given_z, b=np.asarray(weights)[None, :], axis=1)"""),
    # Exercise 3: posterior
    dict(name="posterior with scipy.special.softmax",
         cell="posterior",
         old="""    return np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))""",
         new="""    from scipy.special import softmax
    return softmax(log_joint, axis=1)"""),
    dict(name="posterior by a max-shifted exp, normalized by the row sums",
         cell="posterior",
         old="""    return np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))""",
         new="""    e = np.exp(log_joint - log_joint.max(axis=1, keepdims=True))  # the largest term is exp(0) = 1
    return e / e.sum(axis=1, keepdims=True)"""),
    dict(name="posterior minus the marginal log-density of Exercise 2",
         cell="posterior",
         old="""    return np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))""",
         new="""    return np.exp(log_joint - mixture_log_pdf(x, weights, means, stds)[:, None])"""),
    # Exercise 4: fit_em
    dict(name="EM reusing posterior and mixture_log_pdf, weights normalized by their sum",
         cell="fit_em",
         old="""        log_joint = np.log(weights) + gaussian_log_pdf(x[:, None], means, stds)  # (n, K)
        log_px = logsumexp(log_joint, axis=1)
        history.append(float(np.mean(log_px)))
        if len(history) > 1 and history[-1] - history[-2] < tol:
            break
        r = np.exp(log_joint - log_px[:, None])
        # M-step: weighted maximum likelihood
        nk = r.sum(axis=0)
        weights = nk / n""",
         new="""        history.append(float(np.mean(mixture_log_pdf(x, weights, means, stds))))
        if len(history) > 1 and history[-1] - history[-2] < tol:
            break
        r = posterior(x, weights, means, stds)
        nk = r.sum(axis=0)
        weights = nk / nk.sum()"""),
    dict(name="EM that checks the improvement after the M-step",
         cell="fit_em",
         old="""        history.append(float(np.mean(log_px)))
        if len(history) > 1 and history[-1] - history[-2] < tol:
            break
        r = np.exp(log_joint - log_px[:, None])
        # M-step: weighted maximum likelihood
        nk = r.sum(axis=0)
        weights = nk / n
        means = r.T @ x / nk
        var = np.sum(r * (x[:, None] - means) ** 2, axis=0) / nk
        stds = np.sqrt(np.maximum(var, min_std**2))""",
         new="""        history.append(float(np.mean(log_px)))
        r = np.exp(log_joint - log_px[:, None])
        nk = r.sum(axis=0)
        weights = nk / n
        means = r.T @ x / nk
        var = np.sum(r * (x[:, None] - means) ** 2, axis=0) / nk
        stds = np.sqrt(np.maximum(var, min_std**2))
        if len(history) > 1 and abs(history[-1] - history[-2]) < tol:  # the last M-step is kept: it cannot hurt
            break"""),
    dict(name="EM that stops before recording an iteration that gains less than tol",
         cell="fit_em",
         old="""        history.append(float(np.mean(log_px)))
        if len(history) > 1 and history[-1] - history[-2] < tol:
            break""",
         new="""        ll = float(np.mean(log_px))
        if history and ll - history[-1] < tol:
            break
        history.append(ll)"""),
    dict(name="EM with the variance from the second moment and the floor on the std",
         cell="fit_em",
         old="""        var = np.sum(r * (x[:, None] - means) ** 2, axis=0) / nk
        stds = np.sqrt(np.maximum(var, min_std**2))""",
         new="""        var = r.T @ x**2 / nk - means**2
        stds = np.maximum(np.sqrt(np.maximum(var, 0.0)), min_std)"""),
    dict(name="EM with a larger jitter of the initial means (half the data's std)",
         cell="fit_em",
         old="""        means = means + 0.1 * x.std() * rng.standard_normal(K)""",
         new="""        means = means + rng.normal(0.0, 0.5 * x.std(), size=K)"""),
    dict(name="EM with a uniform jitter of the initial means and sample std (ddof=1) at the start",
         cell="fit_em",
         old="""        means = means + 0.1 * x.std() * rng.standard_normal(K)
    stds = np.full(K, x.std())""",
         new="""        means = means + rng.uniform(-0.25, 0.25, size=K) * (x.max() - x.min()) / K
    stds = np.full(K, x.std(ddof=1))"""),
    dict(name="EM with an extra keyword argument",
         cell="fit_em",
         old="""def fit_em(x, n_components, n_iters=500, rng=None, tol=1e-10, min_std=1e-6):""",
         new="""def fit_em(x, n_components, n_iters=500, rng=None, tol=1e-10, min_std=1e-6, verbose=False):"""),
    dict(name="EM without early stopping (all n_iters iterations)",
         cell="fit_em",
         old="""        if len(history) > 1 and history[-1] - history[-2] < tol:
            break
""",
         new=""""""),
    # Exercise 5: uniform_latent_log_pdf
    dict(name="uniform latent flipping at the midpoint of [a, b], log1p(-exp(.))",
         cell="uniform_latent_log_pdf",
         old="""    flip = l > 0  # left of a: Phi(u) - Phi(l) = Phi(-l) - Phi(-u), with negative arguments
    hi, lo = np.where(flip, -l, u), np.where(flip, -u, l)
    log_hi, log_lo = log_ndtr(hi), log_ndtr(lo)
    return log_hi + np.log(-np.expm1(log_lo - log_hi)) - np.log(b - a)""",
         new="""    flip = x < 0.5 * (a + b)  # Phi(u) - Phi(l) = Phi(-l) - Phi(-u) holds everywhere
    hi, lo = np.where(flip, -l, u), np.where(flip, -u, l)
    log_hi, log_lo = log_ndtr(hi), log_ndtr(lo)
    return log_hi + np.log1p(-np.exp(log_lo - log_hi)) - np.log(b - a)"""),
    dict(name="uniform latent with a signed logsumexp (b = +1, -1)",
         cell="uniform_latent_log_pdf",
         old="""    log_hi, log_lo = log_ndtr(hi), log_ndtr(lo)
    return log_hi + np.log(-np.expm1(log_lo - log_hi)) - np.log(b - a)""",
         new="""    terms = np.stack([log_ndtr(hi), log_ndtr(lo)])  # (2, n)
    return logsumexp(terms, axis=0, b=np.array([[1.0], [-1.0]])) - np.log(b - a)"""),
    dict(name="uniform latent computed on each side of a with boolean masks",
         cell="uniform_latent_log_pdf",
         old="""    flip = l > 0  # left of a: Phi(u) - Phi(l) = Phi(-l) - Phi(-u), with negative arguments
    hi, lo = np.where(flip, -l, u), np.where(flip, -u, l)
    log_hi, log_lo = log_ndtr(hi), log_ndtr(lo)
    return log_hi + np.log(-np.expm1(log_lo - log_hi)) - np.log(b - a)""",
         new="""    out = np.empty_like(x)
    left = l > 0  # x < a: both arguments positive, use the mirror image
    for mask, hi, lo in ((left, -l, -u), (~left, u, l)):
        lh, ll = log_ndtr(hi[mask]), log_ndtr(lo[mask])
        out[mask] = lh + np.log(-np.expm1(ll - lh))
    return out - np.log(b - a)"""),
    # Exercise 6: monte_carlo_log_pdf
    dict(name="Monte Carlo with logsumexp's b = 1 / S",
         cell="monte_carlo_log_pdf",
         old="""    return logsumexp(log_w, axis=1) - np.log(n_samples)""",
         new="""    return logsumexp(log_w, axis=1, b=1.0 / n_samples)"""),
    dict(name="Monte Carlo with a hand-written log-mean-exp",
         cell="monte_carlo_log_pdf",
         old="""    return logsumexp(log_w, axis=1) - np.log(n_samples)""",
         new="""    top = log_w.max(axis=1)
    return top + np.log(np.mean(np.exp(log_w - top[:, None]), axis=1))"""),
    dict(name="Monte Carlo with fresh latents for every x_i (another order of draws)",
         cell="monte_carlo_log_pdf",
         old="""    z = sample_z(n_samples, rng)
    log_w = log_px_given_z(np.asarray(x, dtype=np.float64), z)  # (n, S)
    return logsumexp(log_w, axis=1) - np.log(n_samples)""",
         new="""    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):  # independent latents per point: also unbiased for p(x_i)
        out[i] = logsumexp(log_px_given_z(x[i:i + 1], sample_z(n_samples, rng))[0]) - np.log(n_samples)
    return out"""),
    dict(name="Monte Carlo drawing the latents in batches of 4096",
         cell="monte_carlo_log_pdf",
         old="""    z = sample_z(n_samples, rng)
    log_w = log_px_given_z(np.asarray(x, dtype=np.float64), z)  # (n, S)
    return logsumexp(log_w, axis=1) - np.log(n_samples)""",
         new="""    batch_size = 4096
    x = np.asarray(x, dtype=np.float64)
    parts, done = [], 0
    while done < n_samples:
        m = min(batch_size, n_samples - done)
        parts.append(logsumexp(log_px_given_z(x, sample_z(m, rng)), axis=1))
        done += m
    return logsumexp(np.stack(parts), axis=0) - np.log(n_samples)"""),
]
