"""The course in a real browser: Playwright drives Debian's Chromium against a JupyterLab
server started by `make lab` (on loopback, with a token) in a scratch copy of the course.

Screenshots of every step go to screenshots/ (git-ignored); a failing step names its screenshot.
Without Chromium these tests are skipped locally with a clear reason, and fail under CI.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, SOLUTIONS, assignment_names
from dgm_course.notebooks import fill_answers, read_notebook

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = ROOT / "screenshots"
NB01 = "01_logistic_regression"

if not CHROMIUM:
    if os.environ.get("CI"):
        pytest.fail("Chromium is missing on CI: .ci/run must `apt-get install chromium`", pytrace=False)
    pytest.skip("browser tests need Chromium: sudo apt-get install chromium (not found on PATH)",
                allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402

from test_lab import start_lab  # noqa: E402

SIGMOID = '''def sigmoid(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
'''


@pytest.fixture(scope="module")
def course_copy(tmp_path_factory):
    """A scratch course root: release, gradebook with every assignment, two graded students."""
    from dgm_course.layout import make_scratch_course, submit

    root = make_scratch_course(tmp_path_factory.mktemp("browser-course"), assignment_names(), ROOT)
    release = read_notebook(root / "course" / NB01 / f"{NB01}.ipynb")
    perfect = fill_answers(release, read_notebook(SOLUTIONS / NB01 / f"{NB01}.ipynb"))
    nbformat.write(perfect, str(root / "course" / NB01 / "perfect_copy.ipynb"))
    for student, nb in [("ada", perfect), ("bob", release)]:
        submit(root, student, NB01, nb)
    subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "autograde", NB01], cwd=root,
                   check=True, capture_output=True, timeout=600)
    return root


def user_settings(folder: Path) -> Path:
    """JupyterLab user settings for the test: render every cell (no virtual scrolling, so
    off-screen cells exist in the page) and do not ask about news."""
    import json

    for plugin, values in [("notebook-extension/tracker", {"windowingMode": "none"}),
                           ("apputils-extension/notification", {"fetchNews": "false"})]:
        path = folder / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    return folder


@pytest.fixture(scope="module")
def lab(course_copy, tmp_path_factory):
    settings = user_settings(tmp_path_factory.mktemp("lab-settings"))
    with start_lab(course_copy, "--LabApp.expose_app_in_browser=True "
                                f"--LabApp.user_settings_dir={settings}") as server:
        yield server


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    home = tmp_path_factory.mktemp("chromium-home")  # Chromium writes crash and dconf state under $HOME
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(home / ".cache")}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, env=env, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        yield b
        b.close()


class Steps:
    """Run named steps; each leaves a screenshot, and a failure names the screenshot."""

    def __init__(self, page, flow: str):
        self.page, self.flow, self.n = page, flow, 0
        SHOTS.mkdir(exist_ok=True)

    @contextlib.contextmanager
    def step(self, name: str):
        self.n += 1
        path = SHOTS / f"{self.flow}-{self.n:02d}-{name}.png"
        try:
            yield
        except Exception as exc:
            with contextlib.suppress(Exception):
                self.page.screenshot(path=str(path))
            raise AssertionError(f"{self.flow} step {name!r} failed ({exc}); screenshot: {path}") from exc
        self.page.screenshot(path=str(path))


def new_flow(browser, flow: str):
    """A fresh page and its step recorder (screenshots named after ``flow``)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    return page, Steps(page, flow)


def open_notebook(page, base, token, path):
    page.goto(f"{base}/lab/tree/{path}?reset&token={token}")  # reset: no tabs restored
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_function("window.jupyterapp !== undefined", timeout=30_000)
    page.wait_for_function(
        "(() => { const k = window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel;"
        " return !!k && k.status === 'idle' && k.connectionStatus === 'connected'; })()", timeout=90_000)


def run_all(page):
    """Run all cells (as Run > Run All Cells does), retrying if the freshly started kernel
    dropped the first request: success means the first code cell got an execution count."""
    first_prompt = page.locator(".jp-Notebook:visible .jp-CodeCell .jp-InputPrompt").first
    for _ in range(3):
        page.locator(".jp-Notebook:visible .jp-Cell").first.click()
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        with contextlib.suppress(Exception):
            page.wait_for_function(
                "(() => { const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
                " .find(e => e.offsetParent !== null);"
                " return p && /\\[(\\d+|\\*)\\]/.test(p.innerText); })()", timeout=15_000)
            return
    raise AssertionError(f"Run All did not start: first prompt is {first_prompt.inner_text()!r}")


@pytest.mark.slow
def test_student_flow(lab, browser):
    base, token = lab
    page, steps = new_flow(browser, "student")
    with steps.step("open-notebook"):
        open_notebook(page, base, token, f"course/{NB01}/{NB01}.ipynb")
    with steps.step("run-all-stub-fails"):
        run_all(page)  # stops at the first error: the first exercise's test cell
        error = page.locator(".jp-OutputArea-output").filter(has_text="NotImplementedError").first
        error.wait_for(timeout=60_000)
        text = error.inner_text()
        assert "Replace this line with your code" in text, f"stub message not shown: {text[-300:]}"
        assert "sigmoid" in text, f"the first failure is not the sigmoid exercise: {text[-300:]}"
    with steps.step("write-answer"):
        cell = page.locator(".jp-CodeCell").filter(has_text="def sigmoid(z):").first
        cell.locator(".cm-content").click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(SIGMOID)
        page.keyboard.press("Shift+Enter")  # run the answer, move to its test cell
        page.keyboard.press("Shift+Enter")  # run the test cell
        page.locator(".jp-OutputArea-output").filter(has_text="sigmoid: all visible tests passed").first.wait_for(
            timeout=60_000)
    with steps.step("validate"):
        page.keyboard.press("Control+s")
        page.wait_for_timeout(1000)
        page.get_by_role("button", name="Validate").first.click()
        dialog = page.locator(".jp-Dialog-content")
        dialog.wait_for(timeout=120_000)
        page.wait_for_function(
            "document.querySelector('.jp-Dialog-content') && "
            "/fail|error|passed|success/i.test(document.querySelector('.jp-Dialog-content').innerText)",
            timeout=120_000)
        result = dialog.inner_text()
        assert "failed" in result.lower() and "NotImplementedError" in result, (
            f"Validate should report the unfinished exercises: {result[:500]}")
        page.keyboard.press("Escape")
    with steps.step("figures-render"):
        open_notebook(page, base, token, f"course/{NB01}/perfect_copy.ipynb")
        run_all(page)
        page.wait_for_function(
            "[...document.querySelectorAll('.jp-RenderedImage img')]"
            ".filter(e => e.offsetParent !== null).length >= 2", timeout=120_000)
    page.close()


@pytest.mark.slow
def test_instructor_formgrader_flow(lab, browser):
    base, token = lab
    page, steps = new_flow(browser, "instructor")
    with steps.step("formgrader-assignments"):
        page.goto(f"{base}/formgrader?token={token}")
        for name in assignment_names():
            page.get_by_text(name, exact=True).first.wait_for(timeout=60_000)
    with steps.step("submissions-with-scores"):
        page.goto(f"{base}/formgrader/manage_submissions/{NB01}?token={token}")
        for student in ["ada", "bob"]:
            page.get_by_text(student, exact=True).first.wait_for(timeout=60_000)
        nb = read_notebook(SOLUTIONS / NB01 / f"{NB01}.ipynb")
        points = [(c.metadata["nbgrader"].get("points", 0), c.cell_type == "code")
                  for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
        auto, total = sum(p for p, code in points if code), sum(p for p, _ in points)
        for student, score in [("ada", auto), ("bob", 0)]:
            row = page.locator("tr").filter(has_text=student).first.inner_text()
            assert f"{score:g} / {total:g}" in row, f"{student}: expected score {score:g} / {total:g}, row: {row!r}"
    page.close()
