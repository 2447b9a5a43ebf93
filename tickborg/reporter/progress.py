"""How a check run moves: queued → in_progress → completed, never back (SPEC §5).

Messages arrive in any order and more than once (a result before its
QueuedBuildJobs, a redelivered start after the result), so each write is
planned against the run as GitHub shows it now.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Union

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
    request_id: str | None  # None for a builder's start, which does not carry it


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


def plan(report: Report, existing: CheckRun | None) -> Step:
    """The write that brings `existing` (GitHub's newest run of that name on that commit) up to `report`."""
    if existing is None:
        return Create()
    shown = ExternalId.decode(existing.external_id)
    shown_request = None if shown is None else shown.request_id
    stage = Stage.of(existing.status)
    if report.stage is Stage.COMPLETED:
        if stage is Stage.COMPLETED and (shown_request, existing.conclusion) == (report.request_id, report.fields.conclusion):
            return Leave("already shows this result")
        return Update(existing.id, report.fields)
    if stage is Stage.COMPLETED and report.stage is Stage.QUEUED and report.request_id != shown_request:
        # A new request (a second `@tickbot build`, a re-evaluation) for a finished
        # build: a fresh run; the finished one keeps its result.
        return Create()
    if stage >= report.stage:
        return Leave(f"the run is {existing.status} and never moves back")
    # Only a start gets here (queued → in_progress). It does not know the
    # request, so the run keeps the external_id its QueuedBuildJobs gave it.
    return Update(existing.id, attrs.evolve(report.fields, external_id=None))
