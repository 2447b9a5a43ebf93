"""The bubblewrap command line, as data (SPEC §9, Sandbox)."""

from __future__ import annotations

from pathlib import Path

from tickborg.builder.process import Command
from tickborg.builder.sandbox import INIT, Sandbox, bubblewrap_argv

WORKDIR = Path("/var/lib/tickborg/checkout/work/tick-org/monorepo/0")
CWD = WORKDIR / "libfoo"
TMP_BYTES = 1024 * 1024 * 1024


def sandboxed(argv: list[str]) -> list[str]:
    return bubblewrap_argv(WORKDIR, CWD, argv, TMP_BYTES)


def pairs(argv: list[str], flag: str, arity: int) -> list[tuple[str, ...]]:
    return [tuple(argv[i + 1 : i + 1 + arity]) for i, arg in enumerate(argv) if arg == flag]


def test_isolation_flags() -> None:
    argv = sandboxed(["make", "-j2"])
    assert argv[0] == "bwrap"
    for flag in ("--unshare-all", "--die-with-parent", "--new-session", "--clearenv"):
        assert flag in argv
    assert "--share-net" not in argv


def test_the_command_comes_last_after_a_separator_run_by_our_init() -> None:
    argv = sandboxed(["sh", "-c", "echo $HOME; --bind / /"])
    assert argv[-8:] == ["--", "/bin/sh", "-c", INIT, "tickborg-init", "sh", "-c", "echo $HOME; --bind / /"]
    assert "--as-pid-1" in argv[: argv.index("--")]


def test_only_the_workdir_is_writable_and_tmp_is_private() -> None:
    argv = sandboxed(["true"])
    assert pairs(argv, "--bind", 2) == [(str(WORKDIR), str(WORKDIR))]
    assert pairs(argv, "--tmpfs", 1) == [("/dev/shm",), ("/tmp",)]
    # Both sized; the rest of /dev (bwrap's unsized tmpfs) read-only.
    assert pairs(argv, "--size", 2) == [(str(TMP_BYTES), "--tmpfs")] * 2
    assert pairs(argv, "--remount-ro", 1) == [("/dev",)]
    # The workdir is mounted after the tmpfs, or a checkout under /tmp would be hidden.
    assert argv.index("/tmp") < argv.index("--bind")
    assert pairs(argv, "--chdir", 1) == [(str(CWD),)]
    assert ("/proc",) in pairs(argv, "--proc", 1) and ("/dev",) in pairs(argv, "--dev", 1)


def test_system_dirs_read_only_and_little_of_etc() -> None:
    binds = pairs(sandboxed(["true"]), "--ro-bind-try", 2)
    sources = {source for source, target in binds if source == target}
    assert len(sources) == len(binds)
    assert {"/usr", "/bin", "/lib", "/lib64", "/etc/alternatives", "/etc/ld.so.cache"} <= sources
    assert "/etc" not in sources and "/" not in sources and "/var" not in sources and "/root" not in sources


def test_clean_environment() -> None:
    env = dict(pairs(sandboxed(["true"]), "--setenv", 2))
    assert env == {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}


def test_none_runs_the_command_itself() -> None:
    assert Sandbox("none").command(WORKDIR, CWD, ["make"]) == Command(("make",))
    contained = Sandbox("bubblewrap", TMP_BYTES).command(WORKDIR, CWD, ["make"])
    assert contained == Command(tuple(sandboxed(["make"])), contained=True)
