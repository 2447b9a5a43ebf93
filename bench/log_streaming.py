"""Log streaming: does publishing a build's log slow the build down, and is every line stored?

A custom project prints `--lines` lines (200,000 by default), optionally paced
at `--rate` lines per second like a long verbose build; the script times
itself. It runs bare `--bare-runs` times (its output read from a pipe and
dropped; the median counts: an unpaced build takes about 0.1 s, which a busy
machine easily stretches by a third) and once as a job of a real `tickborg
builder` process (sandboxed, every line a BuildLogMsg confirmed by the broker)
with a real `tickborg log-message-collector` storing the log, against the
local RabbitMQ in a vhost of its own. Printed, from the one run:

- build time under the builder / bare build time: how much streaming held the
  build back (target <= 1.1: lines queue in the builder, the build never waits
  for the broker unless 64 MiB of them are queued);
- announced start → result / bare build time: the whole job, including the
  wait for the last confirms;
- lines per second the broker confirmed;
- whether the collector stored every line in order (SPEC §16), and how long
  after the result it had them all.

    python bench/log_streaming.py [--lines 200000] [--rate 0] [--bare-runs 5] [--host 127.0.0.1 --port 5672]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pika

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
    """Whether the collector stored the build's lines, in order, and the seconds it took
    from now; the result file appears once the log is whole."""
    started = time.monotonic()
    while not (found := list(log_root.glob(f"*/*/{attempt_id}.result.json"))):
        if time.monotonic() - started > timeout:
            return False, time.monotonic() - started
        time.sleep(0.2)
    took = time.monotonic() - started
    stored = found[0].with_name(attempt_id).read_text().splitlines()
    expected = [LINE % (n, n % 97, n % 97) for n in range(lines)]
    # The builder's header line ("=== spew: build: ..."), the build's lines, its "elapsed" line.
    whole = len(stored) == lines + 2 and stored[0].startswith("=== ") and stored[-1].startswith("elapsed ")
    return whole and stored[1:-1] == expected, took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=0.0, help="lines per second the build prints (0: as fast as it can)")
    parser.add_argument("--bare-runs", type=int, default=5, help="bare builds, the median counts (default 5)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5672)
    args = parser.parse_args()

    vhost = f"tickborg-bench-{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="tickborg-bench-") as scratch:
            root = Path(scratch)
            bare, head = origin_with_spew(root)
            command = f"python3 spew.py {args.lines} {args.rate}"
            data = {
                "identity": "bench",
                "rabbitmq": {"host": args.host, "port": args.port, "virtualhost": vhost, "password": "guest"},
                "projects": [{"name": "spew", "path": "spew", "build_system": "custom", "command": command}],
                "builder": {"systems": [SYSTEM]},
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

            bare_seconds = statistics.median(bare_run(command, root / "work" / "spew") for _ in range(args.bare_runs))

            for name in ("builder", "log-message-collector"):
                with open(root / f"{name}.log", "wb") as log:
                    workers.append(subprocess.Popen(
                        [sys.executable, "-m", "tickborg.cli", name, "--config", str(config_path)],
                        env={**os.environ, "PYTHONPATH": str(REPO), "TICKBORG_LOG": "warning"},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    ))
            repo = Repo("bench", "monorepo", "bench/monorepo", str(bare))
            job = BuildJob.for_pr(repo, Pr("main", 1, head), ["spew"])
            channel.confirm_delivery()
            channel.basic_publish("", build_queue(SYSTEM), json.dumps(job.to_json()).encode(), properties(), mandatory=True)
            started, result = None, None
            while result is None:
                method, _, body = channel.basic_get(BUILD_RESULTS_QUEUE, auto_ack=True)
                if method is None:
                    assert workers[0].poll() is None, (root / "builder.log").read_text()
                    connection.sleep(0.005)
                    continue
                message = json.loads(body)
                if "status" in message:
                    result = (time.monotonic(), message)
                else:
                    started = time.monotonic()
            assert started is not None and result[1]["status"] == "Success", result
            finished, message = result
            built_seconds = float(message["output"][-1].split()[1])
            connection.close()
            in_order, store_seconds = stored_in_order(
                root / "logs", message["attempt_id"], args.lines, STORE_TIMEOUT_SECONDS
            )
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(30)
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False)

    job_seconds = finished - started
    pace = f"paced at {args.rate:.0f} lines/s" if args.rate else "as fast as it can"
    print(f"build printing {args.lines} lines ({pace})")
    print(f"bare build                        {bare_seconds:8.3f} s")
    print(f"build under the builder           {built_seconds:8.3f} s   ratio {built_seconds / bare_seconds:.2f} (target <= 1.1)")
    print(f"announced start -> result         {job_seconds:8.3f} s   ratio {job_seconds / bare_seconds:.2f}")
    print(f"lines confirmed by the broker     {args.lines / job_seconds:8.0f} lines/s")
    print(f"every line stored in order        {'yes' if in_order else 'NO'}, {store_seconds:.1f} s after the result "
          f"(the collector's pace over the job: {args.lines / (job_seconds + store_seconds):.0f} lines/s)")
    return 0 if in_order else 1


if __name__ == "__main__":
    raise SystemExit(main())
