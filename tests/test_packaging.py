"""Install files agree with each other, and nbgrader_config.py says what the course needs."""
from __future__ import annotations

import re
import subprocess
import sys

import yaml

from conftest import ROOT


def pins(lines) -> dict[str, str]:
    out = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", line)
        assert m, f"not an exact pin: {line!r}"
        name = re.sub(r"\[.*\]", "", m.group(1))  # extras do not change the distribution
        out[re.sub(r"[-_.]+", "-", name.lower())] = m.group(2)
    return out


def test_environment_yml_matches_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert pins(pip_section) == pins((ROOT / "requirements.txt").read_text().splitlines())


def test_lock_contains_every_requirement_at_its_version():
    req = pins((ROOT / "requirements.txt").read_text().splitlines())
    lock = pins((ROOT / "requirements.lock").read_text().splitlines())
    missing = {k: v for k, v in req.items() if lock.get(k) != v}
    assert not missing, f"requirements.lock disagrees with requirements.txt on {missing}"
    assert lock["torch"] == "2.13.0", "development and CI must pin torch==2.13.0 (CPU wheel)"
    assert not any("+cpu" in v for v in lock.values()), "strip +cpu from the lock file"


def test_installed_versions_are_the_locked_ones():
    from importlib.metadata import version

    req = pins((ROOT / "requirements.txt").read_text().splitlines())
    wrong = {}
    for name, pinned in req.items():
        got = version(name).split("+")[0]
        if got != pinned:
            wrong[name] = (got, pinned)
    assert not wrong, f"installed (got, pinned): {wrong}; run make venv"


def test_nbgrader_config():
    from dgm_course.layout import load_config

    cfg = load_config(ROOT)
    assert cfg.CourseDirectory.root == str(ROOT)
    assert cfg.CourseDirectory.source_directory == "solutions"
    assert cfg.CourseDirectory.release_directory == "course"
    assert cfg.Execute.kernel_name == "python3"
    assert cfg.Execute.timeout >= 60
    assert cfg.OverwriteCells.add_missing_cells is True
    assert cfg.IgnorePattern.enabled is True and re.search(cfg.IgnorePattern.pattern, "UserWarning: x")
    assert any("ClearHiddenTests" in p for p in cfg.GenerateFeedback.preprocessors)
    assert "NotImplementedError(" in cfg.ClearSolutions.code_stub["python"]


def test_root_comes_from_the_config_file_location(tmp_path):
    """Running nbgrader from another folder must not create a gradebook there."""
    code = ("from nbgrader.apps import NbGraderAPI; from nbgrader.coursedir import CourseDirectory;"
            "from dgm_course.layout import load_config; import sys;"
            f"c = load_config({str(ROOT)!r}); print(CourseDirectory(config=c).root)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(ROOT)
    assert not list(tmp_path.iterdir())


def test_gitignore_covers_working_files():
    ignored = (ROOT / ".gitignore").read_text().split()
    for entry in [".venv/", "gradebook.db", "submitted/", "autograded/", "feedback/", "__pycache__/"]:
        assert entry in ignored, f".gitignore misses {entry}"


def test_ci_calls_make_test():
    run = (ROOT / ".ci" / "run").read_text()
    assert "make test" in run and "bubblewrap" in run
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make lab" in readme
