"""Git checkouts for the mass-rebuilder and the builder (SPEC §9, Checkouts).

Layout under `root` (each process kind has its own root, see `for_process`):

    cache/{owner}/{name}.git     one bare clone per repository, updated from its clone_url
    cache/{owner}/{name}.lock    held (flock) while the cache is fetched into
    work/{owner}/{name}/{n}      working checkouts; objects borrowed from the cache (alternates)
    work/{owner}/{name}/{n}.lock held (flock) by the job using checkout n
    build/{owner}/{name}/{n}     checkout n's tree copied for a build, with a .git of its own

A job takes the first free working checkout, so concurrent jobs, in this process
or others on the machine, never share one; a lock dies with its holder, so a
killed job frees its checkout.

Only trusted git ever touches `cache/` and `work/`. A build (pull-request code)
gets `tree_copy()`: the checked-out files and a `.git` of the build's own that
borrows the objects of `work/` and `cache/` (read-only in the sandbox), made fresh
for each job and removed after it, so nothing a build writes is run or read by
trusted git later.

The cache keeps its branches and, per working checkout, the PR it fetched last
and the commit the checkout rests on between jobs (`refs/tickborg/slot-{n}/`),
so its refs stay bounded and its garbage collection (git's own expiry) never
takes an object a working checkout still needs.

An evaluation needs no working checkout: `Checkouts.merge_preview` fetches the
branch and the PR into the cache in one fetch and computes the merge there with
`git merge-tree`, its objects in a scratch store dropped afterwards.

Trusted git runs as tickborg/git.py says (no hooks, no configuration, a timeout).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from tickborg.config import CheckoutConfig
from tickborg.git import (
    SHA,
    FetchFailed,
    Git,
    GitError,
    MergeConflict,
    MissingBranch,
    MissingCommit,
    commit_id,
    failure_message,
    flock,
)
from tickborg.logsetup import get_logger
from tickborg.messages import Repo

log = get_logger(__name__)

# Owner and repository names as GitHub allows them; anything else could escape root.
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
# What git fetch says of a branch the remote lacks, and of a name no ref may have (LC_ALL=C).
_MISSING_BRANCH = re.compile(r"couldn't find remote ref refs/heads/(\S+)")
_INVALID_REFSPEC = "fatal: invalid refspec"
# Characters no ref name may hold: control characters, space, ~ ^ : ? * [ \\ and DEL.
_REF_FORBIDDEN = re.compile(r"[\x00-\x20~^:?*\[\\\x7f]")


@attrs.frozen
class MergedChanges:
    """What merging a PR into its branch changes: the branch head it merged into, the
    paths the merge changes there (both sides of a rename), and the messages of the
    PR's commits the branch lacks, newest first."""

    base: str
    files: tuple[str, ...]
    messages: tuple[str, ...]


class Checkouts:
    def __init__(self, root: Path, git_timeout_seconds: float = 600.0) -> None:
        self.root = root
        self.git_timeout_seconds = git_timeout_seconds
        # Caches this instance found intact, so a job spends no git process on it; a
        # failed git call in one has it checked (and remade if need be) again.
        self._intact: set[Path] = set()

    @classmethod
    def for_process(cls, config: CheckoutConfig, process: str) -> Checkouts:
        """The checkouts of one kind of process, in a directory of its own under `checkout.root`:
        a builder's (where PR code runs) never shares one with a mass-rebuilder's (which
        holds the App's key)."""
        return cls(config.root / process, config.git_timeout_seconds)

    def merge_preview(self, repo: Repo, branch: str, number: int, head_sha: str) -> MergedChanges:
        """What merging PR `number` (at `head_sha`) into `branch` changes, computed in the
        cached clone without a working checkout (see `_Cache.merge_preview`)."""
        cache = self._cache(repo)
        with self._checked_again_on_failure(cache):
            return cache.merge_preview(branch, number, head_sha)

    @contextmanager
    def workdir(self, repo: Repo) -> Iterator[Workdir]:
        """A working checkout of `repo` (from a cached clone per repository under root, updated
        from repo.clone_url), held for this job alone with fcntl.flock: concurrent jobs, in this
        process or others on the machine, get different workdirs, never a shared or corrupt one."""
        cache = self._cache(repo)
        owner, name = cache.path.parent.name, cache.path.name.removesuffix(".git")
        slots = self.root / "work" / owner / name
        slots.mkdir(parents=True, exist_ok=True)
        slot = 0
        while True:
            with flock(slots / f"{slot}.lock", blocking=False) as held:
                if held is not None:
                    log.debug("workdir held", repo=repo.full_name, slot=slot)
                    workdir = Workdir(slots / str(slot), self.root / "build" / owner / name / str(slot), cache, slot, self.git_timeout_seconds)
                    try:
                        with self._checked_again_on_failure(cache):
                            yield workdir
                    finally:
                        workdir.release()
                    return
            slot += 1

    @contextmanager
    def _checked_again_on_failure(self, cache: _Cache) -> Iterator[None]:
        try:
            yield
        except GitError:
            self._intact.discard(cache.path)
            raise

    def _cache(self, repo: Repo) -> _Cache:
        cache = _Cache(self.root / "cache" / _safe(repo.owner), _safe(repo.name), repo.clone_url, self.git_timeout_seconds)
        if cache.path not in self._intact:
            cache.ensure()
            self._intact.add(cache.path)
        return cache


def _safe(component: str) -> str:
    if not _NAME.match(component) or component in (".", ".."):
        raise GitError(f"refusing repository name component {component!r}", retryable=False)
    return component


def _branch_ref(branch: str) -> str:
    """`refs/heads/{branch}`, for a name git's rules (git-check-ref-format(1)) allow a branch:
    never an option, never `a..b`. git's own refspec parser checks again when it fetches."""
    components = branch.split("/")
    if (
        not branch
        or branch == "@"
        or branch.startswith("-")
        or branch.endswith((".", "/"))
        or any(not c or c.startswith(".") or c.endswith(".lock") for c in components)
        or ".." in branch
        or "@{" in branch
        or _REF_FORBIDDEN.search(branch)
    ):
        raise GitError(f"not a branch name: {branch!r}", retryable=False)
    return f"refs/heads/{branch}"


class _Cache:
    """The bare clone of one repository; fetches into it hold its lock."""

    def __init__(self, directory: Path, name: str, clone_url: str, timeout: float) -> None:
        self.path = directory / f"{name}.git"
        self.lock = directory / f"{name}.lock"
        self.clone_url = clone_url
        self.git = Git(self.path, timeout)

    def ensure(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with flock(self.lock, blocking=True):
            if (self.path / "objects").is_dir() and self.git.succeeds("rev-parse", "--git-dir"):
                return
            shutil.rmtree(self.path, ignore_errors=True)
            self.path.mkdir()
            self.git("init", "--quiet", "--bare")

    def fetch(self, *refspecs: str) -> list[str]:
        """Fetch `refspecs` in one go; the commit each gave, in their order. A branch the
        remote lacks is MissingBranch; any other failure a retryable FetchFailed."""
        with flock(self.lock, blocking=True):
            fetched = self.git("fetch", "--quiet", "--no-tags", "--update-head-ok", "--", self.clone_url, *refspecs, check=False)
            if fetched.returncode != 0:
                raise _fetch_failure(fetched)
            # Read under the lock: the next fetch, of any job, rewrites FETCH_HEAD.
            heads = [line.split("\t", 1)[0] for line in (self.path / "FETCH_HEAD").read_text().splitlines() if line]
            self._collect()
        if len(heads) != len(refspecs):
            raise FetchFailed(f"git fetch gave {len(heads)} commits for {len(refspecs)} refs")
        return heads

    def merge_preview(self, branch: str, number: int, head_sha: str) -> MergedChanges:
        """One fetch of the branch and the PR's head, the merge by `git merge-tree`, one diff
        of its tree and one log: a handful of git processes, no worktree written."""
        head = commit_id(head_sha).lower()
        ref = _branch_ref(branch)
        # The PR's head only to FETCH_HEAD: a ref for each PR would make the cache's refs grow.
        base, pr_head = self.fetch(f"+{ref}:{ref}", f"refs/pull/{int(number)}/head")
        if head != pr_head and not self.git.succeeds("merge-base", "--is-ancestor", head, pr_head):
            raise MissingCommit(f"{head} is not in refs/pull/{number}/head")
        with tempfile.TemporaryDirectory(prefix="tickborg-merge-") as scratch:
            # The merge's new trees go to a scratch object store, dropped afterwards: in the
            # cache they would be unreachable objects that only gc's expiry removes.
            env = {"GIT_OBJECT_DIRECTORY": scratch, "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(self.path / "objects")}
            tree = self._merged_tree(base, head, env)
            diff = self.git("diff-tree", "-r", "-z", "--name-only", "--no-renames", base, tree, env=env).stdout
        log_ = self.git("log", "-z", "--format=%B", f"{base}..{head}", "--").stdout
        return MergedChanges(base, tuple(_split(diff)), tuple(m.strip() for m in _split(log_) if m.strip()))

    def _merged_tree(self, base: str, head: str, env: dict[str, str]) -> str:
        merged = self.git("merge-tree", "--write-tree", "-z", "--name-only", "--no-messages", base, head, check=False, env=env)
        fields = _split(merged.stdout)
        if merged.returncode == 0 and fields:
            return fields[0]
        # 1 with a tree and the conflicted paths is a conflict; 1 without a tree, or 128, an error.
        if merged.returncode == 1 and fields:
            raise MergeConflict(f"merging {head} conflicts in: {', '.join(fields[1:21])}")
        if b"unrelated histories" in merged.stderr:
            raise MergeConflict(f"{head} shares no history with {base}")
        raise GitError(failure_message("merge-tree", merged))

    def keep(self, ref: str, sha: str | None) -> None:
        """Point `ref` at `sha` (None: delete it), so what a working checkout rests on stays."""
        with flock(self.lock, blocking=True):
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


def _fetch_failure(fetched: subprocess.CompletedProcess[bytes]) -> GitError:
    """A branch the remote lacks, a name no branch may have (neither worth a retry), or a
    fetch that failed otherwise (network, remote, ...: retryable)."""
    said = fetched.stderr.decode("utf-8", "replace")
    if missing := _MISSING_BRANCH.search(said):
        return MissingBranch(missing.group(1))
    if _INVALID_REFSPEC in said:
        return GitError(failure_message("fetch", fetched), retryable=False)
    return FetchFailed(failure_message("fetch", fetched))


def _split(output: bytes) -> list[str]:
    """git's NUL-separated output, empty fields dropped."""
    return [field for field in output.decode("utf-8", "replace").split("\0") if field]


class Workdir:
    """One working checkout, held by one job."""

    def __init__(self, path: Path, build_path: Path, cache: _Cache, slot: int, timeout: float) -> None:
        self.path = path
        self.build_path = build_path
        self._cache = cache
        self._slot_refs = f"refs/tickborg/slot-{slot}"
        self._git = Git(path, timeout)
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
        """The checked-out files in a directory of their own: the only place a build may
        write. Made fresh from the index and removed afterwards. Its `.git` is the build's
        own (see `_own_git_dir`): git in the build reads the history, and nothing the build
        writes there reaches the checkout trusted git works in."""
        remove_tree(self.build_path)
        self.build_path.mkdir(parents=True)
        try:
            self._git("checkout-index", "--all", "--force", f"--prefix={self.build_path}/")
            self._own_git_dir(self.build_path / ".git")
            yield self.build_path
        finally:
            remove_tree(self.build_path)

    @property
    def object_stores(self) -> tuple[Path, ...]:
        """Where a tree copy's `.git` finds its objects: this checkout's (the merge commit)
        and the cache's. A sandboxed build sees them read-only."""
        return ((self.path / ".git" / "objects").resolve(), (self._cache.path / "objects").resolve())

    def _own_git_dir(self, git_dir: Path) -> None:
        """A repository at the checked-out commit that borrows every object (alternates)
        and writes its own: HEAD, the index and config are copies, made with no git run."""
        (git_dir / "objects" / "info").mkdir(parents=True)
        (git_dir / "refs" / "heads").mkdir(parents=True)
        (git_dir / "objects" / "info" / "alternates").write_text("".join(f"{store}\n" for store in self.object_stores))
        (git_dir / "config").write_text("[core]\n\trepositoryformatversion = 0\n\tbare = false\n")
        head = (self.path / ".git" / "HEAD").read_text()
        # Always detached here (checkout_branch, checkout_commit, merge); else git reads the ref.
        (git_dir / "HEAD").write_text(head if SHA.match(head.strip()) else f"{self._git.text('rev-parse', 'HEAD')}\n")
        if (self.path / ".git" / "index").exists():
            shutil.copyfile(self.path / ".git" / "index", git_dir / "index")

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
        self._fetch(_branch_ref(branch), f"refs/remotes/origin/{branch}")
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
        if not SHA.match(sha) or not self._git.succeeds("cat-file", "-e", f"{sha}^{{commit}}"):
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

    def _require(self, sha: str) -> None:
        if not self.has_commit(sha):
            raise MissingCommit(f"commit {sha} is not in the fetched refs")


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
