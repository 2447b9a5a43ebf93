"""The docs say what the code does: policy tables, and no reference outside the repository."""

from __future__ import annotations

import importlib
import re
import subprocess

import pytest

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
