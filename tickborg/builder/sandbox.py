"""Where a build phase runs: a bubblewrap sandbox, or directly (SPEC §9, §14).

Builds run pull-request code. In the sandbox a phase sees the host's system
directories read-only, its job's working checkout read-write at the same path
(so absolute paths a configure step records stay valid), a private /tmp and
nothing else of the host: not the builder's config or secrets, not the checkout
root's cache or other checkouts. It has no network (an empty network
namespace), its own PID namespace and session, a clean environment, and dies
with the builder.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

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


class SandboxUnavailable(Exception):
    """bubblewrap is missing or cannot create its namespaces on this host."""


def bubblewrap_argv(workdir: Path, cwd: Path, argv: Sequence[str]) -> list[str]:
    """The bwrap command line that runs `argv` in `cwd` (inside `workdir`) in the sandbox."""
    command = [
        BWRAP,
        "--unshare-all",  # network, PID, IPC, UTS, cgroup (and user, where allowed) namespaces
        "--die-with-parent",
        "--new-session",
        "--clearenv",
    ]
    for name, value in ENVIRONMENT.items():
        command += ["--setenv", name, value]
    for directory in (*SYSTEM_DIRS, *ETC_FILES):
        command += ["--ro-bind-try", directory, directory]
    command += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    # After the /tmp tmpfs, so a checkout below /tmp is mounted over it, not hidden by it.
    command += ["--bind", str(workdir), str(workdir), "--chdir", str(cwd), "--", *argv]
    return command


@attrs.frozen
class Sandbox:
    """How phases run: `bubblewrap` (the default) or `none` (development only)."""

    kind: str

    def command(self, workdir: Path, cwd: Path, argv: Sequence[str]) -> list[str]:
        if self.kind == "none":
            return list(argv)
        return bubblewrap_argv(workdir, cwd, argv)

    def check(self, scratch: Path) -> None:
        """Raise SandboxUnavailable unless a sandboxed command runs on this host."""
        if self.kind == "none":
            return
        if shutil.which(BWRAP) is None:
            raise SandboxUnavailable(f"{BWRAP} is not installed (Debian package bubblewrap)")
        scratch.mkdir(parents=True, exist_ok=True)
        try:
            done = subprocess.run(
                self.command(scratch, scratch, ["true"]), env=dict(ENVIRONMENT), capture_output=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SandboxUnavailable(f"{BWRAP} did not run: {exc}") from None
        if done.returncode != 0:
            detail = done.stderr.decode("utf-8", "replace").strip()
            raise SandboxUnavailable(f"{BWRAP} cannot create its sandbox here: {detail}")
