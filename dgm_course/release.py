"""The student release: ``course/`` regenerated from ``solutions/`` by nbgrader, and the check
that no solution line, hidden test or stored output reached it."""
from __future__ import annotations

from .layout import Course
from .notebooks import find_leaks, read_notebook


def generate_release(course: Course, names: list[str] | None = None) -> list[str]:
    """Regenerate the release of each assignment (all by default) with nbgrader's
    generate_assignment; returns their names. Raises RuntimeError with nbgrader's log."""
    names = names or course.assignments("source")
    api = course.api()
    for name in names:
        if not (course.folder("source", name) / f"{name}.ipynb").exists():
            raise FileNotFoundError(f"no {course.coursedir.source_directory}/{name}/{name}.ipynb")
        result = api.generate_assignment(name, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader could not generate {name}:\n{result['log']}\n{result.get('error', '')}")
    return names


def release_problems(course: Course, names: list[str]) -> dict[str, list[str]]:
    """{"<name>/<notebook>.ipynb": problems} for each released notebook of ``names``, comparing
    the release with the source (``notebooks.find_leaks``; an empty list means clean)."""
    out = {}
    for name in names:
        for src in sorted(course.folder("source", name).glob("*.ipynb")):
            rel = course.folder("release", name) / src.name
            out[f"{name}/{src.name}"] = find_leaks(read_notebook(src), read_notebook(rel)) if rel.exists() else \
                ["the release is missing: run dgm-course release"]
    return out
