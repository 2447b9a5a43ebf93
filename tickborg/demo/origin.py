"""A real local "origin": a bare repository with branches and `refs/pull/N/head`
refs as GitHub keeps them, built through a scratch clone. Its path is the clone_url.

The demo's sample monorepo lives in one; the tests build theirs with it too."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from tickborg.messages import Repo

_ENV = {
    **os.environ,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.org",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.org",
}


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env=_ENV, check=True, capture_output=True, text=True)
    return done.stdout.strip()


class Origin:
    """The bare repository at `path` and a scratch clone that writes to it."""

    def __init__(self, root: Path, default_branch: str = "main") -> None:
        self.path = root / "origin.git"
        self.scratch = root / "origin-scratch"
        self.path.mkdir(parents=True)
        git(self.path, "init", "--quiet", "--bare", f"--initial-branch={default_branch}")
        self.scratch.mkdir()
        git(self.scratch, "init", "--quiet", f"--initial-branch={default_branch}")
        git(self.scratch, "remote", "add", "origin", str(self.path))

    def repo(self, owner: str = "tick-org", name: str = "monorepo") -> Repo:
        return Repo(owner=owner, name=name, full_name=f"{owner}/{name}", clone_url=str(self.path))

    def commit(self, branch: str, files: Mapping[str, str | None], message: str, parent: str | None = None) -> str:
        """Commit `files` (None deletes) on `branch` (started at `parent` when given),
        push the branch; the new commit's sha."""
        if parent is not None:
            git(self.scratch, "checkout", "--quiet", "-B", branch, parent)
        elif git(self.scratch, "branch", "--list", branch):
            git(self.scratch, "checkout", "--quiet", branch)
        else:
            git(self.scratch, "checkout", "--quiet", "--orphan", branch)
        for name, text in files.items():
            target = self.scratch / name
            if text is None:
                git(self.scratch, "rm", "--quiet", name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            git(self.scratch, "add", name)
        git(self.scratch, "commit", "--quiet", "-m", message)
        git(self.scratch, "push", "--quiet", "--force", "origin", f"{branch}:refs/heads/{branch}")
        return self.head(branch)

    def head(self, branch: str) -> str:
        return git(self.path, "rev-parse", f"refs/heads/{branch}")

    def open_pr(self, number: int, base: str, files: Mapping[str, str | None], message: str) -> str:
        """A PR branch off `base` with one commit, published as refs/pull/{number}/head; its sha."""
        sha = self.commit(f"pr-{number}", files, message, parent=self.head(base))
        self.set_pr_head(number, sha)
        return sha

    def set_pr_head(self, number: int, sha: str) -> None:
        git(self.path, "update-ref", f"refs/pull/{number}/head", sha)
