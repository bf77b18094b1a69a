"""Correct answers of 02_mlp written another way (see tests/test_mutations.py)."""

# The two solution regions of the MLP cell (__init__'s body and forward's body), replaced together.
_MLP_BODY = """        widths = [in_dim, *hidden_dims]
        layers = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(fan_in, fan_out), activation()]
        layers.append(nn.Linear(widths[-1], out_dim))
        self.net = nn.Sequential(*layers)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.net(x)"""

_TRAIN_LOOP = """    for _ in trange(n_epochs, desc="training", disable=not progress, leave=False):
        perm = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            logits = model(X[idx]).reshape(-1)
            loss = F.binary_cross_entropy_with_logits(logits, y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        losses.append(total / n)"""

ALTERNATIVES = [
    # Exercise 1: one_hidden_layer_forward.
    dict(name="forward with F.linear for both layers, squeezed",
         cell="one_hidden_layer_forward",
         old="""    h = torch.sigmoid(x @ A.T + b)  # (n, H): the learned features
    return torch.sigmoid(h @ alpha + alpha0)""",
         new="""    h = torch.sigmoid(F.linear(x, A, b))
    return torch.sigmoid(F.linear(h, alpha.unsqueeze(0)).squeeze(-1) + alpha0)"""),
    dict(name="forward with einsum and a weighted sum over the hidden units",
         cell="one_hidden_layer_forward",
         old="""    h = torch.sigmoid(x @ A.T + b)  # (n, H): the learned features
    return torch.sigmoid(h @ alpha + alpha0)""",
         new="""    h = torch.sigmoid(torch.einsum("nd,hd->nh", x, A) + b[None, :])
    return torch.sigmoid((h * alpha).sum(dim=1) + torch.as_tensor(alpha0, dtype=h.dtype))"""),
    dict(name="forward with addmm and a column vector, viewed back to (n,)",
         cell="one_hidden_layer_forward",
         old="""    h = torch.sigmoid(x @ A.T + b)  # (n, H): the learned features
    return torch.sigmoid(h @ alpha + alpha0)""",
         new="""    h = torch.addmm(b, x, A.t()).sigmoid()
    return torch.sigmoid(h @ alpha.view(-1, 1) + alpha0).view(-1)"""),
    # Exercise 2: MLP.
    dict(name="MLP with nn.ModuleList, one activation module and an explicit loop in forward",
         cell="MLP",
         old=_MLP_BODY,
         new="""        widths = [in_dim, *hidden_dims, out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.act = activation()
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        for layer in self.layers[:-1]:
            x = self.act(layer(x))
        return self.layers[-1](x)"""),
    dict(name="MLP with a hidden nn.Sequential (empty when no hidden layer) and a named output layer",
         cell="MLP",
         old=_MLP_BODY,
         new="""        blocks, width = [], in_dim
        for h in hidden_dims:
            blocks.append(nn.Sequential(nn.Linear(width, h), activation()))
            width = h
        self.hidden = nn.Sequential(*blocks)
        self.output = nn.Linear(width, out_dim)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.output(self.hidden(x))"""),
    dict(name="MLP registered with add_module, Xavier-initialized weights and zero biases",
         cell="MLP",
         old=_MLP_BODY,
         new="""        widths = [in_dim, *hidden_dims, out_dim]
        self.n_layers = len(widths) - 1
        for i in range(self.n_layers):
            layer = nn.Linear(widths[i], widths[i + 1])
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
            self.add_module(f"linear{i}", layer)
            if i < self.n_layers - 1:
                self.add_module(f"act{i}", activation())
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        for i in range(self.n_layers):
            x = getattr(self, f"linear{i}")(x)
            if i < self.n_layers - 1:
                x = getattr(self, f"act{i}")(x)
        return x"""),
    # Exercise 3: count_parameters.
    dict(name="count_parameters by a loop over the layers",
         cell="count_parameters",
         old="""    widths = [in_dim, *hidden_dims, out_dim]
    return int(sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(widths[:-1], widths[1:])))""",
         new="""    total, fan_in = 0, in_dim
    for fan_out in list(hidden_dims) + [out_dim]:
        total += fan_in * fan_out + fan_out  # weights + biases
        fan_in = fan_out
    return total"""),
    dict(name="count_parameters with NumPy, returning a NumPy integer",
         cell="count_parameters",
         old="""    return int(sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(widths[:-1], widths[1:])))""",
         new="""    widths = np.array(widths, dtype=np.int64)
    return np.sum((widths[:-1] + 1) * widths[1:])"""),
    dict(name="count_parameters as weights plus biases, with itertools.pairwise",
         cell="count_parameters",
         old="""    return int(sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(widths[:-1], widths[1:])))""",
         new="""    from itertools import pairwise
    n_weights = sum(a * b for a, b in pairwise(widths))
    n_biases = sum(widths[1:])
    return n_weights + n_biases"""),
    # Exercise 4: train_classifier.
    dict(name="train_classifier with a DataLoader shuffled by the generator",
         cell="train_classifier",
         old=_TRAIN_LOOP,
         new="""    from torch.utils.data import DataLoader, TensorDataset
    loader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True, generator=generator)
    for _ in trange(n_epochs, desc="training", disable=not progress, leave=False):
        total = 0.0
        for X_batch, y_batch in loader:
            optimizer.zero_grad()
            loss = F.binary_cross_entropy_with_logits(model(X_batch).view(-1), y_batch)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(X_batch)
        losses.append(total / n)"""),
    dict(name="train_classifier with argsort of uniform noise, torch.split and a summed loss per batch",
         cell="train_classifier",
         old=_TRAIN_LOOP,
         new="""    bar = trange(n_epochs, desc="training", disable=not progress, leave=False)
    for _ in bar:
        order = torch.argsort(torch.rand(n, generator=generator))  # a uniformly random permutation
        total = torch.zeros(())
        for idx in torch.split(order, batch_size):
            batch_sum = F.binary_cross_entropy_with_logits(model(X[idx]).flatten(), y[idx], reduction="sum")
            optimizer.zero_grad(set_to_none=True)
            (batch_sum / len(idx)).backward()
            optimizer.step()
            total += batch_sum.detach()
        losses.append(float(total / n))
        bar.set_postfix(loss=f"{losses[-1]:.4f}")"""),
    dict(name="train_classifier with other defaults (100 epochs, lr 0.01, batches of 32)",
         cell="train_classifier",
         old="n_epochs=200, lr=0.05, batch_size=64, generator=None, progress=True):",
         new="n_epochs=100, lr=0.01, batch_size=32, generator=None, progress=True):"),
    dict(name="train_classifier's Adam with its default betas and eps spelled out",
         cell="train_classifier",
         old="optimizer = torch.optim.Adam(model.parameters(), lr=lr)",
         new="optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)"),
    # Exercise 5: train_with_early_stopping.
    dict(name="early stopping by the distance to the best epoch, deepcopy of the state_dict",
         cell="train_with_early_stopping",
         old="""        if val_losses[-1] < best_loss:
            best_loss, waited = val_losses[-1], 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if waited >= patience:
                break""",
         new="""        epoch = len(val_losses)
        if val_losses[-1] < best_loss:
            import copy
            best_loss, best_epoch = val_losses[-1], epoch
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= patience:
            break"""),
    dict(name="early stopping with a DataLoader, eval/train modes, inference_mode and a summed validation loss",
         cell="train_with_early_stopping",
         old="""    for _ in bar:
        perm = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            loss = F.binary_cross_entropy_with_logits(model(X[idx]).reshape(-1), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        train_losses.append(total / n)
        with torch.no_grad():
            val_losses.append(float(F.binary_cross_entropy_with_logits(model(X_val).reshape(-1), y_val)))""",
         new="""    from torch.utils.data import DataLoader, TensorDataset
    loader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True, generator=generator)
    for _ in bar:
        model.train()
        total = 0.0
        for X_batch, y_batch in loader:
            optimizer.zero_grad()
            loss = F.binary_cross_entropy_with_logits(model(X_batch).view(-1), y_batch)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(X_batch)
        train_losses.append(total / n)
        model.eval()
        with torch.inference_mode():
            val_sum = F.binary_cross_entropy_with_logits(model(X_val).view(-1), y_val, reduction="sum")
        val_losses.append(val_sum.item() / len(X_val))"""),
    dict(name="early stopping drawing the batch order as the argsort of uniform noise",
         cell="train_with_early_stopping",
         old="""        perm = torch.randperm(n, generator=generator)""",
         new="""        perm = torch.rand(n, generator=generator).argsort()"""),
    dict(name="early stopping that keeps the best state as clones of the state_dict without detach",
         cell="train_with_early_stopping",
         old="""best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}""",
         new="""best_state = dict((name, tensor.clone()) for name, tensor in model.state_dict().items())"""),
]
