"""`tickborg github-rerun-filter`: "Re-run" on one of our check runs → the same BuildJobs again."""

from __future__ import annotations

from typing import Sequence

from tickborg.config import GitHubAppConfig
from tickborg.filters.rerun import RerunFilter
from tickborg.github.client import GitHubClient
from tickborg.process import checked, start
from tickborg.runtime.serve import serve
from tickborg.stats.emitter import emitting
from tickborg.topology import BUILD_RESULTS_QUEUE, RERUN_INPUTS, build_queue

NAME = "github-rerun-filter"


def main(argv: Sequence[str] | None = None) -> int:
    config, _ = start(NAME, argv)
    checked(lambda: config.require_for(NAME))
    app: GitHubAppConfig = config.require("github_app")
    targets = [*map(build_queue, config.systems.all), BUILD_RESULTS_QUEUE]
    with emitting(config, NAME) as events:
        github = checked(lambda: GitHubClient.from_config(app, events=events))
        try:
            worker = RerunFilter(config, github, app.app_id)
            return serve(worker, config, consumes=[RERUN_INPUTS], publishes_to=targets, events=events)
        finally:
            github.close()
