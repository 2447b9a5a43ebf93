"""Everything the demo writes to its temp dir: keys, secret, the sample origin, the config."""

from __future__ import annotations

import json
import secrets
import socket
from pathlib import Path
from typing import Any

import attrs

from tickborg.demo import monorepo
from tickborg.demo.origin import Origin
from tickborg.fakegithub.keys import generate_app_key

APP_ID = 4242


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _private_file(path: Path, content: str) -> Path:
    path.touch(mode=0o600)
    path.write_text(content)
    return path


@attrs.frozen
class Ports:
    github: int = attrs.field(factory=free_port)
    receiver: int = attrs.field(factory=free_port)
    logapi: int = attrs.field(factory=free_port)
    stats: int = attrs.field(factory=free_port)


@attrs.frozen
class Broker:
    host: str
    port: int
    username: str
    password: str = attrs.field(repr=False)
    vhost: str


@attrs.frozen
class Scene:
    """The temp dir's contents, once written."""

    root: Path
    ports: Ports
    origin: Origin
    base_sha: str
    head_sha: str
    public_key: Path
    webhook_secret: str = attrs.field(repr=False)
    config_path: Path

    @property
    def logs(self) -> Path:
        return self.root / "logs"


def write_scene(root: Path, ports: Ports, broker: Broker, sandbox: str) -> Scene:
    """Keys, webhook secret, the monorepo with its PR, and the config file under `root`."""
    (root / "logs").mkdir()
    keys = generate_app_key()
    private_key = _private_file(root / "app.pem", keys.private_pem)
    public_key = root / "app.pub"
    public_key.write_text(keys.public_pem)
    webhook_secret = secrets.token_hex(20)
    secret_file = _private_file(root / "webhook-secret", webhook_secret)
    origin = Origin(root / "git")
    base_sha = origin.commit("main", monorepo.MAIN_FILES, "the sample monorepo")
    head_sha = origin.open_pr(monorepo.PR_NUMBER, "main", monorepo.PR_FILES, monorepo.PR_TITLE)
    config = _config(root, ports, broker, sandbox, private_key, secret_file)
    config_path = root / "config.json"
    config_path.write_text(json.dumps(config, indent=2))
    return Scene(root, ports, origin, base_sha, head_sha, public_key, webhook_secret, config_path)


def _config(root: Path, ports: Ports, broker: Broker, sandbox: str, private_key: Path, secret: Path) -> dict[str, Any]:
    system = monorepo.SYSTEM
    return {
        "identity": "tickborg-demo",
        "rabbitmq": {
            "host": broker.host,
            "port": broker.port,
            "virtualhost": broker.vhost,
            "username": broker.username,
            "password": broker.password,
            "shutdown_grace_seconds": 5,  # Ctrl-C should not wait on a build
        },
        "github_app": {"app_id": APP_ID, "private_key_file": str(private_key), "api_url": f"http://127.0.0.1:{ports.github}"},
        "bot_login": "tickbot[bot]",
        "repos": [monorepo.REPO],
        "trusted_users": [monorepo.AUTHOR],
        "systems": {"primary": [system], "all": [system]},
        "projects": monorepo.PROJECTS,
        "push_branches": ["main"],
        "github_webhook_receiver": {"listen": f"127.0.0.1:{ports.receiver}", "webhook_secret_file": str(secret)},
        "checkout": {"root": str(root / "checkouts")},
        "builder": {"systems": [system], "build_timeout_seconds": 120, "kill_grace_seconds": 2, "sandbox": sandbox},
        "log_storage": {"path": str(root / "build-logs")},
        "logapi": {"listen": f"127.0.0.1:{ports.logapi}"},
        "stats": {"listen": f"127.0.0.1:{ports.stats}"},
    }
