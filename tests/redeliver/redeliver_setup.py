"""What the redelivery tests' `setup` fixture makes (a helper module: conftest is not importable by name)."""

from __future__ import annotations

from pathlib import Path

import attrs

from tickborg.config import Config


@attrs.frozen
class Setup:
    path: Path
    config: Config
    hook_url: str  # where the receiver listens once started: nothing listens before
