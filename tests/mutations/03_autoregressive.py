"""Classic mistakes in 03_autoregressive (see tests/test_mutations.py for the format)."""

MUTATIONS = [
    # --- counting parameters ---
    dict(name="table count forgets the sum-to-one constraint",
         cell="tabular_num_params",
         old="return int(n_states) ** int(n_vars) - 1",
         new="return int(n_states) ** int(n_vars)",
         expect="sum-to-one"),
    dict(name="table count in NumPy integers (overflow)",
         cell="tabular_num_params",
         old="return int(n_states) ** int(n_vars) - 1",
         new="return np.int64(n_states) ** np.int64(n_vars) - 1",
         expect="python int"),
    dict(name="Bayes net count forgets the sum-to-one constraint",
         cell="bayes_net_num_params",
         old="return sum((k - 1) * k ** len(pa) for pa in parents)",
         new="return sum(k * k ** len(pa) for pa in parents)",
         expect="sum-to-one"),
    dict(name="Bayes net count linear in the number of parents",
         cell="bayes_net_num_params",
         old="return sum((k - 1) * k ** len(pa) for pa in parents)",
         new="return sum((k - 1) * (len(pa) + 1) for pa in parents)",
         expect="one per parent configuration"),
    dict(name="FVSBN count forgets the biases",
         cell="fvsbn_nade_num_params",
         old="return n_vars * (n_vars + 1) // 2",
         new="return n_vars * (n_vars - 1) // 2",
         expect="forgot the biases"),
    dict(name="NADE count includes the unused last column of W",
         cell="fvsbn_nade_num_params",
         old="return hidden_dim * (n_vars - 1) + hidden_dim",
         new="return hidden_dim * n_vars + hidden_dim",
         expect="last column of w"),
    dict(name="NADE count without weight tying",
         cell="fvsbn_nade_num_params",
         old="return hidden_dim * (n_vars - 1) + hidden_dim + n_vars * hidden_dim + n_vars",
         new="return sum(hidden_dim * i + hidden_dim for i in range(n_vars)) + n_vars * hidden_dim + n_vars",
         expect="tied"),
    # --- log_prob and sample ---
    dict(name="log_prob: mean instead of sum over the variables",
         cell="AutoregressiveModel",
         old='reduction="none").sum(dim=1)',
         new='reduction="none").mean(dim=1)',
         expect="sum their logs"),
    dict(name="log_prob: BCE on probabilities instead of logits",
         cell="AutoregressiveModel",
         old='return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=1)',
         new='return -F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="none").sum(dim=1)',
         expect="from the logits"),
    dict(name="log_prob: log of sigmoid (underflows)",
         cell="AutoregressiveModel",
         old='return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=1)',
         new='p = torch.sigmoid(logits)\n        return (x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(dim=1)',
         expect="from the logits"),
    dict(name="log_prob: detached from the parameters",
         cell="AutoregressiveModel",
         old="logits = self.forward(x)\n",
         new="logits = self.forward(x).detach()\n",
         expect="not differentiable"),
    dict(name="sample: all variables at once instead of ancestrally",
         cell="AutoregressiveModel",
         old="""            for i in range(self.n_vars):
                p_i = torch.sigmoid(self.forward(x)[:, i])  # p(x_i = 1 | the x_<i drawn so far)
                x[:, i] = torch.bernoulli(p_i, generator=generator)""",
         new="""            x = torch.bernoulli(torch.sigmoid(self.forward(x)), generator=generator)""",
         expect="ancestrally"),
    dict(name="sample: threshold at 1/2 instead of drawing",
         cell="AutoregressiveModel",
         old="x[:, i] = torch.bernoulli(p_i, generator=generator)",
         new="x[:, i] = (p_i > 0.5).float()",
         expect="ancestrally"),
    dict(name="sample: ignores the generator",
         cell="AutoregressiveModel",
         old="x[:, i] = torch.bernoulli(p_i, generator=generator)",
         new="x[:, i] = torch.bernoulli(p_i)",
         expect="generator"),
    # --- the models' masks ---
    dict(name="FVSBN mask keeps the diagonal (conditional i sees x_i)",
         cell="FVSBN",
         old="torch.tril(torch.ones(n_vars, n_vars), diagonal=-1)",
         new="torch.tril(torch.ones(n_vars, n_vars), diagonal=0)",
         expect="mask leak"),
    dict(name="FVSBN mask transposed (conditional i sees the future)",
         cell="FVSBN",
         old="return x @ (self.W * self.mask).T + self.b",
         new="return x @ (self.W * self.mask) + self.b",
         expect="mask leak"),
    dict(name="FVSBN without a mask",
         cell="FVSBN",
         old="return x @ (self.W * self.mask).T + self.b",
         new="return x @ self.W.T + self.b",
         expect="mask leak"),
    dict(name="NADE inclusive cumulative sum (h_i sees x_i)",
         cell="NADE",
         old="a = self.c + torch.cat([torch.zeros_like(terms[:, :1]), before], dim=1)  # a_0 = c",
         new="a = self.c + torch.cumsum(terms, dim=1)",
         expect="mask leak"),
    dict(name="NADE without weight tying",
         cell="NADE",
         old="""self.W = nn.Parameter(0.1 * torch.randn(hidden_dim, n_vars))
        self.c = nn.Parameter(torch.zeros(hidden_dim))
        self.V = nn.Parameter(0.1 * torch.randn(n_vars, hidden_dim))
        self.b = nn.Parameter(torch.zeros(n_vars))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        terms = x.unsqueeze(2) * self.W.T  # (n_examples, n, H): x_j W[:, j]
        before = torch.cumsum(terms[:, :-1], dim=1)  # sum over j <= i - 1, for i = 1 .. n - 1
        a = self.c + torch.cat([torch.zeros_like(terms[:, :1]), before], dim=1)  # a_0 = c""",
         new="""self.W = nn.Parameter(0.1 * torch.randn(n_vars, hidden_dim, n_vars))  # one first layer per conditional
        self.c = nn.Parameter(torch.zeros(hidden_dim))
        self.V = nn.Parameter(0.1 * torch.randn(n_vars, hidden_dim))
        self.b = nn.Parameter(torch.zeros(n_vars))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        mask = torch.tril(torch.ones(self.n_vars, self.n_vars), diagonal=-1)  # [i, j] = 1 when j < i
        a = self.c + torch.einsum("ihj,ij,nj->nih", self.W, mask, x)""",
         expect="tie"),
    dict(name="MADE output mask not strict (output i sees x_i)",
         cell="MADE",
         old="d_final[:, None] > degrees[-1][None, :]",
         new="d_final[:, None] >= degrees[-1][None, :]",
         expect="mask leak"),
    dict(name="MADE input degrees off by one",
         cell="MADE",
         old="degrees = [torch.arange(1, n_vars + 1)]",
         new="degrees = [torch.arange(0, n_vars)]",
         expect="mask leak"),
    dict(name="MADE hidden masks too strict",
         cell="MADE",
         old="d_out[:, None] >= d_in[None, :]",
         new="d_out[:, None] > d_in[None, :]",
         expect="ignores"),
    # --- next-token model ---
    dict(name="bigram normalized over columns",
         cell="bigram_log_probs",
         old="counts.sum(dim=1, keepdim=True)",
         new="counts.sum(dim=0, keepdim=True)",
         expect="normalize each row"),
    dict(name="bigram without smoothing",
         cell="bigram_log_probs",
         old="counts = torch.full((len(VOCAB), len(VOCAB)), float(alpha))",
         new="counts = torch.zeros(len(VOCAB), len(VOCAB))",
         expect="add alpha"),
    dict(name="CharMLP sums the context embeddings (order lost)",
         cell="CharMLP",
         old="""self.hidden = nn.Linear(context_size * embed_dim, hidden_dim)
        self.out = nn.Linear(hidden_dim, vocab_size)
        ### END SOLUTION

    def forward(self, contexts):
        ### BEGIN SOLUTION
        e = self.embed(contexts).flatten(start_dim=1)""",
         new="""self.hidden = nn.Linear(embed_dim, hidden_dim)
        self.out = nn.Linear(hidden_dim, vocab_size)
        ### END SOLUTION

    def forward(self, contexts):
        ### BEGIN SOLUTION
        e = self.embed(contexts).sum(dim=1)""",
         expect="concatenate"),
    dict(name="sequence_log_prob leaves out the end token",
         cell="sequence_log_prob",
         old="log_p = torch.log_softmax(model(contexts), dim=1).gather(1, targets[:, None])[:, 0]",
         new="log_p = torch.log_softmax(model(contexts), dim=1).gather(1, targets[:, None])[:, 0] * (targets != 0)",
         expect="end token"),
    dict(name="sequence_log_prob averages over the tokens",
         cell="sequence_log_prob",
         old="index_add(0, name_index, log_p)",
         new="index_add(0, name_index, log_p) / torch.bincount(name_index, minlength=len(names))",
         expect="sum their logs"),
    dict(name="sample_names takes the argmax instead of sampling",
         cell="sample_names",
         old="nxt = torch.multinomial(probs, 1, generator=generator)[:, 0]",
         new="nxt = probs.argmax(dim=1)",
         expect="multinomial"),
    dict(name="sample_names never updates the context",
         cell="sample_names",
         old="context = torch.cat([context[:, 1:], nxt[:, None]], dim=1)",
         new="pass",
         expect="feed it back"),
]
