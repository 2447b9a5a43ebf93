"""The fake GitHub's data: repositories, installations, tokens, and what tickborg wrote.

Objects are kept as the JSON GitHub would return, so the HTTP layer hands
them out as they are and tests read back exactly what a client would see.
Operations raise `ApiError` where GitHub answers with an error. Every public
method takes the lock: the server answers requests on several threads.
"""

from __future__ import annotations

import copy
import secrets
import string
import threading
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

import attrs

from tickborg.fakegithub.sender import HookSender
from tickborg.github.transport import Clock

_TOKEN_ALPHABET = string.ascii_letters + string.digits
_CHECK_RUN_FIELDS = (
    "name", "status", "conclusion", "details_url", "external_id", "started_at", "completed_at"
)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message


def iso(epoch: float) -> str:
    """GitHub's time format."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def missing_sha(sha: str) -> ApiError:
    return ApiError(422, f"No commit found for SHA: {sha}")


@attrs.frozen
class IssuedToken:
    value: str = attrs.field(repr=False)
    installation_id: int
    expires_at: float


@attrs.define
class FakeRepo:
    owner: str
    name: str
    installation_id: int
    default_branch: str
    commits: set[str] = attrs.Factory(set)
    issues: dict[int, dict[str, Any]] = attrs.Factory(dict)  # every PR has its issue too
    pulls: dict[int, dict[str, Any]] = attrs.Factory(dict)
    pull_files: dict[int, list[dict[str, Any]]] = attrs.Factory(dict)
    comments: dict[int, list[dict[str, Any]]] = attrs.Factory(dict)
    statuses: list[tuple[str, dict[str, Any]]] = attrs.Factory(list)  # (sha, status), oldest first
    check_runs: dict[int, dict[str, Any]] = attrs.Factory(dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "full_name": self.full_name,
            "owner": {"login": self.owner},
            "html_url": f"https://github.com/{self.full_name}",
            "clone_url": f"https://github.com/{self.full_name}.git",
            "default_branch": self.default_branch,
        }

    def commit(self, sha: str) -> str:
        if sha not in self.commits:
            raise missing_sha(sha)
        return sha

    def issue(self, number: int) -> dict[str, Any]:
        if number not in self.issues:
            raise not_found()
        return self.issues[number]


def _user(login: str) -> dict[str, Any]:
    return {"login": login, "type": "Bot" if login.endswith("[bot]") else "User"}


def _label(name: str) -> dict[str, Any]:
    return {"name": name, "color": "ededed", "default": False, "description": None}


class FakeState:
    def __init__(self, clock: Clock, app_id: int, token_lifetime: float, bot_login: str) -> None:
        self._clock = clock
        self.app_id = app_id
        self.token_lifetime = token_lifetime
        self.bot_login = bot_login
        self._lock = threading.RLock()
        self._repos: dict[str, FakeRepo] = {}
        self._tokens: dict[str, IssuedToken] = {}
        self._issued: list[IssuedToken] = []
        self._next_id = 1000
        self.hooks = HookSender(clock)  # the App's webhook: deliveries sent and their log

    # ------------------------------------------------------------------
    # Helpers.

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _now(self) -> str:
        return iso(self._clock())

    def _repo(self, full_name: str) -> FakeRepo:
        repo = self._repos.get(full_name.lower())
        if repo is None:
            raise not_found()
        return repo

    # ------------------------------------------------------------------
    # Setting the scene (tests, the demo).

    def add_repo(self, full_name: str, installation_id: int = 1, default_branch: str = "main") -> None:
        owner, _, name = full_name.partition("/")
        with self._lock:
            self._repos[full_name.lower()] = FakeRepo(owner, name, installation_id, default_branch)

    def add_commits(self, full_name: str, *shas: str) -> None:
        with self._lock:
            self._repo(full_name).commits.update(shas)

    def add_issue(
        self,
        full_name: str,
        number: int,
        title: str = "An issue",
        state: str = "open",
        author: str = "alice",
        labels: Sequence[str] = (),
    ) -> None:
        with self._lock:
            repo = self._repo(full_name)
            repo.issues[number] = {
                "id": self._new_id(),
                "number": number,
                "title": title,
                "state": state,
                "user": _user(author),
                "labels": [_label(name) for name in dict.fromkeys(labels)],
                "body": "",
                "html_url": f"https://github.com/{repo.full_name}/issues/{number}",
            }
            repo.comments.setdefault(number, [])

    def add_pull_request(
        self,
        full_name: str,
        number: int,
        head_sha: str,
        base_ref: str = "main",
        state: str = "open",
        title: str = "A change",
        author: str = "alice",
        files: Iterable[str | Mapping[str, Any]] = (),
        head_ref: str | None = None,
        base_sha: str | None = None,
        draft: bool = False,
        labels: Sequence[str] = (),
    ) -> None:
        """A PR, its issue, and its head (and base) commits. `files` are names, or
        dicts such as `{"filename": "b", "status": "renamed", "previous_filename": "a"}`."""
        with self._lock:
            self.add_issue(full_name, number, title, state, author, labels)
            repo = self._repo(full_name)
            base_sha = base_sha or f"{number:040x}"[::-1]  # any SHA other than the head
            repo.commits.update((head_sha, base_sha))
            html_url = f"https://github.com/{repo.full_name}/pull/{number}"
            repo.issues[number]["pull_request"] = {"html_url": html_url, "merged_at": None}
            repo.pulls[number] = {
                "id": self._new_id(),
                "number": number,
                "state": state,
                "title": title,
                "user": _user(author),
                "draft": draft,
                "merged": False,
                "html_url": html_url,
                "head": {"ref": head_ref or f"pr-{number}", "sha": head_sha, "repo": repo.json()},
                "base": {"ref": base_ref, "sha": base_sha, "repo": repo.json()},
            }
            repo.pull_files[number] = [_file(entry) for entry in files]

    def update_pull_request(
        self,
        full_name: str,
        number: int,
        state: str | None = None,
        title: str | None = None,
        head_sha: str | None = None,
        draft: bool | None = None,
    ) -> None:
        """Change a PR as its author would: close or reopen it, retitle it, push to it."""
        with self._lock:
            repo = self._repo(full_name)
            pull, issue = repo.pulls.get(number), repo.issue(number)
            if pull is None:
                raise not_found()
            shared = {key: value for key, value in (("state", state), ("title", title)) if value}
            pull.update(shared)
            issue.update(shared)
            if draft is not None:
                pull["draft"] = draft
            if head_sha is not None:
                pull["head"]["sha"] = head_sha
                repo.commits.add(head_sha)

    def remove_commits(self, full_name: str, *shas: str) -> None:
        """Forget commits, as a force-push does: statuses on them then get 422 (MissingSha)."""
        with self._lock:
            self._repo(full_name).commits.difference_update(shas)

    # ------------------------------------------------------------------
    # Reading back what clients did.

    def statuses(self, full_name: str, sha: str | None = None) -> list[dict[str, Any]]:
        """Statuses in the order they were created."""
        with self._lock:
            found = self._repo(full_name).statuses
            return copy.deepcopy([s for at, s in found if sha is None or at == sha])

    def check_runs(self, full_name: str, head_sha: str | None = None) -> list[dict[str, Any]]:
        """Check runs in the order they were created, with their latest state."""
        with self._lock:
            runs = self._repo(full_name).check_runs.values()
            return copy.deepcopy([r for r in runs if head_sha is None or r["head_sha"] == head_sha])

    def labels(self, full_name: str, number: int) -> list[str]:
        with self._lock:
            return [label["name"] for label in self._repo(full_name).issue(number)["labels"]]

    def comments(self, full_name: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            self._repo(full_name).issue(number)
            return copy.deepcopy(self._repo(full_name).comments[number])

    def snapshot(self, full_name: str) -> dict[str, Any]:
        """What GitHub would show for a repository: statuses (with their commit),
        check runs, and each issue's state, labels and comments."""
        with self._lock:
            repo = self._repo(full_name)
            return copy.deepcopy(
                {
                    "statuses": [{"sha": sha, **status} for sha, status in repo.statuses],
                    "check_runs": list(repo.check_runs.values()),
                    "issues": {
                        str(number): {
                            "title": issue["title"],
                            "state": issue["state"],
                            "labels": [label["name"] for label in issue["labels"]],
                            "comments": repo.comments[number],
                        }
                        for number, issue in repo.issues.items()
                    },
                }
            )

    def issued_tokens(self, installation_id: int | None = None) -> list[IssuedToken]:
        with self._lock:
            return [t for t in self._issued if installation_id in (None, t.installation_id)]

    # ------------------------------------------------------------------
    # Apps and installations.

    def installation_of(self, full_name: str) -> int:
        with self._lock:
            return self._repo(full_name).installation_id

    def issue_token(self, installation_id: int) -> IssuedToken:
        with self._lock:
            if not any(r.installation_id == installation_id for r in self._repos.values()):
                raise not_found()
            value = "ghs_" + "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(36))
            token = IssuedToken(value, installation_id, self._clock() + self.token_lifetime)
            self._tokens[value] = token
            self._issued.append(token)
            return token

    def token(self, value: str) -> IssuedToken | None:
        with self._lock:
            return self._tokens.get(value)

    # ------------------------------------------------------------------
    # The REST operations.

    def create_status(self, full_name: str, sha: str, body: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            repo = self._repo(full_name)
            now = self._now()
            status = {
                "id": self._new_id(),
                "state": body["state"],
                "description": body.get("description"),
                "target_url": body.get("target_url"),
                "context": body.get("context", "default"),
                "created_at": now,
                "updated_at": now,
                "creator": _user(self.bot_login),
            }
            repo.statuses.append((repo.commit(sha), status))
            return copy.deepcopy(status)

    def list_statuses(self, full_name: str, ref: str) -> list[dict[str, Any]]:
        with self._lock:
            repo = self._repo(full_name)
            repo.commit(ref)
            return self.statuses(full_name, ref)[::-1]  # GitHub lists newest first

    def create_check_run(self, full_name: str, body: Mapping[str, Any], app_id: int | None = None) -> dict[str, Any]:
        """A run of this App, or of the App `app_id` (a test's other App, say GitHub Actions)."""
        with self._lock:
            repo = self._repo(full_name)
            run_id = self._new_id()
            run = {
                "id": run_id,
                "name": body["name"],
                "head_sha": repo.commit(body["head_sha"]),
                "status": "queued",
                "conclusion": None,
                "details_url": None,
                "external_id": None,
                "started_at": self._now(),
                "completed_at": None,
                "output": {"title": None, "summary": None, "text": None, "annotations_count": 0},
                "app": {"id": self.app_id if app_id is None else app_id},
                "html_url": f"https://github.com/{repo.full_name}/runs/{run_id}",
                "pull_requests": [],
            }
            repo.check_runs[run_id] = self._apply_check_run(run, body)
            return copy.deepcopy(run)

    def update_check_run(self, full_name: str, run_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            # Change a copy, so a refused update leaves the run as it was.
            run = self._apply_check_run(copy.deepcopy(self._check_run(full_name, run_id)), body)
            self._repo(full_name).check_runs[run_id] = run
            return copy.deepcopy(run)

    def _apply_check_run(self, run: dict[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
        for key in _CHECK_RUN_FIELDS:
            if key in body:
                run[key] = body[key]
        run["output"].update(body.get("output", {}))
        # As GitHub does: a conclusion completes the run.
        if body.get("conclusion") is not None:
            run["status"] = "completed"
        if run["status"] == "completed":
            if run["conclusion"] is None:
                raise ApiError(
                    422, "Invalid request.\n\nconclusion is required when status is completed."
                )
            run["completed_at"] = run["completed_at"] or self._now()
        return run

    def _check_run(self, full_name: str, run_id: int) -> dict[str, Any]:
        run = self._repo(full_name).check_runs.get(run_id)
        if run is None:
            raise not_found()
        return run

    def get_check_run(self, full_name: str, run_id: int) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._check_run(full_name, run_id))

    def list_check_runs(
        self, full_name: str, ref: str, check_name: str | None, status: str | None, latest: bool, app_id: int | None
    ) -> list[dict[str, Any]]:
        with self._lock:
            self._repo(full_name).commit(ref)
            runs = [
                r
                for r in self.check_runs(full_name, ref)
                if check_name in (None, r["name"]) and status in (None, r["status"]) and app_id in (None, r["app"]["id"])
            ]
            if latest:  # newest run of each name only
                runs = list({r["name"]: r for r in runs}.values())
            return sorted(runs, key=lambda r: r["id"], reverse=True)

    def get_issue(self, full_name: str, number: int) -> dict[str, Any]:
        with self._lock:
            issue = self._repo(full_name).issue(number)
            return copy.deepcopy({**issue, "comments": len(self._repo(full_name).comments[number])})

    def list_labels(self, full_name: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._repo(full_name).issue(number)["labels"])

    def add_labels(self, full_name: str, number: int, names: Iterable[str]) -> list[dict[str, Any]]:
        with self._lock:
            issue = self._repo(full_name).issue(number)
            present = [label["name"] for label in issue["labels"]]
            issue["labels"] += [_label(name) for name in dict.fromkeys(names) if name not in present]
            return self.list_labels(full_name, number)

    def remove_label(self, full_name: str, number: int, name: str) -> list[dict[str, Any]]:
        with self._lock:
            issue = self._repo(full_name).issue(number)
            kept = [label for label in issue["labels"] if label["name"] != name]
            if len(kept) == len(issue["labels"]):
                raise ApiError(404, "Label does not exist")
            issue["labels"] = kept
            return self.list_labels(full_name, number)

    def create_comment(self, full_name: str, number: int, body: str) -> dict[str, Any]:
        with self._lock:
            repo = self._repo(full_name)
            repo.issue(number)
            comment_id = self._new_id()
            now = self._now()
            comment = {
                "id": comment_id,
                "body": body,
                "user": _user(self.bot_login),
                "created_at": now,
                "updated_at": now,
                "html_url": f"{repo.json()['html_url']}/issues/{number}#issuecomment-{comment_id}",
            }
            repo.comments[number].append(comment)
            return copy.deepcopy(comment)

    def get_pull(self, full_name: str, number: int) -> dict[str, Any]:
        with self._lock:
            pull = self._repo(full_name).pulls.get(number)
            if pull is None:
                raise not_found()
            return copy.deepcopy(pull)

    def list_pull_files(self, full_name: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            self.get_pull(full_name, number)
            return copy.deepcopy(self._repo(full_name).pull_files[number])


def _file(entry: str | Mapping[str, Any]) -> dict[str, Any]:
    fields = {"filename": entry} if isinstance(entry, str) else dict(entry)
    defaults = {"sha": "0" * 40, "status": "modified", "additions": 1, "deletions": 0, "changes": 1}
    return {**defaults, **fields}
