"""`tickborg build-faker`: publish BuildJobs by hand, for development (SPEC §1).

    tickborg build-faker --config PATH --repo owner/name --clone-url URL
        --project P [--project P2 ...] --system S [--system S2 ...]
        (--pr N --head SHA --target-branch B | --push-branch B --head SHA) [--no-queued]

Each job goes to `build-inputs-{system}` as a filter would send it, with one
QueuedBuildJobs to `build-results` (unless `--no-queued`) so the status
reporter shows it; every publish is confirmed by the broker before exit 0.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import NoReturn, Sequence

from tickborg.broker import declare, properties
from tickborg.config import Config
from tickborg.filters.jobs import schedule_build
from tickborg.messages import BuildJob, Pr, PushTrigger, Repo
from tickborg.process import argument_parser, start
from tickborg.runtime.actions import Publish
from tickborg.tools import connect_or_report
from tickborg.topology import BUILD_RESULTS_QUEUE, build_queue, build_topology

NAME = "build-faker"
_SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")


class BadArguments(Exception):
    """Arguments that make no job; the message is the one line the user sees."""


def _refuse(message: str) -> NoReturn:
    sys.stderr.write(f"tickborg {NAME}: {message}\n")
    raise SystemExit(2)


def parser() -> argparse.ArgumentParser:
    parser = argument_parser(NAME)
    # One clear line on stderr, not argparse's usage block.
    parser.error = _refuse  # type: ignore[method-assign]
    parser.add_argument("--repo", required=True, help="owner/name")
    parser.add_argument("--clone-url", required=True)
    parser.add_argument("--project", action="append", required=True, help="a configured project (repeatable)")
    parser.add_argument("--system", action="append", required=True, help="a configured system (repeatable)")
    parser.add_argument("--head", required=True, help="the commit to build")
    parser.add_argument("--pr", type=int, help="a PR number (with --target-branch)")
    parser.add_argument("--target-branch", help="the PR's base branch")
    parser.add_argument("--push-branch", help="build a push to this branch instead of a PR")
    parser.add_argument("--no-queued", action="store_true", help="publish no QueuedBuildJobs")
    return parser


def job_from(args: argparse.Namespace, config: Config) -> BuildJob:
    """The job the arguments describe; `BadArguments` names the first thing wrong."""
    owner, _, name = args.repo.partition("/")
    if not owner or not name or "/" in name:
        raise BadArguments(f"--repo {args.repo!r}: expected owner/name")
    if not _SHA.fullmatch(args.head):
        raise BadArguments(f"--head {args.head!r}: expected a full commit SHA (lower-case hex)")
    unknown = [p for p in args.project if config.project(p) is None]
    if unknown:
        raise BadArguments(f"--project {', '.join(unknown)}: not in the configured projects")
    systems = [s for s in args.system if s not in config.systems.all]
    if systems:
        raise BadArguments(f"--system {', '.join(systems)}: not in systems.all ({', '.join(config.systems.all)})")
    repo = Repo(owner=owner, name=name, full_name=args.repo, clone_url=args.clone_url)
    if args.push_branch is not None:
        if args.pr is not None or args.target_branch is not None:
            raise BadArguments("--push-branch excludes --pr and --target-branch")
        return BuildJob.for_push(repo, PushTrigger(head_sha=args.head, branch=args.push_branch), args.project)
    if args.pr is None or args.target_branch is None:
        raise BadArguments("give --pr N and --target-branch B, or --push-branch B")
    if args.pr < 1:
        raise BadArguments(f"--pr {args.pr}: expected a PR number (1 or more)")
    return BuildJob.for_pr(repo, Pr(target_branch=args.target_branch, number=args.pr, head_sha=args.head), args.project)


def publishes(job: BuildJob, systems: Sequence[str], queued: bool) -> tuple[Publish, ...]:
    scheduled = schedule_build(job, tuple(dict.fromkeys(systems)))
    return scheduled if queued else scheduled[:-1]


def main(argv: Sequence[str] | None = None) -> int:
    config, args = start(NAME, argv, parser())
    try:
        job = job_from(args, config)
    except BadArguments as exc:
        _refuse(str(exc))
    messages = publishes(job, args.system, not args.no_queued)
    connection = connect_or_report(config.rabbitmq, f"tickborg {NAME}")
    if connection is None:
        return 1
    try:
        channel = connection.channel()
        queues = [*map(build_queue, args.system), BUILD_RESULTS_QUEUE]
        declare(channel, build_topology(config).select(queues))
        channel.confirm_delivery()
        for message in messages:
            # In confirm mode a publish returns once the broker took it, or raises.
            channel.basic_publish(message.exchange, message.routing_key, message.body(), properties(), mandatory=True)
    finally:
        connection.close()
    jobs = len(messages) - (0 if args.no_queued else 1)
    sys.stdout.write(f"published {jobs} BuildJob(s) {job.request_id} for {', '.join(job.attrs)}\n")
    return 0
