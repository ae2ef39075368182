"""End to end in a real browser: JupyterLab on loopback, Chromium driven by Playwright, as a learner would.

Runs notebook 00 and a widget notebook (fast mode) with "Run All Cells", clicks the panel's Run button, waits
for its plot, and checks that no cell shows an error. Screenshots go to .cache/screenshots/ (or
$MTLKIT_SCREENSHOTS). `make test` installs Chromium with apt-get when it is missing; without it this skips.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("no Chromium on this machine: `make test` installs it with apt-get (as root on Debian/Ubuntu); "
                "elsewhere install chromium and rerun")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a copy of the notebooks (autosave must not write outputs into the repository)."""
    pytest.importorskip("playwright", reason="the playwright package is in the test extra: make test installs it")
    home = tmp_path_factory.mktemp("lab")
    for old in screenshots().glob("*.ipynb-timeout.png"):                 # from an earlier failed run
        old.unlink()
    shutil.copytree(ROOT / "notebooks", home / "notebooks", ignore=shutil.ignore_patterns(".*"))
    settings = home / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))  # every cell in the DOM
    news = home / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)                                                # offline: no news or update checks
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port, token = free_port(), "mtlkit-e2e"
    env = dict(os.environ, MTLKIT_FAST="1", JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), JUPYTER_CONFIG_DIR=str(home / "config"))
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip", "127.0.0.1", f"--port={port}",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={home / 'notebooks'}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = open(home / "lab.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if server.poll() is not None:
                pytest.fail(f"jupyter lab exited: {(home / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.5)
    else:
        pytest.fail(f"jupyter lab did not answer on {url}: {(home / 'lab.log').read_text()[-2000:]}")
    yield dict(url=url, token=token, folder=home / "notebooks")
    server.terminate()
    server.wait(30)
    log.close()


@pytest.fixture(scope="module")
def browser():
    executable = chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        b.close()


def screenshots() -> Path:
    """The folder for review screenshots (a failed wait leaves NAME-timeout.png there)."""
    folder = Path(os.environ.get("MTLKIT_SCREENSHOTS") or ROOT / ".cache" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run_all(page, lab, name: str, timeout: float = float(os.environ.get("E2E_TIMEOUT", 240))) -> int:
    """Open a notebook, Run All Cells, wait until every code cell has an execution count; return how many.

    A run that stalls (no cell running, not every cell run, no error shown) is retried once on a fresh page: at
    a first page load JupyterLab 4 can start two kernels for one notebook, shut one down and leave the page
    talking to it (seen once in lab.log). A stall with an error, or a second stall, fails the test.
    """
    code = json.loads((lab["folder"] / name).read_text())["cells"]
    n_code = sum(c["cell_type"] == "code" for c in code)
    for trial in (1, 2):
        if _run_once(page, lab, name, n_code, timeout):
            return n_code
        if trial == 2 or errors_shown(page):
            break
        print(f"{name}: the run stalled with no error shown; reloading the page and running it once more")
    page.screenshot(path=screenshots() / f"{name}-timeout.png", full_page=True)
    prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
    log = (lab["folder"].parent / "lab.log").read_text(errors="replace")[-3000:]
    raise AssertionError(f"{name}: not every code cell ran (timeout {timeout} s); {n_code} code cells, "
                         f"prompts {prompts}; errors shown {errors_shown(page)}; see "
                         f"{screenshots() / (name + '-timeout.png')}; the end of lab.log:\n{log}")


PROMPTS = "[...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(e => e.textContent)"


def _run_once(page, lab, name: str, n_code: int, timeout: float, stall: float = 20.0) -> bool:
    """Open the notebook in a fresh workspace and Run All from the Run menu; True when every code cell ran."""
    workspace = name.split(".")[0]                                          # a fresh workspace: this tab only
    page.goto(f"{lab['url']}/lab/workspaces/{workspace}/tree/{name}?reset&token={lab['token']}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    started = f"() => {PROMPTS}.some(t => /\\[(\\*|\\d+)\\]/.test(t))"
    for attempt in range(3):                                                # the Run menu, as a learner would
        page.locator(".lm-MenuBar-item:has(.lm-MenuBar-itemLabel:text-is('Run'))").click()
        item = page.locator(".lm-Menu-item:has(.lm-Menu-itemLabel:text-is('Run All Cells'))")
        item.wait_for(state="visible", timeout=10_000)
        page.wait_for_timeout(300)                                         # let the menu settle
        item.click()
        try:
            page.wait_for_function(started, timeout=15_000)
            break
        except Exception:
            page.keyboard.press("Escape")
    deadline, idle_since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        prompts = page.evaluate(f"() => {PROMPTS}")
        if len(prompts) == n_code and all(re.search(r"\[\d+\]", t) for t in prompts):
            return True
        if any("[*]" in t for t in prompts):
            idle_since = None
        elif idle_since is None:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since > stall:                        # nothing runs and nothing will
            return False
        page.wait_for_timeout(1000)
    return False


def errors_shown(page) -> list:
    """Texts of outputs that show an exception."""
    texts = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
    return [t[:500] for t in texts if t.strip() and ("Traceback" in t or "Error" in t.splitlines()[0])]


def test_corpus_tour_runs_in_the_browser_without_errors(lab, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    n = run_all(page, lab, "00_corpus_tour.ipynb")
    page.locator(".jp-OutputArea-output img").nth(1).scroll_into_view_if_needed()   # the waveform / log-mel figure
    page.screenshot(path=screenshots() / "00_corpus_tour.png")
    assert n > 3 and errors_shown(page) == []
    assert page.locator(".jp-OutputArea-output img").count() >= 2              # its figures are drawn
    assert page.locator(".jp-OutputArea-output audio").count() >= 1            # and its audio plays
    page.close()


def test_a_widget_panel_runs_and_draws_its_plot_in_the_browser(lab, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    run_all(page, lab, "01_single_task_baselines.ipynb")
    assert errors_shown(page) == []
    panel = page.locator(".jupyter-widgets.widget-vbox").filter(has=page.locator("button:has-text('Run')")).last
    panel.scroll_into_view_if_needed()
    assert panel.locator(".jp-OutputArea-output img").count() == 0             # nothing trains before Run
    panel.locator("button:has-text('Run')").click()
    panel.locator(".jp-OutputArea-output img").first.wait_for(timeout=120_000)
    page.wait_for_timeout(500)
    panel.screenshot(path=screenshots() / "01_baseline_panel.png")
    page.screenshot(path=screenshots() / "01_single_task_baselines.png")
    status = " ".join(panel.locator(".widget-html-content").all_inner_texts())
    assert "done in" in status, status
    assert panel.locator(".jp-OutputArea-output img").count() == 2             # curves and confusion matrix
    assert panel.locator("progress, .progress-bar, .widget-progress").count() >= 1
    assert errors_shown(page) == []
    page.close()
