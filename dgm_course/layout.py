"""The course on disk: one object that knows the root, the nbgrader configuration, the folders
and the gradebook URL.

nbgrader's Python API does not read ``nbgrader_config.py`` by itself; ``Course`` does, so the
API, the command line and the tests all see one configuration, and every folder comes from
nbgrader's own ``CourseDirectory``.
"""
from __future__ import annotations

import functools
import os
import shutil
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
                            "run this from the course repository (or pass --course DIR)")


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

    return PyFileConfigLoader("nbgrader_config.py", path=str(Path(root).resolve())).load_config()


def normalize_db_url(url: str) -> str:
    """``postgresql://...`` with the driver that is installed (SQLAlchemy 2.1 means psycopg 3 by a
    bare ``postgresql://``; with only psycopg2 it becomes ``postgresql+psycopg2://``)."""
    import importlib.util

    if url.startswith(("postgresql://", "postgres://")) and importlib.util.find_spec("psycopg") is None \
            and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


class Course:
    """A course at ``root``: its config, nbgrader ``CourseDirectory`` and gradebook URL.

    db_url: a gradebook other than the config's (e.g. ``postgresql://...``)."""

    def __init__(self, root: str | os.PathLike | None = None, db_url: str | None = None):
        self.root = find_root(root) if root is None else Path(root).resolve()
        if not (self.root / "nbgrader_config.py").exists():
            raise FileNotFoundError(f"no nbgrader_config.py in {self.root}")
        self.config = load_config(self.root)
        self._db_url = db_url

    @functools.cached_property
    def coursedir(self):
        from nbgrader.coursedir import CourseDirectory

        return CourseDirectory(config=self.config)

    @property
    def course_id(self) -> str:
        return self.coursedir.course_id

    @property
    def db_url(self) -> str:
        """The gradebook: the one given, else the config's, else nbgrader's default."""
        url = self._db_url or self.coursedir.db_url or "sqlite:///" + str(self.root / "gradebook.db")
        return normalize_db_url(url)

    def folder(self, step: str, assignment: str = "", student: str = "") -> Path:
        """A folder of nbgrader's layout: step is "source", "release", "submitted", "autograded"
        or "feedback" (with the student for the last three)."""
        name = getattr(self.coursedir, f"{step}_directory")
        path = self.root / name
        if student:
            path = path / student
        return path / assignment if assignment else path

    def assignments(self, step: str = "source") -> list[str]:
        """Assignment names (folders NN_name holding NN_name.ipynb), sorted."""
        from .notebooks import assignments

        folder = self.folder(step)
        return assignments(folder) if folder.is_dir() else []

    def notebook_names(self, assignment: str) -> list[str]:
        return sorted(p.stem for p in self.folder("source", assignment).glob("*.ipynb"))

    def students(self, assignment: str) -> list[str]:
        """Students with a submitted/<student>/<assignment>/ folder, sorted."""
        base = self.folder("submitted")
        return sorted(d.name for d in base.iterdir() if (d / assignment).is_dir()) if base.is_dir() else []

    def report_path(self, assignment: str, student: str) -> Path:
        """The instructor's grading report of a student (flags, crashes): reports/<assignment>/
        grading/<student>.json, outside autograded/ (whose files nbgrader hands to students)."""
        return self.root / "reports" / assignment / "grading" / f"{student}.json"

    def api(self, **overrides):
        """An ``NbGraderAPI`` on this course; overrides: {"Section.option": value}."""
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        ensure_venv_on_path()
        cfg = load_config(self.root)
        cfg.CourseDirectory.db_url = self.db_url
        for key, value in overrides.items():
            section, option = key.split(".")
            setattr(cfg[section], option, value)
        return NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)


def make_scratch_course(folder: str | os.PathLike, names: list[str], repo: str | os.PathLike | None = None,
                        *, private: bool = True) -> Path:
    """A throw-away copy of the course at ``folder`` for tests, demos and benchmarks:
    ``solutions/<name>`` for each of ``names`` and ``nbgrader_config.py`` copied from ``repo``
    (default: the repository this package belongs to), then the release generated.

    private: make ``folder`` readable by its owner only (0700), as a real course must be."""
    from .release import generate_release

    repo = Path(repo) if repo else find_root(Path(__file__).resolve().parent)
    folder = Path(folder)
    (folder / "solutions").mkdir(parents=True, exist_ok=True)
    if private:
        os.chmod(folder, 0o700)
    for name in names:
        shutil.copytree(repo / "solutions" / name, folder / "solutions" / name, dirs_exist_ok=True)
    shutil.copy(repo / "nbgrader_config.py", folder / "nbgrader_config.py")
    generate_release(Course(folder), names)
    return folder


def submit(root: str | os.PathLike, student: str, name: str, nb) -> Path:
    """Write ``nb`` where nbgrader expects a submission: ``submitted/<student>/<name>/<name>.ipynb``."""
    import nbformat

    folder = Path(root) / "submitted" / student / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, str(path))
    return path
