"""`CommitStatus`: one status context on one commit, as ofborg/tickborg use it.

The mass-rebuilder moves a single context (`tickborg-eval`) through its steps;
this value remembers repo, commit, context and link so each step only names
the new state and description.
"""

from __future__ import annotations

import attrs

from tickborg.github.bodies import StatusState
from tickborg.github.client import GitHubClient


@attrs.frozen
class CommitStatus:
    repo: str  # owner/name
    sha: str
    context: str
    description: str = ""
    target_url: str | None = None

    def with_url(self, target_url: str | None) -> CommitStatus:
        return attrs.evolve(self, target_url=target_url)

    def set(
        self, client: GitHubClient, state: StatusState, description: str | None = None
    ) -> CommitStatus:
        """Post `state` (with a new description if given); the status as now shown.

        The description is cut to GitHub's 140 characters when sent.
        """
        shown = self if description is None else attrs.evolve(self, description=description)
        client.create_status(
            shown.repo, shown.sha, state, shown.context, shown.description, shown.target_url
        )
        return shown
