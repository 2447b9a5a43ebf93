"""Webhook payloads for the filter tests: GitHub's fixtures, adapted with code.

Every payload starts as one of the real payloads in `tests/fixtures/github/webhooks/`,
moved to our repository by `support.webhooks.load_webhook`, and is changed
here (PR number, action, comment, files), never by hand-editing a copy.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Iterable, Mapping

from support.paths import WEBHOOKS
from support.webhooks import load_webhook
from tickborg.reporter.runs import ExternalId

REPO = "tick-org/monorepo"
PR_NUMBER = 17
JSON = "application/json"
# The wire `Repo` every job built from these payloads carries.
REPO_JSON = {
    "owner": "tick-org",
    "name": "monorepo",
    "full_name": REPO,
    "clone_url": "https://github.com/tick-org/monorepo.git",
}


def body(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def pull_request(
    action: str = "opened",
    *,
    full_name: str = REPO,
    state: str | None = None,
    base: str = "main",
    changes: Mapping[str, Any] | None = None,
    number: int = PR_NUMBER,
) -> dict[str, Any]:
    """A pull_request event; the fixture of that action when GitHub's set has one."""
    name = f"pull_request.{action}"
    payload = load_webhook(name if (WEBHOOKS / f"{name}.json").exists() else "pull_request.opened", full_name)
    payload["action"] = action
    payload["number"] = payload["pull_request"]["number"] = number
    payload["pull_request"]["base"]["ref"] = base
    if state is not None:
        payload["pull_request"]["state"] = state
    if changes is not None:
        payload["changes"] = dict(changes)
    return payload


def comment(
    text: str,
    *,
    login: str = "alice",
    action: str = "created",
    on_pull_request: bool = True,
    full_name: str = REPO,
) -> dict[str, Any]:
    """An issue_comment event; GitHub marks a PR's conversation by `issue.pull_request`."""
    payload = load_webhook("issue_comment.created", full_name)
    payload["action"] = action
    payload["comment"]["body"] = text
    payload["comment"]["user"]["login"] = login
    payload["issue"]["number"] = PR_NUMBER
    payload["issue"].pop("pull_request", None)
    if on_pull_request:
        api = f"https://api.github.com/repos/{full_name}"
        payload["issue"]["pull_request"] = {
            "url": f"{api}/pulls/{PR_NUMBER}",
            "html_url": f"https://github.com/{full_name}/pull/{PR_NUMBER}",
            "diff_url": f"https://github.com/{full_name}/pull/{PR_NUMBER}.diff",
            "patch_url": f"https://github.com/{full_name}/pull/{PR_NUMBER}.patch",
        }
    return payload


def push(
    ref: str = "refs/heads/main",
    *,
    commits: Iterable[Mapping[str, list[str]]] = ({"modified": ["libfoo/src/foo.c"]},),
    full_name: str = REPO,
    source: str = "push.branch",
) -> dict[str, Any]:
    """A push event; each of `commits` sets some of a commit's added/removed/modified files."""
    payload = load_webhook(source, full_name)
    payload["ref"] = ref
    if payload["commits"]:
        template = payload["commits"][0]
        payload["commits"] = [
            {**copy.deepcopy(template), "id": f"{i + 1:040x}", "added": [], "removed": [], "modified": [], **files}
            for i, files in enumerate(commits)
        ]
    return payload


def external_id(system: str, projects: Iterable[str], request_id: str | None = "req-1") -> str:
    """A run's `external_id` as the status reporter writes it (projects sorted, each once)."""
    return ExternalId(system, tuple(sorted(set(projects))), request_id).encode()


def check_suite(
    *,
    action: str = "rerequested",
    app_id: int,
    head_sha: str,
    sender: str = "alice",
    prs: Iterable[int] = (PR_NUMBER,),
    full_name: str = REPO,
) -> dict[str, Any]:
    """A check_suite event: "Re-run all checks" on a suite of `app_id`'s runs."""
    payload = load_webhook("check_suite.rerequested", full_name)
    suite = payload["check_suite"]
    payload["action"] = action
    payload["sender"]["login"] = sender
    suite["head_sha"] = suite["after"] = suite["head_commit"]["id"] = head_sha
    suite["app"]["id"] = app_id
    suite["pull_requests"] = _pull_requests(suite["pull_requests"][0], prs, head_sha)
    return payload


def check_run(
    *, system: str = "x86_64-linux", projects: Iterable[str] = ("libfoo",), ext_id: str | None = None, **event: Any
) -> dict[str, Any]:
    """A check_run event on one run of the suite `check_suite(**event)` describes (ours
    when its App is ours and `ext_id` is unset)."""
    suite = check_suite(**event)
    payload = load_webhook("check_run.rerequested", suite["repository"]["full_name"])
    payload["action"], payload["sender"] = suite["action"], suite["sender"]
    run = payload["check_run"]
    run["name"] = f"{', '.join(sorted(projects))} on {system}"
    run["external_id"] = external_id(system, projects) if ext_id is None else ext_id
    for checked in (run, run["check_suite"]):
        for key in ("head_sha", "app", "pull_requests"):
            checked[key] = copy.deepcopy(suite["check_suite"][key])
    return payload


def _pull_requests(template: Mapping[str, Any], numbers: Iterable[int], head_sha: str) -> list[dict[str, Any]]:
    api = template["url"].rsplit("/", 1)[0]
    return [
        {**copy.deepcopy(template), "url": f"{api}/{n}", "number": n, "head": {**template["head"], "sha": head_sha}}
        for n in numbers
    ]
