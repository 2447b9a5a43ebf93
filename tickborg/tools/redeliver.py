"""`tickborg redeliver-webhooks`: get every failed webhook delivery redelivered (SPEC §7).

    tickborg redeliver-webhooks --config PATH [--every SECONDS]
        [--look-back-hours 6] [--max-attempts 3]

GitHub never retries a delivery that was not answered 2xx within 10 s. One
pass lists the App's deliveries (as the App, newest first) back to the
look-back window, and asks GitHub once to redeliver each GUID that has no
2xx attempt and fewer than `--max-attempts` redeliveries. It keeps no state:
GitHub's delivery log is the state, so the next pass sees what this one did.
Exit 0 after a clean pass, 1 when GitHub failed it (the next pass retries);
with `--every` it passes until SIGTERM/SIGINT, then exits 0.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from itertools import takewhile
from typing import Callable, Iterable, Sequence

import attrs

from tickborg.config import GitHubAppConfig
from tickborg.github.client import PAGE_SIZE, GitHubClient
from tickborg.github.errors import CommitStatusError, RateLimited
from tickborg.github.models import HookDelivery
from tickborg.logsetup import get_logger
from tickborg.process import argument_parser, checked, start

NAME = "redeliver-webhooks"
# GitHub keeps deliveries for three days; a longer window would read nothing more.
RETENTION_HOURS = 72.0

log = get_logger(__name__)


@attrs.frozen
class Pending:
    """A delivery GUID without a 2xx attempt, still worth another try."""

    guid: str
    delivery_id: int  # its newest attempt: GitHub redelivers any attempt's payload
    event: str
    redeliveries: int


@attrs.frozen
class Plan:
    pending: tuple[Pending, ...]
    given_up: tuple[str, ...]  # GUIDs that used up max_attempts redeliveries


def plan(deliveries: Iterable[HookDelivery], max_attempts: int) -> Plan:
    """Which GUIDs to redeliver, from attempts listed newest first."""
    by_guid: dict[str, list[HookDelivery]] = {}
    for delivery in deliveries:
        by_guid.setdefault(delivery.guid, []).append(delivery)
    pending, given_up = [], []
    for guid, attempts in by_guid.items():
        if any(attempt.succeeded for attempt in attempts):
            continue
        redeliveries = sum(attempt.redelivery for attempt in attempts)
        if redeliveries >= max_attempts:
            given_up.append(guid)
        else:
            pending.append(Pending(guid, attempts[0].id, attempts[0].event, redeliveries))
    return Plan(tuple(pending), tuple(given_up))


@attrs.frozen
class PassResult:
    requested: int
    failed: int  # redelivery requests GitHub refused or did not answer
    given_up: int


def run_pass(
    client: GitHubClient,
    look_back_hours: float,
    max_attempts: int,
    clock: Callable[[], float] = time.time,
    per_page: int = PAGE_SIZE,
) -> PassResult:
    """One pass; a failed listing raises the classified `CommitStatusError`."""
    since = clock() - look_back_hours * 3600
    recent = takewhile(lambda d: d.delivered_at >= since, client.list_hook_deliveries(per_page))
    found = plan(recent, max_attempts)
    for guid in found.given_up:
        log.warning("webhook delivery never succeeded; no more redeliveries", guid=guid, max_attempts=max_attempts)
    requested = failed = 0
    for index, pending in enumerate(found.pending):
        try:
            client.redeliver_hook_delivery(pending.delivery_id)
        except RateLimited:
            # Every further request would be refused too: the next pass goes on.
            failed += len(found.pending) - index
            break
        except CommitStatusError:
            failed += 1  # logged by the client; the next pass asks again
            continue
        requested += 1
        log.info(
            "webhook redelivery requested",
            guid=pending.guid,
            delivery_id=pending.delivery_id,
            github_event=pending.event,
            redeliveries_before=pending.redeliveries,
        )
    return PassResult(requested, failed, len(found.given_up))


def _fail(message: str) -> int:
    sys.stderr.write(f"tickborg {NAME}: {message}\n")
    return 1


def checked_pass(client: GitHubClient, args: argparse.Namespace) -> int:
    """One pass with its outcome logged; exit status 0 or 1 with one clear line on stderr."""
    try:
        result = run_pass(client, args.look_back_hours, args.max_attempts)
    except CommitStatusError as exc:
        return _fail(f"listing the App's webhook deliveries failed ({type(exc).__name__}): {exc.message}")
    log.info("redelivery pass done", requested=result.requested, failed=result.failed, given_up=result.given_up)
    if result.failed:
        total = result.failed + result.requested
        return _fail(f"{result.failed} of {total} redelivery requests failed; the next pass retries them")
    return 0


def _positive(kind: Callable[[str], float], upper: float | None = None) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0 or (upper is not None and value > upper):
            bound = f" and at most {upper:g}" if upper is not None else ""
            raise argparse.ArgumentTypeError(f"expected more than 0{bound}, got {text}")
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    parser = argument_parser(NAME)
    parser.add_argument("--every", type=_positive(float), metavar="SECONDS", help="pass again every SECONDS until SIGTERM")
    parser.add_argument(
        "--look-back-hours", type=_positive(float, RETENTION_HOURS), default=6.0, help="how far back to look (default 6)"
    )
    parser.add_argument("--max-attempts", type=_positive(int), default=3, help="redeliveries per delivery (default 3)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    config, args = start(NAME, argv, parser())
    checked(lambda: config.require_for(NAME))
    app: GitHubAppConfig = config.require("github_app")
    client = checked(lambda: GitHubClient.from_config(app))
    try:
        if args.every is None:
            return checked_pass(client, args)
        stopping = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
        while not stopping.is_set():
            checked_pass(client, args)
            stopping.wait(args.every)
        return 0
    finally:
        client.close()
