"""`tickborg github-webhook-receiver --config PATH`: GitHub webhooks onto `github-events` (SPEC §7)."""

from __future__ import annotations

import sys
from typing import Sequence

from tickborg.process import checked, start
from tickborg.webhook.receiver import NAME, build, run


def main(argv: Sequence[str] | None = None) -> int:
    config, _ = start(NAME, argv)
    receiver = checked(lambda: build(config))
    return run(receiver)


if __name__ == "__main__":
    sys.exit(main())
