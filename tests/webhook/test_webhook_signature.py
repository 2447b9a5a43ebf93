"""The signature check alone: GitHub's documented example, and every way it can fail."""

import hashlib
import hmac

import pytest

from tickborg.webhook.signature import Verdict, check, sign

# The example from GitHub's "Validating webhook deliveries" documentation.
DOC_SECRET = b"It's a Secret to Everybody"
DOC_BODY = b"Hello, World!"
DOC_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_sign_matches_githubs_documented_example() -> None:
    assert sign(DOC_SECRET, DOC_BODY) == DOC_SIGNATURE


def test_a_correct_signature_is_valid() -> None:
    assert check(DOC_SECRET, DOC_BODY, DOC_SIGNATURE) is Verdict.VALID


def test_upper_case_hex_and_surrounding_space_are_accepted() -> None:
    header = "  sha256=" + DOC_SIGNATURE.removeprefix("sha256=").upper() + " "
    assert check(DOC_SECRET, DOC_BODY, header) is Verdict.VALID


@pytest.mark.parametrize(
    ("header", "verdict"),
    [
        (None, Verdict.MISSING),
        ("", Verdict.MISSING),
        ("sha1=" + hmac.new(DOC_SECRET, DOC_BODY, hashlib.sha1).hexdigest(), Verdict.UNSUPPORTED_ALGORITHM),
        ("sha512=" + hmac.new(DOC_SECRET, DOC_BODY, hashlib.sha512).hexdigest(), Verdict.UNSUPPORTED_ALGORITHM),
        (DOC_SIGNATURE.removeprefix("sha256="), Verdict.UNSUPPORTED_ALGORITHM),
        ("sha256=" + "zz" * 32, Verdict.BAD_HEX),
        ("sha256=abc", Verdict.BAD_HEX),
        ("sha256=" + "00" * 31, Verdict.BAD_HEX),
        ("sha256=" + "00" * 33, Verdict.BAD_HEX),
        ("sha256=" + "00" * 32, Verdict.MISMATCH),
    ],
)
def test_bad_signatures(header: str | None, verdict: Verdict) -> None:
    assert check(DOC_SECRET, DOC_BODY, header) is verdict


def test_another_secret_or_body_mismatches() -> None:
    assert check(b"other secret", DOC_BODY, DOC_SIGNATURE) is Verdict.MISMATCH
    assert check(DOC_SECRET, DOC_BODY + b" ", DOC_SIGNATURE) is Verdict.MISMATCH
