"""The §8 label and project rules, on their own."""

from __future__ import annotations

import pytest

from tickborg.config import Project
from tickborg.evaluator.evaluation import is_work_in_progress, status_context
from tickborg.evaluator.labels import commit_scopes, evaluate_changes, title_projects

PROJECTS = (
    Project("libfoo", "libfoo", "cmake"),
    Project("libfoo2", "libfoo2", "make"),
    Project("app", "apps/app", "custom", command="./build.sh"),
    Project("lib-net", "net", "meson"),
)


def test_files_map_to_projects_and_scopes() -> None:
    found = evaluate_changes(
        ["libfoo2/x.c", "apps/app/main.c", ".github/workflows/ci.yml", "ci/run.sh", "docs/guide.txt", "libfoo2/README.md", "Makefile"],
        "A change",
        [],
        PROJECTS,
    )
    assert found.projects == ("libfoo2", "app")
    assert found.labels == ("project: libfoo2", "project: app", "scope: ci", "scope: docs", "scope: root")


def test_a_top_level_markdown_file_is_docs_not_root() -> None:
    assert evaluate_changes(["README.md"], "t", [], PROJECTS).labels == ("scope: docs",)


@pytest.mark.parametrize(
    ("title", "named"),
    [
        ("Fix libfoo.", {"libfoo"}),
        ("LIBFOO: faster", {"libfoo"}),
        ("libfoo2 only", {"libfoo2"}),
        ("my-libfoo and libfoo.c", set()),
        ("bump lib-net, app", {"lib-net", "app"}),
        ("libfoobar", set()),
    ],
)
def test_title_words_name_projects_whole_word(title: str, named: set[str]) -> None:
    assert title_projects(title, PROJECTS) == named


def test_title_words_label_but_do_not_build() -> None:
    found = evaluate_changes(["libfoo/a.c"], "libfoo: also touches app on Darwin and Windows", [], PROJECTS)
    assert found.projects == ("libfoo",)
    assert found.labels == ("project: libfoo", "project: app", "platform: macos", "platform: windows")


@pytest.mark.parametrize(
    ("message", "scopes"),
    [
        ("feat(libfoo): add x", ("libfoo",)),
        ("fix(libfoo, app)!: breaking\n\nbody", ("libfoo", "app")),
        ("libfoo2: tidy", ("libfoo2",)),
        ("Merge branch 'x'", ()),
        ("no scope here", ()),
        ("", ()),
    ],
)
def test_commit_scopes(message: str, scopes: tuple[str, ...]) -> None:
    assert commit_scopes(message) == scopes


def test_commit_scopes_add_known_projects_to_the_builds() -> None:
    found = evaluate_changes(["README.md"], "t", ["feat(app): x", "chore(unknown): y", "lib-net: z"], PROJECTS)
    assert found.projects == ("app", "lib-net")
    assert found.labels == ("project: app", "project: lib-net", "scope: docs")


@pytest.mark.parametrize(
    ("title", "wip"),
    [("WIP: thing", True), ("thing [WIP]", True), ("wip: lower case", False), ("Wipe the cache", False), ("Fix WIP: handling", False)],
)
def test_work_in_progress_titles(title: str, wip: bool) -> None:
    assert is_work_in_progress(title) is wip


def test_an_earlier_grahamcofborg_status_switches_the_context() -> None:
    assert status_context([]) == "tickborg-eval"
    assert status_context(["ci/other", "grahamcofborg-eval-check-meta"]) == "grahamcofborg-eval"
    assert status_context(["grahamcofborg"]) == "tickborg-eval"
