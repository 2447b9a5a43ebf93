"""`tickborg push-filter`: pushes to tracked branches → BuildJobs."""

from __future__ import annotations

from typing import Sequence

from tickborg.filters.push import PushFilter
from tickborg.process import checked, start
from tickborg.runtime.serve import serve
from tickborg.stats.emitter import emitting
from tickborg.topology import BUILD_RESULTS_QUEUE, PUSH_INPUTS, build_queue

NAME = "push-filter"


def main(argv: Sequence[str] | None = None) -> int:
    config, _ = start(NAME, argv)
    checked(lambda: config.require_for(NAME))
    targets = [*map(build_queue, config.systems.primary), BUILD_RESULTS_QUEUE]
    with emitting(config, NAME) as events:
        return serve(PushFilter(config), config, consumes=[PUSH_INPUTS], publishes_to=targets, events=events)
