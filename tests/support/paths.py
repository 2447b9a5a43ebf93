"""Paths for tests: the repository and the fixtures it carries (see tests/fixtures/README.md)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
WEBHOOKS = FIXTURES / "github" / "webhooks"
WIRE = FIXTURES / "wire"

__all__ = ["FIXTURES", "REPO", "WEBHOOKS", "WIRE"]
