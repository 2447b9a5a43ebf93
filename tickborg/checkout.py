"""Git checkouts for the mass-rebuilder and the builder (SPEC §9, Checkouts).

Layout under `root` (each process kind has its own root, see `for_process`):

    cache/{owner}/{name}.git     one bare clone per repository, updated from its clone_url
    cache/{owner}/{name}.lock    held (flock) while the cache is fetched into
    work/{owner}/{name}/{n}      working checkouts; objects borrowed from the cache (alternates)
    work/{owner}/{name}/{n}.lock held (flock) by the job using checkout n
    build/{owner}/{name}/{n}     checkout n's tree copied for a build, without .git

A job takes the first free working checkout, so concurrent jobs, in this process
or others on the machine, never share one; a lock dies with its holder, so a
killed job frees its checkout.

Only trusted git ever touches `cache/` and `work/`. A build (pull-request code)
gets `tree_copy()`: the checked-out files without `.git`, made fresh for each job
and removed after it, so nothing a build writes is run or read by git later.

The cache keeps its branches and, per working checkout, the PR it fetched last
and the commit the checkout rests on between jobs (`refs/tickborg/slot-{n}/`),
so its refs stay bounded and its garbage collection (git's own expiry) never
takes an object a working checkout still needs.

git runs with argument lists, without a terminal prompt, hooks, fsmonitor, the
machine's or user's configuration or the caller's environment, and under a
timeout (a timeout is a retryable FetchFailed).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from tickborg.config import CheckoutConfig
from tickborg.logsetup import get_logger, redact_text
from tickborg.messages import Repo

log = get_logger(__name__)

# Owner and repository names as GitHub allows them; anything else could escape root.
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_SHA = re.compile(r"^[0-9a-fA-F]{4,64}$")
# Every git call: our identity for merges; no hook and no fsmonitor command ever runs,
# whatever a repository's config says; no maintenance behind our back (the cache's
# garbage collection runs when we ask, under the cache's lock: _Cache.fetch).
_OPTIONS = (
    "-c", "user.name=tickborg",
    "-c", "user.email=tickborg@localhost",
    "-c", f"core.hooksPath={os.devnull}",
    "-c", "core.fsmonitor=false",
    "-c", "maintenance.auto=false",
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


class MissingCommit(GitError):
    """The commit is not in the fetched refs (force-pushed away): retrying cannot help."""

    default_retryable = False


class MergeConflict(GitError):
    """The merge conflicts; it was aborted and the checkout left clean."""

    default_retryable = False


class _Git:
    """Runs git in one directory with a clean environment and a timeout."""

    def __init__(self, cwd: Path, timeout: float) -> None:
        self.cwd = cwd
        self.timeout = timeout

    def __call__(
        self, *args: str, failure: type[GitError] = GitError, check: bool = True, input: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        argv = ["git", *_OPTIONS, *args]
        # Its own session, so a timeout kills helpers (git-remote-http, ssh) too.
        proc = subprocess.Popen(
            argv,
            cwd=self.cwd,
            env=_environment(),
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
            # The last line says why; redacted, as a remote's message may quote a URL with credentials.
            detail = redact_text(err.decode("utf-8", "replace")).strip().splitlines()
            raise failure(f"git {args[0]} failed ({proc.returncode}): {detail[-1] if detail else 'no message'}")
        return result

    def text(self, *args: str) -> str:
        return self(*args).stdout.decode("utf-8", "replace").strip()

    def succeeds(self, *args: str) -> bool:
        return self(*args, check=False).returncode == 0


def _environment() -> dict[str, str]:
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
def _flock(path: Path, blocking: bool) -> Iterator[IO[bytes] | None]:
    """The lock file held exclusively, or None when `blocking` is false and another holds it."""
    with open(path, "ab") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield None
            return
        yield handle

class Checkouts:
    def __init__(self, root: Path, git_timeout_seconds: float = 600.0) -> None:
        self.root = root
        self.git_timeout_seconds = git_timeout_seconds

    @classmethod
    def for_process(cls, config: CheckoutConfig, process: str) -> Checkouts:
        """The checkouts of one kind of process, in a directory of its own under `checkout.root`:
        a builder's (where PR code runs) never shares one with a mass-rebuilder's (which
        holds the App's key)."""
        return cls(config.root / process, config.git_timeout_seconds)

    @contextmanager
    def workdir(self, repo: Repo) -> Iterator[Workdir]:
        """A working checkout of `repo` (from a cached clone per repository under root, updated
        from repo.clone_url), held for this job alone with fcntl.flock: concurrent jobs, in this
        process or others on the machine, get different workdirs, never a shared or corrupt one."""
        owner, name = _safe(repo.owner), _safe(repo.name)
        cache = _Cache(self.root / "cache" / owner, name, repo.clone_url, self.git_timeout_seconds)
        cache.ensure()
        slots = self.root / "work" / owner / name
        slots.mkdir(parents=True, exist_ok=True)
        slot = 0
        while True:
            with _flock(slots / f"{slot}.lock", blocking=False) as held:
                if held is not None:
                    log.debug("workdir held", repo=repo.full_name, slot=slot)
                    workdir = Workdir(slots / str(slot), self.root / "build" / owner / name / str(slot), cache, slot, self.git_timeout_seconds)
                    try:
                        yield workdir
                    finally:
                        workdir.release()
                    return
            slot += 1


def _safe(component: str) -> str:
    if not _NAME.match(component) or component in (".", ".."):
        raise GitError(f"refusing repository name component {component!r}", retryable=False)
    return component


class _Cache:
    """The bare clone of one repository; fetches into it hold its lock."""

    def __init__(self, directory: Path, name: str, clone_url: str, timeout: float) -> None:
        self.path = directory / f"{name}.git"
        self.lock = directory / f"{name}.lock"
        self.clone_url = clone_url
        self.git = _Git(self.path, timeout)

    def ensure(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _flock(self.lock, blocking=True):
            if (self.path / "objects").is_dir() and self.git.succeeds("rev-parse", "--git-dir"):
                return
            shutil.rmtree(self.path, ignore_errors=True)
            self.path.mkdir()
            self.git("init", "--quiet", "--bare")

    def fetch(self, refspec: str) -> None:
        with _flock(self.lock, blocking=True):
            self.git("fetch", "--quiet", "--no-tags", "--update-head-ok", "--", self.clone_url, refspec, failure=FetchFailed)
            self._collect()

    def keep(self, ref: str, sha: str | None) -> None:
        """Point `ref` at `sha` (None: delete it), so what a working checkout rests on stays."""
        with _flock(self.lock, blocking=True):
            self.git("update-ref", *((ref, sha) if sha else ("-d", ref)))

    def _collect(self) -> None:
        """git's garbage collection when the cache's thresholds say so (`gc.auto`,
        `gc.autoPackLimit`). Objects no ref names go after `gc.pruneExpire` (two weeks); a
        working checkout's objects are all named by its slot's refs. A failure is logged:
        the fetched objects are there either way."""
        try:
            self.git("gc", "--auto", "--quiet")
        except GitError as exc:
            log.warning("garbage collection of the clone cache failed", cache=str(self.path), error=str(exc))


class Workdir:
    """One working checkout, held by one job."""

    def __init__(self, path: Path, build_path: Path, cache: _Cache, slot: int, timeout: float) -> None:
        self.path = path
        self.build_path = build_path
        self._cache = cache
        self._slot_refs = f"refs/tickborg/slot-{slot}"
        self._git = _Git(path, timeout)
        # The refs fetched during this hold: has_commit answers for these only.
        self._fetched: list[str] = []
        # The branch head checked out during this hold: where the checkout rests afterwards.
        self._base: str | None = None
        self._prepare()

    def _prepare(self) -> None:
        if not self._git_dir_ok():
            shutil.rmtree(self.path, ignore_errors=True)
            self.path.mkdir(parents=True)
            self._git("init", "--quiet")
            alternates = self.path / ".git" / "objects" / "info" / "alternates"
            alternates.write_text(f"{(self._cache.path / 'objects').resolve()}\n")
        # We hold the lock, so a lock file left here is from a killed git.
        for stale in (self.path / ".git").glob("*.lock"):
            stale.unlink(missing_ok=True)
        if (self.path / ".git" / "MERGE_HEAD").exists():
            self._git("merge", "--abort", check=False)
        remove_tree(self.build_path)  # left by a job that was killed

    def release(self) -> None:
        """End of the hold: rest at the branch head, forget the fetched refs, drop the build's copy.

        Best effort: a checkout left otherwise is still made right by the next hold."""
        remove_tree(self.build_path)
        try:
            if self._base is not None:
                self._git("checkout", "--quiet", "--force", "--detach", self._base)
            refs = self._git.text("for-each-ref", "--format=delete %(refname)", "refs/remotes/")
            if refs:
                self._git("update-ref", "--stdin", input=f"{refs}\n".encode())
            self._cache.keep(f"{self._slot_refs}/rest", self._base)
            self._cache.keep(f"{self._slot_refs}/pull", None)
        except GitError as exc:
            log.warning("could not tidy the working checkout", path=str(self.path), error=str(exc))

    @contextmanager
    def tree_copy(self) -> Iterator[Path]:
        """The checked-out files, without `.git`, in a directory of their own: the only place
        a build may write. Made fresh from the index and removed afterwards."""
        remove_tree(self.build_path)
        self.build_path.mkdir(parents=True)
        try:
            self._git("checkout-index", "--all", "--force", f"--prefix={self.build_path}/")
            yield self.build_path
        finally:
            remove_tree(self.build_path)

    def _git_dir_ok(self) -> bool:
        return (self.path / ".git").is_dir() and self._git.succeeds("rev-parse", "--git-dir")

    def _fetch(self, remote_ref: str, local_ref: str, cache_ref: str | None = None) -> None:
        """`remote_ref` into the cache (as `cache_ref`, by default under its own name), then here."""
        cache_ref = cache_ref or remote_ref
        self._cache.fetch(f"+{remote_ref}:{cache_ref}")
        self._git("fetch", "--quiet", "--no-tags", "--", str(self._cache.path), f"+{cache_ref}:{local_ref}", failure=FetchFailed)
        self._fetched.append(local_ref)

    def _clean(self) -> None:
        self._git("reset", "--quiet", "--hard")
        self._git("clean", "--quiet", "-fdx")

    def checkout_branch(self, branch: str) -> str:
        """Fetch `branch`, check it out (detached) clean; its head sha."""
        if not self._git.succeeds("check-ref-format", f"refs/heads/{branch}"):
            raise GitError(f"not a branch name: {branch!r}", retryable=False)
        self._fetch(f"refs/heads/{branch}", f"refs/remotes/origin/{branch}")
        self._git("checkout", "--quiet", "--force", "--detach", f"refs/remotes/origin/{branch}")
        self._clean()
        self._base = self._git.text("rev-parse", "HEAD")
        return self._base

    def fetch_pr(self, number: int) -> None:
        """Fetch `refs/pull/{number}/head`; FetchFailed when the remote will not give it."""
        # Into the cache under this slot's name: every PR's ref kept there would only grow.
        self._fetch(f"refs/pull/{int(number)}/head", f"refs/remotes/pull/{int(number)}", f"{self._slot_refs}/pull")

    def has_commit(self, sha: str) -> bool:
        """Whether `sha` is a commit reachable from a ref fetched during this hold."""
        if not _SHA.match(sha) or not self._git.succeeds("cat-file", "-e", f"{sha}^{{commit}}"):
            return False
        return any(self._git.succeeds("merge-base", "--is-ancestor", sha, ref) for ref in self._fetched)

    def merge(self, sha: str) -> None:
        """Merge `sha` into the checked-out branch; MergeConflict leaves the checkout clean."""
        self._require(sha)
        merged = self._git("merge", "--quiet", "--no-ff", "--no-edit", "-m", f"Merge {sha}", sha, check=False)
        if merged.returncode == 0:
            return
        conflicted = self._git.text("diff", "--name-only", "--diff-filter=U")
        self._git("merge", "--abort", check=False)
        self._clean()
        if conflicted:
            raise MergeConflict(f"merging {sha} conflicts in: {', '.join(conflicted.splitlines()[:20])}")
        raise GitError(f"merging {sha} failed: {merged.stderr.decode('utf-8', 'replace').strip()[-500:]}")

    def checkout_commit(self, sha: str) -> None:
        """Check out `sha` (detached), clean; for push builds, after checkout_branch."""
        self._require(sha)
        self._git("checkout", "--quiet", "--force", "--detach", sha)
        self._clean()
        self._base = sha

    def changed_files(self, base: str, head: str) -> list[str]:
        """Paths `head` changed since it forked from `base` (both sides of a rename)."""
        out = self._git("diff", "--name-only", "--no-renames", "-z", f"{self._sha(base)}...{self._sha(head)}", "--").stdout
        return [p for p in out.decode("utf-8", "replace").split("\0") if p]

    def commit_messages(self, base: str, head: str) -> list[str]:
        """Messages of the commits on `head` that `base` does not have, newest first."""
        out = self._git("log", "-z", "--format=%B", f"{self._sha(base)}..{self._sha(head)}", "--").stdout
        return [m.strip() for m in out.decode("utf-8", "replace").split("\0") if m.strip()]

    def _require(self, sha: str) -> None:
        if not self.has_commit(sha):
            raise MissingCommit(f"commit {sha} is not in the fetched refs")

    def _sha(self, sha: str) -> str:
        if not _SHA.match(sha):
            raise MissingCommit(f"not a commit id: {sha!r}")
        return sha



def remove_tree(path: Path) -> None:
    """Remove what a build left at `path`, whatever modes it set (shutil.rmtree never follows
    a symlink out of the tree)."""

    def writable(function: object, failed: str, exc: BaseException) -> None:
        parent = os.path.dirname(failed)
        os.chmod(parent, 0o700)
        if os.path.isdir(failed) and not os.path.islink(failed):
            os.chmod(failed, 0o700)
            shutil.rmtree(failed, onerror=writable)
        else:
            os.unlink(failed)

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=writable)
