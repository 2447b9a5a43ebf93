"""Running trusted git: a clean environment, no hooks, a timeout, and errors that say
whether retrying may help (SPEC §9, Checkouts).

git runs with argument lists, without a terminal prompt, hooks, fsmonitor, the
machine's or user's configuration or the caller's environment, and under a
timeout (a timeout is a retryable FetchFailed).
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from tickborg.logsetup import redact_text

SHA = re.compile(r"^[0-9a-fA-F]{4,64}$")
# Every git call: our identity for merges; no hook and no fsmonitor command ever runs,
# whatever a repository's config says; no maintenance behind our back (the cache's
# garbage collection runs when we ask, under the cache's lock); no walk of history on
# each fetch to report forced updates nobody reads.
_OPTIONS = (
    "-c", "user.name=tickborg",
    "-c", "user.email=tickborg@localhost",
    "-c", f"core.hooksPath={os.devnull}",
    "-c", "core.fsmonitor=false",
    "-c", "maintenance.auto=false",
    "-c", "fetch.showForcedUpdates=false",
    "-c", "advice.fetchShowForcedUpdates=false",
)
# What git may see of the caller's environment: where programs are, and how to reach
# the origin through a proxy. Never credentials (CREDENTIALS_DIRECTORY), never GIT_*.
_ENV_KEPT = ("PATH", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR")


class GitError(Exception):
    """A git operation failed; `retryable` says whether trying the job again may help."""

    default_retryable = True

    def __init__(self, message: str, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.retryable = self.default_retryable if retryable is None else retryable


class FetchFailed(GitError):
    """The remote could not be fetched from (network, remote error, timeout)."""


class MissingBranch(GitError):
    """The remote has no such branch: retrying cannot help until someone pushes it."""

    default_retryable = False

    def __init__(self, branch: str) -> None:
        super().__init__(f"Base branch {branch} not found")
        self.branch = branch


class MissingCommit(GitError):
    """The commit is not in the fetched refs (force-pushed away): retrying cannot help."""

    default_retryable = False


class MergeConflict(GitError):
    """The merge conflicts; it was aborted and the checkout left clean."""

    default_retryable = False


class Git:
    """Runs git in one directory with a clean environment and a timeout."""

    def __init__(self, cwd: Path, timeout: float) -> None:
        self.cwd = cwd
        self.timeout = timeout

    def __call__(
        self,
        *args: str,
        failure: type[GitError] = GitError,
        check: bool = True,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        argv = ["git", *_OPTIONS, *args]
        # Its own session, so a timeout kills helpers (git-remote-http, ssh) too.
        proc = subprocess.Popen(
            argv,
            cwd=self.cwd,
            env={**environment(), **(env or {})},
            stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(input, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise FetchFailed(f"git {args[0]} timed out after {self.timeout:g} s") from None
        result = subprocess.CompletedProcess(argv, proc.returncode, out, err)
        if check and proc.returncode != 0:
            raise failure(failure_message(args[0], result))
        return result

    def text(self, *args: str) -> str:
        return self(*args).stdout.decode("utf-8", "replace").strip()

    def succeeds(self, *args: str) -> bool:
        return self(*args, check=False).returncode == 0


def failure_message(command: str, result: subprocess.CompletedProcess[bytes]) -> str:
    """What a failed git call says: its last line of stderr, redacted, as a remote's
    message may quote a URL with credentials."""
    detail = redact_text(result.stderr.decode("utf-8", "replace")).strip().splitlines()
    return f"git {command} failed ({result.returncode}): {detail[-1] if detail else 'no message'}"


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _ENV_KEPT}
    env.update(
        HOME=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_ASKPASS="true",
        LC_ALL="C",
    )
    return env


@contextmanager
def flock(path: Path, blocking: bool) -> Iterator[IO[bytes] | None]:
    """The lock file held exclusively, or None when `blocking` is false and another holds it."""
    with open(path, "ab") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield None
            return
        yield handle


def commit_id(sha: str) -> str:
    """`sha` when it looks like a commit id; MissingCommit otherwise (never an option git would parse)."""
    if not SHA.match(sha):
        raise MissingCommit(f"not a commit id: {sha!r}")
    return sha
