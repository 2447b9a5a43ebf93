"""The checkout tests' world: a real local origin with a small monorepo, and the checkouts."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.gitrepo import Origin

from tickborg.checkout import Checkouts

BASE_FILES = {"libfoo/foo.c": "int foo;\n", "libbar/bar.c": "int bar;\n", "README.md": "monorepo\n"}


@pytest.fixture
def origin(tmp_path: Path) -> Origin:
    origin = Origin(tmp_path)
    origin.commit("main", BASE_FILES, "initial")
    return origin


@pytest.fixture
def checkouts(tmp_path: Path) -> Checkouts:
    return Checkouts(tmp_path / "checkouts", git_timeout_seconds=60)
