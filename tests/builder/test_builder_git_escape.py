"""A hostile build plants what host git would run (hooks, `core.hooksPath`,
`core.fsmonitor`) wherever it can reach a `.git`: in its own tree and at the path
of the working checkout it was made from. The next job on the same checkout runs
trusted git there (checkout, fetch, merge), and none of it runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from builder_fleet import custom, lines_of, make_origin, pr_job, run_job

from tickborg.config import RabbitMQConfig

pytestmark = pytest.mark.broker

PLANT = r'''
import os, sys
marker, slot_git = sys.argv[1], sys.argv[2]
script = "#!/bin/sh\necho \"$0 ran as $(id -u)\" >> " + marker + "\n"
for git_dir in ("../.git", slot_git):
    try:
        hooks = os.path.join(git_dir, "hooks")
        os.makedirs(hooks, exist_ok=True)
        for hook in ("post-checkout", "post-merge", "reference-transaction", "pre-merge-commit"):
            with open(os.path.join(hooks, hook), "w") as handle:
                handle.write(script)
            os.chmod(os.path.join(hooks, hook), 0o755)
        with open(os.path.join(git_dir, "config"), "a") as config:
            config.write(f"[core]\n\thooksPath = {os.path.abspath(hooks)}\n\tfsmonitor = {os.path.abspath(hooks)}/post-merge\n")
        print(f"planted in {git_dir}")
    except OSError as exc:
        print(f"could not plant in {git_dir}: {exc.strerror}")
'''


@pytest.mark.parametrize("sandbox", ["bubblewrap", "none"])
def test_what_a_build_plants_for_git_never_runs(rabbitmq_config: RabbitMQConfig, tmp_path: Path, sandbox: str) -> None:
    marker = tmp_path / "marker"
    slot = tmp_path / "checkout" / "builder" / "work" / "tick-org" / "monorepo" / "0"
    origin = make_origin(tmp_path)
    first = origin.open_pr(30, "main", {"tools/plant.py": PLANT}, "plant")
    hostile = custom("plant", f"python3 plant.py {marker} {slot / '.git'}")
    statusreport, logs = run_job(rabbitmq_config, tmp_path, pr_job(origin, 30, first, ["plant"]), hostile, sandbox=sandbox)
    assert statusreport[-1]["status"] == "Success", statusreport[-1]
    planted = [line for line in lines_of(logs) if "plant" in line and not line.startswith("===")]
    # The build's tree's .git is its own: what it makes there goes with the copy.
    assert "planted in ../.git" in planted
    if sandbox == "bubblewrap":
        # Out of the build's reach (what it made at that path went to its private /tmp),
        # the checkout host git works in is as git left it.
        assert not (slot / ".git" / "hooks" / "post-checkout").exists()
        assert "hooksPath" not in (slot / ".git" / "config").read_text()

    second = origin.open_pr(31, "main", {"tools/other.txt": "x\n"}, "next job")
    statusreport, _ = run_job(
        rabbitmq_config, tmp_path, pr_job(origin, 31, second, ["other"]), custom("other", "true"), sandbox=sandbox
    )
    assert statusreport[-1]["status"] == "Success", statusreport[-1]
    # Even where a planted file does reach it (no sandbox, development only), host git
    # runs no hook and no fsmonitor command.
    assert not marker.exists(), marker.read_text()


PROBE = r"""
echo "head $(git rev-parse HEAD)"
echo "pr $(git log -1 --format=%s HEAD^2)"
echo "dirty $(git status --porcelain | wc -l)"
for store in $(cat ../.git/objects/info/alternates); do
    if touch "$store/probe" 2>/dev/null; then echo "wrote $store"; else echo "read-only $store"; fi
done
"""


def test_git_in_the_sandbox_reads_the_merge_and_writes_no_object_store(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    origin = make_origin(tmp_path)
    head = origin.open_pr(32, "main", {"tools/probe.sh": PROBE}, "probe: git in the build")
    statusreport, logs = run_job(rabbitmq_config, tmp_path, pr_job(origin, 32, head, ["probe"]), custom("probe", "sh probe.sh"), sandbox="bubblewrap")
    assert statusreport[-1]["status"] == "Success", statusreport[-1]
    lines = [line for line in lines_of(logs) if not line.startswith("===")]
    merge = next(line.split()[1] for line in lines if line.startswith("head "))
    assert len(merge) == 40 and merge != head  # the merge commit the build was made from
    assert "pr probe: git in the build" in lines
    assert "dirty 0" in lines
    stores = [line for line in lines if line.startswith(("wrote", "read-only"))]
    assert len(stores) == 2 and all(line.startswith("read-only ") for line in stores), stores
