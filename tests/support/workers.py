"""Small workers that exercise the runtime, driven by the message they receive.

A message is JSON `{"id": ..., "do": ...}`:
- `ack`: publish `{"id"}` to the `out` queue, then Ack;
- `dump`: NackDump;
- `fail`: raise every time;
- `fail-twice`: raise on the first two deliveries of this id, then behave like `ack`;
- `sleep`: sleep `seconds`, then like `ack`;
- `publish-to`: publish to the exchange `exchange` (say, one that does not exist), then Ack;
- `retry-once`: NackRequeue not before `after` seconds from now on its first
  delivery, then like `ack`.

The streaming (notify) worker takes any message: it publishes to each
`[exchange, routing_key]` of `to` (default: the `out` queue), waits `seconds`
on its first run of an id (0 on later ones) unless cancelled, then Acks.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from tickborg.errors import DecodeError
from tickborg.runtime.actions import Ack, Action, NackDump, NackRequeue, Publish
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
        if do == "publish-to":
            return [Publish(job["exchange"], "rk", b"{}"), Ack()]
        if do == "retry-once" and seen == 1:
            return [NackRequeue("later", not_before=time.time() + float(job["after"]))]
        return [done(job), Ack()]

    def log_context(self, job: dict[str, Any]) -> dict[str, Any]:
        return {"request_id": job["id"]}


class StreamingWorker(NotifyWorker[dict[str, Any]]):
    name = "streaming"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.cancelled: list[str] = []  # ids of runs that saw `notify.cancelled`
        self.lock = threading.Lock()

    def decode(self, routing_key: str, content_type: str | None, body: bytes) -> dict[str, Any]:
        return decode_command(body)

    def handle(self, job: dict[str, Any], notify: Notify) -> None:
        with self.lock:
            first = job["id"] not in self.calls
            self.calls.append(job["id"])
        for exchange, routing_key in job.get("to", [["", OUT]]):
            notify(Publish(exchange, routing_key, done(job).message))
        seconds = float(job.get("seconds", 0)) if first else 0.0
        if seconds and notify.cancelled.wait(seconds):
            with self.lock:
                self.cancelled.append(job["id"])
            return  # the runtime takes no more of this job's actions
        notify(Ack())
