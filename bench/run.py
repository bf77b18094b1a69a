"""`make bench`: the course's speed and model quality, measured side by side on this machine.

Writes bench/results.json and prints a Markdown table. Nothing here is a test: timings vary
with the machine; tests/test_bench.py only checks that this script runs on a tiny setting.

    python bench/run.py                 # the full benchmark (about 20 minutes on 2 cores)
    python bench/run.py --tiny          # smoke run: notebook 01 once, classes of 4, no Dask
"""
from __future__ import annotations

import argparse
import collections
import contextlib
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
os.environ.setdefault("DGM_STATIC_FIGURES", "1")  # widgets (dgm_utils.plotting.interactive) draw once

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


KINDS = ("honest", "partial", "blank", "crashing")


def class_notebook(release, source, kind: str):
    """One submission of a synthetic class: the solutions ("honest"), the solutions with the
    first answer left as the stub ("partial"), the release untouched ("blank"), or the
    solutions whose first answer ends its process ("crashing": the student process dies
    there; plain nbgrader's kernel dies)."""
    if kind == "blank":
        return release
    nb = fill_answers(release, source)
    first = next(c for c in nb.cells if is_solution_cell(c) and c.cell_type == "code")
    if kind == "partial":
        first.source = cell_by_id(release, first.metadata["nbgrader"]["grade_id"]).source
    elif kind == "crashing":
        first.source += "\nimport os\nos._exit(3)\n"
    return nb


def make_class(root: Path, name: str, kinds: list[str]) -> list[str]:
    """Submit one notebook per entry of ``kinds`` (student000, student001, ...)."""
    from dgm_course.layout import submit

    release = read_notebook(root / "course" / name / f"{name}.ipynb")
    source = read_notebook(ROOT / "solutions" / name / f"{name}.ipynb")
    students = [f"student{i:03d}" for i in range(len(kinds))]
    for student, kind in zip(students, kinds):
        submit(root, student, name, class_notebook(release, source, kind))
    return students


def scratch_course(names: list[str], kinds: list[str]) -> Path:
    from dgm_course.layout import make_scratch_course

    root = make_scratch_course(tempfile.mkdtemp(prefix="dgm-bench-"), names, ROOT)
    for name in names:
        make_class(root, name, kinds)
    return root


def timed(cmd: list[str], cwd: Path, one_core: bool = False, check: bool = True) -> float:
    """Wall seconds of ``cmd`` (``one_core``: pinned to one CPU, with everything it starts)."""
    start = time.perf_counter()
    pin = (lambda: os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})) if one_core else None
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, preexec_fn=pin)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def worker_seconds(root: Path, name: str) -> list[float]:
    """Seconds of each submission's worker (from dgm-course's per-student reports)."""
    return [json.loads(p.read_text())["seconds"] for p in sorted((root / "reports" / name / "grading").glob("*.json"))]


def scores(root: Path, name: str) -> dict[str, float]:
    return {p.stem: json.loads(p.read_text())["score"] for p in (root / "reports" / name / "grading").glob("*.json")}


class DaskCluster:
    """A local Dask cluster of two single-threaded worker processes."""

    def __enter__(self):
        from dask.distributed import LocalCluster

        self.cluster = LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                    processes=True)
        return "dask://" + self.cluster.scheduler_address.replace("tcp://", "")

    def __exit__(self, *exc):
        self.cluster.close()


def grading_comparison(names: list[str], kinds: list[str], dask: bool) -> dict:
    """Every notebook's class (``kinds``) graded by plain ``nbgrader autograde``, ``dgm-course
    --jobs 1`` pinned to one core, ``--jobs 2`` and a local two-worker Dask cluster, one
    assignment after another, each from a fresh scratch course: seconds per submission for the
    whole batch (wall time of the command / submissions) and, for dgm-course --jobs 1, for one
    submission's worker alone on one core."""
    bindir = Path(sys.executable).parent
    dgm = [str(bindir / "dgm-course"), "autograde"]
    modes = {"nbgrader": (lambda a, _: [str(bindir / "nbgrader"), "autograde", a], False),
             "dgm-course --jobs 1 (one core)": (lambda a, _: dgm + [a, "--jobs", "1"], True),
             "dgm-course --jobs 2": (lambda a, _: dgm + [a, "--jobs", "2"], False)}
    if dask:
        modes["dgm-course dask (2 workers)"] = (lambda a, address: dgm + [a, "--executor", address], False)
    out: dict = {"kinds": kinds, "modes": {}}
    with (DaskCluster() if dask else contextlib.nullcontext("")) as address:
        for mode, (cmd, one_core) in modes.items():
            root = scratch_course(names, kinds)
            per = {}
            for name in names:
                print(f"  {mode}: {name} ...", flush=True)
                # plain nbgrader exits with an error when a kernel dies (the crashing submission):
                # it gives that student no grade at all, and grades the others
                seconds = timed(cmd(name, address), root, one_core, check=mode != "nbgrader")
                per[name] = {"seconds": seconds, "seconds_per_submission": seconds / len(kinds),
                             "graded": sum(1 for s in (root / "autograded").glob(f"*/{name}/{name}.ipynb"))}
                if mode != "nbgrader":
                    alone = worker_seconds(root, name)
                    per[name]["worker_seconds"] = statistics.mean(alone)
                    per[name]["worker_seconds_max"] = max(alone)
                    per[name]["scores"] = scores(root, name)
            total = sum(r["seconds"] for r in per.values())
            out["modes"][mode] = {"per_notebook": per, "seconds": total, "submissions": len(kinds) * len(names),
                                  "seconds_per_submission": total / (len(kinds) * len(names))}
            shutil.rmtree(root, ignore_errors=True)
    base = out["modes"]["nbgrader"]["seconds"]
    for r in out["modes"].values():
        r["speedup_vs_nbgrader"] = base / r["seconds"]
    return out


def class_run(names: list[str], students: int, dask: bool) -> dict:
    """A simulated class (``students`` x every notebook; mostly honest, some partial, blank and
    crashing submissions) graded assignment by assignment through a local two-worker Dask
    cluster (or --jobs 2 without Dask): wall time, and core-seconds per submission."""
    pattern = ["honest", "partial", "honest", "blank", "honest", "crashing", "honest", "partial", "honest", "blank"]
    kinds = [pattern[i % len(pattern)] for i in range(students)]
    root = scratch_course(names, kinds)
    bindir = Path(sys.executable).parent
    per = {}
    try:
        with (DaskCluster() if dask else contextlib.nullcontext("")) as address:
            executor = ["--executor", address] if dask else ["--jobs", "2"]
            start = time.perf_counter()
            for name in names:
                print(f"  class of {students}: {name} ...", flush=True)
                seconds = timed([str(bindir / "dgm-course"), "autograde", name] + executor, root)
                per[name] = {"seconds": seconds, "worker_seconds": statistics.mean(worker_seconds(root, name)),
                             "report_seconds": timed([str(bindir / "dgm-course"), "report", name], root),
                             "similarity_seconds": timed([str(bindir / "dgm-course"), "similarity", name], root)}
            wall = time.perf_counter() - start
    finally:
        shutil.rmtree(root, ignore_errors=True)
    wall -= sum(r["report_seconds"] + r["similarity_seconds"] for r in per.values())
    cores = 2
    n = students * len(names)
    core_seconds = wall * cores / n
    return {"students": students, "notebooks": len(names), "submissions": n, "kinds": dict(collections.Counter(kinds)),
            "executor": "dask (2 workers)" if dask else "--jobs 2", "wall_seconds": wall, "per_notebook": per,
            "core_seconds_per_submission": core_seconds,
            "estimate_300x6_16_cores_minutes": 300 * 6 * core_seconds / 16 / 60}


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
    if res.get("grading"):
        g = res["grading"]
        modes = list(g["modes"])
        names = list(g["modes"]["nbgrader"]["per_notebook"])
        lines += ["", f"Autograding, per notebook: a class of {len(g['kinds'])} ({', '.join(g['kinds'])}), "
                      "seconds per submission (whole batch: wall time of the command / submissions; worker alone: "
                      "one submission's worker under --jobs 1 pinned to one core, mean and max).", "",
                  "| notebook | " + " | ".join(modes) + " | worker alone (one core) |",
                  "|---|" + "---|" * (len(modes) + 1)]
        alone_mode = next(m for m in modes if "one core" in m)
        for name in names:
            cells = [f"{g['modes'][m]['per_notebook'][name]['seconds_per_submission']:.2f}" for m in modes]
            a = g["modes"][alone_mode]["per_notebook"][name]
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {a['worker_seconds']:.2f} (max "
                         f"{a['worker_seconds_max']:.2f}) |")
        lines.append("| **all six: s / submission** | " + " | ".join(
            f"**{g['modes'][m]['seconds_per_submission']:.2f}**" for m in modes) + " | |")
        lines.append("| **throughput vs nbgrader** | " + " | ".join(
            f"**{g['modes'][m]['speedup_vs_nbgrader']:.1f}x**" for m in modes) + " | |")
    if res.get("class"):
        c = res["class"]
        lines += ["", f"A simulated class of {c['students']} students x {c['notebooks']} notebooks "
                      f"({c['submissions']} submissions: " + ", ".join(f"{v} {k}" for k, v in c["kinds"].items())
                  + f" per notebook), graded assignment by assignment through {c['executor']} on this "
                    f"{res['cores']}-core machine: **{c['wall_seconds']:.0f} s** wall time, "
                    f"{c['wall_seconds'] / c['submissions']:.2f} s per submission, "
                    f"{c['core_seconds_per_submission']:.2f} core-seconds per submission.",
                  "",
                  f"Estimate, not measured: 300 students x 6 notebooks on 16 cores = 300 x 6 x "
                  f"{c['core_seconds_per_submission']:.2f} core-s / 16 cores = "
                  f"**{c['estimate_300x6_16_cores_minutes']:.1f} min** (assumes the per-submission cost measured "
                  "here holds per core on the larger machine, i.e. 16 Dask worker processes with one thread each, "
                  "and ignores the start of the 16 workers' templates, a few seconds each).", "",
                  f"On that class ({c['students']} submissions per notebook), `dgm-course report` took "
                  + ", ".join(f"{r['report_seconds']:.1f}" for r in c["per_notebook"].values())
                  + " s and `dgm-course similarity` "
                  + ", ".join(f"{r['similarity_seconds']:.1f}" for r in c["per_notebook"].values())
                  + " s per notebook (01 to 06; whole commands, start included; not in the wall time above)."]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="smoke run: notebook 01 once, classes of 4, no Dask")
    parser.add_argument("--repeats", type=int, default=3, help="executions per notebook (median)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"), help="where to write the JSON")
    parser.add_argument("--no-grading", action="store_true", help="skip the autograding parts")
    parser.add_argument("--copies", type=int, default=1, help="submissions of each kind (honest, partial, blank, "
                                                                "crashing) per notebook in the grading comparison")
    parser.add_argument("--class-size", type=int, default=60, help="students of the simulated class")
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
    if not args.no_grading:
        kinds = list(KINDS) * (1 if args.tiny else args.copies)
        print(f"autograding a class of {kinds} per notebook, four ways ...", flush=True)
        res["grading"] = grading_comparison(names, kinds, dask=not (args.no_dask or args.tiny))
        students = 4 if args.tiny else args.class_size
        print(f"autograding a simulated class of {students} students x {len(names)} notebooks ...", flush=True)
        res["class"] = class_run(names, students, dask=not (args.no_dask or args.tiny))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))
    print(markdown(res))
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
