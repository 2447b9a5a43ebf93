"""`tickborg redeliver-webhooks`: get failed webhook deliveries redelivered."""

from __future__ import annotations

from tickborg.tools.redeliver import main

__all__ = ["main"]
