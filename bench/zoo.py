"""Every hostile submission of tests/zoo on every notebook it applies to, graded by plain
``nbgrader autograde`` and by ``dgm-course autograde``: writes bench/zoo.md.

    .venv/bin/python bench/zoo.py [--notebooks 01_logistic_regression,...] [--attacks frame_walk,...]
                                  [--no-plain] [--out bench/zoo.md] [--keep DIR] [--splice]

--splice reruns only --notebooks and replaces their column, section and failure/known-issue
lines in an existing --out (the other notebooks' results are kept).

Not part of the test suite (the whole matrix takes about an hour on 2 cores); tests/test_zoo.py
runs a selection of it. bench/zoo.md has, per notebook, the table of tests/zoo.table (each
submission's points on the attacked exercise and in total, with plain nbgrader, with
dgm-course, and its control's), then a matrix attack x notebook, "plain / dgm-course /
control" on the attacked exercise's tests.
"""
from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import zoo  # noqa: E402

LIMITS = dict(timeout=8, memory_mb=1536, notebook_timeout=150)


def matrix(runs: dict[str, zoo.Run]) -> str:
    """Markdown: one row per attack, one column per notebook: plain / dgm-course / control points
    on the tests of the exercise it attacks ("." where it does not apply)."""
    names = [a.name for a in zoo.ATTACKS]
    head = ["attack", "kind"] + list(runs)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def points(graded, student, tests):
        if graded is None:
            return "-"
        if student in graded.not_run:
            return "n/r"
        if student not in graded.scores:
            return "x"
        return f"{sum(v for k, v in graded.scores[student].items() if k in tests):g}"

    for name in names:
        attack = zoo.BY_NAME[name]
        row = [name, attack.kind]
        for notebook, run in runs.items():
            if name not in run.zoo.attacks:
                row.append(".")
                continue
            tests = zoo.attacked_tests(run.zoo, attack)
            if attack.exercise == "*":
                tests = set(run.zoo.tests.get(attack.target_of(notebook).exercise, []))
            control = run.zoo.controls.get(attack.target_of(notebook).key) if attack.kind == "wrong-answer" else None
            mark = ""
            if zoo.gained(run.zoo, run.dgm, name):
                mark = " **!**"
            elif zoo.lost(run.zoo, run.dgm, name):
                mark = " (lost more)"
            row.append(f"{points(run.plain, name, tests)} / {points(run.dgm, name, tests)}"
                       + (f" / {points(run.dgm, control, tests)}" if control else " / -") + mark)
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def splice(old: str, new: str, notebooks: list[str]) -> str:
    """``old`` (a bench/zoo.md) with the matrix columns, sections and failure / known-issue lines of
    ``notebooks`` taken from ``new`` (a bench/zoo.md of those notebooks only)."""
    old_parts, new_parts = old.split("\n## "), new.split("\n## ")

    def matrix_rows(head: str) -> tuple[list[str], dict[str, list[str]]]:
        lines = [x for x in head.splitlines() if x.startswith("| ")]
        columns = lines[0].strip("| ").split(" | ")
        return columns, {x.strip("| ").split(" | ")[0]: x.strip("| ").split(" | ") for x in lines[2:]}

    old_columns, _ = matrix_rows(old_parts[0])
    new_columns, fresh = matrix_rows(new_parts[0])
    head = []
    for line in old_parts[0].splitlines():
        cells = line.strip("| ").split(" | ")
        if line.startswith("| ") and cells[0] in fresh:
            for nb in notebooks:
                if nb in old_columns and nb in new_columns:
                    cells[old_columns.index(nb)] = fresh[cells[0]][new_columns.index(nb)]
            line = "| " + " | ".join(cells) + " |"
        head.append(line)
    parts = ["\n".join(head) + "\n"]
    for part in old_parts[1:]:
        title = part.split("\n", 1)[0]
        if title.split(":", 1)[0] in notebooks:
            continue
        if title.startswith(("Failures", "Known issues")):
            kept = [x for x in part.splitlines()[1:] if x.startswith("- ") and x[2:].split(":", 1)[0] not in notebooks]
            added = next((p for p in new_parts if p.split("\n", 1)[0] == title), "")
            kept += [x for x in added.splitlines()[1:] if x.startswith("- ") and x[2:].split(":", 1)[0] in notebooks]
            part = f"{title}\n\n" + ("\n".join(kept) if kept else "none") + "\n"
        parts.append(part)
    parts += [p for p in new_parts[1:] if p.split("\n", 1)[0].split(":", 1)[0] in notebooks]
    return "\n## ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", default=",".join(zoo.ALL_NOTEBOOKS))
    parser.add_argument("--attacks", default="", help="comma-separated names (default: every one that applies)")
    parser.add_argument("--no-plain", action="store_true", help="dgm-course only")
    parser.add_argument("--out", default=str(ROOT / "bench" / "zoo.md"))
    parser.add_argument("--keep", default="", help="keep the scratch courses in this folder")
    parser.add_argument("--splice", action="store_true", help="replace only these notebooks' results in --out")
    args = parser.parse_args()

    chosen = [n for n in args.attacks.split(",") if n]
    runs: dict[str, zoo.Run] = {}
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dgm-zoo-"))
    t0 = time.monotonic()
    try:
        for notebook in args.notebooks.split(","):
            names = [n for n in zoo.applicable(notebook) if not chosen or n in chosen]
            if not names:
                continue
            print(f"{notebook}: {len(names)} attacks", flush=True)
            runs[notebook] = zoo.run(notebook, names, base / notebook, LIMITS, plain=not args.no_plain, log=print)
            print(runs[notebook].report(), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    wall = time.monotonic() - t0
    failures = [f"{nb}: {f}" for nb, r in runs.items() for f in r.verdict.failures]
    known = [f"{nb}: {k}" for nb, r in runs.items() for k in r.verdict.known]
    text = (f"# The zoo: every attack on every notebook\n\n"
            f"{datetime.now().isoformat(timespec='seconds')}, {platform.platform()}, {wall / 60:.0f} min "
            f"(limits {LIMITS}, --jobs 2). Generated by `make zoo` (bench/zoo.py); the attacks are in tests/zoo.\n\n"
            "Matrix: points on the tests of the attacked exercise, `plain nbgrader / dgm-course / control` "
            "(control: the same wrong answer without the exploit, graded by dgm-course; `-` for abuse attacks, "
            "whose right answer is compared with the honest student's). **!**: the attack beats dgm-course; "
            "(lost more): an abuse cost more than its exercise; n/r: not run through plain nbgrader "
            "(see the notebook's table); x: no grade; `.`: does not apply.\n\n"
            + matrix(runs)
            + "\n## Failures (the promise broken)\n\n" + ("".join(f"- {f}\n" for f in failures) or "none\n")
            + "\n## Known issues reproduced\n\n" + ("".join(f"- {k}\n" for k in known) or "none\n")
            + "".join(r.report() for r in runs.values()))
    if args.splice and Path(args.out).exists():
        text = splice(Path(args.out).read_text(), text, list(runs))
    Path(args.out).write_text(text)
    print(f"wrote {args.out} ({wall / 60:.1f} min); {len(failures)} failure(s), {len(known)} known issue(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
