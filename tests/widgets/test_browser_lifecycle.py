"""The lifecycle panel in a real JupyterLab, driven by a real browser.

JupyterLab serves the notebooks; Playwright drives Debian's chromium (headless) to open
notebook 08, run it down to the lifecycle panel, and click the panel's buttons as a learner
would. After each click the test checks what the learner sees: the buttons the new state
forbids greyed out, and the event the step published in the panel's event log. Screenshots
land in ``artifacts/browser/`` (CI keeps them), showing the widgets rendered as widgets, not
as their text fallback.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from labkit.errors import LabkitError

TOP = Path(__file__).resolve().parents[2]
ARTIFACTS = TOP / "artifacts" / "browser"
NOTEBOOK = next(TOP.glob("notebooks/08-*.ipynb"), None)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PANEL_CONTAINER = "panel08"  # the container notebook 08's panel drives

pytestmark = [pytest.mark.root, pytest.mark.registry, pytest.mark.slow, pytest.mark.tool("chromium")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyterlab(tmp_path: Path) -> Iterator[str]:
    """JupyterLab on a free loopback port with a known token; yields the notebook's URL with the token.

    It serves a copy of the notebooks, so that an autosave never rewrites the stored outputs nbval compares.
    """
    notebooks = tmp_path / "notebooks"
    shutil.copytree(TOP / "notebooks", notebooks)
    port, token = _free_port(), secrets.token_hex(16)
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter"), "lab", "--allow-root", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebooks}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/api/status", params={"token": token}, timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline and server.poll() is None, "JupyterLab did not start"
            time.sleep(0.3)
        yield f"{base}/lab/tree/{NOTEBOOK.name}?token={token}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        _remove_panel_container()


def _remove_panel_container() -> None:
    import labkit

    sup = labkit.Supervisor()
    with contextlib.suppress(LabkitError):
        container = sup.container(PANEL_CONTAINER)
        with contextlib.suppress(LabkitError):
            task = container.task()
            task.kill(signal.SIGKILL)
            task.wait()
            task.delete()
        container.delete()


def _panel_cell_index() -> int:
    import json

    cells = json.loads(NOTEBOOK.read_text())["cells"]
    return next(i for i, c in enumerate(cells) if "LifecyclePanel(" in "".join(c["source"]))


def test_clicking_the_lifecycle_panel(jupyterlab: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    _remove_panel_container()  # left by an interrupted run
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)  # assertions wait as long as actions do: a kernel on a busy machine is slow
        page.goto(jupyterlab)
        page.locator(".jp-Notebook .jp-Cell").first.click()
        expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(1)

        # Run the notebook from the top down to the cell that shows the panel, as a learner would.
        for _ in range(_panel_cell_index() + 1):
            page.keyboard.press("Shift+Enter")
        panel = page.locator(".widget-vbox").filter(has=page.locator(".widget-button", has_text="resume")).last
        button = {verb: panel.locator(".widget-button", has_text=re.compile(f"^{verb}$"))
                  for verb in ("create", "start", "pause", "resume", "exec", "kill", "delete")}
        expect(button["create"]).to_be_enabled()
        expect(button["start"]).to_be_disabled()
        panel.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "1-no-task.png"))

        def click(verb: str, event: str, enabled: tuple[str, ...], disabled: tuple[str, ...], shot: str) -> None:
            button[verb].click()
            expect(panel).to_contain_text(event)
            for name in enabled:
                expect(button[name]).to_be_enabled()
            for name in disabled:
                expect(button[name]).to_be_disabled()
            page.screenshot(path=str(ARTIFACTS / shot))

        click("create", "/tasks/create", ("start", "kill"), ("create", "pause", "delete"), "2-created.png")
        click("start", "/tasks/start", ("pause", "exec", "kill"), ("start", "delete"), "3-running.png")
        click("pause", "/tasks/paused", ("resume", "kill"), ("pause", "exec"), "4-paused.png")
        click("resume", "/tasks/resumed", ("pause",), ("resume",), "5-resumed.png")
        panel.locator("select").select_option("SIGKILL")
        click("kill", "/tasks/exit", ("delete",), ("start", "pause", "kill"), "6-stopped.png")
        click("delete", "/tasks/delete", ("create",), ("delete", "kill"), "7-deleted.png")
        # The state machine is drawn as a picture (an SVG inside the widget), not as text.
        assert panel.locator("svg").count() >= 1
        browser.close()
