"""The `@tickbot` comment grammar (SPEC §5) and the project-registry check."""

from __future__ import annotations

import pytest

from tickborg.commands import Build, Eval, Request, parse, request, split_known


def test_single_build() -> None:
    assert parse("@tickbot build libfoo") == (Build(("libfoo",)),)


def test_build_several_projects() -> None:
    assert parse("@tickbot build libfoo app") == (Build(("libfoo", "app")),)


def test_test_command() -> None:
    assert parse("@tickbot test libfoo") == (Build(("libfoo",), test=True),)


def test_eval() -> None:
    assert parse("@tickbot eval") == (Eval(),)


def test_several_commands_per_comment() -> None:
    comment = "@tickbot build a\n@tickbot eval\n@tickbot test b c"
    assert parse(comment) == (Build(("a",)), Eval(), Build(("b", "c"), test=True))


def test_several_commands_per_line() -> None:
    assert parse("@tickbot build a @tickbot eval") == (Build(("a",)), Eval())
    assert parse("@tickbot eval @tickbot build a b @tickbot test c") == (
        Eval(),
        Build(("a", "b")),
        Build(("c",), test=True),
    )


def test_prose_around_commands_is_ignored() -> None:
    comment = (
        "Thanks, this looks good. Could you try it? @tickbot build libfoo\n"
        "\n"
        "I also noticed the target branch was broken, so:\n"
        "  @tickbot eval\n"
        "Cheers!"
    )
    assert parse(comment) == (Build(("libfoo",)), Eval())


def test_words_after_a_build_verb_are_project_names() -> None:
    # The grammar runs to the end of the line; the registry rejects "please".
    assert parse("@tickbot build libfoo please") == (Build(("libfoo", "please")),)


def test_mention_and_verb_are_case_insensitive_project_names_are_not() -> None:
    assert parse("@TickBot BUILD LibFoo") == (Build(("LibFoo",)),)
    assert parse("@TICKBOT Eval") == (Eval(),)


def test_other_mention_name() -> None:
    assert parse("@CI-Bot build a\n@ci-bot eval", mention="ci-bot") == (Build(("a",)), Eval())
    assert parse("@tickbot build a", mention="ci-bot") == ()


@pytest.mark.parametrize(
    "comment",
    [
        "foo@tickbot build libfoo",  # inside a word
        "mail x@tickbot.org build libfoo",  # e-mail address
        "@tickbot.org build libfoo",
        "@tickbot: build libfoo",
        "@tickbotx build libfoo",
        "(@tickbot build libfoo)",
    ],
)
def test_mention_must_be_a_whole_token(comment: str) -> None:
    assert parse(comment) == ()


def test_no_command() -> None:
    assert parse("") == ()
    assert parse("LGTM, merging.\nThanks!") == ()


def test_mention_alone() -> None:
    assert parse("@tickbot") == ()
    assert parse("cc @tickbot\n") == ()
    assert parse("@tickbot @tickbot eval") == (Eval(),)


def test_unknown_verbs_and_empty_builds_are_ignored() -> None:
    assert parse("@tickbot deploy prod @tickbot build") == ()
    assert parse("@tickbot test\n@tickbot please build a") == ()
    assert parse("@tickbot rebuild a @tickbot eval") == (Eval(),)


def test_mention_does_not_span_lines() -> None:
    assert parse("@tickbot\nbuild libfoo") == ()
    assert parse("@tickbot build\nlibfoo") == ()


def test_duplicate_projects_are_deduplicated_in_order() -> None:
    assert parse("@tickbot build b a b c a") == (Build(("b", "a", "c")),)


def test_repeated_command_counts_once() -> None:
    assert parse("@tickbot eval\n@tickbot eval @tickbot build a\n@tickbot build a") == (Eval(), Build(("a",)))
    # Different commands over the same projects stay distinct.
    assert parse("@tickbot build a\n@tickbot test a") == (Build(("a",)), Build(("a",), test=True))


def test_quoted_lines_are_skipped() -> None:
    comment = "> @tickbot build libfoo\nDid that work?\n>@tickbot eval"
    assert parse(comment) == ()


def test_shell_metacharacters_are_plain_tokens() -> None:
    names = ("libfoo;rm", "-rf", "$(id)", "`whoami`", "a&&b", "|", "../etc")
    assert parse("@tickbot build " + " ".join(names)) == (Build(names),)


def test_windows_line_endings_and_tabs() -> None:
    assert parse("@tickbot\tbuild a\r\n@tickbot eval\r\n") == (Build(("a",)), Eval())


# --------------------------------------------------------------------------
# The registry check.


def test_split_known() -> None:
    registry = {"libfoo", "app"}
    assert split_known(("app", "nope", "libfoo", "$(id)"), registry) == (("app", "libfoo"), ("nope", "$(id)"))


def test_split_known_is_exact() -> None:
    assert split_known(("LibFoo", "libfoo ", "libfoo/", "libfo"), {"libfoo"}) == (
        (),
        ("LibFoo", "libfoo ", "libfoo/", "libfo"),
    )


def test_split_known_nothing() -> None:
    assert split_known((), {"libfoo"}) == ((), ())


def test_parse_then_split() -> None:
    (build,) = parse("@tickbot build libfoo $(reboot) app")
    assert isinstance(build, Build)
    assert split_known(build.projects, frozenset({"libfoo", "app"})) == (("libfoo", "app"), ("$(reboot)",))


# --------------------------------------------------------------------------
# A comment's commands taken together.

REGISTRY = frozenset({"libfoo", "app"})


def test_request_takes_every_build_and_test_together() -> None:
    commands = parse("@tickbot build app nosuch\n@tickbot eval\n@tickbot test libfoo app\n@tickbot build other")
    assert request(commands, REGISTRY, 20) == Request(("app", "libfoo"), evaluate=True, unknown=("nosuch", "other"))


def test_request_names_each_project_once_however_often_it_is_asked_for() -> None:
    comment = "\n".join(f"@tickbot build libfoo x{n}" for n in range(1, 5001))
    commands = parse(comment)
    assert len(commands) == 5000
    asked = request(commands, REGISTRY, 5000)
    assert asked.projects == ("libfoo",) and len(asked.unknown) == 5000 and asked.ignored == 0


def test_request_ignores_commands_beyond_the_cap() -> None:
    commands = parse("@tickbot build nosuch\n@tickbot build libfoo\n@tickbot eval\n@tickbot build app")
    assert request(commands, REGISTRY, 2) == Request(("libfoo",), unknown=("nosuch",), ignored=2)
    assert request(commands, REGISTRY, 1) == Request(unknown=("nosuch",), ignored=3)
