"""The bubblewrap command line, as data (SPEC §9, Sandbox)."""

from __future__ import annotations

from pathlib import Path

from tickborg.builder.sandbox import Sandbox, bubblewrap_argv

WORKDIR = Path("/var/lib/tickborg/checkout/work/tick-org/monorepo/0")
CWD = WORKDIR / "libfoo"


def pairs(argv: list[str], flag: str, arity: int) -> list[tuple[str, ...]]:
    return [tuple(argv[i + 1 : i + 1 + arity]) for i, arg in enumerate(argv) if arg == flag]


def test_isolation_flags() -> None:
    argv = bubblewrap_argv(WORKDIR, CWD, ["make", "-j2"])
    assert argv[0] == "bwrap"
    for flag in ("--unshare-all", "--die-with-parent", "--new-session", "--clearenv"):
        assert flag in argv
    assert "--share-net" not in argv


def test_the_command_comes_last_after_a_separator() -> None:
    argv = bubblewrap_argv(WORKDIR, CWD, ["sh", "-c", "echo $HOME; --bind / /"])
    assert argv[-4:] == ["--", "sh", "-c", "echo $HOME; --bind / /"]


def test_only_the_workdir_is_writable_and_tmp_is_private() -> None:
    argv = bubblewrap_argv(WORKDIR, CWD, ["true"])
    assert pairs(argv, "--bind", 2) == [(str(WORKDIR), str(WORKDIR))]
    assert pairs(argv, "--tmpfs", 1) == [("/tmp",)]
    # The workdir is mounted after the tmpfs, or a checkout under /tmp would be hidden.
    assert argv.index("--tmpfs") < argv.index("--bind")
    assert pairs(argv, "--chdir", 1) == [(str(CWD),)]
    assert ("/proc",) in pairs(argv, "--proc", 1) and ("/dev",) in pairs(argv, "--dev", 1)


def test_system_dirs_read_only_and_little_of_etc() -> None:
    binds = pairs(bubblewrap_argv(WORKDIR, CWD, ["true"]), "--ro-bind-try", 2)
    sources = {source for source, target in binds if source == target}
    assert len(sources) == len(binds)
    assert {"/usr", "/bin", "/lib", "/lib64", "/etc/alternatives", "/etc/ld.so.cache"} <= sources
    assert "/etc" not in sources and "/" not in sources and "/var" not in sources and "/root" not in sources


def test_clean_environment() -> None:
    env = dict(pairs(bubblewrap_argv(WORKDIR, CWD, ["true"]), "--setenv", 2))
    assert env == {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}


def test_none_runs_the_command_itself() -> None:
    assert Sandbox("none").command(WORKDIR, CWD, ["make"]) == ["make"]
    assert Sandbox("bubblewrap").command(WORKDIR, CWD, ["make"]) == bubblewrap_argv(WORKDIR, CWD, ["make"])
