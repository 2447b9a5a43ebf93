"""`tickborg evaluation-filter`: pull_request events → EvaluationJobs."""

from __future__ import annotations

from typing import Sequence

from tickborg.filters.evaluation import EvaluationFilter
from tickborg.process import checked, start
from tickborg.runtime.serve import serve
from tickborg.stats.emitter import emitting
from tickborg.topology import EVALUATION_INPUTS, EVALUATION_JOBS

NAME = "evaluation-filter"


def main(argv: Sequence[str] | None = None) -> int:
    config, _ = start(NAME, argv)
    checked(lambda: config.require_for(NAME))
    with emitting(config, NAME) as events:
        worker = EvaluationFilter(config)
        return serve(worker, config, consumes=[EVALUATION_INPUTS], publishes_to=[EVALUATION_JOBS], events=events)
