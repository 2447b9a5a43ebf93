"""A fake GitHub REST API for tests and the demo (SPEC §15).

Real HTTP on loopback: it checks App JWTs and installation tokens, keeps
repositories, pull requests, statuses, check runs, labels and comments in
memory, checks every request against GitHub's API description, and fails
on command (`tickborg.fakegithub.faults`).
"""

from tickborg.fakegithub.apidesc import ApiDescription
from tickborg.fakegithub.clock import ManualClock
from tickborg.fakegithub.keys import AppKeyPair, generate_app_key
from tickborg.fakegithub.server import Call, FakeGitHub

__all__ = ["ApiDescription", "AppKeyPair", "Call", "FakeGitHub", "ManualClock", "generate_app_key"]
