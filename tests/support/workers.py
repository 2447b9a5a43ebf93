"""Small workers that exercise the runtime, driven by the message they receive.

A message is JSON `{"id": ..., "do": ...}`:
- `ack`: publish `{"id"}` to the `out` queue, then Ack;
- `dump`: NackDump;
- `fail`: raise every time;
- `fail-twice`: raise on the first two deliveries of this id, then behave like `ack`;
- `sleep`: sleep `seconds`, then like `ack`;
- `publish-then-sleep`: publish to `out` at once (notify worker), sleep, then Ack.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from tickborg.errors import DecodeError
from tickborg.runtime.actions import Ack, Action, NackDump, Publish
from tickborg.runtime.worker import Notify, NotifyWorker, SimpleWorker

OUT = "out"


def decode_command(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise DecodeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict) or not isinstance(value.get("id"), str) or not isinstance(value.get("do"), str):
        raise DecodeError("expected {id: str, do: str}")
    return value


def done(command: dict[str, Any]) -> Publish:
    return Publish("", OUT, json.dumps({"id": command["id"], "at": time.time()}).encode())


class ScriptedWorker(SimpleWorker[dict[str, Any]]):
    name = "scripted"

    def __init__(self, long_running: bool = False, finish_on_shutdown: bool = True) -> None:
        self.long_running = long_running
        self.finish_on_shutdown = finish_on_shutdown
        self.calls: list[tuple[str, float]] = []
        self.lock = threading.Lock()

    def decode(self, routing_key: str, content_type: str | None, body: bytes) -> dict[str, Any]:
        return decode_command(body)

    def handle(self, job: dict[str, Any]) -> list[Action]:
        with self.lock:
            self.calls.append((job["id"], time.monotonic()))
            seen = sum(1 for call_id, _ in self.calls if call_id == job["id"])
        do = job["do"]
        if do == "dump":
            return [NackDump("told to dump")]
        if do == "fail" or (do == "fail-twice" and seen <= 2):
            raise RuntimeError(f"scripted failure #{seen}")
        if do == "sleep":
            time.sleep(float(job["seconds"]))
        return [done(job), Ack()]

    def log_context(self, job: dict[str, Any]) -> dict[str, Any]:
        return {"request_id": job["id"]}


class StreamingWorker(NotifyWorker[dict[str, Any]]):
    name = "streaming"

    def decode(self, routing_key: str, content_type: str | None, body: bytes) -> dict[str, Any]:
        return decode_command(body)

    def handle(self, job: dict[str, Any], notify: Notify) -> None:
        notify(done(job))
        time.sleep(float(job.get("seconds", 0)))
        notify(Ack())
