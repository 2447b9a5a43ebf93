"""What changed on the fake GitHub between two looks, as progress lines, and the final picture."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from tickborg.demo.monorepo import PR_NUMBER

Snapshot = Mapping[str, Any]


def _issue(snapshot: Snapshot) -> Mapping[str, Any]:
    return snapshot.get("issues", {}).get(str(PR_NUMBER), {})


def _facts(snapshot: Snapshot) -> list[str]:
    """Everything worth a progress line, each once, in a stable order."""
    facts = [
        f"status {s['context']}: {s['state']}" + (f" — {s['description']}" if s.get("description") else "")
        for s in snapshot.get("statuses", [])
    ]
    facts += [f"label added: {label}" for label in _issue(snapshot).get("labels", [])]
    for run in snapshot.get("check_runs", []):
        conclusion = f" ({run['conclusion']})" if run.get("conclusion") else ""
        facts.append(f"check run {run['name']!r}: {run['status']}{conclusion}")
    facts += [f"comment by {c.get('user', {}).get('login', '?')}" for c in _issue(snapshot).get("comments", [])]
    return facts


class Progress:
    """Remembers what was already reported, so each step prints once."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def news(self, snapshot: Snapshot) -> list[str]:
        fresh = [fact for fact in dict.fromkeys(_facts(snapshot)) if fact not in self._seen]
        self._seen.update(fresh)
        return fresh


def runs_by_name(snapshot: Snapshot) -> dict[str, Mapping[str, Any]]:
    return {run["name"]: run for run in snapshot.get("check_runs", [])}


def eval_state(snapshot: Snapshot) -> str | None:
    states = [s["state"] for s in snapshot.get("statuses", []) if s["context"] == "tickborg-eval"]
    return states[-1] if states else None


def completed(snapshot: Snapshot, names: Iterable[str]) -> bool:
    runs = runs_by_name(snapshot)
    return all(runs.get(name, {}).get("status") == "completed" for name in names)


def summary(snapshot: Snapshot, attempts: Sequence[Mapping[str, Any]]) -> list[str]:
    """The PR as GitHub would show it, and the logs logapi serves."""
    issue = _issue(snapshot)
    lines = [f"pull request #{PR_NUMBER}: {issue.get('title', '')} ({issue.get('state', '?')})"]
    lines.append("  labels: " + (", ".join(issue.get("labels", [])) or "none"))
    latest = {s["context"]: s for s in snapshot.get("statuses", [])}
    lines.append("  statuses:")
    lines += [f"    {s['context']}: {s['state']} — {s.get('description') or ''}" for s in latest.values()]
    lines.append("  check runs:")
    for run in snapshot.get("check_runs", []):
        lines.append(f"    {run['name']}: {run['status']}, {run.get('conclusion')}")
        if run.get("details_url"):
            lines.append(f"      log page: {run['details_url']}")
    lines.append("  build logs (logapi):")
    for attempt in attempts:
        lines.append(f"    {attempt['url']}  {attempt['status']}, {attempt['lines']} lines")
    return lines
