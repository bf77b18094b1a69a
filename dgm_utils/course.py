"""The nbgrader course around this repository: configuration and release generation.

nbgrader's Python API does not read ``nbgrader_config.py`` by itself; ``load_config`` does,
so that the API, the command line and the tests all see one configuration.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


def find_root(start: str | os.PathLike | None = None) -> Path:
    """The course root: the nearest folder at or above ``start`` (default: the current
    directory) that holds ``nbgrader_config.py``."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "nbgrader_config.py").exists():
            return folder
    raise FileNotFoundError(f"no nbgrader_config.py in {here} or any folder above it; "
                            "run this from the course repository")


def ensure_venv_on_path() -> None:
    """Put this interpreter's bin folder first on PATH: nbgrader shells out to ``alembic``
    (database migrations) through PATH and fails with FileNotFoundError otherwise."""
    bindir = str(Path(sys.executable).parent)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if parts[:1] != [bindir]:
        os.environ["PATH"] = os.pathsep.join([bindir] + [p for p in parts if p != bindir])


def load_config(root: str | os.PathLike):
    """The traitlets Config of ``root/nbgrader_config.py`` (its own root points at ``root``)."""
    from traitlets.config.loader import PyFileConfigLoader

    root = Path(root).resolve()
    loader = PyFileConfigLoader("nbgrader_config.py", path=str(root))
    return loader.load_config()


def api(root: str | os.PathLike, **overrides):
    """An ``NbGraderAPI`` for the course at ``root``.

    overrides: extra config as {"Section.option": value}, e.g. {"CourseDirectory.db_url": url}.
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    ensure_venv_on_path()
    cfg = load_config(root)
    for key, value in overrides.items():
        section, option = key.split(".")
        setattr(cfg[section], option, value)
    return NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)


def generate_release(root: str | os.PathLike, names: list[str] | None = None) -> list[str]:
    """Regenerate ``course/<name>`` from ``solutions/<name>`` for each assignment (all by
    default) with nbgrader, and return their names. Raises RuntimeError with nbgrader's log
    when generation fails."""
    from .notebooks import assignments

    root = Path(root).resolve()
    names = names or assignments(root / "solutions")
    nb_api = api(root)
    for name in names:
        if not (root / "solutions" / name / f"{name}.ipynb").exists():
            raise FileNotFoundError(f"no solutions/{name}/{name}.ipynb")
        result = nb_api.generate_assignment(name, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader could not generate {name}:\n{result['log']}\n{result.get('error', '')}")
    return names


def make_scratch_course(folder: str | os.PathLike, names: list[str], repo: str | os.PathLike | None = None,
                        *, private: bool = True) -> Path:
    """A throw-away copy of the course at ``folder`` for tests, demos and benchmarks:
    ``solutions/<name>`` for each of ``names`` and ``nbgrader_config.py`` copied from ``repo``
    (default: the repository this package belongs to), then the release generated.

    private: make ``folder`` readable by its owner only (0700), as a real course must be: the
    grader's sandbox user must not be able to look inside.
    """
    import shutil

    repo = Path(repo) if repo else find_root(Path(__file__).resolve().parent)
    folder = Path(folder)
    (folder / "solutions").mkdir(parents=True, exist_ok=True)
    if private:
        os.chmod(folder, 0o700)
    for name in names:
        shutil.copytree(repo / "solutions" / name, folder / "solutions" / name, dirs_exist_ok=True)
    shutil.copy(repo / "nbgrader_config.py", folder / "nbgrader_config.py")
    generate_release(folder, names)
    return folder


def submit(root: str | os.PathLike, student: str, name: str, nb) -> Path:
    """Write ``nb`` where nbgrader expects a submission: ``submitted/<student>/<name>/<name>.ipynb``."""
    import nbformat

    folder = Path(root) / "submitted" / student / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, str(path))
    return path


def release_problems(root: str | os.PathLike, names: list[str]) -> dict[str, list[str]]:
    """{"<name>/<notebook>.ipynb": problems} for each released notebook of ``names``, comparing
    ``course/`` with ``solutions/`` (see ``notebooks.find_leaks``; an empty list means clean)."""
    from .notebooks import find_leaks, read_notebook

    cfg = load_config(root)
    root = Path(root)
    src_dir, rel_dir = cfg.CourseDirectory.source_directory, cfg.CourseDirectory.release_directory
    out = {}
    for name in names:
        for src in sorted((root / src_dir / name).glob("*.ipynb")):
            rel = root / rel_dir / name / src.name
            out[f"{name}/{src.name}"] = find_leaks(read_notebook(src), read_notebook(rel))
    return out
