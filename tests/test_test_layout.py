"""The test tree's own rule: helper modules beside the tests have unique names.

pytest puts each test directory on sys.path and these directories are not
packages, so two helper modules of one name collide: whichever is imported
first is the one every directory gets.
"""

from __future__ import annotations

from collections import Counter

from support.paths import REPO

NOT_HELPERS = {"__init__.py", "conftest.py"}


def test_helper_module_names_are_unique() -> None:
    helpers = [
        path
        for path in (REPO / "tests").rglob("*.py")
        if path.name not in NOT_HELPERS and not path.name.startswith("test_") and "support" not in path.parts
    ]
    counts = Counter(path.name for path in helpers)
    assert [name for name, count in counts.items() if count > 1] == []
