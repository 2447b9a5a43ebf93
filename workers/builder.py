"""`tickborg builder --config PATH`: build jobs from `build-inputs-{system}` (SPEC §5, §9).

One process consumes the queue of each system in `builder.systems`. It refuses
to start (exit 2, one line) when a project's timeout is not safely below the
broker's consumer timeout, when the sandbox cannot run on this host, or when
`builder.limits.enforcement` is "cgroup" and the host gives it no cgroup. It
logs which enforcement of the build limits it uses.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import attrs

from tickborg.builder.limits import build_confinement, check_timeouts
from tickborg.builder.sandbox import Sandbox, SandboxUnavailable
from tickborg.builder.service import OUTPUTS, input_queues, log_publisher, wait_ready
from tickborg.builder.worker import Builder
from tickborg.checkout import Checkouts
from tickborg.config import BuilderConfig, CheckoutConfig
from tickborg.logsetup import get_logger
from tickborg.process import checked, start
from tickborg.runtime.serve import serve
from tickborg.stats.emitter import emitting

NAME = "builder"
READY_WAIT_SECONDS = 30.0


def main(argv: Sequence[str] | None = None) -> int:
    config, _ = start(NAME, argv)
    checked(lambda: (config.require_for(NAME), check_timeouts(config)))
    settings: BuilderConfig = config.require("builder")
    checkout: CheckoutConfig = config.require("checkout")
    log = get_logger(NAME, identity=config.identity)
    try:
        Sandbox(settings.sandbox).check(checkout.root / "sandbox-check")
    except SandboxUnavailable as exc:
        sys.stderr.write(f"tickborg: builder.sandbox: {exc}\n")
        return 2
    if settings.sandbox == "none":
        log.warning("builder.sandbox is none: builds run unsandboxed, with this process's access (development only)")
    confined = checked(lambda: build_confinement(config))
    log.info("build limits", enforced_by=confined.kind, **attrs.asdict(settings.limits))
    publisher = log_publisher(config, NAME)
    publisher.start()
    try:
        if not wait_ready(publisher, READY_WAIT_SECONDS):
            log.warning("the log connection is not up yet; consuming anyway")
        with emitting(config, NAME) as events:
            worker = Builder(config, publisher, Checkouts.for_process(checkout, NAME), events=events, confined=confined)
            return serve(worker, config, consumes=input_queues(config), publishes_to=OUTPUTS, events=events)
    finally:
        publisher.stop()


if __name__ == "__main__":
    sys.exit(main())
