"""`tickborg dead-letters`: list the reasons, replay after a fix, purge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest

from support.config import base_config_data
from support.runtime import Broker, RunningWorker
from support.workers import ScriptedWorker
from tickborg.cli import main as tickborg
from tickborg.config import Config, RabbitMQConfig
from tickborg.runtime.actions import Action, NackDump
from tickborg.broker import declare
from tickborg.topology import COMMENT_INPUTS, build_topology


class PickyWorker(ScriptedWorker):
    """Dumps everything until `fixed`: the bug that a replay follows."""

    fixed = False

    def handle(self, job: dict[str, object]) -> list[Action]:
        return super().handle(job) if self.fixed else [NackDump("not fixed yet")]


def dead_count_becomes(broker: Broker, count: int) -> bool:
    for _ in range(100):
        if broker.count(f"{COMMENT_INPUTS}.dead") == count:
            return True
        broker.connection.sleep(0.1)
    return False


def test_list_replay_purge(
    tmp_path: Path, rabbitmq_config: RabbitMQConfig, make_config: Callable[..., Config], capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_config(rabbitmq_config)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(base_config_data(rabbitmq_config)))
    broker = Broker(rabbitmq_config)
    declare(broker.channel, build_topology(config))
    broker.channel.queue_declare("out")
    worker = PickyWorker()
    with RunningWorker(worker, config, (COMMENT_INPUTS,), build_topology(config)):
        for n in range(3):
            broker.send(COMMENT_INPUTS, {"id": f"m{n}", "do": "ack"})
        assert dead_count_becomes(broker, 3)

        assert tickborg(["dead-letters", "list", "--config", str(path), "--queue", COMMENT_INPUTS]) == 0
        out = capsys.readouterr().out
        assert f"{COMMENT_INPUTS}.dead: 3" in out and out.count("- not fixed yet") == 3
        # Listing took nothing away (a quorum queue counts the peeked letters again
        # once they are back from the lister's closed channel).
        assert dead_count_becomes(broker, 3)

        worker.fixed = True
        assert tickborg(["dead-letters", "replay", "--config", str(path), "--queue", COMMENT_INPUTS, "--limit", "2"]) == 0
        got = {json.loads(broker.get("out")[1])["id"] for _ in range(2)}
        assert len(got) == 2

    assert tickborg(["dead-letters", "purge", "--config", str(path), "--queue", COMMENT_INPUTS]) == 0
    assert "purged 1 message(s)" in capsys.readouterr().out
    assert broker.count(f"{COMMENT_INPUTS}.dead") == 0
    assert tickborg(["dead-letters", "replay", "--config", str(path), "--queue", "nope"]) == 2
    broker.close()
