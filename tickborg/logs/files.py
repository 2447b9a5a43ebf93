"""Small file operations the collector's writes are made of."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Logs are for reading: logapi may run as another user (mkstemp alone gives 0600).
FILE_MODE = 0o644


def write_atomically(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never a part (a hidden temporary, renamed)."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

