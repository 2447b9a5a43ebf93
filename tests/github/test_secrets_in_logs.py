"""No token, JWT or private key reaches a log line or an exception text."""

from __future__ import annotations

import pytest

from tickborg.fakegithub import faults
from tickborg.fakegithub.testing import TEST_INSTALLATION, TEST_REPO
from tickborg.github.errors import CommitStatusError, ExpiredCreds, InternalError
from tickborg.logsetup import configure_logging, get_logger

SHA = "a" * 40


@pytest.fixture
def logging_to_stderr():
    """Configure as a worker process does; capsys then holds stderr."""
    yield lambda json_lines: configure_logging(json_lines=json_lines, level="debug")
    configure_logging()  # back to the test session's set-up, not structlog's defaults (stdout)


def post_status(client):
    client.create_status(TEST_REPO, SHA, "pending", "tickborg-eval", "Starting")


@pytest.mark.parametrize("json_lines", [False, True])
def test_token_refresh_and_failing_calls_log_no_secret(
    json_lines, logging_to_stderr, fake_github_factory, client_for, clock, capsys, github_app_key
):
    logging_to_stderr(json_lines)
    worker_log = get_logger("test.worker")
    fake = fake_github_factory(clock=clock, token_lifetime=60)
    fake.state.add_repo(TEST_REPO, installation_id=TEST_INSTALLATION)
    fake.state.add_commits(TEST_REPO, SHA)
    client = client_for(fake, renew_margin=10)
    errors: list[CommitStatusError] = []

    post_status(client)  # installation lookup and first token
    clock.advance(55)
    post_status(client)  # renewal
    fake.fail(faults.bad_credentials(), path=r".*/statuses/.*")
    post_status(client)  # refused token dropped, new one, retry
    for fault in (faults.error(403, "Resource not accessible by integration"), faults.drop_connection()):
        fake.fail(fault, path=r".*/statuses/.*")
        with pytest.raises(CommitStatusError) as raised:
            post_status(client)
        errors.append(raised.value)
    clock.advance(55)
    fake.fail(faults.bad_credentials(), path=r".*/access_tokens")  # the App JWT refused
    with pytest.raises(ExpiredCreds) as raised:
        post_status(client)
    errors.append(raised.value)
    for error in errors:  # as a worker logs what it could not do
        worker_log.warning("job failed", error=str(error), detail=repr(error))
        try:
            raise error
        except CommitStatusError:
            worker_log.exception("with traceback")

    captured = capsys.readouterr()
    text = captured.err + captured.out
    # The log saw the whole story...
    assert text.count("github installation token issued") == 3
    assert "github installation token dropped" in text
    assert "github token refused, retrying once" in text
    assert text.count("github call failed") == 3
    assert isinstance(errors[1], InternalError)
    # ...and none of the secrets.
    tokens = [token.value for token in fake.state.issued_tokens()]
    assert len(tokens) == 3
    pem_lines = [line for line in github_app_key.private_pem.splitlines() if "-----" not in line]
    for secret in tokens + pem_lines:
        assert secret not in text
    assert "eyJ" not in text  # how every JWT starts
    assert "PRIVATE KEY" not in text
    # Exception texts carry no request headers at all (tracebacks above show
    # source lines that name them, so the words are checked here only).
    for error in errors:
        for marker in (*tokens, "eyJ", "Bearer", "Authorization"):
            assert marker not in f"{error} {error!r}"
