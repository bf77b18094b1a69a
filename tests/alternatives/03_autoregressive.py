"""Correct answers of 03_autoregressive written another way (see tests/test_mutations.py).

Each must pass every test cell. A few replace text across the two solution regions of a class
(``__init__`` and ``forward``), as a student who rewrites the whole class does.
"""

# The solution's body of AutoregressiveModel.sample, replaced by several alternatives.
_SAMPLE_BODY = """        x = torch.zeros(n_samples, self.n_vars)
        with torch.no_grad():
            for i in range(self.n_vars):
                p_i = torch.sigmoid(self.forward(x)[:, i])  # p(x_i = 1 | the x_<i drawn so far)
                x[:, i] = torch.bernoulli(p_i, generator=generator)
        return x"""

_LOG_PROB_RETURN = 'return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=1)'

# FVSBN: the whole of both solution regions (parameters, then forward).
_FVSBN_BODY = """        self.W = nn.Parameter(torch.zeros(n_vars, n_vars))
        self.b = nn.Parameter(torch.zeros(n_vars))
        self.register_buffer("mask", torch.tril(torch.ones(n_vars, n_vars), diagonal=-1))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return x @ (self.W * self.mask).T + self.b"""

_NADE_FORWARD = """        terms = x.unsqueeze(2) * self.W.T  # (n_examples, n, H): x_j W[:, j]
        before = torch.cumsum(terms[:, :-1], dim=1)  # sum over j <= i - 1, for i = 1 .. n - 1
        a = self.c + torch.cat([torch.zeros_like(terms[:, :1]), before], dim=1)  # a_0 = c
        h = torch.sigmoid(a)
        return (h * self.V).sum(dim=2) + self.b"""

_MADE_MASKS_BODY = """    g = torch.Generator().manual_seed(seed)
    degrees = [torch.arange(1, n_vars + 1)]  # input j has degree j + 1
    for width in hidden_dims:
        low = min(int(degrees[-1].min()), n_vars - 1)
        degrees.append(torch.randint(low, n_vars, (width,), generator=g))  # in {low, ..., n - 1}
    masks = [(d_out[:, None] >= d_in[None, :]).float() for d_in, d_out in zip(degrees[:-1], degrees[1:])]
    d_final = torch.arange(1, n_vars + 1)  # output i has degree i + 1
    masks.append((d_final[:, None] > degrees[-1][None, :]).float())
    return masks"""

_MADE_BODY = """        layers = []
        for mask in made_masks(n_vars, hidden_dims, seed=seed):
            out_features, in_features = mask.shape
            layers += [MaskedLinear(in_features, out_features, mask), nn.ReLU()]
        self.net = nn.Sequential(*layers[:-1])  # no ReLU on the logits
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.net(x)"""

_BIGRAM_BODY = """    contexts, targets, _ = make_contexts(names, 1)
    counts = torch.full((len(VOCAB), len(VOCAB)), float(alpha))
    counts.index_put_((contexts[:, 0], targets), torch.ones(len(targets)), accumulate=True)
    return torch.log(counts / counts.sum(dim=1, keepdim=True))"""

_CHAR_MLP_BODY = """        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.hidden = nn.Linear(context_size * embed_dim, hidden_dim)
        self.out = nn.Linear(hidden_dim, vocab_size)
        ### END SOLUTION

    def forward(self, contexts):
        ### BEGIN SOLUTION
        e = self.embed(contexts).flatten(start_dim=1)  # (m, k * E), oldest token first
        return self.out(torch.tanh(self.hidden(e)))"""

_SEQ_BODY = """    contexts, targets, name_index = make_contexts(names, model.context_size)
    log_p = torch.log_softmax(model(contexts), dim=1).gather(1, targets[:, None])[:, 0]
    return torch.zeros(len(names), dtype=log_p.dtype).index_add(0, name_index, log_p)"""

_SAMPLE_NAMES_BODY = """    context = torch.zeros(n_samples, model.context_size, dtype=torch.long)
    tokens = torch.zeros(n_samples, max_length, dtype=torch.long)
    alive = torch.ones(n_samples, dtype=torch.bool)
    with torch.no_grad():
        for t in range(max_length):
            probs = torch.softmax(model(context), dim=1)
            nxt = torch.multinomial(probs, 1, generator=generator)[:, 0]
            nxt = torch.where(alive, nxt, torch.zeros_like(nxt))
            tokens[:, t] = nxt
            alive &= nxt != 0
            context = torch.cat([context[:, 1:], nxt[:, None]], dim=1)
    return ["".join(VOCAB[i] for i in row).split(".")[0] for row in tokens.tolist()]"""

_SAMPLE_NAMES_DOC = '''    """Draw names from a next-token model, one character at a time.

    Args:
        model: module with attribute context_size and forward(long (m, context_size)) -> logits (m, 27).
        n_samples: int >= 1: number of names.
        generator: torch.Generator or None: source of all random draws.
        max_length: int >= 1: a name is cut after this many letters.

    Returns:
        list of n_samples str (letters only, without the end token; possibly empty).
    """
    ### BEGIN SOLUTION
'''

ALTERNATIVES = [
    # --- counting parameters ---
    dict(name="table count with math.prod",
         cell="tabular_num_params",
         old="return int(n_states) ** int(n_vars) - 1",
         new="import math\n    return math.prod([int(n_states)] * int(n_vars)) - 1"),
    dict(name="table count as the chain rule's geometric series",
         cell="tabular_num_params",
         old="return int(n_states) ** int(n_vars) - 1",
         new="k = int(n_states)\n    return (k - 1) * sum(k ** i for i in range(int(n_vars)))  # (k - 1)(1 + k + ...)"),
    dict(name="Bayes net count as a NumPy integer",
         cell="bayes_net_num_params",
         old="return sum((k - 1) * k ** len(pa) for pa in parents)",
         new="sizes = np.array([len(pa) for pa in parents], dtype=np.int64)\n"
             "    return np.sum((k - 1) * k ** sizes)"),
    dict(name="Bayes net count with math.prod, (k - 1) factored out",
         cell="bayes_net_num_params",
         old="return sum((k - 1) * k ** len(pa) for pa in parents)",
         new="import math\n    return sum(math.prod(k for _ in pa) for pa in parents) * (k - 1)"),
    dict(name="FVSBN count with math.comb",
         cell="fvsbn_nade_num_params",
         old="return n_vars * (n_vars + 1) // 2",
         new="import math\n    return math.comb(n_vars + 1, 2)"),
    dict(name="FVSBN count as a NumPy integer",
         cell="fvsbn_nade_num_params",
         old="return n_vars * (n_vars + 1) // 2",
         new="return (np.int64(n_vars) ** 2 + n_vars) // 2"),
    dict(name="NADE count factored",
         cell="fvsbn_nade_num_params",
         old="return hidden_dim * (n_vars - 1) + hidden_dim + n_vars * hidden_dim + n_vars",
         new="return n_vars * (2 * hidden_dim + 1)"),
    # --- log_prob and sample of the base class ---
    dict(name="log_prob with F.logsigmoid",
         cell="AutoregressiveModel",
         old=_LOG_PROB_RETURN,
         new="return (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum(dim=1)"),
    dict(name="log_prob with -F.softplus",
         cell="AutoregressiveModel",
         old=_LOG_PROB_RETURN,
         new="return -(x * F.softplus(-logits) + (1 - x) * F.softplus(logits)).sum(dim=1)"),
    dict(name="log_prob as x * l - softplus(l), calling self(x)",
         cell="AutoregressiveModel",
         old="""        logits = self.forward(x)
        """ + _LOG_PROB_RETURN,
         new="""        logits = self(x)
        return torch.sum(x * logits - F.softplus(logits), dim=-1)"""),
    dict(name="log_prob selecting log sigmoid(+-l) with torch.where",
         cell="AutoregressiveModel",
         old=_LOG_PROB_RETURN,
         new="""per_var = torch.where(x > 0.5, F.logsigmoid(logits), F.logsigmoid(-logits))
        return per_var.sum(dim=1)"""),
    dict(name="sample by comparing torch.rand < p",
         cell="AutoregressiveModel",
         old="x[:, i] = torch.bernoulli(p_i, generator=generator)",
         new="x[:, i] = (torch.rand(n_samples, generator=generator) < p_i).float()"),
    dict(name="sample with every uniform drawn up front (another order of random calls)",
         cell="AutoregressiveModel",
         old=_SAMPLE_BODY,
         new="""        u = torch.rand(self.n_vars, n_samples, generator=generator)  # row i: the uniforms of x_i
        x = torch.zeros(n_samples, self.n_vars)
        with torch.no_grad():
            for i in range(self.n_vars):
                logit_i = self(x)[:, i]
                x[:, i] = (u[i] < torch.sigmoid(logit_i)).to(x.dtype)
        return x"""),
    dict(name="sample with torch.multinomial over {0, 1}",
         cell="AutoregressiveModel",
         old="""                p_i = torch.sigmoid(self.forward(x)[:, i])  # p(x_i = 1 | the x_<i drawn so far)
                x[:, i] = torch.bernoulli(p_i, generator=generator)""",
         new="""                logit_i = self.forward(x)[:, i]
                probs = torch.stack([torch.sigmoid(-logit_i), torch.sigmoid(logit_i)], dim=1)  # p(0), p(1)
                x[:, i] = torch.multinomial(probs, 1, generator=generator)[:, 0].float()"""),
    dict(name="sample without in-place writes (torch.cat of the columns)",
         cell="AutoregressiveModel",
         old=_SAMPLE_BODY,
         new="""        x = torch.zeros(n_samples, self.n_vars)
        with torch.no_grad():
            for i in range(self.n_vars):
                p_i = torch.sigmoid(self(x)[:, i:i + 1])
                x = torch.cat([x[:, :i], torch.bernoulli(p_i, generator=generator), x[:, i + 1:]], dim=1)
        return x"""),
    dict(name="sample drawing a whole row of Bernoullis per step, keeping column i",
         cell="AutoregressiveModel",
         old="""                p_i = torch.sigmoid(self.forward(x)[:, i])  # p(x_i = 1 | the x_<i drawn so far)
                x[:, i] = torch.bernoulli(p_i, generator=generator)""",
         new="""                draws = torch.bernoulli(torch.sigmoid(self(x)), generator=generator)  # (m, n)
                x[:, i] = draws[:, i]  # only x_i is drawn from its conditional given the x_<i drawn so far"""),
    # --- FVSBN ---
    dict(name="FVSBN as a masked nn.Linear, mask built by comparisons",
         cell="FVSBN",
         old=_FVSBN_BODY,
         new="""        self.linear = nn.Linear(n_vars, n_vars)
        rows, cols = torch.arange(n_vars)[:, None], torch.arange(n_vars)[None, :]
        self.register_buffer("mask", (cols < rows).float())  # [i, j] = 1 when j < i
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return F.linear(x, self.linear.weight * self.mask, self.linear.bias)"""),
    dict(name="FVSBN storing only the n(n-1)/2 used weights (torch.tril_indices)",
         cell="FVSBN",
         old=_FVSBN_BODY,
         new="""        rows, cols = torch.tril_indices(n_vars, n_vars, offset=-1)  # the pairs (i, j) with j < i
        self.register_buffer("rows", rows)
        self.register_buffer("cols", cols)
        self.weights = nn.Parameter(0.01 * torch.randn(len(rows)))
        self.bias = nn.Parameter(torch.zeros(n_vars))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        W = torch.zeros(self.n_vars, self.n_vars, dtype=x.dtype).index_put((self.rows, self.cols), self.weights)
        return x @ W.T + self.bias"""),
    dict(name="FVSBN with torch.tril in forward (no mask buffer), small random init",
         cell="FVSBN",
         old=_FVSBN_BODY,
         new="""        self.W = nn.Parameter(0.01 * torch.randn(n_vars, n_vars))
        self.b = nn.Parameter(torch.zeros(n_vars))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return F.linear(x, torch.tril(self.W, diagonal=-1), self.b)"""),
    dict(name="FVSBN overrides log_prob with torch.distributions.Bernoulli",
         cell="FVSBN",
         old="        return x @ (self.W * self.mask).T + self.b\n",
         new="""        return x @ (self.W * self.mask).T + self.b

    def log_prob(self, x):
        return torch.distributions.Bernoulli(logits=self(x)).log_prob(x).sum(dim=-1)
"""),
    # --- NADE ---
    dict(name="NADE exclusive cumulative sum as cumsum minus the own term, einsum output",
         cell="NADE",
         old=_NADE_FORWARD,
         new="""        terms = x[:, :, None] * self.W.T[None, :, :]  # (m, n, H)
        a = self.c + torch.cumsum(terms, dim=1) - terms  # exclusive: drop x_i's own term
        return torch.einsum("mih,ih->mi", torch.sigmoid(a), self.V) + self.b"""),
    dict(name="NADE cumulative sum of inputs shifted by one (F.pad)",
         cell="NADE",
         old=_NADE_FORWARD,
         new="""        x_before = F.pad(x[:, :-1], (1, 0))  # column i holds x_(i-1), 0 for i = 0
        W_before = F.pad(self.W[:, :-1], (1, 0))  # column i holds W[:, i - 1]
        a = self.c + torch.cumsum(x_before[:, :, None] * W_before.T, dim=1)  # c + sum_{j<i} W[:, j] x_j
        h = torch.sigmoid(a)
        return torch.einsum("mih,ih->mi", h, self.V) + self.b"""),
    dict(name="NADE parameters declared in another order, initialized with nn.init",
         cell="NADE",
         old="""        self.W = nn.Parameter(0.1 * torch.randn(hidden_dim, n_vars))
        self.c = nn.Parameter(torch.zeros(hidden_dim))
        self.V = nn.Parameter(0.1 * torch.randn(n_vars, hidden_dim))
        self.b = nn.Parameter(torch.zeros(n_vars))""",
         new="""        self.b = nn.Parameter(torch.zeros(n_vars))
        self.V = nn.Parameter(nn.init.normal_(torch.empty(n_vars, hidden_dim), std=0.01))
        self.c = nn.Parameter(torch.zeros(hidden_dim))
        self.W = nn.Parameter(nn.init.normal_(torch.empty(hidden_dim, n_vars), std=0.01))"""),
    dict(name="NADE overrides sample with the O(nH) recursion a_(i+1) = a_i + W[:, i] x_i",
         cell="NADE",
         old="        return (h * self.V).sum(dim=2) + self.b\n",
         new="""        return (h * self.V).sum(dim=2) + self.b

    def sample(self, n_samples, generator=None):
        x = torch.zeros(n_samples, self.n_vars)
        with torch.no_grad():
            a = self.c.expand(n_samples, -1).clone()  # a_0 = c
            for i in range(self.n_vars):
                p_i = torch.sigmoid(self.b[i] + torch.sigmoid(a) @ self.V[i])
                x[:, i] = (torch.rand(n_samples, generator=generator) < p_i).float()
                a += x[:, i:i + 1] * self.W[:, i]
        return x
"""),
    dict(name="NADE with W and c as an nn.Linear(n, H)",
         cell="NADE",
         old="""        self.W = nn.Parameter(0.1 * torch.randn(hidden_dim, n_vars))
        self.c = nn.Parameter(torch.zeros(hidden_dim))
        self.V = nn.Parameter(0.1 * torch.randn(n_vars, hidden_dim))
        self.b = nn.Parameter(torch.zeros(n_vars))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
""" + _NADE_FORWARD,
         new="""        self.first = nn.Linear(n_vars, hidden_dim)  # weight: W (H, n), bias: c (H,)
        self.V = nn.Parameter(0.1 * torch.randn(n_vars, hidden_dim))
        self.b = nn.Parameter(torch.zeros(n_vars))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        terms = x.unsqueeze(2) * self.first.weight.T  # (m, n, H)
        a = self.first.bias + F.pad(torch.cumsum(terms, dim=1)[:, :-1], (0, 0, 1, 0))  # exclusive cumsum
        return (torch.sigmoid(a) * self.V).sum(dim=-1) + self.b"""),
    # --- MADE's masks ---
    dict(name="made_masks with Python loops, degrees drawn one unit at a time",
         cell="made_masks",
         old=_MADE_MASKS_BODY,
         new="""    g = torch.Generator()
    g.manual_seed(seed)
    degrees = [list(range(1, n_vars + 1))]
    for width in hidden_dims:
        low = min(degrees[-1])
        degrees.append([int(torch.randint(low, n_vars, (1,), generator=g)) for _ in range(width)])
    degrees.append(list(range(1, n_vars + 1)))  # the outputs
    masks = []
    for k in range(len(degrees) - 1):
        last = k == len(degrees) - 2
        rows = []
        for m_out in degrees[k + 1]:
            rows.append([1.0 if (m_out > m_in if last else m_out >= m_in) else 0.0 for m_in in degrees[k]])
        masks.append(torch.tensor(rows, dtype=torch.float32))
    return masks"""),
    dict(name="made_masks with degrees from torch.rand, output mask as i >= m (0-based)",
         cell="made_masks",
         old=_MADE_MASKS_BODY,
         new="""    g = torch.Generator().manual_seed(seed)
    degrees = [torch.arange(n_vars) + 1]
    for width in hidden_dims:
        low = int(degrees[-1].min())
        u = torch.rand(width, generator=g)
        degrees.append(low + (u * (n_vars - low)).long())  # uniform on {low, ..., n - 1}
    masks = [(d_in[None, :] <= d_out[:, None]).float() for d_in, d_out in zip(degrees, degrees[1:])]
    masks.append((degrees[-1][None, :] <= torch.arange(n_vars)[:, None]).float())  # i + 1 > m
    return masks"""),
    dict(name="made_masks with degrees from torch.multinomial and torch.ge / torch.gt",
         cell="made_masks",
         old=_MADE_MASKS_BODY,
         new="""    g = torch.Generator().manual_seed(seed)
    d_prev = torch.arange(1, n_vars + 1)
    masks = []
    for width in hidden_dims:
        low = int(d_prev.min())
        d = low + torch.multinomial(torch.ones(n_vars - low), width, replacement=True, generator=g)
        masks.append(torch.ge(d.unsqueeze(1), d_prev.unsqueeze(0)).to(torch.float32))
        d_prev = d
    masks.append(torch.gt(torch.arange(1, n_vars + 1).unsqueeze(1), d_prev.unsqueeze(0)).to(torch.float32))
    return masks"""),
    # --- MADE ---
    dict(name="MADE with an nn.ModuleList and F.relu in forward",
         cell="MADE",
         old=_MADE_BODY,
         new="""        masks = made_masks(n_vars, hidden_dims, seed=seed)
        sizes = [n_vars] + list(hidden_dims) + [n_vars]
        self.layers = nn.ModuleList(MaskedLinear(sizes[k], sizes[k + 1], masks[k]) for k in range(len(masks)))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        h = x
        for layer in self.layers[:-1]:
            h = F.relu(layer(h))
        return self.layers[-1](h)"""),
    dict(name="MADE overrides log_prob (-softplus) and sample (torch.rand < p)",
         cell="MADE",
         old="        return self.net(x)\n",
         new="""        return self.net(x)

    def log_prob(self, x):
        logits = self(x)
        return -(x * F.softplus(-logits) + (1 - x) * F.softplus(logits)).sum(dim=1)

    def sample(self, n_samples, generator=None):
        x = torch.zeros(n_samples, self.n_vars)
        with torch.no_grad():
            for i in range(self.n_vars):
                u = torch.rand(n_samples, generator=generator)
                x[:, i] = (u < torch.sigmoid(self(x)[:, i])).float()
        return x
"""),
    # --- next-token models ---
    dict(name="bigram counted with Python loops in NumPy (float64, then float32)",
         cell="bigram_log_probs",
         old=_BIGRAM_BODY,
         new="""    counts = np.full((len(VOCAB), len(VOCAB)), float(alpha))
    for name in names:
        seq = "." + name + "."
        for a, b in zip(seq[:-1], seq[1:]):
            counts[STOI[a], STOI[b]] += 1
    return torch.from_numpy(np.log(counts / counts.sum(axis=1, keepdims=True))).float()"""),
    dict(name="bigram counted with torch.bincount, normalized by log_softmax",
         cell="bigram_log_probs",
         old=_BIGRAM_BODY,
         new="""    contexts, targets, _ = make_contexts(names, 1)
    pairs = torch.bincount(contexts[:, 0] * len(VOCAB) + targets, minlength=len(VOCAB) ** 2)
    counts = pairs.reshape(len(VOCAB), len(VOCAB)).float() + alpha
    return torch.log_softmax(torch.log(counts), dim=1)"""),
    dict(name="CharMLP as nn.Sequential with nn.Flatten, extra keyword argument activation",
         cell="CharMLP",
         old="""    def __init__(self, vocab_size, context_size, embed_dim=16, hidden_dim=128):
        super().__init__()
        self.context_size = context_size
        ### BEGIN SOLUTION
""" + _CHAR_MLP_BODY,
         new="""    def __init__(self, vocab_size, context_size, embed_dim=16, hidden_dim=128, activation=nn.Tanh):
        super().__init__()
        self.context_size = context_size
        ### BEGIN SOLUTION
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(context_size * embed_dim, hidden_dim), activation(),
                                 nn.Linear(hidden_dim, vocab_size))
        ### END SOLUTION

    def forward(self, contexts):
        ### BEGIN SOLUTION
        return self.mlp(self.embed(contexts))"""),
    dict(name="CharMLP with raw parameters (embedding table indexed, reshape, matmuls)",
         cell="CharMLP",
         old=_CHAR_MLP_BODY,
         new="""        self.embedding = nn.Parameter(torch.randn(vocab_size, embed_dim))
        self.W1 = nn.Parameter(torch.randn(context_size * embed_dim, hidden_dim) / (context_size * embed_dim) ** 0.5)
        self.b1 = nn.Parameter(torch.zeros(hidden_dim))
        self.W2 = nn.Parameter(torch.randn(hidden_dim, vocab_size) / hidden_dim ** 0.5)
        self.b2 = nn.Parameter(torch.zeros(vocab_size))
        ### END SOLUTION

    def forward(self, contexts):
        ### BEGIN SOLUTION
        e = self.embedding[contexts].reshape(contexts.shape[0], -1)
        return torch.tanh(e @ self.W1 + self.b1) @ self.W2 + self.b2"""),
    dict(name="sequence_log_prob with -F.cross_entropy and scatter_add",
         cell="sequence_log_prob",
         old=_SEQ_BODY,
         new="""    contexts, targets, name_index = make_contexts(names, model.context_size)
    log_p = -F.cross_entropy(model(contexts), targets, reduction="none")
    return torch.zeros(len(names)).scatter_add(0, name_index, log_p)"""),
    dict(name="sequence_log_prob with fancy indexing and a one-hot matrix product",
         cell="sequence_log_prob",
         old=_SEQ_BODY,
         new="""    contexts, targets, name_index = make_contexts(names, model.context_size)
    log_probs = F.log_softmax(model.forward(contexts), dim=-1)
    token_log_p = log_probs[torch.arange(len(targets)), targets]
    membership = F.one_hot(name_index, num_classes=len(names)).T.to(token_log_p.dtype)  # (names, tokens)
    return membership @ token_log_p"""),
    dict(name="sequence_log_prob with an in-place index_add_",
         cell="sequence_log_prob",
         old="return torch.zeros(len(names), dtype=log_p.dtype).index_add(0, name_index, log_p)",
         new="""total = torch.zeros(len(names))
    total.index_add_(0, name_index, log_p)
    return total"""),
    dict(name="sequence_log_prob with torch.distributions.Categorical",
         cell="sequence_log_prob",
         old="log_p = torch.log_softmax(model(contexts), dim=1).gather(1, targets[:, None])[:, 0]",
         new="log_p = torch.distributions.Categorical(logits=model(contexts)).log_prob(targets)"),
    dict(name="sample_names without an alive mask: every name cut at its first end token",
         cell="sample_names",
         old=_SAMPLE_NAMES_BODY,
         new="""    context = torch.zeros(n_samples, model.context_size, dtype=torch.long)
    drawn = []
    with torch.no_grad():
        for _ in range(max_length):
            probs = F.softmax(model(context), dim=-1)
            nxt = torch.multinomial(probs, num_samples=1, generator=generator)  # (n_samples, 1)
            drawn.append(nxt)
            context = torch.cat([context[:, 1:], nxt], dim=1)
    letters = torch.cat(drawn, dim=1).tolist()  # the tokens after a name's end are never used
    return ["".join(VOCAB[i] for i in row).split(".", 1)[0] for row in letters]"""),
    dict(name="sample_names with the Gumbel-max trick on torch.rand",
         cell="sample_names",
         old="""            probs = torch.softmax(model(context), dim=1)
            nxt = torch.multinomial(probs, 1, generator=generator)[:, 0]""",
         new="""            log_probs = torch.log_softmax(model(context), dim=1)
            u = torch.rand(log_probs.shape, generator=generator)
            nxt = (log_probs - torch.log(-torch.log(u))).argmax(dim=1)  # Gumbel-max: a categorical draw"""),
    dict(name="sample_names by inverse CDF, stopping once every name has ended",
         cell="sample_names",
         old=_SAMPLE_NAMES_BODY,
         new="""    context = torch.zeros(n_samples, model.context_size, dtype=torch.long)
    tokens = torch.zeros(n_samples, max_length, dtype=torch.long)
    ended = torch.zeros(n_samples, dtype=torch.bool)
    with torch.no_grad():
        for t in range(max_length):
            if bool(ended.all()):
                break
            cdf = torch.softmax(model(context), dim=1).cumsum(dim=1)
            u = torch.rand(n_samples, 1, generator=generator)
            nxt = (cdf < u).sum(dim=1).clamp(max=len(VOCAB) - 1)  # inverse CDF: a categorical draw
            nxt[ended] = 0
            tokens[:, t] = nxt
            ended |= nxt == 0
            context = torch.cat([context[:, 1:], nxt[:, None]], dim=1)
    return ["".join(VOCAB[i] for i in row).partition(".")[0] for row in tokens.tolist()]"""),
    dict(name="sample_names draws only for the unfinished names, extra keyword argument temperature",
         cell="sample_names",
         old=("def sample_names(model, n_samples, generator=None, max_length=12):\n"
              + _SAMPLE_NAMES_DOC + _SAMPLE_NAMES_BODY),
         new="""def sample_names(model, n_samples, generator=None, max_length=12, temperature=1.0):
""" + _SAMPLE_NAMES_DOC + """    context = torch.zeros(n_samples, model.context_size, dtype=torch.long)
    tokens = torch.zeros(n_samples, max_length, dtype=torch.long)
    alive = torch.arange(n_samples)  # the rows whose name has not ended
    with torch.no_grad():
        for t in range(max_length):
            if len(alive) == 0:
                break
            probs = torch.softmax(model(context[alive]) / temperature, dim=1)
            nxt = torch.multinomial(probs, 1, generator=generator)[:, 0]
            tokens[alive, t] = nxt
            context[alive] = torch.cat([context[alive, 1:], nxt[:, None]], dim=1)
            alive = alive[nxt != 0]
    return ["".join(VOCAB[i] for i in row).split(".")[0] for row in tokens.tolist()]"""),
]
