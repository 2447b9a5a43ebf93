"""The ingest filters: webhook payloads from `github-events` in, jobs out (SPEC §5).

- `evaluation`: pull_request events → `EvaluationJob`;
- `comment`: `@tickbot` comments → `BuildJob`s / `EvaluationJob`, with the ACL;
- `push`: pushes to tracked branches → `BuildJob`s.

Each states its ack policy as one table (`Case` → `Verdict`, see `policy`) and
decides with pure functions; `payload` and `jobs` hold what they share.
"""
