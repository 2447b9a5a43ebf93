"""The REST operations tickborg uses, authenticated as the App's installations.

Build one `GitHubClient` per process (`GitHubClient.from_config`): it owns the
token caches and the write pacer, and is safe to share between threads.
Repositories are named `owner/name`. Every failure raises a
`CommitStatusError` variant (see `tickborg.github.errors`).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping, TypeVar

import requests

from tickborg.config import ConfigError, GitHubAppConfig
from tickborg.github.auth import DEFAULT_RENEW_MARGIN_SECONDS, AppAuth, load_private_key
from tickborg.github.bodies import (
    CheckRunFields,
    StatusState,
    comment_body,
    labels_body,
    status_body,
)
from tickborg.github.errors import CommitStatusError, Error, ExpiredCreds, RateLimited
from tickborg.github.fields import field, top_object
from tickborg.github.models import (
    CheckRun,
    Comment,
    HookDelivery,
    Issue,
    PullRequest,
    PullRequestFile,
    Status,
    list_of,
)
from tickborg.github.pacer import WritePacer
from tickborg.github.transport import Clock, Transport, repo_path
from tickborg.logsetup import get_logger
from tickborg.messages import Event
from tickborg.runtime.abandon import stop_if_abandoned
from tickborg.stats.emit import Emit, discard

log = get_logger(__name__)
T = TypeVar("T")

# Content-creating requests, paced against GitHub's secondary rate limits.
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
PAGE_SIZE = 100
# What log lines name instead of a repository for calls on the App itself.
APP_SCOPE = "(app)"


class GitHubClient:
    def __init__(self, transport: Transport, auth: AppAuth, pacer: WritePacer, events: Emit = discard) -> None:
        self._transport = transport
        self._auth = auth
        self._pacer = pacer
        self._events = events

    @classmethod
    def from_config(
        cls,
        config: GitHubAppConfig,
        clock: Clock = time.time,
        sleep: Callable[[float], None] = time.sleep,
        renew_margin: float = DEFAULT_RENEW_MARGIN_SECONDS,
        session: requests.Session | None = None,
        events: Emit = discard,
    ) -> GitHubClient:
        try:
            key = load_private_key(config.private_key.value)
        except ValueError as exc:
            raise ConfigError("github_app.private_key_file", str(exc)) from None
        transport = Transport(config.api_url, config.timeout_seconds, clock, session)
        auth = AppAuth(transport, config.app_id, key, clock, config.installation_id, renew_margin)
        pacer = WritePacer(config.writes_per_second, config.write_burst, clock, sleep, config.writes_per_hour)
        return cls(transport, auth, pacer, events)

    def close(self) -> None:
        self._transport.close()

    # ------------------------------------------------------------------
    # Plumbing: one authenticated call, with one retry after a 401.

    @contextmanager
    def _reporting(self, repo: str, expect_404: bool = False) -> Iterator[None]:
        """Log (and count, as `github-api-error`) a failed call once, with GitHub's message, and let it propagate."""
        try:
            yield
        except CommitStatusError as exc:
            if isinstance(exc, RateLimited):
                # Any call may meet the limit; the writes after it are what GitHub counts against us.
                self._pacer.pause_until(exc.reset_at)
            # A 404 the caller expects is an answer, not a failure worth a warning.
            if not (expect_404 and exc.status == 404):
                self._events(Event.of("github-api-error", type(exc).__name__))
                log.warning(
                    "github call failed",
                    repo=repo,
                    variant=type(exc).__name__,
                    status=exc.status,
                    error=exc.message,
                )
            raise

    def _authorized(
        self,
        method: str,
        repo: str,
        url: str,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> requests.Response:
        installation = self._auth.installation_for(repo)
        if method in WRITE_METHODS:
            self._before_write(method, url)
        token = self._auth.token_for(installation)
        try:
            return self._transport.send(method, url, f"Bearer {token}", json, params)
        except ExpiredCreds:
            # Revoked, or expired before we expected: exactly one retry with a new token.
            self._auth.drop_token(installation, token)
            log.info("github token refused, retrying once", repo=repo, installation_id=installation)
            token = self._auth.token_for(installation)
            return self._transport.send(method, url, f"Bearer {token}", json, params)

    def _as_app(
        self, method: str, url: str, params: Mapping[str, Any] | None = None
    ) -> requests.Response:
        """A call on the App's own endpoints, authenticated with the App JWT (no installation)."""
        if method in WRITE_METHODS:
            self._before_write(method, url)
        return self._transport.send(method, url, f"Bearer {self._auth.app_jwt()}", params=params)

    def _before_write(self, method: str, url: str) -> None:
        self._pacer.wait()
        # After the wait, which can be long: a job given up meanwhile writes nothing more.
        stop_if_abandoned(f"{method} {url}")

    def _request(
        self,
        method: str,
        repo: str,
        path: str,
        parse: Callable[[Any], T],
        json: Any = None,
    ) -> T:
        with self._reporting(repo):
            response = self._authorized(method, repo, self._transport.url(path), json)
            return self._transport.decode(response, parse)

    def _paginated(
        self,
        repo: str,
        path: str,
        items: Callable[[Any], list[Any]],
        params: Mapping[str, Any] | None = None,
        as_app: bool = False,
    ) -> Iterator[Any]:
        """Every item of a listing, following `Link: rel="next"` page by page (lazily:
        a caller that stops early fetches no more pages)."""
        url: str | None = self._transport.url(path)
        query: Mapping[str, Any] | None = {"per_page": PAGE_SIZE, **(params or {})}
        while url is not None:
            with self._reporting(repo):
                if as_app:
                    response = self._as_app("GET", url, query)
                else:
                    response = self._authorized("GET", repo, url, params=query)
                page = self._transport.decode(response, items)
                url = response.links.get("next", {}).get("url")
                if url is not None and not self._transport.owns(url):
                    # Never send the token to a host the configured API does not own.
                    raise Error(f"GET {path}: pagination link leaves {self._transport.api_url}")
            query = None  # the next link carries the whole query
            yield from page

    # ------------------------------------------------------------------
    # Commit statuses.

    def create_status(
        self,
        repo: str,
        sha: str,
        state: StatusState,
        context: str,
        description: str = "",
        target_url: str | None = None,
    ) -> Status:
        body = status_body(state, context, description, target_url)
        return self._request("POST", repo, repo_path(repo, "statuses", sha), Status.from_json, body)

    def list_statuses(self, repo: str, ref: str) -> list[Status]:
        path = repo_path(repo, "commits", ref, "statuses")
        listing = self._paginated(repo, path, lambda body: list_of(body, "statuses"))
        return [Status.from_json(item) for item in listing]

    # ------------------------------------------------------------------
    # Check runs.

    def create_check_run(self, repo: str, name: str, head_sha: str, fields: CheckRunFields) -> CheckRun:
        body = {"name": name, "head_sha": head_sha, **fields.to_json()}
        return self._request("POST", repo, repo_path(repo, "check-runs"), CheckRun.from_json, body)

    def update_check_run(self, repo: str, check_run_id: int, fields: CheckRunFields) -> CheckRun:
        path = repo_path(repo, "check-runs", check_run_id)
        return self._request("PATCH", repo, path, CheckRun.from_json, fields.to_json())

    def get_check_run(self, repo: str, check_run_id: int) -> CheckRun:
        path = repo_path(repo, "check-runs", check_run_id)
        return self._request("GET", repo, path, CheckRun.from_json)

    def list_check_runs(
        self, repo: str, ref: str, check_name: str | None = None, app_id: int | None = None, every_run: bool = False
    ) -> list[CheckRun]:
        """Check runs on a commit, of one GitHub App when `app_id` is given: the newest
        of each name (GitHub's default `filter=latest`), or every one (`every_run`)."""
        path = repo_path(repo, "commits", ref, "check-runs")
        params: dict[str, Any] = {} if check_name is None else {"check_name": check_name}
        if app_id is not None:
            params["app_id"] = app_id
        if every_run:
            params["filter"] = "all"
        listing = self._paginated(repo, path, _check_runs_of, params)
        return [CheckRun.from_json(item) for item in listing]

    # ------------------------------------------------------------------
    # Issues, labels, comments.

    def get_issue(self, repo: str, number: int) -> Issue:
        return self._request("GET", repo, repo_path(repo, "issues", number), Issue.from_json)

    def add_labels(self, repo: str, number: int, labels: tuple[str, ...]) -> tuple[str, ...]:
        """Add labels (one already there is fine); the issue's labels afterwards.

        An empty `labels` sends nothing and returns ().
        """
        if not labels:
            return ()
        path = repo_path(repo, "issues", number, "labels")
        return self._request("POST", repo, path, _label_names, labels_body(labels))

    def remove_label(self, repo: str, number: int, label: str) -> None:
        """Remove a label; one that is not there (404) is not an error."""
        url = self._transport.url(repo_path(repo, "issues", number, "labels", label))
        try:
            with self._reporting(repo, expect_404=True):
                self._authorized("DELETE", repo, url)
        except Error as exc:
            if exc.status != 404:
                raise

    def create_comment(self, repo: str, number: int, body: str) -> Comment:
        path = repo_path(repo, "issues", number, "comments")
        return self._request("POST", repo, path, Comment.from_json, comment_body(body))

    # ------------------------------------------------------------------
    # Pull requests.

    def get_pull_request(self, repo: str, number: int) -> PullRequest:
        return self._request("GET", repo, repo_path(repo, "pulls", number), PullRequest.from_json)

    def list_pull_request_files(self, repo: str, number: int) -> list[PullRequestFile]:
        path = repo_path(repo, "pulls", number, "files")
        listing = self._paginated(repo, path, lambda body: list_of(body, "files"))
        return [PullRequestFile.from_json(item) for item in listing]

    # ------------------------------------------------------------------
    # The App's webhook deliveries (authenticated as the App).

    def list_hook_deliveries(self, per_page: int = PAGE_SIZE) -> Iterator[HookDelivery]:
        """Every delivery attempt, newest first, fetched page by page as the caller reads on."""
        listing = self._paginated(
            APP_SCOPE,
            "/app/hook/deliveries",
            lambda body: list_of(body, "deliveries"),
            {"per_page": per_page},
            as_app=True,
        )
        return (HookDelivery.from_json(item) for item in listing)

    def get_hook_delivery(self, delivery_id: int) -> HookDelivery:
        with self._reporting(APP_SCOPE):
            response = self._as_app("GET", self._transport.url(f"/app/hook/deliveries/{delivery_id}"))
            return self._transport.decode(response, HookDelivery.from_json)

    def redeliver_hook_delivery(self, delivery_id: int) -> None:
        """Ask GitHub to deliver this attempt's event again (202: it does so later); paced."""
        with self._reporting(APP_SCOPE):
            self._as_app("POST", self._transport.url(f"/app/hook/deliveries/{delivery_id}/attempts"))


def _check_runs_of(body: Any) -> list[Any]:
    return field(top_object(body, "check runs"), "check_runs", list)


def _label_names(body: Any) -> tuple[str, ...]:
    return tuple(field(top_object(label, "label"), "name", str) for label in list_of(body, "labels"))
