"""What the builder checks before it takes a job (SPEC §13)."""

from __future__ import annotations

from tickborg.builder.confine import Confinement, LimitsUnavailable, confinement
from tickborg.config import BuilderConfig, Config, ConfigError


def check_timeouts(config: Config) -> None:
    """ConfigError unless every project's timeout plus the kill grace is below the
    broker's consumer timeout.

    A delivery unacked for longer than `consumer_timeout` makes the broker close
    the channel and redeliver it; that does not count towards a quorum queue's
    delivery limit, so a build cut off this way would loop forever.
    """
    builder: BuilderConfig = config.require("builder")
    limit = builder.broker_consumer_timeout_seconds
    for index, project in enumerate(config.projects):
        needed = builder.timeout_of(project) + builder.kill_grace_seconds
        if needed >= limit:
            key = f"projects[{index}].timeout_seconds" if project.timeout_seconds else "builder.build_timeout_seconds"
            raise ConfigError(
                key,
                f"project {project.name!r} may take {needed} s with builder.kill_grace_seconds, not below"
                f" builder.broker_consumer_timeout_seconds ({limit} s): the broker would cut the build off"
                " and redeliver it forever (raise the broker's consumer_timeout and that key, or lower the timeout)",
            )


def build_confinement(config: Config) -> Confinement:
    """How this host limits builds; ConfigError when `builder.limits.enforcement` asks for what it lacks."""
    builder: BuilderConfig = config.require("builder")
    try:
        return confinement(builder.limits)
    except LimitsUnavailable as exc:
        raise ConfigError("builder.limits.enforcement", str(exc)) from None
