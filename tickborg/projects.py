"""Which configured projects a set of changed files touches (SPEC §8).

A file belongs to the project whose `path` is a directory prefix of it:
`libfoo/src/a.c` is in `libfoo`, `libfoo2/x` is not. When project paths nest
(`libs` and `libs/foo`), the deepest one owns the file, so a change inside
`libs/foo` builds `libs/foo` only.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from tickborg.config import Project


def contains(project_path: str, file_path: str) -> bool:
    """Whether `file_path` lies inside the directory `project_path` (directory boundary)."""
    return file_path == project_path or file_path.startswith(project_path + "/")


def project_of(file_path: str, projects: Sequence[Project]) -> Project | None:
    """The project owning a repository-relative file path, or None for files outside every project."""
    owners = [p for p in projects if contains(p.path, file_path.strip("/"))]
    return max(owners, key=lambda p: len(p.path), default=None)


def touched_projects(file_paths: Iterable[str], projects: Sequence[Project]) -> tuple[str, ...]:
    """Names of the projects owning any of the files, in configuration order.

    Configuration order, not file order, so the same change always yields the
    same job (and the same check-run names).
    """
    owners = {owner.name for path in file_paths if (owner := project_of(path, projects)) is not None}
    return tuple(p.name for p in projects if p.name in owners)
