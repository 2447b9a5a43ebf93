"""The commit statuses and labels other workers send the reporter to write.

The reporter is the fleet's one GitHub writer (docs/architecture.md, "GitHub
writes"): the mass-rebuilder decides an evaluation's `tickborg-eval` status
and its labels, and sends them here as messages.

A status context's writes arrive out of order (messages handled side by side)
and more than once (a redelivered evaluation). Each is written only when it is
newer than the last this reporter wrote for its context and says something
else. A context this reporter has not written yet (it just took over) is
checked against what GitHub shows: the same status again is not written, and
a progress step is not written over an evaluation's outcome.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol, Sequence, cast

from tickborg.github.bodies import StatusState
from tickborg.github.models import Status
from tickborg.messages import CommitStatusWrite, LabelsWrite
from tickborg.reporter.coalesce import REMEMBERED_RESULTS, StripedLocks

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


def status_skip(write: CommitStatusWrite, last: CommitStatusWrite | None, shown: Status | None) -> str | None:
    """Why `write` is not to be written (None: write it). `last` is the newest write of
    its context this reporter made; `shown`, read only without one, GitHub's."""
    if last is not None:
        if write.at < last.at:
            return f"older than the {last.state} status written after it"
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
        self._latest: OrderedDict[StatusKey, CommitStatusWrite] = OrderedDict()
        self._memory = threading.Lock()

    def status(self, write: CommitStatusWrite) -> str:
        what = f"{write.context} {write.state} on {write.sha[:12]}"
        with self._locks.holding(write.key):
            with self._memory:
                last = self._latest.get(write.key)
            shown = None if last is not None else shown_status(self._github.list_statuses(write.repo, write.sha), write.context)
            skip = status_skip(write, last, shown)
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

    def _remember(self, write: CommitStatusWrite) -> None:
        with self._memory:
            self._latest[write.key] = write
            self._latest.move_to_end(write.key)
            while len(self._latest) > self._remembered:
                self._latest.popitem(last=False)
