"""dgm_course: the instructor's side of the course (the ``dgm-course`` command).

Release, autograde, feedback, report. Grading runs every test in a *checker* process that
never executes student code, and the student's code in a sandboxed *student process*
(``sandbox.py`` is where isolation is enforced); the design is in ``DESIGN.md`` beside this
file. Nothing here is imported by the notebooks: they import ``dgm_utils``.
"""

__version__ = "0.2.0"
