"""`make lab` starts JupyterLab on course/ with nbgrader's lab and server extensions enabled."""
from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""


@contextlib.contextmanager
def start_lab(root: Path | None = None, extra_args: str = ""):
    """Start JupyterLab exactly as `make lab` does (on loopback, with a token) and yield
    (base_url, token); stop it on exit. root: the course root to serve (default: the repo)."""
    port, token = free_port(), "dgm-test-token"
    args = [f"LAB_PORT={port}", f"LAB_ARGS=--no-browser --ServerApp.ip=127.0.0.1 "
                                 f"--IdentityProvider.token={token} {extra_args}"]
    if root is not None:
        args.append(f"LAB_ROOT={root}")
    proc = subprocess.Popen(["make", "-s", "lab", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"make lab exited with {proc.returncode}:\n{proc.stdout.read()}")
            with contextlib.suppress(OSError):
                if get(f"{base}/api/status?token={token}")[0] == 200:
                    break
            time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within 90 s")
        yield base, token
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def lab_server():
    with start_lab() as server:
        yield server


@pytest.mark.slow
def test_lab_opens_on_course_with_nbgrader_extension(lab_server):
    base, token = lab_server
    status, page = get(f"{base}/lab/tree/course?token={token}")
    assert status == 200
    config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                  page, re.S).group(1))
    names = [e["name"] for e in config.get("federated_extensions", [])]
    assert "@jupyter/nbgrader" in names, f"nbgrader lab extension not loaded; extensions: {names}"
    disabled = config.get("disabledExtensions", [])
    assert not any(d.startswith("@jupyter/nbgrader") for d in disabled), f"disabled: {disabled}"
    status, listing = get(f"{base}/api/contents/course?token={token}")
    assert status == 200
    assert "01_logistic_regression" in [c["name"] for c in json.loads(listing)["content"]]


@pytest.mark.slow
def test_nbgrader_server_extensions_answer(lab_server):
    base, token = lab_server
    assert get(f"{base}/formgrader?token={token}")[0] == 200, "nbgrader's formgrader server extension is off"
