"""What host git trusts, and what it keeps: nothing planted in a working checkout's
`.git` runs, a build gets a copy of the tree with a `.git` of its own, and the clone cache's
refs and objects stay bounded however many pull requests pass through it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from support.gitrepo import Origin, git

from tickborg import git as trusted_git
from tickborg.checkout import Checkouts, remove_tree
from tickborg.config import CheckoutConfig

def plant(git_dir: Path, marker: Path) -> None:
    """What a hostile writer of `.git` would leave: hooks git runs on checkout, merge and
    ref updates, a hooks directory named in the config, and an fsmonitor command."""
    script = f"#!/bin/sh\necho \"$0 ran as $(id -u)\" >> {marker}\n"
    elsewhere = git_dir.parent / "planted-hooks"
    for directory in (git_dir / "hooks", elsewhere):
        directory.mkdir(exist_ok=True)
        for hook in ("post-checkout", "post-merge", "reference-transaction", "pre-merge-commit", "commit-msg"):
            (directory / hook).write_text(script)
            (directory / hook).chmod(0o755)
    monitor = git_dir.parent / "monitor.sh"
    monitor.write_text(script)
    monitor.chmod(0o755)
    with open(git_dir / "config", "a") as config:
        config.write(f"[core]\n\thooksPath = {elsewhere}\n\tfsmonitor = {monitor}\n")


def test_nothing_planted_in_a_checkouts_git_dir_runs(origin: Origin, checkouts: Checkouts, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    head = origin.open_pr(3, "main", {"libfoo/foo.c": "int foo2;\n"}, "pr")
    with checkouts.workdir(origin.repo()) as wd:
        wd.checkout_branch("main")
        plant(wd.path / ".git", marker)
    with checkouts.workdir(origin.repo()) as wd:
        wd.checkout_branch("main")
        wd.fetch_pr(3)
        wd.merge(head)
        with wd.tree_copy():
            pass
    assert not marker.exists(), marker.read_text()


def test_git_gets_none_of_the_callers_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", "/run/credentials/tickborg@builder.service")
    monkeypatch.setenv("GIT_DIR", "/elsewhere")
    monkeypatch.setenv("https_proxy", "http://proxy:3128")
    env = trusted_git.environment()
    assert "CREDENTIALS_DIRECTORY" not in env and "GIT_DIR" not in env
    assert env["https_proxy"] == "http://proxy:3128"  # reaching the origin still works
    assert env["GIT_CONFIG_NOSYSTEM"] == "1" and env["GIT_CONFIG_GLOBAL"] == os.devnull


def test_a_build_gets_a_fresh_copy_with_a_git_dir_of_its_own(origin: Origin, checkouts: Checkouts) -> None:
    head = origin.open_pr(5, "main", {"libfoo/foo.c": "int pr;\n"}, "pr: change foo")
    with checkouts.workdir(origin.repo()) as wd:
        wd.checkout_branch("main")
        wd.fetch_pr(5)
        wd.merge(head)
        merge = git(wd.path, "rev-parse", "HEAD")
        with wd.tree_copy() as tree:
            assert tree != wd.path
            assert sorted(p.name for p in tree.iterdir()) == [".git", "README.md", "libbar", "libfoo"]
            assert (tree / "libfoo" / "foo.c").read_text() == "int pr;\n"
            # git in the build sees the merge and its history, and a clean tree.
            assert git(tree, "rev-parse", "HEAD") == merge
            assert git(tree, "log", "--format=%s", "-1", head) == "pr: change foo"
            assert git(tree, "status", "--porcelain") == ""
            (tree / "left-by-the-build").write_text("x")
            git(tree, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "--quiet", "--allow-empty", "-m", "the build's")
            plant(tree / ".git", tree / "marker")
            (tree / "libfoo").chmod(0o000)  # a build may leave what it cannot even list
        assert not tree.exists()
        assert git(wd.path, "status", "--porcelain", "--untracked-files=all") == ""
        assert git(wd.path, "rev-parse", "HEAD") == merge
    with checkouts.workdir(origin.repo()) as wd:
        wd.checkout_branch("main")
        with wd.tree_copy() as again:
            assert again == tree
            assert not (again / "left-by-the-build").exists()
            assert git(again, "rev-parse", "HEAD") == origin.head("main")


def test_a_copy_left_by_a_killed_build_is_gone_before_the_next_job(origin: Origin, checkouts: Checkouts) -> None:
    with checkouts.workdir(origin.repo()) as wd:
        left = wd.build_path
    (left / ".git" / "hooks").mkdir(parents=True)
    with checkouts.workdir(origin.repo()) as wd:
        assert wd.build_path == left and not left.exists()


def test_remove_tree_never_follows_a_symlink_out(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "link").symlink_to(outside)
    (tree / "link").symlink_to(outside / "keep")
    remove_tree(tree)
    assert not tree.exists() and (outside / "keep").read_text() == "x"


def test_each_process_kind_has_its_own_directory(tmp_path: Path) -> None:
    config = CheckoutConfig(root=tmp_path, git_timeout_seconds=30)
    builder, rebuilder = Checkouts.for_process(config, "builder"), Checkouts.for_process(config, "mass-rebuilder")
    assert builder.root == tmp_path / "builder" and rebuilder.root == tmp_path / "mass-rebuilder"
    assert builder.git_timeout_seconds == 30


def cache_of(checkouts: Checkouts) -> Path:
    return checkouts.root / "cache" / "tick-org" / "monorepo.git"


def test_the_cache_keeps_no_ref_per_pull_request(origin: Origin, checkouts: Checkouts) -> None:
    for number in range(1, 31):
        head = origin.open_pr(number, "main", {f"libfoo/pr{number}.c": f"int pr{number};\n"}, f"pr {number}")
        with checkouts.workdir(origin.repo()) as wd:
            wd.checkout_branch("main")
            wd.fetch_pr(number)
            wd.merge(head)
    refs = git(cache_of(checkouts), "for-each-ref", "--format=%(refname)").splitlines()
    assert refs == ["refs/heads/main", "refs/tickborg/slot-0/rest"]
    # The working checkout rests at the branch head, with no fetched ref of its own left.
    assert git(wd.path, "rev-parse", "HEAD") == origin.head("main")
    assert git(wd.path, "for-each-ref", "--format=%(refname)") == ""


def test_the_cache_collects_what_no_checkout_needs(origin: Origin, checkouts: Checkouts) -> None:
    with checkouts.workdir(origin.repo()) as wd:
        wd.checkout_branch("main")
    cache = cache_of(checkouts)
    # The operator's knobs are git's own, in the cache's config; here: collect at once.
    for key, value in {"gc.auto": "1", "gc.autoPackLimit": "1", "gc.pruneExpire": "now", "fetch.unpackLimit": "1"}.items():
        git(cache, "config", key, value)
    blobs = []
    for number in range(1, 11):
        text = f"only in pr {number}\n"
        head = origin.open_pr(number, "main", {"libfoo/only.c": text}, f"pr {number}")
        blobs.append(git(origin.scratch, "rev-parse", f"{head}:libfoo/only.c"))
        with checkouts.workdir(origin.repo()) as wd:
            wd.checkout_branch("main")
            wd.fetch_pr(number)
            wd.merge(head)
    packs = list((cache / "objects" / "pack").glob("*.pack"))
    assert len(packs) <= 2
    assert [blob for blob in blobs[:-1] if has_object(cache, blob)] == []  # earlier PRs' objects are gone
    assert has_object(cache, blobs[-1])  # the last PR's stays until the next collection
    with checkouts.workdir(origin.repo()) as wd:
        assert wd.checkout_branch("main") == origin.head("main")


def has_object(repository: Path, sha: str) -> bool:
    return subprocess.run(["git", "cat-file", "-e", sha], cwd=repository, capture_output=True).returncode == 0
