"""The REST operations, end to end against the fake GitHub."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

import tickborg
from tickborg.fakegithub.testing import TEST_REPO, app_config
from tickborg.github.bodies import CHECK_RUN_TEXT_LIMIT, CheckRunFields, CheckRunOutput
from tickborg.github.client import GitHubClient
from tickborg.fakegithub.faults import secondary_rate_limit
from tickborg.github.errors import Error, MissingSha, RateLimited
from tickborg.runtime.abandon import Abandoned, working_for

SHA = "c" * 40


@pytest.fixture
def repo(fake_github):
    fake_github.state.add_pull_request(
        TEST_REPO,
        12,
        head_sha=SHA,
        base_ref="main",
        title="libfoo: faster parsing",
        author="alice",
        files=[
            "libfoo/parse.c",
            {"filename": "app/new.c", "status": "renamed", "previous_filename": "app/old.c"},
        ],
        labels=["scope: ci"],
    )
    return fake_github


def test_every_request_carries_githubs_headers(github_client, repo):
    github_client.get_issue(TEST_REPO, 12)
    for call in repo.calls:
        assert call.headers["Accept"] == "application/vnd.github+json"
        assert call.headers["X-GitHub-Api-Version"] == "2022-11-28"
        assert call.headers["User-Agent"] == f"tickborg/{tickborg.__version__}"


def test_commit_statuses_round_trip_with_the_description_cut_to_140(github_client, repo):
    github_client.create_status(TEST_REPO, SHA, "pending", "tickborg-eval", "Starting")
    github_client.create_status(TEST_REPO, SHA, "failure", "tickborg-eval", "x" * 500, "https://logs/1")

    stored = repo.state.statuses(TEST_REPO, SHA)
    assert [s["state"] for s in stored] == ["pending", "failure"]
    assert len(stored[1]["description"]) == 140 and stored[1]["description"].endswith("…")
    assert stored[1]["target_url"] == "https://logs/1"
    listed = github_client.list_statuses(TEST_REPO, SHA)
    assert [s.state for s in listed] == ["failure", "pending"]  # newest first, as GitHub lists
    assert listed[0].context == "tickborg-eval"


def test_check_run_moves_from_queued_to_completed(github_client, repo):
    name = "libfoo on x86_64-linux"
    created = github_client.create_check_run(
        TEST_REPO, name, SHA, CheckRunFields(status="queued", details_url="https://logs/?key=k")
    )
    started = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    github_client.update_check_run(
        TEST_REPO, created.id, CheckRunFields(status="in_progress", started_at=started)
    )
    long_log = "line\n" * 20_000
    done = github_client.update_check_run(
        TEST_REPO,
        created.id,
        CheckRunFields(conclusion="success", output=CheckRunOutput("Success", long_log, long_log)),
    )

    assert (done.status, done.conclusion, done.details_url) == ("completed", "success", "https://logs/?key=k")
    assert github_client.get_check_run(TEST_REPO, created.id) == done
    stored = repo.state.check_runs(TEST_REPO, SHA)[0]
    assert stored["started_at"] == "2024-01-02T03:04:05Z"
    assert len(stored["output"]["summary"]) == CHECK_RUN_TEXT_LIMIT
    assert len(stored["output"]["text"]) == CHECK_RUN_TEXT_LIMIT


def test_check_runs_are_listed_by_name(github_client, repo):
    for name in ("a on x86_64-linux", "b on x86_64-linux", "a on x86_64-linux"):
        github_client.create_check_run(TEST_REPO, name, SHA, CheckRunFields())
    found = github_client.list_check_runs(TEST_REPO, SHA, check_name="a on x86_64-linux")
    assert [run.name for run in found] == ["a on x86_64-linux"]  # GitHub's filter=latest
    assert {run.name for run in github_client.list_check_runs(TEST_REPO, SHA)} == {
        "a on x86_64-linux",
        "b on x86_64-linux",
    }


def test_issue_labels_and_comments(github_client, repo):
    issue = github_client.get_issue(TEST_REPO, 12)
    assert (issue.title, issue.state, issue.user_login, issue.is_pull_request) == (
        "libfoo: faster parsing", "open", "alice", True,
    )
    assert issue.labels == ("scope: ci",)

    labels = github_client.add_labels(TEST_REPO, 12, ("project: libfoo", "scope: ci"))
    assert labels == ("scope: ci", "project: libfoo")  # adding one that is there is fine
    assert github_client.add_labels(TEST_REPO, 12, ()) == ()
    github_client.remove_label(TEST_REPO, 12, "scope: ci")
    github_client.remove_label(TEST_REPO, 12, "tickborg-internal-error")  # absent: not an error
    assert repo.state.labels(TEST_REPO, 12) == ["project: libfoo"]

    comment = github_client.create_comment(TEST_REPO, 12, "Build queued.")
    assert [(c["id"], c["body"], c["user"]["login"]) for c in repo.state.comments(TEST_REPO, 12)] == [
        (comment.id, "Build queued.", "tickbot[bot]")
    ]


def test_pull_request_and_its_files(github_client, repo):
    pr = github_client.get_pull_request(TEST_REPO, 12)
    assert (pr.number, pr.state, pr.head_sha, pr.base_ref) == (12, "open", SHA, "main")
    assert pr.user_login == "alice"
    files = github_client.list_pull_request_files(TEST_REPO, 12)
    assert [(f.filename, f.status, f.previous_filename) for f in files] == [
        ("libfoo/parse.c", "modified", None),
        ("app/new.c", "renamed", "app/old.c"),
    ]


def test_a_pull_request_changed_by_its_author(github_client, repo):
    repo.state.update_pull_request(TEST_REPO, 12, state="closed", head_sha="d" * 40)
    pr = github_client.get_pull_request(TEST_REPO, 12)
    assert (pr.state, pr.head_sha) == ("closed", "d" * 40)
    assert github_client.get_issue(TEST_REPO, 12).state == "closed"


def test_a_force_pushed_commit_is_missing(github_client, repo):
    repo.state.remove_commits(TEST_REPO, SHA)
    with pytest.raises(MissingSha):
        github_client.create_status(TEST_REPO, SHA, "pending", "tickborg-eval")


def test_listing_follows_every_page(github_client, fake_github):
    names = [f"dir/file{i:03}.c" for i in range(250)]
    fake_github.state.add_pull_request(TEST_REPO, 13, head_sha=SHA, files=names)

    files = github_client.list_pull_request_files(TEST_REPO, 13)

    assert [f.filename for f in files] == names
    pages = [c.query.get("page", ["1"]) for c in fake_github.calls_to("GET", "/pulls/13/files")]
    assert pages == [["1"], ["2"], ["3"]]


def test_a_missing_pull_request_is_a_404_error(github_client, repo):
    with pytest.raises(Error) as raised:
        github_client.get_pull_request(TEST_REPO, 404)
    assert raised.value.status == 404


def test_github_enterprise_base_path(fake_github_factory, github_app_key):
    fake = fake_github_factory(path_prefix="/api/v3")
    fake.state.add_repo(TEST_REPO, installation_id=5)
    fake.state.add_commits(TEST_REPO, SHA)
    assert fake.url.endswith("/api/v3")
    client = GitHubClient.from_config(app_config(fake, github_app_key))
    try:
        client.create_status(TEST_REPO, SHA, "success", "tickborg-eval")
    finally:
        client.close()
    assert [c.path for c in fake.calls] == [
        f"/api/v3/repos/{TEST_REPO}/installation",
        "/api/v3/app/installations/5/access_tokens",
        f"/api/v3/repos/{TEST_REPO}/statuses/{SHA}",
    ]


def test_writes_are_paced_reads_are_not(timed_fake, client_for, clock):
    client = client_for(timed_fake, writes_per_second=1.0, write_burst=2)
    start = clock()
    for _ in range(2):
        client.create_status(TEST_REPO, "a" * 40, "pending", "tickborg-eval")
    assert clock() == start  # the burst
    client.create_status(TEST_REPO, "a" * 40, "pending", "tickborg-eval")
    assert clock() == pytest.approx(start + 1.0)  # slept (on the manual clock) for one token
    for _ in range(5):
        client.list_statuses(TEST_REPO, "a" * 40)
    assert clock() == pytest.approx(start + 1.0)


def test_githubs_rate_limit_answer_pauses_every_later_write(timed_fake, client_for, clock):
    client = client_for(timed_fake, writes_per_second=1.0, write_burst=5)
    timed_fake.fail(secondary_rate_limit(retry_after=30), "POST", path=".*/statuses/.*")
    start = clock()
    with pytest.raises(RateLimited):
        client.create_status(TEST_REPO, "a" * 40, "pending", "tickborg-eval")
    client.list_statuses(TEST_REPO, "a" * 40)  # reads go on
    assert clock() == start
    client.create_status(TEST_REPO, "a" * 40, "success", "tickborg-eval")  # a burst saved up: not now
    assert clock() >= start + 30


def test_a_job_the_runtime_gave_up_writes_nothing_more(github_client, repo):
    """An abandoned job's thread (its redelivered copy runs elsewhere) may still read, but not write."""
    cancelled = threading.Event()
    with working_for(cancelled):
        github_client.create_status(TEST_REPO, SHA, "pending", "tickborg-eval", "Starting")
        cancelled.set()
        with pytest.raises(Abandoned, match="POST .*/statuses/"):
            github_client.create_status(TEST_REPO, SHA, "pending", "tickborg-eval", "Cloning project")
        with pytest.raises(Abandoned):
            github_client.add_labels(TEST_REPO, 12, ("x86_64-linux",))
        assert github_client.get_issue(TEST_REPO, 12).number == 12
    # Outside the job's thread context nothing is given up.
    github_client.create_status(TEST_REPO, SHA, "success", "tickborg-eval", "done")
    assert [s["description"] for s in repo.state.statuses(TEST_REPO, SHA)] == ["Starting", "done"]
    assert repo.state.labels(TEST_REPO, 12) == ["scope: ci"]
