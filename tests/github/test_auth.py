"""GitHub App authentication against the fake GitHub: JWTs, installations, token lifecycle."""

from __future__ import annotations

import pytest

from tickborg.fakegithub import generate_app_key
from tickborg.fakegithub.faults import bad_credentials
from tickborg.config import Secret
from tickborg.fakegithub.testing import TEST_APP_ID, TEST_INSTALLATION, TEST_REPO
from tickborg.github.auth import JWT_BACKDATE_SECONDS, app_jwt_claims
from tickborg.github.errors import Error, ExpiredCreds

SHA = "a" * 40
STATUSES = r"/repos/.*/statuses/.*"


def post_status(client, repo=TEST_REPO):
    client.create_status(repo, SHA, "pending", "tickborg-eval", "Starting")


def test_jwt_claims_follow_githubs_rules():
    claims = app_jwt_claims(TEST_APP_ID, 1_000_000.5)
    assert claims["iat"] == 1_000_000 - JWT_BACKDATE_SECONDS
    assert 1_000_000 < claims["exp"] <= 1_000_000 + 600
    assert claims["iss"] == str(TEST_APP_ID)


def test_one_token_is_reused_while_fresh_and_renewed_before_it_expires(
    fake_github_factory, clock, client_for
):
    fake = fake_github_factory(clock=clock, token_lifetime=60)
    fake.state.add_repo(TEST_REPO, installation_id=TEST_INSTALLATION)
    fake.state.add_commits(TEST_REPO, SHA)
    client = client_for(fake, renew_margin=10)

    post_status(client)
    clock.advance(30)
    post_status(client)
    assert len(fake.state.issued_tokens()) == 1

    clock.advance(21)  # 9 s left: inside the 10 s margin, not yet expired
    post_status(client)
    first, second = fake.state.issued_tokens()
    assert second.expires_at - first.expires_at == 51
    assert [c.status for c in fake.calls_to("POST", "access_tokens")] == [201, 201]
    # No call was ever refused: the old token was replaced before GitHub would refuse it.
    assert all(c.status in (200, 201) for c in fake.calls)
    assert len(fake.state.statuses(TEST_REPO, SHA)) == 3


def test_installation_is_looked_up_once_per_repository(timed_fake, client_for):
    client = client_for(timed_fake)
    for _ in range(3):
        post_status(client)
    assert len(timed_fake.calls_to("GET", "/installation")) == 1
    assert len(timed_fake.state.issued_tokens()) == 1


def test_a_401_gives_exactly_one_new_token_and_the_retry_succeeds(timed_fake, client_for):
    client = client_for(timed_fake)
    post_status(client)
    timed_fake.fail(bad_credentials(), method="POST", path=STATUSES)

    post_status(client)

    assert [c.status for c in timed_fake.calls_to("POST", SHA)] == [201, 401, 201]
    assert len(timed_fake.state.issued_tokens(TEST_INSTALLATION)) == 2
    assert len(timed_fake.state.statuses(TEST_REPO, SHA)) == 2


def test_a_second_401_is_raised_not_retried_again(timed_fake, client_for):
    client = client_for(timed_fake)
    timed_fake.fail(bad_credentials(), method="POST", path=STATUSES, times=None)

    with pytest.raises(ExpiredCreds):
        post_status(client)

    assert [c.status for c in timed_fake.calls_to("POST", SHA)] == [401, 401]
    assert len(timed_fake.state.issued_tokens()) == 2


def test_a_token_expired_on_githubs_side_is_replaced(fake_github_factory, clock, client_for):
    fake = fake_github_factory(clock=clock, token_lifetime=60)
    fake.state.add_repo(TEST_REPO, installation_id=TEST_INSTALLATION)
    fake.state.add_commits(TEST_REPO, SHA)
    # A negative margin: the client keeps the token past its expiry, as with a skewed clock.
    client = client_for(fake, renew_margin=-30)
    post_status(client)
    clock.advance(75)

    post_status(client)

    assert [c.status for c in fake.calls_to("POST", SHA)] == [201, 401, 201]
    assert len(fake.state.issued_tokens()) == 2


def test_two_repositories_on_two_installations_get_two_tokens(timed_fake, client_for):
    other = "other-org/tools"
    timed_fake.state.add_repo(other, installation_id=88)
    timed_fake.state.add_commits(other, SHA)
    client = client_for(timed_fake)

    for _ in range(2):
        post_status(client, TEST_REPO)
        post_status(client, other)

    assert [t.installation_id for t in timed_fake.state.issued_tokens()] == [TEST_INSTALLATION, 88]
    by_repo = {c.path.split("/statuses")[0]: c.installation_id for c in timed_fake.calls_to("POST", SHA)}
    assert by_repo == {f"/repos/{TEST_REPO}": TEST_INSTALLATION, f"/repos/{other}": 88}


def test_the_configured_installation_id_skips_the_lookup(timed_fake, client_for):
    client = client_for(timed_fake, installation_id=TEST_INSTALLATION)
    post_status(client)
    assert timed_fake.calls_to("GET", "/installation") == []
    assert len(timed_fake.state.issued_tokens(TEST_INSTALLATION)) == 1


def test_a_jwt_signed_with_another_key_is_refused(timed_fake, client_for):
    client = client_for(timed_fake, private_key=Secret(generate_app_key().private_pem))

    with pytest.raises(ExpiredCreds, match="401 Bad credentials"):
        post_status(client)
    assert [c.auth for c in timed_fake.calls] == ["refused"]


def test_a_repository_the_app_is_not_installed_on_is_an_error(timed_fake, client_for):
    client = client_for(timed_fake)
    with pytest.raises(Error) as raised:
        post_status(client, "stranger/repo")
    assert raised.value.status == 404

