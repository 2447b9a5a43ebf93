"""`tickborg github-comment-poster`: build progress from `build-results` → GitHub check runs."""

from __future__ import annotations

from typing import Sequence

from tickborg.github.client import GitHubClient
from tickborg.process import checked, start
from tickborg.reporter.runs import LogLinks
from tickborg.reporter.worker import StatusReporter
from tickborg.runtime.serve import serve
from tickborg.stats.emitter import emitting
from tickborg.topology import BUILD_RESULTS_QUEUE

NAME = "github-comment-poster"
# Messages handled side by side: a start held for its result (`RunWrites`)
# must not stop the result behind it from being read.
PREFETCH = 16


def main(argv: Sequence[str] | None = None) -> int:
    config, _ = start(NAME, argv)
    checked(lambda: config.require_for(NAME))
    with emitting(config, NAME) as events:
        app = config.require("github_app")
        github = checked(lambda: GitHubClient.from_config(app, events=events))
        try:
            links = LogLinks.from_config(config)
            worker = StatusReporter(github, links, app.app_id, start_delay=app.progress_status_delay_seconds)
            return serve(worker, config, consumes=[BUILD_RESULTS_QUEUE], prefetch=PREFETCH, events=events)
        finally:
            github.close()
