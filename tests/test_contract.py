"""The syllabus contract: each notebook's answer cells define the names the syllabus lists."""
from __future__ import annotations

import ast

import pytest

from conftest import COURSE, SOLUTIONS, assignment_names
from dgm_course.notebooks import is_solution_cell, read_notebook

CONTRACT = {
    "01_logistic_regression": {
        "sigmoid": ["z"], "predict_proba": ["X", "w", "b"],
        "negative_log_likelihood": ["X", "y", "w", "b"], "nll_gradient": ["X", "y", "w", "b"],
        "fit_logistic_regression": ["X", "y", "lr", "n_steps"]},
    "02_mlp": {
        "one_hidden_layer_forward": ["x", "A", "b", "alpha", "alpha0"], "MLP": ["in_dim", "hidden_dims", "out_dim"],
        "count_parameters": ["in_dim", "hidden_dims", "out_dim"],
        "train_classifier": ["model", "X", "y", "n_epochs", "lr"]},
    "03_autoregressive": {
        "tabular_num_params": ["n_vars", "n_states"], "bayes_net_num_params": ["parents", "n_states"],
        "fvsbn_num_params": ["n_vars"], "FVSBN": ["n_vars"], "NADE": ["n_vars", "hidden_dim"],
        "MADE": ["n_vars", "hidden_dims", "seed"]},
    "04_continuous_densities": {
        "gaussian_pdf": ["x", "mu", "sigma"], "gaussian_log_pdf": ["x", "mu", "sigma"],
        "uniform_pdf": ["x", "a", "b"], "uniform_log_pdf": ["x", "a", "b"],
        "mvn_log_pdf": ["x", "mu", "cov"], "sample_mvn": ["mu", "cov", "n", "rng"],
        "gaussian_conditional": ["mu", "cov", "x_given"], "chain_rule_log_pdf": ["x", "mu", "cov"]},
    "05_gaussian_mixtures": {
        "sample_mixture": ["n", "weights", "means", "stds", "rng"],
        "mixture_log_pdf": ["x", "weights", "means", "stds"], "posterior": ["x", "weights", "means", "stds"],
        "fit_em": ["x", "n_components", "n_iters", "rng"], "uniform_latent_log_pdf": ["x", "a", "b", "sigma"],
        "monte_carlo_log_pdf": ["x", "sample_z", "log_px_given_z", "n_samples", "rng"]},
    "06_vae_sampler": {
        "GaussianDecoder": ["latent_dim", "data_dim", "hidden_dim"], "sample_prior": ["n", "latent_dim", "generator"],
        "sample_vae": ["decoder", "n", "generator"], "gaussian_log_likelihood": ["x", "mu", "sigma"],
        "estimate_log_px": ["decoder", "x", "n_samples", "generator"]},
}
METHODS = {"FVSBN": ["forward", "log_prob", "sample"], "NADE": ["forward", "log_prob", "sample"],
           "MADE": ["forward", "log_prob", "sample"], "GaussianDecoder": ["forward"], "MLP": ["forward"]}


def answer_definitions(nb) -> dict[str, ast.AST]:
    defs = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and is_solution_cell(cell):
            tree = ast.parse("\n".join(ln for ln in cell.source.splitlines() if not ln.lstrip().startswith("%")))
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    defs[node.name] = node
    return defs


def signature(node) -> list[str]:
    if isinstance(node, ast.ClassDef):
        init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
        assert init is not None, f"class {node.name} has no __init__"
        args = [a.arg for a in init.args.args][1:]
    else:
        args = [a.arg for a in node.args.args]
    return args + [a.arg for a in node.args.kwonlyargs] if not isinstance(node, ast.ClassDef) else args


def test_contract_covers_every_notebook():
    assert sorted(CONTRACT) == sorted(set(CONTRACT) | set(assignment_names()))


@pytest.mark.parametrize("folder", [SOLUTIONS, COURSE], ids=["solutions", "course"])
@pytest.mark.parametrize("assignment", sorted(CONTRACT))
def test_contract_names(assignment, folder):
    path = folder / assignment / f"{assignment}.ipynb"
    if not path.exists():
        pytest.fail(f"{path} is missing: the syllabus lists {assignment}")
    defs = answer_definitions(read_notebook(path))
    for name, args in CONTRACT[assignment].items():
        assert name in defs, f"{assignment}: no answer cell defines {name}"
        got = signature(defs[name])
        assert got[:len(args)] == args, f"{assignment}: {name}{tuple(got)} must start with arguments {args}"
        for method in METHODS.get(name, []):
            assert method in methods(defs[name], defs), f"{assignment}: {name} has no method {method}"


def methods(node, defs) -> set[str]:
    """Method names of a class, including those inherited from classes defined in answer cells."""
    names = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
    for base in node.bases:
        if isinstance(base, ast.Name) and isinstance(defs.get(base.id), ast.ClassDef):
            names |= methods(defs[base.id], defs)
    return names
