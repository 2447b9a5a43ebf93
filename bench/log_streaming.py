"""Log streaming: does publishing a build's log slow the build down, is every line stored, is memory bounded?

A custom project prints 200,000 lines (`--lines`), once as fast as it can and
once paced like a compiler (`--rate`, 40,000 lines/s: 5 s); then 2,000,000
(`--big-lines`) as fast as it can. The script times itself. Each runs bare
`--bare-runs` times (its output read from a pipe and dropped; the median
counts) and once as a job of a real `tickborg builder` process (sandboxed, the
log in chunks, `builder.log_messages`, confirmed by the broker) with a real
`tickborg log-message-collector` storing the log, against the local RabbitMQ
in a vhost of its own. Printed, from the one run, for each build:

- the bare build's time, and the job's: from the builder's announced start to
  its result, which it publishes once the broker confirmed every line (target
  for the paced build: <= 1.1 x the bare build);
- whether the collector stored every line once, in order (SPEC §16), and how
  long after the result it had them all;

and the peak RSS of the builder and the collector after the 200,000-line
builds and after the 2,000,000-line one (bounded: about the same).

    python bench/log_streaming.py [--lines 200000] [--rate 40000] [--big-lines 2000000]
        [--log-messages chunks|lines] [--bare-runs 5] [--host 127.0.0.1 --port 5672]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import attrs
import pika
from pika.adapters.blocking_connection import BlockingChannel

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tickborg.broker import connection_parameters, declare, properties
from tickborg.config import RabbitMQConfig, Secret, parse_config
from tickborg.messages import BuildJob, Pr, Repo
from tickborg.topology import (
    BUILD_RESULTS_QUEUE,
    build_queue,
    build_topology,
)

SYSTEM = "x86_64-linux"
# Line n of the build's output (from 0), before its closing "elapsed" line.
LINE = "[%7d] cc -O2 -c src/module_%d.c -o build/module_%d.o: compiled"
SPEW = """
import sys, time
LINE = %r
lines, rate = int(sys.argv[1]), float(sys.argv[2])
started = time.monotonic()
chunk = 500
for first in range(0, lines, chunk):
    sys.stdout.write("".join(
        LINE %% (n, n %% 97, n %% 97) + "\\n"
        for n in range(first, min(lines, first + chunk))))
    sys.stdout.flush()
    if rate:
        time.sleep(max(0.0, started + (first + chunk) / rate - time.monotonic()))
print(f"elapsed {time.monotonic() - started:.4f}")
""" % LINE
# Far longer than the collector takes to store 200,000 lines on a small machine.
STORE_TIMEOUT_SECONDS = 900


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    identity = ["-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    return subprocess.run(["git", *identity, *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def origin_with_spew(root: Path) -> tuple[Path, str]:
    """A bare origin whose main has spew/spew.py, and PR 1 on top: (path, PR head sha)."""
    work, bare = root / "work", root / "origin.git"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    (work / "spew").mkdir()
    (work / "spew" / "spew.py").write_text(SPEW)
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "spew")
    git(work, "checkout", "-q", "-b", "pr")
    (work / "spew" / "NOTES").write_text("a change\n")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "notes")
    git(root, "clone", "-q", "--bare", str(work), str(bare))
    head = git(work, "rev-parse", "HEAD")
    git(bare, "update-ref", "refs/pull/1/head", head)
    return bare, head


def bare_run(command: str, cwd: Path) -> float:
    """The build by itself: its own timing, its output read from a pipe."""
    process = subprocess.Popen(["sh", "-c", command], cwd=cwd, stdout=subprocess.PIPE)
    assert process.stdout is not None
    last = b""
    for last in process.stdout:
        pass
    assert process.wait() == 0
    return float(last.split()[1])


def stored_in_order(log_root: Path, attempt_id: str, lines: int, timeout: float) -> tuple[bool, float]:
    """Whether the collector stored the build's lines once each, in order, and the seconds
    it took from now; the result file appears once the log is whole."""
    started = time.monotonic()
    while not (found := list(log_root.glob(f"*/*/{attempt_id}.result.json"))):
        if time.monotonic() - started > timeout:
            return False, time.monotonic() - started
        time.sleep(0.2)
    took = time.monotonic() - started
    # The builder's header line ("=== spew: build: ..."), the build's lines, its "elapsed" line.
    with open(found[0].with_name(attempt_id), encoding="utf-8") as log:
        header, stored = next(log, ""), itertools.islice(log, lines)
        expected = (LINE % (n, n % 97, n % 97) + "\n" for n in range(lines))
        middle = all(got == want for got, want in itertools.zip_longest(stored, expected))
        rest = list(log)
    return header.startswith("=== ") and middle and len(rest) == 1 and rest[0].startswith("elapsed "), took


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size so far (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


@attrs.frozen
class Build:
    name: str
    lines: int
    rate: float

    @property
    def command(self) -> str:
        return f"python3 spew.py {self.lines} {self.rate}"

    @property
    def label(self) -> str:
        pace = f"paced at {self.rate:.0f} lines/s" if self.rate else "as fast as it can"
        return f"{self.lines} lines, {pace}"


@attrs.frozen
class Measured:
    bare_seconds: float
    built_seconds: float
    job_seconds: float
    in_order: bool
    store_seconds: float


def run_build(
    channel: BlockingChannel, results: Iterator[Any], repo: Repo, head: str, build: Build, builder: subprocess.Popen[bytes]
) -> tuple[float, float, dict[str, Any]]:
    """Build `build` as a job: (the announced start, the result, on the monotonic clock; the result).

    `results` consumes `build-results` (a single-active-consumer queue: no basic.get)."""
    job = BuildJob.for_pr(repo, Pr("main", 1, head), [build.name])
    channel.basic_publish("", build_queue(SYSTEM), json.dumps(job.to_json()).encode(), properties(), mandatory=True)
    started = None
    for method, _, body in results:
        if method is None:
            assert builder.poll() is None, "the builder exited"
            continue
        message = json.loads(body)
        if "status" not in message:
            started = time.monotonic()
            continue
        assert started is not None and message["status"] == "Success", message
        return started, time.monotonic(), message
    raise AssertionError("the consumer of build-results ended")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=40_000.0, help="lines per second of the paced build")
    parser.add_argument("--big-lines", type=int, default=2_000_000, help="lines of the build whose memory is measured (0: none)")
    parser.add_argument("--log-messages", choices=("chunks", "lines"), default="chunks")
    parser.add_argument("--bare-runs", type=int, default=5, help="bare builds, the median counts (default 5)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5672)
    args = parser.parse_args()
    builds = [Build("spew", args.lines, 0.0), Build("spew-paced", args.lines, args.rate)]
    big = Build("spew-big", args.big_lines, 0.0) if args.big_lines else None

    vhost = f"tickborg-bench-{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True)
    workers: dict[str, subprocess.Popen[bytes]] = {}
    measured: dict[Build, Measured] = {}
    rss: list[tuple[str, dict[str, float]]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="tickborg-bench-") as scratch:
            root = Path(scratch)
            bare, head = origin_with_spew(root)
            spews = [*builds, big] if big else builds
            most = max(build.lines for build in spews)
            data = {
                "identity": "bench",
                "rabbitmq": {"host": args.host, "port": args.port, "virtualhost": vhost, "password": "guest"},
                "projects": [
                    {"name": build.name, "path": "spew", "build_system": "custom", "command": build.command}
                    for build in spews
                ],
                "builder": {
                    "systems": [SYSTEM],
                    "log_messages": args.log_messages,
                    # The big build's log is past the default limits (1,000,000 lines, 64 MiB).
                    "limits": {"log_lines": 2 * most, "log_bytes": 100 * most},
                },
                "checkout": {"root": str(root / "checkout")},
                "log_storage": {"path": str(root / "logs")},
            }
            config_path = root / "config.json"
            config_path.write_text(json.dumps(data))
            config = parse_config(data)
            rabbit = RabbitMQConfig(host=args.host, port=args.port, virtualhost=vhost, password=Secret("guest"))
            connection = pika.BlockingConnection(connection_parameters(rabbit, "bench"))
            channel = connection.channel()
            declare(channel, build_topology(config))
            channel.confirm_delivery()

            for name in ("builder", "log-message-collector"):
                with open(root / f"{name}.log", "wb") as log:
                    workers[name] = subprocess.Popen(
                        [sys.executable, "-m", "tickborg.cli", name, "--config", str(config_path)],
                        env={**os.environ, "PYTHONPATH": str(REPO), "TICKBORG_LOG": "warning"},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
            repo = Repo("bench", "monorepo", "bench/monorepo", str(bare))
            results = channel.consume(BUILD_RESULTS_QUEUE, auto_ack=True, inactivity_timeout=0.2)
            for build in spews:
                runs = args.bare_runs if build is not big else 1
                bare_seconds = statistics.median(bare_run(build.command, root / "work" / "spew") for _ in range(runs))
                started, finished, result = run_build(channel, results, repo, head, build, workers["builder"])
                in_order, store_seconds = stored_in_order(root / "logs", result["attempt_id"], build.lines, STORE_TIMEOUT_SECONDS)
                built_seconds = float(result["output"][-1].split()[1])
                measured[build] = Measured(bare_seconds, built_seconds, finished - started, in_order, store_seconds)
                if build is builds[-1] or build is big:
                    rss.append((f"{build.lines} lines", {name: peak_rss_mib(p.pid) for name, p in workers.items()}))
            connection.close()
    finally:
        for worker in workers.values():
            worker.terminate()
            worker.wait(30)
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False)

    print(f"log messages: {args.log_messages}")
    for build, m in measured.items():
        target = " (target <= 1.1)" if build.rate else ""
        print(f"build printing {build.label}")
        print(f"  bare build                        {m.bare_seconds:8.3f} s")
        print(f"  build under the builder           {m.built_seconds:8.3f} s   ratio {m.built_seconds / m.bare_seconds:.2f}")
        print(f"  announced start -> result         {m.job_seconds:8.3f} s   ratio {m.job_seconds / m.bare_seconds:.2f}{target}")
        print(f"  every line stored once, in order  {'yes' if m.in_order else 'NO'}, {m.store_seconds:.1f} s after the result")
    for after, peaks in rss:
        print(f"peak RSS after the {after + ' build:':21} " + ", ".join(f"{name} {mib:.1f} MiB" for name, mib in peaks.items()))
    return 0 if all(m.in_order for m in measured.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
