"""The status reporter (`github-comment-poster`): build progress → GitHub check runs (SPEC §5).

- `inputs`: what arrives on `build-results` (QueuedBuildJobs, BuildLogStart, BuildResult);
- `runs`: which check run a message is about: name, commit, log link, `external_id`;
- `render`: what a message says about its runs (status, conclusion, title, summary);
- `progress`: how a run moves (queued → in_progress → completed, never back);
- `policy`: the ack policy as one table, and the classification of GitHub failures;
- `worker`: the worker that reads the existing run and writes the next state.
"""
