"""Checkouts against a real local origin repository (tests/support/gitrepo.py)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from support.gitrepo import Origin, git

from tickborg.checkout import Checkouts, MergedChanges
from tickborg.git import FetchFailed, GitError, MergeConflict, MissingBranch, MissingCommit


def status(path: Path) -> str:
    return git(path, "status", "--porcelain", "--untracked-files=all")


def test_checkout_branch_gives_a_clean_tree_at_the_branch_head(origin: Origin, checkouts: Checkouts) -> None:
    with checkouts.workdir(origin.repo()) as wd:
        assert wd.checkout_branch("main") == origin.head("main")
        assert (wd.path / "libfoo" / "foo.c").read_text() == "int foo;\n"
        (wd.path / "leftover.o").write_text("junk")
        (wd.path / "README.md").write_text("edited")
    newer = origin.commit("main", {"libfoo/foo.c": "int foo2;\n"}, "newer")
    with checkouts.workdir(origin.repo()) as wd:
        assert wd.checkout_branch("main") == newer
        assert not (wd.path / "leftover.o").exists()
        assert (wd.path / "README.md").read_text() == "monorepo\n"
        assert (wd.path / "libfoo" / "foo.c").read_text() == "int foo2;\n"
        assert status(wd.path) == ""


def test_fetch_pr_and_merge(origin: Origin, checkouts: Checkouts) -> None:
    head = origin.open_pr(7, "main", {"libbar/bar.c": "int bar2;\n", "libbar/new.c": "x\n"}, "libbar: change")
    main_moved = origin.commit("main", {"libfoo/foo.c": "int foo3;\n"}, "unrelated")
    with checkouts.workdir(origin.repo()) as wd:
        base = wd.checkout_branch("main")
        assert base == main_moved
        wd.fetch_pr(7)
        assert wd.has_commit(head)
        wd.merge(head)
        assert (wd.path / "libbar" / "new.c").read_text() == "x\n"
        assert (wd.path / "libfoo" / "foo.c").read_text() == "int foo3;\n"


def test_merge_conflict_is_not_retryable_and_leaves_the_workdir_clean(origin: Origin, checkouts: Checkouts) -> None:
    head = origin.open_pr(8, "main", {"libfoo/foo.c": "int theirs;\n"}, "theirs")
    origin.commit("main", {"libfoo/foo.c": "int ours;\n"}, "ours")
    with checkouts.workdir(origin.repo()) as wd:
        wd.checkout_branch("main")
        wd.fetch_pr(8)
        with pytest.raises(MergeConflict) as caught:
            wd.merge(head)
        assert not caught.value.retryable
        assert "libfoo/foo.c" in str(caught.value)
        assert status(wd.path) == ""
        assert not (wd.path / ".git" / "MERGE_HEAD").exists()
        assert (wd.path / "libfoo" / "foo.c").read_text() == "int ours;\n"


def test_a_force_pushed_away_head_is_a_missing_commit(origin: Origin, checkouts: Checkouts) -> None:
    old = origin.open_pr(9, "main", {"libfoo/foo.c": "old\n"}, "old")
    with checkouts.workdir(origin.repo()) as wd:
        wd.checkout_branch("main")
        wd.fetch_pr(9)
        assert wd.has_commit(old)
    origin.open_pr(9, "main", {"libfoo/foo.c": "new\n"}, "new")
    with checkouts.workdir(origin.repo()) as wd:
        wd.checkout_branch("main")
        wd.fetch_pr(9)
        # Still in the object store from the first fetch, but no longer in the PR's refs.
        assert not wd.has_commit(old)
        assert not wd.has_commit("0" * 40)
        assert not wd.has_commit("--help")
        with pytest.raises(MissingCommit) as caught:
            wd.merge(old)
        assert not caught.value.retryable


def test_checkout_commit_for_a_push_build(origin: Origin, checkouts: Checkouts) -> None:
    first = origin.head("main")
    origin.commit("main", {"libfoo/foo.c": "later\n"}, "later")
    with checkouts.workdir(origin.repo()) as wd:
        wd.checkout_branch("main")
        wd.checkout_commit(first)
        assert git(wd.path, "rev-parse", "HEAD") == first
        assert (wd.path / "libfoo" / "foo.c").read_text() == "int foo;\n"
        with pytest.raises(MissingCommit):
            wd.checkout_commit("1" * 40)


def test_concurrent_workdirs_in_one_process_are_distinct(origin: Origin, checkouts: Checkouts) -> None:
    with checkouts.workdir(origin.repo()) as a, checkouts.workdir(origin.repo()) as b:
        assert a.path != b.path
        a.checkout_branch("main")
        b.checkout_branch("main")
    with checkouts.workdir(origin.repo()) as again:
        assert again.path == a.path


def test_concurrent_threads_never_share_a_workdir(origin: Origin, checkouts: Checkouts) -> None:
    held: list[Path] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def job() -> None:
        try:
            with checkouts.workdir(origin.repo()) as wd:
                wd.checkout_branch("main")
                held.append(wd.path)
                barrier.wait(timeout=60)
        except Exception as exc:  # noqa: BLE001 - asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=job) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(set(held)) == 3


HOLDER = """
import sys
from pathlib import Path
from tickborg.checkout import Checkouts
from tickborg.messages import Repo
repo = Repo(owner="tick-org", name="monorepo", full_name="tick-org/monorepo", clone_url=sys.argv[2])
with Checkouts(Path(sys.argv[1])).workdir(repo) as wd:
    wd.checkout_branch("main")
    print(wd.path, flush=True)
    sys.stdin.readline()
"""


@pytest.fixture
def other_process_holding(origin: Origin, checkouts: Checkouts) -> Iterator[Path]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(checkouts.root), str(origin.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        yield Path(proc.stdout.readline().strip())
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)


def test_a_workdir_held_by_another_process_is_not_taken(origin: Origin, checkouts: Checkouts, other_process_holding: Path) -> None:
    with checkouts.workdir(origin.repo()) as wd:
        assert wd.path != other_process_holding
        wd.checkout_branch("main")


def test_a_killed_job_leaves_nothing_that_breaks_the_next(origin: Origin, checkouts: Checkouts) -> None:
    head = origin.open_pr(4, "main", {"libfoo/foo.c": "pr\n"}, "pr")
    with checkouts.workdir(origin.repo()) as wd:
        wd.checkout_branch("main")
        path = wd.path
    # What a SIGKILLed git leaves behind: a lock file and a half-done merge.
    (path / ".git" / "index.lock").write_text("")
    with checkouts.workdir(origin.repo()) as wd:
        assert wd.path == path
        wd.checkout_branch("main")
        wd.fetch_pr(4)
        wd.merge(head)


def test_a_corrupt_workdir_is_recreated(origin: Origin, checkouts: Checkouts) -> None:
    with checkouts.workdir(origin.repo()) as wd:
        wd.checkout_branch("main")
        path = wd.path
    (path / ".git" / "HEAD").write_text("garbage")
    with checkouts.workdir(origin.repo()) as wd:
        assert wd.checkout_branch("main") == origin.head("main")


def test_an_unreachable_remote_is_a_retryable_fetch_failure(tmp_path: Path, origin: Origin, checkouts: Checkouts) -> None:
    gone = attrs.evolve(origin.repo(), clone_url=str(tmp_path / "nowhere.git"))
    with checkouts.workdir(gone) as wd:
        with pytest.raises(FetchFailed) as caught:
            wd.checkout_branch("main")
        assert caught.value.retryable


def test_a_pr_ref_the_remote_lacks_is_a_fetch_failure(origin: Origin, checkouts: Checkouts) -> None:
    with checkouts.workdir(origin.repo()) as wd:
        wd.checkout_branch("main")
        with pytest.raises(FetchFailed):
            wd.fetch_pr(404)


@pytest.fixture
def silent_git_server() -> Iterator[str]:
    """A git:// server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield f"git://127.0.0.1:{server.getsockname()[1]}/monorepo.git"
    server.close()


def test_a_hanging_remote_times_out_as_a_retryable_fetch_failure(origin: Origin, tmp_path: Path, silent_git_server: str) -> None:
    checkouts = Checkouts(tmp_path / "checkouts", git_timeout_seconds=1)
    hanging = attrs.evolve(origin.repo(), clone_url=silent_git_server)
    with checkouts.workdir(hanging) as wd:
        started = time.monotonic()
        with pytest.raises(FetchFailed, match="timed out") as caught:
            wd.checkout_branch("main")
        assert caught.value.retryable
        assert time.monotonic() - started < 30


@pytest.mark.parametrize("owner,name", [("..", "x"), ("a/b", "x"), ("ok", "../../etc"), ("ok", "")])
def test_repository_names_that_would_escape_the_root_are_refused(origin: Origin, checkouts: Checkouts, owner: str, name: str) -> None:
    bad = attrs.evolve(origin.repo(), owner=owner, name=name)
    with pytest.raises(GitError) as caught, checkouts.workdir(bad):
        pass
    assert not caught.value.retryable


@pytest.mark.parametrize("branch", ["--upload-pack=touch /tmp/pwned", "a..b", "bad branch"])
def test_branch_names_git_would_misread_are_refused(origin: Origin, checkouts: Checkouts, branch: str) -> None:
    with checkouts.workdir(origin.repo()) as wd:
        with pytest.raises(GitError) as caught:
            wd.checkout_branch(branch)
        assert not caught.value.retryable
