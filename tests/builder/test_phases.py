"""Build systems → phase argument lists (SPEC §9 table)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tickborg.builder.phases import Phase, phases
from tickborg.config import Project


def project(build_system: str, **settings: object) -> Project:
    return Project(name="p", path="p", build_system=build_system, **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("build_system", "expected"),
    [
        (
            "cmake",
            [
                Phase("configure", ("cmake", "-S", ".", "-B", "build", "-DX=1")),
                Phase("build", ("cmake", "--build", "build", "-j3", "--target", "all")),
                Phase("test", ("ctest", "--test-dir", "build", "--output-on-failure")),
            ],
        ),
        (
            "meson",
            [
                Phase("configure", ("meson", "setup", "build", "-DX=1")),
                Phase("build", ("meson", "compile", "-C", "build", "--target", "all")),
                Phase("test", ("meson", "test", "-C", "build")),
            ],
        ),
        ("make", [Phase("build", ("make", "-j3", "--target", "all")), Phase("test", ("make", "check"))]),
        ("cargo", [Phase("build", ("cargo", "build", "--release", "--target", "all")), Phase("test", ("cargo", "test"))]),
        ("gradle", [Phase("build", ("gradle", "build", "--target", "all")), Phase("test", ("gradle", "test"))]),
    ],
)
def test_each_build_system(tmp_path: Path, build_system: str, expected: list[Phase]) -> None:
    settings = {"configure_args": ("-DX=1",), "build_args": ("--target", "all")}
    assert list(phases(project(build_system, **settings), tmp_path, 3)) == expected


def test_autotools_generates_configure_only_when_missing(tmp_path: Path) -> None:
    names = [phase.name for phase in phases(project("autotools", configure_args=("--x",)), tmp_path, 2)]
    assert names == ["autoreconf", "configure", "build", "test"]
    (tmp_path / "configure").write_text("#!/bin/sh\n")
    assert list(phases(project("autotools", configure_args=("--x",)), tmp_path, 2)) == [
        Phase("configure", ("./configure", "--x")),
        Phase("build", ("make", "-j2")),
        Phase("test", ("make", "check")),
    ]


def test_gradle_prefers_the_wrapper(tmp_path: Path) -> None:
    (tmp_path / "gradlew").write_text("#!/bin/sh\n")
    assert [phase.argv for phase in phases(project("gradle"), tmp_path, 1)] == [("./gradlew", "build"), ("./gradlew", "test")]


def test_custom_runs_its_command_by_sh_and_tests_only_with_a_test_command(tmp_path: Path) -> None:
    assert list(phases(project("custom", command="./build.sh --fast"), tmp_path, 1)) == [
        Phase("build", ("sh", "-c", "./build.sh --fast"))
    ]
    with_test = project("custom", command="make", test_command=("./run-tests.sh", "-v"))
    assert list(phases(with_test, tmp_path, 1))[-1] == Phase("test", ("./run-tests.sh", "-v"))


def test_test_command_replaces_the_default_test(tmp_path: Path) -> None:
    steps = phases(project("make", test_command=("./t",)), tmp_path, 1)
    assert [phase.argv for phase in steps] == [("make", "-j1"), ("./t",)]
