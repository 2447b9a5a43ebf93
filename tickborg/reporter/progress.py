"""How a check run moves: queued → in_progress → completed, never back (SPEC §5).

Messages arrive in any order and more than once (a result before its
QueuedBuildJobs, a redelivered start after the result, a retried result of
an older request after a newer one), so each write is planned against the
runs as GitHub shows them now, and each moves only the run of its own request.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Sequence, Union

import attrs

from tickborg.github.bodies import CheckRunFields
from tickborg.github.models import CheckRun
from tickborg.reporter.runs import ExternalId, RunRef


class Stage(IntEnum):
    QUEUED = 1
    IN_PROGRESS = 2
    COMPLETED = 3

    @classmethod
    def of(cls, status: str) -> Stage:
        # GitHub's other statuses (waiting, requested, pending) all come before a start.
        return {"in_progress": cls.IN_PROGRESS, "completed": cls.COMPLETED}.get(status, cls.QUEUED)


@attrs.frozen
class Report:
    """What one message says about one check run."""

    run: RunRef
    stage: Stage
    fields: CheckRunFields  # status, output, details_url and external_id to write
    request_id: str | None  # None for a start from a builder that does not carry it


@attrs.frozen
class Create:
    """No run shows this request yet: create one."""


@attrs.frozen
class Update:
    run_id: int
    fields: CheckRunFields


@attrs.frozen
class Leave:
    reason: str


Step = Union[Create, Update, Leave]


def plan(report: Report, runs: Sequence[CheckRun]) -> Step:
    """The write that brings the run of `report`'s request up to it.

    `runs`: every run of our App with the report's name on its commit. A message
    about one request never changes a run that shows another (a redelivered
    result of an older request, a late QueuedBuildJobs): it moves its own run,
    or makes one when none shows its request yet.
    """
    target = run_of(report.request_id, runs)
    if target is None:
        return Create()
    stage = Stage.of(target.status)
    if report.stage is Stage.COMPLETED:
        if stage is Stage.COMPLETED and target.conclusion == report.fields.conclusion:
            return Leave("already shows this result")
        return Update(target.id, report.fields)
    if stage >= report.stage:
        return Leave(f"the run is {target.status} and never moves back")
    if report.request_id is None:
        # A start that does not know its request: the run keeps the external_id it has.
        return Update(target.id, attrs.evolve(report.fields, external_id=None))
    return Update(target.id, report.fields)


def run_of(request_id: str | None, runs: Sequence[CheckRun]) -> CheckRun | None:
    """The newest run showing `request_id`, else the newest showing no request
    (one a start from an older builder made); for a message without a request,
    the newest run."""
    newest_first = sorted(runs, key=lambda run: run.id, reverse=True)
    if request_id is None:
        return next(iter(newest_first), None)
    shown = [(run, _request_shown(run)) for run in newest_first]
    mine = next((run for run, request in shown if request == request_id), None)
    return mine or next((run for run, request in shown if request is None), None)


def _request_shown(run: CheckRun) -> str | None:
    external = ExternalId.decode(run.external_id)
    return None if external is None else external.request_id
