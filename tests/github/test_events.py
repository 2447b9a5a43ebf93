"""Webhook payloads (real ones, from tests/fixtures/github/webhooks) become event models."""

from __future__ import annotations

import re

import pytest

from support.paths import WEBHOOKS
from support.webhooks import load_webhook
from tickborg.errors import DecodeError
from tickborg.github.events import (
    CheckRunEvent,
    CheckSuiteEvent,
    IssueCommentEvent,
    PullRequestEvent,
    PushEvent,
    parse_event,
)

MODELS = {
    "pull_request": PullRequestEvent,
    "issue_comment": IssueCommentEvent,
    "push": PushEvent,
    "check_run": CheckRunEvent,
    "check_suite": CheckSuiteEvent,
}
FIXTURES = sorted(path.stem for path in WEBHOOKS.glob("*.json"))


def test_the_fixture_directory_is_found():
    assert "push.branch" in FIXTURES and len(FIXTURES) >= 11


@pytest.mark.parametrize("name", FIXTURES)
def test_every_fixture_parses_into_its_model(name):
    event = name.split(".")[0]
    parsed = parse_event(event, load_webhook(name))
    if event == "ping":
        assert parsed is None  # nothing to act on, and no crash
    else:
        assert isinstance(parsed, MODELS[event])
        assert parsed.repository.full_name == "Codertocat/Hello-World"
        assert parsed.repository.owner == "Codertocat"
        assert parsed.repository.clone_url == "https://github.com/Codertocat/Hello-World.git"


def test_pull_request_fields():
    event = PullRequestEvent.from_payload(load_webhook("pull_request.opened"))
    assert (event.action, event.number, event.state, event.draft) == ("opened", 2, "open", False)
    assert event.title == "Update the README with new information."
    assert event.user_login == "Codertocat"
    assert (event.head_sha, event.head_ref) == ("ec26c3e57ca3a959ca5aad62de7213c562f8c821", "changes")
    assert (event.base_sha, event.base_ref) == ("f95f852bd8fca8fcc58a9a2d6c842781e32a215e", "master")
    assert event.base_changed is False
    assert event.installation_id is None


def test_pull_request_draft_installation_and_base_change():
    assert PullRequestEvent.from_payload(load_webhook("pull_request.converted_to_draft")).draft is True
    assert PullRequestEvent.from_payload(load_webhook("pull_request.synchronize")).installation_id == 1
    edited = {
        **load_webhook("pull_request.opened"),
        "action": "edited",
        "changes": {"base": {"ref": {"from": "old"}}},
    }
    assert PullRequestEvent.from_payload(edited).base_changed is True
    title_only = {**edited, "changes": {"title": {"from": "Old"}}}
    assert PullRequestEvent.from_payload(title_only).base_changed is False


def test_issue_comment_fields():
    event = IssueCommentEvent.from_payload(load_webhook("issue_comment.created"))
    assert event.action == "created"
    assert (event.comment_id, event.comment_user_login) == (492700400, "Codertocat")
    assert event.comment_body == "You are totally right! I'll get this fixed right away."
    assert (event.issue_number, event.issue_state) == (1, "open")
    assert event.issue_title == "Spelling error in the README file"
    assert event.is_pull_request is False


def test_a_comment_on_a_pull_request_is_told_apart():
    payload = load_webhook("issue_comment.created")
    payload["issue"]["pull_request"] = {"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"}
    assert IssueCommentEvent.from_payload(payload).is_pull_request is True


def test_push_to_a_branch():
    event = PushEvent.from_payload(load_webhook("push.branch"))
    assert event.branch() == "master"
    assert not event.is_tag()
    assert not event.is_delete()
    assert not event.is_zero_sha()
    assert event.changed_files() == ("README.md",)
    assert event.installation_id == 1


def test_push_of_a_tag():
    event = PushEvent.from_payload(load_webhook("push.tag"))
    assert event.is_tag()
    assert event.branch() is None
    assert not event.is_delete()
    assert event.changed_files() == ()


def test_deletion_of_a_tag():
    event = PushEvent.from_payload(load_webhook("push.tag-deleted"))
    assert event.is_tag() and event.branch() is None
    assert event.is_delete() and event.is_zero_sha()


def test_branch_names_with_slashes_and_deletion_by_zero_sha():
    payload = {**load_webhook("push.branch"), "ref": "refs/heads/release/2.x", "after": "0" * 40}
    event = PushEvent.from_payload(payload)
    assert event.branch() == "release/2.x"
    assert event.is_zero_sha() and event.is_delete()


def test_changed_files_cover_all_commits_without_repeats():
    payload = load_webhook("push.branch")
    first = payload["commits"][0]
    second = {
        **first,
        "id": "b" * 40,
        "added": ["libfoo/a.c"],
        "removed": ["README.md"],
        "modified": ["app/x"],
    }
    payload["commits"] = [first, second]
    assert PushEvent.from_payload(payload).changed_files() == ("README.md", "libfoo/a.c", "app/x")


def test_check_run_and_check_suite_fields():
    run = CheckRunEvent.from_payload(load_webhook("check_run.rerequested"))
    assert (run.action, run.sender_login, run.name) == ("rerequested", "Codertocat", "libfoo on x86_64-linux")
    assert (run.head_sha, run.pull_requests, run.installation_id) == (
        "ec26c3e57ca3a959ca5aad62de7213c562f8c821", (2,), 2311213,
    )
    assert run.app_id == 84215 and run.external_id is not None and '"libfoo"' in run.external_id
    suite = CheckSuiteEvent.from_payload(load_webhook("check_suite.rerequested"))
    assert (suite.action, suite.head_sha, suite.app_id, suite.pull_requests) == (
        "rerequested", run.head_sha, 84215, (2,),
    )
    unowned = load_webhook("check_run.rerequested")
    unowned["check_run"]["app"] = None
    unowned["check_run"]["external_id"] = None
    event = CheckRunEvent.from_payload(unowned)
    assert (event.app_id, event.external_id) == (None, None)


def test_retargeted_payload_names_the_new_repository():
    event = PullRequestEvent.from_payload(load_webhook("pull_request.opened", "tick-org/site.github.io"))
    assert event.repository.full_name == "tick-org/site.github.io"
    assert (event.repository.owner, event.repository.name) == ("tick-org", "site.github.io")
    assert event.repository.clone_url == "https://github.com/tick-org/site.github.io.git"


def _parent(payload, path):
    *parents, last = path.split(".")
    for key in parents:
        payload = payload[int(key)] if isinstance(payload, list) else payload[key]
    return payload, last


def drop(path):
    def mutate(payload):
        parent, key = _parent(payload, path)
        del parent[key]

    return mutate


def put(path, value):
    def mutate(payload):
        parent, key = _parent(payload, path)
        parent[key] = value

    return mutate


@pytest.mark.parametrize(
    ("fixture", "mutate", "message"),
    [
        ("pull_request.opened", drop("pull_request.head.sha"), "pull_request.head.sha: missing"),
        ("pull_request.opened", put("number", "2"), "number: expected an integer, got a string"),
        ("pull_request.opened", put("pull_request.draft", "no"), "pull_request.draft: expected a boolean"),
        ("pull_request.opened", drop("repository"), "repository: missing"),
        ("pull_request.opened", put("repository.owner.login", None), "repository.owner.login: expected"),
        ("issue_comment.created", drop("comment.user"), "comment.user: missing"),
        ("issue_comment.created", put("issue.number", True), "issue.number: expected an integer, got a"),
        ("push.branch", drop("ref"), "ref: missing"),
        ("push.branch", put("commits.0.added", "README.md"), "commits[0].added: expected a list"),
        ("push.branch", put("commits.0.modified", [1]), "commits[0].modified[0]: expected a string"),
        ("push.branch", put("deleted", "false"), "deleted: expected a boolean"),
        ("check_run.rerequested", drop("check_run.head_sha"), "check_run.head_sha: missing"),
        ("check_run.rerequested", drop("sender"), "sender: missing"),
        ("check_run.rerequested", put("check_run.app.id", "1"), "check_run.app.id: expected an integer"),
        ("check_run.rerequested", put("check_run.pull_requests", {}), "check_run.pull_requests: expected a list"),
        ("check_run.rerequested", drop("check_run.pull_requests.0.number"), "check_run.pull_requests[0].number: missing"),
        ("check_suite.rerequested", drop("check_suite.head_sha"), "check_suite.head_sha: missing"),
        ("check_suite.rerequested", put("check_suite.app", []), "check_suite.app: expected an object"),
        ("check_suite.rerequested", drop("check_suite.pull_requests"), "check_suite.pull_requests: missing"),
    ],
)
def test_malformed_payloads_raise_decode_error_naming_the_field(fixture, mutate, message):
    payload = load_webhook(fixture)
    mutate(payload)
    with pytest.raises(DecodeError, match=re.escape(message)):
        parse_event(fixture.split(".")[0], payload)


@pytest.mark.parametrize("payload", [None, [], "text", 3])
def test_a_payload_that_is_not_an_object_is_a_decode_error(payload):
    with pytest.raises(DecodeError, match="payload: expected an object"):
        parse_event("push", payload)
