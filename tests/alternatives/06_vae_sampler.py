"""Correct answers of 06_vae_sampler written another way (see tests/test_mutations.py)."""

# The whole body of the solution's GaussianDecoder, from the first statement of __init__ to the
# return of forward (the alternatives below replace both methods at once).
_DECODER_BODY = '''self.latent_dim, self.data_dim = latent_dim, data_dim
        self.mu_theta = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.Tanh(), nn.Linear(hidden_dim, data_dim))
        self.sigma_phi = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.Tanh(), nn.Linear(hidden_dim, data_dim),
            nn.Softplus())  # softplus(s) = log(1 + e^s) > 0, computed stably by torch
        ### END SOLUTION

    def forward(self, z):
        """Decode latent vectors.

        Args:
            z: float32 tensor (n, latent_dim): latent vectors (any real values).

        Returns:
            (mu, sigma): float32 tensors (n, data_dim) each: the mean and the standard
            deviation of x given each z; sigma > 0 everywhere.
        """
        ### BEGIN SOLUTION
        return self.mu_theta(z), self.sigma_phi(z) + 1e-4  # the floor keeps sigma > 0 in float32'''

_FORWARD_HEAD = '''
        ### END SOLUTION

    def forward(self, z):
        ### BEGIN SOLUTION
'''

_SAMPLE_VAE_BODY = """z = sample_prior(n, decoder.latent_dim, generator=generator)
    mu, sigma = decoder(z)
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
    return mu + sigma * eps, z"""

_ESTIMATE_BODY = """z = sample_prior(n_samples, decoder.latent_dim, generator=generator)
    mu, sigma = decoder(z)  # (K, d) each
    log_pxz = gaussian_log_likelihood(x[:, None, :], mu[None], sigma[None])  # (n, K)
    return torch.logsumexp(log_pxz, dim=1) - math.log(n_samples)"""

_LINEAR_BODY = """cov = W @ W.T + torch.diag(s**2)
    L = torch.linalg.cholesky(cov)  # cov = L L^T
    u = torch.linalg.solve_triangular(L, (x - c).T, upper=False)  # (d, n): L u = x - c
    d = x.shape[-1]
    return -0.5 * (u**2).sum(0) - torch.log(torch.diagonal(L)).sum() - 0.5 * d * math.log(2 * math.pi)"""

ALTERNATIVES = [
    # -- Exercise 1: GaussianDecoder
    dict(name="decoder: sigma = exp(log-sigma network)",
         cell="GaussianDecoder",
         old=_DECODER_BODY,
         new="""self.latent_dim = latent_dim
        self.mu_theta = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.Tanh(), nn.Linear(hidden_dim, data_dim))
        self.sigma_phi = nn.Sequential(  # outputs log sigma
            nn.Linear(latent_dim, hidden_dim), nn.Tanh(), nn.Linear(hidden_dim, data_dim))""" + _FORWARD_HEAD + """\
        return self.mu_theta(z), torch.exp(self.sigma_phi(z))"""),
    dict(name="decoder: explicit layers in a helper module, ReLU, F.softplus in forward",
         cell="GaussianDecoder",
         old="class GaussianDecoder(nn.Module):",
         new='''class TwoLayerNet(nn.Module):
    """z -> Linear -> ReLU -> Linear, written layer by layer."""

    def __init__(self, in_dim, hidden_dim, out_dim):
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, out_dim)

    def forward(self, z):
        h = F.relu(self.fc1(z))
        return self.fc2(h)


class GaussianDecoder(nn.Module):
    def __init__(self, latent_dim, data_dim, hidden_dim):
        super().__init__()
        self.latent_dim = latent_dim
        self.mu_theta = TwoLayerNet(latent_dim, hidden_dim, data_dim)
        self.sigma_phi = TwoLayerNet(latent_dim, hidden_dim, data_dim)

    def forward(self, z):
        return self.mu_theta(z), F.softplus(self.sigma_phi(z)) + 1e-4


class _SolutionGaussianDecoder(nn.Module):'''),
    dict(name="decoder: extra keyword arguments with defaults (activation, floor), ELU",
         cell="GaussianDecoder",
         old="""    def __init__(self, latent_dim, data_dim, hidden_dim):
        super().__init__()
        ### BEGIN SOLUTION
        """ + _DECODER_BODY,
         new="""    def __init__(self, latent_dim, data_dim, hidden_dim, activation=nn.ELU, sigma_floor=1e-3):
        super().__init__()
        self.latent_dim, self.sigma_floor = latent_dim, sigma_floor
        self.mu_theta = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), activation(), nn.Linear(hidden_dim, data_dim))
        self.sigma_phi = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), activation(), nn.Linear(hidden_dim, data_dim))

    def forward(self, z):
        return self.mu_theta(z), F.softplus(self.sigma_phi(z)) + self.sigma_floor"""),
    dict(name="decoder: sigma_phi gives the variance, sigma its square root",
         cell="GaussianDecoder",
         old="return self.mu_theta(z), self.sigma_phi(z) + 1e-4",
         new="return self.mu_theta(z), torch.sqrt(self.sigma_phi(z) + 1e-6)"),

    # -- Exercise 2: sample_prior
    dict(name="prior: torch.normal(0, 1, size=..., generator=...)",
         cell="sample_prior",
         old="return torch.randn(n, latent_dim, generator=generator)",
         new="return torch.normal(0.0, 1.0, size=(n, latent_dim), generator=generator)"),
    dict(name="prior: torch.empty(...).normal_(generator=...)",
         cell="sample_prior",
         old="return torch.randn(n, latent_dim, generator=generator)",
         new="return torch.empty(n, latent_dim).normal_(mean=0.0, std=1.0, generator=generator)"),
    dict(name="prior: Box-Muller from two uniform draws",
         cell="sample_prior",
         old="return torch.randn(n, latent_dim, generator=generator)",
         new="""u1 = 1.0 - torch.rand(n, latent_dim, generator=generator)  # in (0, 1]: its log is finite
    u2 = torch.rand(n, latent_dim, generator=generator)
    return torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(2 * math.pi * u2)"""),
    dict(name="prior: one row at a time, extra dtype keyword",
         cell="sample_prior",
         old="""def sample_prior(n, latent_dim, generator=None):""",
         new="""def sample_prior(n, latent_dim, generator=None, dtype=torch.float32):
    return torch.stack([torch.randn(latent_dim, generator=generator, dtype=dtype) for _ in range(n)])


def _solution_sample_prior(n, latent_dim, generator=None):"""),

    # -- Exercise 3: sample_vae
    dict(name="sample_vae: noise drawn before z",
         cell="sample_vae",
         old=_SAMPLE_VAE_BODY,
         new="""data_dim = decoder(torch.zeros(1, decoder.latent_dim))[0].shape[1]  # the decoder is deterministic
    eps = torch.randn(n, data_dim, generator=generator)
    z = sample_prior(n, decoder.latent_dim, generator=generator)
    mu, sigma = decoder(z)
    return mu + sigma * eps, z"""),
    dict(name="sample_vae: z and noise from one randn call, split in two",
         cell="sample_vae",
         old=_SAMPLE_VAE_BODY,
         new="""m = decoder.latent_dim
    d = decoder(torch.zeros(1, m))[0].shape[-1]
    u = torch.randn(n, m + d, generator=generator)
    z, eps = u[:, :m], u[:, m:]
    mu, sigma = decoder(z)
    return mu + sigma * eps, z"""),
    dict(name="sample_vae: x = torch.normal(mu, sigma, generator=...)",
         cell="sample_vae",
         old="""eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
    return mu + sigma * eps, z""",
         new="""return torch.normal(mu, sigma, generator=generator), z"""),
    dict(name="sample_vae: noise from empty_like(mu).normal_(generator=...), no_grad, extra keyword",
         cell="sample_vae",
         old="""def sample_vae(decoder, n, generator=None):""",
         new="""def sample_vae(decoder, n, generator=None, return_z=True):
    with torch.no_grad():
        z = sample_prior(n, decoder.latent_dim, generator=generator)
        mu, sigma = decoder(z)
        x = mu + sigma * torch.empty_like(mu).normal_(generator=generator)
    return (x, z) if return_z else x


def _solution_sample_vae(decoder, n, generator=None):"""),

    # -- Exercise 4: gaussian_log_likelihood
    dict(name="log-likelihood: torch.distributions.Normal(...).log_prob(x).sum(-1)",
         cell="gaussian_log_likelihood",
         old="return (-0.5 * ((x - mu) / sigma) ** 2 - torch.log(sigma) - 0.5 * math.log(2 * math.pi)).sum(dim=-1)",
         new="""from torch.distributions import Normal

    return Normal(mu, sigma).log_prob(x).sum(-1)"""),
    dict(name="log-likelihood: through the variance, 0.5 * log(2 pi sigma^2)",
         cell="gaussian_log_likelihood",
         old="return (-0.5 * ((x - mu) / sigma) ** 2 - torch.log(sigma) - 0.5 * math.log(2 * math.pi)).sum(dim=-1)",
         new="""var = sigma**2
    return -0.5 * (torch.log(2 * math.pi * var) + (x - mu) ** 2 / var).sum(-1)"""),
    dict(name="log-likelihood: broadcast first, constant outside the sum",
         cell="gaussian_log_likelihood",
         old="return (-0.5 * ((x - mu) / sigma) ** 2 - torch.log(sigma) - 0.5 * math.log(2 * math.pi)).sum(dim=-1)",
         new="""x, mu, sigma = torch.broadcast_tensors(x, mu, sigma)
    d = x.shape[-1]
    maha = (((x - mu) / sigma) ** 2).sum(-1)
    return -0.5 * maha - torch.log(sigma).sum(-1) - 0.5 * d * math.log(2 * math.pi)"""),

    # -- Exercise 5: estimate_log_px
    dict(name="estimate: z drawn in chunks, running logaddexp, extra chunk_size keyword",
         cell="estimate_log_px",
         old="""def estimate_log_px(decoder, x, n_samples, generator=None):""",
         new="""def estimate_log_px(decoder, x, n_samples, generator=None, chunk_size=500):
    total = torch.full((x.shape[0],), -math.inf)
    for start in range(0, n_samples, chunk_size):
        z = sample_prior(min(chunk_size, n_samples - start), decoder.latent_dim, generator=generator)
        mu, sigma = decoder(z)
        chunk = gaussian_log_likelihood(x[:, None, :], mu[None], sigma[None])  # (n, k)
        total = torch.logaddexp(total, torch.logsumexp(chunk, dim=1))
    return total - math.log(n_samples)


def _solution_estimate_log_px(decoder, x, n_samples, generator=None):"""),
    dict(name="estimate: manual max-shift instead of torch.logsumexp",
         cell="estimate_log_px",
         old="return torch.logsumexp(log_pxz, dim=1) - math.log(n_samples)",
         new="""a_max = log_pxz.max(dim=1, keepdim=True).values  # (n, 1)
    return a_max[:, 0] + torch.log(torch.exp(log_pxz - a_max).mean(dim=1))"""),
    dict(name="estimate: its own K prior samples for every point",
         cell="estimate_log_px",
         old=_ESTIMATE_BODY,
         new="""n = x.shape[0]
    z = sample_prior(n * n_samples, decoder.latent_dim, generator=generator)
    mu, sigma = decoder(z)  # (n K, d) each
    log_pxz = gaussian_log_likelihood(x[:, None, :], mu.reshape(n, n_samples, -1), sigma.reshape(n, n_samples, -1))
    return torch.logsumexp(log_pxz, dim=1) - math.log(n_samples)"""),

    dict(name="estimate: computed and returned in float64 (the values decide, not the dtype)",
         cell="estimate_log_px",
         old="return torch.logsumexp(log_pxz, dim=1) - math.log(n_samples)",
         new="return torch.logsumexp(log_pxz.double(), dim=1) - math.log(n_samples)"),
    dict(name="log-likelihood: computed and returned in float64",
         cell="gaussian_log_likelihood",
         old="def gaussian_log_likelihood(x, mu, sigma):",
         new="""def gaussian_log_likelihood(x, mu, sigma):
    return _log_likelihood_in_any_dtype(x.double(), mu.double(), sigma.double())


def _log_likelihood_in_any_dtype(x, mu, sigma):"""),

    # -- Exercise 6: linear_decoder_log_px
    dict(name="linear decoder: torch.distributions.MultivariateNormal",
         cell="linear_decoder_log_px",
         old=_LINEAR_BODY,
         new="""from torch.distributions import MultivariateNormal

    return MultivariateNormal(c, covariance_matrix=W @ W.T + torch.diag(s**2)).log_prob(x)"""),
    dict(name="linear decoder: slogdet and solve",
         cell="linear_decoder_log_px",
         old=_LINEAR_BODY,
         new="""cov = W @ W.T + torch.diag(s**2)
    r = x - c  # (n, d)
    _, logdet = torch.linalg.slogdet(cov)
    maha = (r * torch.linalg.solve(cov, r.T).T).sum(-1)
    return -0.5 * (maha + logdet + x.shape[-1] * math.log(2 * math.pi))"""),
    dict(name="linear decoder: Woodbury identity and determinant lemma (m x m)",
         cell="linear_decoder_log_px",
         old=_LINEAR_BODY,
         new="""d, m = W.shape
    r = (x - c) / s  # (n, d): whitened by the noise
    V = W / s[:, None]  # (d, m): D^-1/2 W
    L = torch.linalg.cholesky(torch.eye(m, dtype=W.dtype) + V.T @ V)  # I + W^T D^-1 W = L L^T
    u = torch.linalg.solve_triangular(L, V.T @ r.T, upper=False)  # (m, n)
    maha = (r**2).sum(-1) - (u**2).sum(0)  # Woodbury: r^T (I + V V^T)^-1 r
    logdet = 2 * torch.log(s).sum() + 2 * torch.log(torch.diagonal(L)).sum()  # determinant lemma
    return -0.5 * (maha + logdet + d * math.log(2 * math.pi))"""),
    dict(name="linear decoder: eigendecomposition of the covariance",
         cell="linear_decoder_log_px",
         old=_LINEAR_BODY,
         new="""evals, evecs = torch.linalg.eigh(W @ W.T + torch.diag(s**2))
    proj = (x - c) @ evecs  # (n, d): coordinates in the eigenbasis
    return -0.5 * ((proj**2 / evals).sum(-1) + torch.log(evals).sum() + x.shape[-1] * math.log(2 * math.pi))"""),

    # -- Self-check
    dict(name="self-check: q1 as an expression, q2 in upper case",
         cell="selfcheck_answers",
         old="""q1 = 0.8
q2 = "b\"""",
         new="""q1 = 2 / (math.sqrt(5) * math.sqrt(1.25))  # cov 2 / (sd 5**0.5 * sd 1.25**0.5)
q2 = " B\""""),
]
