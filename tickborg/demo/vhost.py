"""The demo's own RabbitMQ virtual host on the local node, made and removed with rabbitmqctl."""

from __future__ import annotations

import os
import subprocess


class BrokerSetupFailed(Exception):
    """rabbitmqctl failed or could not run."""


def _rabbitmqctl(*args: str) -> str:
    # rabbitmqctl needs the node's Erlang cookie, which only root (and the rabbitmq user) can read.
    command = ["rabbitmqctl", "-q", *args]
    if os.geteuid() != 0:
        command = ["sudo", "-n", *command]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BrokerSetupFailed(f"{' '.join(command)}: {exc}") from None
    if done.returncode != 0:
        raise BrokerSetupFailed(f"{' '.join(command)} failed: {(done.stdout + done.stderr).strip()}")
    return done.stdout


def add_vhost(name: str, user: str) -> None:
    _rabbitmqctl("add_vhost", name)
    _rabbitmqctl("set_permissions", "-p", name, user, ".*", ".*", ".*")


def delete_vhost(name: str) -> None:
    """Remove the vhost and everything in it (its queues, their messages)."""
    _rabbitmqctl("delete_vhost", name)


def rabbitmq_version() -> str:
    """The version of the RabbitMQ installed here (its CLI tools ship with the server)."""
    return _rabbitmqctl("version").strip()
