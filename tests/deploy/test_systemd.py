"""The systemd units: accepted by systemd-analyze, and instances map to processes."""

from __future__ import annotations

import configparser
import json
import shlex
import subprocess
from pathlib import Path

import pytest

from support.config import base_config_data
from support.paths import REPO
from tickborg.config import load_config

UNITS = REPO / "systemd"


def test_systemd_analyze_verify_accepts_the_units() -> None:
    names = ("tickborg@.service", "tickborg.target", "tickborg-redeliver.service", "tickborg-redeliver.timer")
    units = [str(UNITS / name) for name in names]
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def service(name: str = "tickborg@.service") -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNITS / name)
    return parser


def test_hardening_and_restart_policy() -> None:
    unit = service()["Service"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "Restart": "always",
        "User": "tickborg",
    }.items():
        assert unit[key] == value
    assert "/var/lib/tickborg" in unit["ReadWritePaths"]
    assert unit["LoadCredential"].startswith("secrets:")
    # stop waits longer than the default graceful shutdown period (30 s)
    assert int(unit["TimeoutStopSec"]) > 30


def test_the_redelivery_pass_runs_every_five_minutes_hardened_alike() -> None:
    pass_unit, worker = service("tickborg-redeliver.service")["Service"], service()["Service"]
    assert pass_unit["Type"] == "oneshot"
    hardening = ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices",
                 "ProtectKernelTunables", "ProtectKernelModules", "ProtectControlGroups", "RestrictSUIDSGID",
                 "LockPersonality", "User", "Group", "LoadCredential", "Environment")
    assert {key: pass_unit[key] for key in hardening} == {key: worker[key] for key in hardening}
    command = pass_unit["ExecStart"].replace("/opt/tickborg/bin/tickborg", "echo")
    assert subprocess.run(shlex.split(command), capture_output=True, text=True, check=True).stdout.split() == [
        "redeliver-webhooks",
        "--config",
        "/etc/tickborg/config.json",
    ]
    assert service("tickborg-redeliver.timer")["Timer"]["OnUnitActiveSec"] == "5min"


@pytest.mark.parametrize(
    ("instance", "process"),
    [("evaluation-filter", "evaluation-filter"), ("builder:3", "builder"), ("github-comment-filter:12", "github-comment-filter")],
)
def test_instance_names_map_to_processes(instance: str, process: str) -> None:
    exec_start = service()["Service"]["ExecStart"]
    # systemd's own expansion: %i is the instance, %% and $$ are escapes
    command = exec_start.replace("%i", instance).replace("%%", "%").replace("$$", "$")
    argv = shlex.split(command.replace("/opt/tickborg/bin/tickborg", "echo"))
    assert subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split() == [
        process,
        "--config",
        "/etc/tickborg/config.json",
    ]


def test_secret_files_can_name_systemd_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "secrets_rabbitmq").write_text("from-credential\n")
    (tmp_path / "secrets_rabbitmq").chmod(0o600)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    data = base_config_data()
    data["rabbitmq"] = {"password_file": "$CREDENTIALS_DIRECTORY/secrets_rabbitmq"}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    assert load_config(path).rabbitmq.password.value == "from-credential"
