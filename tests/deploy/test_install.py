"""A packaged install (`pip install .`, not editable) stands on its own.

The package is built from a copy of the repository with nothing beside it and
installed into a fresh venv; everything then runs from a directory outside
both, so nothing can come from the checkout.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from support.paths import REPO
from support.fake_process import start_fake_github
from tickborg.fakegithub.keys import generate_app_key

# Built, not the checkout's: what the tests and the venvs of the checkout leave behind.
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ of a fresh venv holding `tickborg[fake-github]` installed from a lone copy."""
    root = tmp_path_factory.mktemp("install")
    source = root / "source" / "tickborg"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True, timeout=120)
    bin_dir = root / "venv" / "bin"
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", f"{source}[fake-github]"],
        check=True,
        timeout=600,
        cwd=root,
    )
    shutil.rmtree(source.parent)  # the install must not lean on its source
    return bin_dir


def run(bin_dir: Path, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / command[0]), *command[1:]], capture_output=True, text=True, timeout=60, cwd=bin_dir.parent
    )


def test_no_top_level_workers_package(installed: Path) -> None:
    stray = run(installed, "python", "-c", "import workers")
    assert stray.returncode == 1 and "No module named 'workers'" in stray.stderr
    found = run(installed, "python", "-c", "import tickborg.workers.push_filter as m; print(m.__file__)")
    assert found.returncode == 0 and "/site-packages/tickborg/workers/" in found.stdout


def console_scripts(bin_dir: Path) -> list[str]:
    listed = run(
        bin_dir,
        "python",
        "-c",
        "import importlib.metadata as m, json;"
        "print(json.dumps([e.name for e in m.entry_points(group='console_scripts') if e.dist.name == 'tickborg']))",
    )
    return json.loads(listed.stdout)


def test_every_console_script_runs(installed: Path) -> None:
    scripts = console_scripts(installed)
    assert "tickborg" in scripts and "tickborg-push-filter" in scripts
    for script in scripts:
        done = run(installed, script, "--help")
        assert done.returncode == 0 and "usage:" in (done.stdout + done.stderr), (
            f"{script}: exit {done.returncode}\n{done.stdout}{done.stderr}"
        )
        assert "Traceback" not in done.stderr, f"{script}:\n{done.stderr}"


def test_fake_github_checks_requests_from_an_install(installed: Path, tmp_path: Path) -> None:
    key = tmp_path / "app.pub.pem"
    key.write_text(generate_app_key().public_pem)
    fake, url = start_fake_github(str(installed / "python"), 1, key, "tick-org/monorepo=1", tmp_path)
    try:
        # Checked before anything else, so no credentials are needed to be caught.
        requests.post(
            f"{url}/repos/tick-org/monorepo/statuses/{'a' * 40}",
            json={"state": "bogus"},
            headers={"User-Agent": "tickborg-test"},
            timeout=5,
        )
        violations = requests.get(f"{url}/_fake/violations", timeout=5).json()
        assert any("'bogus' is not one of" in violation for violation in violations), violations
    finally:
        fake.send_signal(signal.SIGTERM)
        output, _ = fake.communicate(timeout=30)
    # On exit it reports what it saw, and fails, so a demo cannot hide a bad request.
    assert fake.returncode == 1 and "request departed from the API description" in output
