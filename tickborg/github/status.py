"""`CommitStatus`: one status context on one commit, as ofborg/tickborg use it.

The mass-rebuilder moves a single context (`tickborg-eval`) through its steps;
this value remembers repo, commit, context and link so each step only names
the new state and description. It writes nothing itself: each step is a
`CommitStatusWrite` handed to a `StatusWriter` (the status reporter, the
fleet's one GitHub writer, writes it).
"""

from __future__ import annotations

import time
from typing import Callable, Protocol

import attrs

from tickborg.github.bodies import StatusState
from tickborg.messages import CommitStatusWrite


class StatusWriter(Protocol):
    def status(self, write: CommitStatusWrite) -> object: ...


@attrs.frozen
class CommitStatus:
    repo: str  # owner/name
    sha: str
    context: str
    description: str = ""
    target_url: str | None = None

    def with_url(self, target_url: str | None) -> CommitStatus:
        return attrs.evolve(self, target_url=target_url)

    def write(self, state: StatusState, at: float) -> CommitStatusWrite:
        return CommitStatusWrite(self.repo, self.sha, self.context, state, self.description, self.target_url, at)

    def set(
        self,
        writer: StatusWriter,
        state: StatusState,
        description: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> CommitStatus:
        """Send `state` (with a new description if given); the status as now shown.

        The description is cut to GitHub's 140 characters when written.
        """
        shown = self if description is None else attrs.evolve(self, description=description)
        writer.status(shown.write(state, clock()))
        return shown
