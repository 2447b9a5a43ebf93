"""`tickborg github-comment-filter`: `@tickbot` comments → BuildJobs and EvaluationJobs."""

from __future__ import annotations

from typing import Sequence

from tickborg.filters.comment import CommentFilter
from tickborg.github.client import GitHubClient
from tickborg.process import checked, start
from tickborg.runtime.serve import serve
from tickborg.stats.emitter import emitting
from tickborg.topology import BUILD_RESULTS_QUEUE, COMMENT_INPUTS, EVALUATION_JOBS, build_queue

NAME = "github-comment-filter"


def main(argv: Sequence[str] | None = None) -> int:
    config, _ = start(NAME, argv)
    checked(lambda: config.require_for(NAME))
    targets = [*map(build_queue, config.systems.all), BUILD_RESULTS_QUEUE, EVALUATION_JOBS]
    with emitting(config, NAME) as events:
        github = checked(lambda: GitHubClient.from_config(config.require("github_app"), events=events))
        try:
            worker = CommentFilter(config, github)
            return serve(worker, config, consumes=[COMMENT_INPUTS], publishes_to=targets, events=events)
        finally:
            github.close()
