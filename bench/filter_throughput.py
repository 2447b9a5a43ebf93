"""Throughput of a pass-through worker on tickborg's runtime vs a bare pika loop.

Both consume the same pre-filled quorum queue with prefetch 1, decode each
message, publish it on re-encoded with a publisher confirm and ack it, as the
target says (SPEC §16: the bare loop "doing the same"): the runtime's worker
decodes into its typed wire message as a real filter does, the bare loop with
plain `json`. Rounds alternate between the two on the same broker in one run;
the figure is the ratio of the best rounds. Target: >= 0.8.

    python bench/filter_throughput.py [--messages 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

import attrs
import pika

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tickborg.broker import JSON, PERSISTENT, connection_parameters, declare, properties  # noqa: E402
from tickborg.config import RabbitMQConfig, Secret  # noqa: E402
from tickborg.logsetup import configure_logging  # noqa: E402
from tickborg.messages import EvaluationJob, decode  # noqa: E402
from tickborg.runtime.actions import Ack, Action, Publish  # noqa: E402
from tickborg.runtime.consumer import Runner  # noqa: E402
from tickborg.runtime.worker import SimpleWorker  # noqa: E402
from tickborg.topology import Queue, Topology, failure_paths, work_queue  # noqa: E402

IN, OUT = "bench-in", "bench-out"
SAMPLE = json.dumps(
    {
        "repo": {"owner": "tick-org", "name": "monorepo", "full_name": "tick-org/monorepo",
                 "clone_url": "https://github.com/tick-org/monorepo.git"},
        "pr": {"target_branch": "main", "number": 17, "head_sha": "8f3a1c2d4e5b6a7980f1e2d3c4b5a69788796a5b"},
    }
).encode()


class PassThrough(SimpleWorker[EvaluationJob]):
    name = "pass-through"

    def decode(self, routing_key: str, content_type: str | None, body: bytes) -> EvaluationJob:
        return decode(EvaluationJob, body)

    def handle(self, job: EvaluationJob) -> list[Action]:
        return [Publish("", OUT, job), Ack()]


def topology() -> Topology:
    inbound = work_queue(IN, legacy=False, delivery_limit=10)
    failures = failure_paths([inbound])
    return Topology(failures.exchanges, (inbound, Queue(OUT, is_work_queue=False), *failures.queues), failures.bindings)


def fill(rabbit: RabbitMQConfig, count: int) -> None:
    connection = pika.BlockingConnection(connection_parameters(rabbit, "bench-fill"))
    channel = connection.channel()
    declare(channel, topology())
    channel.queue_purge(IN)
    channel.queue_purge(OUT)
    for _ in range(count):
        channel.basic_publish("", IN, SAMPLE, properties())
    channel.confirm_delivery()
    channel.basic_publish("", IN, SAMPLE, properties())  # one confirmed publish flushes the rest
    channel.queue_purge(OUT)
    connection.close()


def wait_for_output(rabbit: RabbitMQConfig, count: int) -> float:
    """Seconds from now until `count` messages have come out of the pipeline."""
    connection = pika.BlockingConnection(connection_parameters(rabbit, "bench-count"))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=500)
    seen = 0
    start = time.perf_counter()
    for method, _, _ in channel.consume(OUT, auto_ack=True, inactivity_timeout=30):
        if method is None:
            raise RuntimeError(f"pipeline stalled after {seen} messages")
        seen += 1
        if seen == count:
            break
    elapsed = time.perf_counter() - start
    channel.cancel()
    connection.close()
    return elapsed


def bare_loop(rabbit: RabbitMQConfig, stop: threading.Event) -> None:
    connection = pika.BlockingConnection(connection_parameters(rabbit, "bench-bare"))
    channel = connection.channel()
    channel.confirm_delivery()
    channel.basic_qos(prefetch_count=1)

    def on_message(ch: pika.adapters.blocking_connection.BlockingChannel, method: pika.spec.Basic.Deliver,
                   props: pika.BasicProperties, body: bytes) -> None:
        out = json.dumps(json.loads(body), separators=(",", ":")).encode()
        ch.basic_publish("", OUT, out, pika.BasicProperties(content_type=JSON, delivery_mode=PERSISTENT), mandatory=True)
        ch.basic_ack(method.delivery_tag)

    channel.basic_consume(IN, on_message)
    while not stop.is_set():
        connection.process_data_events(time_limit=0.2)
    connection.close()


def runtime_loop(rabbit: RabbitMQConfig, stop: threading.Event) -> None:
    runner = Runner(PassThrough(), [IN], rabbit, topology(), "bench")
    threading.Thread(target=lambda: (stop.wait(), runner.request_stop()), daemon=True).start()
    runner.run()


@attrs.frozen
class Round:
    rate: float  # messages per second
    cpu_us: float  # this process's CPU per message: the loop's own plus the counting consumer's


def measure(rabbit: RabbitMQConfig, loop: Callable[[RabbitMQConfig, threading.Event], None], count: int) -> Round:
    fill(rabbit, count)
    stop = threading.Event()
    thread = threading.Thread(target=loop, args=(rabbit, stop), daemon=True)
    cpu_before = time.process_time()
    thread.start()
    # the last confirmed "flush" message is processed too
    elapsed = wait_for_output(rabbit, count + 1)
    cpu = time.process_time() - cpu_before
    stop.set()
    thread.join(30)
    return Round((count + 1) / elapsed, cpu / (count + 1) * 1e6)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5672)
    args = parser.parse_args()
    configure_logging(level="warning")
    vhost = f"tickborg-bench-{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True)
    rabbit = RabbitMQConfig(host=args.host, port=args.port, virtualhost=vhost, password=Secret("guest"))
    try:
        bare: list[Round] = []
        runtime: list[Round] = []
        for round_number in range(1, args.rounds + 1):
            bare.append(measure(rabbit, bare_loop, args.messages))
            runtime.append(measure(rabbit, runtime_loop, args.messages))
            print(f"round {round_number}: bare pika {bare[-1].rate:8.0f} msg/s ({bare[-1].cpu_us:.0f} µs CPU each)   "
                  f"tickborg runtime {runtime[-1].rate:8.0f} msg/s ({runtime[-1].cpu_us:.0f} µs CPU each)")
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False)
    best_bare, best_runtime = max(r.rate for r in bare), max(r.rate for r in runtime)
    # CPU per message is steadier than the rate on a busy machine: the runtime's own cost shows here.
    cpu_bare, cpu_runtime = min(r.cpu_us for r in bare), min(r.cpu_us for r in runtime)
    print(f"best: bare pika {best_bare:.0f} msg/s, tickborg runtime {best_runtime:.0f} msg/s")
    print(f"least CPU per message (this process, counting consumer included): bare pika {cpu_bare:.0f} µs, "
          f"tickborg runtime {cpu_runtime:.0f} µs (+{cpu_runtime - cpu_bare:.0f} µs)")
    print(f"ratio runtime/bare = {best_runtime / best_bare:.2f} (target >= 0.8)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
