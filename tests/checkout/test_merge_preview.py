"""The evaluation's merge, computed in the clone cache without a working checkout
(`Checkouts.merge_preview`), against a real local origin."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support.gitrepo import Origin, git

from tickborg.checkout import Checkouts, MergedChanges
from tickborg.git import FetchFailed, GitError, MergeConflict, MissingBranch, MissingCommit


def cache_of(checkouts: Checkouts) -> Path:
    return checkouts.root / "cache" / "tick-org" / "monorepo.git"


def test_the_merge_names_what_it_changes_on_the_moved_branch(origin: Origin, checkouts: Checkouts) -> None:
    head = origin.open_pr(7, "main", {"libbar/bar.c": "int bar2;\n", "libbar/new.c": "x\n"}, "libbar: change")
    main_moved = origin.commit("main", {"libfoo/foo.c": "int foo3;\n"}, "unrelated")
    merged = checkouts.merge_preview(origin.repo(), "main", 7, head)
    assert merged == MergedChanges(main_moved, ("libbar/bar.c", "libbar/new.c"), ("libbar: change",))


def test_both_sides_of_a_rename_odd_names_and_every_message(origin: Origin, checkouts: Checkouts) -> None:
    origin.commit("pr-3", {"libfoo/foo.c": None, "libbar/foo.c": "int foo;\n", "docs/a b\u00e9.md": "x"}, "feat(libbar): move\n\nbody", parent=origin.head("main"))
    head = origin.commit("pr-3", {"ci/run": "x"}, "second")
    origin.set_pr_head(3, head)
    merged = checkouts.merge_preview(origin.repo(), "main", 3, head)
    assert sorted(merged.files) == ["ci/run", "docs/a b\u00e9.md", "libbar/foo.c", "libfoo/foo.c"]
    assert merged.messages == ("second", "feat(libbar): move\n\nbody")


def test_a_change_the_branch_already_has_is_not_the_prs(origin: Origin, checkouts: Checkouts) -> None:
    head = origin.open_pr(5, "main", {"libfoo/foo.c": "int same;\n", "libbar/bar.c": "int pr;\n"}, "pr")
    origin.commit("main", {"libfoo/foo.c": "int same;\n"}, "the same change, landed first")
    assert checkouts.merge_preview(origin.repo(), "main", 5, head).files == ("libbar/bar.c",)


def test_a_conflict_names_its_paths_and_is_not_retryable(origin: Origin, checkouts: Checkouts) -> None:
    head = origin.open_pr(8, "main", {"libfoo/foo.c": "int theirs;\n"}, "theirs")
    origin.commit("main", {"libfoo/foo.c": "int ours;\n"}, "ours")
    with pytest.raises(MergeConflict, match="libfoo/foo.c") as caught:
        checkouts.merge_preview(origin.repo(), "main", 8, head)
    assert not caught.value.retryable


def test_unrelated_histories_do_not_merge(origin: Origin, checkouts: Checkouts) -> None:
    orphan = origin.commit("orphan", {"other.c": "x\n"}, "no common history")
    origin.set_pr_head(6, orphan)
    with pytest.raises(MergeConflict, match="no history"):
        checkouts.merge_preview(origin.repo(), "main", 6, orphan)


def test_a_base_branch_the_remote_lacks_is_named_and_not_retried(origin: Origin, checkouts: Checkouts) -> None:
    head = origin.open_pr(2, "main", {"libfoo/foo.c": "x\n"}, "pr")
    with pytest.raises(MissingBranch) as caught:
        checkouts.merge_preview(origin.repo(), "release-9", 2, head)
    assert str(caught.value) == "Base branch release-9 not found"
    assert not caught.value.retryable


def test_a_pr_ref_the_remote_lacks_is_a_retryable_fetch_failure(origin: Origin, checkouts: Checkouts) -> None:
    # GitHub makes refs/pull/N/head a moment after the webhook: worth another try.
    with pytest.raises(FetchFailed) as caught:
        checkouts.merge_preview(origin.repo(), "main", 404, "a" * 40)
    assert caught.value.retryable


def test_an_older_head_of_the_pr_still_merges_and_a_force_pushed_one_does_not(origin: Origin, checkouts: Checkouts) -> None:
    first = origin.open_pr(9, "main", {"libfoo/foo.c": "one\n"}, "one")
    second = origin.commit("pr-9", {"libbar/bar.c": "two\n"}, "two")
    origin.set_pr_head(9, second)
    # The webhook named the first head; the PR has moved on since: that head is still in it.
    assert checkouts.merge_preview(origin.repo(), "main", 9, first).files == ("libfoo/foo.c",)
    origin.open_pr(9, "main", {"libfoo/foo.c": "rewritten\n"}, "rewritten")
    for gone in (second, "0" * 40):
        with pytest.raises(MissingCommit):
            checkouts.merge_preview(origin.repo(), "main", 9, gone)


@pytest.mark.parametrize("head", ["--output=x", "HEAD", ""])
def test_a_head_that_is_not_a_commit_id_is_refused_before_git_sees_it(origin: Origin, checkouts: Checkouts, head: str) -> None:
    origin.open_pr(4, "main", {"libfoo/foo.c": "x\n"}, "pr")
    with pytest.raises(MissingCommit):
        checkouts.merge_preview(origin.repo(), "main", 4, head)


@pytest.mark.parametrize(
    "branch", ["--upload-pack=touch /tmp/pwned", "-x", "a..b", "bad branch", "a/.b", "a.lock", "x/", "@", "a@{1}", "a~1", "a:b", "x//y", ""]
)
def test_branch_names_git_would_misread_are_refused(origin: Origin, checkouts: Checkouts, branch: str) -> None:
    with pytest.raises(GitError) as caught:
        checkouts.merge_preview(origin.repo(), branch, 1, "a" * 40)
    assert not caught.value.retryable


def test_the_cache_keeps_no_ref_and_no_merge_tree_per_pull_request(origin: Origin, checkouts: Checkouts) -> None:
    heads = [origin.open_pr(n, "main", {f"libfoo/pr{n}.c": f"int pr{n};\n"}, f"pr {n}") for n in range(1, 21)]
    origin.commit("main", {"libbar/bar.c": "int moved;\n"}, "main moves: each merge is a new tree")
    for number, head in enumerate(heads, start=1):
        checkouts.merge_preview(origin.repo(), "main", number, head)
    cache = cache_of(checkouts)
    assert git(cache, "for-each-ref", "--format=%(refname)").splitlines() == ["refs/heads/main"]
    # The merges' own trees went to scratch stores, dropped afterwards.
    merged = git(origin.path, "merge-tree", "--write-tree", "main", heads[-1])
    assert subprocess.run(["git", "cat-file", "-e", merged], cwd=cache, check=False).returncode != 0
    assert not checkouts.root.joinpath("work").exists()


def test_a_branch_name_with_slashes_and_dots_is_a_branch(origin: Origin, checkouts: Checkouts) -> None:
    origin.commit("release/1.x", {"libfoo/foo.c": "int foo_1x;\n"}, "release branch", parent=origin.head("main"))
    head = origin.commit("pr-12", {"libbar/bar.c": "int fix;\n"}, "fix", parent=origin.head("release/1.x"))
    origin.set_pr_head(12, head)
    assert checkouts.merge_preview(origin.repo(), "release/1.x", 12, head).files == ("libbar/bar.c",)
