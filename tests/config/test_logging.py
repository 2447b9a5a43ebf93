"""Log output: human or JSON lines, level from the environment, secrets redacted."""

from __future__ import annotations

import json
import logging

import pytest

from tickborg.logsetup import REDACTED, configure_logging, get_logger, redact_text

TOKEN = "ghs_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxMjM0NSJ9.c2lnbmF0dXJlLWJ5dGVz"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"


def test_json_lines_carry_bound_context(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json_lines=True, level="info")
    get_logger("t", worker="evaluation-filter").info("hello", repo="tick-org/monorepo", pr=17)
    line = json.loads(capsys.readouterr().err)
    assert line["event"] == "hello" and line["worker"] == "evaluation-filter" and line["pr"] == 17
    assert line["level"] == "info" and "timestamp" in line


def test_level_comes_from_the_environment(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKBORG_LOG", "warning")
    configure_logging(json_lines=False)
    log = get_logger("t")
    log.info("quiet")
    log.warning("loud")
    err = capsys.readouterr().err
    assert "loud" in err and "quiet" not in err


def test_secrets_are_redacted_by_key_and_by_shape(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json_lines=True, level="debug")
    get_logger("t").error(
        f"call failed with token {TOKEN}",
        token="anything",
        headers={"Authorization": f"Bearer {JWT}", "Accept": "json"},
        detail=f"jwt {JWT} and key {PEM}",
    )
    err = capsys.readouterr().err
    for secret in (TOKEN, JWT, "MIIEow", "anything"):
        assert secret not in err
    line = json.loads(err)
    assert line["token"] == REDACTED and line["headers"]["Accept"] == "json"


def test_tracebacks_are_redacted_too(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json_lines=True, level="info")
    try:
        raise RuntimeError(f"boom {TOKEN}")
    except RuntimeError:
        get_logger("t").exception("failed")
    assert TOKEN not in capsys.readouterr().err


def test_library_logs_get_the_same_format_and_redaction(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json_lines=True, level="info")
    logging.getLogger("pika.adapters").warning("lost connection, token %s", TOKEN)
    logging.getLogger("pika.adapters").info("chatter")
    [line] = capsys.readouterr().err.splitlines()
    record = json.loads(line)
    assert record["logger"] == "pika.adapters" and record["level"] == "warning"
    assert TOKEN not in line


def test_plain_text_is_left_alone() -> None:
    assert redact_text("built libfoo in 3 s") == "built libfoo in 3 s"
