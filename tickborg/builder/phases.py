"""A project's build system → the argument lists of its phases (SPEC §9).

Arguments come from operator configuration only, never from job fields, and are
never joined into a shell string (the `custom` command is the operator's own
shell snippet, run by `sh -c`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs

from tickborg.config import Project


@attrs.frozen
class Phase:
    name: str  # autoreconf, configure, build or test
    argv: tuple[str, ...]


def phases(project: Project, directory: Path, jobs: int) -> tuple[Phase, ...]:
    """Configure, build, then test, for `project` checked out in `directory` (its path in the checkout)."""
    steps = _STEPS[project.build_system](project, directory, jobs)
    if project.test_command is not None:
        steps = [step for step in steps if step.name != "test"] + [Phase("test", project.test_command)]
    return tuple(steps)


def _cmake(p: Project, d: Path, jobs: int) -> list[Phase]:
    return [
        Phase("configure", ("cmake", "-S", ".", "-B", "build", *p.configure_args)),
        Phase("build", ("cmake", "--build", "build", f"-j{jobs}", *p.build_args)),
        Phase("test", ("ctest", "--test-dir", "build", "--output-on-failure")),
    ]


def _meson(p: Project, d: Path, jobs: int) -> list[Phase]:
    return [
        Phase("configure", ("meson", "setup", "build", *p.configure_args)),
        Phase("build", ("meson", "compile", "-C", "build", *p.build_args)),
        Phase("test", ("meson", "test", "-C", "build")),
    ]


def _autotools(p: Project, d: Path, jobs: int) -> list[Phase]:
    generate = [] if (d / "configure").exists() else [Phase("autoreconf", ("autoreconf", "-fi"))]
    return generate + [
        Phase("configure", ("./configure", *p.configure_args)),
        Phase("build", ("make", f"-j{jobs}", *p.build_args)),
        Phase("test", ("make", "check")),
    ]


def _make(p: Project, d: Path, jobs: int) -> list[Phase]:
    return [Phase("build", ("make", f"-j{jobs}", *p.build_args)), Phase("test", ("make", "check"))]


def _cargo(p: Project, d: Path, jobs: int) -> list[Phase]:
    return [Phase("build", ("cargo", "build", "--release", *p.build_args)), Phase("test", ("cargo", "test"))]


def _gradle(p: Project, d: Path, jobs: int) -> list[Phase]:
    gradle = "./gradlew" if (d / "gradlew").exists() else "gradle"
    return [Phase("build", (gradle, "build", *p.build_args)), Phase("test", (gradle, "test"))]


def _custom(p: Project, d: Path, jobs: int) -> list[Phase]:
    assert p.command is not None  # the config requires it for custom
    # No default test: only the project's test_command.
    return [Phase("build", ("sh", "-c", p.command))]


_STEPS: dict[str, Callable[[Project, Path, int], list[Phase]]] = {
    "cmake": _cmake,
    "meson": _meson,
    "autotools": _autotools,
    "make": _make,
    "cargo": _cargo,
    "gradle": _gradle,
    "custom": _custom,
}
