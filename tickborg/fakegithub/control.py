"""The fake's own control API under `/_fake/`, for a fake running as a separate process.

In-process users call `FakeGitHub.state` directly; the demo's fake in its own
process is set up and read back over HTTP instead:

    POST /_fake/repos                          {"full_name": "o/r", "installation_id": 1}
    POST /_fake/repos/{owner}/{repo}/commits   {"shas": ["..."]}
    POST /_fake/repos/{owner}/{repo}/pulls     add_pull_request's arguments, e.g.
                                               {"number": 1, "head_sha": "...", "files": ["a/b"]}
    GET  /_fake/repos/{owner}/{repo}           statuses, check runs, labels and comments
    GET  /_fake/violations                     requests that departed from the API description
    POST /_fake/hook                           {"url": "http://...", "secret": "..."}: the App's webhook
    POST /_fake/events                         {"event": "push", "payload": {...}}: send one, as GitHub
                                               does (201: the delivery as the deliveries API lists it)

These requests need no credentials and are neither checked nor recorded.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from tickborg.fakegithub.handlers import Reply, delivery_summary
from tickborg.fakegithub.routing import PathTemplate
from tickborg.fakegithub.sender import NoHookUrl
from tickborg.fakegithub.state import ApiError, FakeState

PREFIX = "/_fake/"


def _arguments(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "expected a JSON object")
    return body


def _call(operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return operation(*args, **kwargs)
    except TypeError as exc:  # unknown or missing arguments in the request
        raise ApiError(400, str(exc)) from None


def add_repo(state: FakeState, params: Mapping[str, str], body: Any) -> Reply:
    _call(state.add_repo, **_arguments(body))
    return Reply(201, {})


def add_commits(state: FakeState, params: Mapping[str, str], body: Any) -> Reply:
    state.add_commits(f"{params['owner']}/{params['repo']}", *_arguments(body).get("shas", []))
    return Reply(201, {})


def add_pull(state: FakeState, params: Mapping[str, str], body: Any) -> Reply:
    _call(state.add_pull_request, f"{params['owner']}/{params['repo']}", **_arguments(body))
    return Reply(201, {})


def snapshot(state: FakeState, params: Mapping[str, str], body: Any) -> Reply:
    return Reply(200, state.snapshot(f"{params['owner']}/{params['repo']}"))


def configure_hook(state: FakeState, params: Mapping[str, str], body: Any) -> Reply:
    _call(state.hooks.configure, **_arguments(body))
    return Reply(201, {})


def send_event(state: FakeState, params: Mapping[str, str], body: Any) -> Reply:
    try:
        delivery = _call(state.hooks.send, **_arguments(body))
    except NoHookUrl as exc:
        raise ApiError(409, str(exc)) from None
    return Reply(201, delivery_summary(delivery))


ROUTES = (
    ("POST", PathTemplate.parse("/_fake/repos"), add_repo),
    ("POST", PathTemplate.parse("/_fake/repos/{owner}/{repo}/commits"), add_commits),
    ("POST", PathTemplate.parse("/_fake/repos/{owner}/{repo}/pulls"), add_pull),
    ("GET", PathTemplate.parse("/_fake/repos/{owner}/{repo}"), snapshot),
    ("POST", PathTemplate.parse("/_fake/hook"), configure_hook),
    ("POST", PathTemplate.parse("/_fake/events"), send_event),
)


def control(state: FakeState, violations: list[str], method: str, path: str, body: Any) -> Reply:
    if (method, path) == ("GET", "/_fake/violations"):
        return Reply(200, violations)
    for route_method, template, handler in ROUTES:
        params = template.match(path)
        if params is not None and route_method == method:
            try:
                return handler(state, params, body)
            except ApiError as exc:
                return Reply(exc.status, {"message": exc.message})
    return Reply(404, {"message": "Not Found"})
