"""Browser tests: the Procfile's web and worker processes, and Debian's Chromium driven by Playwright."""
import os
import re

import pytest

from marathon.tooling.redis_server import free_port
from tests.e2e.support import Stack
from tests.processes import ROOT, http, start, stop, wait_until

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
         "locale": "ko-KR", "timezone_id": "Asia/Seoul"}
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "ko-KR", "timezone_id": "Asia/Seoul"}


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium, headless; the tests skip where it is not installed."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not installed: apt-get install chromium (looked for {CHROMIUM})")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright not installed: pip install -r requirements-dev.txt")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def stack(app, settings, tmp_path):
    """gunicorn and the RQ worker from the Procfile, on the tests' Redis and database (emptied by `app`)."""
    port = free_port()
    logs = [tmp_path / "web.log", tmp_path / "worker.log"]
    processes = [start("web", settings, logs[0], PORT=port, WEB_CONCURRENCY=1),
                 start("worker", settings, logs[1])]
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http("GET", f"{base}/readyz")[0] == 200, what="the web process")
        yield Stack(base, app)
    finally:
        for process in processes:  # both stop at once: each takes a couple of seconds to finish gracefully
            if process.poll() is None:
                process.terminate()
        for process in processes:
            stop(process)
    for log in logs:
        text = log.read_text()
        assert "Traceback" not in text, text


@pytest.fixture
def race(app):
    """An open race with three buckets: 10K/5 (one place), 10K/6 (ten), HALF/4 (ten); no proof of work."""
    from marathon.core.clock import SystemClock
    from tests.factories import make_race

    with app.app_context():
        made = make_race(SystemClock(), slug="seoul-spring", opens_in_s=-60, hold_seconds=600,
                         buckets=(("10K", "5", 1), ("10K", "6", 10), ("HALF", "4", 10)))
        return {"id": made.id, "slug": made.slug, "name": made.name}


class Shots:
    """Screenshots kept under test-artifacts/e2e/, named after the test and the step."""

    def __init__(self, name):
        self.name = re.sub(r"[^\w-]+", "_", name)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, page, step, full_page=True):
        path = ARTIFACTS / f"{self.name}--{step}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture
def shots(request):
    return Shots(request.node.name)


def open_page(chromium, options, errors):
    """A fresh context (its own sessionStorage) and page; page errors and console errors are collected."""
    context = chromium.new_context(**options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    page.on("console", lambda message: errors.append(f"console: {message.text}")
            if message.type == "error" and "status of 4" not in message.text else None)
    return context, page


@pytest.fixture
def phone(chromium):
    """A page on a phone-sized screen (390×844); fails the test on a script error."""
    errors = []
    context, page = open_page(chromium, PHONE, errors)
    yield page
    context.close()
    assert not errors, errors


@pytest.fixture
def desktop(chromium):
    errors = []
    context, page = open_page(chromium, DESKTOP, errors)
    yield page
    context.close()
    assert not errors, errors
