"""Accounting for fault tests: every webhook the receiver accepted, traced to its outcome.

A test tells the ledger about each pull_request webhook the receiver answered
200 (`ledger.accepted(pr, head, runs)`); the ledger then finds, from the fake
GitHub's state and the broker's dead-letter queues, where each one ended:

- `completed: …`: the head's `tickborg-eval` status reached a final state and
  every check run on the head (the expected ones, and any other) completed;
- `dead: {queue}: {reason}`: a message naming the head sits in `{queue}.dead`
  with its reason, once its attempts ran out (or it could not be decoded);
- `gone: …`: GitHub answered 422 for the head (the commit is gone), which
  every worker acks without a retry.

Anything else is unaccounted: `wait_all_accounted` waits for none to be left
and raises with a table of those that are. `calls()` counts the GitHub calls,
per webhook, so a test can show there was no hot loop.

Dead letters are peeked (taken unacked, returned when the channel closes), so
`tickborg dead-letters` and other readers still see them; a queue is read again
only when its count changed. The ledger declares the dead-letter queues as the
fleet's processes do, so it can count them before every process has.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from typing import Any, Iterable, Mapping, Sequence

import attrs
import pika

from tickborg.broker import CONNECTION_ERRORS, connect, declare
from tickborg.config import Config
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.server import Call
from tickborg.fakegithub.testing import TEST_REPO
from tickborg.tools.dead_letters import dead_reason
from tickborg.topology import Topology, build_topology, dead_queue

EVAL_CONTEXT = "tickborg-eval"
FINAL_EVAL_STATES = ("success", "failure", "error")
POLL_SECONDS = 0.5
# GitHub paths that name a PR by number, and a check run by id.
_NUMBERED = re.compile(r"/repos/[^/]+/[^/]+/(?:issues|pulls)/(\d+)(?:/|$)")
_CHECK_RUN = re.compile(r"/repos/[^/]+/[^/]+/check-runs/(\d+)$")


@attrs.frozen
class Webhook:
    """An accepted pull_request webhook and what it should lead to."""

    label: str
    pr: int
    head: str
    runs: tuple[str, ...]  # the check runs its PR should get, e.g. "libfoo on x86_64-linux"


@attrs.frozen
class DeadLetter:
    queue: str  # the work queue; the letter sits in `{queue}.dead`
    reason: str
    heads: frozenset[str]  # the head shas its body names (none for a body that is not JSON)
    size: int


@attrs.frozen
class Account:
    """Where one webhook stands: `outcome` None while it is unaccounted."""

    webhook: Webhook
    outcome: str | None
    seen: str  # what the fake GitHub holds for it, for the table


@attrs.frozen
class Calls:
    """GitHub calls counted: all, refused (non-2xx or dropped), and per webhook label."""

    total: int
    refused: int
    by_status: Mapping[int | None, int]
    per_webhook: Mapping[str, int]
    refused_per_webhook: Mapping[str, int]
    unattributed: int  # calls naming no webhook's PR or head: tokens, the App

    def most_per_webhook(self) -> int:
        return max(self.per_webhook.values(), default=0)

    def describe(self) -> str:
        statuses = ", ".join(f"{status or 'dropped'}: {n}" for status, n in sorted(self.by_status.items(), key=str))
        return (
            f"{self.total} GitHub calls ({statuses}), {self.refused} refused; "
            f"per webhook {dict(self.per_webhook)}, refused {dict(self.refused_per_webhook)}; "
            f"{self.unattributed} naming no webhook"
        )


class Unaccounted(AssertionError):
    """Some accepted webhooks reached no outcome in time."""


class Ledger:
    """The accepted webhooks of one test, and their outcomes on `fake` and the broker of `config`."""

    def __init__(self, fake: FakeGitHub, config: Config, repo: str = TEST_REPO) -> None:
        self.fake = fake
        self.repo = repo
        self._webhooks: list[Webhook] = []
        self._dead = _DeadQueues(config)

    # ------------------------------------------------------------------
    # Recording.

    def accepted(self, pr: int, head: str, runs: Sequence[str] = (), label: str | None = None) -> Webhook:
        """A webhook the receiver answered 200, for PR `pr` at `head`, expected to get check runs `runs`
        (all of them: the eval status turns final before the runs are created)."""
        webhook = Webhook(label or f"PR #{pr}", pr, head, tuple(runs))
        self._webhooks.append(webhook)
        return webhook

    @property
    def webhooks(self) -> list[Webhook]:
        return list(self._webhooks)

    # ------------------------------------------------------------------
    # Outcomes.

    def dead_letters(self) -> list[DeadLetter]:
        """Every message in a `{queue}.dead` of the fleet's work queues (the last seen
        while the broker is unreachable)."""
        return self._dead.read()

    def report(self) -> list[Account]:
        """Each accepted webhook's account, now."""
        dead = self.dead_letters()
        calls = self.fake.calls
        return [self._account(webhook, dead, calls) for webhook in self._webhooks]

    def wait_all_accounted(self, timeout: float) -> list[Account]:
        """The accounts once every webhook has an outcome; `Unaccounted` with the table if not within `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            accounts = self.report()
            if all(account.outcome is not None for account in accounts):
                return accounts
            if time.monotonic() >= deadline:
                missing = [account for account in accounts if account.outcome is None]
                raise Unaccounted(
                    f"{len(missing)} of {len(accounts)} accepted webhooks reached no outcome in {timeout:.0f} s:\n"
                    + self.summary()
                )
            time.sleep(POLL_SECONDS)

    def _account(self, webhook: Webhook, dead: Sequence[DeadLetter], calls: Sequence[Call]) -> Account:
        evals = [s["state"] for s in self.fake.state.statuses(self.repo, webhook.head) if s["context"] == EVAL_CONTEXT]
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in webhook.runs}
        for run in self.fake.state.check_runs(self.repo, webhook.head):
            runs.setdefault(run["name"], []).append(run)
        # Each name's runs (a second one shows as "success,success"), or "none".
        states = {name: ",".join(r["conclusion"] or r["status"] for r in named) or "none" for name, named in runs.items()}
        seen = f"eval {'>'.join(evals) or 'none'}; runs {', '.join(f'{n}: {s}' for n, s in states.items()) or 'none'}"
        letters = [letter for letter in dead if webhook.head in letter.heads]
        gone = [call for call in calls if call.status == 422 and webhook.head in _named_heads(call)]
        runs_done = all(named and all(r["status"] == "completed" for r in named) for named in runs.values())
        if evals and evals[-1] in FINAL_EVAL_STATES and runs_done:
            outcome = f"completed: eval {evals[-1]}" + "".join(f"; {n}: {s}" for n, s in states.items())
        elif letters:
            outcome = "; ".join(f"dead: {letter.queue}: {letter.reason}" for letter in letters)
        elif gone:
            outcome = f"gone: {gone[0].method} {gone[0].path}: 422"
        else:
            outcome = None
        return Account(webhook, outcome, seen)

    def summary(self) -> str:
        """The accounts as a table, the dead letters naming no webhook, and the calls counted."""
        return table(self.report()) + _untraced(self.dead_letters(), self._webhooks) + "\n" + self.calls().describe()

    # ------------------------------------------------------------------
    # GitHub calls.

    def mark(self) -> int:
        """A point in the fake's call log, for `calls(since=...)`."""
        return len(self.fake.calls)

    def calls(self, since: int = 0, until: int | None = None) -> Calls:
        """The GitHub calls between two `mark()`s (all by default), attributed to webhooks."""
        calls = self.fake.calls[since:until]
        run_heads = {run["id"]: run["head_sha"] for run in self.fake.state.check_runs(self.repo)}
        per: Counter[str] = Counter()
        refused: Counter[str] = Counter()
        unattributed = 0
        for call in calls:
            webhook = self._owner(call, run_heads)
            if webhook is None:
                unattributed += 1
                continue
            per[webhook.label] += 1
            refused[webhook.label] += _refused(call)
        return Calls(
            total=len(calls),
            refused=sum(map(_refused, calls)),
            by_status=dict(Counter(c.status for c in calls)),
            per_webhook=dict(per),
            refused_per_webhook=dict(refused),
            unattributed=unattributed,
        )

    def _owner(self, call: Call, run_heads: Mapping[int, str]) -> Webhook | None:
        heads = _named_heads(call)
        run = _CHECK_RUN.search(call.path)
        if run is not None and int(run.group(1)) in run_heads:
            heads.add(run_heads[int(run.group(1))])
        numbered = _NUMBERED.search(call.path)
        for webhook in reversed(self._webhooks):  # the latest push of a PR owns calls by its number
            if webhook.head in heads or (not heads and numbered is not None and int(numbered.group(1)) == webhook.pr):
                return webhook
        return None


def table(accounts: Iterable[Account]) -> str:
    """The accounts as an aligned text table: webhook, head, outcome (or UNACCOUNTED), what was seen."""
    rows = [("webhook", "head", "outcome", "seen")] + [
        (a.webhook.label, a.webhook.head[:10], a.outcome or "UNACCOUNTED", a.seen) for a in accounts
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths)) + "  " + row[3] for row in rows
    )


def _untraced(dead: Iterable[DeadLetter], webhooks: Sequence[Webhook]) -> str:
    heads = {webhook.head for webhook in webhooks}
    lines = [f"  {d.queue}.dead: {d.reason} ({d.size} bytes)" for d in dead if not d.heads & heads]
    return "\ndead letters naming no accepted webhook:\n" + "\n".join(lines) if lines else ""


def _refused(call: Call) -> bool:
    """Answered with other than a 2xx, or not at all (a dropped connection)."""
    return call.status is None or not 200 <= call.status < 300


def _named_heads(call: Call) -> set[str]:
    """Head shas a call names: in its path (statuses) or its body (a check run's head_sha)."""
    heads = set(re.findall(r"(?<![0-9a-f])[0-9a-f]{40}(?![0-9a-f])", call.path))
    if isinstance(call.body, dict) and isinstance(call.body.get("head_sha"), str):
        heads.add(call.body["head_sha"])
    return heads


def heads_in(body: bytes) -> frozenset[str]:
    """The head shas a message names: `head_sha` anywhere (jobs, results), `head.sha`
    (webhooks), `sha` (a commit status to write)."""
    try:
        value = json.loads(body)
    except ValueError:
        return frozenset()
    found: set[str] = set()
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key in ("head_sha", "sha"):
                if isinstance(item.get(key), str):
                    found.add(item[key])
            head = item.get("head")
            if isinstance(head, dict) and isinstance(head.get("sha"), str):
                found.add(head["sha"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return frozenset(found)


class _DeadQueues:
    """The fleet's dead-letter queues, peeked; a queue is read again only when its count changed."""

    def __init__(self, config: Config) -> None:
        self._rabbitmq = config.rabbitmq
        topology = build_topology(config)
        self._queues = [q.name for q in topology.queues if q.is_work_queue]
        self._dead = Topology((), tuple(topology.queue(dead_queue(name)) for name in self._queues), ())
        self._seen: dict[str, tuple[int, list[DeadLetter]]] = {}

    def read(self) -> list[DeadLetter]:
        try:
            connection = connect(self._rabbitmq, "tickborg-test-accounting")
        except CONNECTION_ERRORS:
            return self._letters()  # the broker is down (a restart test): what was seen last
        try:
            declare(connection.channel(), self._dead)
            for queue in self._queues:
                self._read(connection, queue)
        except CONNECTION_ERRORS:
            pass
        finally:
            if connection.is_open:
                connection.close()
        return self._letters()

    def _read(self, connection: pika.BlockingConnection, queue: str) -> None:
        channel = connection.channel()
        count = channel.queue_declare(dead_queue(queue), passive=True).method.message_count
        if count != self._seen.get(queue, (0, []))[0]:
            letters = []
            for _ in range(count):
                method, props, body = channel.basic_get(dead_queue(queue), auto_ack=False)
                if method is None:
                    break
                letters.append(DeadLetter(queue, dead_reason(props), heads_in(body), len(body)))
            # Letters peeked by the last read may not be back in the queue yet: a
            # short read is kept for now but not cached, so the next read tries again.
            self._seen[queue] = (count if len(letters) == count else -1, letters)
        channel.close()  # returns the peeked letters to their queue

    def _letters(self) -> list[DeadLetter]:
        return [letter for _, letters in self._seen.values() for letter in letters]
