"""dgm_utils: shared helpers for the dgm-course notebooks.

Modules (import what you need; torch is only imported by the modules that use it):

- ``dgm_utils.data``: offline data sets (bundled with scikit-learn or generated).
- ``dgm_utils.plotting``: decision boundaries, loss curves.
- ``dgm_utils.checks``: assertions for test cells whose messages say what differs.
- ``dgm_utils.seeding``: explicit random generators and notebook-level seeding.
- ``dgm_utils.training``: a generic training loop with a progress bar (torch).

Nothing here solves an exercise: a helper is the shared version of what two notebooks need.
The instructor's tools (release, grading, feedback) are the separate package ``dgm_course``.
"""

__version__ = "0.1.0"
