"""GitHub failing under the whole fleet: every accepted webhook completes, or sits in a `.dead`
queue with its reason once its attempts ran out, and the GitHub calls stay bounded (no hot loop).

Each test sends several PRs through the receiver, injects a fault into the fake
GitHub (tickborg/fakegithub/faults.py) and lets the accounting ledger
(tests/support/accounting.py) trace every webhook to its outcome.
"""

from __future__ import annotations

from fault_fleet import FaultFleet
from tickborg.fakegithub.faults import bad_credentials

STATUSES = r"/repos/[^/]+/[^/]+/statuses/[0-9a-f]+"
CHECK_RUNS = r"/repos/[^/]+/[^/]+/check-runs(/\d+)?"
SUCCESS = "completed: eval success; libfoo on x86_64-linux: success"


def test_bad_credentials_once_make_each_worker_fetch_a_new_token_and_go_on(fleet: FaultFleet) -> None:
    fleet.fake.fail(bad_credentials(), "POST", STATUSES)  # the mass-rebuilder's
    fleet.fake.fail(bad_credentials(), "POST", CHECK_RUNS)  # the status reporter's
    fleet.send(3)
    accounts = fleet.ledger.wait_all_accounted(timeout=180)
    assert [a.outcome for a in accounts] == [SUCCESS] * 3
    calls = fleet.ledger.calls()
    assert calls.by_status.get(401) == 2
    # Each of the two workers that talk to GitHub: its first token, and one after the 401.
    assert len(fleet.fake.calls_to("POST", "/access_tokens")) == 4
    assert fleet.ledger.dead_letters() == []
