"""One demo run: set the scene, start the fleet, drive a PR through it, report, clean up."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import FrameType
from typing import Callable, Iterator, Mapping, Sequence

import attrs
import pika.exceptions
import requests

from tickborg.broker import connect, declare
from tickborg.builder.sandbox import Sandbox, SandboxUnavailable
from tickborg.cli import COMMANDS
from tickborg.config import load_config
from tickborg.demo import monorepo, progress, vhost, webhooks
from tickborg.demo.github import FakeGitHubControl
from tickborg.demo.logview import attempts, log_key
from tickborg.demo.processes import Children
from tickborg.demo.setup import APP_ID, Broker, Ports, Scene, write_scene
from tickborg.topology import build_topology

# Every process of the demo carries this in its environment (its value: the temp dir).
MARKER_ENV = "TICKBORG_DEMO_RUN"
# The fleet, in start order; whichever of them this version has.
WORKERS = (
    "log-message-collector",
    "logapi",
    "stats",
    "evaluation-filter",
    "github-comment-filter",
    "push-filter",
    "github-rerun-filter",
    "mass-rebuilder",
    "builder",
    "github-comment-poster",
    "github-webhook-receiver",
)
POLL_SECONDS = 0.25
Say = Callable[[str], None]


class DemoFailed(Exception):
    """Something did not happen in time, or a process died; `suspects` are the processes to look at."""

    def __init__(self, message: str, suspects: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.suspects = tuple(suspects)


class Stopped(Exception):
    """SIGTERM."""


@attrs.frozen
class Options:
    timeout_seconds: float = 180.0
    keep_running: bool = False
    rabbitmq_host: str = "127.0.0.1"
    rabbitmq_port: int = 5672
    rabbitmq_user: str = "guest"
    rabbitmq_password: str = attrs.field(default="guest", repr=False)


def available_workers() -> list[str]:
    """The fleet's processes this version has built (others land over time)."""
    return [name for name in WORKERS if importlib.util.find_spec(COMMANDS[name].partition(":")[0]) is not None]


def choose_sandbox(scratch: Path, say: Say) -> str:
    try:
        Sandbox("bubblewrap").check(scratch)
    except SandboxUnavailable as exc:
        say(f"WARNING: builds run without a sandbox ({exc})")
        return "none"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return "bubblewrap"


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise Stopped


def run(options: Options, say: Say) -> int:
    root = Path(tempfile.mkdtemp(prefix="tickborg-demo-"))
    broker = Broker(
        options.rabbitmq_host,
        options.rabbitmq_port,
        options.rabbitmq_user,
        options.rabbitmq_password,
        f"tickborg-demo-{uuid.uuid4().hex[:12]}",
    )
    children = Children(root / "logs", {**os.environ, MARKER_ENV: str(root)})
    previous_term = signal.signal(signal.SIGTERM, _raise_stopped)
    # Also when started with SIGINT ignored (as a background job is): Ctrl-C must stop the fleet.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    vhost_made = keep_logs = finished = False
    status = 1
    try:
        say(f"tickborg demo in {root}")
        sandbox = choose_sandbox(root / "sandbox-check", say)
        vhost.add_vhost(broker.vhost, broker.username)
        vhost_made = True
        say(f"RabbitMQ vhost {broker.vhost} on {broker.host}:{broker.port}; builds sandboxed by {sandbox}")
        demo = Demo(options, write_scene(root, Ports(), broker, sandbox), children, say)
        demo.start_fleet()
        demo.drive()
        finished = True
        status = 0
        if options.keep_running:
            demo.serve()
    except DemoFailed as exc:
        keep_logs = True
        report_failure(exc, children, say)
    except (vhost.BrokerSetupFailed, webhooks.DeliveryRefused) as exc:
        keep_logs = True
        say(f"FAILED: {exc}")
    except (KeyboardInterrupt, Stopped):
        # After a finished run, Ctrl-C is how --keep-running ends: a success.
        say("stopping the fleet" if finished else "interrupted: stopping the fleet")
        status = 0 if finished else 130
    finally:
        # Cleanup must run to the end, whatever else arrives.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            clean_up(root, broker, children, vhost_made, keep_logs, say)
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, previous_term)
    return status


def report_failure(failure: DemoFailed, children: Children, say: Say) -> None:
    """The failure, and the last lines of each suspect's log."""
    say(f"FAILED: {failure}")
    for name in failure.suspects:
        child = next((c for c in children.started if c.name == name), None)
        if child is not None:
            say(f"--- last lines of {child.log_path} ---\n{child.log_tail()}")


def clean_up(root: Path, broker: Broker, children: Children, vhost_made: bool, keep_logs: bool, say: Say) -> None:
    """Stop every child, remove the vhost, and the temp dir (all of it, or all but the logs)."""
    began = time.monotonic()
    for child in children.stop():
        say(f"{child.name} did not stop in time and was killed")
    if children.started:
        say(f"stopped {len(children.started)} processes in {time.monotonic() - began:.1f}s")
    if vhost_made:
        try:
            vhost.delete_vhost(broker.vhost)
        except vhost.BrokerSetupFailed as exc:
            say(f"WARNING: could not remove the vhost: {exc}")
    if keep_logs:
        for entry in root.iterdir():
            if entry.name != "logs":
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        say(f"process logs kept in {root / 'logs'}")
    else:
        shutil.rmtree(root, ignore_errors=True)


class Demo:
    def __init__(self, options: Options, scene: Scene, children: Children, say: Say) -> None:
        self.options = options
        self.scene = scene
        self.children = children
        self.github = FakeGitHubControl(f"http://127.0.0.1:{scene.ports.github}")
        self.started = time.monotonic()
        self.deadline = self.started + options.timeout_seconds
        self.progress = progress.Progress()
        self._say = say
        self.snapshot: progress.Snapshot = {}

    def say(self, line: str) -> None:
        self._say(f"[{time.monotonic() - self.started:5.1f}s] {line}")

    # ------------------------------------------------------------------

    def start_fleet(self) -> None:
        self.declare_topology()
        self.start_fake_github()
        self.start_workers()

    def declare_topology(self) -> None:
        """Every exchange and queue, so they exist before anything is published."""
        config = load_config(self.scene.config_path)
        try:
            connection = connect(config.rabbitmq, "tickborg demo")
        except pika.exceptions.AMQPError as exc:
            raise DemoFailed(f"RabbitMQ is not reachable at {config.rabbitmq.host}:{config.rabbitmq.port}: {exc!r}")
        try:
            declare(connection.channel(), build_topology(config))
        finally:
            connection.close()

    def start_fake_github(self) -> None:
        self.children.start(
            "fake-github",
            [
                sys.executable, "-m", "tickborg.fakegithub",
                "--port", str(self.scene.ports.github),
                "--app-id", str(APP_ID),
                "--public-key", str(self.scene.public_key),
                "--repo", f"{monorepo.REPO}={webhooks.INSTALLATION_ID}",
            ],
        )  # fmt: skip
        self.wait("the fake GitHub to answer", self.github.is_up, ("fake-github",))
        self.github.add_commits(monorepo.REPO, [self.scene.base_sha, self.scene.head_sha])
        self.github.add_pull_request(
            monorepo.REPO,
            number=monorepo.PR_NUMBER,
            head_sha=self.scene.head_sha,
            base_sha=self.scene.base_sha,
            title=monorepo.PR_TITLE,
            author=monorepo.AUTHOR,
            files=sorted(monorepo.PR_FILES),
        )
        self.say(f"fake GitHub at {self.github.url}: {monorepo.REPO} with PR #{monorepo.PR_NUMBER}")

    def start_workers(self, instances: Mapping[str, int] | None = None) -> None:
        """Every worker as its own process, `instances[name]` of it on its queue (default 1, as
        operators scale a queue's consumers); then wait for the receiver."""
        workers = available_workers()
        for name in workers:
            for n in range(1, (instances or {}).get(name, 1) + 1):
                self.start_worker(name, n)
        self.say(f"started {len(workers)} workers: {', '.join(workers)}")
        self.wait("the webhook receiver to be healthy", lambda: self._healthy(self.receiver_url + "health"), workers)
        self.say(f"webhook receiver at {self.receiver_url}")

    def start_worker(self, name: str, instance: int = 1) -> None:
        """Instance `instance` of worker `name`, a process of its own (named `{name}-{instance}` after the first)."""
        argv = [sys.executable, "-m", "tickborg.cli", name, "--config", str(self.scene.config_path)]
        self.children.start(name if instance == 1 else f"{name}-{instance}", argv)

    @property
    def receiver_url(self) -> str:
        return f"http://127.0.0.1:{self.scene.ports.receiver}/"

    @property
    def logapi_url(self) -> str:
        return f"http://127.0.0.1:{self.scene.ports.logapi}"

    def drive(self) -> None:
        clone_url = str(self.scene.origin.path)
        self.say(f"→ pull_request webhook: #{monorepo.PR_NUMBER} opened ({monorepo.PR_TITLE!r})")
        webhooks.deliver(
            self.receiver_url,
            self.scene.webhook_secret,
            "pull_request",
            webhooks.pull_request_opened(clone_url, self.scene.head_sha, self.scene.base_sha),
        )
        self.wait_github("the evaluation", self._evaluated, ("evaluation-filter", "mass-rebuilder"))
        self.say(f"→ issue_comment webhook: {monorepo.COMMENT!r}")
        webhooks.deliver(self.receiver_url, self.scene.webhook_secret, "issue_comment", webhooks.comment_created(clone_url))
        self.wait_github(
            "every check run to complete",
            lambda s: progress.completed(s, monorepo.EXPECTED_RUNS),
            ("github-comment-filter", "builder", "github-comment-poster"),
        )
        found = self.wait("logapi to serve every build's log", self._logs_stored, ("log-message-collector", "logapi"))
        violations = self.github.violations()
        if violations:
            raise DemoFailed("requests departed from GitHub's API description: " + "; ".join(violations))
        self._say("\nWhat GitHub shows:")
        for line in progress.summary(self.snapshot, found):
            self._say(line)
        failed = [n for n, r in progress.runs_by_name(self.snapshot).items() if r.get("conclusion") != "success"]
        if failed:
            raise DemoFailed(f"check runs did not succeed: {', '.join(failed)}", ("builder",))
        self._say(f"\ndone in {time.monotonic() - self.started:.1f}s")

    def serve(self) -> None:
        self._say(f"\nThe fleet keeps running (Ctrl-C stops it). Log page: {self.logapi_url}/")
        self._say(f"GitHub's view: {self.github.url}/_fake/repos/{monorepo.REPO}")
        self._say(f"process logs: {self.scene.logs}")
        while True:
            self._check_children()
            time.sleep(1)

    # ------------------------------------------------------------------

    def _evaluated(self, snapshot: progress.Snapshot) -> bool:
        state = progress.eval_state(snapshot)
        if state in ("failure", "error"):
            raise DemoFailed(f"the evaluation ended in {state}", ("mass-rebuilder",))
        return state == "success"

    def _logs_stored(self) -> list[dict] | None:
        keys = {log_key(run.get("details_url") or "") for run in progress.runs_by_name(self.snapshot).values()}
        if None in keys:
            raise DemoFailed("a check run has no log link", ("github-comment-poster",))
        found = [a for key in sorted(k for k in keys if k) for a in attempts(self.logapi_url, key)]
        done = len(found) >= len(monorepo.EXPECTED_RUNS) and all(a["status"] for a in found)
        return found if done else None

    @staticmethod
    def _healthy(url: str) -> bool:
        try:
            return requests.get(url, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def wait_github(self, what: str, condition: Callable[[progress.Snapshot], bool], suspects: Sequence[str]) -> None:
        def look() -> bool:
            self.snapshot = self.github.snapshot(monorepo.REPO)
            for line in self.progress.news(self.snapshot):
                self.say(line)
            return condition(self.snapshot)

        self.wait(what, look, suspects)

    def wait(self, what: str, condition: Callable[[], object], suspects: Sequence[str]):  # type: ignore[no-untyped-def]
        """Poll `condition` until it is truthy (its value returned); fail on a dead process or the deadline."""
        for _ in _ticks():
            self._check_children()
            value = condition()
            if value:
                return value
            if time.monotonic() > self.deadline:
                raise DemoFailed(
                    f"waited {self.options.timeout_seconds:.0f}s for {what}; process logs in {self.scene.logs}",
                    suspects,
                )

    def _check_children(self) -> None:
        dead = self.children.first_dead()
        if dead is not None:
            raise DemoFailed(f"{dead.name} exited with status {dead.exited()}", (dead.name,))


def _ticks() -> Iterator[None]:
    while True:
        yield None
        time.sleep(POLL_SECONDS)
