"""The commit statuses and labels other workers send the reporter to write.

The reporter is the fleet's one GitHub writer (docs/architecture.md, "GitHub
writes"): the mass-rebuilder decides an evaluation's `tickborg-eval` status
and its labels, and sends them here as messages.

A status context's writes arrive out of order (messages handled side by side,
retries) and more than once (a redelivered evaluation). Each is written only
when no newer one of its context has come (a retried progress step whose
outcome came meanwhile is dropped, not retried) and it says something else
than the last this reporter wrote. A context this reporter has not written yet
(it just took over) is checked against what GitHub shows: the same status
again is not written, and a progress step is not written over an
evaluation's outcome.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol, Sequence, cast

from tickborg.github.bodies import StatusState
from tickborg.github.models import Status
from tickborg.messages import CommitStatusWrite, LabelsWrite
from tickborg.reporter.coalesce import REMEMBERED_RESULTS, StripedLocks, remember

StatusKey = tuple[str, str, str]


class StatusesAndLabels(Protocol):
    """The status and label calls the writer makes (`GitHubClient` provides them)."""

    def list_statuses(self, repo: str, ref: str) -> list[Status]: ...

    def create_status(
        self, repo: str, sha: str, state: StatusState, context: str, description: str = "", target_url: str | None = None
    ) -> Status: ...

    def add_labels(self, repo: str, number: int, labels: tuple[str, ...]) -> tuple[str, ...]: ...

    def remove_label(self, repo: str, number: int, label: str) -> None: ...


def shown_status(statuses: Sequence[Status], context: str) -> Status | None:
    """The status GitHub shows for `context`: the newest, which GitHub lists first."""
    return next((s for s in statuses if s.context == context), None)


def _says(write: CommitStatusWrite) -> tuple[str, str, str | None]:
    return (write.state, write.description, write.target_url)


def status_skip(
    write: CommitStatusWrite, newest: float, last: CommitStatusWrite | None, shown: Status | None
) -> str | None:
    """Why `write` is not to be written (None: write it). `newest` is the latest `at` of
    its context this reporter has had to write; `last`, the newest write of it that it
    made; `shown`, read only without one, GitHub's."""
    if write.at < newest:
        return "superseded: a newer status of its context came"
    if last is not None:
        return "shown already" if _says(write) == _says(last) else None
    if shown is None:
        return None
    if (shown.state, shown.description or "", shown.target_url) == _says(write):
        return "shown already"
    if write.state == "pending" and shown.state != "pending":
        return f"a progress step, and GitHub shows the evaluation's outcome ({shown.state})"
    return None


class GitHubWriter:
    """Writes statuses (in order, once) and labels to GitHub."""

    def __init__(self, github: StatusesAndLabels, locks: StripedLocks, remembered: int = REMEMBERED_RESULTS) -> None:
        self._github = github
        self._locks = locks
        self._remembered = remembered
        self._latest: OrderedDict[StatusKey, CommitStatusWrite] = OrderedDict()  # written
        self._newest: OrderedDict[StatusKey, float] = OrderedDict()  # come
        self._memory = threading.Lock()

    def status(self, write: CommitStatusWrite) -> str:
        what = f"{write.context} {write.state} on {write.sha[:12]}"
        self._came(write)
        with self._locks.holding(write.key):
            with self._memory:  # what came while this write waited for the lock counts
                last = self._latest.get(write.key)
                newest = self._newest.get(write.key, write.at)
            shown = None if last is not None else shown_status(self._github.list_statuses(write.repo, write.sha), write.context)
            skip = status_skip(write, newest, last, shown)
            if skip is not None:
                return f"{what}: not written, {skip}"
            state = cast(StatusState, write.state)  # one of them: checked when decoded
            self._github.create_status(write.repo, write.sha, state, write.context, write.description, write.target_url)
            self._remember(write)
        return f"{what}: written"

    def labels(self, write: LabelsWrite) -> str:
        self._github.add_labels(write.repo, write.number, write.add)
        for label in write.remove:
            self._github.remove_label(write.repo, write.number, label)
        return f"labels of #{write.number}: added {list(write.add)}, removed {list(write.remove)}"

    def _came(self, write: CommitStatusWrite) -> None:
        with self._memory:
            remember(self._newest, write.key, max(write.at, self._newest.get(write.key, write.at)), self._remembered)

    def _remember(self, write: CommitStatusWrite) -> None:
        with self._memory:
            remember(self._latest, write.key, write, self._remembered)
