"""`ecsup init`: write a commented ecsup.toml from options, asking on a terminal for
what is missing (and offering the account's public hosted zones).

The text written is validated with ``config.parse`` first: a file `ecsup init` writes
always loads. Secret *values* never go in the file, only the SSM parameter names.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .config import (
    DEFAULT_TLS_POLICY,
    FARGATE_MEMORY,
    AlarmsConfig,
    Config,
    DeployConfig,
    DnsConfig,
    ServiceConfig,
    VerifyConfig,
    parse,
)
from .errors import ConfigError, EcsupError, OptionError
from .workloads import JOB_TIMEOUT_RANGE, STOP_TIMEOUT_RANGE, JobConfig, WorkerConfig

# config defaults, so that the comments and the values written stay in step with config.py
_SVC = ServiceConfig(image="")
_DNS = DnsConfig(zone="", hostname="")

# key path in ecsup.toml -> the `ecsup init` option that sets it (for error messages)
KEY_OPTIONS = {
    "app": "--app",
    "env": "--env",
    "region": "--region",
    "dns.zone": "--zone",
    "dns.hostname": "--hostname",
    "dns.record": "--record",
    "dns.cloudfront_certificate": "--cloudfront-certificate",
    "dns.external": "--external",
    "service.image": "--image",
    "service.container_port": "--port",
    "service.cpu": "--cpu",
    "service.memory": "--memory",
    "service.desired_count": "--desired-count",
    "service.health_check_path": "--health-check-path",
    "service.secrets": "--secret",
    "service.environment": "--env-var",
}
REQUIRED = ("app", "env", "zone", "image")

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class InitOptions:
    app: str | None = None
    env: str | None = None
    zone: str | None = None
    hostname: str | None = None
    image: str | None = None
    region: str | None = None
    port: int | None = None
    cpu: int | None = None
    memory: int | None = None
    desired_count: int | None = None
    health_check_path: str | None = None
    record: str | None = None
    cloudfront_certificate: bool = False
    secrets: tuple[tuple[str, str], ...] = ()
    environment: tuple[tuple[str, str], ...] = ()
    external: bool = False  # [dns] external = true: the domain's DNS is at another provider (no zone)
    # the region has no default VPC (seen with working credentials): [network] shared = "main" is written
    own_network: bool = False

    def missing_required(self) -> list[str]:
        """What must be given: app, env, zone and image; with external DNS no zone (there is none to
        derive www.<zone> from) but the hostname."""
        names = [n for n in REQUIRED if not (self.external and n == "zone")]
        if self.external:
            names.append("hostname")
        return [name for name in names if not (getattr(self, name) or "").strip()]


# -- TOML text ----------------------------------------------------------------------


def toml_str(value: str) -> str:
    """A TOML basic string. TOML accepts JSON's escapes (\\" \\\\ \\n \\t \\uXXXX ...); it also
    forbids a literal DEL, and has no surrogate escapes (hence ensure_ascii=False)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{value!r} is not valid UTF-8 text") from None
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else toml_str(key)


def parse_pairs(values: Sequence[str] | None, option: str, example: str) -> tuple[tuple[str, str], ...]:
    """``NAME=value`` option values as pairs; a name given twice is an error."""
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw in values or ():
        name, sep, value = raw.partition("=")
        name = name.strip()
        if not sep or not name:
            raise OptionError(f"{option} {raw!r}: expected NAME=VALUE, e.g. {option} {example}")
        if name in seen:
            raise OptionError(f"{option} {name}: given twice")
        seen.add(name)
        pairs.append((name, value.strip() if option == "--secret" else value))
    return tuple(pairs)


def _normalise_domain(value: str) -> str:
    return value.strip().lower().rstrip(".")


def render(opts: InitOptions) -> str:
    """The commented ecsup.toml for complete options (app, env, zone and image set)."""
    app, env, zone, image = (str(getattr(opts, name) or "").strip() for name in REQUIRED)
    zone = _normalise_domain(zone)
    if opts.external:
        if zone:
            raise OptionError("--zone and --external: the domain's DNS is in Route53 (--zone) or elsewhere, not both")
        if opts.record:
            raise OptionError(
                "--record does not apply with --external: ecsup writes no DNS record, `ecsup create` prints the "
                "one to create at your DNS provider"
            )
    hostname = _normalise_domain(opts.hostname) if opts.hostname else f"www.{zone}"
    cpu = opts.cpu if opts.cpu is not None else _SVC.cpu
    if opts.memory is not None:
        memory = opts.memory
    elif opts.cpu is not None and cpu in FARGATE_MEMORY and _SVC.memory not in FARGATE_MEMORY[cpu]:
        memory = FARGATE_MEMORY[cpu][0]  # the smallest valid size for the cpu asked for
    else:
        memory = _SVC.memory
    s = toml_str
    lines = [
        "# ecsup.toml - one HTTPS service on AWS ECS Fargate, written by `ecsup init`.",
        "# `ecsup plan` shows what `ecsup create` would do; `ecsup create` builds or converges the",
        "# stack; `ecsup status` checks it; `ecsup logs` shows its logs; `ecsup destroy` removes it.",
        "",
        "# Application name: lowercase letters, digits and hyphens.",
        f"app = {s(app)}",
        "# Environment name (dev, staging, prod, ...), same alphabet. Every AWS resource is named",
        '# "<app>-<env>": at most 26 characters together (load balancer names are limited).',
        f"env = {s(env)}",
        "",
        "# The stack's AWS region. Without it: --region, AWS_REGION / AWS_DEFAULT_REGION, the profile.",
        f"region = {s(opts.region.strip())}" if opts.region else '# region = "eu-west-1"',
        "",
        "[dns]",
        *(_external_dns(hostname) if opts.external else _route53_dns(zone, hostname, opts.record or _DNS.record)),
        "# true: also request the same certificate in us-east-1 (for a CloudFront distribution).",
        f"cloudfront_certificate = {'true' if opts.cloudfront_certificate else 'false'}",
        "# Bring your own ACM certificate (same region) instead of a new one; ecsup never deletes it.",
        '# certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"',
        *(_route53_instead() if opts.external else _external_instead()),
        "",
        "[service]",
        "# The container image the tasks run; the tasks must be able to pull it.",
        f"image = {s(image)}",
        "# Or build it from a Dockerfile instead of image (one of the two): a Docker build context,",
        "# relative to this file; ecsup builds it for cpu_architecture, pushes it to the app's ECR",
        "# repository and deploys it by digest (`ecsup create`, `ecsup deploy`). No secrets in build_args:",
        "# build secrets go through `docker build --secret`, runtime ones through [service.secrets].",
        '# build = "."',
        '# build_dockerfile = "Dockerfile"',
        '# build_args = { RUBY_VERSION = "3.3" }',
        "# The port the container listens on (plain HTTP); the load balancer terminates HTTPS.",
        f"container_port = {opts.port if opts.port is not None else _SVC.container_port}",
        "# Fargate task cpu units: 256, 512, 1024, 2048, 4096, 8192 or 16384 (1024 = one vCPU).",
        f"cpu = {cpu}",
        "# Task memory in MiB, valid with the cpu: 256 -> 512, 1024, 2048; 512 -> 1024 to 4096;",
        "# 1024 -> 2048 to 8192; 2048 -> 4096 to 16384; 4096 -> 8192 to 30720 (steps of 1024).",
        f"memory = {memory}",
        "# Number of tasks. A change here is applied by `ecsup create`; a change made on the",
        "# live service (autoscaling) is kept.",
        f"desired_count = {opts.desired_count if opts.desired_count is not None else _SVC.desired_count}",
        "# The path the load balancer's health check requests; an answer 200-399 is healthy.",
        f"health_check_path = {s(opts.health_check_path or _SVC.health_check_path)}",
        "# Days CloudWatch keeps the container logs: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365,",
        "# 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653.",
        f"log_retention_days = {_SVC.log_retention_days}",
        "# A customer-managed KMS key for the secrets below (default: the AWS managed alias/aws/ssm).",
        '# secrets_kms_key = "alias/my-key"',
        '# "X86_64", or "ARM64" (Graviton: about 20% cheaper; the image must be built for linux/arm64).',
        f"cpu_architecture = {s(_SVC.cpu_architecture)}",
        '# "FARGATE" (on demand), "FARGATE_SPOT" (up to 70% cheaper; tasks can be stopped with two',
        '# minutes\' notice; X86_64 or ARM64), or "mixed": on_demand_base tasks on demand, then',
        "# on_demand_percent of the rest on demand and the others on Spot.",
        f"capacity = {s(_SVC.capacity)}",
        f"# on_demand_base = {_SVC.on_demand_base}",
        f"# on_demand_percent = {_SVC.on_demand_percent}",
        "# ECS Exec for `ecsup exec` (a shell, or a tunnel to a host the tasks reach): turns on",
        "# enableExecuteCommand and gives the task role the ssmmessages permissions it needs;",
        "# changing it takes a new deployment of the tasks. Needs AWS's session-manager-plugin.",
        f"exec = {'true' if _SVC.exec else 'false'}",
        "# Hardening, each off unless set (ecsup plans, prices and removes what they add):",
        "# the container's root file system read-only (the image must write only to volumes or /tmp",
        "# mounts it declares; nginx's stock image, for one, does not start so);",
        "# readonly_root_filesystem = true",
        "# CloudWatch Container Insights on the cluster (billed as CloudWatch metrics and logs);",
        "# container_insights = true",
        "# a customer-managed KMS key (its ARN) for the log group; its key policy must allow",
        "# logs.<region>.amazonaws.com (CloudWatch Logs refuses the key otherwise).",
        '# log_kms_key = "arn:aws:kms:eu-west-1:123456789012:key/..."',
        "",
        '# Plain environment variables of the container: NAME = "value".',
        "[service.environment]",
    ]
    if opts.environment:
        lines += [f"{toml_key(name)} = {s(value)}" for name, value in opts.environment]
    else:
        lines.append(f"# APP_ENV = {s(env)}")
    lines += [
        "",
        "# Secrets: environment variable -> SSM parameter name (never the value). A missing",
        "# parameter is created as a SecureString by `ecsup create`, with the value of",
        "# ECSUP_SECRET_<NAME> or, on a terminal, typed at a hidden prompt. An existing",
        "# parameter is used as it is. The task gets the value when it starts.",
        "[service.secrets]",
    ]
    if opts.secrets:
        lines += [f"{toml_key(name)} = {s(param)}" for name, param in opts.secrets]
    else:
        lines.append(f"# DB_PASSWORD = {s(f'/{app}/{env}/DB_PASSWORD')}")
    lines += [
        "",
        "# Auto scaling of the number of tasks between min and max (it then owns the live count):",
        "# target tracking on the tasks' average CPU and/or on requests per task per minute.",
        "# [service.autoscaling]",
        "# min = 1",
        "# max = 4",
        "# cpu_target = 60              # percent",
        "# requests_per_target = 1000   # requests per task per minute, over both target groups",
        "# scale_in_cooldown = 300      # seconds",
        "# scale_out_cooldown = 60",
        "# disable_scale_in = false",
        "",
        "[service.deploy]",
        "# How `ecsup deploy` (and a changed image in `create`) replaces the tasks: ECS's own",
        '# "blue_green" (new tasks in the idle target group, all traffic moved at once, old tasks',
        '# kept for bake_minutes so a rollback is instant), "linear" (step_percent of the traffic',
        '# every step_minutes), "canary" (canary_percent for canary_minutes, then the rest) or',
        '# "rolling" (tasks replaced in place, no traffic shift).',
        f"strategy = {s(DeployConfig().strategy)}",
        "# Minutes the old tasks are kept after the switch (blue_green, linear, canary).",
        f"bake_minutes = {DeployConfig().bake_minutes}",
        f"# step_percent = {DeployConfig().step_percent:g}    # linear: 3 to 100, multiples of 0.1",
        f"# step_minutes = {DeployConfig().step_minutes}",
        f"# canary_percent = {DeployConfig().canary_percent:g}    # canary: 0.1 to 100",
        f"# canary_minutes = {DeployConfig().canary_minutes}",
        "# A command run as a one-off task of the NEW revision before each rollout (`deploy`, and",
        "# `create` when it rolls out a new revision, the first included); the release stops",
        "# unless it exits 0. Migrations must be idempotent: a re-run runs it again.",
        '# before = ["python", "manage.py", "migrate"]',
        f"# before_timeout = {DeployConfig().before_timeout}    # seconds; then the task is stopped",
        "",
        "[service.deploy.alarms]",
        "# CloudWatch alarms ECS itself watches during every deployment and its bake: on ALARM it",
        "# rolls the deployment back, even if nothing of ours is running any more. ecsup makes",
        "# ecsup-<app>-<env>-5xx (5xx answers of the targets and the load balancer per request, over",
        "# both target groups) and, with latency_p95_ms, ecsup-<app>-<env>-latency; `enabled = false`",
        "# turns ecsup's alarms off (the ones in names are still watched).",
        f"enabled = {str(AlarmsConfig().enabled).lower()}",
        f"error_rate_percent = {AlarmsConfig().error_rate_percent:g}    # 0 = no error-rate alarm",
        f"latency_p95_ms = {AlarmsConfig().latency_p95_ms}    # 0 = off; p95 target response time",
        f"period_seconds = {AlarmsConfig().period_seconds}    # a multiple of 60",
        f"evaluation_periods = {AlarmsConfig().evaluation_periods}    # consecutive periods over the threshold",
        "# Alarms of your own (metric or composite), watched as well; they must exist, and ecsup never changes them.",
        "names = []",
        "",
        "[service.deploy.verify]",
        "# Once production traffic is all on the new revision, `deploy` GETs url `requests` times",
        "# over `seconds`; any answer outside 200-399 (or no answer) makes ECS roll it back (exit 9).",
        f"enabled = {str(VerifyConfig().enabled).lower()}",
        '# url = "https://www.example.com/health"    # default https://<hostname><health_check_path>',
        f"requests = {VerifyConfig().requests}",
        f"seconds = {VerifyConfig().seconds}",
        "",
        *_workloads_example(app, env),
    ]
    lines += [] if opts.external else _preview_example(app, zone)  # previews need the Route53 zone
    lines += [
        "",
        "# The load balancer's HTTPS listener and protection.",
        "# [load_balancer]",
        "# # The TLS policy (default: AWS's recommended post-quantum TLS 1.3/1.2 policy);",
        "# # `aws elbv2 describe-ssl-policies` lists the others.",
        f"# tls_policy = {s(DEFAULT_TLS_POLICY)}",
        "# # Refuse to delete the load balancer except through `ecsup destroy`, which turns this off",
        "# # after its confirmation.",
        "# deletion_protection = true",
        "# # Log every request to an S3 bucket ecsup owns (<app>-<env>-logs-<account>-<region>, kept by",
        "# # `ecsup destroy` unless --purge; the logs expire after [service] log_retention_days).",
        "# access_logs = true",
        "# # The bucket's name, when the default one is taken: bucket names are global, so another",
        "# # account may already have it (3-63 lowercase letters, digits, dots, hyphens).",
        '# access_logs_bucket = "my-company-web-dev-alb-logs"',
        "# # Who may connect (default: anyone): the load balancer admits only these CIDRs (IPv4 and IPv6).",
        '# allow_cidrs = ["203.0.113.0/24", "2001:db8::/32"]',
        "# # An internal load balancer in the tasks' subnets, reachable only inside the VPC (and networks",
        "# # peered or connected to it). Changing it later moves the stack to a new load balancer.",
        "# internal = true",
        "# # Associate an existing REGIONAL AWS WAF web ACL of this region with the load balancer.",
        '# waf_acl = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/my-acl/0123abcd-..."',
        "# # Share one load balancer (and its cost) with other stacks: each gets its own host rule,",
        "# # certificate and releases on it; the first creates it, the last one destroyed deletes it.",
        "# # Setting, removing or changing it on an existing stack moves it (see `ecsup plan`).",
        '# shared = "edge"',
        "",
        *(_own_network() if opts.own_network else _default_network()),
    ]
    return "\n".join(lines)


def _default_network() -> list[str]:
    return [
        "# Network: the default VPC and its default subnets unless set here.",
        "# [network]",
        '# vpc_id = "vpc-0123456789abcdef0"',
        "# # The load balancer's: public subnets (route 0.0.0.0/0 to an internet gateway) in 2+ zones.",
        "# # Defaults to `subnets` when those are public.",
        '# alb_subnets = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]',
        "# # The tasks': public ones with assign_public_ip = true, or private ones (a NAT gateway,",
        "# # or VPC endpoints for ECR, S3, CloudWatch Logs and SSM) with assign_public_ip = false.",
        '# subnets = ["subnet-0aaaaaaaaaaaaaaa0", "subnet-0bbbbbbbbbbbbbbb0"]',
        "# assign_public_ip = true",
        "# # Dual-stack: the load balancer answers on IPv6 too and the hostname gets an AAAA alias",
        "# # (the load balancer's subnets need IPv6 CIDR blocks).",
        "# ipv6 = false",
        "# # On ecsup's own network (shared = ...): how the tasks reach the internet and AWS --",
        '# # "public" (a public IPv4 each), "nat" (one NAT gateway), "endpoints" (VPC endpoints, no',
        '# # internet) or "ipv6" (egress-only, with ipv6 = true). See docs/network.md, "Egress".',
        '# egress = "public"',
        "# # Or ecsup's own network (not with the keys above): found by its tags, or made by the first stack",
        "# # naming it (VPC, public subnets, internet gateway), shared, deleted by the last one out. For",
        "# # accounts without a default VPC. See docs/network.md.",
        '# shared = "main"',
        "",
    ]


def _own_network() -> list[str]:
    return [
        '# Network: this region has no default VPC, so ecsup makes a network of its own, "main": a VPC,',
        "# public subnets in 2-3 zones, an internet gateway, found by its tags and shared by every stack",
        "# naming it; `ecsup destroy` of the last one deletes it. See docs/network.md.",
        "[network]",
        'shared = "main"',
        "# # Its IPv4 block (/16 to /24, private); default: the first 10.x.0.0/16 no VPC of the region overlaps.",
        '# cidr = "10.20.0.0/16"',
        "# # An Amazon-provided IPv6 block too (a /64 per subnet).",
        "# ipv6 = true",
        "",
    ]


def _preview_example(app: str, zone: str) -> list[str]:
    """A commented [preview] (docs/previews.md): a stack per pull request, `ecsup preview up`."""
    from .config import PreviewConfig

    default = PreviewConfig(domain="", shared="")
    return [
        "",
        "# Previews: `ecsup preview up --name pr-123` makes the stack <app>-pr-123 from this file at",
        "# https://pr-123.<domain>/ on a shared load balancer: 1 task, no auto scaling, no jobs, one",
        "# certificate *.<domain> for every preview; `ecsup preview gc` deletes the old ones.",
        "# [preview]",
        f"# domain = {toml_str('preview.' + zone)}  # inside the zone",
        '# shared = "edge"                  # the shared load balancer previews join (required)',
        f'# capacity = {toml_str(default.capacity)}        # or "FARGATE"',
        f"# ttl_hours = {default.ttl_hours}                   # `ecsup preview gc` deletes previews older than this",
        "# # Other SSM parameters for previews, by variable of [service.secrets] (the others read the",
        "# # environment's parameters):",
        "# [preview.secrets]",
        f"# MY_SECRET = {toml_str(f'/{app}/preview/MY_SECRET')}",
    ]


def _workloads_example(app: str, env: str) -> list[str]:
    """Commented examples of a worker and a job: removing the first "# " of each line from
    [workers.mailer] on gives a valid configuration (docs/configuration.md lists every key)."""
    job = JobConfig(name="nightly")

    def key(code: str, comment: str = "") -> str:
        return f"# {code.ljust(33)} # {comment}" if comment else f"# {code}"

    low, high = STOP_TIMEOUT_RANGE
    return [
        "# Workers and scheduled jobs beside the web service, from its image (unless `image` is set), with",
        "# its cpu, memory, capacity and architecture unless set, and its environment and secrets plus",
        "# their own (which override [service]'s). `ecsup deploy --image` releases them with it.",
        "# A worker: an ECS service <app>-<env>-<name> with no load balancer (a queue consumer, Sidekiq,",
        "# Celery), rolling deployments with the circuit breaker and rollback.",
        key("[workers.mailer]"),
        key('command = ["bundle", "exec", "sidekiq"]'),
        key('# image = "registry/other:tag"', "default: [service] image, released with it"),
        key("# cpu = 256", "default: [service]'s (the same Fargate pairs); memory too"),
        key(f"desired_count = {WorkerConfig(name='mailer').desired_count}"),
        key('capacity = "FARGATE_SPOT"', 'as [service]: "FARGATE", "FARGATE_SPOT" or "mixed"'),
        key(f"stop_timeout = {high}", f"seconds ECS waits after SIGTERM ({low}-{high})"),
        key("[workers.mailer.environment]", "added to (and overriding) [service.environment]"),
        key('QUEUES = "mailers"'),
        key("[workers.mailer.secrets]", "added to (and overriding) [service.secrets]"),
        key(f"SMTP_PASSWORD = {toml_str(f'/{app}/{env}/SMTP_PASSWORD')}"),
        key("[workers.mailer.autoscaling]", "target tracking on the worker's average CPU"),
        key("min = 1"),
        key("max = 4"),
        key("cpu_target = 60"),
        "#",
        "# # A job: an EventBridge Scheduler schedule that starts a Step Functions state machine, which",
        "# # runs a one-off task of the job and records the run (status, exit code) for 90 days.",
        key("[jobs.nightly]"),
        key('schedule = "cron(0 3 * * ? *)"', "EventBridge Scheduler's cron(...), rate(1 day), at(...)"),
        key(f"timezone = {toml_str(job.timezone)}", "an IANA name, e.g. Europe/Paris"),
        key('command = ["python", "manage.py", "cleanup"]'),
        key(
            f"timeout = {job.timeout}",
            f"seconds ({JOB_TIMEOUT_RANGE[0]}-{JOB_TIMEOUT_RANGE[1]}); a run past it is stopped, and failed",
        ),
        key("expected_minutes = 10", "a run's usual length, for `ecsup cost` (default: timeout)"),
        key("alarm = true", "a CloudWatch alarm when a run fails"),
        key('# notify = "arn:aws:sns:eu-west-1:123456789012:ops"', "an SNS topic the alarm notifies"),
    ]


def _route53_dns(zone: str, hostname: str, record: str) -> list[str]:
    s = toml_str
    return [
        "# An existing *public* Route53 hosted zone, delegated from the registrar.",
        "# ecsup adds records to it but never creates, changes or deletes the zone itself.",
        f"zone = {s(zone)}",
        "# The name served over HTTPS: the zone apex or any name inside the zone.",
        f"hostname = {s(hostname)}",
        '# "alias": an A alias record to the load balancer (works at the apex, free queries);',
        '# "cname": a CNAME to the load balancer\'s DNS name (not at the apex).',
        f"record = {s(record)}",
    ]


def _external_instead() -> list[str]:
    return [
        "# The domain's DNS at another provider (not Route53)? Remove zone and record, and set external:",
        "# `ecsup create` then prints the records to create there (the certificate's validation CNAME, and a",
        "# CNAME to the load balancer -- ALIAS/ANAME/flattening at the apex) and waits for ACM to issue.",
        "# external = true",
    ]


def _external_dns(hostname: str) -> list[str]:
    return [
        "# The domain's DNS is at another provider (not Route53): ecsup writes no DNS record.",
        "# `ecsup create` prints the records to create there (the certificate's validation CNAME, and a",
        "# CNAME to the load balancer -- ALIAS/ANAME/flattening at the apex), waits for ACM to issue the",
        "# certificate (re-running it continues), and `ecsup status` checks that the name resolves.",
        "external = true",
        "# The name served over HTTPS.",
        f"hostname = {toml_str(hostname)}",
    ]


def _route53_instead() -> list[str]:
    return [
        "# The DNS in a public Route53 hosted zone of this account instead? Remove external, and set",
        '# zone = "example.com" (ecsup then writes the record itself; record = "alias" or "cname").',
    ]


def _option_of(key: str) -> str | None:
    if key in KEY_OPTIONS:
        return KEY_OPTIONS[key]
    for prefix in ("service.secrets", "service.environment"):
        if key.startswith(prefix + "."):
            return KEY_OPTIONS[prefix]
    return None


def build(opts: InitOptions, path: str = "ecsup.toml") -> tuple[str, Config]:
    """The file's text and the Config it loads as; ConfigError (naming the options) when
    the options make an invalid configuration."""
    try:
        text = render(opts)
    except ValueError as exc:
        raise OptionError(str(exc)) from None
    try:
        config = parse(text, path)
    except ConfigError as exc:
        problems = []
        for key, message in exc.problems:
            option = _option_of(key)
            problems.append((f"{key} ({option})" if option else key, message))
        raise ConfigError(
            problems, hint=f"nothing was written to {path}: fix the options and run `ecsup init` again"
        ) from None
    return text, config


# -- asking -------------------------------------------------------------------------

Prompt = Callable[[str], str]
Choose = Callable[[str, list[str]], str]

_LABELS = {
    "app": "Application name (lowercase letters, digits, hyphens)",
    "env": "Environment name (e.g. dev, staging, prod)",
    "zone": "Public Route53 hosted zone",
    "image": "Container image (e.g. public.ecr.aws/nginx/nginx:stable)",
}
# Offered with the account's zones, and taken when no zone is found and the answer is empty:
# the domain's DNS is at another provider ([dns] external = true).
EXTERNAL_CHOICE = "elsewhere: the domain's DNS is not in Route53 (external DNS)"
NO_ZONE_LABEL = "Public Route53 hosted zone (none found; empty: the domain's DNS is at another provider)"
EXTERNAL_HOSTNAME_LABEL = "Hostname served over HTTPS (its DNS at your provider)"


def pick(answer: str, choices: Sequence[str]) -> str:
    """A numbered-list answer: a number picks from the list, anything else is taken as typed."""
    answer = answer.strip()
    if answer.isdigit() and 1 <= int(answer) <= len(choices):
        return choices[int(answer) - 1]
    return answer


REGION_LABEL = "AWS region, e.g. eu-west-1 (empty: from the environment)"


def with_default(label: str, default: str) -> str:
    """A question whose empty answer takes ``default``, shown the way typer shows one."""
    return f"{label} [{default}]"


def hostname_label(zone: str) -> str:
    return with_default("Hostname served over HTTPS", f"www.{_normalise_domain(zone)}")


def region_label(default_region: str | None) -> str:
    return with_default("AWS region", default_region) if default_region else REGION_LABEL


def environment_region(profile: str | None = None) -> str | None:
    """The region the AWS environment gives (AWS_REGION / AWS_DEFAULT_REGION, the profile), or
    None: what an empty answer to the region question would mean, shown in the question."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        session = boto3.Session(profile_name=profile) if profile else boto3.Session()
        return session.region_name or None
    except BotoCoreError:
        return None


def answer_problem(name: str, value: str, in_zone: str = "") -> str | None:
    """Why one answer cannot go in the file (the message config.parse would give), or None:
    each answer is checked as it is given, not after the last question."""
    from .config import _REGION_RE, _check_domain, _check_name, _normalise_domain

    problems: list[tuple[str, str]] = []
    if name in ("app", "env"):
        _check_name(value, name, problems)
    elif name == "zone":
        _check_domain(_normalise_domain(value), "dns.zone", problems)
    elif name == "image" and any(c.isspace() for c in value):
        problems.append(("service.image", "must be an image reference such as public.ecr.aws/nginx/nginx:stable"))
    elif name == "region" and value and not _REGION_RE.fullmatch(value):
        problems.append(("region", f"{value!r} is not an AWS region name (e.g. eu-west-1)"))
    elif name == "hostname" and _check_domain(_normalise_domain(value), "dns.hostname", problems):
        host, zone = _normalise_domain(value), _normalise_domain(in_zone)
        if zone and host != zone and not host.endswith("." + zone):
            problems.append(("dns.hostname", f"{host!r} is not inside the zone {zone!r}: use a name ending in .{zone}"))
    if not problems:
        return None
    key, message = problems[0]
    return f"{key} ({KEY_OPTIONS[key]}): {message}"


def complete(
    opts: InitOptions,
    interactive: bool,
    prompt: Prompt,
    choose: Choose,
    zones: Callable[[], list[str]],
    warn: Callable[[str], None] = lambda line: None,
    default_region: str | None = None,
) -> InitOptions:
    """Fill in the required values that are missing, the hostname and the region: asked on a
    terminal (each answer checked as it is given, and asked again when it cannot be used; the
    hostname and region questions show what an empty answer takes), an error otherwise."""
    missing = opts.missing_required()
    if not interactive:
        if not missing:
            return opts
        flags = ", ".join(f"--{name}" for name in missing)
        raise OptionError(
            f"missing option{'s' if len(missing) > 1 else ''} {flags}: "
            "required when stdin and stdout are not a terminal (nothing was written)"
        )
    values: dict[str, Any] = {}
    found: list[str] | None = None
    for name in missing:
        if name == "hostname":  # asked below, with or without a zone
            continue
        while True:
            if name == "zone":
                found = zones() if found is None else found
                answer = choose(_LABELS[name], [*found, EXTERNAL_CHOICE]) if found else prompt(NO_ZONE_LABEL)
                if answer.strip() in (EXTERNAL_CHOICE, "external") or not (found or answer.strip()):
                    values["external"] = True  # no zone: the hostname is asked below, with no default
                    break
            else:
                answer = prompt(_LABELS[name])
            answer = answer.strip()
            why = answer_problem(name, answer) if answer else None
            if answer and why is None:
                values[name] = answer
                break
            if why:
                warn(why)
    external = bool(values.get("external") or opts.external)
    if opts.hostname is None:  # www.<zone> unless the user names another; with external DNS, required
        zone = "" if external else str(values.get("zone") or opts.zone)
        while True:
            answer = prompt(EXTERNAL_HOSTNAME_LABEL if external else hostname_label(zone)).strip()
            why = answer_problem("hostname", answer, zone) if answer else None
            if why is None and (answer or not external):
                break
            if why:
                warn(why)
        values["hostname"] = answer or f"www.{_normalise_domain(zone)}"
    if opts.region is None:
        while True:
            answer = prompt(region_label(default_region)).strip()
            why = answer_problem("region", answer)
            if why is None:
                break
            warn(why)
        values["region"] = answer or default_region or None
    return replace(opts, **values)


# the key path in ecsup.toml of each value asked for
_ASKED_KEYS = {"app": "app", "env": "env", "zone": "dns.zone", "image": "service.image", "hostname": "dns.hostname"}


def list_public_zones(route53: Any) -> list[str]:
    """Names of the account's public hosted zones (every page), sorted."""
    names = [
        zone["Name"].rstrip(".").replace("\\052", "*")
        for page in route53.get_paginator("list_hosted_zones").paginate()
        for zone in page["HostedZones"]
        if not zone.get("Config", {}).get("PrivateZone")
    ]
    return sorted(names)


def account_zones(profile: str | None = None, region: str | None = None, endpoint_url: str | None = None) -> list[str]:
    """The public hosted zones of the current credentials, or [] when they cannot be listed
    (no credentials, no network, no permission): the user is then asked without choices."""
    import boto3
    from botocore.config import Config as BotoConfig
    from botocore.exceptions import BotoCoreError, ClientError

    from .context import SESSION_HOOKS

    try:
        session = boto3.Session(profile_name=profile) if profile else boto3.Session()
        for hook in SESSION_HOOKS:
            hook(session)
        client = session.client(
            "route53",
            region_name=region or session.region_name or "us-east-1",
            endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None,
            config=BotoConfig(connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 2}),
        )
        return list_public_zones(client)
    except (BotoCoreError, ClientError):
        return []


def default_vpc_missing(profile: str | None = None, region: str | None = None, endpoint_url: str | None = None) -> bool:
    """True when the credentials work and the region has no default VPC (DescribeVpcs, is-default);
    False when it has one or nothing can be read (no credentials, no network, no permission)."""
    import boto3
    from botocore.config import Config as BotoConfig
    from botocore.exceptions import BotoCoreError, ClientError

    from .context import SESSION_HOOKS

    try:
        session = boto3.Session(profile_name=profile) if profile else boto3.Session()
        for hook in SESSION_HOOKS:
            hook(session)
        where = region or session.region_name
        if not where:
            return False
        ec2 = session.client(
            "ec2",
            region_name=where,
            endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None,
            config=BotoConfig(connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 2}),
        )
        found = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    except (BotoCoreError, ClientError):
        return False
    return not found


def terminal_prompt(label: str) -> str:
    import typer

    if label == REGION_LABEL or label.endswith("]"):  # questions an empty answer is fine for
        return str(typer.prompt(label, default="", show_default=False))
    return str(typer.prompt(label))


def terminal_warn(line: str) -> None:
    import typer

    typer.echo(f"  {line}", err=True)


def terminal_choose(label: str, choices: list[str]) -> str:
    import typer

    typer.echo(f"{label}s found in the account:")
    for i, choice in enumerate(choices, 1):
        typer.echo(f"  {i:>2}) {choice}")
    default = "1" if len(choices) == 1 else None
    return pick(str(typer.prompt(f"{label} (number or name)", default=default)), choices)


# -- writing ------------------------------------------------------------------------


def write(path: str | Path, text: str, force: bool = False) -> None:
    """Write the file; an existing one only with force (never half-written)."""
    p = Path(path)
    if p.exists() and not force:
        raise OptionError(f"{p} exists already: pass --force to overwrite it (nothing was written)")
    if p.is_dir():
        raise OptionError(f"{p} is a directory: pass --config PATH with a file name")
    try:
        if force:
            tmp = p.with_name(f".{p.name}.ecsup-init.tmp")
            try:
                tmp.write_text(text, encoding="utf-8")
                os.replace(tmp, p)
            finally:
                tmp.unlink(missing_ok=True)
        else:
            with p.open("x", encoding="utf-8") as f:  # "x": never overwrite a file that appeared meanwhile
                f.write(text)
    except FileExistsError:
        raise OptionError(f"{p} exists already: pass --force to overwrite it (nothing was written)") from None
    except OSError as exc:
        raise EcsupError(f"cannot write {p}: {exc.strerror or exc}") from None


def run_init(
    opts: InitOptions,
    path: str,
    force: bool,
    interactive: bool,
    prompt: Prompt = terminal_prompt,
    choose: Choose = terminal_choose,
    zones: Callable[[], list[str]] = account_zones,
    warn: Callable[[str], None] = terminal_warn,
    default_region: str | None = None,
    no_default_vpc: Callable[[str | None], bool] = lambda region: False,
) -> Config:
    """Complete the options (asking again for an answer that is not valid), check the file
    would not clobber one, validate, write. When the region has no default VPC (``no_default_vpc``:
    False whenever it cannot tell), the file names ecsup's own network."""
    if Path(path).exists() and not force:  # say so before asking anything
        raise OptionError(f"{path} exists already: pass --force to overwrite it (nothing was written)")
    checked: dict[str, bool] = {}
    while True:
        asked = opts.missing_required() + (["hostname"] if interactive and opts.hostname is None else [])
        opts = complete(opts, interactive, prompt, choose, zones, warn, default_region)
        if "vpc" not in checked:
            checked["vpc"] = no_default_vpc(opts.region)
        opts = replace(opts, own_network=checked["vpc"])
        try:
            text, config = build(opts, path)
            break
        except ConfigError as exc:
            # answers that are not valid are asked again; a bad option ends the run
            keys = {key.split(" ")[0] for key, _ in exc.problems}
            again = [name for name in asked if _ASKED_KEYS[name] in keys]
            if not again or keys - {_ASKED_KEYS[name] for name in again}:
                raise
            for line in exc.lines:
                warn(line)
            cleared: dict[str, Any] = dict.fromkeys(again)
            opts = replace(opts, **cleared)
    write(path, text, force)
    return config
