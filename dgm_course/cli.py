"""The ``dgm-course`` command: the instructor's side of the course.

    dgm-course sync [ASSIGNMENT ...]        bring each solutions notebook and its text twin (.py) in step
    dgm-course release [ASSIGNMENT ...]     regenerate course/ and check it leaks nothing
    dgm-course autograde ASSIGNMENT         grade submitted/*/ASSIGNMENT (tests in a checker, code in a sandbox)
    dgm-course feedback ASSIGNMENT          per-student HTML without hidden tests
    dgm-course export [--to grades.csv]     the gradebook as CSV (nbgrader's format)
    dgm-course report ASSIGNMENT            pass rates, zero scores, named mistakes, crashes
    dgm-course similarity ASSIGNMENT        the most similar pairs of submissions (scores unchanged)
    dgm-course demo                         the whole flow on a synthetic class

Run it from the course root (the folder of nbgrader_config.py) or pass ``--course DIR``.
Every subcommand has ``--help``.
"""
from __future__ import annotations

import argparse
import os
import sys

# jsonschema (under nbformat) imports rfc3987_syntax, when installed, only to check the "iri"
# string format, which no notebook schema uses; building its grammar costs every command about a
# second. Marking it absent makes jsonschema skip that one format check.
sys.modules.setdefault("rfc3987_syntax", None)


def _course(args):
    """The course of the command (``--course`` or the folder above the cwd holding
    nbgrader_config.py), with the gradebook of ``--db-url`` if given."""
    from .layout import Course, ensure_venv_on_path, find_root

    ensure_venv_on_path()
    return Course(find_root(args.course), db_url=getattr(args, "db_url", None))


def cmd_release(args) -> int:
    """Regenerate the releases and verify that no solution or hidden test reached them."""
    from .release import generate_release, release_problems

    from .twins import differences, twin_path

    course = _course(args)
    stale = []
    for name in args.assignments or course.assignments("source"):
        notebook = course.folder("source", name) / f"{name}.ipynb"
        if notebook.exists() and twin_path(notebook).exists():
            stale += [f"{name}: {d}" for d in differences(notebook)]
    if stale:
        print("the solutions notebooks and their text twins differ (run 'dgm-course sync' first):",
              *("  " + d for d in stale), sep="\n", file=sys.stderr)
        return 1
    names = generate_release(course, args.assignments or None)
    problems = []
    for notebook, leaks in release_problems(course, names).items():
        problems += [f"{notebook}: {p}" for p in leaks]
        print(f"released {notebook}: {'LEAKS' if leaks else 'clean'}")
    if problems:
        print(f"{len(problems)} leak(s) found; the release must not be published:", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 1
    return 0


def cmd_sync(args) -> int:
    """Bring each solutions notebook and its text twin (solutions/NAME/NAME.py, jupytext percent
    format) in step: the newer of the two is copied onto the other. With --check, change nothing
    and exit 1 if any pair differs."""
    from .twins import differences, sync

    course = _course(args)
    differ = 0
    for name in args.assignments or course.assignments("source"):
        notebook = course.folder("source", name) / f"{name}.ipynb"
        if not notebook.exists():
            raise FileNotFoundError(f"no {notebook}")
        if args.check:
            found = differences(notebook)
            differ += bool(found)
            print(f"{name}: " + ("; ".join(found) if found else "in sync"))
        else:
            print(f"{name}: {sync(notebook)}")
    return 1 if differ else 0


def cmd_autograde(args) -> int:
    """Grade every submission of an assignment and print the summary table."""
    from .coordinator import NothingToGrade, autograde, format_table
    from .records import Limits
    from .sandbox import SandboxUnavailable

    course = _course(args)
    limits = Limits(timeout=args.timeout, notebook_timeout=args.notebook_timeout, memory_mb=args.memory,
                    sandbox="none" if args.no_sandbox else "bwrap")
    try:
        rows = autograde(course, args.assignment, jobs=args.jobs, executor=args.executor, limits=limits,
                         students=args.student or None, progress=not args.quiet,
                         log=lambda m: print(m, file=sys.stderr))
    except (NothingToGrade, SandboxUnavailable) as err:
        print(f"dgm-course autograde: {err}", file=sys.stderr)
        return 1 if isinstance(err, NothingToGrade) else 2
    print(format_table(rows))
    total = sum(r.score for r in rows)
    print(f"\n{len(rows)} submission(s) graded; mean {total / len(rows):.2f} of {rows[0].max:g}; "
          f"{sum(1 for r in rows if r.flags)} flagged (details: reports/{args.assignment}/grading/<student>.json)")
    if args.no_sandbox:
        print("WARNING: graded with --no-sandbox: student code ran as you, without the OS sandbox "
              "(it could read your files); the grades are not protected from hostile submissions.")
    return 0


def cmd_feedback(args) -> int:
    """Write feedback/<student>/<assignment>/<notebook>.html for every graded student."""
    from .feedback import generate_feedback

    paths = generate_feedback(_course(args), args.assignment, students=args.student or None)
    if not paths:
        print(f"dgm-course feedback: nothing autograded for {args.assignment}; run autograde first",
              file=sys.stderr)
        return 1
    for p in paths:
        print(p)
    return 0


def cmd_export(args) -> int:
    """Export the gradebook to CSV."""
    from .report import export_csv

    path = export_csv(_course(args), args.to)
    print(f"wrote {path}")
    return 0


def cmd_report(args) -> int:
    """Print per-exercise pass rates, the exercises with the most zero scores, the named mistakes
    the tests found (students per mistake and exercise) and the crashes; write the score
    histogram and the mistakes chart (PNG). --format csv prints the named-mistake table as CSV."""
    from .report import make_report, mistakes_csv

    course = _course(args)
    if args.format == "csv":
        sys.stdout.write(mistakes_csv(course, args.assignment))
        return 0
    text, png = make_report(course, args.assignment, to=args.to)
    print(text)
    print(f"\nwrote {png}")
    mistakes_png = png.with_name(png.stem + "-mistakes.png")
    if mistakes_png.exists():
        print(f"wrote {mistakes_png}")
    return 0


def cmd_similarity(args) -> int:
    """Compare every pair of submissions' answer cells (winnowing fingerprints: identifiers,
    strings, comments and whitespace normalized; the release's stubs excluded) and write an
    HTML report of the most similar pairs, code side by side, and a CSV of every pair. Never
    changes a score."""
    from .similarity import similarity_report

    pairs, html_path, csv_path = similarity_report(_course(args), args.assignment, top=args.top, to=args.to)
    width = max(len(p.a) + len(p.b) for p in pairs[:args.top]) + 5
    print(f"{'pair'.ljust(width)}  similarity  matching")
    for p in pairs[:args.top]:
        print(f"{(p.a + ' and ' + p.b).ljust(width)}  {100 * p.similarity:9.0f}%  {p.tokens:8d}")
    print(f"\nwrote {html_path}\nwrote {csv_path}")
    return 0


def cmd_demo(args) -> int:
    """Build a synthetic class in a temporary folder and run the whole instructor flow."""
    from .demo import run_demo

    return run_demo(folder=args.dir, jobs=args.jobs)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``dgm-course`` (one subparser per subcommand)."""
    parser = argparse.ArgumentParser(prog="dgm-course", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Run 'dgm-course SUBCOMMAND --help' for the options of each.")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", required=True)

    def add(name, func, help_text):
        p = sub.add_parser(name, help=help_text, description=(func.__doc__ or help_text))
        p.add_argument("--course", metavar="DIR", help="course root (default: found from the current folder)")
        p.set_defaults(func=func)
        return p

    p = add("release", cmd_release, "regenerate course/ from solutions/ and verify nothing secret leaked")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="assignments (default: all)")

    p = add("sync", cmd_sync, "bring each solutions notebook and its text twin (.py) in step")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="assignments (default: all)")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook and its twin differ")

    p = add("autograde", cmd_autograde, "grade submitted/*/ASSIGNMENT in parallel sandboxed workers")
    p.add_argument("assignment", metavar="ASSIGNMENT")
    p.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                   help=f"submissions graded at a time (default: the number of cores, {os.cpu_count()})")
    p.add_argument("--executor", default="local", metavar="local|dask://HOST:PORT",
                   help="where workers run: this machine (default) or an existing Dask scheduler")
    p.add_argument("--timeout", type=float, default=120.0, metavar="S", help="wall time per cell (default 120)")
    p.add_argument("--notebook-timeout", type=float, default=900.0, metavar="S",
                   help="wall time per notebook (default 900)")
    p.add_argument("--memory", type=int, default=2048, metavar="MB",
                   help="address-space limit of the student process (default 2048)")
    p.add_argument("--no-sandbox", action="store_true",
                   help="grade without bubblewrap (process boundary only; student code runs as you): for "
                        "machines without bwrap, never for untrusted submissions")
    p.add_argument("--db-url", default=None, metavar="URL",
                   help="gradebook URL, e.g. postgresql://user@host/db (default: nbgrader_config.py's)")
    p.add_argument("--student", action="append", metavar="ID", help="grade only this student (repeatable)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    p = add("feedback", cmd_feedback, "write per-student HTML feedback without hidden tests")
    p.add_argument("assignment", metavar="ASSIGNMENT")
    p.add_argument("--db-url", default=None, metavar="URL", help="gradebook URL (default: the config's)")
    p.add_argument("--student", action="append", metavar="ID", help="only this student (repeatable)")

    p = add("export", cmd_export, "export every grade to a CSV file")
    p.add_argument("--to", default="grades.csv", metavar="FILE", help="output file (default grades.csv)")
    p.add_argument("--db-url", default=None, metavar="URL", help="gradebook URL (default: the config's)")

    p = add("report", cmd_report, "score histogram (PNG) and per-exercise pass rates")
    p.add_argument("assignment", metavar="ASSIGNMENT")
    p.add_argument("--to", default=None, metavar="FILE", help="PNG path (default reports/ASSIGNMENT.png)")
    p.add_argument("--format", choices=("text", "csv"), default="text",
                   help="csv: print the named-mistake table (exercise, mistake, words, students, who) as CSV")
    p.add_argument("--db-url", default=None, metavar="URL", help="gradebook URL (default: the config's)")

    p = add("similarity", cmd_similarity, "which submissions look alike (HTML and CSV; scores unchanged)")
    p.add_argument("assignment", metavar="ASSIGNMENT")
    p.add_argument("--top", type=int, default=20, metavar="N", help="pairs to show (default 20; the CSV has all)")
    p.add_argument("--to", default=None, metavar="DIR", help="folder for the reports (default reports/)")

    p = sub.add_parser("demo", help="run release, autograde, feedback and report on a synthetic class",
                       description=cmd_demo.__doc__)
    p.add_argument("--dir", default=None, metavar="DIR",
                   help="build the demo course here (default: a new folder in the temp folder, kept)")
    p.add_argument("--jobs", "-j", type=int, default=None, metavar="N", help="submissions at a time")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dgm-course`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except FileNotFoundError as err:
        print(f"dgm-course {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
