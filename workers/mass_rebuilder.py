"""`tickborg mass-rebuilder`: EvaluationJobs → labels, the eval status, BuildJobs."""

from __future__ import annotations

from collections.abc import Sequence

from tickborg.checkout import Checkouts
from tickborg.evaluator.evaluation import Evaluator
from tickborg.evaluator.worker import MassRebuilder
from tickborg.github.client import GitHubClient
from tickborg.process import checked, start
from tickborg.runtime.serve import serve
from tickborg.stats.emitter import emitting
from tickborg.topology import BUILD_RESULTS_QUEUE, EVALUATION_JOBS, build_queue

NAME = "mass-rebuilder"


def main(argv: Sequence[str] | None = None) -> int:
    config, _ = start(NAME, argv)
    checked(lambda: config.require_for(NAME))
    checkout = config.require("checkout")
    checkouts = Checkouts.for_process(checkout, NAME)
    targets = [*map(build_queue, config.systems.all), BUILD_RESULTS_QUEUE]
    with emitting(config, NAME) as events:
        github = checked(lambda: GitHubClient.from_config(config.require("github_app"), events=events))
        try:
            worker = MassRebuilder(Evaluator(config, github, checkouts, events))
            return serve(worker, config, consumes=[EVALUATION_JOBS], publishes_to=targets, events=events)
        finally:
            github.close()
