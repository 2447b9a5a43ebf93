"""Limits on what one build phase may use: memory, processes and CPU priority (nice).

A phase gets a cgroup of its own where this host lets the builder make one:
cgroup v2 where its cgroup is a delegated subtree with the memory and pids
controllers (systemd's `Delegate=yes`), else the v1 `pids` and `memory`
hierarchies where they are writable. The limits then hold for the phase as a
whole, and the cgroup names every process it started, so none is left behind.
Without a cgroup, `prlimit` sets RLIMIT_NPROC and RLIMIT_AS on the phase's
command: per process, and RLIMIT_NPROC is not enforced for root.

A phase joins its cgroup through a wrapper command (a shell writes its own pid
to the cgroup, then execs the phase), not `preexec_fn`, which is unsafe in the
threaded builder. Which enforcement a builder uses is chosen once, at start.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs

from tickborg.config import BuildLimits

CGROUP_ROOT = Path("/sys/fs/cgroup")
PRLIMIT = "prlimit"
NICE = "nice"
# A v2 cgroup with processes cannot have child cgroups with controllers: the builder moves here.
BUILDER_LEAF = "builder"
PHASE_PREFIX = "tickborg-phase-"
# Joins the cgroups named before "--" (their cgroup.procs files), then runs the rest.
ENTER = 'for procs in "$@"; do shift; [ "$procs" = -- ] && break; echo $$ > "$procs" || exit 125; done; exec "$@"'
KILL_ROUNDS = 200
KILL_PAUSE_SECONDS = 0.01


class LimitsUnavailable(Exception):
    """`builder.limits.enforcement` asks for cgroups and this host gives the builder none."""


@attrs.frozen
class Confinement:
    """How phases are limited: `kind` is "cgroup v2", "cgroup v1" or "rlimit"."""

    kind: str
    limits: BuildLimits
    # cgroup v2: the delegated cgroup; v1: the builder's cgroups of the pids and memory hierarchies.
    parents: tuple[Path, ...] = ()

    @contextlib.contextmanager
    def phase(self) -> Iterator[Scope]:
        """A scope for one phase: its cgroups made (and removed afterwards, once empty)."""
        if self.kind == "rlimit":
            yield Scope(self, ())
            return
        name = f"{PHASE_PREFIX}{uuid.uuid4().hex}"
        made: list[Path] = []
        try:
            for parent in self.parents:
                (parent / name).mkdir()
                made.append(parent / name)
            for directory in made:
                _write_limits(directory, self.kind, self.limits)
            yield Scope(self, tuple(made))
        finally:
            scope = Scope(self, tuple(made))
            scope.kill()
            for directory in made:
                _remove(directory)


@attrs.frozen
class Scope:
    """One phase's share of a Confinement."""

    confinement: Confinement
    cgroups: tuple[Path, ...]

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """The command line that runs `argv` under the limits, at their CPU priority."""
        limits = self.confinement.limits
        if limits.nice:
            argv = [NICE, "-n", str(limits.nice), *argv]
        if not self.cgroups:
            return [PRLIMIT, f"--nproc={limits.processes}", f"--as={limits.memory_bytes}", "--", *argv]
        return ["/bin/sh", "-c", ENTER, "tickborg-enter", *(str(c / "cgroup.procs") for c in self.cgroups), "--", *argv]

    def kill(self) -> None:
        """SIGKILL every process in the phase's cgroups, until none is left."""
        for directory in self.cgroups:
            killer = directory / "cgroup.kill"
            if killer.exists():  # cgroup v2, Linux 5.14 and later: the kernel kills them all at once
                killer.write_text("1")
            for _ in range(KILL_ROUNDS):  # v1: a process may fork while its siblings are killed
                pids = _members(directory)
                if not pids:
                    break
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                time.sleep(KILL_PAUSE_SECONDS)

    def limits_reached(self) -> tuple[str, ...]:
        """Which limits stopped something in this phase, as "memory limit of N bytes"."""
        limits = self.confinement.limits
        reached = []
        for directory in self.cgroups:
            if _count(directory / "memory.events", "oom_kill") or _count(directory / "memory.oom_control", "oom_kill"):
                reached.append(f"memory limit of {limits.memory_bytes} bytes")
            if _count(directory / "pids.events", "max"):
                reached.append(f"process limit of {limits.processes}")
        return tuple(reached)


def confinement(limits: BuildLimits, root: Path = CGROUP_ROOT) -> Confinement:
    """The enforcement this host allows, chosen at start; LimitsUnavailable when cgroups are required but absent."""
    if limits.enforcement != "rlimit":
        for attempt in (_cgroup_v2, _cgroup_v1):
            found = attempt(limits, root, _own_cgroups())
            if found is not None:
                return found
        if limits.enforcement == "cgroup":
            raise LimitsUnavailable(
                "no writable cgroup: give the builder a delegated cgroup v2 subtree (systemd Delegate=yes)"
                " with the memory and pids controllers, or writable v1 pids and memory hierarchies"
            )
    return Confinement("rlimit", limits)


def own_cgroups(text: str) -> dict[str, str]:
    """/proc/self/cgroup → {controller: path}; the v2 hierarchy's controller is ""."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            found[controller] = path
    return found


def _own_cgroups() -> dict[str, str]:
    return own_cgroups(Path("/proc/self/cgroup").read_text())


def _cgroup_v2(limits: BuildLimits, root: Path, own: dict[str, str]) -> Confinement | None:
    if "" not in own or not (root / "cgroup.controllers").exists():
        return None  # no unified hierarchy at the root (v1 or hybrid hosts)
    base = root / own[""].lstrip("/")
    if base.name == BUILDER_LEAF:
        base = base.parent  # a builder started again in the same delegated cgroup
    try:
        if not {"memory", "pids"} <= set((base / "cgroup.controllers").read_text().split()):
            return None
        leaf = base / BUILDER_LEAF
        leaf.mkdir(exist_ok=True)
        (leaf / "cgroup.procs").write_text(str(os.getpid()))
        (base / "cgroup.subtree_control").write_text("+memory +pids")
    except OSError:
        return None  # not delegated to us
    return Confinement("cgroup v2", limits, (base,))


def _cgroup_v1(limits: BuildLimits, root: Path, own: dict[str, str]) -> Confinement | None:
    parents = []
    for controller in ("pids", "memory"):
        directory = root / controller / own.get(controller, "/").lstrip("/")
        if not (directory / "cgroup.procs").exists() or not os.access(directory, os.W_OK):
            return None
        parents.append(directory)
    confined = Confinement("cgroup v1", limits, tuple(parents))
    try:
        with confined.phase():  # the kernel, not the mode bits, says whether we may
            pass
    except OSError:
        return None
    return confined


def _write_limits(directory: Path, kind: str, limits: BuildLimits) -> None:
    if kind == "cgroup v2":
        (directory / "memory.max").write_text(str(limits.memory_bytes))
        if (directory / "memory.swap.max").exists():
            (directory / "memory.swap.max").write_text("0")  # swap would stretch the memory limit
        (directory / "pids.max").write_text(str(limits.processes))
    elif (directory / "pids.max").exists():
        (directory / "pids.max").write_text(str(limits.processes))
    else:
        (directory / "memory.limit_in_bytes").write_text(str(limits.memory_bytes))
        if (directory / "memory.memsw.limit_in_bytes").exists():  # swap accounting on: memory plus swap
            (directory / "memory.memsw.limit_in_bytes").write_text(str(limits.memory_bytes))


def _members(directory: Path) -> list[int]:
    try:
        return [int(pid) for pid in (directory / "cgroup.procs").read_text().split()]
    except FileNotFoundError:
        return []


def _remove(directory: Path) -> None:
    """rmdir once the kernel has let go of the killed processes (which takes a moment)."""
    for _ in range(KILL_ROUNDS):
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                raise
            time.sleep(KILL_PAUSE_SECONDS)


def _count(path: Path, name: str) -> int:
    """A counter of a flat keyed cgroup file (`name value` lines); 0 when absent."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return 0
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == name:
            return int(value)
    return 0
