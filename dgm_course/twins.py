"""Text twins of the solutions notebooks, so that a change to an exercise reads as a normal diff.

Each ``solutions/<name>/<name>.ipynb`` has a twin ``solutions/<name>/<name>.py`` in jupytext's
percent format: a ``# %%`` line opens each cell and carries its metadata (nbgrader's
``grade_id``, points, solution and test flags, as JSON), Markdown cells are comments, code is
code. The two hold the same cells; ``dgm-course sync`` brings the older one up to date,
``dgm-course release`` refuses while they differ, and a test proves they agree. The twins never
reach the release (``nbgrader_config.py`` ignores them). In JupyterLab, saving a solutions
notebook also writes its twin (``solutions/jupytext.toml`` pairs them).
"""
from __future__ import annotations

import os
from pathlib import Path

FORMAT = "py:percent"
HEADER_FILTER = "kernelspec,-jupytext.text_representation.jupytext_version"  # no version churn


def twin_path(notebook: Path) -> Path:
    """notebook: path of ``<name>.ipynb``; returns the path of its text twin ``<name>.py``."""
    return Path(notebook).with_suffix(".py")


def to_text(nb) -> str:
    """The percent-format text of the notebook ``nb`` (an nbformat NotebookNode)."""
    import copy

    import jupytext

    nb = copy.deepcopy(nb)  # its metadata is edited below
    nb.metadata.setdefault("jupytext", {})["notebook_metadata_filter"] = HEADER_FILTER
    return jupytext.writes(nb, fmt=FORMAT)


def _cells(nb) -> list[tuple[str, str, dict]]:
    return [(c.cell_type, c.source, dict(c.metadata)) for c in nb.cells]


def differences(notebook: Path) -> list[str]:
    """What differs between ``notebook`` and its twin, one line per cell (empty: in sync)."""
    import jupytext

    from .notebooks import read_notebook

    twin = twin_path(notebook)
    if not twin.exists():
        return [f"{twin.name} is missing"]
    left, right = _cells(read_notebook(notebook)), _cells(jupytext.read(twin, fmt=FORMAT))
    out = []
    for i, (a, b) in enumerate(zip(left, right)):
        if a == b:
            continue
        grade_id = a[2].get("nbgrader", {}).get("grade_id") or b[2].get("nbgrader", {}).get("grade_id")
        what = [part for part, x, y in zip(("type", "source", "metadata"), a, b) if x != y]
        out.append(f"cell {i}{f' ({grade_id})' if grade_id else ''}: {' and '.join(what)} "
                   f"differ{'s' if len(what) == 1 else ''}")
    if len(left) != len(right):
        out.append(f"{notebook.name} has {len(left)} cells, {twin.name} has {len(right)}")
    return out


def sync(notebook: Path) -> str:
    """Bring the older of ``notebook`` and its twin up to date from the newer one (by
    modification time; a missing twin is written). Returns what was done, in words.

    From the twin, the notebook keeps its own notebook-level metadata; cells come from the twin
    and carry no outputs (solutions notebooks are stored without them)."""
    import jupytext
    import nbformat

    from .notebooks import read_notebook

    notebook, twin = Path(notebook), twin_path(notebook)
    if not differences(notebook):
        return f"{notebook.name} and {twin.name} agree"
    if not twin.exists() or notebook.stat().st_mtime >= twin.stat().st_mtime:
        twin.write_text(to_text(read_notebook(notebook)))
        return f"wrote {twin.name} from {notebook.name}"
    nb = read_notebook(notebook)
    cells = jupytext.read(twin, fmt=FORMAT).cells
    ids = _keep_ids(nb.cells, cells)
    nb.cells = [nbformat.from_dict({**{k: v for k, v in dict(c).items() if k != "id"}, "id": i,
                                    **({"outputs": [], "execution_count": None} if c.cell_type == "code" else {})})
                for c, i in zip(cells, ids)]
    tmp = notebook.with_suffix(".ipynb.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, notebook)
    os.utime(twin)  # both now up to date; the twin is not older than the notebook
    return f"wrote {notebook.name} from {twin.name}"


def _keep_ids(old: list, new: list) -> list[str]:
    """Cell ids for the cells ``new`` that replace ``old``: a cell keeps the id of the old cell
    with its grade_id, else of an old cell with its exact source, else gets a fresh one."""
    by_grade = {c.metadata.get("nbgrader", {}).get("grade_id"): c.get("id") for c in old}
    by_source = {c.source: c.get("id") for c in old}
    taken, ids = set(), []
    for cell in new:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        found = by_grade.get(grade_id) if grade_id else None
        found = found or by_source.get(cell.source)
        ids.append(found if found and found not in taken else None)
        taken.add(ids[-1])
    for k, cell in enumerate(new):  # an edited cell keeps the id of the cell in its place
        if ids[k] is None and k < len(old) and old[k].cell_type == cell.cell_type and old[k].get("id") not in taken:
            ids[k] = old[k].get("id")
            taken.add(ids[k])
    used = {c.get("id") for c in old} | taken
    fresh = (f"c{k:02d}" for k in range(10_000) if f"c{k:02d}" not in used)
    return [i or next(fresh) for i in ids]
