"""A test worker as a real process: `python -m support.worker_process CONFIG KIND`.

KIND is `scripted`, `scripted-long`, `scripted-requeue` or `streaming`; it consumes
the queue `in` and publishes to `out`, with the topology's retry paths.
"""

from __future__ import annotations

import sys
from pathlib import Path

from support.workers import ScriptedWorker, StreamingWorker
from tickborg.config import load_config
from tickborg.logsetup import configure_logging
from tickborg.runtime.consumer import Runner
from tickborg.runtime.worker import AnyWorker

from support.runtime import runtime_topology

WORKERS: dict[str, AnyWorker] = {
    "scripted": ScriptedWorker(),
    "scripted-long": ScriptedWorker(long_running=True),
    "scripted-requeue": ScriptedWorker(long_running=True, finish_on_shutdown=False),
    "streaming": StreamingWorker(),
}


def main() -> int:
    config_path, kind = sys.argv[1], sys.argv[2]
    configure_logging()
    config = load_config(Path(config_path))
    runner = Runner(WORKERS[kind], ["in"], config.rabbitmq, runtime_topology(config), config.identity)
    runner.install_signal_handlers()
    return runner.run()


if __name__ == "__main__":
    raise SystemExit(main())
