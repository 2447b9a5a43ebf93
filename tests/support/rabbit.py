"""RabbitMQ for tests: throw-away vhosts on the machine's broker, and private nodes.

Tests that only publish and consume get a fresh vhost on the shared broker, so
fixed queue names never collide between tests. Tests that stop or restart a
broker start a private node with its own name, ports and data directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pika

from tickborg.config import BrokerNode, RabbitMQConfig, Secret

RABBITMQCTL = "rabbitmqctl"
SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
SHARED_HOST = os.environ.get("TICKBORG_TEST_AMQP_HOST", "127.0.0.1")
SHARED_PORT = int(os.environ.get("TICKBORG_TEST_AMQP_PORT", "5672"))


def ctl(*args: str, node: str | None = None, env: dict[str, str] | None = None) -> str:
    command = [RABBITMQCTL, *(["-n", node] if node else []), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stdout}{done.stderr}")
    return done.stdout


def check_shared_broker() -> None:
    """Fail loudly (never skip) when the broker the tests need is not there."""
    try:
        with socket.create_connection((SHARED_HOST, SHARED_PORT), timeout=5):
            pass
    except OSError as exc:
        raise RuntimeError(
            f"RabbitMQ is not reachable on {SHARED_HOST}:{SHARED_PORT} ({exc}); "
            "install and start rabbitmq-server (bash .ci/run does both)"
        ) from None


def rabbitmq_settings(
    host: str, port: int, virtualhost: str = "/", hosts: tuple[BrokerNode, ...] = ()
) -> RabbitMQConfig:
    """The tests' broker settings: guest, quick heartbeats, short retries and grace."""
    return RabbitMQConfig(
        host=host,
        port=port,
        hosts=hosts,
        virtualhost=virtualhost,
        password=Secret("guest", "test"),
        heartbeat_seconds=10,
        retry_base_seconds=0.2,
        retry_cap_seconds=2.0,
        shutdown_grace_seconds=10,
    )


def create_vhost() -> str:
    name = f"tickborg-test-{uuid.uuid4().hex[:12]}"
    ctl("add_vhost", name)
    ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    return name


def delete_vhost(name: str) -> None:
    ctl("delete_vhost", name)


def unacked(virtualhost: str) -> int:
    """Deliveries not acked on the vhost's channels (the channels count them at once;
    a quorum queue's own count can lag behind)."""
    listing = ctl("list_channels", "-q", "vhost", "messages_unacknowledged")
    rows = [line.split("\t") for line in listing.splitlines()[1:]]
    return sum(int(count) for vhost, count in rows if vhost == virtualhost)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateNode:
    """A RabbitMQ node of the test's own: start, stop and restart it freely."""

    def __init__(self, base: Path, cookie: str | None = None) -> None:
        self.base = base
        self.name = f"tbtest{uuid.uuid4().hex[:8]}@localhost"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_once = False
        base.mkdir(parents=True, exist_ok=True)
        self.choose_ports()
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq-env.conf").write_text("")
        cookie_file = base / ".erlang.cookie"
        cookie_file.write_text(cookie or uuid.uuid4().hex)  # nodes of one cluster share theirs
        cookie_file.chmod(0o400)

    @property
    def env(self) -> dict[str, str]:
        base = str(self.base)
        return {
            **os.environ,
            "HOME": base,
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": f"{base}/mnesia",
            "RABBITMQ_LOG_BASE": f"{base}/log",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{base}/enabled_plugins",
            "RABBITMQ_CONFIG_FILE": f"{base}/rabbitmq",
            "RABBITMQ_CONF_ENV_FILE": f"{base}/rabbitmq-env.conf",
            "RABBITMQ_PID_FILE": f"{base}/pid",
        }

    def choose_ports(self, amqp: bool = True) -> None:
        """New ports; once clients know the AMQP port, only a new distribution port."""
        if amqp:
            self.port = free_port()
        self.dist_port = free_port()
        (self.base / "rabbitmq.conf").write_text(f"listeners.tcp.1 = 127.0.0.1:{self.port}\n")

    def start(self) -> None:
        ctl_path = shutil.which(RABBITMQCTL)
        assert ctl_path and Path(SERVER).exists(), "rabbitmq-server is not installed"
        # A free port is free only when asked: another process may take it before the
        # node binds it. Before anyone knows the ports, take new ones; on a restart the
        # AMQP port must stay, but the distribution port (found through epmd) may change.
        attempts = 3
        for attempt in range(1, attempts + 1):
            if self.boot():
                self.started_once = True
                return
            if attempt < attempts:
                self.choose_ports(amqp=not self.started_once)
        tail = (self.base / "server.out").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"private RabbitMQ exited; {self.base}/server.out ends:\n{tail}")

    def boot(self) -> bool:
        """Run the node until it takes AMQP connections: False when it exits first."""
        with open(self.base / "server.out", "ab") as log:
            self.process = subprocess.Popen([SERVER], env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                return False
            try:
                pika.BlockingConnection(self.parameters()).close()
                return True
            except pika.exceptions.AMQPConnectionError:
                time.sleep(0.3)
        raise RuntimeError("private RabbitMQ did not start within 90 s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def kill(self) -> None:
        """Lose the node as a crash or a power cut would: SIGKILL to its Erlang VM."""
        if self.process is None:
            return
        os.kill(int((self.base / "pid").read_text().strip()), signal.SIGKILL)
        self.process.wait(timeout=60)  # the start script ends with its VM
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def ctl(self, *args: str) -> str:
        """rabbitmqctl against this node, with its cookie.

        Without the node's RABBITMQ_DIST_PORT: the CLI would listen on that
        port + 10000, beyond 65535 for most free ports.
        """
        env = {key: value for key, value in self.env.items() if key != "RABBITMQ_DIST_PORT"}
        cookie = (self.base / ".erlang.cookie").read_text()
        return ctl("--erlang-cookie", cookie, *args, node=self.name, env=env)

    def parameters(self) -> pika.ConnectionParameters:
        return pika.ConnectionParameters("127.0.0.1", self.port, connection_attempts=1)

    @property
    def rabbitmq(self) -> RabbitMQConfig:
        return rabbitmq_settings("127.0.0.1", self.port)


class PrivateCluster:
    """Private nodes sharing an Erlang cookie, joined into one cluster."""

    def __init__(self, base: Path, size: int = 3) -> None:
        cookie = uuid.uuid4().hex
        self.nodes = [PrivateNode(base / f"node{i}", cookie) for i in range(size)]

    def start(self) -> None:
        with ThreadPoolExecutor(len(self.nodes)) as pool:  # a node takes seconds to boot
            list(pool.map(PrivateNode.start, self.nodes))
        first = self.nodes[0]
        for node in self.nodes[1:]:
            node.ctl("stop_app")
            node.ctl("join_cluster", first.name)
            node.ctl("start_app")
        first.ctl("await_online_nodes", str(len(self.nodes)))

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    @property
    def rabbitmq(self) -> RabbitMQConfig:
        """Every node in `hosts`, in order: processes connect to the first."""
        hosts = tuple(BrokerNode("127.0.0.1", node.port) for node in self.nodes)
        return rabbitmq_settings("127.0.0.1", hosts[0].port, hosts=hosts)
