"""The builder (SPEC §5, §9): build the projects a BuildJob names, stream the log.

Small parts, one concern each: `phases` (a project's build system → the argument
lists of its configure / build / test phases), `sandbox` (the bubblewrap command
line around a phase, with an init of ours), `process` (run one phase as its own
process group: merged output line by line within its log budget, timeout and
cancellation end every process of it), `logstream`
(log lines through the confirming publisher, a bounded window unconfirmed),
`confine` (a cgroup per phase, or rlimits: memory and processes),
`policy` (the ack policy table), `limits` (the start-up checks) and `worker`
(the NotifyWorker tying them together).
"""
