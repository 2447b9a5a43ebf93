"""The sandbox, through real builds: a build cannot reach the broker, read the
builder's secrets or the checkout cache, or write outside its checkout. The
same build without the sandbox can, so the test can fail."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from builder_fleet import custom, lines_of, make_origin, pr_job, run_job

from tickborg.config import RabbitMQConfig

pytestmark = pytest.mark.broker

PROBE = '''
import os, socket, sys
port = int(sys.argv[1])
try:
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
    print("network: connected")
except OSError as exc:
    print("network: failed", exc)
for argument in sys.argv[2:]:
    action, path = argument.split(":", 1)
    try:
        if action == "read":
            open(path).read()
        elif action == "list":
            os.listdir(path)
        else:
            with open(path, "w") as handle:
                handle.write("written by the build")
        print(f"{action} {path}: ok")
    except OSError as exc:
        print(f"{action} {path}: failed", exc.strerror)
'''


@pytest.mark.parametrize("sandbox", ["bubblewrap", "none"])
def test_what_a_build_can_reach(rabbitmq_config: RabbitMQConfig, tmp_path: Path, sandbox: str) -> None:
    secret = tmp_path / "secrets" / "app.pem"
    secret.parent.mkdir()
    secret.write_text("-----BEGIN PRIVATE KEY-----\n")
    secret.chmod(0o600)
    outside = tmp_path / "outside.txt"
    # The clone cache: the build's .git borrows its objects (read-only), nothing else of it.
    cache = tmp_path / "checkout" / "builder" / "cache" / "tick-org" / "monorepo.git"
    origin = make_origin(tmp_path)
    head = origin.open_pr(20, "main", {"tools/probe.py": PROBE}, "probe")
    # /etc/tickborg would be outside /tmp: /etc beyond what compilers need is not visible either.
    etc_secret = "/etc/shadow"
    command = (
        f"python3 probe.py {rabbitmq_config.port} read:{secret} read:{etc_secret} read:{cache}/config"
        f" list:{cache}/objects write:{cache}/objects/planted write:{outside} write:inside.txt"
    )
    statusreport, logs = run_job(
        rabbitmq_config, tmp_path, pr_job(origin, 20, head, ["probe"]), custom("probe", command), sandbox=sandbox
    )
    assert statusreport[-1]["status"] == "Success", statusreport[-1]
    report = {line.split(":", 1)[0]: line for line in lines_of(logs) if ": " in line and not line.startswith("===")}
    assert report["write inside.txt"] == "write inside.txt: ok"  # its own copy of the tree is writable either way
    if sandbox == "bubblewrap":
        assert report["network"].startswith("network: failed")
        assert report[f"read {secret}"].endswith("failed No such file or directory")
        assert report[f"read {etc_secret}"].endswith("failed No such file or directory")
        assert report[f"read {cache}/config"].endswith("failed No such file or directory")
        assert report[f"list {cache}/objects"].endswith(": ok")
        assert report[f"write {cache}/objects/planted"].endswith("failed Read-only file system")
        assert not outside.exists()  # written, if at all, to the sandbox's own scratch
    else:
        assert report["network"] == "network: connected"
        assert report[f"read {secret}"].endswith(": ok")
        if os.access(etc_secret, os.R_OK):  # tests running as root
            assert report[f"read {etc_secret}"].endswith(": ok")
        assert report[f"read {cache}/config"].endswith(": ok")
        assert outside.read_text() == "written by the build"
