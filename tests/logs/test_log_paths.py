"""Which log keys and attempt ids may name files: the pure checks both collector and logapi use."""

from __future__ import annotations

from pathlib import Path

import pytest

from tickborg.logs.layout import Layout
from tickborg.logs.paths import InvalidPath, LogKey, check_attempt_id


@pytest.mark.parametrize(
    "key",
    [
        "tick-org/monorepo.42",
        "tick-org/monorepo.push.main",  # three segments
        "acme/site.github.io.7",  # dots in the repository name
        "acme/.github.3",  # a repository may start with a dot
        "acme/monorepo.push.release-1.2",
    ],
)
def test_legal_keys_parse(key: str) -> None:
    assert LogKey.parse(key).text == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "no-slash.42",
        "/etc/passwd",  # absolute
        "acme/../etc",  # a second separator
        "../acme.1",
        "acme/..",
        "acme/.",
        "../x",
        "acme/sub/dir.1",
        "acme\\evil.1",  # a backslash separator
        "acme/evil\\..\\x",
        "acme/x\x00.1",  # NUL
        "acme/x\n.1",  # control characters
        "acme/",
        "/repo.1",
        "acme/" + "r" * 300,  # longer than a file name may be
    ],
)
def test_bad_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidPath):
        LogKey.parse(key)


@pytest.mark.parametrize("attempt_id", ["0f8fad5b-d9cb-469f-a165-70867728950e", "a", "attempt_2.retry"])
def test_legal_attempt_ids(attempt_id: str) -> None:
    assert check_attempt_id(attempt_id) == attempt_id


@pytest.mark.parametrize(
    "attempt_id",
    [
        "",
        "..",
        ".",
        ".hidden",  # the collector's own files are hidden
        "a/b",
        "/abs",
        "a\\b",
        "a\x00b",
        "x.metadata.json",  # would be another attempt's metadata
        "x.result.json",
        "a" * 201,
        "späte",
    ],
)
def test_bad_attempt_ids_are_refused(attempt_id: str) -> None:
    with pytest.raises(InvalidPath):
        check_attempt_id(attempt_id)


def test_layout_places_an_attempt_beside_its_metadata_and_result(tmp_path: Path) -> None:
    files = Layout(tmp_path).attempt("acme/site.github.io.7", "abc")
    assert files.log == tmp_path / "acme" / "site.github.io.7" / "abc"
    assert files.metadata == tmp_path / "acme" / "site.github.io.7" / "abc.metadata.json"
    assert files.result == tmp_path / "acme" / "site.github.io.7" / "abc.result.json"
    assert files.state.parent.name == ".state"
