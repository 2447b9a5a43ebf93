"""Whether the runtime gave up the job this thread works for.

The runtime abandons a job whose delivery goes back to the broker (a lost
connection, a shutdown hand-back): another run, of the redelivered copy, takes
over. A notify worker is told through `notify.cancelled`. A simple worker's
`handle(job)` takes nothing but its job, so the runtime marks the job's thread
instead (`working_for`), and code that writes outside the broker (the GitHub
client) calls `stop_if_abandoned` before each write: the old run stops rather
than write beside its copy, out of order and out of the App's write budget.

A context variable, as structlog binds its context: it belongs to the thread
the runtime started for the job and is unset everywhere else.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

_JOB_CANCELLED: ContextVar[threading.Event | None] = ContextVar("tickborg_job_cancelled", default=None)


class Abandoned(Exception):
    """The runtime gave this job up; the write it was about to make is its copy's to make."""


@contextmanager
def working_for(cancelled: threading.Event) -> Iterator[None]:
    """Run the enclosed job code as the job that `cancelled` belongs to."""
    token = _JOB_CANCELLED.set(cancelled)
    try:
        yield
    finally:
        _JOB_CANCELLED.reset(token)


def stop_if_abandoned(write: str) -> None:
    """Raise Abandoned if this thread's job was given up; `write` names what it was about to do."""
    cancelled = _JOB_CANCELLED.get()
    if cancelled is not None and cancelled.is_set():
        raise Abandoned(write)
