"""The cost of building from a copy: the builder's `Workdir.tree_copy()` (the tree
without `.git`, so nothing a build writes reaches host git; issue 16) against
the checkout of the same commit it is made from.

A local origin of `--files` files (10,000 by default) in 100 directories; the
checkout of its branch is timed once, then `--rounds` copies (each made and
removed, as a job does). Printed from the one run: the median copy, the median
copy with its removal, and the copy's ratio to the checkout.

    python bench/tree_copy.py [--files 10000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tickborg.checkout import Checkouts  # noqa: E402
from tickborg.logsetup import configure_logging  # noqa: E402
from tickborg.messages import Repo  # noqa: E402


def make_origin(path: Path, files: int) -> Repo:
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    for n in range(files):
        directory = path / f"d{n % 100}"
        directory.mkdir(exist_ok=True)
        (directory / f"f{n}.c").write_text(f"int f{n};\n" * 20)
    git = ["git", "-C", str(path), "-c", "user.name=bench", "-c", "user.email=bench@example.org"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "tree"], check=True)
    return Repo("bench", "tree", "bench/tree", str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    configure_logging(level="warning")
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_origin(Path(tmp) / "origin", args.files)
        copies, with_removal = [], []
        with Checkouts(Path(tmp) / "checkouts").workdir(repo) as workdir:
            started = time.monotonic()
            workdir.checkout_branch("main")
            checkout = time.monotonic() - started
            for _ in range(args.rounds):
                started = time.monotonic()
                with workdir.tree_copy():
                    copies.append(time.monotonic() - started)
                with_removal.append(time.monotonic() - started)
    copy = statistics.median(copies)
    print(f"checkout of {args.files} files (clone, fetch, checkout): {checkout:.2f} s")
    print(f"tree copy: median {copy:.2f} s (min {min(copies):.2f}, max {max(copies):.2f}); with removal {statistics.median(with_removal):.2f} s")
    print(f"copy / checkout: {copy / checkout:.2f}")


if __name__ == "__main__":
    main()
