"""The status reporter on the real RabbitMQ, writing to the fake GitHub over HTTP
with the real client: messages published to the `build-results` exchange as the
filters, the evaluator and the builders publish them."""

from __future__ import annotations

import json
import time
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import pytest

from reporter_messages import HEAD_SHA, PUSH, PUSH_SHA, REQUEST_ID, job, queued, result, start
from support.config import base_config_data
from support.paths import WIRE
from support.process import tickborg_process, wait_until
from support.runtime import Broker, RunningWorker
from support.whole_fleet import check_run_writes
from tickborg.broker import declare, properties
from tickborg.config import Config, RabbitMQConfig, load_config
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.faults import Fault, bad_credentials, error, rate_limited, server_error
from tickborg.fakegithub.keys import AppKeyPair
from tickborg.fakegithub.testing import TEST_APP_ID, TEST_REPO
from tickborg.github.client import GitHubClient
from tickborg.messages import BuildStatus, UnexpectedError
from tickborg.reporter.runs import LogLinks
from tickborg.reporter.worker import StatusReporter
from tickborg.runtime.actions import WireMessage
from tickborg.runtime.retry import DEAD_REASON_HEADER
from tickborg.topology import BUILD_RESULTS, BUILD_RESULTS_QUEUE, build_topology, dead_queue

CHECK_RUNS = r"/repos/[^/]+/[^/]+/(commits/[^/]+/)?check-runs(/\d+)?"
RUN_NAME = "libfoo on x86_64-linux"
GARBAGE = b"\xff not a message"


class Scene:
    """The fake GitHub, a broker connection, and what the reporter wrote."""

    def __init__(self, fake: FakeGitHub, broker: Broker) -> None:
        self.fake = fake
        self.broker = broker
        self.sentinels = 0

    def publish(self, message: WireMessage | bytes) -> None:
        body = message if isinstance(message, bytes) else json.dumps(message.to_json()).encode()
        self.broker.channel.basic_publish(BUILD_RESULTS, "", body, properties(), mandatory=True)

    def runs(self, name: str = RUN_NAME, sha: str = HEAD_SHA) -> list[dict[str, Any]]:
        return [r for r in self.fake.state.check_runs(TEST_REPO, sha) if r["name"] == name]

    def wait_for_run(self, status: str, name: str = RUN_NAME, sha: str = HEAD_SHA) -> dict[str, Any]:
        wait_until(lambda: any(r["status"] == status for r in self.runs(name, sha)))
        return next(r for r in self.runs(name, sha) if r["status"] == status)

    def settle(self) -> None:
        """Wait until every message published so far is handled: a later one
        (one consumer, one message at a time) has made its run."""
        self.sentinels += 1
        name = f"sentinel-{self.sentinels}"
        self.publish(queued(job([name])))
        self.wait_for_run("queued", f"{name} on x86_64-linux")

    def dead(self) -> int:
        return self.broker.count(dead_queue(BUILD_RESULTS_QUEUE))

    def failed_calls(self, status: int) -> int:
        return sum(1 for call in self.fake.calls if call.status == status)


@pytest.fixture
def reporter_config(make_config: Callable[..., Config], rabbitmq_config: RabbitMQConfig) -> Config:
    return make_config(rabbitmq_config, log_viewer_url="https://logs.example/?key={key}")


@pytest.fixture
def scene(reporter_config: Config, fake_github: FakeGitHub, github_client: GitHubClient) -> Iterator[Scene]:
    fake_github.state.add_commits(TEST_REPO, HEAD_SHA, PUSH_SHA)
    with running_reporter(reporter_config, fake_github, github_client) as scene:
        yield scene


@contextmanager
def running_reporter(
    config: Config, fake: FakeGitHub, github: GitHubClient, start_delay: float = 0.0, prefetch: int = 1
) -> Iterator[Scene]:
    topology = build_topology(config).select([BUILD_RESULTS_QUEUE])
    reporter = StatusReporter(github, LogLinks.from_config(config), TEST_APP_ID, start_delay=start_delay)
    with Broker(config.rabbitmq) as broker:
        declare(broker.channel, topology)
        with RunningWorker(reporter, config, (BUILD_RESULTS_QUEUE,), topology, prefetch=prefetch):
            yield Scene(fake, broker)


def test_one_run_moves_queued_then_in_progress_then_completed(scene: Scene) -> None:
    scene.publish(queued())
    queued_run = scene.wait_for_run("queued")
    assert queued_run["output"]["title"] == "Queued"
    assert queued_run["details_url"] == "https://logs.example/?key=tick-org/monorepo.17"
    assert json.loads(queued_run["external_id"]) == {"system": "x86_64-linux", "projects": ["libfoo"], "request_id": REQUEST_ID}

    scene.publish(start())
    assert scene.wait_for_run("in_progress")["output"]["title"] == "Building"

    scene.publish(result(BuildStatus.FAILURE, output=["make: *** [all] Error 2"]))
    done = scene.wait_for_run("completed")
    assert (done["id"], done["conclusion"], done["output"]["title"]) == (queued_run["id"], "failure", "Failure")
    assert "**Attempted:** `libfoo`" in done["output"]["summary"] and "make: *** [all] Error 2" in done["output"]["summary"]
    assert done["external_id"] == queued_run["external_id"]
    assert len(scene.runs()) == 1
    assert len(scene.fake.calls_to("POST", "/check-runs")) == 1


def test_a_result_before_its_queued_jobs_and_late_redeliveries_leave_one_completed_run(scene: Scene) -> None:
    scene.publish(result(BuildStatus.SUCCESS))
    created = scene.wait_for_run("completed")
    scene.publish(queued())  # its QueuedBuildJobs, late
    scene.publish(start())  # a late start
    scene.publish(queued())  # and redelivered
    scene.settle()
    (run,) = scene.runs()
    assert (run["id"], run["status"], run["conclusion"]) == (created["id"], "completed", "success")


def test_a_new_request_for_a_finished_build_gets_a_fresh_run(scene: Scene) -> None:
    scene.publish(queued())
    scene.publish(result(BuildStatus.FAILURE))
    first = scene.wait_for_run("completed")
    again = job(request_id="second-request")
    scene.publish(queued(again))
    scene.publish(result(BuildStatus.SUCCESS, build=again))
    wait_until(lambda: [r["conclusion"] for r in scene.runs()] == ["failure", "success"])
    assert scene.runs()[0] == first


def test_retries_out_of_order_never_move_a_run_of_another_request(scene: Scene) -> None:
    a, b = job(request_id="req-A"), job(request_id="req-B")
    scene.publish(queued(a))
    scene.publish(result(BuildStatus.SUCCESS, build=a))
    scene.publish(queued(b))
    scene.publish(result(BuildStatus.FAILURE, build=b))
    wait_until(lambda: [(r["status"], r["conclusion"]) for r in scene.runs()] == [("completed", "success"), ("completed", "failure")])
    scene.publish(result(BuildStatus.SUCCESS, build=a))  # A's result, retried after B's
    scene.publish(queued(a))  # A's QueuedBuildJobs, late
    scene.publish(start(a))
    scene.settle()
    run_a, run_b = scene.runs()
    assert (json.loads(run_a["external_id"])["request_id"], run_a["conclusion"]) == ("req-A", "success")
    assert (json.loads(run_b["external_id"])["request_id"], run_b["conclusion"]) == ("req-B", "failure")  # still red
    assert len(scene.runs()) == 2  # no third run, queued for ever


def test_a_start_moves_the_run_of_its_own_request(scene: Scene) -> None:
    a, b = job(request_id="req-A"), job(request_id="req-B")
    scene.publish(queued(a))
    scene.publish(queued(b))  # a second request while A waits: its own run
    wait_until(lambda: len(scene.runs()) == 2)
    scene.publish(start(a))
    scene.settle()
    run_a, run_b = scene.runs()
    assert (run_a["status"], run_b["status"]) == ("in_progress", "queued")


def test_another_apps_run_of_the_same_name_is_not_ours(scene: Scene) -> None:
    other = {"name": RUN_NAME, "head_sha": HEAD_SHA, "status": "in_progress", "external_id": "ci-job-12"}
    actions_run = scene.fake.state.create_check_run(TEST_REPO, other, app_id=15368)  # GitHub Actions
    scene.publish(queued())
    scene.publish(result(BuildStatus.SUCCESS))
    wait_until(lambda: any(r["status"] == "completed" for r in scene.runs()))
    scene.settle()
    theirs, ours = scene.runs()
    assert theirs == actions_run  # untouched
    assert (ours["app"]["id"], ours["conclusion"]) == (TEST_APP_ID, "success")
    assert scene.failed_calls(403) == scene.failed_calls(404) == 0


def test_each_architecture_gets_its_run(scene: Scene) -> None:
    scene.publish(queued(systems=["x86_64-linux", "aarch64-linux"]))
    scene.publish(result(UnexpectedError("git fetch exited with status 128"), system="aarch64-linux", output=[]))
    scene.wait_for_run("queued")
    arm = scene.wait_for_run("completed", "libfoo on aarch64-linux")
    assert arm["conclusion"] == "failure" and "git fetch exited with status 128" in arm["output"]["summary"]


def test_a_push_run_names_its_branch(scene: Scene) -> None:
    pushed = job(["libfoo"], push=PUSH)
    scene.publish(queued(pushed))
    scene.publish(result(BuildStatus.TIMED_OUT, build=pushed))
    run = scene.wait_for_run("completed", "libfoo on x86_64-linux (push to release/1.x)", PUSH_SHA)
    assert run["conclusion"] == "timed_out"
    assert run["details_url"] == "https://logs.example/?key=tick-org/monorepo.push.release-1.x"


def test_a_legacy_result_completes_its_run(scene: Scene) -> None:
    scene.publish((WIRE / "build-result.legacy.success-flag.json").read_bytes())
    run = scene.wait_for_run("completed", "app on x86_64-linux")
    assert run["conclusion"] == "failure"


def test_garbage_is_dead_lettered_and_the_reporter_carries_on(scene: Scene) -> None:
    scene.publish(GARBAGE)
    props, body = scene.broker.get(dead_queue(BUILD_RESULTS_QUEUE), timeout=30)
    assert body == GARBAGE and props.headers[DEAD_REASON_HEADER].startswith("decode failure")
    scene.publish(queued())
    scene.wait_for_run("queued")


def test_a_start_that_names_no_job_is_acked_and_writes_nothing(scene: Scene) -> None:
    scene.publish(start(named=False))
    scene.settle()
    assert scene.runs() == [] and scene.dead() == 0


# -- the policy rows GitHub's answers decide --------------------------------------------


@pytest.mark.parametrize(
    "fault, times, status",
    [
        (bad_credentials(), 2, 401),  # the client retries once with a new token itself
        (server_error(502), 1, 502),
    ],
    ids=["expired-creds", "internal-error"],
)
def test_github_trouble_is_retried_until_it_passes(scene: Scene, fault: Fault, times: int, status: int) -> None:
    scene.fake.fail(fault, path=CHECK_RUNS, times=times)
    scene.publish(queued())
    scene.wait_for_run("queued")
    assert scene.failed_calls(status) == times
    assert scene.dead() == 0 and len(scene.runs()) == 1


def test_a_rate_limit_is_retried_not_before_its_reset(scene: Scene) -> None:
    published = time.time()
    scene.fake.fail(rate_limited(status=403, reset_in=3), path=CHECK_RUNS)
    scene.publish(queued())
    scene.wait_for_run("queued")
    created = time.time()
    # x-ratelimit-reset is a whole second, at least 2 s after the fault fired.
    assert created - published >= 2
    assert scene.failed_calls(403) == 1 and scene.dead() == 0


@pytest.mark.parametrize(
    "fault",
    [
        error(422, "Validation Failed"),
        error(403, "Resource not accessible by integration"),
        error(404, "Not Found"),
    ],
    ids=["invalid", "forbidden", "not-found"],
)
def test_other_github_errors_are_acked_and_logged_with_the_body(
    scene: Scene, fault: Fault, capfd: pytest.CaptureFixture[str]
) -> None:
    scene.fake.fail(fault, method="POST", path=CHECK_RUNS)
    scene.publish(queued())
    scene.settle()
    assert scene.runs() == [] and scene.dead() == 0
    assert scene.failed_calls(fault.status) == 1  # acked: never tried again
    logged = capfd.readouterr().err
    assert "github refused the write" in logged and "documentation_url" in logged


def test_a_commit_force_pushed_away_is_acked(scene: Scene) -> None:
    gone = "f" * 40
    scene.publish(result(build=job(head_sha=gone)))
    scene.settle()
    assert scene.fake.state.check_runs(TEST_REPO, gone) == [] and scene.dead() == 0
    assert scene.failed_calls(422) == 1


# -- writes a later one makes pointless, messages side by side ------------------------------

START_DELAY = 1.5


@pytest.fixture
def coalescing(reporter_config: Config, fake_github: FakeGitHub, github_client: GitHubClient) -> Iterator[Scene]:
    fake_github.state.add_commits(TEST_REPO, HEAD_SHA)
    with running_reporter(reporter_config, fake_github, github_client, START_DELAY, prefetch=16) as scene:
        yield scene


def test_a_build_done_within_the_delay_never_writes_in_progress(coalescing: Scene) -> None:
    coalescing.publish(queued())
    coalescing.wait_for_run("queued")
    coalescing.publish(start())
    coalescing.publish(result(BuildStatus.SUCCESS))
    coalescing.wait_for_run("completed")
    time.sleep(START_DELAY + 0.5)  # the held start has had its chance
    assert check_run_writes(coalescing.fake) == [("POST", "queued"), ("PATCH", "completed")]
    assert [r["status"] for r in coalescing.runs()] == ["completed"]


def test_a_longer_build_shows_in_progress_after_the_delay(coalescing: Scene) -> None:
    coalescing.publish(queued())
    coalescing.publish(start())
    began = time.monotonic()
    coalescing.wait_for_run("in_progress")
    assert time.monotonic() - began >= START_DELAY * 0.9
    coalescing.publish(result(BuildStatus.FAILURE))
    coalescing.wait_for_run("completed")
    assert check_run_writes(coalescing.fake) == [("POST", "queued"), ("PATCH", "in_progress"), ("PATCH", "completed")]


def test_messages_about_one_run_handled_side_by_side_make_one_run_that_ends_completed(coalescing: Scene) -> None:
    names = [f"p{i}" for i in range(12)]
    for name in names:
        # Taken by different threads at once: without one writer per run, both would
        # find no run and create one each, or the start would move the result back.
        coalescing.publish(result(BuildStatus.SUCCESS, build=job([name])))
        coalescing.publish(queued(job([name])))
        coalescing.publish(start(job([name])))
    wait_until(lambda: all(len(coalescing.runs(f"{n} on x86_64-linux")) == 1 for n in names))
    time.sleep(START_DELAY + 0.5)
    for name in names:
        (run,) = coalescing.runs(f"{name} on x86_64-linux")
        assert (run["status"], run["conclusion"]) == ("completed", "success")
    assert not any(status == "in_progress" for _, status in check_run_writes(coalescing.fake))


# -- the process ------------------------------------------------------------------------------


def test_the_process_reports_until_sigterm(
    rabbitmq_config: RabbitMQConfig, fake_github: FakeGitHub, github_app_key: AppKeyPair, tmp_path: Path
) -> None:
    fake_github.state.add_commits(TEST_REPO, HEAD_SHA)
    key = tmp_path / "app.pem"
    key.write_text(github_app_key.private_pem)
    key.chmod(0o600)
    app = {"app_id": TEST_APP_ID, "private_key_file": str(key), "api_url": fake_github.url, "timeout_seconds": 5}
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(base_config_data(rabbitmq_config, github_app=app, logapi={"listen": "127.0.0.1:9898"})))
    with Broker(rabbitmq_config) as broker, tickborg_process("github-comment-poster", config_path, tmp_path / "poster.log"):
        declare(broker.channel, build_topology(load_config(config_path)))  # the messages wait for the process
        scene = Scene(fake_github, broker)
        scene.publish(GARBAGE)
        scene.publish(queued())
        scene.publish(result())
        run = scene.wait_for_run("completed")
        assert run["details_url"] == "http://127.0.0.1:9898/?key=tick-org/monorepo.17"
        assert broker.get(dead_queue(BUILD_RESULTS_QUEUE), timeout=30)[1] == GARBAGE

