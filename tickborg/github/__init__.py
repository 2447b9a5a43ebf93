"""GitHub App integration (SPEC §6).

- `events`: webhook payloads → frozen models (`PullRequestEvent`, `IssueCommentEvent`, `PushEvent`).
- `client`: `GitHubClient`, the REST operations, built with `GitHubClient.from_config`.
- `status`: `CommitStatus`, one status context on one commit.
- `errors`: `CommitStatusError` and its variants, and `classify`, the one classification.
- `auth`, `transport`, `pacer`, `bodies`, `models`, `fields`: the parts the client is made of.
"""
