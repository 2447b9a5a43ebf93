"""The docs say what the code does: policy tables, and no reference outside the repository."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import typing
from pathlib import Path
from typing import Any

import attrs
import pytest

from tickborg import config
from tickborg.cli import COMMANDS

from support.paths import REPO

DOCS = REPO / "docs"
# A policy section's heading names the table in code: "## name (`module.POLICY`)".
POLICY_HEADING = re.compile(r"^## .*\(`(?P<module>[\w.]+)\.POLICY`\)$", re.MULTILINE)


def documented_policies() -> dict[str, dict[str, str]]:
    """module -> {case: verdict} from the tables of docs/ack-policies.md."""
    text = (DOCS / "ack-policies.md").read_text(encoding="utf-8")
    headings = list(POLICY_HEADING.finditer(text))
    tables = {}
    for heading, following in zip(headings, [*headings[1:], None]):
        section = text[heading.end() : following.start() if following else len(text)]
        rows = re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", section, re.MULTILINE)
        tables[heading["module"]] = dict(rows)
    return tables


def test_every_policy_table_is_documented() -> None:
    documented = documented_policies()
    assert set(documented) == {
        "tickborg.filters.evaluation",
        "tickborg.filters.comment",
        "tickborg.filters.push",
        "tickborg.filters.rerun",
        "tickborg.reporter.policy",
        "tickborg.evaluator.policy",
        "tickborg.builder.policy",
        "tickborg.stats.policy",
        "tickborg.logs.collector",
    }


@pytest.mark.parametrize("module", sorted(documented_policies()))
def test_documented_policy_matches_the_code(module: str) -> None:
    policy = importlib.import_module(module).POLICY
    in_code = {case.name.lower(): verdict.value for case, verdict in policy.items()}
    assert documented_policies()[module] == in_code


def test_no_file_refers_outside_the_repository() -> None:
    """A user's clone has nothing beside it: no file may reach for the spec folder next door."""
    outside = "../" + "shared"  # split so this file does not match itself
    tracked = subprocess.run(
        ["git", "grep", "-n", "-I", "-F", outside], cwd=REPO, capture_output=True, text=True
    )
    assert tracked.returncode == 1, f"files refer to {outside}:\n{tracked.stdout}"


# --------------------------------------------------------------------------
# docs/configuration.md: one row per key, checked against tickborg/config.py.

KEY_TABLE_HEADER = "| key | type | default | notes |"
KEY_ROW = re.compile(r"^\| `(?P<key>[\w.\[\]]+)` \| [^|]* \| (?P<default>[^|]+?) \|")
# Config fields that are not keys of the file.
NOT_KEYS = {"source"}  # the path given by --config


def documented_keys() -> dict[str, str]:
    """key -> default cell, from every table with the key-table header."""
    keys: dict[str, str] = {}
    in_table = False
    for line in (DOCS / "configuration.md").read_text(encoding="utf-8").splitlines():
        if line.strip() == KEY_TABLE_HEADER:
            in_table = True
        elif in_table and line.startswith("|"):
            row = KEY_ROW.match(line)
            if row:
                assert row["key"] not in keys, f"{row['key']} is documented twice"
                keys[row["key"]] = row["default"].strip()
        else:
            in_table = False
    return keys


def _section_class(hint: Any) -> type | None:
    """The config class a field holds (itself, optional or a tuple of them), if any."""
    for candidate in (hint, *typing.get_args(hint)):
        if attrs.has(candidate) and candidate not in (config.Secret, config.ListenAddress, config.BrokerNode):
            return candidate
    return None


def code_keys(cls: type = config.Config, prefix: str = "") -> dict[str, attrs.Attribute]:
    """Documented key -> attrs field, walking Config's sections (a Secret is read from `KEY_file`)."""
    hints = typing.get_type_hints(cls)
    keys: dict[str, attrs.Attribute] = {}
    for field in attrs.fields(cls):
        if not prefix and field.name in NOT_KEYS:
            continue
        hint = hints[field.name]
        section = _section_class(hint)
        if section is not None:
            brackets = "[]" if typing.get_origin(hint) is tuple else ""
            keys.update(code_keys(section, f"{prefix}{field.name}{brackets}."))
        elif hint is config.Secret:
            keys[f"{prefix}{field.name}_file"] = field
        else:
            keys[f"{prefix}{field.name}"] = field
    return keys


def field_for(key: str) -> attrs.Attribute | None:
    """The attrs field a documented key sets: `password_file` and the inline `password` both set `password`."""
    keys = code_keys()
    return keys.get(key) or keys.get(f"{key}_file")


def minimal_config(tmp_path: Path) -> dict[str, Any]:
    """Every section, with only its required keys: what is left out takes its default."""
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n", encoding="utf-8")
    secret.chmod(0o600)
    return {
        "identity": "node-1",
        "rabbitmq": {},
        "systems": {},
        "github_app": {"app_id": 1, "private_key_file": str(secret)},
        "projects": [{"name": "libfoo", "path": "libfoo", "build_system": "make"}],
        "github_webhook_receiver": {"listen": "127.0.0.1:9899", "webhook_secret_file": str(secret)},
        "github_comment_filter": {},
        "checkout": {"root": str(tmp_path / "checkout")},
        "builder": {"systems": ["x86_64-linux"]},
        "log_storage": {"path": str(tmp_path / "logs")},
        "logapi": {"listen": "127.0.0.1:9898"},
        "stats": {"listen": "127.0.0.1:9090"},
    }


def _path(key: str) -> list[str | int]:
    """`projects[].name` -> ["projects", 0, "name"]: where the key sits in the JSON."""
    steps: list[str | int] = []
    for part in key.split("."):
        if part.endswith("[]"):
            steps += [part[:-2], 0]
        else:
            steps.append(part)
    return steps


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = _path(key)
    for step in parents:
        data = data[step] if isinstance(step, int) else data.setdefault(step, {})  # a sub-section, e.g. builder.limits
    data[last] = value


def _value(parsed: Any, key: str) -> Any:
    """The parsed value a key sets, as JSON would write it."""
    *parents, _ = _path(key)
    for step in parents:
        parsed = parsed[step] if isinstance(step, int) else getattr(parsed, step)
    return _as_json(getattr(parsed, field_for(key).name))


def _as_json(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_as_json(item) for item in value]
    if isinstance(value, config.Secret):
        return value.value
    if isinstance(value, (Path, config.BrokerNode)):
        return str(value)
    return value


def test_every_config_field_is_documented() -> None:
    assert set(code_keys()) - set(documented_keys()) == set()


def test_every_documented_key_is_a_config_field() -> None:
    assert [key for key in documented_keys() if field_for(key) is None] == []


@pytest.mark.parametrize("key", sorted(documented_keys()))
def test_the_parser_reads_every_documented_key(key: str, tmp_path: Path) -> None:
    """A wrong value under the documented name is refused naming it: the JSON name is the code's."""
    data = minimal_config(tmp_path)
    _set(data, key, {"not": "a value of any key"})
    with pytest.raises(config.ConfigError) as refused:
        config.parse_config(data)
    assert refused.value.key == key.replace("[]", "[0]")


@pytest.mark.parametrize("key", sorted(documented_keys()))
def test_documented_default_is_the_codes(key: str, tmp_path: Path) -> None:
    default = documented_keys()[key]
    data = minimal_config(tmp_path)
    if default == "required":
        *parents, last = _path(key)
        section = data
        for step in parents:
            section = section[step]
        del section[last]
        with pytest.raises(config.ConfigError, match="missing") as refused:
            config.parse_config(data)
        assert refused.value.key == key.replace("[]", "[0]")
        return
    if default == "—":  # no one value: the notes say; it must be optional
        config.parse_config(data)
        return
    assert default.startswith("`") and default.endswith("`"), f"{key}: default {default!r} is not `JSON`"
    documented = json.loads(default[1:-1])
    assert _value(config.parse_config(data), key) == documented
    field = field_for(key)
    if field.default is not attrs.NOTHING:
        assert _as_json(field.default) == documented


def test_process_sections_are_documented() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    documented: dict[str, set[str]] = {}
    for processes, sections in re.findall(r"^\| (`[\w-]+`(?:, `[\w-]+`)*) \| (`\w+`.*) \|$", text, re.MULTILINE):
        for process in re.findall(r"`([\w-]+)`", processes):
            documented[process] = set(re.findall(r"`(\w+)`", sections.split("(")[0]))
    assert documented == {name: set(sections) for name, sections in config.PROCESS_SECTIONS.items()}


def test_every_command_is_in_the_architecture() -> None:
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    assert [name for name in COMMANDS if f"| `{name}` |" not in text] == []
