"""`make bench`: the course's speed and model quality, measured side by side on this machine.

Writes bench/results.json and prints a Markdown table. Nothing here is a test: timings vary
with the machine; tests/test_bench.py only checks that this script runs on a tiny setting.

    python bench/run.py                 # the full benchmark (about 10 minutes on 2 cores)
    python bench/run.py --tiny          # smoke run: notebook 01 once, a class of 2
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dgm_course.notebooks import (  # noqa: E402
    assignments, cell_by_id, execute_cells, fill_answers, is_solution_cell, read_notebook)

# Code appended to a solutions notebook after it ran: it measures what the notebook computed
# (or recomputes it beside an independent solver) and prints one line "BENCH {json}".
EXTRAS = {
    "01_logistic_regression": r'''
import json as _json, time as _time
from scipy.special import log_expit as _le
from sklearn.linear_model import LogisticRegression as _LR
def _nll(X, y, w, b):
    s = X @ w + b
    return float(-np.mean(y * _le(s) + (1 - y) * _le(-s)))
_t = _time.perf_counter(); _w, _b = fit_logistic_regression(X2_train, y_train); _t_gd = _time.perf_counter() - _t
_t = _time.perf_counter(); _sk = _LR(C=np.inf, tol=1e-10, max_iter=10_000).fit(X2_train, y_train)
_t_sk = _time.perf_counter() - _t
print("BENCH" + _json.dumps({"gd_nll": _nll(X2_train, y_train, _w, _b),
      "sklearn_nll": _nll(X2_train, y_train, _sk.coef_[0], _sk.intercept_[0]),
      "gd_seconds": _t_gd, "sklearn_seconds": _t_sk}))
''',
    "03_autoregressive": r'''
import json as _json
print("BENCH" + _json.dumps({"digits_test_nll": test_nll,
      "chars_nll": {k: {"train": v[0], "test": v[1]} for k, v in char_nll.items()}}))
''',
    "05_gaussian_mixtures": r'''
import json as _json, time as _time
from sklearn.mixture import GaussianMixture as _GM
_x = x_data
_t = _time.perf_counter(); _w, _m, _s, _h = fit_em(_x, 3); _t_em = _time.perf_counter() - _t
# scikit-learn from the same initial means (data quantiles), equal weights, to the same precision
_init = np.quantile(_x, (np.arange(3) + 0.5) / 3)[:, None]
_t = _time.perf_counter()
_gm = _GM(3, means_init=_init, weights_init=np.full(3, 1 / 3), tol=1e-10, max_iter=1000).fit(_x[:, None])
_t_sk = _time.perf_counter() - _t
_t = _time.perf_counter(); _gm0 = _GM(3, random_state=0).fit(_x[:, None]); _t_sk0 = _time.perf_counter() - _t
print("BENCH" + _json.dumps({"em_mean_loglik": float(np.mean(mixture_log_pdf(_x, _w, _m, _s))), "em_iters": len(_h),
      "em_seconds": _t_em, "sklearn_same_init_mean_loglik": float(_gm.score(_x[:, None])),
      "sklearn_same_init_iters": int(_gm.n_iter_), "sklearn_same_init_seconds": _t_sk,
      "sklearn_default_mean_loglik": float(_gm0.score(_x[:, None])), "sklearn_default_seconds": _t_sk0}))
''',
    "06_vae_sampler": r'''
import json as _json
_out = {}
if "test_elbo" in globals():
    _out = {"vae_test_elbo": float(test_elbo), "vae_test_nll_importance": float(nll_is)}
print("BENCH" + _json.dumps(_out))
''',
}
TRAINING_CELLS = {"03_autoregressive": ['histories["FVSBN"]', 'histories["NADE"]', 'histories["MADE"]',
                                        "char_history = fit("]}


def run_notebook(name: str, repeats: int) -> dict:
    """Execute solutions/<name> `repeats` times; the last run also runs the EXTRAS cell."""
    times, extra, cell_seconds = [], {}, {}
    for k in range(repeats):
        nb = read_notebook(ROOT / "solutions" / name / f"{name}.ipynb")
        n_cells = len(nb.cells)
        if k == repeats - 1 and name in EXTRAS:
            nb.cells.append(nbformat.v4.new_code_cell(EXTRAS[name]))
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            results = execute_cells(nb, tmp)
            total = time.perf_counter() - start
        extra_seconds = sum(r.seconds for r in results if r.index >= n_cells)
        times.append(total - extra_seconds)
        errors = [r for r in results if r.error]
        if errors:
            raise RuntimeError(f"{name}: cell {errors[0].index} failed: {errors[0].error}")
        if k == repeats - 1:
            for cell in nb.cells[n_cells:]:
                for out in cell.outputs:
                    for line in out.get("text", "").splitlines():
                        if line.startswith("BENCH"):
                            extra = json.loads(line[5:])
            for marker in TRAINING_CELLS.get(name, []):
                for r in results:
                    if marker in nb.cells[r.index].source:
                        cell_seconds[marker.split('"')[1] if '"' in marker else "CharMLP"] = r.seconds
    return {"seconds": statistics.median(times), "runs": times, "quality": extra, "training_seconds": cell_seconds}


def make_class(root: Path, name: str, n: int) -> list[str]:
    """Submissions for a synthetic class: perfect, blank and partly right (one answer left blank)."""
    from dgm_course.layout import submit

    release = read_notebook(root / "course" / name / f"{name}.ipynb")
    perfect = fill_answers(release, read_notebook(ROOT / "solutions" / name / f"{name}.ipynb"))
    partial = nbformat.from_dict(json.loads(json.dumps(perfect)))
    first = next(c for c in partial.cells if is_solution_cell(c) and c.cell_type == "code")
    first.source = cell_by_id(release, first.metadata["nbgrader"]["grade_id"]).source
    students = [f"student{i:03d}" for i in range(n)]
    for i, student in enumerate(students):
        submit(root, student, name, [perfect, partial, release][i % 3])
    return students


def scratch_course(names: list[str], sizes: dict[str, int]) -> Path:
    from dgm_course.layout import make_scratch_course

    root = make_scratch_course(tempfile.mkdtemp(prefix="dgm-bench-"), names, ROOT)
    for name in names:
        make_class(root, name, sizes[name])
    return root


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def grading_throughput(sizes: dict[str, int], dask: bool) -> dict:
    """Seconds per submission: plain nbgrader vs dgm-course --jobs 1 / 2 (and a local Dask cluster)."""
    bindir = Path(sys.executable).parent
    modes = {"nbgrader": lambda a: [str(bindir / "nbgrader"), "autograde", a],
             "dgm-course --jobs 1": lambda a: [str(bindir / "dgm-course"), "autograde", a, "--jobs", "1"],
             "dgm-course --jobs 2": lambda a: [str(bindir / "dgm-course"), "autograde", a, "--jobs", "2"]}
    cluster = None
    if dask:
        from dask.distributed import LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                               processes=True)
        address = cluster.scheduler_address.replace("tcp://", "")
        modes["dgm-course dask (2 workers)"] = lambda a: [str(bindir / "dgm-course"), "autograde", a,
                                                          "--executor", f"dask://{address}"]
    out = {}
    try:
        for mode, cmd in modes.items():
            root = scratch_course(list(sizes), sizes)
            seconds = {a: timed(cmd(a), root) for a in sizes}
            n = sum(sizes.values())
            out[mode] = {"seconds": sum(seconds.values()), "per_assignment": seconds,
                         "seconds_per_submission": sum(seconds.values()) / n, "submissions": n}
            shutil.rmtree(root, ignore_errors=True)
    finally:
        if cluster is not None:
            cluster.close()
    base = out["nbgrader"]["seconds"]
    for mode in out:
        out[mode]["speedup_vs_nbgrader"] = base / out[mode]["seconds"]
    return out


def grading_per_notebook(names: list[str], copies: int = 2) -> dict:
    """Per notebook: ``copies`` perfect submissions graded by dgm-course (``autograde`` called in
    this process, --jobs 1); seconds per submission for the whole batch (the instructor's
    solution, graded too as a check, included) and for one submission's worker alone."""
    from dgm_course.coordinator import autograde
    from dgm_course.layout import Course, make_scratch_course, submit

    out = {}
    for name in names:
        root = make_scratch_course(tempfile.mkdtemp(prefix="dgm-bench-nb-"), [name], ROOT)
        perfect = fill_answers(read_notebook(root / "course" / name / f"{name}.ipynb"),
                               read_notebook(ROOT / "solutions" / name / f"{name}.ipynb"))
        for k in range(copies):
            submit(root, f"student{k}", name, perfect)
        start = time.perf_counter()
        rows = autograde(Course(root), name, jobs=1, progress=False, log=lambda m: None)
        batch = time.perf_counter() - start
        if any(r.score != r.max for r in rows):
            raise RuntimeError(f"{name}: the solutions lost points when graded: {rows}")
        alone = statistics.mean(r.seconds for r in rows)
        out[name] = {"batch_seconds_per_submission": batch / copies, "worker_seconds": alone, "copies": copies}
        print(f"  {name}: batch {batch / copies:.1f} s/submission, worker alone {alone:.1f} s", flush=True)
        shutil.rmtree(root, ignore_errors=True)
    return out


def versions() -> dict:
    from importlib.metadata import version

    return {p: version(p) for p in ["torch", "numpy", "scikit-learn", "nbgrader", "jupyterlab", "nbclient"]}


def markdown(res: dict) -> str:
    lines = [f"Benchmark of {res['date']} on {res['machine']} ({res['cores']} cores), "
             + ", ".join(f"{k} {v}" for k, v in res["versions"].items()), "",
             "| notebook | seconds (median of %d) |" % res["repeats"], "|---|---|"]
    for name, r in res["notebooks"].items():
        lines.append(f"| {name} | {r['seconds']:.1f} |")
    lines.append(f"| **total** | **{res['notebooks_total_seconds']:.1f}** |")
    q = res["notebooks"]
    if "03_autoregressive" in q and q["03_autoregressive"]["quality"]:
        nb3 = q["03_autoregressive"]
        lines += ["", "| digits model (notebook 03 split) | test NLL (nats/image) | training seconds |",
                  "|---|---|---|"]
        for model, nll in nb3["quality"]["digits_test_nll"].items():
            lines.append(f"| {model} | {nll:.2f} | {nb3['training_seconds'].get(model, 0):.1f} |")
        lines += ["", "| next-token model (names) | train NLL | test NLL (nats/char) |", "|---|---|---|"]
        for model, v in nb3["quality"]["chars_nll"].items():
            lines.append(f"| {model} | {v['train']:.3f} | {v['test']:.3f} |")
    if "06_vae_sampler" in q and q["06_vae_sampler"]["quality"]:
        v = q["06_vae_sampler"]["quality"]
        lines += ["", f"VAE (notebook 06, optional section): test ELBO {v['vae_test_elbo']:.2f}, "
                      f"importance-sampled test NLL {v['vae_test_nll_importance']:.2f} nats/image"]
    if "05_gaussian_mixtures" in q and q["05_gaussian_mixtures"]["quality"]:
        v = q["05_gaussian_mixtures"]["quality"]
        lines += ["", "| mixture fit (2000 points, K=3) | mean log-likelihood | iterations | seconds |",
                  "|---|---|---|---|",
                  f"| fit_em (05) | {v['em_mean_loglik']:.6f} | {v['em_iters']} | {v['em_seconds']:.4f} |",
                  f"| GaussianMixture, same init, tol 1e-10 | {v['sklearn_same_init_mean_loglik']:.6f} | "
                  f"{v['sklearn_same_init_iters']} | {v['sklearn_same_init_seconds']:.4f} |",
                  f"| GaussianMixture, defaults | {v['sklearn_default_mean_loglik']:.6f} | | "
                  f"{v['sklearn_default_seconds']:.4f} |"]
    if "01_logistic_regression" in q and q["01_logistic_regression"]["quality"]:
        v = q["01_logistic_regression"]["quality"]
        lines += ["", "| logistic regression (2 features, 398 examples) | train NLL | seconds |", "|---|---|---|",
                  f"| gradient descent (01) | {v['gd_nll']:.8f} | {v['gd_seconds']:.4f} |",
                  f"| scikit-learn LogisticRegression (C=inf) | {v['sklearn_nll']:.8f} | {v['sklearn_seconds']:.4f} |",
                  f"| gap | {v['gd_nll'] - v['sklearn_nll']:.2e} | |"]
    if res.get("grading_per_notebook"):
        lines += ["", "| dgm-course --jobs 1, per notebook | batch s / submission | worker alone s |", "|---|---|---|"]
        for name, r in res["grading_per_notebook"].items():
            lines.append(f"| {name} | {r['batch_seconds_per_submission']:.1f} | {r['worker_seconds']:.1f} |")
    if res.get("grading"):
        graded = ", ".join(name[:2] for name in res["grading"]["nbgrader"]["per_assignment"])
        n = res["grading"]["nbgrader"]["submissions"]
        lines += ["", f"| autograding ({n} submissions of {graded} only) | seconds | "
                      "s / submission | speed-up vs nbgrader |", "|---|---|---|---|"]
        for mode, r in res["grading"].items():
            lines.append(f"| {mode} | {r['seconds']:.1f} | {r['seconds_per_submission']:.2f} | "
                         f"{r['speedup_vs_nbgrader']:.2f}x |")
        best = min(r["seconds_per_submission"] for r in res["grading"].values())
        lines += ["", f"Estimate (from the measured throughput, not measured): a 300-student class of one notebook "
                      f"takes about {300 * best / 60:.0f} min on this machine; N such machines as Dask workers "
                      f"divide that by about N."]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="smoke run: notebook 01 once, a class of 2")
    parser.add_argument("--repeats", type=int, default=3, help="executions per notebook (median)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"), help="where to write the JSON")
    parser.add_argument("--no-grading", action="store_true", help="skip the autograding throughput part")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask cluster run")
    args = parser.parse_args(argv)

    names = ["01_logistic_regression"] if args.tiny else assignments(ROOT / "solutions")
    repeats = 1 if args.tiny else args.repeats
    res = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": platform.platform(),
           "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "python": sys.version.split()[0],
           "versions": versions(), "repeats": repeats, "notebooks": {}}
    for name in names:
        print(f"executing {name} x{repeats} ...", flush=True)
        res["notebooks"][name] = run_notebook(name, repeats)
    res["notebooks_total_seconds"] = sum(r["seconds"] for r in res["notebooks"].values())
    if not args.no_grading and not args.tiny:
        print("grading two copies of each solution, per notebook ...", flush=True)
        res["grading_per_notebook"] = grading_per_notebook(names)
    if not args.no_grading:
        sizes = {"01_logistic_regression": 2} if args.tiny else {"01_logistic_regression": 24,
                                                                  "04_continuous_densities": 12}
        print(f"autograding a synthetic class {sizes} ...", flush=True)
        res["grading"] = grading_throughput(sizes, dask=not (args.no_dask or args.tiny))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))
    print(markdown(res))
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
