"""`tickborg build-faker`: what it says it publishes is on the queues; bad arguments exit 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.config import base_config_data
from support.runtime import Broker
from tickborg.cli import main as tickborg
from tickborg.config import RabbitMQConfig
from tickborg.topology import BUILD_RESULTS_QUEUE, build_queue

HEAD = "0123456789abcdef0123456789abcdef01234567"
REPO = ["--repo", "tick-org/monorepo", "--clone-url", "/srv/git/monorepo.git"]


def write_config(tmp_path: Path, rabbitmq: RabbitMQConfig | None = None) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(base_config_data(rabbitmq)))
    return str(path)


def faker(config: str, *args: str) -> int:
    return tickborg(["build-faker", "--config", config, *REPO, *args])


def test_pr_jobs_for_each_system_and_one_queued(
    tmp_path: Path, rabbitmq_config: RabbitMQConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, rabbitmq_config)
    args = ["--project", "libfoo", "--project", "app", "--system", "x86_64-linux", "--system", "aarch64-linux"]
    assert faker(config, *args, "--pr", "17", "--head", HEAD, "--target-branch", "main") == 0
    with Broker(rabbitmq_config) as broker:
        x86 = json.loads(broker.get(build_queue("x86_64-linux"))[1])
        arm = json.loads(broker.get(build_queue("aarch64-linux"))[1])
        queued = json.loads(broker.get(BUILD_RESULTS_QUEUE)[1])
        assert broker.count(BUILD_RESULTS_QUEUE) == 0
    assert x86 == arm
    assert x86["repo"] == {
        "owner": "tick-org", "name": "monorepo", "full_name": "tick-org/monorepo", "clone_url": "/srv/git/monorepo.git"
    }
    assert x86["pr"] == {"target_branch": "main", "number": 17, "head_sha": HEAD}
    assert x86["attrs"] == ["libfoo", "app"]
    assert queued == {"job": x86, "architectures": ["x86_64-linux", "aarch64-linux"]}
    out = capsys.readouterr().out
    assert out == f"published 2 BuildJob(s) {x86['request_id']} for libfoo, app\n"


def test_a_push_job_without_queued(tmp_path: Path, rabbitmq_config: RabbitMQConfig) -> None:
    config = write_config(tmp_path, rabbitmq_config)
    args = ["--project", "app", "--system", "x86_64-linux", "--push-branch", "release/1.x", "--head", HEAD, "--no-queued"]
    assert faker(config, *args) == 0
    with Broker(rabbitmq_config) as broker:
        job = json.loads(broker.get(build_queue("x86_64-linux"))[1])
        assert broker.count(BUILD_RESULTS_QUEUE) == 0
    assert job["push"] == {"head_sha": HEAD, "branch": "release/1.x"}
    assert job["pr"] == {"target_branch": "release/1.x", "number": 0, "head_sha": HEAD}
    assert job["logs"] == ["logs", "tick-org/monorepo.push.release-1.x"]  # the log key folds the slash


PR = ["--pr", "17", "--target-branch", "main"]
GOOD = ["--project", "libfoo", "--system", "x86_64-linux", "--head", HEAD]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--system", "x86_64-linux", "--head", HEAD, *PR], "the following arguments are required: --project"),
        (["--project", "libfoo", "--head", HEAD, *PR], "the following arguments are required: --system"),
        (["--project", "libfoo", "--system", "x86_64-linux", *PR], "the following arguments are required: --head"),
        ([*GOOD], "give --pr N and --target-branch B, or --push-branch B"),
        ([*GOOD, "--pr", "17"], "give --pr N and --target-branch B, or --push-branch B"),
        ([*GOOD, *PR, "--push-branch", "main"], "--push-branch excludes --pr and --target-branch"),
        ([*GOOD, "--pr", "seventeen", "--target-branch", "main"], "argument --pr: invalid int value: 'seventeen'"),
        ([*GOOD, "--pr", "0", "--target-branch", "main"], "--pr 0: expected a PR number (1 or more)"),
        (["--project", "nosuch", "--system", "x86_64-linux", "--head", HEAD, *PR], "--project nosuch: not in the configured projects"),
        (["--project", "libfoo", "--system", "mips-linux", "--head", HEAD, *PR], "--system mips-linux: not in systems.all"),
        (["--project", "libfoo", "--system", "x86_64-linux", "--head", "HEAD~1", *PR], "--head 'HEAD~1': expected a full commit SHA"),
        ([*GOOD, *PR, "--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_arguments_exit_2_with_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No broker in this config's reach: a refusal comes before any connection.
    with pytest.raises(SystemExit) as exited:
        faker(write_config(tmp_path), *args)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tickborg build-faker: ") and message in err, err


@pytest.mark.parametrize("repo", ["monorepo", "tick-org/", "/monorepo", "a/b/c"])
def test_a_bad_repo_exits_2(repo: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["build-faker", "--config", write_config(tmp_path), "--repo", repo, "--clone-url", "u", *GOOD, *PR]
    with pytest.raises(SystemExit) as exited:
        tickborg(argv)
    assert exited.value.code == 2
    assert capsys.readouterr().err == f"tickborg build-faker: --repo {repo!r}: expected owner/name\n"
