"""Routing keys: `{event}.{owner}/{repo}`, `unknown` and `-` for what is missing."""

import pytest

from tickborg.webhook.routing import event_name, is_valid_event, repository_name, routing_key


def test_event_and_repository_make_the_key() -> None:
    assert routing_key("pull_request", "tick-org/monorepo") == "pull_request.tick-org/monorepo"


def test_dotted_repository_names_are_kept_whole() -> None:
    assert routing_key("push", "acme/site.github.io") == "push.acme/site.github.io"


def test_missing_event_header_is_unknown() -> None:
    assert event_name(None) == "unknown"
    assert event_name(" push ") == "push"


@pytest.mark.parametrize("name", ["push", "pull_request", "check_run", "Ping2"])
def test_event_names_that_are_tokens_are_valid(name: str) -> None:
    assert is_valid_event(name)


@pytest.mark.parametrize("name", ["", "pull.request", "push#", "*", "a b", "pull-request", "x" * 65, "é"])
def test_event_names_that_would_change_the_key_are_invalid(name: str) -> None:
    assert not is_valid_event(name)


@pytest.mark.parametrize(
    "payload",
    [
        {},
        [],
        "text",
        {"repository": None},
        {"repository": "acme/x"},
        {"repository": {}},
        {"repository": {"full_name": ""}},
        {"repository": {"full_name": 7}},
        {"organization": {"login": "acme"}},
    ],
)
def test_payloads_without_a_repository_name(payload: object) -> None:
    assert repository_name(payload) is None
    assert routing_key("member", repository_name(payload)) == "member.-"


def test_repository_name_from_payload() -> None:
    assert repository_name({"repository": {"full_name": "acme/site.github.io"}}) == "acme/site.github.io"
