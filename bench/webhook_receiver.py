"""Benchmark: sustained signed webhook deliveries through the receiver (SPEC §16).

    python bench/webhook_receiver.py [--duration 10] [--clients 16] [--processes 2]

Starts `tickborg github-webhook-receiver` as its own process against the
RabbitMQ on 127.0.0.1:5672 (override with TICKBORG_BENCH_AMQP_HOST / _PORT) in
a fresh vhost made with rabbitmqctl and deleted afterwards (or an existing one
named by TICKBORG_BENCH_VHOST, left in place). The load generator runs in
separate processes (so it does not share the receiver's GIL), `--clients`
keep-alive HTTP/1.1 connections in all, each sending signed pull_request
deliveries back to back for `--duration` seconds. It prints deliveries per
second, latency percentiles, and checks that every 200 has its message in the
broker: the count in `mass-rebuild-check-inputs` must equal the number of 200s.
Target: ≥ 1,000 deliveries/s with p99 ≤ 50 ms. It also shows how the machine's
cores were shared over the load (receiver, load generator, broker, the rest):
on a small machine they all compete for the same cores.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pika

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tickborg.topology import EVALUATION_INPUTS  # noqa: E402
from tickborg.webhook.signature import sign  # noqa: E402

PAYLOAD = REPO / "tests" / "fixtures" / "github" / "webhooks" / "pull_request.opened.json"
SECRET = b"bench-secret"
AMQP_HOST = os.environ.get("TICKBORG_BENCH_AMQP_HOST", "127.0.0.1")
AMQP_PORT = int(os.environ.get("TICKBORG_BENCH_AMQP_PORT", "5672"))
TARGET_RATE = 1000.0
TARGET_P99_MS = 50.0


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


def write_config(directory: Path, vhost: str, port: int) -> Path:
    secret = directory / "webhook-secret"
    secret.write_bytes(SECRET)
    secret.chmod(0o600)
    config = {
        "identity": "bench",
        "rabbitmq": {"host": AMQP_HOST, "port": AMQP_PORT, "virtualhost": vhost, "password": "guest"},
        "github_webhook_receiver": {"listen": f"127.0.0.1:{port}", "webhook_secret_file": str(secret)},
    }
    path = directory / "config.json"
    path.write_text(json.dumps(config))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def broker_pid() -> int | None:
    """The OS process id of the broker rabbitmqctl manages, when the benchmark's broker runs on this machine."""
    if AMQP_HOST not in ("127.0.0.1", "localhost", "::1"):
        return None
    try:
        status = subprocess.run(["rabbitmqctl", "status", "--formatter", "json"], capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    pid = json.loads(status.stdout or b"{}").get("pid") if status.returncode == 0 else None
    return int(pid) if pid is not None and Path(f"/proc/{pid}").exists() else None


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy so far, all cores (Linux /proc/stat)."""
    ticks = [int(field) for field in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks[:8]  # guest time is counted in user
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_healthy(port: int, receiver: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if receiver.poll() is not None:
            raise SystemExit(f"receiver exited with {receiver.returncode} during start-up")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("receiver not healthy in time")


# ----------------------------------------------------------------------------
# The load generator: one process runs several client threads.


def client_thread(port: int, body: bytes, headers: dict[str, str], tag: str, start_at: float, stop_at: float,
                  latencies: list[float], statuses: Counter[int]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    time.sleep(max(0.0, start_at - time.time()))
    n = 0
    while time.time() < stop_at:
        n += 1
        sent = {**headers, "X-GitHub-Delivery": f"{tag}-{n}"}
        began = time.perf_counter()
        try:
            connection.request("POST", "/", body=body, headers=sent)
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            connection.close()  # reconnects on the next request
            status = 0
        elapsed = time.perf_counter() - began
        statuses[status] += 1
        if status == 200:
            latencies.append(elapsed)
    connection.close()


def load_process(port: int, threads: int, index: int, start_at: float, stop_at: float,
                 results: multiprocessing.Queue) -> None:
    body = PAYLOAD.read_bytes()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "pull_request",
        "X-Hub-Signature-256": sign(SECRET, body),
        "User-Agent": "GitHub-Hookshot/bench",
    }
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    workers = [
        threading.Thread(
            target=client_thread,
            args=(port, body, headers, f"p{index}t{t}", start_at, stop_at, latencies, statuses),
        )
        for t in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    results.put((latencies, dict(statuses), time.process_time()))


def run_load(
    port: int, clients: int, processes: int, duration: float
) -> tuple[list[float], Counter[int], float, float, float]:
    """Latencies of the 200s, every status, wall seconds, and the CPU seconds of the load
    generator and of the whole machine over the load."""
    start_at = time.time() + 1.0  # every process connected and waiting
    stop_at = start_at + duration
    results: multiprocessing.Queue = multiprocessing.Queue()
    split = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    children = [
        multiprocessing.Process(target=load_process, args=(port, n, i, start_at, stop_at, results))
        for i, n in enumerate(split)
        if n
    ]
    for child in children:
        child.start()
    time.sleep(max(0.0, start_at - time.time()))
    busy_before = machine_busy_seconds()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    load_cpu = 0.0
    for _ in children:
        child_latencies, child_statuses, child_cpu = results.get()
        latencies += child_latencies
        statuses.update(child_statuses)
        load_cpu += child_cpu
    wall = time.time() - start_at
    busy = machine_busy_seconds() - busy_before
    for child in children:
        child.join()
    return latencies, statuses, wall, load_cpu, busy


def queued_messages(vhost: str, at_least: int = 0) -> int:
    """Messages in the evaluation queue, waiting up to 10 s for `at_least` of them
    (a quorum queue's count can trail its confirms by a moment)."""
    parameters = pika.ConnectionParameters(AMQP_HOST, AMQP_PORT, vhost, pika.PlainCredentials("guest", "guest"))
    connection = pika.BlockingConnection(parameters)
    channel = connection.channel()
    deadline = time.monotonic() + 10
    while True:
        count = channel.queue_declare(EVALUATION_INPUTS, passive=True).method.message_count
        if count >= at_least or time.monotonic() > deadline:
            connection.close()
            return count
        time.sleep(0.2)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load (default 10)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--processes", type=int, default=2, help="load-generator processes (default 2)")
    parser.add_argument("--receiver-log", type=Path, help="keep the receiver's log in this file")
    args = parser.parse_args()

    given_vhost = os.environ.get("TICKBORG_BENCH_VHOST")
    vhost = given_vhost or f"tickborg-bench-{uuid.uuid4().hex[:8]}"
    if not given_vhost:
        rabbitmqctl("add_vhost", vhost)
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    port = free_port()
    try:
        with tempfile.TemporaryDirectory(prefix="tickborg-bench-") as workdir:
            config = write_config(Path(workdir), vhost, port)
            log_path = args.receiver_log or Path(workdir) / "receiver.log"
            with open(log_path, "wb") as log:
                receiver = subprocess.Popen(
                    [sys.executable, "-m", "tickborg.workers.github_webhook_receiver", "--config", str(config)],
                    cwd=REPO,
                    stdout=log,
                    stderr=log,
                )
            try:
                wait_healthy(port, receiver)
                queued_before = queued_messages(vhost)
                print(f"receiver up on 127.0.0.1:{port}, vhost {vhost}; {args.clients} clients in "
                      f"{args.processes} processes for {args.duration:g} s ...", flush=True)
                broker = broker_pid()
                cpu_before = cpu_seconds(receiver.pid)
                broker_before = cpu_seconds(broker) if broker else 0.0
                latencies, statuses, wall, load_cpu, busy = run_load(port, args.clients, args.processes, args.duration)
                receiver_cpu = cpu_seconds(receiver.pid) - cpu_before
                broker_cpu = cpu_seconds(broker) - broker_before if broker else None
            finally:
                receiver.send_signal(signal.SIGTERM)
                exit_status = receiver.wait(timeout=30)
        ok = statuses.get(200, 0)
        in_broker = queued_messages(vhost, queued_before + ok) - queued_before
    finally:
        if not given_vhost:
            rabbitmqctl("delete_vhost", vhost)

    rate = ok / wall
    p50 = percentile(latencies, 0.50) * 1000 if latencies else float("nan")
    p99 = percentile(latencies, 0.99) * 1000 if latencies else float("nan")
    worst = max(latencies) * 1000 if latencies else float("nan")
    mean = statistics.fmean(latencies) * 1000 if latencies else float("nan")
    print(f"deliveries answered 200:  {ok} in {wall:.2f} s  ->  {rate:,.0f}/s  (target >= {TARGET_RATE:,.0f}/s: "
          f"{rate / TARGET_RATE:.2f}x)")
    print(f"latency ms: p50 {p50:.1f}  p99 {p99:.1f}  mean {mean:.1f}  max {worst:.1f}  "
          f"(target p99 <= {TARGET_P99_MS:.0f} ms)")
    print(f"receiver CPU: {receiver_cpu / wall:.0%} of one core, {receiver_cpu / max(ok, 1) * 1e6:.0f} µs per delivery")
    # On a small machine the load generator and the broker compete with the receiver for the same cores.
    cores = os.cpu_count() or 1
    broker_share = "not on this machine" if broker_cpu is None else f"{broker_cpu / wall:.2f}"
    other = busy - receiver_cpu - load_cpu - (broker_cpu or 0.0)
    print(f"machine CPU, in cores of {cores}: {busy / wall:.2f} busy: receiver {receiver_cpu / wall:.2f}, "
          f"load generator {load_cpu / wall:.2f}, broker {broker_share}, everything else {other / wall:.2f}")
    print(f"other answers: {dict((s, n) for s, n in statuses.items() if s != 200) or 'none'}")
    print(f"new messages in {EVALUATION_INPUTS}: {in_broker}  (== 200s: {in_broker == ok})")
    print(f"receiver exit status after SIGTERM: {exit_status}"
          + (f"; log: {args.receiver_log}" if args.receiver_log else " (--receiver-log PATH keeps its log)"))
    passed = in_broker == ok and exit_status == 0 and not (set(statuses) - {200})
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
