"""The fake GitHub API server: real HTTP on loopback, driven by the production client.

`FakeGitHub.handle` decides every answer (description checks, faults, auth,
routing); `_Handler` only moves bytes. Use it in-process as

    with FakeGitHub.start(app_id=1, public_key_pem=pem, api_description=desc) as gh:
        gh.state.add_repo("acme/mono", installation_id=7)
        ... GitHubAppConfig(api_url=gh.url, ...) ...

or as a process: `python -m tickborg.fakegithub --port N --app-id ID --public-key PATH`.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator, Mapping
from urllib.parse import parse_qs, urlsplit

import attrs
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from tickborg.fakegithub import control
from tickborg.fakegithub.apidesc import ApiDescription
from tickborg.fakegithub.credentials import app_jwt_problem, bearer
from tickborg.fakegithub.faults import DOCS, Fault, FaultRule, Faults
from tickborg.fakegithub.handlers import Reply, Request, Route, find_route
from tickborg.fakegithub.sender import Delivery
from tickborg.fakegithub.state import ApiError, FakeState
from tickborg.github.transport import Clock
from tickborg.logsetup import get_logger

log = get_logger(__name__)

API_VERSION = "2022-11-28"
# Request headers kept in the call record; Authorization is deliberately not one.
RECORDED_HEADERS = ("Accept", "User-Agent", "X-GitHub-Api-Version", "Content-Type")


@attrs.frozen
class Call:
    """One request as the fake saw it, and how it answered (status None: dropped)."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    body: Any
    status: int | None
    auth: str  # app | installation | none | refused
    installation_id: int | None
    headers: Mapping[str, str]
    at: float  # epoch seconds by the fake's clock when it answered: benchmarks time the fleet by it


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"message": message, "documentation_url": DOCS})


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


class FakeGitHub:
    def __init__(
        self,
        app_id: int,
        public_key_pem: str,
        api_description: ApiDescription | None,
        clock: Clock = time.time,
        token_lifetime: float = 3600.0,
        bot_login: str = "tickbot[bot]",
        path_prefix: str = "",
    ) -> None:
        self.app_id = app_id
        self._public_key = load_pem_public_key(public_key_pem.encode())
        self._description = api_description
        self._clock = clock
        self._prefix = path_prefix.rstrip("/")
        self.state = FakeState(clock, app_id, token_lifetime, bot_login)
        self.faults = Faults()
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._violations: list[str] = []
        self.url = ""  # set once listening: the API base URL for GitHubAppConfig.api_url

    # ------------------------------------------------------------------
    # What tests use.

    def fail(
        self, fault: Fault, method: str | None = None, path: str = ".*", times: int | None = 1
    ) -> FaultRule:
        """Answer the next `times` calls (None: all) matching method and path regex with `fault`."""
        return self.faults.add(fault, method, path, times)

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    @property
    def violations(self) -> list[str]:
        """Requests that departed from GitHub's API description (should stay empty)."""
        with self._lock:
            return list(self._violations)

    def take_violations(self) -> list[str]:
        """The violations so far, forgotten: for tests that send bad requests on purpose."""
        with self._lock:
            taken, self._violations = self._violations, []
            return taken

    def configure_hook(self, url: str, secret: str) -> None:
        """Where (and with which secret) the App's webhook deliveries go."""
        self.state.hooks.configure(url, secret)

    def send_event(self, event: str, payload: Mapping[str, Any]) -> Delivery:
        """Deliver one event as GitHub does: signed, once, 10 s; the attempt is recorded."""
        return self.state.hooks.send(event, payload)

    def calls_to(self, method: str, path_suffix: str = "") -> list[Call]:
        return [c for c in self.calls if c.method == method and c.path.endswith(path_suffix)]

    # ------------------------------------------------------------------
    # Running.

    @classmethod
    @contextmanager
    def start(cls, host: str = "127.0.0.1", port: int = 0, **options: Any) -> Iterator[FakeGitHub]:
        """Serve on a thread for the duration of the `with` block (port 0: any free port)."""
        fake = cls(**options)
        server = fake.bind(host, port)
        # A short poll interval: shutdown() waits for it, and tests start many fakes.
        thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="fake-github", daemon=True
        )
        thread.start()
        try:
            yield fake
        finally:
            server.shutdown()
            server.server_close()
            thread.join()

    def bind(self, host: str, port: int) -> ThreadingHTTPServer:
        server = _Server((host, port), _Handler)
        server.app = self
        self.url = f"http://{host}:{server.server_address[1]}{self._prefix}"
        return server

    # ------------------------------------------------------------------
    # Answering one request.

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], raw_body: bytes
    ) -> Reply | None:
        """The reply to a request, or None to drop the connection without one."""
        split = urlsplit(target)
        query = parse_qs(split.query, keep_blank_values=True)
        body = _parse_json(raw_body)
        if split.path.startswith(control.PREFIX):
            return control.control(self.state, self.violations, method, split.path, body)
        outcome = _Outcome()
        try:
            reply = self._answer(method, split.path, query, headers, raw_body, body, outcome)
        except Exception as exc:  # a bug in the fake must fail the test, not hang it
            self._violate(f"{method} {split.path}: the fake GitHub crashed: {exc!r}")
            reply = _error(500, "Server Error")
        outcome.status = None if reply is None else reply.status
        self._record(method, split.path, query, body, headers, outcome)
        return reply

    def _violate(self, *problems: str) -> None:
        with self._lock:
            self._violations += problems

    def _answer(
        self,
        method: str,
        full_path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        raw_body: bytes,
        body: Any,
        outcome: _Outcome,
    ) -> Reply | None:
        # Check first, so a request is checked even when a fault answers it.
        path = full_path.removeprefix(self._prefix) if full_path.startswith(self._prefix + "/") else None
        if path is None:
            self._violate(f"{method} {full_path}: outside the API base path {self._prefix!r}")
        problems = []
        if path is not None and self._description is not None:
            problems = self._description.check(method, path, query, raw_body)
            self._violate(*problems)
        fault = self.faults.take(method, path or full_path)
        if fault is not None and fault.kind == "drop":
            return None
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)  # real time: the client's timeout is real too
        elif fault is not None:
            return Reply(fault.status, fault.body(), fault.headers(self._clock()))
        if not headers.get("User-Agent"):
            self._violate(f"{method} {full_path}: no User-Agent header")
            return _error(
                403,
                "Request forbidden by administrative rules. "
                "Please make sure your request has a User-Agent header",
            )
        version = headers.get("X-GitHub-Api-Version")
        if version is not None and version != API_VERSION:
            self._violate(f"{method} {full_path}: unsupported X-GitHub-Api-Version {version!r}")
            return _error(400, f"The API version {version!r} is not supported.")
        found = None if path is None else find_route(method, path)
        if found is None:
            return _error(404, "Not Found")
        route, params = found
        refusal = self._authenticate(route, params, headers, outcome)
        if refusal is not None:
            return refusal
        if problems:
            status = 400 if raw_body and body is None else 422  # 400: not JSON at all
            return _error(status, "Invalid request.\n\n" + "\n".join(problems))
        try:
            return route.handler(Request(self.state, params, query, body, f"{self.url}{path}"))
        except ApiError as exc:
            return _error(exc.status, exc.message)

    def _authenticate(
        self, route: Route, params: Mapping[str, str], headers: Mapping[str, str], outcome: _Outcome
    ) -> Reply | None:
        """None when the credentials are good for this route; else GitHub's refusal."""
        credential = bearer(headers.get("Authorization"))
        outcome.auth = "refused"
        if route.auth == "app":
            problem = app_jwt_problem(credential, self._public_key, self.app_id, self._clock())
            if problem is not None:
                log.debug("fake github refused app jwt", problem=problem)
                return _error(401, "Bad credentials")
            outcome.auth = "app"
            return None
        token = self.state.token(credential) if credential else None
        if token is None or token.expires_at <= self._clock():
            return _error(401, "Bad credentials")
        outcome.auth, outcome.installation_id = "installation", token.installation_id
        try:
            serving = self.state.installation_of(f"{params['owner']}/{params['repo']}")
        except ApiError:
            serving = None
        # GitHub hides repositories an installation cannot see.
        return None if serving == token.installation_id else _error(404, "Not Found")

    def _record(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        body: Any,
        headers: Mapping[str, str],
        outcome: _Outcome,
    ) -> None:
        kept = {name: headers[name] for name in RECORDED_HEADERS if headers.get(name) is not None}
        call = Call(
            method, path, query, body, outcome.status, outcome.auth, outcome.installation_id, kept,
            self._clock(),
        )
        with self._lock:
            self._calls.append(call)


@attrs.define
class _Outcome:
    """What became of a request, filled in while answering it, for the call record."""

    auth: str = "none"
    installation_id: int | None = None
    status: int | None = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: FakeGitHub

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout test) leaves a broken pipe behind; not news.
        log.debug("fake github connection error", client=str(client_address))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Buffer each reply and send it in one piece: headers and body in separate
    # small writes meet Nagle's algorithm and a delayed ACK, 40 ms per request.
    wbufsize = 64 * 1024
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if len(raw) < length:
            # The client went away mid-request (a process killed as it wrote): GitHub
            # never sees such a request, so neither does the call record.
            self.close_connection = True
            return
        reply = self.server.app.handle(self.command, self.path, self.headers, raw)
        if reply is None:
            self.close_connection = True
            return
        data = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the call record says everything, without printing to stderr."""
