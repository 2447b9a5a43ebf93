"""The fake's REST operations: one small function per route, over `FakeState`.

Authentication has already been checked when a handler runs; handlers only
translate between HTTP (path parameters, query, JSON body, pagination) and
the state's operations.
"""

from __future__ import annotations

from typing import Any, Callable, Literal, Mapping
from urllib.parse import urlencode

import attrs

from tickborg.fakegithub.routing import PathTemplate
from tickborg.fakegithub.sender import Delivery
from tickborg.fakegithub.state import ApiError, FakeState, iso, not_found

MAX_PER_PAGE = 100


@attrs.frozen
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class Request:
    state: FakeState
    params: Mapping[str, str]
    query: Mapping[str, list[str]]
    body: Any
    url: str  # absolute, without the query: the base of pagination links

    @property
    def repo(self) -> str:
        return f"{self.params['owner']}/{self.params['repo']}"

    def number(self, name: str) -> int:
        # GitHub answers 404 for a path whose number is not a number.
        value = self.params[name]
        if not value.isdigit():
            raise not_found()
        return int(value)

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def object_body(self) -> Mapping[str, Any]:
        if not isinstance(self.body, dict):
            raise ApiError(400, "Problems parsing JSON")
        return self.body


Handler = Callable[[Request], Reply]


@attrs.frozen
class Route:
    method: str
    template: PathTemplate
    auth: Literal["app", "installation"]
    handler: Handler


def _int_arg(request: Request, name: str, default: int) -> int:
    value = request.arg(name)
    return int(value) if value is not None and value.isdigit() else default


def _page(
    request: Request, items: list[Any], wrap: Callable[[list[Any]], Any] = lambda page: page
) -> Reply:
    """One page of `items` with GitHub's `Link` header for the next and last pages."""
    per_page = max(1, min(_int_arg(request, "per_page", 30), MAX_PER_PAGE))
    page = max(1, _int_arg(request, "page", 1))
    last = max(1, -(-len(items) // per_page))
    headers = {}
    if page < last:
        query = {key: values[0] for key, values in request.query.items()}
        links = (
            f'<{request.url}?{urlencode({**query, "page": number})}>; rel="{rel}"'
            for rel, number in (("next", page + 1), ("last", last))
        )
        headers["Link"] = ", ".join(links)
    return Reply(200, wrap(items[(page - 1) * per_page : page * per_page]), headers)


# ----------------------------------------------------------------------
# Apps


def create_access_token(request: Request) -> Reply:
    token = request.state.issue_token(request.number("installation_id"))
    return Reply(
        201,
        {
            "token": token.value,
            "expires_at": iso(token.expires_at),
            "permissions": {
                "checks": "write",
                "statuses": "write",
                "issues": "write",
                "pull_requests": "write",
            },
            "repository_selection": "selected",
        },
    )


def get_repo_installation(request: Request) -> Reply:
    installation_id = request.state.installation_of(request.repo)
    return Reply(
        200,
        {
            "id": installation_id,
            "app_id": request.state.app_id,
            "account": {"login": request.params["owner"]},
        },
    )


# ----------------------------------------------------------------------
# The App's webhook deliveries


def delivery_summary(delivery: Delivery) -> dict[str, Any]:
    """A "simple webhook delivery", as the listing shows it."""
    installation = delivery.payload.get("installation") or {}
    repository = delivery.payload.get("repository") or {}
    action = delivery.payload.get("action")
    return {
        "id": delivery.id,
        "guid": delivery.guid,
        "delivered_at": iso(delivery.delivered_at),
        "redelivery": delivery.redelivery,
        "duration": delivery.duration,
        "status": delivery.status,
        "status_code": delivery.status_code,
        "event": delivery.event,
        "action": action if isinstance(action, str) else None,
        "installation_id": installation.get("id"),
        "repository_id": repository.get("id"),
        "throttled_at": None,
    }


def list_deliveries(request: Request) -> Reply:
    """Newest first; GitHub pages this listing with an opaque `cursor`, not page numbers."""
    per_page = max(1, min(_int_arg(request, "per_page", 30), MAX_PER_PAGE))
    wanted = {"success": True, "failure": False}.get(request.arg("status") or "")
    deliveries = [
        d for d in request.state.hooks.deliveries() if wanted is None or d.succeeded == wanted
    ]
    cursor = request.arg("cursor")
    if cursor is not None:
        if not cursor.isdigit():
            raise ApiError(422, f"Invalid cursor: {cursor}")
        deliveries = [d for d in deliveries if d.id < int(cursor)]
    page = deliveries[:per_page]
    headers = {}
    if len(deliveries) > per_page:
        query = {key: values[0] for key, values in request.query.items()}
        next_query = urlencode({**query, "cursor": str(page[-1].id)})
        headers["Link"] = f'<{request.url}?{next_query}>; rel="next"'
    return Reply(200, [delivery_summary(d) for d in page], headers)


def _delivery(request: Request) -> Delivery:
    delivery = request.state.hooks.delivery(request.number("delivery_id"))
    if delivery is None:
        raise not_found()
    return delivery


def get_delivery(request: Request) -> Reply:
    delivery = _delivery(request)
    return Reply(
        200,
        {
            **delivery_summary(delivery),
            "url": delivery.url,
            "request": {"headers": dict(delivery.request_headers), "payload": dict(delivery.payload)},
            "response": {"headers": {}, "payload": delivery.response_body},
        },
    )


def redeliver(request: Request) -> Reply:
    request.state.hooks.redeliver_later(_delivery(request))
    return Reply(202, {})


# ----------------------------------------------------------------------
# Statuses and check runs


def create_status(request: Request) -> Reply:
    status = request.state.create_status(request.repo, request.params["sha"], request.object_body())
    return Reply(201, status)


def list_statuses(request: Request) -> Reply:
    return _page(request, request.state.list_statuses(request.repo, request.params["ref"]))


def create_check_run(request: Request) -> Reply:
    return Reply(201, request.state.create_check_run(request.repo, request.object_body()))


def get_check_run(request: Request) -> Reply:
    return Reply(200, request.state.get_check_run(request.repo, request.number("check_run_id")))


def update_check_run(request: Request) -> Reply:
    run_id = request.number("check_run_id")
    return Reply(200, request.state.update_check_run(request.repo, run_id, request.object_body()))


def _optional_int(text: str | None, name: str) -> int | None:
    if text is None:
        return None
    if not text.isdigit():
        raise ApiError(422, f"Invalid request.\n\nFor '{name}', \"{text}\" is not an integer.")
    return int(text)


def list_check_runs(request: Request) -> Reply:
    runs = request.state.list_check_runs(
        request.repo,
        request.params["ref"],
        check_name=request.arg("check_name"),
        status=request.arg("status"),
        latest=request.arg("filter") != "all",
        app_id=_optional_int(request.arg("app_id"), "app_id"),
    )
    return _page(request, runs, lambda page: {"total_count": len(runs), "check_runs": page})


# ----------------------------------------------------------------------
# Issues, labels, comments, pull requests


def get_issue(request: Request) -> Reply:
    return Reply(200, request.state.get_issue(request.repo, request.number("issue_number")))


def list_labels(request: Request) -> Reply:
    return _page(request, request.state.list_labels(request.repo, request.number("issue_number")))


def add_labels(request: Request) -> Reply:
    body = request.object_body() if request.body is not None else {}
    names = [label if isinstance(label, str) else label["name"] for label in body.get("labels", [])]
    return Reply(200, request.state.add_labels(request.repo, request.number("issue_number"), names))


def remove_label(request: Request) -> Reply:
    number = request.number("issue_number")
    return Reply(200, request.state.remove_label(request.repo, number, request.params["name"]))


def create_comment(request: Request) -> Reply:
    number = request.number("issue_number")
    return Reply(201, request.state.create_comment(request.repo, number, request.object_body()["body"]))


def get_pull(request: Request) -> Reply:
    return Reply(200, request.state.get_pull(request.repo, request.number("pull_number")))


def list_pull_files(request: Request) -> Reply:
    return _page(request, request.state.list_pull_files(request.repo, request.number("pull_number")))


_REPO = "/repos/{owner}/{repo}"
ROUTES = tuple(
    Route(method, PathTemplate.parse(path), auth, handler)
    for method, path, auth, handler in (
        ("POST", "/app/installations/{installation_id}/access_tokens", "app", create_access_token),
        ("GET", f"{_REPO}/installation", "app", get_repo_installation),
        ("GET", "/app/hook/deliveries", "app", list_deliveries),
        ("GET", "/app/hook/deliveries/{delivery_id}", "app", get_delivery),
        ("POST", "/app/hook/deliveries/{delivery_id}/attempts", "app", redeliver),
        ("POST", f"{_REPO}/statuses/{{sha}}", "installation", create_status),
        ("GET", f"{_REPO}/commits/{{ref}}/statuses", "installation", list_statuses),
        ("POST", f"{_REPO}/check-runs", "installation", create_check_run),
        ("GET", f"{_REPO}/check-runs/{{check_run_id}}", "installation", get_check_run),
        ("PATCH", f"{_REPO}/check-runs/{{check_run_id}}", "installation", update_check_run),
        ("GET", f"{_REPO}/commits/{{ref}}/check-runs", "installation", list_check_runs),
        ("GET", f"{_REPO}/issues/{{issue_number}}", "installation", get_issue),
        ("GET", f"{_REPO}/issues/{{issue_number}}/labels", "installation", list_labels),
        ("POST", f"{_REPO}/issues/{{issue_number}}/labels", "installation", add_labels),
        ("DELETE", f"{_REPO}/issues/{{issue_number}}/labels/{{name}}", "installation", remove_label),
        ("POST", f"{_REPO}/issues/{{issue_number}}/comments", "installation", create_comment),
        ("GET", f"{_REPO}/pulls/{{pull_number}}", "installation", get_pull),
        ("GET", f"{_REPO}/pulls/{{pull_number}}/files", "installation", list_pull_files),
    )
)


def find_route(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in ROUTES:
        params = route.template.match(path)
        if params is not None and route.method == method:
            return route, params
    return None
