"""Which projects a pull request touches and which labels it gets (SPEC §8).

- `project: {name}` for each project a changed file is in, or a commit
  message's scope names (`feat(libfoo): …`, `libfoo: …`), or a whole word of
  the title names;
- `scope: ci` for `.github/` and `ci/`, `scope: docs` for `docs/` and `*.md`,
  `scope: root` for any other file at the top level;
- `platform: macos` for the title words `darwin`/`macos`, `platform: windows`
  for `windows`.

Commit scopes also add their projects to the builds; title words only label.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import attrs

from tickborg.config import Project
from tickborg.projects import contains, touched_projects

SCOPE_CI = "scope: ci"
SCOPE_DOCS = "scope: docs"
SCOPE_ROOT = "scope: root"
PLATFORM_WORDS = {"darwin": "platform: macos", "macos": "platform: macos", "windows": "platform: windows"}

# A subject's scope: `type(scope): …` (`!` for breaking changes), or a bare `scope: …`.
_SUBJECT_SCOPE = re.compile(r"^\s*(?:[A-Za-z]+\((?P<scopes>[^()]+)\)!?|(?P<prefix>[^\s:()]+)):\s")


def project_label(name: str) -> str:
    return f"project: {name}"


@attrs.frozen
class Evaluation:
    """What a pull request's changes amount to."""

    projects: tuple[str, ...]  # to build, in configuration order
    labels: tuple[str, ...]


def evaluate_changes(files: Sequence[str], title: str, messages: Iterable[str], projects: Sequence[Project]) -> Evaluation:
    by_name = {p.name: p for p in projects}
    scoped = {name for message in messages for name in commit_scopes(message) if name in by_name}
    touched = set(touched_projects(files, projects)) | scoped
    to_build = tuple(p.name for p in projects if p.name in touched)
    named = title_projects(title, projects)
    labelled = [p.name for p in projects if p.name in touched or p.name in named]
    labels = [*map(project_label, labelled), *scope_labels(files), *platform_labels(title)]
    return Evaluation(to_build, tuple(dict.fromkeys(labels)))


def commit_scopes(message: str) -> tuple[str, ...]:
    """The scopes a commit's subject line names (`feat(a,b): …` → a, b; `a: …` → a)."""
    subject = message.strip().split("\n", 1)[0]
    match = _SUBJECT_SCOPE.match(subject)
    if match is None:
        return ()
    if match["prefix"] is not None:
        return (match["prefix"],)
    return tuple(scope.strip() for scope in match["scopes"].split(",") if scope.strip())


def title_projects(title: str, projects: Sequence[Project]) -> set[str]:
    """Projects the title names as a whole word: `libfoo` in "Fix libfoo." but not in
    "libfoo2", "my-libfoo" or "libfoo.c"."""
    return {p.name for p in projects if _whole_word(p.name).search(title)}


def _whole_word(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w-]|\.\w)", re.IGNORECASE)


def scope_labels(files: Iterable[str]) -> list[str]:
    found = set()
    for path in files:
        if contains(".github", path) or contains("ci", path):
            found.add(SCOPE_CI)
        elif contains("docs", path) or path.lower().endswith(".md"):
            found.add(SCOPE_DOCS)
        elif "/" not in path:
            found.add(SCOPE_ROOT)
    return sorted(found)


def platform_labels(title: str) -> list[str]:
    words = {word.casefold() for word in re.findall(r"\w+", title)}
    return sorted({label for word, label in PLATFORM_WORDS.items() if word in words})
