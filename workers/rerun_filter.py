"""`tickborg github-rerun-filter`: "Re-run" on one of our check runs → the same BuildJobs again."""

from __future__ import annotations

from typing import Sequence

from tickborg.config import GitHubAppConfig
from tickborg.filters.rerun import RerunFilter
from tickborg.github.client import GitHubClient
from tickborg.process import checked, start
from tickborg.runtime.serve import serve
from tickborg.topology import BUILD_RESULTS_QUEUE, RERUN_INPUTS, build_queue

NAME = "github-rerun-filter"


def main(argv: Sequence[str] | None = None) -> int:
    config, _ = start(NAME, argv)
    checked(lambda: config.require_for(NAME))
    app: GitHubAppConfig = config.require("github_app")
    github = checked(lambda: GitHubClient.from_config(app))
    targets = [*map(build_queue, config.systems.all), BUILD_RESULTS_QUEUE]
    try:
        return serve(RerunFilter(config, github, app.app_id), config, consumes=[RERUN_INPUTS], publishes_to=targets)
    finally:
        github.close()
