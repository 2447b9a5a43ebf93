"""The messages the status reporter reads, built for one PR (or push) of the fake's test repository."""

from __future__ import annotations

import uuid
from typing import Sequence

from tickborg.fakegithub.testing import TEST_REPO
from tickborg.messages import (
    AnyBuildStatus,
    BuildJob,
    BuildLogStart,
    BuildResult,
    BuildStatus,
    LegacyStatus,
    Pr,
    PushTrigger,
    QueuedBuildJobs,
    Repo,
)

OWNER, NAME = TEST_REPO.split("/")
REPO = Repo(owner=OWNER, name=NAME, full_name=TEST_REPO, clone_url=f"https://github.com/{TEST_REPO}.git")
PR_NUMBER = 17
HEAD_SHA = "8f3a1c2d4e5b6a7980f1e2d3c4b5a69788796a5b"
PUSH_SHA = "0d1c2b3a4958677685a4b3c2d1e0f9e8d7c6b5a4"
SYSTEM = "x86_64-linux"
REQUEST_ID = "6b0f8e7e-2f57-4a53-9a0e-3c1d2b4a5f60"
PR = Pr(target_branch="main", number=PR_NUMBER, head_sha=HEAD_SHA)
PUSH = PushTrigger(head_sha=PUSH_SHA, branch="release/1.x", before_sha="1" * 40)


def job(
    attrs: Sequence[str] = ("libfoo",),
    push: PushTrigger | None = None,
    request_id: str = REQUEST_ID,
    head_sha: str = HEAD_SHA,
) -> BuildJob:
    if push is not None:
        return BuildJob.for_push(REPO, push, attrs, request_id=request_id)
    return BuildJob.for_pr(REPO, Pr(PR.target_branch, PR_NUMBER, head_sha), attrs, request_id=request_id)


def queued(build: BuildJob | None = None, systems: Sequence[str] = (SYSTEM,)) -> QueuedBuildJobs:
    return QueuedBuildJobs(build or job(), tuple(systems))


def start(build: BuildJob | None = None, system: str = SYSTEM, skipped: Sequence[str] = (), named: bool = True) -> BuildLogStart:
    """The start a builder announces; `named=False` is the plain log copy, which names no job."""
    build = build or job()
    attempted = tuple(a for a in build.attrs if a not in skipped)
    return BuildLogStart(
        system=system,
        identity="builder-01",
        attempt_id=str(uuid.uuid4()),
        attempted_attrs=attempted,
        skipped_attrs=tuple(skipped),
        repo=build.repo if named else None,
        pr=build.pr if named else None,
        push=build.push if named else None,
        request_id=build.request_id if named else None,
    )


def result(
    status: AnyBuildStatus = BuildStatus.SUCCESS,
    build: BuildJob | None = None,
    system: str = SYSTEM,
    output: Sequence[str] = ("[100%] Built target foo", "ok"),
    skipped: Sequence[str] = (),
    legacy: LegacyStatus | None = None,
) -> BuildResult:
    build = build or job()
    return BuildResult(
        repo=build.repo,
        pr=build.pr,
        system=system,
        output=tuple(output),
        attempt_id=str(uuid.uuid4()),
        request_id=build.request_id,
        status=status,
        skipped_attrs=tuple(skipped),
        attempted_attrs=tuple(a for a in build.attrs if a not in skipped),
        push=build.push,
        legacy=legacy,
    )
