"""Changed files → projects (SPEC §8): directory-boundary prefixes."""

from __future__ import annotations

import pytest

from tickborg.config import Project
from tickborg.projects import project_of, touched_projects

PROJECTS = (
    Project("libfoo", "libfoo", "cmake"),
    Project("app", "app", "custom", command="./build.sh"),
    Project("libs", "libs", "make"),
    Project("bar", "libs/bar", "make"),
)


@pytest.mark.parametrize(
    ("path", "owner"),
    [
        ("libfoo/CMakeLists.txt", "libfoo"),
        ("libfoo/src/deep/file.c", "libfoo"),
        ("libfoo", "libfoo"),
        ("libfoo2/x.c", None),
        ("libfo/x.c", None),
        ("README.md", None),
        ("docs/libfoo/x.md", None),
        ("libs/common.h", "libs"),
        ("libs/bar/bar.c", "bar"),
        ("libs/barista/x.c", "libs"),
    ],
)
def test_a_file_belongs_to_the_deepest_project_directory_holding_it(path: str, owner: str | None) -> None:
    project = project_of(path, PROJECTS)
    assert (project.name if project else None) == owner


def test_touched_projects_in_configuration_order_without_repeats() -> None:
    files = ["libs/bar/a.c", "app/main.c", "README.md", "app/other.c", "libfoo/x.c"]
    assert touched_projects(files, PROJECTS) == ("libfoo", "app", "bar")


def test_nothing_touched() -> None:
    assert touched_projects(["README.md", ".github/workflows/ci.yml"], PROJECTS) == ()
    assert touched_projects([], PROJECTS) == ()
