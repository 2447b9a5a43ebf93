"""The `@tickbot` comment grammar (SPEC §5).

    @tickbot build <project>...
    @tickbot test <project>...
    @tickbot eval

A mention is a whole whitespace-separated token equal to `@{mention}`, in any
case. So `foo@tickbot`, `x@tickbot.org` and `@tickbot:` are not mentions: an
e-mail address or a word that merely contains the name never starts a
command. A mention may appear anywhere on any line and a line may hold several;
each command runs from its mention to the next mention or the end of the line.
Words before the first mention of a line are prose and ignored; words after a
build/test verb are project names, exact and case-sensitive, which the caller
checks against the project registry (`split_known`).

A comment's commands are then taken together (`request`): every project named
by a `build` or `test` among its first `max_commands` commands, unknown names
dropped, each once. `test` runs the same build (a project's tests are part of
its build), so `build X` and `test X` ask for one build of X, and one comment
asks for at most one build of each project however often it names it.

Lines quoted with `>` are skipped: replying to a comment quotes its commands,
and a quote must not start the same builds again.

Not commands (ignored): an unknown verb, `build`/`test` without a project.
"""

from __future__ import annotations

from typing import Collection, Iterable, Iterator, Sequence, Union

import attrs

DEFAULT_MENTION = "tickbot"


@attrs.frozen
class Build:
    """Build these projects; with `test`, also run their tests."""

    projects: tuple[str, ...]
    test: bool = False


@attrs.frozen
class Eval:
    """Evaluate the pull request again."""


Command = Union[Build, Eval]


def parse(comment: str, mention: str = DEFAULT_MENTION) -> tuple[Command, ...]:
    """The commands in a comment, in order; a command repeated verbatim counts once."""
    commands = (
        _command(words)
        for line in comment.splitlines()
        if not line.lstrip().startswith(">")
        for words in _after_mentions(line.split(), f"@{mention}".casefold())
    )
    return tuple(dict.fromkeys(c for c in commands if c is not None))


def _after_mentions(tokens: list[str], mention: str) -> Iterator[list[str]]:
    """The words following each mention on a line, up to the next mention."""
    words: list[str] | None = None
    for token in tokens:
        if token.casefold() == mention:
            if words is not None:
                yield words
            words = []
        elif words is not None:
            words.append(token)
    if words is not None:
        yield words


def _command(words: list[str]) -> Command | None:
    if not words:
        return None
    verb = words[0].casefold()
    projects = tuple(dict.fromkeys(words[1:]))
    if verb == "eval":
        return Eval()
    if verb in ("build", "test") and projects:
        return Build(projects, test=verb == "test")
    return None


def split_known(names: Iterable[str], registry: Collection[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(known, unknown) names, each in the given order; a name is known only by exact match."""
    known: list[str] = []
    unknown: list[str] = []
    for name in names:
        (known if name in registry else unknown).append(name)
    return tuple(known), tuple(unknown)


@attrs.frozen
class Request:
    """What a comment's commands ask for, taken together."""

    # Known projects to build, each once, in the order first named.
    projects: tuple[str, ...] = ()
    evaluate: bool = False
    # Names dropped for not being projects, each once.
    unknown: tuple[str, ...] = ()
    # Commands beyond the cap, not looked at.
    ignored: int = 0


def request(commands: Sequence[Command], registry: Collection[str], max_commands: int) -> Request:
    """The first `max_commands` commands taken together; a name is known only by exact match."""
    taken = commands[:max_commands]
    named = dict.fromkeys(name for command in taken if isinstance(command, Build) for name in command.projects)
    known, unknown = split_known(named, registry)
    return Request(known, any(isinstance(command, Eval) for command in taken), unknown, len(commands) - len(taken))
