"""Fixtures for the browser test: a JupyterLab server with a token, its memory sampled, and headless
Debian Chromium with the network closed to the page."""

import json
import os
import pathlib
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import psutil
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "build" / "browser"
# The flags this machine needs: no sandbox as root, and no background connections to Google's hosts,
# which a closed network refuses many at a time.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class MemorySampler(threading.Thread):
    """Samples the memory of the JupyterLab server and every process under it (its kernels, and what they
    start: notebook 12 measures attention in fresh processes) every half second, and keeps the peak of
    each notebook (``label``).

    The total is the sum of the processes' proportional set sizes (PSS): a page shared by several
    processes (TensorFlow's libraries, loaded by the kernel and by the processes it starts) counts once
    in all, as in the container's memory that Binder limits; a sum of resident sets would count it once
    per process.
    """

    def __init__(self, pid, log_path):
        super().__init__(daemon=True)
        self.server = psutil.Process(pid)
        self.log_path = log_path
        self.label = "start"
        self.peaks = {}  # label -> peak bytes
        self.stopped = threading.Event()

    def total_bytes(self):
        total = 0
        for process in [self.server, *self.server.children(recursive=True)]:
            try:
                total += process.memory_full_info().pss
            except psutil.Error:  # a process that ended between the listing and the reading
                pass
        return total

    def run(self):
        started = time.monotonic()
        with open(self.log_path, "w") as log:
            log.write("seconds,notebook,total_mb\n")
            while not self.stopped.wait(0.5):
                label, total = self.label, self.total_bytes()
                log.write(f"{time.monotonic() - started:.1f},{label},{total / 1e6:.0f}\n")
                log.flush()
                self.peaks[label] = max(self.peaks.get(label, 0), total)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """JupyterLab on 127.0.0.1 with a random token, serving a copy of notebooks/ (running the
    notebooks in the browser rewrites them; the committed ones stay as they are)."""
    root = tmp_path_factory.mktemp("notebooks")
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        shutil.copy(notebook, root)
    # A learner's fresh settings, less the pop-up asking to fetch Jupyter news (it would cover the
    # screenshots, and the network is closed anyway).
    settings = tmp_path_factory.mktemp("lab-settings")
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text('{"fetchNews": "false"}')
    # Every cell in the page, so the test can count each cell's images: by default JupyterLab leaves
    # the outputs of cells far from the viewport out of the page until they are scrolled to.
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text('{"windowingMode": "none"}')
    token, port = secrets.token_hex(16), free_port()
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={settings}",
        "--allow-root",
    ]
    log = open(root / "jupyterlab.log", "w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError(f"JupyterLab did not start: see {root / 'jupyterlab.log'}") from None
            time.sleep(0.5)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    memory = MemorySampler(server.pid, SCREENSHOTS / f"memory-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.csv")
    memory.start()
    lab = {"base": base, "token": token, "root": root, "memory": memory}
    lab["running_kernels"] = lambda: running_kernels(lab)
    yield lab
    memory.stopped.set()
    server.terminate()
    server.wait(timeout=30)
    log.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("PLAYWRIGHT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("Chromium is not installed: run `make test-browser`, which installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageWatch:
    """What the page did beside what it shows: requests to other hosts (refused: the network is closed, as
    offline), errors in the browser console and errors thrown in the page."""

    def __init__(self, base):
        self.local_host = urllib.parse.urlsplit(base).netloc
        self.refused, self.console_errors, self.page_errors = [], [], []

    def route(self, route):
        url = route.request.url
        if urllib.parse.urlsplit(url).netloc == self.local_host or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.refused.append(url)
            route.abort()

    def console(self, message):
        if message.type == "error":
            self.console_errors.append((message.text, message.location.get("url", "")))

    def unexpected_console_errors(self):
        """Console errors, less the failed loads of the refused requests (Chromium logs each one)."""
        return [
            text
            for text, url in self.console_errors
            if not (text.startswith("Failed to load resource") and url in self.refused)
        ]


@pytest.fixture
def page(browser, lab):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    watch = PageWatch(lab["base"])
    context.route("**/*", watch.route)
    page = context.new_page()
    page.on("console", watch.console)
    page.on("pageerror", lambda error: watch.page_errors.append(str(error)))
    page.watch = watch
    # The token once (the cookie does the rest), and ?reset: an empty workspace. Without it JupyterLab reopens
    # the notebooks the previous test left in the saved workspace and starts their kernels, which then linger
    # half-started when the test moves on to its own notebook (seen on every other notebook of the series).
    page.goto(f"{lab['base']}/lab?reset&token={lab['token']}")
    page.wait_for_selector(".jp-LabShell", timeout=60_000)
    yield page
    context.close()
    # The test closes the notebook's tab, which must have shut its kernel down (asserted there); a test
    # that failed before that leaves a kernel, ended here so the next notebook starts from a clean server.
    shut_down_kernels(lab)


def running_kernels(lab):
    with urllib.request.urlopen(f"{lab['base']}/api/kernels?token={lab['token']}", timeout=30) as response:
        return json.load(response)


def shut_down_kernels(lab):
    api = f"{lab['base']}/api/sessions"
    with urllib.request.urlopen(f"{api}?token={lab['token']}", timeout=30) as response:
        sessions = json.load(response)
    for session in sessions:
        request = urllib.request.Request(f"{api}/{session['id']}?token={lab['token']}", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()
