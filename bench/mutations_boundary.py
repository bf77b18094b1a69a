"""Every mistake of every mutation bank graded through the grading boundary (the checker and a
sandboxed student process), not only the first ones that `make test` grades this way.

    python bench/mutations_boundary.py [NOTEBOOK ...]      # writes bench/mutations_boundary.md

Prints, per notebook, caught / total and the mistakes that escaped (there should be none).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from campaign import load_bank  # noqa: E402
from test_mutations_boundary import grade_mutation  # noqa: E402

from dgm_course.notebooks import assignments  # noqa: E402


def main(argv: list[str]) -> int:
    names = argv or assignments(ROOT / "solutions")
    rows, escaped_all = [], []
    for name in names:
        bank = load_bank(name)
        caught, t0 = 0, time.monotonic()
        for m in bank:
            with tempfile.TemporaryDirectory() as tmp:
                earned, maximum, failed = grade_mutation(name, m, Path(tmp))
            if earned < maximum:
                caught += 1
            else:
                escaped_all.append(f"{name}: {m['name']}")
            print(f"{'caught ' if earned < maximum else 'ESCAPED'} {earned:g}/{maximum:g}  {name}: {m['name']}",
                  flush=True)
        rows.append(f"| {name} | {caught}/{len(bank)} | {time.monotonic() - t0:.0f} |")
    table = "\n".join(["| notebook | caught through the grading boundary | seconds |", "|---|---|---|"] + rows)
    print("\n" + table + ("\n\nescaped: " + "; ".join(escaped_all) if escaped_all else "\n\nnone escaped"))
    (ROOT / "bench" / "mutations_boundary.md").write_text(table + "\n")
    return 1 if escaped_all else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
