"""What the collector wrote since its last sync, made durable in one go before the acks.

A line is acked only once it would survive a power loss: its file's data is
synced, and so is the directory of a file or directory made new. Syncing per
acked batch rather than per line keeps the rate: one sync per file touched.
"""

from __future__ import annotations

import os

import attrs


@attrs.define
class Unsynced:
    """Paths to sync, each once however often it was written."""

    files: set[str] = attrs.field(factory=set)
    directories: set[str] = attrs.field(factory=set)

    def wrote(self, path: str) -> None:
        self.files.add(path)

    def created(self, path: str) -> None:
        """A new name in a directory: the directory's entry must be synced too."""
        self.files.add(path)
        self.directories.add(os.path.dirname(path))

    def removed(self, path: str) -> None:
        self.directories.add(os.path.dirname(path))

    def makedirs(self, path: str) -> None:
        """`os.makedirs(path, exist_ok=True)`, each directory it made new to be synced in its parent."""
        missing = []
        while not os.path.isdir(path):
            missing.append(path)
            path = os.path.dirname(path)
        for directory in reversed(missing):
            try:
                os.mkdir(directory)
            except FileExistsError:  # another collector made it meanwhile
                pass
            self.directories.add(os.path.dirname(directory))

    def sync(self) -> int:
        """Sync everything written since the last call (files before the directories
        naming them); how many paths were synced. An OSError leaves them to sync again."""
        done = 0
        for paths, sync in ((self.files, os.fdatasync), (self.directories, os.fsync)):
            for path in sorted(paths):
                try:
                    fd = os.open(path, os.O_RDONLY)
                except FileNotFoundError:
                    continue  # removed since: what it held is elsewhere now (a parked line placed)
                try:
                    sync(fd)
                finally:
                    os.close(fd)
                done += 1
        self.files.clear()
        self.directories.clear()
        return done
