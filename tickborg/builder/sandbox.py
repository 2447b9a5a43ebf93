"""Where a build phase runs: a bubblewrap sandbox, or directly (SPEC §9, §14).

Builds run pull-request code. In the sandbox a phase sees the host's system
directories read-only, its job's working checkout read-write at the same path
(so absolute paths a configure step records stay valid), the git objects that
checkout's `.git` borrows read-only, a private /tmp and nothing else of the
host: not the builder's config or secrets, not other checkouts' files. It has no network (an empty network
namespace), its own PID namespace and session, a clean environment, and dies
with the builder. Its /tmp and /dev/shm are tmpfs of at most `tmp_bytes` each;
the rest of /dev is read-only.

The namespace's init is INIT, a few lines of shell of ours: it runs the
phase's command and passes SIGTERM on to every process in the namespace, so a
stopped build gets its grace (bwrap's own init would ignore the signal, and
bwrap itself dies of it at once, taking the namespace down with SIGKILL).
When the command exits, so does INIT, and the kernel kills what is left.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from tickborg.builder.process import Command
from tickborg.config import BuildLimits

BWRAP = "bwrap"
PATH = "/usr/local/bin:/usr/bin:/bin"
# The whole environment a build gets; nothing of the builder's leaks in.
ENVIRONMENT: Mapping[str, str] = {"PATH": PATH, "HOME": "/tmp", "LANG": "C.UTF-8"}
# System directories, read-only; those a host lacks are skipped (`--ro-bind-try`).
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# The little of /etc that compilers and common tools need: the dynamic linker's
# cache, Debian's alternatives (cc, c++), users and groups, name service switch.
ETC_FILES = (
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/localtime",
)


# pid 1 of the sandbox: SIGTERM to all in the namespace (`kill -1` spares the init itself),
# waiting on until the command has really ended, then its exit status.
INIT = (
    "trap 'kill -TERM -1 2>/dev/null' TERM; \"$@\" & child=$!; wait $child; status=$?;"
    " while kill -0 $child 2>/dev/null; do wait $child; status=$?; done; exit $status"
)


class SandboxUnavailable(Exception):
    """bubblewrap is missing or cannot create its namespaces on this host."""


def bubblewrap_argv(
    workdir: Path, cwd: Path, argv: Sequence[str], tmp_bytes: int, readable: Sequence[Path] = ()
) -> list[str]:
    """The bwrap command line that runs `argv` in `cwd` (inside `workdir`) in the sandbox,
    `readable` (the git objects the tree's `.git` borrows) read-only at their own paths."""
    command = [
        BWRAP,
        "--unshare-all",  # network, PID, IPC, UTS, cgroup (and user, where allowed) namespaces
        "--die-with-parent",
        "--new-session",
        "--as-pid-1",  # INIT is pid 1, not bwrap's own
        "--clearenv",
    ]
    for name, value in ENVIRONMENT.items():
        command += ["--setenv", name, value]
    for directory in (*SYSTEM_DIRS, *ETC_FILES):
        command += ["--ro-bind-try", directory, directory]
    command += ["--proc", "/proc", "--dev", "/dev", "--size", str(tmp_bytes), "--tmpfs", "/dev/shm"]
    # bwrap's /dev is a tmpfs of no set size: read-only, or it would hold what /dev/shm may not.
    command += ["--remount-ro", "/dev", "--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    # After the /tmp tmpfs, so a checkout below /tmp is mounted over it, not hidden by it.
    command += ["--bind", str(workdir), str(workdir)]
    for path in readable:
        command += ["--ro-bind", str(path), str(path)]
    command += ["--chdir", str(cwd)]
    return [*command, "--", "/bin/sh", "-c", INIT, "tickborg-init", *argv]


@attrs.frozen
class Sandbox:
    """How phases run: `bubblewrap` (the default) or `none` (development only)."""

    kind: str
    tmp_bytes: int = BuildLimits().tmp_bytes

    def command(self, workdir: Path, cwd: Path, argv: Sequence[str], readable: Sequence[Path] = ()) -> Command:
        if self.kind == "none":
            return Command(tuple(argv))
        return Command(tuple(bubblewrap_argv(workdir, cwd, argv, self.tmp_bytes, readable)), contained=True)

    def check(self, scratch: Path) -> None:
        """Raise SandboxUnavailable unless a sandboxed command runs on this host."""
        if self.kind == "none":
            return
        if shutil.which(BWRAP) is None:
            raise SandboxUnavailable(f"{BWRAP} is not installed (Debian package bubblewrap)")
        scratch.mkdir(parents=True, exist_ok=True)
        try:
            done = subprocess.run(
                self.command(scratch, scratch, ["true"]).argv, env=dict(ENVIRONMENT), capture_output=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SandboxUnavailable(f"{BWRAP} did not run: {exc}") from None
        if done.returncode != 0:
            detail = done.stderr.decode("utf-8", "replace").strip()
            raise SandboxUnavailable(f"{BWRAP} cannot create its sandbox here: {detail}")
