"""The evaluation's progress in its commit status, written only when someone could see it.

Each write is a budget item (GitHub allows an App about 80 content-creating
requests a minute): a step that is over before `delay` seconds would be
replaced within a second by the next. So a pending step is written only if
the evaluation is still in it `delay` seconds after it began; the outcome is
always written, and always last. A fast evaluation costs one status write, a
slow one shows each step it lingers in. A delay of 0 writes every step as it
begins, from the evaluation's own thread.

A watcher thread does the delayed writes. It runs in the job's context (so a
job the runtime gave up writes nothing: `tickborg.runtime.abandon`), and
`finish` waits for a write it has begun before writing the outcome.
"""

from __future__ import annotations

import contextvars
import threading
import time
from typing import Callable

from tickborg.github.bodies import StatusState
from tickborg.github.errors import CommitStatusError
from tickborg.github.status import CommitStatus, StatusWriter
from tickborg.logsetup import get_logger
from tickborg.runtime.abandon import Abandoned

log = get_logger(__name__)


class ProgressStatus:
    """One evaluation's `tickborg-eval` status: `step` as it goes, `finish` once."""

    def __init__(
        self, writer: StatusWriter, status: CommitStatus, delay: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._writer = writer
        self._status = status
        self._delay = delay
        self._clock = clock
        self._changed = threading.Condition()
        self._step: str | None = None
        self._since = 0.0
        self._shown: str | None = None
        self._finished = False
        self._watcher: threading.Thread | None = None
        if delay > 0:
            context = contextvars.copy_context()
            self._watcher = threading.Thread(target=context.run, args=(self._watch,), name="eval-progress", daemon=True)
            self._watcher.start()

    def step(self, description: str) -> None:
        """The evaluation is now in this step (shown once it lasts `delay` seconds; at once when 0)."""
        if self._watcher is None:
            self._status = self._status.set(self._writer, "pending", description)
            return
        with self._changed:
            self._step, self._since = description, self._clock()
            self._changed.notify()

    def finish(self, state: StatusState, description: str) -> CommitStatus:
        """Write the outcome, after any step write already under way; no step is written after it."""
        self.stop()
        self._status = self._status.set(self._writer, state, description)
        return self._status

    def stop(self) -> None:
        """No more step writes (the evaluation ended without an outcome of its own)."""
        if self._watcher is None:
            return
        with self._changed:
            self._finished = True
            self._changed.notify()
        self._watcher.join()

    def _watch(self) -> None:
        while True:
            with self._changed:
                while True:
                    if self._finished:
                        return
                    due = self._due()
                    if due is not None and due <= 0:
                        break
                    self._changed.wait(due)  # None: until the step changes or the evaluation ends
                step = self._step
            assert step is not None
            self._write(step)

    def _due(self) -> float | None:
        """Seconds until the current step is due to be shown; None when there is nothing to show."""
        if self._step is None or self._step == self._shown:
            return None
        return self._since + self._delay - self._clock()

    def _write(self, step: str) -> None:
        try:
            self._status = self._status.set(self._writer, "pending", step)
        except (CommitStatusError, Abandoned) as exc:
            # Progress is best effort; the outcome's write reports GitHub's trouble.
            log.warning("could not show the evaluation's progress", step=step, error=str(exc))
        with self._changed:
            self._shown = step
