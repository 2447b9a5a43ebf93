"""Configuration: one JSON file parsed into frozen attrs classes (SPEC §12).

Every invalid value raises `ConfigError` naming the key path; the CLI turns it
into one line on stderr and exit status 2. Sections a process does not need may
be absent; `Config.require(name)` is how a process insists on one.
"""

from __future__ import annotations

import ipaddress
import json
import os
import stat
from pathlib import Path
from typing import Any, Callable, TypeVar

import attrs

SYSTEMS = (
    "x86_64-linux",
    "aarch64-linux",
    "x86_64-darwin",
    "aarch64-darwin",
    "x86_64-windows",
    "aarch64-windows",
    "x86_64-freebsd",
)
BUILD_SYSTEMS = ("cmake", "meson", "autotools", "make", "cargo", "gradle", "custom")
SANDBOXES = ("bubblewrap", "none")
# How a builder sends a build's log: many lines a message, or one (all a Rust collector reads).
LOG_MESSAGES = ("chunks", "lines")
# How build limits are enforced: "auto" takes a cgroup where the host gives one, else rlimits.
ENFORCEMENTS = ("auto", "cgroup", "rlimit")
MIB = 1024 * 1024

T = TypeVar("T")

# The optional sections each process cannot run without (SPEC §12).
PROCESS_SECTIONS: dict[str, tuple[str, ...]] = {
    "github-webhook-receiver": ("github_webhook_receiver",),
    "github-comment-filter": ("github_app",),
    "github-rerun-filter": ("github_app",),
    "mass-rebuilder": ("github_app", "checkout"),
    "builder": ("builder", "checkout"),
    "github-comment-poster": ("github_app",),
    "log-message-collector": ("log_storage",),
    "logapi": ("logapi", "log_storage"),
    "stats": ("stats",),
    "redeliver-webhooks": ("github_app",),
}


class ConfigError(Exception):
    """An invalid configuration: `key` is the dotted path, `problem` says what is wrong."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


@attrs.frozen(repr=False)
class Secret:
    """A secret value that never shows itself in a repr, log line or traceback."""

    value: str
    source: str = ""

    def __repr__(self) -> str:
        return f"Secret(source={self.source!r})"

    __str__ = __repr__


@attrs.frozen
class ListenAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@attrs.frozen
class BrokerNode:
    host: str  # a name or an address: cluster nodes are usually named
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@attrs.frozen
class RabbitMQConfig:
    host: str = "127.0.0.1"
    port: int = 5672
    # A cluster's nodes, tried in order (SPEC §13); when given, host and port are its first.
    hosts: tuple[BrokerNode, ...] = ()
    ssl: bool = False
    virtualhost: str = "/"
    username: str = "guest"
    password: Secret = Secret("guest", "default")
    legacy_queues: bool = False
    delivery_limit: int = 10
    heartbeat_seconds: int = 60
    retry_base_seconds: float = 1.0
    retry_cap_seconds: float = 300.0
    shutdown_grace_seconds: float = 30.0

    @property
    def nodes(self) -> tuple[BrokerNode, ...]:
        """Every node to try, in order: the cluster's, or the one host."""
        return self.hosts or (BrokerNode(self.host, self.port),)

    @property
    def address(self) -> str:
        """The nodes as an operator wrote them, for log lines."""
        return ",".join(map(str, self.nodes))


@attrs.frozen
class GitHubAppConfig:
    app_id: int
    private_key: Secret
    api_url: str = "https://api.github.com"
    installation_id: int | None = None
    timeout_seconds: float = 30.0
    writes_per_second: float = 1.0
    write_burst: int = 5
    writes_per_hour: int = 500  # GitHub's secondary limit for an App; 0: no hourly bucket
    # A pending step of an evaluation, and a build's in_progress, are shown only once they last this long.
    progress_status_delay_seconds: float = 2.0


@attrs.frozen
class SystemsConfig:
    primary: tuple[str, ...] = ("x86_64-linux",)
    all: tuple[str, ...] = ("x86_64-linux",)


@attrs.frozen
class Project:
    name: str
    path: str
    build_system: str
    configure_args: tuple[str, ...] = ()
    build_args: tuple[str, ...] = ()
    command: str | None = None
    test_command: tuple[str, ...] | None = None
    timeout_seconds: int | None = None


@attrs.frozen
class ServerConfig:
    """An HTTP server of tickborg's: where it listens, and how long and how
    many clients it serves (`tickborg.httpserver`)."""

    listen: ListenAddress
    # How long a client may be silent while sending its request, idle
    # between requests on a kept-alive connection, or not reading its answer.
    socket_timeout_seconds: float = 10.0
    # How long a request (line, headers and body) may take to arrive in all,
    # so a client trickling bytes cannot hold a connection for long.
    request_deadline_seconds: float = 10.0
    # Connections served at once (a thread each); more are answered 503.
    max_connections: int = 128


@attrs.frozen
class WebhookReceiverConfig(ServerConfig):
    webhook_secret: Secret = attrs.field(kw_only=True)
    # How long a request waits for the broker's confirm before answering 503;
    # GitHub gives up on a delivery after 10 s.
    confirm_timeout_seconds: float = 5.0
    # Bytes of request bodies held before their signature is checked, across
    # all connections; a body that does not fit is answered 503 (larger than
    # the whole budget: 413). Four of GitHub's largest (25 MiB) payloads.
    max_unverified_body_bytes: int = 100 * 1024 * 1024
    # Publishes the broker has not confirmed yet; beyond it requests are
    # answered 503 at once and /health is 503.
    max_unconfirmed_publishes: int = 256


@attrs.frozen
class CommentFilterConfig:
    # Distinct commands of one comment acted on; the rest is ignored (logged),
    # so one comment from anyone cannot ask for an unbounded amount of work.
    max_commands: int = 20


@attrs.frozen
class CheckoutConfig:
    root: Path
    # A git command (clone, fetch, merge) running longer is killed; a retryable failure.
    git_timeout_seconds: float = 600.0


@attrs.frozen
class BuildLimits:
    """What one build phase may use; the log limits count a project's build, all its phases."""

    memory_bytes: int = 4096 * MIB
    processes: int = 1024
    tmp_bytes: int = 1024 * MIB  # each of /tmp and /dev/shm
    log_bytes: int = 64 * MIB
    log_lines: int = 1_000_000
    enforcement: str = "auto"
    # CPU priority of a phase (nice(1)): builds are batch work, and on a host shared with
    # other workers they must not slow the fleet's own work (evaluations, log streaming).
    nice: int = 10


@attrs.frozen
class BuilderConfig:
    systems: tuple[str, ...]
    build_timeout_seconds: int = 1500
    log_tail_lines: int = 10
    broker_consumer_timeout_seconds: int = 1800
    kill_grace_seconds: int = 10
    # "bubblewrap" isolates each build phase; "none" runs it directly (development only).
    sandbox: str = "bubblewrap"
    # Also send each build's BuildLogStart to `statusreport`, so its check run shows "in progress".
    announce_start: bool = True
    # "chunks": BuildLogChunk messages; "lines": one BuildLogMsg per line, for Rust collectors.
    log_messages: str = "chunks"
    limits: BuildLimits = BuildLimits()

    def timeout_of(self, project: Project) -> int:
        return project.timeout_seconds or self.build_timeout_seconds


@attrs.frozen
class LogStorageConfig:
    path: Path
    # How long a result waits for lines missing behind parked ones before it is stored anyway.
    gap_wait_seconds: float = 30.0


DEFAULT_LOG_STORAGE = LogStorageConfig(Path("."))


@attrs.frozen
class Config:
    identity: str
    rabbitmq: RabbitMQConfig
    github_app: GitHubAppConfig | None
    bot_login: str
    repos: tuple[str, ...]
    trusted_users: tuple[str, ...] | None
    systems: SystemsConfig
    projects: tuple[Project, ...]
    push_branches: tuple[str, ...]
    default_push_projects: tuple[str, ...]
    github_webhook_receiver: WebhookReceiverConfig | None
    github_comment_filter: CommentFilterConfig
    checkout: CheckoutConfig | None
    builder: BuilderConfig | None
    log_storage: LogStorageConfig | None
    logapi: ServerConfig | None
    log_viewer_url: str | None
    stats: ServerConfig | None
    source: Path | None = None

    def require(self, section: str) -> Any:
        """The named section, or ConfigError when the file does not have it."""
        value = getattr(self, section)
        if value is None:
            raise ConfigError(section, "missing (this process needs it)")
        return value

    def require_for(self, process: str) -> None:
        """ConfigError naming the first section `process` needs that is missing."""
        for section in PROCESS_SECTIONS.get(process, ()):
            self.require(section)

    def project(self, name: str) -> Project | None:
        return next((p for p in self.projects if p.name == name), None)

    def repo_is_eligible(self, full_name: str) -> bool:
        wanted = full_name.lower()
        return any(r.lower() == wanted for r in self.repos)

    def is_trusted(self, login: str) -> bool:
        if self.trusted_users is None:
            return True
        return login.lower() in (u.lower() for u in self.trusted_users)

    def systems_for(self, login: str) -> tuple[str, ...]:
        return self.systems.all if self.is_trusted(login) else self.systems.primary


# --------------------------------------------------------------------------
# Parsing. `_Section` reads one JSON object and names every key it complains
# about by its full dotted path.


_REQUIRED = object()


class _Section:
    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(path or "(top level)", f"expected an object, got {_kind(data)}")
        self.data = data
        self.path = path

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def _get(self, name: str, check: Callable[[Any], bool], what: str, default: Any) -> Any:
        if name not in self.data or self.data[name] is None:
            if default is _REQUIRED:
                raise ConfigError(self.key(name), "missing")
            return default
        value = self.data[name]
        if not check(value):
            raise ConfigError(self.key(name), f"expected {what}, got {_kind(value)}")
        return value

    def str(self, name: str, default: Any = None) -> Any:
        value = self._get(name, lambda v: isinstance(v, str), "a string", default)
        if value == "" and default is _REQUIRED:
            raise ConfigError(self.key(name), "must not be empty")
        return value

    def int(self, name: str, default: Any = None, minimum: int | None = None, maximum: int | None = None) -> Any:
        value = self._get(name, _is_int, "an integer", default)
        if value is not None and minimum is not None and value < minimum:
            raise ConfigError(self.key(name), f"must be at least {minimum}, got {value}")
        if value is not None and maximum is not None and value > maximum:
            raise ConfigError(self.key(name), f"must be at most {maximum}, got {value}")
        return value

    def number(self, name: str, default: Any = None, positive: bool = False) -> Any:
        value = self._get(name, lambda v: _is_int(v) or isinstance(v, float), "a number", default)
        if value is not None and value < 0:
            raise ConfigError(self.key(name), f"must not be negative, got {value}")
        if positive and value == 0:
            raise ConfigError(self.key(name), "must be greater than 0")
        return value if value is None else float(value)

    def bool(self, name: str, default: Any = None) -> Any:
        return self._get(name, lambda v: isinstance(v, bool), "true or false", default)

    def strings(self, name: str, default: Any = None) -> Any:
        value = self._get(name, _is_string_list, "a list of strings", default)
        return value if value is None else tuple(value)

    def section(self, name: str) -> _Section | None:
        if not self.has(name):
            return None
        return _Section(self.data[name], self.key(name))

    def secret(self, file_key: str, inline_key: str | None = None, default: Any = _REQUIRED) -> Any:
        """A secret read from the file named by `file_key` (or given inline for development)."""
        path = self.str(file_key, None)
        if path is not None:
            # "$CREDENTIALS_DIRECTORY/..." names a systemd credential (LoadCredential=).
            return _read_secret(Path(os.path.expandvars(path)), self.key(file_key))
        if inline_key is not None and self.has(inline_key):
            return Secret(self.str(inline_key), self.key(inline_key))
        if default is _REQUIRED:
            raise ConfigError(self.key(file_key), "missing")
        return default

    def listen(self, name: str) -> ListenAddress:
        return _parse_listen(self.str(name, _REQUIRED), self.key(name))



def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {json.dumps(value)}"
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {json.dumps(value)}"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _read_secret(path: Path, key: str) -> Secret:
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(key, f"cannot read secret file {str(path)!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(key, f"secret file {str(path)!r} is not UTF-8 text") from None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        from tickborg.logsetup import get_logger

        get_logger(__name__).warning(
            "secret file readable by others than its owner", key=key, path=str(path)
        )
    value = text.strip("\r\n") if "PRIVATE KEY" not in text else text
    if not value:
        raise ConfigError(key, f"secret file {str(path)!r} is empty")
    return Secret(value, key)


def _split_host_port(text: str, key: str) -> tuple[str, int]:
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(key, f"expected host:port, got {json.dumps(text)}")
    return (host[1:-1] if host.startswith("[") and host.endswith("]") else host), int(port_text)


def _parse_listen(text: str, key: str) -> ListenAddress:
    host, port = _split_host_port(text, key)
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ConfigError(key, f"{json.dumps(host)} is not an IP address") from None
    return ListenAddress(host, port)


def _systems(values: tuple[str, ...], key: str) -> tuple[str, ...]:
    for value in values:
        if value not in SYSTEMS:
            raise ConfigError(key, f"unknown system {json.dumps(value)} (known: {', '.join(SYSTEMS)})")
    return values


def _parse_rabbitmq(s: _Section) -> RabbitMQConfig:
    d = RabbitMQConfig()
    hosts = _parse_hosts(s)
    return RabbitMQConfig(
        host=hosts[0].host if hosts else s.str("host", d.host),
        port=hosts[0].port if hosts else s.int("port", d.port, minimum=1),
        hosts=hosts,
        ssl=s.bool("ssl", d.ssl),
        virtualhost=s.str("virtualhost", d.virtualhost),
        username=s.str("username", d.username),
        password=s.secret("password_file", "password", d.password),
        legacy_queues=s.bool("legacy_queues", d.legacy_queues),
        delivery_limit=s.int("delivery_limit", d.delivery_limit, minimum=1),
        heartbeat_seconds=s.int("heartbeat_seconds", d.heartbeat_seconds, minimum=0),
        retry_base_seconds=s.number("retry_base_seconds", d.retry_base_seconds),
        retry_cap_seconds=s.number("retry_cap_seconds", d.retry_cap_seconds),
        shutdown_grace_seconds=s.number("shutdown_grace_seconds", d.shutdown_grace_seconds),
    )


def _parse_hosts(s: _Section) -> tuple[BrokerNode, ...]:
    """`rabbitmq.hosts`: a cluster's nodes as "host:port", instead of host and port."""
    if not s.has("hosts"):
        return ()
    hosts = s.strings("hosts")
    if s.has("host") or s.has("port"):
        raise ConfigError(s.key("hosts"), "give either hosts or host and port, not both")
    if not hosts:
        raise ConfigError(s.key("hosts"), "must name at least one node")
    nodes = tuple(BrokerNode(*_split_host_port(item, f"{s.key('hosts')}[{i}]")) for i, item in enumerate(hosts))
    if len(set(nodes)) != len(nodes):
        raise ConfigError(s.key("hosts"), "names a node twice")
    return nodes


def _parse_github_app(s: _Section) -> GitHubAppConfig:
    api_url = s.str("api_url", "https://api.github.com")
    if not api_url.startswith(("http://", "https://")):
        raise ConfigError(s.key("api_url"), f"expected an http(s) URL, got {json.dumps(api_url)}")
    return GitHubAppConfig(
        app_id=s.int("app_id", _REQUIRED, minimum=1),
        private_key=s.secret("private_key_file"),
        api_url=api_url.rstrip("/"),
        installation_id=s.int("installation_id", None, minimum=1),
        timeout_seconds=s.number("timeout_seconds", 30.0),
        writes_per_second=s.number("writes_per_second", 1.0),
        write_burst=s.int("write_burst", 5, minimum=1),
        writes_per_hour=s.int("writes_per_hour", 500, minimum=0),
        progress_status_delay_seconds=s.number("progress_status_delay_seconds", 2.0),
    )


def _parse_project(s: _Section) -> Project:
    build_system = s.str("build_system", _REQUIRED)
    if build_system not in BUILD_SYSTEMS:
        raise ConfigError(
            s.key("build_system"),
            f"unknown build system {json.dumps(build_system)} (known: {', '.join(BUILD_SYSTEMS)})",
        )
    path = s.str("path", _REQUIRED).strip("/")
    if not path or ".." in path.split("/"):
        raise ConfigError(s.key("path"), "must be a relative directory inside the repository")
    command = s.str("command", None)
    if build_system == "custom" and command is None:
        raise ConfigError(s.key("command"), "missing (required for build_system custom)")
    return Project(
        name=s.str("name", _REQUIRED),
        path=path,
        build_system=build_system,
        configure_args=s.strings("configure_args", ()),
        build_args=s.strings("build_args", ()),
        command=command,
        test_command=s.strings("test_command", None),
        timeout_seconds=s.int("timeout_seconds", None, minimum=1),
    )


def _parse_projects(top: _Section) -> tuple[Project, ...]:
    raw = top.data.get("projects") or []
    if not isinstance(raw, list):
        raise ConfigError("projects", f"expected a list, got {_kind(raw)}")
    projects: list[Project] = []
    for index, item in enumerate(raw):
        project = _parse_project(_Section(item, f"projects[{index}]"))
        if any(p.name == project.name for p in projects):
            raise ConfigError(f"projects[{index}].name", f"duplicate project {json.dumps(project.name)}")
        projects.append(project)
    return tuple(projects)


def _parse_checkout(s: _Section) -> CheckoutConfig:
    default = attrs.fields(CheckoutConfig).git_timeout_seconds.default
    return CheckoutConfig(
        root=Path(s.str("root", _REQUIRED)),
        git_timeout_seconds=s.number("git_timeout_seconds", default, positive=True),
    )


def _parse_server(s: _Section) -> dict[str, Any]:
    """The keys every HTTP server's section has, as `ServerConfig` arguments."""
    d = attrs.fields(ServerConfig)
    return dict(
        listen=s.listen("listen"),
        socket_timeout_seconds=s.number("socket_timeout_seconds", d.socket_timeout_seconds.default, positive=True),
        request_deadline_seconds=s.number(
            "request_deadline_seconds", d.request_deadline_seconds.default, positive=True
        ),
        max_connections=s.int("max_connections", d.max_connections.default, minimum=1),
    )


def _parse_webhook_receiver(s: _Section) -> WebhookReceiverConfig:
    d = attrs.fields(WebhookReceiverConfig)
    return WebhookReceiverConfig(
        **_parse_server(s),
        webhook_secret=s.secret("webhook_secret_file"),
        confirm_timeout_seconds=s.number("confirm_timeout_seconds", d.confirm_timeout_seconds.default, positive=True),
        max_unverified_body_bytes=s.int("max_unverified_body_bytes", d.max_unverified_body_bytes.default, minimum=1),
        max_unconfirmed_publishes=s.int("max_unconfirmed_publishes", d.max_unconfirmed_publishes.default, minimum=1),
    )


def _parse_comment_filter(s: _Section) -> CommentFilterConfig:
    default = attrs.fields(CommentFilterConfig).max_commands.default
    return CommentFilterConfig(max_commands=s.int("max_commands", default, minimum=1))


def _parse_builder(s: _Section) -> BuilderConfig:
    d = BuilderConfig(systems=())
    return BuilderConfig(
        systems=_systems(s.strings("systems", _REQUIRED), s.key("systems")),
        build_timeout_seconds=s.int("build_timeout_seconds", d.build_timeout_seconds, minimum=1),
        log_tail_lines=s.int("log_tail_lines", d.log_tail_lines, minimum=0),
        broker_consumer_timeout_seconds=s.int(
            "broker_consumer_timeout_seconds", d.broker_consumer_timeout_seconds, minimum=1
        ),
        kill_grace_seconds=s.int("kill_grace_seconds", d.kill_grace_seconds, minimum=0),
        sandbox=_choice(s, "sandbox", d.sandbox, SANDBOXES),
        announce_start=s.bool("announce_start", d.announce_start),
        log_messages=_choice(s, "log_messages", d.log_messages, LOG_MESSAGES),
        limits=_optional(s, "limits", _parse_limits) or d.limits,
    )


def _parse_limits(s: _Section) -> BuildLimits:
    d = BuildLimits()
    return BuildLimits(
        # Below a few MiB not even a shell starts: a typo (MiB for bytes), not a limit.
        memory_bytes=s.int("memory_bytes", d.memory_bytes, minimum=16 * MIB),
        processes=s.int("processes", d.processes, minimum=8),
        tmp_bytes=s.int("tmp_bytes", d.tmp_bytes, minimum=MIB),
        log_bytes=s.int("log_bytes", d.log_bytes, minimum=1),
        log_lines=s.int("log_lines", d.log_lines, minimum=1),
        enforcement=_choice(s, "enforcement", d.enforcement, ENFORCEMENTS),
        nice=s.int("nice", d.nice, minimum=0, maximum=19),
    )


def _choice(s: _Section, name: str, default: str, known: tuple[str, ...]) -> str:
    value = s.str(name, default)
    if value not in known:
        raise ConfigError(s.key(name), f"unknown {name} {json.dumps(value)} (known: {', '.join(known)})")
    return value


def _optional(top: _Section, name: str, parse: Callable[[_Section], T]) -> T | None:
    section = top.section(name)
    return None if section is None else parse(section)


def parse_config(data: Any, source: Path | None = None) -> Config:
    top = _Section(data, "")
    systems_section = top.section("systems")
    if systems_section is None:
        systems = SystemsConfig()
    else:
        primary = _systems(systems_section.strings("primary", ("x86_64-linux",)), "systems.primary")
        everything = _systems(systems_section.strings("all", primary), "systems.all")
        systems = SystemsConfig(primary, tuple(dict.fromkeys(everything + primary)))
    projects = _parse_projects(top)
    default_push = top.strings("default_push_projects", ())
    for name in default_push:
        if not any(p.name == name for p in projects):
            raise ConfigError("default_push_projects", f"unknown project {json.dumps(name)}")
    rabbitmq = top.section("rabbitmq")
    if rabbitmq is None:
        raise ConfigError("rabbitmq", "missing")
    return Config(
        identity=top.str("identity", _REQUIRED),
        rabbitmq=_parse_rabbitmq(rabbitmq),
        github_app=_optional(top, "github_app", _parse_github_app),
        bot_login=top.str("bot_login", "tickbot[bot]"),
        repos=top.strings("repos", ()),
        trusted_users=top.strings("trusted_users", None),
        systems=systems,
        projects=projects,
        push_branches=top.strings("push_branches", ("main",)),
        default_push_projects=default_push,
        github_webhook_receiver=_optional(
            top,
            "github_webhook_receiver",
            _parse_webhook_receiver,
        ),
        github_comment_filter=_optional(top, "github_comment_filter", _parse_comment_filter) or CommentFilterConfig(),
        checkout=_optional(top, "checkout", _parse_checkout),
        builder=_optional(top, "builder", _parse_builder),
        log_storage=_optional(
            top,
            "log_storage",
            lambda s: LogStorageConfig(
                Path(s.str("path", _REQUIRED)), s.number("gap_wait_seconds", DEFAULT_LOG_STORAGE.gap_wait_seconds)
            ),
        ),
        logapi=_optional(top, "logapi", lambda s: ServerConfig(**_parse_server(s))),
        log_viewer_url=top.str("log_viewer_url", None),
        stats=_optional(top, "stats", lambda s: ServerConfig(**_parse_server(s))),
        source=source,
    )


def config_path(explicit: str | None) -> Path:
    """--config PATH, else $TICKBORG_CONFIG, else ./config.json."""
    return Path(explicit or os.environ.get("TICKBORG_CONFIG") or "config.json")


def load_config(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("--config", f"cannot read {str(path)!r}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError("--config", f"{str(path)!r} is not valid JSON: {exc}") from None
    return parse_config(data, source=path)
