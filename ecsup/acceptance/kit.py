"""`scripts/acceptance` (python -m ecsup.acceptance): the real-account acceptance kit.

It says what it will create, what that costs and how long it takes, asks, then runs the life
(life.py) and its checks, cleans up whatever happens (a failure, Ctrl-C, SIGTERM), and writes
the report (report.json and report.txt) beside the stacks' ecsup.toml files. ``--sandbox`` runs
it all on the embedded sandbox, on a virtual clock (the test suite does).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets as pysecrets
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import EXIT_CONFIG, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EcsupError
from .life import GOOD_IMAGES, Life, ProbeServer, Stack, Target, partial0
from .report import Report

# The life's steps on AWS, in minutes (certificate validation and a new load balancer are the
# long waits of a create; a deployment: tasks start, linear or canary steps of a minute, a bake
# of a minute, clean-up; a move bakes 3 minutes; destroy waits for network interfaces).
MINUTES = {
    "create own (certificates, load balancer, service)": 12,
    "create shop and blog (the shared load balancer)": 14,
    "requests through the shared load balancer, ELB's HealthyHostCount read": 8,
    "blue/green on the shared listener, a failed probe, a one-off task": 14,
    "blue/green, then linear and canary: a deploy, an alarm rollback, a circuit breaker each": 45,
    "move own -> shared -> own (with a rolled-back move)": 30,
    "a deploy with the alarm in ALARM from the start, then rolling": 12,
    "destroy all three with --purge (network interfaces released)": 25,
}


class VirtualClock:
    """The sandbox's clock when the kit runs on it: sleeping moves it on at once, so AWS's delays
    (the emulation's) pass as ecsup waits them out, in no real time -- as the test suite's."""

    def __init__(self) -> None:
        self.now = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += max(0.0, float(seconds))


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="scripts/acceptance",
        description="Check in a real AWS account the behaviours ecsup's emulation of AWS assumes: creates three "
        "small stacks, releases them every way, checks what AWS reports, deletes them, writes a report.",
    )
    p.add_argument("--zone", metavar="ZONE", help="a public Route53 hosted zone of the account (required on AWS)")
    p.add_argument("--profile", metavar="NAME", help="AWS profile (else AWS_PROFILE / the default chain)")
    p.add_argument("--region", metavar="REGION", help="AWS region (else AWS_REGION / the profile's)")
    p.add_argument("--endpoint-url", metavar="URL", help="send every AWS call to this endpoint (e.g. `ecsup sandbox`)")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument("--sandbox", action="store_true", help="run on the embedded sandbox, on a virtual clock")
    p.add_argument(
        "--assumptions",
        action="store_true",
        help="print the assumptions it checks (docs/acceptance.md's list) and exit",
    )
    p.add_argument("--report-dir", metavar="DIR", help="where the report and the configs go [./ecsup-acceptance-<id>]")
    return p.parse_args(argv)


def stacks_for(run_id: str, zone: str, region: str, directory: Path) -> list[Stack]:
    app = f"acc{run_id}"
    edge = f"acc{run_id}-edge"
    return [
        Stack("own", app, "own", zone, region, directory, secret=True, cloudfront=True),
        Stack("shop", app, "shop", zone, region, directory, shared=edge),
        Stack("blog", app, "blog", zone, region, directory, shared=edge),
    ]


def cost_estimate(stacks: list[Stack], hours: float) -> tuple[float, list[str]]:
    """USD for ``hours`` of the three stacks (ecsup cost's monthly estimate / 730 each, from the
    price table shipped with ecsup), every stack counted for the whole run."""
    from ..config import parse as parse_config
    from ..cost import HOURS_PER_MONTH, Sharing, Usage, estimate
    from ..prices import shipped_prices

    usage = Usage(requests_per_month=0, log_gb_per_month=0.01, deploys_per_month=0)
    total, lines = 0.0, []
    for stack in stacks:
        config = parse_config(stack.text())
        sharing = Sharing(stack.shared, 2) if stack.shared else None
        result = estimate(config, usage, shipped_prices(stack.region), sharing)
        hourly = result.total_high / HOURS_PER_MONTH
        total += hourly * hours
        lines.append(f"{stack.name}: {result.total_text} a month -> ${hourly:.3f} an hour")
    return total, lines


def describe_plan(stacks: list[Stack], target: str, account: str) -> list[str]:
    own, shop, _blog = stacks
    hours = sum(MINUTES.values()) / 60
    usd, lines = cost_estimate(stacks, hours)
    where = f"account {account}, " if account else ""
    out = [
        f"The ecsup acceptance kit will create, in {target} ({where}{own.region}, zone {own.zone}):",
        f"  {own.name}: its own load balancer, certificates here and in us-east-1, a secret, https://{own.hostname}",
        f"  {shop.name}, {stacks[2].name}: on the shared load balancer {shop.shared}, https://{shop.hostname}, "
        f"https://{stacks[2].hostname}",
        "  each: a Fargate service of one task (256 cpu units, 512 MiB, nginx from ECR Public), two target groups, "
        "IAM roles, a log group, CloudWatch alarms, DNS records",
        f"then deploy them with every strategy, roll back by alarm, circuit breaker and probe, run a one-off task, "
        f"move {own.name} onto {shop.shared} and back, and delete everything (destroy --purge).",
    ]
    if target == "the embedded sandbox":
        out.append("Cost: none (local). Time: about a minute.")
    else:
        out.append(f"Time: about {hours:.1f} hours (" + "; ".join(f"{k}: {v} min" for k, v in MINUTES.items()) + ").")
        out.append(
            f"Cost: about ${usd:.2f} (ecsup cost's estimate for {hours:.1f} h of the three stacks, each alive the "
            "whole run: " + "; ".join(lines) + "), plus the overlapping tasks of deployments (cents)."
        )
    out.append(f"Images: {', '.join(GOOD_IMAGES)}.")
    return out


def confirm(yes: bool) -> None:
    from ..errors import Refused

    if yes:
        return
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise Refused("refusing to create resources without confirmation", hint="pass --yes to confirm")
    answer = input("Type yes to go on: ")
    if answer.strip().lower() != "yes":
        raise Refused(f"{answer!r} is not yes: nothing was created")


def _raise_interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def inventory(life: Life, stacks: list[Stack]) -> list[str]:
    """What of the kit's exists: everything tagged with the kit's app or shared load balancer (the
    tagging API, in the region and us-east-1), its IAM roles, SSM parameters (secrets, and the
    stacks' and the shared load balancer's locks) and log groups."""
    own = stacks[0]
    found: set[str] = set()
    filters = [[{"Key": "ecsup:app", "Values": [own.app]}], [{"Key": "ecsup:shared-lb", "Values": [stacks[1].shared]}]]
    for region in sorted({own.region, "us-east-1"}):
        tagging = life.client(own, "resourcegroupstaggingapi", region)
        for tag_filter in filters:
            for page in tagging.get_paginator("get_resources").paginate(TagFilters=tag_filter):
                for item in page.get("ResourceTagMappingList") or []:
                    found.add(item["ResourceARN"])
    found -= _inactive(life, own, found)
    iam = life.client(own, "iam")
    ssm = life.client(own, "ssm")
    logs = life.client(own, "logs")
    for stack in stacks:
        names = stack.names
        for role in (names.execution_role, names.task_role, names.infrastructure_role):
            try:
                iam.get_role(RoleName=role)
                found.add(f"IAM role {role}")
            except Exception as exc:
                if getattr(exc, "response", {}).get("Error", {}).get("Code") != "NoSuchEntity":
                    raise
        for page in ssm.get_paginator("describe_parameters").paginate(
            ParameterFilters=[{"Key": "Name", "Option": "BeginsWith", "Values": [f"/{stack.app}/{stack.env}/"]}]
        ):
            found.update(f"SSM parameter {p['Name']}" for p in page.get("Parameters") or [])
        locks = [names.lock_parameter, names.generation_parameter]
        if stack.shared:
            locks += [names.shared_lock_parameter, names.shared_generation_parameter]
        found.update(f"SSM parameter {p['Name']}" for p in ssm.get_parameters(Names=locks).get("Parameters") or [])
        for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=names.log_group):
            found.update(f"log group {g['logGroupName']}" for g in page.get("logGroups") or [])
    return sorted(found)


def _inactive(life: Life, stack: Stack, arns: set[str]) -> set[str]:
    """ECS clusters and services the tagging API still lists once deleted (INACTIVE): gone."""
    ecs = life.client(stack, "ecs")
    gone: set[str] = set()
    clusters = sorted(a for a in arns if ":cluster/" in a)
    if clusters:
        found = ecs.describe_clusters(clusters=clusters)
        gone.update(c["clusterArn"] for c in found.get("clusters") or [] if c.get("status") == "INACTIVE")
        gone.update(f["arn"] for f in found.get("failures") or [] if f.get("reason") == "MISSING")
    for arn in sorted(a for a in arns if ":service/" in a):
        cluster = arn.split(":service/")[1].split("/")[0]
        found = ecs.describe_services(cluster=cluster, services=[arn])
        if any(svc.get("status") == "INACTIVE" for svc in found.get("services") or []) or found.get("failures"):
            gone.add(arn)
    return gone


def main(argv: list[str] | None = None) -> int:
    from ..render import error, make_console

    opts = parse(argv)
    out, err = make_console(sys.stdout), make_console(sys.stderr)
    if opts.assumptions:
        from ..emulation.assumptions import markdown

        sys.stdout.write(markdown())
        return EXIT_OK
    if not opts.sandbox and not opts.zone:
        error(err, "--zone is required on AWS (a public hosted zone of the account)", "or --sandbox", EXIT_CONFIG)
        return EXIT_CONFIG
    run_id = pysecrets.token_hex(2)
    directory = Path(opts.report_dir or f"ecsup-acceptance-{run_id}").resolve()
    try:
        return _main(opts, run_id, directory, out, err)
    except EcsupError as exc:
        error(err, exc.message, exc.hint, exc.exit_code)
        return exc.exit_code
    except KeyboardInterrupt:  # before the life began (at the question, or while the sandbox started)
        error(err, "interrupted: nothing was created", None, EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED


def _main(opts: argparse.Namespace, run_id: str, directory: Path, out: Any, err: Any) -> int:
    from ..errors import OptionError

    if opts.sandbox and (opts.endpoint_url or opts.profile):
        raise OptionError("--sandbox runs its own local AWS: drop --endpoint-url and --profile")
    zone = (opts.zone or "example.test").rstrip(".").lower()
    region = opts.region or ("eu-west-1" if opts.sandbox else "")
    account = ""
    if not opts.sandbox:
        region, account = _account(opts, zone)
    stacks = stacks_for(run_id, zone, region, directory)
    target_name = "the embedded sandbox" if opts.sandbox else ("AWS" if not opts.endpoint_url else opts.endpoint_url)
    for line in describe_plan(stacks, target_name, account):
        out.print(line, markup=False, highlight=False)
    confirm(opts.yes)
    directory.mkdir(parents=True, exist_ok=True)
    report = Report(
        target="sandbox" if opts.sandbox else "aws",
        region=region,
        zone=zone,
        run_id=run_id,
        account=account,
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        stacks=[s.name for s in stacks],
    )
    start = time.monotonic()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)  # CI's SIGTERM cleans up like Ctrl-C
    box = probe = None
    secret = pysecrets.token_urlsafe(16)
    try:
        if opts.sandbox:
            box, probe, target = _sandbox(zone, region, secret)
        else:
            target = Target(region, zone, opts.profile, opts.endpoint_url, secret=secret)
        if probe is not None:
            target.probe_url = probe.url
        life = Life(target, stacks, report, out)
        _live(life, report, out)
        _clean_up(life, stacks, report, out)
    finally:
        if probe is not None:
            probe.stop()
        if box is not None:
            box.stop()
        report.seconds = time.monotonic() - start
        report.finished = datetime.now(UTC).isoformat(timespec="seconds")
        report.finish_skips()
        json_path, text_path = report.write(directory)
        out.print("")
        out.print(report.summary(), markup=False, highlight=False)
        out.print(f"report: {json_path} and {text_path}", markup=False, highlight=False)
        if report.left:
            out.print(
                "to delete what is left: " + "; ".join(f"ecsup destroy --purge --yes -c {s.path}" for s in stacks),
                markup=False,
                highlight=False,
            )
    if report.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if report.ok else EXIT_FAILURE


def _account(opts: argparse.Namespace, zone: str) -> tuple[str, str]:
    """The region and account the kit would work in, and the zone there (read-only calls)."""
    import boto3

    from ..errors import AwsError, ConfigError

    session = (
        boto3.Session(profile_name=opts.profile, region_name=opts.region)
        if opts.profile
        else boto3.Session(region_name=opts.region)
    )
    region = opts.region or session.region_name
    if not region:
        raise ConfigError([("--region", "no region: pass --region or set AWS_REGION")])
    kwargs = {"endpoint_url": opts.endpoint_url} if opts.endpoint_url else {}
    try:
        account = str(session.client("sts", region_name=region, **kwargs).get_caller_identity()["Account"])
        zones = session.client("route53", **kwargs).list_hosted_zones_by_name(DNSName=zone + ".", MaxItems="1")
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        raise AwsError(f"cannot read the account: {code}", code, "check the credentials (--profile)") from None
    found = [z for z in zones.get("HostedZones") or [] if z["Name"].rstrip(".") == zone]
    if not found or found[0].get("Config", {}).get("PrivateZone"):
        raise ConfigError([("--zone", f"{zone!r} is not a public hosted zone of account {account}")])
    return region, account


def _sandbox(zone: str, region: str, secret: str) -> tuple[Any, ProbeServer, Target]:
    from dataclasses import replace

    from .. import context
    from ..sandbox import DUMMY_CREDENTIALS, Sandbox, require_moto

    require_moto()
    from .. import emulation

    clock = VirtualClock()
    context.CLOCK.now, context.CLOCK.sleep = clock, clock.sleep
    # a minute of bake or step lasts 5 s and tasks take 3 s to start: long enough for ecsup's
    # watch (polls every 2 s or more) to see every stage, in no real time on the virtual clock
    delays = replace(emulation.SANDBOX, deployment_minute=5.0, task_start=3.0)
    box = Sandbox(zone=zone, region=region, delays=delays, clock=clock).start()
    os.environ.pop("AWS_ENDPOINT_URL", None)
    target = Target(
        region, zone, None, box.endpoint_url, dict(DUMMY_CREDENTIALS), sandbox=True, clock=clock, secret=secret
    )
    return box, ProbeServer(), target


def _live(life: Life, report: Report, out: Any) -> None:
    try:
        life.run()
    except KeyboardInterrupt:
        report.interrupted = True
        out.print("interrupted: cleaning up", style="bold yellow")
    except EcsupError as exc:
        report.error = f"{report.steps[-1]['step'] if report.steps else 'start'}: {exc.message}"
        out.print(f"error: {exc.message}", style="bold red", markup=False)
    except Exception as exc:  # a bug, or AWS answering what nobody expected: report it, clean up anyway
        import traceback

        report.error = f"{report.steps[-1]['step'] if report.steps else 'start'}: {type(exc).__name__}: {exc}"
        out.print(traceback.format_exc(), markup=False, highlight=False)


def _clean_up(life: Life, stacks: list[Stack], report: Report, out: Any) -> None:
    try:
        report.created = inventory(life, stacks)
    except Exception as exc:
        report.cleanup_errors.append(f"inventory before clean-up: {exc}")
    try:
        for stack in stacks:
            try:
                result = life.step(f"ecsup destroy --purge --yes -c {stack.path.name}", partial0(life.destroy, stack))
                for item in result.get("failed") or []:
                    report.cleanup_errors.append(
                        f"{stack.name}: {item.get('resource')} {item.get('name')}: {item.get('error')}"
                    )
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                report.cleanup_errors.append(f"{stack.name}: {getattr(exc, 'message', exc)}")
        life.check_draining()
    except KeyboardInterrupt:
        report.interrupted = True
        report.cleanup_errors.append("clean-up interrupted")
    try:
        report.left = _what_is_left(life, stacks, report)
    except KeyboardInterrupt:
        report.interrupted = True
        report.cleanup_errors.append("the inventory after the clean-up was interrupted")
    except Exception as exc:
        report.cleanup_errors.append(f"inventory after clean-up: {exc}")


LEFT_BOUND = 300.0  # seconds the tagging API may go on listing what was just deleted


def _what_is_left(life: Life, stacks: list[Stack], report: Report) -> list[str]:
    """The inventory after the clean-up; the tagging API lists deleted resources for a while, so
    what it still finds is looked at again, for at most LEFT_BOUND seconds."""
    from ..errors import WaitTimeout
    from ..waiting import poll

    left = {"now": inventory(life, stacks)}
    if not left["now"] or report.interrupted:
        return left["now"]

    def gone() -> tuple[bool, str]:
        left["now"] = inventory(life, stacks)
        return not left["now"], f"{len(left['now'])} still listed"

    with contextlib.suppress(WaitTimeout):
        poll(life.look(stacks[0]), "the kit's resources to be gone", gone, LEFT_BOUND)
    return left["now"]
