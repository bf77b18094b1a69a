"""The gradebook, through nbgrader's own ``Gradebook`` API (SQLite or PostgreSQL via
SQLAlchemy): only the coordinator writes grades.

Grades are written the way nbgrader's ``SaveAutoGrades`` writes them (``auto_score`` per
grade cell, ``needs_manual_grade`` when a manual score exists or the cell is manually
graded, "No response." comments on untouched answers), so nbgrader's formgrader, export
and feedback see dgm-course's grades as their own.
"""
from __future__ import annotations

import os
from pathlib import Path


def has_assignment(db_url: str, course_id: str, assignment: str, notebooks: list[str]) -> bool:
    """True when the gradebook knows ``assignment`` and each of its ``notebooks``."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url, course_id) as gb:
        try:
            gb.find_assignment(assignment)
            for nb in notebooks:
                gb.find_notebook(nb, assignment)
        except MissingEntry:
            return False
    return True


def ensure_assignment(course, assignment: str) -> bool:
    """Register ``assignment`` (its cells, hidden tests included) in the course's gradebook if it
    is not there yet, by running nbgrader's generate_assignment against that database (the
    release it rewrites is byte-identical). Returns True if it did."""
    names = course.notebook_names(assignment)
    if has_assignment(course.db_url, course.course_id, assignment, names):
        return False
    result = course.api().generate_assignment(assignment, force=True, create=True)
    if not result["success"]:
        raise RuntimeError(f"nbgrader could not register {assignment} in {course.db_url}:\n{result['log']}")
    return True


def save_grades(db_url: str, course_id: str, assignment: str, student: str, timestamp,
                notebooks: list[dict]) -> None:
    """Store one student's autograded scores.

    notebooks: [{"name", "scores": {grade_id: auto_score or None (manual)},
    "untouched": [grade_id of answer cells left as the stub]}]. Manual scores already in
    the gradebook are kept (and flagged for review, as nbgrader does).
    """
    import warnings

    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings(), Gradebook(db_url, course_id) as gb:
        warnings.simplefilter("ignore", SAWarning)  # nbgrader 0.9.6's own autoflush notices
        gb.update_or_create_student(student)
        kw = {"timestamp": timestamp} if timestamp else {}
        gb.update_or_create_submission(assignment, student, **kw)
        for nb in notebooks:
            for grade_id, score in sorted(nb["scores"].items()):
                grade = gb.find_grade(grade_id, nb["name"], assignment, student)
                grade.auto_score = score
                grade.needs_manual_grade = grade.manual_score is not None or score is None
            sub = gb.find_submission_notebook(nb["name"], assignment, student)
            for comment in sub.comments:
                comment.auto_comment = "No response." if comment.name in nb["untouched"] else None
        gb.db.commit()


def read_scores(db_url: str, course_id: str, assignment: str) -> dict[str, dict[str, tuple]]:
    """{student: {grade_id: (score, auto_score, max_score)}} of every submission of
    ``assignment`` (score is the manual score when there is one)."""
    from nbgrader.api import Gradebook, MissingEntry

    out: dict[str, dict[str, tuple]] = {}
    with Gradebook(db_url, course_id) as gb:
        try:
            assignment_row = gb.find_assignment(assignment)
        except MissingEntry:
            return {}
        for sub in assignment_row.submissions:
            grades = out.setdefault(sub.student.id, {})
            for nb in sub.notebooks:
                for g in nb.grades:
                    grades[g.name] = (g.score, g.auto_score, g.max_score)
    return out


def read_timestamp(folder: str | os.PathLike):
    """The submission time in ``folder/timestamp.txt`` as nbgrader parses it, or None."""
    from nbgrader.utils import parse_utc

    path = Path(folder) / "timestamp.txt"
    if not path.is_file() or path.is_symlink() or path.stat().st_size > 1000:  # a student's file: read it warily
        return None
    try:
        return parse_utc(path.read_text().strip())
    except Exception:  # an unparsable timestamp is ignored, as by nbgrader
        return None
