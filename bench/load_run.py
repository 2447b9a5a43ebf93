"""Benchmark: the whole fleet under load, then a soak (SPEC §16, end to end and soak).

    python bench/load_run.py [--prs 200] [--clients 16] [--rate PRS_PER_S] [--consumers N]
                             [--throughput-prs 100] [--soak-minutes 10] [--soak-rate 0.5]
                             [--warm-up-minutes 2] [--stall-seconds 120] [--writes-per-second 0]

The fleet is the demo's (tickborg/demo): the sample monorepo in a local git
origin, every worker its own process, in a fresh vhost of the local RabbitMQ
made with rabbitmqctl and deleted afterwards. The fake GitHub runs in this
process: its call record, each call timed, says when each PR's check run was
created and completed.

1. Load: --prs pull requests, each its own refs/pull/N/head in the origin and
   its PR on the fake GitHub; their signed pull_request webhooks are POSTed by
   --clients threads all at once (or --rate PRs a second, open loop). Per PR:
   webhook POST sent -> evaluated (its builds scheduled: the mass-rebuilder's
   QueuedBuildJobs, seen on a queue of the bench's own bound to build-results)
   -> first check run created "queued" -> its check runs all completed;
   p50/p99/max of each. Targets: webhook -> queued p50 <= 100 ms at 1 PR/s
   (--rate 1), <= 8 s for 200 PRs at once.
2. Evaluation throughput (--throughput-prs 0 skips it): --throughput-prs PRs at
   once with the mass-rebuilders running, then, once their check runs are all
   completed, one more mass-rebuilder on the same queue and as many PRs again;
   evaluations a second of each batch (first webhook to last evaluation) and
   their ratio. The fleet keeps the extra mass-rebuilder for the soak.
3. Soak (--soak-minutes 0 skips it): PRs at --soak-rate a second through the
   same fleet; every worker's resident memory (VmRSS) after --warm-up-minutes
   and at the end. Target: no worker grows by more than 10%.

--consumers N runs N instances of each of the workers that do the work
(mass-rebuilder, builder, github-comment-poster) on their queues, as operators
scale a queue. A batch is waited for until none of its PRs has completed for
--stall-seconds; the PRs left are then named with their check runs. GitHub
writes are not paced (github_app.writes_per_second 0; --writes-per-second 1
is the default config's pace, GitHub's one a second): the fake has no
secondary rate limit, and at GitHub's pace no fleet could give 200 PRs their
check runs within seconds. The evaluations do not wait for the writes (the
status reporter makes them all), so "evaluated" shows the fleet's own pace. Exit status 1 when a PR did not complete, a worker
died, a message was dead-lettered or a request departed from GitHub's API
description; a missed speed target is reported, not an error.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import queue
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Iterable, Mapping, Sequence

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tickborg.broker import connect  # noqa: E402
from tickborg.config import load_config  # noqa: E402
from tickborg.demo import monorepo, vhost, webhooks  # noqa: E402
from tickborg.demo.processes import Children  # noqa: E402
from tickborg.demo.run import (  # noqa: E402
    MARKER_ENV, Demo, DemoFailed, Options, choose_sandbox, clean_up, report_failure,
)
from tickborg.demo.setup import APP_ID, Broker, Ports, Scene, write_scene  # noqa: E402
from tickborg.fakegithub import FakeGitHub  # noqa: E402
from tickborg.fakegithub.apidesc import ApiDescription  # noqa: E402
from tickborg.logsetup import configure_logging  # noqa: E402
from tickborg.messages import BUILD_RESULTS_EXCHANGE, QueuedBuildJobs  # noqa: E402
from tickborg.reporter.inputs import decode_incoming  # noqa: E402
from tickborg.topology import EVALUATION_JOBS, build_topology, dead_queue  # noqa: E402

TARGET_QUEUED_P50_MS = {"at once": 8000.0, "paced": 100.0}
TARGET_GROWTH = 0.10
SCALED = ("mass-rebuilder", "builder", "github-comment-poster")
# Load PRs touch the projects the demo's PR touches, so each gets the demo PR's build.
EXPECTED_RUN = monorepo.EXPECTED_RUNS[0]
CHECK_RUNS = f"/repos/{monorepo.REPO}/check-runs"
STATUSES = f"/repos/{monorepo.REPO}/statuses/"
ISSUES = f"/repos/{monorepo.REPO}/issues/"
WRITES = ("POST", "PATCH", "PUT", "DELETE")  # GitHub's content-creating requests
FIRST_PR = 2  # the demo's own PR is #1
POLL_SECONDS = 0.5


class Interrupted(Exception):
    """SIGTERM or SIGINT: stop and clean up."""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted


def say(line: str) -> None:
    print(line, flush=True)


# ----------------------------------------------------------------------------
# The machine.


def machine() -> list[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "?")
    meminfo = Path("/proc/meminfo").read_text().split()
    ram_gib = int(meminfo[meminfo.index("MemTotal:") + 1]) / 2**20
    return [
        f"machine: {os.cpu_count()} CPUs ({model}), {ram_gib:.1f} GiB RAM, {platform.platform()}",
        f"software: RabbitMQ {vhost.rabbitmq_version()}, Python {platform.python_version()}",
        f"load average at start (1/5/15 min): {' '.join(Path('/proc/loadavg').read_text().split()[:3])}",
    ]


def rss_kib(pid: int) -> int | None:
    """The process's resident memory, from /proc (None once it has gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), None)


# ----------------------------------------------------------------------------
# Pull requests: in the origin, on the fake GitHub, and their webhooks.


@attrs.frozen
class PullRequest:
    number: int
    title: str
    head_sha: str


def open_prs(scene: Scene, fake: FakeGitHub, numbers: Iterable[int]) -> list[PullRequest]:
    """Each PR a commit of its own off main (so a head sha of its own), as refs/pull/N/head and on GitHub."""
    opened = []
    for number in numbers:
        title = f"load: pull request {number}"
        files = {**monorepo.PR_FILES, "scripts/lint.sh": f"#!/bin/sh\necho lint, pull request {number}\n"}
        head = scene.origin.open_pr(number, "main", files, title)
        fake.state.add_pull_request(
            monorepo.REPO, number=number, head_sha=head, base_sha=scene.base_sha, title=title,
            author=monorepo.AUTHOR, files=sorted(files),
        )  # fmt: skip
        opened.append(PullRequest(number, title, head))
    return opened


@attrs.frozen
class Sent:
    at: float  # epoch seconds, just before the POST
    answered_after: float  # seconds until the receiver's 200


def send_webhooks(
    demo: Demo, prs: Sequence[PullRequest], rate: float, clients: int, stop: threading.Event
) -> dict[str, Sent]:
    """POST each PR's pull_request webhook from `clients` threads: all at once (rate 0) or
    PR i at start + i/rate (open loop: a slow answer does not delay the next PR). By head sha."""
    start = time.time()
    due: queue.Queue[tuple[float, PullRequest]] = queue.Queue()
    for i, pr in enumerate(prs):
        due.put((start + (i / rate if rate > 0 else 0.0), pr))
    sent: dict[str, Sent] = {}
    failures: list[str] = []
    clone_url = str(demo.scene.origin.path)

    def client() -> None:
        while not stop.is_set():
            try:
                at, pr = due.get_nowait()
            except queue.Empty:
                return
            if stop.wait(max(0.0, at - time.time())):
                return
            payload = webhooks.pull_request_opened(clone_url, pr.head_sha, demo.scene.base_sha, pr.number, pr.title)
            began = time.time()
            try:
                webhooks.deliver(demo.receiver_url, demo.scene.webhook_secret, "pull_request", payload)
            except (webhooks.DeliveryRefused, OSError) as exc:
                failures.append(f"#{pr.number}: {exc}")
                continue
            sent[pr.head_sha] = Sent(began, time.time() - began)

    threads = [threading.Thread(target=client, name=f"client-{n}", daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise DemoFailed(f"{len(failures)} webhooks refused, e.g. {failures[0]}", ("github-webhook-receiver",))
    return sent


# ----------------------------------------------------------------------------
# When each evaluation ended: its QueuedBuildJobs, the last thing it publishes.


class EvaluationWatch:
    """A queue of the bench's own on build-results, read in a thread of its own:
    the time each PR's QueuedBuildJobs was published, by head sha."""

    def __init__(self, config_path: Path) -> None:
        self.connection = connect(load_config(config_path).rabbitmq, "load-run evaluations")
        self.channel = self.connection.channel()
        self.queue = self.channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        self.channel.queue_bind(self.queue, BUILD_RESULTS_EXCHANGE)
        self.scheduled: dict[str, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="evaluation-watch", daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        try:
            for method, _, body in self.channel.consume(self.queue, auto_ack=True, inactivity_timeout=POLL_SECONDS):
                if self.stop.is_set():
                    break
                if method is not None and isinstance(message := decode_incoming(body), QueuedBuildJobs):
                    self.scheduled.setdefault(message.job.pr.head_sha, time.time())
        finally:
            self.connection.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


# ----------------------------------------------------------------------------
# What the fake GitHub saw.


@attrs.frozen
class Timing:
    """Seconds from a PR's webhook POST to each milestone the fake saw (None: not reached)."""

    evaluating: float | None  # the evaluation's first commit status written
    evaluated: float | None  # its builds scheduled (its QueuedBuildJobs published)
    queued: float | None  # the first check run created queued
    completed: float | None  # the last of its check runs completed


def completed_shas(fake: FakeGitHub) -> set[str]:
    runs = fake.state.check_runs(monorepo.REPO)
    return {r["head_sha"] for r in runs if r["name"] == EXPECTED_RUN and r["status"] == "completed"}


def sha_of_run(fake: FakeGitHub) -> dict[int, str]:
    """Each check run's commit, by run id (a PATCH names only the id)."""
    return {run["id"]: run["head_sha"] for run in fake.state.check_runs(monorepo.REPO)}


def timings(fake: FakeGitHub, sent: Mapping[str, Sent], evaluated: Mapping[str, float]) -> dict[str, Timing]:
    """Per head sha, each milestone's time after its webhook: from the fake's timed call
    record, and the evaluations' end by head sha (`EvaluationWatch`)."""
    sha_of = sha_of_run(fake)
    evaluating: dict[str, float] = {}
    queued: dict[str, float] = {}
    run_done: dict[tuple[str, object], float] = {}  # (sha, run id or name): first completing call
    for call in fake.calls:
        body = call.body if isinstance(call.body, dict) else {}
        completes = body.get("conclusion") is not None or body.get("status") == "completed"
        if call.method == "POST" and call.path.startswith(STATUSES) and call.status == 201:
            sha = call.path.rsplit("/", 1)[1]
            evaluating.setdefault(sha, call.at)
        elif call.method == "POST" and call.path == CHECK_RUNS and call.status == 201:
            sha = body.get("head_sha", "")
            if body.get("status", "queued") == "queued":
                queued.setdefault(sha, call.at)
            if completes:
                run_done.setdefault((sha, body.get("name")), call.at)
        elif call.method == "PATCH" and call.path.startswith(CHECK_RUNS + "/") and call.status == 200 and completes:
            run_id = int(call.path.rsplit("/", 1)[1])
            run_done.setdefault((sha_of.get(run_id, ""), run_id), call.at)
    done_at: dict[str, float] = {}
    for (sha, _), at in run_done.items():
        done_at[sha] = max(done_at.get(sha, at), at)
    finished = completed_shas(fake)

    def after(milestone: Mapping[str, float], sha: str, sent_at: float) -> float | None:
        return milestone[sha] - sent_at if sha in milestone else None

    return {
        sha: Timing(
            after(evaluating, sha, s.at),
            after(evaluated, sha, s.at),
            after(queued, sha, s.at),
            after(done_at, sha, s.at) if sha in finished else None,
        )
        for sha, s in sent.items()
    }


@attrs.frozen
class Writes:
    """The content-creating requests the fake saw for one PR, by what they wrote."""

    statuses: int
    labels: int
    check_runs: int

    @property
    def total(self) -> int:
        return self.statuses + self.labels + self.check_runs


def writes_per_pr(fake: FakeGitHub, prs: Sequence[PullRequest]) -> dict[int, Writes]:
    """Every write request (answered or refused: each costs budget) put to its PR, by number."""
    number_of = {pr.head_sha: pr.number for pr in prs}
    sha_of = sha_of_run(fake)
    counts: Counter[tuple[int | None, str]] = Counter()
    for call in fake.calls:
        if call.method not in WRITES:
            continue
        if call.path.startswith(STATUSES):
            counts[number_of.get(call.path.rsplit("/", 1)[1]), "statuses"] += 1
        elif call.path.startswith(ISSUES) and "/labels" in call.path:
            counts[int(call.path[len(ISSUES):].split("/", 1)[0]), "labels"] += 1
        elif call.path == CHECK_RUNS and isinstance(call.body, dict):
            counts[number_of.get(call.body.get("head_sha", "")), "check_runs"] += 1
        elif call.path.startswith(CHECK_RUNS + "/"):
            counts[number_of.get(sha_of.get(int(call.path.rsplit("/", 1)[1]), "")), "check_runs"] += 1
    return {pr.number: Writes(*(counts[pr.number, f.name] for f in attrs.fields(Writes))) for pr in prs}


def write_rate(fake: FakeGitHub) -> tuple[int, float, int]:
    """All writes the fleet made, their mean rate a second, and the most in any 60 s."""
    times = sorted(call.at for call in fake.calls if call.method in WRITES)
    if not times:
        return 0, 0.0, 0
    busiest, first = 0, 0
    for last, at in enumerate(times):
        while times[first] < at - 60:
            first += 1
        busiest = max(busiest, last - first + 1)
    span = times[-1] - times[0]
    return len(times), len(times) / span if span else float(len(times)), busiest


def report_writes(fake: FakeGitHub, prs: Sequence[PullRequest]) -> None:
    """Writes per PR (GitHub allows an App about 80 a minute, 500 an hour) and the fleet's rate."""
    per_pr = list(writes_per_pr(fake, prs).values())
    say("GitHub writes per PR:")
    for what in ("statuses", "labels", "check_runs", "total"):
        values = sorted(getattr(w, what) for w in per_pr)
        say(f"  {what.replace('_', ' '):<10} p50 {percentile(values, 0.5):3d}   max {max(values):3d}")
    total, rate, busiest = write_rate(fake)
    say(f"the fleet's writes: {total} in all, {rate:.2f}/s on average, {busiest} in the busiest minute")


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def latency_line(what: str, seconds: Sequence[float]) -> str:
    if not seconds:
        return f"{what}: none"
    ms = [s * 1000 for s in seconds]
    return (
        f"{what}: p50 {percentile(ms, 0.5):8.0f} ms   p99 {percentile(ms, 0.99):8.0f} ms   "
        f"max {max(ms):8.0f} ms   (n={len(ms)})"
    )


def report_latencies(sent: Mapping[str, Sent], found: Mapping[str, Timing], wall: float, target_ms: float) -> bool:
    """Print the figures of one batch of PRs; whether every PR completed."""
    def reached(milestone: str) -> list[float]:
        return [at for t in found.values() if (at := getattr(t, milestone)) is not None]

    queued, completed = reached("queued"), reached("completed")
    say("from the webhook POST to:")
    say(latency_line("  the receiver's 200             ", [s.answered_after for s in sent.values()]))
    say(latency_line("  evaluated (builds scheduled)   ", reached("evaluated")))
    say(latency_line("  first eval status written      ", reached("evaluating")))
    say(latency_line("  check run queued               ", queued))
    say(latency_line("  check runs completed           ", completed))
    evaluated = reached("evaluated")
    say(f"evaluated: {len(evaluated)} of {len(sent)} PRs, the last {max(evaluated, default=0):.1f} s after its webhook")
    say(f"completed: {len(completed)} of {len(sent)} PRs in {wall:.1f} s "
        f"({len(completed) / wall:.2f} PRs/s through the fleet)")
    if queued:
        p50 = percentile(queued, 0.5) * 1000
        verdict = "met" if p50 <= target_ms else "NOT met"
        say(f"webhook -> queued p50 / target: {p50:.0f} / {target_ms:.0f} ms = "
            f"{p50 / target_ms:.2f} (target <= 1: {verdict})")
    return len(completed) == len(sent)


# ----------------------------------------------------------------------------
# The run.


class LoadRun:
    def __init__(self, args: argparse.Namespace, demo: Demo, fake: FakeGitHub, children: Children) -> None:
        self.args = args
        self.demo = demo
        self.fake = fake
        self.children = children
        self.stop = threading.Event()

    def wait_for(self, prs: Sequence[PullRequest]) -> None:
        """Until every PR's check run is completed, a worker dies, or none has completed for
        --stall-seconds; then name the PRs left and their check runs as GitHub shows them."""
        wanted = {pr.head_sha for pr in prs}
        done = 0
        last_progress = next_news = time.monotonic()
        while done < len(wanted) and time.monotonic() - last_progress < self.args.stall_seconds:
            time.sleep(POLL_SECONDS)
            self.check_workers()
            now_done = len(wanted & completed_shas(self.fake))
            if now_done > done:
                done, last_progress = now_done, time.monotonic()
            if time.monotonic() >= next_news + 10:
                self.demo.say(f"{done} of {len(wanted)} PRs completed")
                next_news = time.monotonic()
        left = wanted - completed_shas(self.fake)
        for pr in (pr for pr in prs if pr.head_sha in left):
            runs = [f"{r['name']!r} {r['status']}" for r in self.fake.state.check_runs(monorepo.REPO, pr.head_sha)]
            self.demo.say(f"not completed after {self.args.stall_seconds:g} s without progress: PR #{pr.number} "
                          f"({pr.head_sha[:12]}), check runs: {', '.join(runs) or 'none'}")

    def check_workers(self) -> None:
        dead = self.children.first_dead()
        if dead is not None:
            raise DemoFailed(f"{dead.name} exited with status {dead.exited()}", (dead.name,))

    def load(self, prs: Sequence[PullRequest]) -> bool:
        how = f"at {self.args.rate:g} PRs/s" if self.args.rate > 0 else "at once"
        self.demo.say(f"load: {len(prs)} pull_request webhooks {how} from {self.args.clients} threads")
        watch = EvaluationWatch(self.demo.scene.config_path)
        try:
            began = time.time()
            sent = send_webhooks(self.demo, prs, self.args.rate, self.args.clients, self.stop)
            self.demo.say(f"all {len(sent)} webhooks answered 200 in {time.time() - began:.2f} s")
            self.wait_for(prs)
        finally:
            watch.close()
        found = timings(self.fake, sent, watch.scheduled)
        say(f"\n== load: {len(prs)} PRs {how}, {self.args.consumers} consumer(s) of {', '.join(SCALED)} ==")
        target = TARGET_QUEUED_P50_MS["paced" if self.args.rate > 0 else "at once"]
        completed = report_latencies(sent, found, time.time() - began, target)
        report_writes(self.fake, prs)
        return completed

    def throughput(self, first: Sequence[PullRequest], second: Sequence[PullRequest]) -> bool:
        """Evaluations a second with the mass-rebuilders running, then with one more."""
        rates = []
        for batch, rebuilders in ((first, self.args.consumers), (second, self.args.consumers + 1)):
            if rebuilders > self.args.consumers:
                self.demo.start_worker("mass-rebuilder", rebuilders)
                self.wait_for_consumers(EVALUATION_JOBS, rebuilders)
            self.demo.say(f"throughput: {len(batch)} PRs at once, {rebuilders} mass-rebuilder(s)")
            watch = EvaluationWatch(self.demo.scene.config_path)
            try:
                sent = send_webhooks(self.demo, batch, 0.0, self.args.clients, self.stop)
                self.wait_for(batch)
            finally:
                watch.close()
            evaluated = [watch.scheduled[sha] for sha in sent if sha in watch.scheduled]
            if len(evaluated) < len(sent):
                say(f"throughput: only {len(evaluated)} of {len(sent)} PRs evaluated")
                return False
            span = max(evaluated) - min(s.at for s in sent.values())
            rates.append(len(evaluated) / span)
        say(f"\n== evaluation throughput: {len(first)} PRs at once per batch ==")
        for rebuilders, rate in enumerate(rates, start=self.args.consumers):
            say(f"  {rebuilders} mass-rebuilder(s): {rate:6.2f} evaluations/s")
        say(f"  ratio {self.args.consumers + 1} / {self.args.consumers}: {rates[1] / rates[0]:.2f}")
        return True

    def wait_for_consumers(self, queue_name: str, count: int) -> None:
        connection = connect(load_config(self.demo.scene.config_path).rabbitmq, "load-run consumers")
        try:
            channel = connection.channel()
            deadline = time.monotonic() + 60
            while channel.queue_declare(queue_name, passive=True).method.consumer_count < count:
                self.check_workers()
                if time.monotonic() > deadline:
                    raise DemoFailed(f"{queue_name} did not reach {count} consumers", ("mass-rebuilder",))
                time.sleep(0.2)
        finally:
            connection.close()

    def soak(self, prs: Sequence[PullRequest]) -> bool:
        args = self.args
        self.demo.say(f"soak: {len(prs)} PRs at {args.soak_rate:g}/s for {args.soak_minutes:g} min; "
                      f"memory after {args.warm_up_minutes:g} min of warm-up and at the end")
        sent: dict[str, Sent] = {}
        failed: list[DemoFailed] = []

        def send() -> None:
            try:
                sent.update(send_webhooks(self.demo, prs, args.soak_rate, args.clients, self.stop))
            except DemoFailed as exc:
                failed.append(exc)

        sender = threading.Thread(target=send, name="soak-sender", daemon=True)
        watch = EvaluationWatch(self.demo.scene.config_path)
        began = time.monotonic()
        sender.start()
        try:
            peaks: dict[str, int] = {}
            warm = self.sample_until(began + args.warm_up_minutes * 60, peaks)
            self.demo.say("warm-up over: memory sampled")
            end = self.sample_until(began + args.soak_minutes * 60, peaks)
        finally:
            self.stop.set()  # a sender still behind schedule stops here
            sender.join()
        if failed:
            raise failed[0]
        self.demo.say(f"soak over: {len(sent)} webhooks sent; waiting for their check runs")
        try:
            self.wait_for([pr for pr in prs if pr.head_sha in sent])
        finally:
            watch.close()
        found = timings(self.fake, sent, watch.scheduled)
        say(f"\n== soak: {len(sent)} PRs at {args.soak_rate:g}/s over {args.soak_minutes:g} min ==")
        all_done = report_latencies(sent, found, time.monotonic() - began, TARGET_QUEUED_P50_MS["paced"])
        self.memory_table(warm, end, peaks)
        return all_done

    def sample_until(self, when: float, peaks: dict[str, int]) -> dict[str, int]:
        """Every worker's RSS (KiB) every few seconds until `when`; the last sample."""
        while True:
            self.check_workers()
            sample = {c.name: rss for c in self.children.started if (rss := rss_kib(c.process.pid)) is not None}
            for name, rss in sample.items():
                peaks[name] = max(peaks.get(name, 0), rss)
            if time.monotonic() >= when:
                return sample
            time.sleep(min(5.0, max(0.0, when - time.monotonic())))

    def memory_table(self, warm: Mapping[str, int], end: Mapping[str, int], peaks: Mapping[str, int]) -> None:
        say(f"\n{'worker':<26} {'after warm-up':>14} {'at the end':>11} {'peak':>9} {'growth':>8}  target <= "
            f"{TARGET_GROWTH:.0%}")
        growths = {name: (end[name] - warm[name]) / warm[name] for name in warm}
        for name, growth in growths.items():
            verdict = "ok" if growth <= TARGET_GROWTH else "NOT met"
            say(f"{name:<26} {warm[name] / 1024:10.1f} MiB {end[name] / 1024:7.1f} MiB "
                f"{peaks[name] / 1024:5.1f} MiB {growth:+8.1%}  {verdict}")
        worst = max(growths, key=growths.__getitem__)
        over = [name for name, growth in growths.items() if growth > TARGET_GROWTH]
        say(f"largest growth: {worst} {growths[worst]:+.1%}; target (every worker <= {TARGET_GROWTH:.0%}): "
            + (f"NOT met by {', '.join(over)}" if over else "met"))

    def dead_letters(self) -> dict[str, int]:
        """Messages in every `{queue}.dead` now (each is a job that gave up)."""
        config = load_config(self.demo.scene.config_path)
        connection = connect(config.rabbitmq, "load-run")
        try:
            channel = connection.channel()
            counts = {
                dead_queue(q.name): channel.queue_declare(dead_queue(q.name), passive=True).method.message_count
                for q in build_topology(config).queues
                if q.is_work_queue
            }
        finally:
            connection.close()
        return {name: count for name, count in counts.items() if count}


def prepare(scene: Scene, writes_per_second: float) -> None:
    """The demo's config, with GitHub writes paced as asked (the fake has no secondary rate limit)."""
    config = json.loads(scene.config_path.read_text())
    config["github_app"]["writes_per_second"] = writes_per_second
    scene.config_path.write_text(json.dumps(config, indent=2))


def run(args: argparse.Namespace) -> int:
    for line in machine():
        say(line)
    root = Path(tempfile.mkdtemp(prefix="tickborg-load-"))
    broker = Broker(args.rabbitmq_host, args.rabbitmq_port, "guest", "guest", f"tickborg-load-{uuid.uuid4().hex[:8]}")
    children = Children(root / "logs", {**os.environ, MARKER_ENV: str(root)})
    vhost_made = keep_logs = False
    passed = False
    load: LoadRun | None = None
    try:
        sandbox = choose_sandbox(root / "sandbox-check", say)
        vhost.add_vhost(broker.vhost, broker.username)
        vhost_made = True
        scene = write_scene(root, Ports(), broker, sandbox)
        prepare(scene, args.writes_per_second)
        soak_prs = math.ceil(args.soak_rate * args.soak_minutes * 60)
        say(f"vhost {broker.vhost}; builds sandboxed by {sandbox}; GitHub writes paced at "
            f"{args.writes_per_second:g}/s (0: not paced); temp dir {root}")
        with FakeGitHub.start(
            port=scene.ports.github, app_id=APP_ID, public_key_pem=scene.public_key.read_text(),
            api_description=ApiDescription.packaged(),
        ) as fake:  # fmt: skip
            fake.state.add_repo(monorepo.REPO, webhooks.INSTALLATION_ID)
            fake.state.add_commits(monorepo.REPO, scene.base_sha)
            began = time.monotonic()
            numbers = iter(range(FIRST_PR, FIRST_PR + args.prs + 2 * args.throughput_prs + soak_prs))
            load_prs = open_prs(scene, fake, itertools.islice(numbers, args.prs))
            batches = [open_prs(scene, fake, itertools.islice(numbers, args.throughput_prs)) for _ in range(2)]
            soak = open_prs(scene, fake, numbers)
            say(f"opened {len(load_prs) + 2 * args.throughput_prs + len(soak)} PRs in the origin and on the fake GitHub in "
                f"{time.monotonic() - began:.1f} s")
            demo = Demo(Options(timeout_seconds=120), scene, children, say)
            demo.declare_topology()
            demo.start_workers({name: args.consumers for name in SCALED})
            load = LoadRun(args, demo, fake, children)
            passed = True
            if load_prs:
                passed &= load.load(load_prs)
            if args.throughput_prs:
                passed &= load.throughput(*batches)
            if soak:
                passed &= load.soak(soak)
            dead = load.dead_letters()
            say(f"dead letters: {dead or 'none'}")
            violations = fake.violations
            say(f"requests departing from GitHub's API description: {len(violations)}"
                + (f", e.g. {violations[0]}" if violations else ""))
            passed = passed and not dead and not violations
    except DemoFailed as exc:
        keep_logs = True
        report_failure(exc, children, say)
    except vhost.BrokerSetupFailed as exc:
        keep_logs = True
        say(f"FAILED: {exc}")
    except Interrupted:
        say("interrupted: stopping the fleet")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if load is not None:
            load.stop.set()
        clean_up(root, broker, children, vhost_made, keep_logs, say)
    say(f"load average at the end (1/5/15 min): {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    return 0 if passed else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prs", type=int, default=200, help="PRs in the load (default 200; 0 skips it)")
    parser.add_argument("--clients", type=int, default=16, help="threads posting webhooks (default 16)")
    parser.add_argument("--rate", type=float, default=0.0, help="load PRs per second, open loop (default 0: at once)")
    parser.add_argument("--consumers", type=int, default=1, help=f"instances of each of {', '.join(SCALED)}")
    parser.add_argument("--throughput-prs", type=int, default=100,
                        help="PRs in each batch of the one-and-one-more mass-rebuilder comparison (default 100; 0 skips it)")
    parser.add_argument("--soak-minutes", type=float, default=10.0, help="default 10; 0 skips the soak")
    parser.add_argument("--soak-rate", type=float, default=0.5, help="soak PRs per second (default 0.5)")
    parser.add_argument("--warm-up-minutes", type=float, default=2.0, help="before the soak's first sample (default 2)")
    parser.add_argument("--stall-seconds", type=float, default=120.0,
                        help="stop waiting for a batch's check runs after this long without one completing")
    parser.add_argument("--writes-per-second", type=float, default=0.0, help="github_app pacing (default 0: off)")
    parser.add_argument("--rabbitmq-host", default="127.0.0.1")
    parser.add_argument("--rabbitmq-port", type=int, default=5672)
    args = parser.parse_args()
    if args.soak_minutes and args.warm_up_minutes >= args.soak_minutes:
        parser.error("--warm-up-minutes must be shorter than --soak-minutes")
    configure_logging(level="warning")
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
