"""dgm_utils.grading: the ``dgm-course`` instructor tool (parallel, tamper-resistant
autograding on nbgrader's gradebook).

Modules: ``cli`` (the command), ``runner`` (coordinator; its docstring explains the
design), ``worker`` (the sandboxed process running one notebook), ``sandbox`` (limits,
user switch, sealing, tripwire, audit hook), ``trusted`` and ``scan`` (what runs, and
what is flagged), ``store`` (gradebook), ``graded``/``feedback``/``report`` (outputs),
``demo`` (a synthetic class).
"""
