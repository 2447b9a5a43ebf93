"""The log page in headless Chromium: it follows a running build without a
reload, and shows a 50,000-line log with line numbers."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from browser_support import WIDTH, chromium, png_size
from logapi_support import logapi
from logs_support import ATTEMPT, PR_KEY, body, line, result, start
from tickborg.messages import BuildStatus
from tickborg.logs.collector import LogCollector
from tickborg.logs.layout import Layout
from tickborg.runtime.worker import Delivery, decide

LEAD_SCREENSHOT = Path("/tmp/tickborg-logpage.png")
BIG_KEY = "acme/site.github.io.7"
BIG_LINES = 50_000


class Build:
    """A build whose log the collector stores while the page is open."""

    def __init__(self, root: Path) -> None:
        self.collector = LogCollector(Layout(root), gap_wait_seconds=0)
        self.lines = 0

    def send(self, message: Any) -> None:
        decide(self.collector, Delivery("build-logs", PR_KEY, "application/json", body(message)))

    def print(self, *texts: str) -> None:
        for text in texts:
            self.lines += 1
            self.send(line(self.lines, text))


def shown_lines(driver: Any) -> int:
    return int(driver.execute_script("return document.querySelectorAll('#log div').length"))


def assert_screenshot(driver: Any, path: Path) -> None:
    """A PNG that decodes, of the page's viewport: as wide as the window, as high as what is left under its bars."""
    assert driver.save_screenshot(str(path))
    viewport = tuple(driver.execute_script("return [window.innerWidth, window.innerHeight]"))
    assert png_size(path.read_bytes()) == viewport
    assert viewport[0] == WIDTH and viewport[1] > 500


def wait_for(driver: Any, condition: Any, timeout: float = 30) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    with chromium(tmp_path / "profile") as driver:
        yield driver


def test_the_page_follows_a_running_build_without_a_reload(tmp_path: Path, browser: Any) -> None:
    root = tmp_path / "logs"
    build = Build(root)
    build.send(start())
    build.print("-- Configuring libfoo", "-- Build files have been written to: /build")
    with logapi(root) as client:
        browser.get(f"http://127.0.0.1:{client.port}/?key={PR_KEY}")
        wait_for(browser, lambda d: shown_lines(d) == 2)
        browser.execute_script("window.notReloaded = true")

        for step in range(1, 4):  # the build goes on while the page is open
            build.print(*(f"[{step * 10 + n:3d}%] Building C object src/file{step}{n}.c.o" for n in range(5)))
            wait_for(browser, lambda d: shown_lines(d) == build.lines)
        build.print("error: something went wrong", "make: *** [all] Error 2")
        build.send(result(status=BuildStatus.FAILURE))
        wait_for(browser, lambda d: "finished" in d.find_element("id", "status").text)
        assert browser.execute_script("return window.notReloaded") is True

        texts = browser.execute_script("return [...document.querySelectorAll('#log div')].map(d => [d.dataset.n, d.textContent])")
        assert texts[0] == ["1", "-- Configuring libfoo"]
        assert texts[-1] == [str(build.lines), "make: *** [all] Error 2"]
        # The attempts list is refreshed by its own poll, which may come a moment after the log's.
        wait_for(browser, lambda d: "Failure" in d.find_element("id", "attempts").text)

        shot = tmp_path / "logpage.png"
        assert_screenshot(browser, shot)
        shutil.copyfile(shot, LEAD_SCREENSHOT)


def test_a_50000_line_log_is_shown_whole_with_line_numbers(tmp_path: Path, browser: Any) -> None:
    root = tmp_path / "logs"
    files = Layout(root).attempt(BIG_KEY, ATTEMPT)
    files.directory.mkdir(parents=True)
    # Stored as a finished collector leaves it: the plain-text log beside its metadata and result.
    files.log.write_text("".join(f"step {n}: compiling module_{n % 97}.c with -O2 -Wall\n" for n in range(1, BIG_LINES + 1)))
    files.metadata.write_text(json.dumps(start().to_json()))
    files.result.write_text(json.dumps(result().to_json()))
    with logapi(root) as client:
        began = time.monotonic()
        browser.get(f"http://127.0.0.1:{client.port}/?key={BIG_KEY}")
        wait_for(browser, lambda d: "finished" in d.find_element("id", "status").text, timeout=120)
        shown_in = time.monotonic() - began
        assert shown_lines(browser) == BIG_LINES
        last = browser.find_element("id", f"L{BIG_LINES}")
        assert last.text == f"step {BIG_LINES}: compiling module_{BIG_LINES % 97}.c with -O2 -Wall"
        assert last.get_attribute("data-n") == str(BIG_LINES)
        at_end = "return innerHeight + scrollY >= document.documentElement.scrollHeight - 40"
        assert browser.execute_script(at_end), "the page follows the end of the log"
        # Generous on a shared 2-core machine; it takes about 2 s.
        assert shown_in < 30, f"50,000 lines took {shown_in:.1f} s"
        assert_screenshot(browser, tmp_path / "biglog.png")
