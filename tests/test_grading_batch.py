"""dgm-course on whole classes, in scratch courses built from solutions/01_logistic_regression:
identical grades with --jobs 1, --jobs 2 and a local Dask cluster, PostgreSQL vs SQLite, and the
demo and the other commands. (The hostile-submission zoo is tests/test_zoo.py.)"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import SOLUTIONS, autograded_points
from dgm_course.feedback import visible_text
from dgm_course.layout import Course, make_scratch_course

A = "01_logistic_regression"
BIN = Path(sys.executable).parent


def gradebook_scores(course: Path, db_url: str | None = None) -> dict[str, dict[str, tuple]]:
    from dgm_course.gradebook import read_scores

    c = Course(course, db_url=db_url)
    return read_scores(c.db_url, c.course_id, A)


# ----------------------------------------------------------------------------- determinism

def _class(tmp_path: Path, keep: set[str]) -> Path:
    """A scratch course with the demo's students in ``keep``."""
    from dgm_course.demo import make_class

    course = make_scratch_course(tmp_path / "course", [A], SOLUTIONS.parent)
    make_class(course)
    for student in (course / "submitted").iterdir():
        if student.name not in keep:
            shutil.rmtree(student)
    return course


@pytest.mark.slow
def test_grades_identical_with_jobs_and_dask(tmp_path):
    from dask.distributed import LocalCluster

    from dgm_course.coordinator import autograde
    from dgm_course.records import Limits

    base = _class(tmp_path, {"perfect", "blank", "patcher", "killer"})
    copies = {}
    for name in ("jobs1", "jobs2", "dask"):
        copies[name] = tmp_path / name
        shutil.copytree(base, copies[name])
    results = {}
    for name, jobs in (("jobs1", 1), ("jobs2", 2)):
        rows = autograde(Course(copies[name]), A, jobs=jobs, limits=Limits(timeout=30), progress=False)
        results[name] = ({r.student: r.score for r in rows}, gradebook_scores(copies[name]))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        address = cluster.scheduler_address.replace("tcp://", "")
        rows = autograde(Course(copies["dask"]), A, executor=f"dask://{address}", limits=Limits(timeout=30),
                         progress=False)
        results["dask"] = ({r.student: r.score for r in rows}, gradebook_scores(copies["dask"]))
    total = autograded_points(A)
    assert results["jobs1"][0] == {"blank": 0, "perfect": total,  # each attack costs its own exercise only
                                   "killer": total - autograded_points(A, "fit_logistic_regression"),
                                   "patcher": total - autograded_points(A, "negative_log_likelihood")}
    assert results["jobs1"] == results["jobs2"] == results["dask"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _postgres_binaries() -> tuple[str, str]:
    import glob

    found = []
    for tool in ("initdb", "pg_ctl"):
        path = shutil.which(tool) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))), None)
        found.append(path)
    if not all(found):
        pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) not found: install them with "
                    "`apt-get install postgresql` (this test needs a real server)")
    return found[0], found[1]


@pytest.fixture
def postgres_url():
    """A PostgreSQL server started for the test on 127.0.0.1 (unix socket in a temp folder),
    run as the unprivileged 'postgres' user when we are root; stopped afterwards."""
    initdb, pg_ctl = _postgres_binaries()
    base = Path(tempfile.mkdtemp(prefix="dgm-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root and no 'postgres' user exists to run the server "
                        "(`apt-get install postgresql` creates it)")
        os.chown(base, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = base / "data"
    try:
        subprocess.run(prefix + [initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                                 "--no-locale", "-N"], check=True, capture_output=True, timeout=120)
        subprocess.run(prefix + [pg_ctl, "-D", str(data), "-l", str(base / "server.log"), "-w", "-t", "60",
                                 "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off",
                                 "start"], check=True, capture_output=True, timeout=120)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(prefix + [pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True,
                       timeout=60)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_postgres_and_sqlite_give_identical_grades(tmp_path, postgres_url):
    from dgm_course.coordinator import autograde
    from dgm_course.records import Limits

    keep = {"perfect", "blank", "patcher"}
    base = _class(tmp_path, keep)
    pg_course = tmp_path / "pg"
    shutil.copytree(base, pg_course)
    autograde(Course(base), A, jobs=2, limits=Limits(timeout=30), progress=False)
    autograde(Course(pg_course, db_url=postgres_url), A, jobs=2, limits=Limits(timeout=30), progress=False)
    sqlite_scores, pg_scores = gradebook_scores(base), gradebook_scores(pg_course, postgres_url)
    assert sorted(pg_scores) == sorted(keep) and pg_scores == sqlite_scores
    assert not (pg_course / "gradebook.db").exists() or not gradebook_scores(pg_course), \
        "the PostgreSQL run must not have written grades to SQLite"


# ----------------------------------------------------------------------------- the command

@pytest.mark.slow
def test_demo_and_commands(tmp_path):
    exe = str(BIN / "dgm-course")
    demo = tmp_path / "demo"
    proc = subprocess.run([exe, "demo", "--dir", str(demo), "--jobs", "2"], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    total = autograded_points(A)
    assert re.search(rf"^perfect +{total:g} ", proc.stdout, flags=re.M) and "killer" in proc.stdout, proc.stdout
    from dgm_course.demo import MISTAKES, PLANTED

    students = ["perfect", "blank", "partial", "patcher", "killer", "reader", "copier-a", "copier-b", *PLANTED]
    for student in students:
        assert (demo / "feedback" / student / A / f"{A}.html").exists()
    assert (demo / "reports" / f"{A}.png").read_bytes()[:4] == b"\x89PNG"
    report = json.loads((demo / "reports" / A / "grading" / "killer.json").read_text())
    assert report["score"] == total - autograded_points(A, "fit_logistic_regression")
    assert "crashed in fit_logistic_regression" in " ".join(report["flags"])
    assert "crashes and timeouts" in proc.stdout and "killer  01_logistic_regression  fit_logistic_regression: exit" \
        in proc.stdout

    run = lambda *args: subprocess.run([exe, *args, "--course", str(demo)], capture_output=True,  # noqa: E731
                                       text=True, timeout=300)
    out = run("export", "--to", "out.csv")
    assert out.returncode == 0 and (demo / "out.csv").read_text().count("\n") == len(students) + 1, out.stderr
    out = run("report", A)
    assert out.returncode == 0 and "negative_log_likelihood" in out.stdout and "54%" in out.stdout, out.stdout
    assert "named mistakes" in out.stdout and (demo / "reports" / f"{A}-mistakes.png").read_bytes()[:4] == b"\x89PNG"

    # the named mistakes the report counts are exactly those planted in the demo class
    out = run("report", A, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert {(r["exercise"], r["mistake"]): int(r["students"]) for r in rows} == MISTAKES, out.stdout
    assert all(r["words"] for r in rows)
    words = {r["mistake"]: r["words"] for r in rows}
    page = visible_text((demo / "feedback" / "mistake-sum-1" / A / f"{A}.html").read_text())
    assert words["nll.sum-not-mean"] in page, "the student's feedback does not name the mistake in plain words"
    assert words["nll.sum-not-mean"] not in visible_text((demo / "feedback" / "perfect" / A / f"{A}.html").read_text())

    # the near-copy with renamed variables ranks first, well above every other pair
    out = run("similarity", A, "--top", "5")
    assert out.returncode == 0, out.stdout + out.stderr
    pairs = list(csv.DictReader(open(demo / "reports" / f"{A}-similarity.csv")))
    assert len(pairs) == len(students) * (len(students) - 1) // 2
    assert {pairs[0]["student_a"], pairs[0]["student_b"]} == {"copier-a", "copier-b"}, pairs[:3]
    assert float(pairs[0]["similarity"]) > 0.95 and float(pairs[1]["similarity"]) < 0.9, pairs[:3]
    assert "copier-a and copier-b" in out.stdout.splitlines()[1]
    html = (demo / "reports" / f"{A}-similarity.html").read_text()
    marked = re.findall(r"<mark>(.*?)</mark>", html, flags=re.S)
    assert marked and not [m for m in marked if "NotImplementedError" in m or "YOUR CODE HERE" in m], \
        "the release's stub counted as matching code"
    out = run("release", A)
    assert out.returncode == 0 and "clean" in out.stdout, out.stdout + out.stderr
    out = run("autograde", A, "--student", "perfect", "--quiet", "--timeout", "30")
    assert out.returncode == 0 and f"perfect  {total:g}" in out.stdout, out.stdout + out.stderr
    out = run("autograde", "99_missing")
    assert out.returncode == 1 and "no notebook" in out.stderr
    out = run("autograde", A, "--student", "blank", "--quiet", "--no-sandbox")
    assert out.returncode == 0 and "blank    0" in out.stdout and "WARNING: graded with --no-sandbox" in out.stdout
    assert "WITHOUT the OS sandbox" in json.loads((demo / "reports" / A / "grading" / "blank.json").read_text())[
        "flags"][0]
