"""Choosing how build limits are enforced (the hostile builds that meet them are
in test_builder_limits.py and test_process.py)."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from tickborg.builder.confine import Confinement, LimitsUnavailable, confinement, own_cgroups
from tickborg.config import BuildLimits


def test_own_cgroups_of_hybrid_and_unified_hosts() -> None:
    hybrid = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/16f0\n1:cpu,cpuacct:/x\n0::/\n"
    assert own_cgroups(hybrid) == {"name=systemd": "/", "pids": "/", "memory": "/process_api/16f0", "cpu": "/x", "cpuacct": "/x", "": "/"}
    assert own_cgroups("0::/system.slice/tickborg@builder.service\n") == {"": "/system.slice/tickborg@builder.service"}


def test_a_host_without_cgroups_falls_back_to_rlimits_unless_cgroups_are_required(tmp_path: Path) -> None:
    # A cgroup root with nothing mounted in it: what a host without writable cgroups looks like to the builder.
    assert confinement(BuildLimits(), root=tmp_path).kind == "rlimit"
    with pytest.raises(LimitsUnavailable, match="Delegate=yes"):
        confinement(BuildLimits(enforcement="cgroup"), root=tmp_path)
    assert confinement(BuildLimits(enforcement="rlimit")) == Confinement("rlimit", BuildLimits(enforcement="rlimit"))


def test_rlimits_wrap_the_command_in_prlimit_and_nice() -> None:
    limits = BuildLimits(memory_bytes=256 * 1024 * 1024, processes=64)
    with Confinement("rlimit", limits).phase() as scope:
        assert scope.wrap(["bwrap", "--", "make"]) == [
            "prlimit", "--nproc=64", f"--as={256 * 1024 * 1024}", "--", "nice", "-n", "10", "bwrap", "--", "make"
        ]  # fmt: skip
    with Confinement("rlimit", attrs.evolve(limits, nice=0)).phase() as scope:
        assert scope.wrap(["make"]) == ["prlimit", "--nproc=64", f"--as={256 * 1024 * 1024}", "--", "make"]
