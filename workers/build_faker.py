"""`tickborg build-faker`: publish BuildJobs by hand, for development."""

from __future__ import annotations

from tickborg.tools.build_faker import main

__all__ = ["main"]
