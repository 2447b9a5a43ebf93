"""logapi over real HTTP: stored logs served as the collector wrote them, and
nothing outside the log root, whatever the request line tries."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

import pytest

from logapi_support import Client, logapi
from logs_support import ATTEMPT, DOTTED_KEY, LINES, PR_KEY, PUSH_KEY, body, line, log_text, result, start
from tickborg.logs.collector import LogCollector
from tickborg.logs.layout import Layout
from tickborg.runtime.worker import Delivery, decide

SECRET = b"root:x:0:0:outside the log root\n"
OTHER_ATTEMPT = "second-attempt"


def store(root: Path, key: str, attempt_id: str, lines: list[str], finished: bool = True) -> None:
    collector = LogCollector(Layout(root), gap_wait_seconds=0)
    messages = [start(attempt_id), *(line(n, t, attempt_id) for n, t in enumerate(lines, 1))]
    for message in [*messages, result(attempt_id)] if finished else messages:
        decide(collector, Delivery("build-logs", key, "application/json", body(message)))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "logs"
    store(root, PR_KEY, ATTEMPT, LINES)
    store(root, PR_KEY, OTHER_ATTEMPT, ["running"], finished=False)
    store(root, PUSH_KEY, ATTEMPT, LINES)
    store(root, DOTTED_KEY, ATTEMPT, LINES)
    (tmp_path / "secret").write_bytes(SECRET)
    (tmp_path / "secret-dir").mkdir()
    (tmp_path / "secret-dir" / ATTEMPT).write_bytes(SECRET)
    return root


@pytest.fixture
def client(root: Path) -> Iterator[Client]:
    with logapi(root) as client:
        yield client


@pytest.mark.parametrize("key", [PR_KEY, PUSH_KEY, DOTTED_KEY])
def test_a_stored_log_is_served_byte_for_byte(client: Client, key: str) -> None:
    reply = client.get(f"/logs/{key}/{ATTEMPT}")
    assert reply.status == 200
    assert reply.body == log_text(LINES)
    assert reply.headers["content-type"] == "text/plain; charset=utf-8"
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["x-tickborg-finished"] == "yes"


def test_the_attempts_of_a_key_are_listed_with_metadata_result_and_log_url(client: Client) -> None:
    reply = client.get(f"/logs/{PR_KEY}")
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    attempts = json.loads(reply.body)["attempts"]
    assert set(attempts) == {ATTEMPT, OTHER_ATTEMPT}
    assert attempts[ATTEMPT] == {
        "metadata": start().to_json(),
        "result": result().to_json(),
        "log_url": f"/logs/{PR_KEY}/{ATTEMPT}",
    }
    assert attempts[OTHER_ATTEMPT]["result"] is None
    assert client.get(attempts[OTHER_ATTEMPT]["log_url"]).body == b"running\n"


def test_a_key_without_builds_has_no_attempts_and_an_unknown_attempt_is_404(client: Client) -> None:
    assert json.loads(client.get("/logs/acme/nothing.1").body) == {"attempts": {}}
    assert client.get(f"/logs/{PR_KEY}/no-such-attempt").status == 404


def test_a_running_log_is_followed_from_a_byte_offset(client: Client, root: Path) -> None:
    url = f"/logs/{PR_KEY}/{OTHER_ATTEMPT}"
    first = client.get(f"{url}?from_byte=0")
    assert first.body == b"running\n" and first.headers["x-tickborg-finished"] == "no"
    store(root, PR_KEY, OTHER_ATTEMPT, ["running", "more", "done"])
    after = client.get(f"{url}?from_byte={len(first.body)}")
    assert after.body == b"more\ndone\n" and after.headers["x-tickborg-finished"] == "yes"
    assert client.get(f"{url}?from_byte=999999").body == b""
    for bad in ("-1", "x", "1e3", "%C2%B2"):
        assert client.get(f"{url}?from_byte={bad}").status == 400


def test_head_answers_the_headers_alone(client: Client) -> None:
    reply = client.request("HEAD", f"/logs/{PR_KEY}/{ATTEMPT}")
    assert reply.status == 200 and reply.body == b""
    assert reply.headers["content-length"] == str(len(log_text(LINES)))
    assert client.request("HEAD", "/").status == 200


def test_the_page_is_served_self_contained(client: Client) -> None:
    reply = client.get("/?key=tick-org/monorepo.42")
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/html")
    assert b"<script>" in reply.body and b"src=" not in reply.body and b"http" not in reply.body.split(b"<body>")[1]
    assert "default-src 'none'" in reply.headers["content-security-policy"]


@pytest.mark.parametrize(
    "target",
    [
        "/logs/../../secret",
        "/logs/tick-org/../../secret",
        "/logs/tick-org/monorepo.42/../../../secret",
        "/logs/%2e%2e/%2e%2e/secret",
        "/logs/tick-org/%2e%2e/%2e%2e",
        "/logs/tick-org/monorepo.42/%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret",
        "/logs/%2E%2E/secret-dir/" + ATTEMPT,
        "/logs//etc/passwd",  # absolute
        "/logs/%2fetc/passwd",
        "/logs/tick-org/%2fetc%2fpasswd",
        "/logs/tick-org/monorepo.42/%2ftmp%2fsecret",
        "/logs/tick-org/monorepo.42%00/" + ATTEMPT,  # NUL
        f"/logs/tick-org/monorepo.42/{ATTEMPT}%00",
        "/logs/tick-org%2fmonorepo.42/" + ATTEMPT,
        "/logs/tick-org/monorepo.42/..%5c..%5csecret",  # backslashes
        "/logs/tick-org/monorepo.42/.state",
        "/logs/tick-org/monorepo.42/" + ATTEMPT + ".metadata.json",
        "/logs/tick-org/monorepo.42/" + ATTEMPT + "/extra",
        "/logs",
        "/logs/",
        "/../secret",
        "/secret",
        "//secret",
        "/logs/tick-org/link-out.1/" + ATTEMPT,  # a symlinked key directory
        "/logs/tick-org/monorepo.42/linked",  # a symlinked log
    ],
)
def test_nothing_outside_the_log_root_is_served(client: Client, root: Path, target: str) -> None:
    (root / "tick-org" / "link-out.1").symlink_to(root.parent / "secret-dir")
    (root / "tick-org" / "monorepo.42" / "linked").symlink_to(root.parent / "secret")
    reply = client.get(target)
    assert reply.status == 404, (target, reply)
    assert SECRET not in reply.body


def test_symlinks_out_of_the_root_do_not_show_in_a_listing(client: Client, root: Path) -> None:
    key_dir = root / "tick-org" / "monorepo.42"
    (key_dir / "linked").symlink_to(root.parent / "secret")
    os.symlink(root.parent / "secret", key_dir / "linked.metadata.json")
    (root / "tick-org" / "link-out.1").symlink_to(root.parent / "secret-dir")
    attempts = json.loads(client.get(f"/logs/{PR_KEY}").body)["attempts"]
    assert set(attempts) == {ATTEMPT, OTHER_ATTEMPT}
    assert json.loads(client.get("/logs/tick-org/link-out.1").body) == {"attempts": {}}


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "BREW"])
def test_only_get_and_head_are_allowed(client: Client, method: str) -> None:
    reply = client.request(method, f"/logs/{PR_KEY}/{ATTEMPT}")
    assert reply.status == 405
    assert reply.headers["allow"] == "GET, HEAD"
