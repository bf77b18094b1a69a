"""Typed records passed between the coordinator, the checker, feedback and reports.

The checker process sends ``CellResult``s as JSON lines (the coordinator rebuilds them here);
everything else stays in the coordinator or travels to a Dask worker and back (pickled by
Dask, between processes of the grading user, never to or from student code).
"""
from __future__ import annotations

import dataclasses

from .plan import Plan


@dataclasses.dataclass
class Limits:
    """Limits of one submitted notebook.

    timeout: wall seconds per cell (every call into the student process during a test cell
    counts); notebook_timeout: wall seconds for the whole notebook; memory_mb: address space
    of the student process; startup_timeout: seconds for a student process to start; sandbox:
    "bwrap" or "none" (process boundary only)."""

    timeout: float = 120.0
    notebook_timeout: float = 900.0
    memory_mb: int = 2048
    startup_timeout: float = 180.0
    scratch_mb: int = 64
    sandbox: str = "bwrap"


@dataclasses.dataclass
class CellResult:
    """What happened to one cell. status: "ok", "error" (an exception: a failed test, or an
    error in student code), "crashed" (the student process died or hung during the cell),
    "not-run" (an earlier crash cost the rest of this exercise). mistake: the key of the
    mistake a failed check named (``dgm_utils.checks``), if any."""

    index: int
    kind: str
    status: str
    ename: str = ""
    evalue: str = ""
    frames: list = dataclasses.field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    reason: str = ""
    mistake: str = ""

    @classmethod
    def from_json(cls, record: dict) -> CellResult:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in fields and v is not None})


@dataclasses.dataclass
class NotebookRun:
    """One submitted notebook graded by a checker. status: "ok", or why the run ended early
    (the notebook time limit, a checker failure)."""

    name: str
    status: str
    cells: dict[int, CellResult]
    seconds: float = 0.0
    restarts: int = 0
    crashes: list[str] = dataclasses.field(default_factory=list)
    startup_seconds: list[float] = dataclasses.field(default_factory=list)
    log: str = ""
    sandbox: str = "bwrap"


@dataclasses.dataclass
class NotebookScore:
    """scores: {grade_id: points, or None for a manually graded cell}; maxima: {grade_id:
    points}; untouched: answer grade_ids left as the stub; auto / auto_max: autograded points."""

    scores: dict[str, float | None]
    maxima: dict[str, float]
    untouched: list[str]
    auto: float
    auto_max: float


@dataclasses.dataclass
class GradedNotebook:
    plan: Plan
    run: NotebookRun
    score: NotebookScore


@dataclasses.dataclass
class SubmissionTask:
    """The unit of work of a grading worker (a thread or a Dask task): one student's notebooks
    of one assignment. files: the release's data files {relative path: bytes}."""

    student: str
    plans: list[Plan]
    limits: Limits
    files: dict[str, bytes]


@dataclasses.dataclass
class SubmissionResult:
    student: str
    notebooks: list[GradedNotebook]
    seconds: float


@dataclasses.dataclass
class SummaryRow:
    """One line of the autograde summary."""

    student: str
    score: float
    max: float
    seconds: float
    status: str
    flags: list[str]
