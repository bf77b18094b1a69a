"""nbgrader configuration for dgm-course.

Instructors edit solutions/ (the nbgrader *source*); `make release` writes the student
release to course/. The course root is this file's folder, whatever the current directory,
so no command can create a stray gradebook.db elsewhere.
"""
import os

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

ROOT = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = ROOT
c.CourseDirectory.course_id = "dgm-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "course"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(ROOT, "gradebook.db")
# Files in solutions/<assignment>/ that must never be copied into the release.
# mistakes.toml: the plain words of each named mistake (hidden tests' too), instructor-only.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "*.orig", "*.bak", "mistakes.toml",
                             "[0-9][0-9]_*.py"]  # the text twins (dgm_course/twins.py)

# The stub students see in place of each solution.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\n"
    'raise NotImplementedError("Replace this line with your code, then run the tests below.")'
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Execution while validating and autograding: a fixed kernel (not the submission's
# kernelspec) and a per-cell timeout sized for the slowest cell (training) with margin.
c.Execute.kernel_name = "python3"
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
c.Execute.allow_errors = True

# A test cell whose code a student deleted is put back from the gradebook.
c.OverwriteCells.add_missing_cells = True

# Warnings printed on stderr (DeprecationWarning, UserWarning, tqdm bars...) must not
# cost points: nbgrader scores any stderr output of a test cell as zero.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(?s).*"

# Feedback must not show hidden tests.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# nbgrader's exchange (assignment list / collect) inside the course, not in /usr/local/share.
c.Exchange.root = os.path.join(ROOT, "exchange")
