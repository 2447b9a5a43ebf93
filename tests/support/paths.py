"""Paths for tests: the repository, and the shared spec material beside it."""

from pathlib import Path

from tickborg.fakegithub.testing import SHARED, WEBHOOKS

REPO = Path(__file__).resolve().parents[2]
WIRE = SHARED / "spec" / "wire"

__all__ = ["REPO", "SHARED", "WEBHOOKS", "WIRE"]
