"""Load ``ecsup.toml`` into frozen dataclasses, reporting every problem at once.

Validation here is purely local (no AWS call). Each problem names its key path,
e.g. ``service.memory``.
"""

from __future__ import annotations

import contextlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, ConfigMissing
from .names import ELB_NAME_LIMIT, Names
from .workloads import JobConfig, WorkerConfig, capacity_strategy

# Fargate cpu -> valid memory (MiB); see STACK.md.
FARGATE_MEMORY: dict[int, list[int]] = {
    256: [512, 1024, 2048],
    512: list(range(1024, 4096 + 1, 1024)),
    1024: list(range(2048, 8192 + 1, 1024)),
    2048: list(range(4096, 16384 + 1, 1024)),
    4096: list(range(8192, 30720 + 1, 1024)),
    8192: list(range(16384, 61440 + 1, 4096)),
    16384: list(range(32768, 122880 + 1, 8192)),
}
LOG_RETENTION_DAYS = [
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
]

_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_ENV_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SSM_RE = re.compile(r"^[a-zA-Z0-9_.\-/]+$")
_LABEL_RE = re.compile(r"^(\*|[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)$")
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
# "the length of the domain name (technically, the Common Name) that you provide cannot exceed
# 64 octets (characters), including periods" -- ACM API reference, RequestCertificate (SANs: 253).
ACM_FIRST_NAME_LIMIT = 64


@dataclass(frozen=True)
class DnsConfig:
    zone: str
    hostname: str
    record: str = "alias"
    cloudfront_certificate: bool = False
    certificate_arn: str = ""
    # the domain's DNS is at another provider (no Route53 zone): ecsup prints the records the user
    # creates there and never calls Route53 (steps/external.py)
    external: bool = False


@dataclass(frozen=True)
class NetworkConfig:
    vpc_id: str = ""
    subnets: tuple[str, ...] = ()  # the tasks'
    alb_subnets: tuple[str, ...] = ()  # the load balancer's (public)
    assign_public_ip: bool = True
    # ecsup's own network ([network] shared; steps/vpc.py)
    shared: str = ""
    cidr: str = ""
    ipv6: bool = False
    # how the tasks on ecsup's own network reach the internet and AWS (steps/egress.py)
    egress: str = "public"

    @property
    def task_public_ip(self) -> str:
        """The tasks' awsvpcConfiguration.assignPublicIp, for the service, the workers, one-off
        tasks and the jobs alike: on ecsup's own network it follows egress (a public IPv4 only
        with "public": the other layouts put the tasks in private subnets, where AWS would
        refuse none but bill nothing for it either -- a public IP there reaches nothing);
        on a network the user owns, network.assign_public_ip."""
        if self.shared:
            return "ENABLED" if self.egress == "public" else "DISABLED"
        return "ENABLED" if self.assign_public_ip else "DISABLED"


STRATEGIES = ("blue_green", "linear", "canary", "rolling")


# The most alarms one service's deploymentConfiguration.alarms names (ecsup's and the user's); see
# emulation/deployments.py MAX_DEPLOYMENT_ALARMS for what it rests on.
MAX_DEPLOYMENT_ALARMS = 10
ALARM_NAME_LIMIT = 255  # CloudWatch PutMetricAlarm: AlarmName, 1-255 characters
WAIT_UNTIL = ("started", "production", "complete")


@dataclass(frozen=True)
class AlarmsConfig:
    """[service.deploy.alarms]: CloudWatch alarms ECS watches during every deployment and its
    bake, rolling back on ALARM (deploymentConfiguration.alarms; steps/alarms.py)."""

    enabled: bool = True
    error_rate_percent: float = 5.0  # 0 = no error-rate alarm
    latency_p95_ms: int = 0  # 0 = no latency alarm
    period_seconds: int = 60
    evaluation_periods: int = 2
    names: tuple[str, ...] = ()  # the user's own alarms, watched too (never changed by ecsup)


@dataclass(frozen=True)
class VerifyConfig:
    """[service.deploy.verify]: a probe of the new version once production traffic is on it."""

    enabled: bool = True
    url: str = ""  # default https://<hostname><health_check_path>
    requests: int = 10
    seconds: int = 30


@dataclass(frozen=True)
class DeployConfig:
    """How ECS replaces the tasks (deploymentConfiguration): its own blue/green, linear or canary
    deployment on the stack's two target groups, or a rolling update."""

    strategy: str = "blue_green"
    bake_minutes: int = 5
    step_percent: float = 10.0  # linear
    step_minutes: int = 6
    canary_percent: float = 5.0  # canary
    canary_minutes: int = 10
    before: tuple[str, ...] = ()  # a command run as a one-off task of the new revision before each rollout
    before_timeout: int = 900  # seconds
    alarms: AlarmsConfig = field(default_factory=AlarmsConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)

    @property
    def api_strategy(self) -> str:
        return self.strategy.upper()

    @property
    def shifts_traffic(self) -> bool:
        """Blue/green, linear and canary move production between the two target groups."""
        return self.strategy != "rolling"


ARCHITECTURES = ("X86_64", "ARM64")
CAPACITIES = ("FARGATE", "FARGATE_SPOT", "mixed")


@dataclass(frozen=True)
class AutoscalingConfig:
    """Application Auto Scaling of the service's desired count: target tracking on average
    CPU and/or on requests per task (both target groups: see steps/autoscaling.py)."""

    min: int
    max: int
    cpu_target: float | None = None  # percent
    requests_per_target: float | None = None  # requests per task per minute
    scale_in_cooldown: int = 300
    scale_out_cooldown: int = 60
    disable_scale_in: bool = False


@dataclass(frozen=True)
class ServiceConfig:
    image: str
    container_port: int = 80
    cpu: int = 256
    memory: int = 512
    desired_count: int = 1
    health_check_path: str = "/"
    log_retention_days: int = 30
    secrets_kms_key: str = ""
    environment: tuple[tuple[str, str], ...] = ()
    secrets: tuple[tuple[str, str], ...] = ()
    deploy: DeployConfig = field(default_factory=DeployConfig)
    cpu_architecture: str = "X86_64"  # ARM64: Graviton (the image must be built for arm64)
    capacity: str = "FARGATE"  # FARGATE_SPOT, or "mixed": on_demand_base tasks on demand, then a split
    on_demand_base: int = 1  # mixed: this many tasks always on demand
    on_demand_percent: int = 0  # mixed: of the tasks above the base, this share on demand, the rest Spot
    autoscaling: AutoscalingConfig | None = None
    exec: bool = False  # ECS Exec: enableExecuteCommand, and the task role's ssmmessages permissions
    readonly_root_filesystem: bool = False  # the container's root file system read-only
    container_insights: bool = False  # the cluster's containerInsights setting ("enabled")
    log_kms_key: str = ""  # a customer-managed KMS key for the log group (as secrets_kms_key for SSM)
    # a Docker build context (relative to ecsup.toml's directory), instead of image: ecsup builds, pushes to
    # the app's ECR repository and deploys by digest (build.py); "" = image is used
    build: str = ""
    build_dockerfile: str = ""  # "" = <build>/Dockerfile (relative to ecsup.toml's directory too)
    build_args: tuple[tuple[str, str], ...] = ()  # --build-arg K=V (never secrets: they show in the image's history)

    @property
    def capacity_provider_strategy(self) -> list[dict[str, Any]] | None:
        """ECS capacityProviderStrategy, or None for launch type FARGATE (on demand)."""
        return capacity_strategy(self.capacity, self.on_demand_base, self.on_demand_percent)


# The newest TLS policy AWS offers for ALB HTTPS listeners: a hybrid post-quantum one, TLS 1.3
# and 1.2 with restricted ciphers, which AWS recommends and makes the console's default ("Security
# policies for your Application Load Balancer", ELB User Guide:
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html;
# the China partition's copy of the page lists it too). The API's own default is still the 2016 policy.
DEFAULT_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
_TLS_POLICY_RE = re.compile(r"^ELBSecurityPolicy-[A-Za-z0-9-]{1,100}$")


@dataclass(frozen=True)
class LoadBalancerConfig:
    tls_policy: str = DEFAULT_TLS_POLICY
    deletion_protection: bool = False  # destroy turns it off first, after its confirmation
    access_logs: bool = False  # an S3 bucket ecsup owns (steps/accesslogs.py); kept by destroy unless --purge
    shared: str = ""  # join the shared load balancer of this name ("" = the stack's own ALB)
    # the access log bucket's name ("" = <stack>-logs-<account>-<region>): bucket names are global
    access_logs_bucket: str = ""
    # who may reach the service (steps/ingress.py): the CIDRs the load balancer admits (() = anyone),
    # normalised (ipaddress); an internal load balancer; a regional WAF web ACL associated with it
    allow_cidrs: tuple[str, ...] = ()
    internal: bool = False
    waf_acl: str = ""


PREVIEW_CAPACITIES = ("FARGATE_SPOT", "FARGATE")


@dataclass(frozen=True)
class PreviewConfig:
    """[preview]: a stack per pull request, ``<app>-<name>`` at ``<name>.<domain>`` on a shared
    load balancer (previews.py derives its config from this file's)."""

    domain: str
    shared: str
    capacity: str = "FARGATE_SPOT"
    ttl_hours: int = 72
    # [preview.secrets]: variable -> another SSM parameter for previews (the others: the env's own)
    secrets: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Config:
    app: str
    env: str
    dns: DnsConfig
    service: ServiceConfig
    network: NetworkConfig = field(default_factory=NetworkConfig)
    load_balancer: LoadBalancerConfig = field(default_factory=LoadBalancerConfig)
    region: str = ""
    path: str = ""
    # Problems that only forbid building or changing the stack (BUILD_ONLY_KEYS): parse(build=False)
    # keeps them here instead of raising, so a stack made before a check existed can be destroyed
    # and its status read.
    build_problems: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    # [workers.<name>] and [jobs.<name>] (workloads.py), sorted by name
    workers: tuple[WorkerConfig, ...] = ()
    jobs: tuple[JobConfig, ...] = ()
    preview: PreviewConfig | None = None  # [preview]

    def worker(self, name: str) -> WorkerConfig | None:
        return next((w for w in self.workers if w.name == name), None)

    def job(self, name: str) -> JobConfig | None:
        return next((j for j in self.jobs if j.name == name), None)

    @property
    def all_secrets(self) -> tuple[tuple[str, str], ...]:
        """Every (variable, SSM parameter) any workload reads: what the execution role may read."""
        pairs = set(self.service.secrets)
        for workload in (*self.workers, *self.jobs):
            pairs.update(workload.secrets)
        return tuple(sorted(pairs))

    @property
    def names(self) -> Names:
        lb = self.load_balancer
        return Names(self.app, self.env, lb.shared, internal=lb.internal and not lb.shared)

    @property
    def url(self) -> str:
        return f"https://{self.dns.hostname}/"


# key -> (type, default); REQUIRED marks a required key.
REQUIRED = object()
GIVEN = "__given__"  # in each section read: the keys the file sets (the others are defaults)
_SCHEMA: dict[str, Any] = {
    "app": (str, REQUIRED),
    "env": (str, REQUIRED),
    "region": (str, ""),
    "workers": (dict, {}),  # [workers.<name>]: read by workloads.py
    "jobs": (dict, {}),  # [jobs.<name>]
    "preview": (dict, {}),  # [preview]: read by _read_preview
    "dns": {
        "zone": (str, ""),  # required unless dns.external (_validate_external_dns)
        "hostname": (str, REQUIRED),
        "record": (str, "alias"),
        "cloudfront_certificate": (bool, False),
        "certificate_arn": (str, ""),
        "external": (bool, False),
    },
    "load_balancer": {
        "tls_policy": (str, DEFAULT_TLS_POLICY),
        "deletion_protection": (bool, False),
        "access_logs": (bool, False),
        "shared": (str, ""),
        "access_logs_bucket": (str, ""),
        "allow_cidrs": (list, []),
        "internal": (bool, False),
        "waf_acl": (str, ""),
    },
    "network": {
        "vpc_id": (str, ""),
        "subnets": (list, []),
        "alb_subnets": (list, []),
        "assign_public_ip": (bool, True),
        "shared": (str, ""),
        "cidr": (str, ""),
        "ipv6": (bool, False),
        "egress": (str, "public"),
    },
    "service": {
        "image": (str, ""),  # required unless build (_validate_build)
        "build": (str, ""),
        "build_dockerfile": (str, ""),
        "build_args": (dict, {}),
        "container_port": (int, 80),
        "cpu": (int, 256),
        "memory": (int, 512),
        "desired_count": (int, 1),
        "health_check_path": (str, "/"),
        "log_retention_days": (int, 30),
        "secrets_kms_key": (str, ""),
        "environment": (dict, {}),
        "secrets": (dict, {}),
        "cpu_architecture": (str, "X86_64"),
        "capacity": (str, "FARGATE"),
        "on_demand_base": (int, 1),
        "on_demand_percent": (int, 0),
        "exec": (bool, False),
        "readonly_root_filesystem": (bool, False),
        "container_insights": (bool, False),
        "log_kms_key": (str, ""),
        "autoscaling": {
            "min": (int, None),
            "max": (int, None),
            "cpu_target": (float, None),
            "requests_per_target": (float, None),
            "scale_in_cooldown": (int, 300),
            "scale_out_cooldown": (int, 60),
            "disable_scale_in": (bool, False),
        },
        "deploy": {
            "strategy": (str, "blue_green"),
            "bake_minutes": (int, 5),
            "step_percent": (float, 10.0),
            "step_minutes": (int, 6),
            "canary_percent": (float, 5.0),
            "canary_minutes": (int, 10),
            "before": (list, []),
            "before_timeout": (int, 900),
            "alarms": {
                "enabled": (bool, True),
                "error_rate_percent": (float, 5.0),
                "latency_p95_ms": (int, 0),
                "period_seconds": (int, 60),
                "evaluation_periods": (int, 2),
                "names": (list, []),
            },
            "verify": {
                "enabled": (bool, True),
                "url": (str, ""),
                "requests": (int, 10),
                "seconds": (int, 30),
            },
        },
    },
}
_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}


def _type_ok(value: Any, expected: type) -> bool:
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, expected)


def _read_section(data: Any, schema: dict[str, Any], prefix: str, problems: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(data, dict):
        problems.append((prefix.rstrip("."), "must be a table"))
        data = {}
    for key in data:
        if key not in schema:
            known = ", ".join(sorted(schema))
            problems.append((f"{prefix}{key}", f"unknown key (known keys here: {known})"))
    for key, spec in schema.items():
        path = f"{prefix}{key}"
        if isinstance(spec, dict):
            out[key] = _read_section(data.get(key, {}), spec, f"{path}.", problems)
            continue
        expected, default = spec
        if key not in data:
            if default is REQUIRED:
                problems.append((path, "is required"))
            out[key] = None if default is REQUIRED else default
            continue
        value = data[key]
        if not _type_ok(value, expected):
            problems.append(
                (
                    path,
                    f"must be {_TYPE_NAMES[expected]}, got {type(value).__name__} {value!r}"
                    if expected is not str or not isinstance(value, dict | list)
                    else f"must be {_TYPE_NAMES[expected]}",
                )
            )
            out[key] = None if default is REQUIRED else default
            continue
        out[key] = value
    out[GIVEN] = set(data)
    return out


def _check_name(value: str | None, key: str, problems: list[tuple[str, str]]) -> None:
    if value is None:
        return
    if not _NAME_RE.fullmatch(value):
        problems.append(
            (
                key,
                f"{value!r} must be lowercase letters, digits and hyphens, starting and ending with a letter or digit",
            )
        )


def _normalise_domain(value: str) -> str:
    return value.strip().lower().rstrip(".")


def _check_domain(value: str, key: str, problems: list[tuple[str, str]]) -> bool:
    labels = value.split(".")
    if len(value) > 253 or len(labels) < 2 or not all(_LABEL_RE.fullmatch(lab) and lab != "*" for lab in labels):
        problems.append((key, f"{value!r} is not a valid domain name (e.g. www.example.com)"))
        return False
    return True


def check_ssm_name(name: str) -> str | None:
    """Why an SSM parameter name is invalid, or None."""
    if not name:
        return "must not be empty"
    if len(name) > 2011:
        return "must be at most 2011 characters"
    if not _SSM_RE.fullmatch(name):
        return "may contain only letters, digits, '_', '.', '-' and '/'"
    if "/" in name and not name.startswith("/"):
        return "a hierarchical name must start with '/'"
    if name.endswith("/") or "//" in name:
        return "must not contain empty path levels"
    if name.count("/") > 15:
        return "must have at most 15 levels"
    first = name.lstrip("/").lower()
    if first.startswith(("aws", "ssm")):
        return "must not begin with 'aws' or 'ssm' (reserved by AWS)"
    return None


EGRESS = ("public", "ipv6", "nat", "endpoints")


def _validate_egress(net: dict[str, Any], problems: list[tuple[str, str]]) -> None:
    """[network] egress: how the tasks on ecsup's own network reach the internet and AWS."""
    egress = net["egress"]
    if egress not in EGRESS:
        problems.append(("network.egress", f"{egress!r} is not one of " + ", ".join(f'"{e}"' for e in EGRESS)))
        return
    if egress != "public" and not net["shared"]:
        problems.append(
            (
                "network.egress",
                f"{egress!r} needs network.shared (ecsup's own network): on a network you own (network.vpc_id, "
                "or the default VPC) the routing is yours -- give the tasks private subnets in network.subnets "
                "and set network.assign_public_ip = false",
            )
        )
    if egress == "ipv6" and not net["ipv6"]:
        problems.append(("network.egress", '"ipv6" needs network.ipv6 = true (a dual-stack network)'))
    if net["shared"] and egress == "public" and not net["assign_public_ip"]:
        problems.append(
            (
                "network.assign_public_ip",
                "on ecsup's own network (network.shared) the tasks' public IP follows network.egress: remove "
                'assign_public_ip, and choose network.egress = "nat", "endpoints" or "ipv6" for tasks without one',
            )
        )


def _validate(raw: dict[str, Any], problems: list[tuple[str, str]], build: list[tuple[str, str]] | None = None) -> None:
    unusable = {key for key, _ in problems}  # missing or of the wrong type: the value read is a stand-in
    _check_name(raw["app"], "app", problems)
    _check_name(raw["env"], "env", problems)
    if raw["region"] and not _REGION_RE.fullmatch(raw["region"]):
        problems.append(("region", f"{raw['region']!r} is not an AWS region name (e.g. eu-west-1)"))
    if raw["app"] and raw["env"] and _NAME_RE.fullmatch(raw["app"]) and _NAME_RE.fullmatch(raw["env"]):
        names = Names(raw["app"], raw["env"])
        what, name = max(names.elb_names().items(), key=lambda item: len(item[1]))  # the longest decides
        if len(name) > ELB_NAME_LIMIT:
            over = len(name) - ELB_NAME_LIMIT
            problems.append(
                (
                    "app",
                    f"with env {raw['env']!r} the {what} name {name!r} is {len(name)} characters; "
                    f"Elastic Load Balancing allows {ELB_NAME_LIMIT}: shorten app or env by {over}",
                )
            )

    dns = raw["dns"]
    _validate_external_dns(raw, problems)
    zone = _normalise_domain(dns["zone"]) if dns["zone"] else None
    host = _normalise_domain(dns["hostname"]) if dns["hostname"] else None
    zone_ok = zone is not None and _check_domain(zone, "dns.zone", problems)
    host_ok = host is not None and _check_domain(host, "dns.hostname", problems)
    if zone_ok and host_ok and host != zone and not (host or "").endswith("." + (zone or "")):
        problems.append(("dns.hostname", f"{host!r} is not inside the zone {zone!r}: use a name ending in .{zone}"))
    if dns["record"] not in ("alias", "cname"):
        problems.append(("dns.record", f'must be "alias" or "cname", got {dns["record"]!r}'))
    if dns["record"] == "cname" and zone_ok and host == zone:
        problems.append(("dns.record", 'a CNAME cannot be created at the zone apex: use record = "alias"'))
    if zone_ok and zone and not dns["certificate_arn"] and len(zone) > ACM_FIRST_NAME_LIMIT:
        problems.append(
            (
                "dns.zone",
                f"{zone!r} is {len(zone)} characters; ACM limits a certificate's first name (ecsup requests the zone "
                f"apex) to {ACM_FIRST_NAME_LIMIT}, and every name in this zone is longer: bring a certificate "
                "with dns.certificate_arn (its first name any name up to 64 characters, the hostname a SAN)",
            )
        )
    if dns["certificate_arn"] and dns["cloudfront_certificate"]:
        problems.append(
            (
                "dns.cloudfront_certificate",
                "cannot be combined with dns.certificate_arn: ecsup requests the us-east-1 copy only of a "
                "certificate it requests itself (bring a us-east-1 certificate to CloudFront yourself)",
            )
        )
    if dns["certificate_arn"] and not re.fullmatch(
        r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[\w-]+", dns["certificate_arn"]
    ):
        problems.append(("dns.certificate_arn", f"{dns['certificate_arn']!r} is not an ACM certificate ARN"))

    net = raw["network"]
    if net["vpc_id"] and not re.fullmatch(r"vpc-[0-9a-f]+", net["vpc_id"]):
        problems.append(("network.vpc_id", f"{net['vpc_id']!r} is not a VPC id (vpc-...)"))
    for key in ("subnets", "alb_subnets"):
        for i, subnet in enumerate(net[key]):
            if not isinstance(subnet, str) or not re.fullmatch(r"subnet-[0-9a-f]+", subnet):
                problems.append((f"network.{key}[{i}]", f"{subnet!r} is not a subnet id (subnet-...)"))
        if len(set(map(str, net[key]))) != len(net[key]):
            problems.append((f"network.{key}", "lists a subnet twice"))
    alb_key = "alb_subnets" if net["alb_subnets"] else "subnets"
    if len(net[alb_key]) == 1:
        problems.append(
            (
                f"network.{alb_key}",
                "an application load balancer needs at least 2 subnets in 2 availability zones"
                + (
                    ""
                    if net["alb_subnets"]
                    else " (or leave it empty for the default subnets, or list public ones in network.alb_subnets)"
                ),
            )
        )
    if (net["subnets"] or net["alb_subnets"]) and not net["vpc_id"]:
        key = "network.subnets" if net["subnets"] else "network.alb_subnets"
        problems.append(("network.vpc_id", f"is required when {key} is given"))
    _validate_egress(net, problems)
    _validate_own_network(net, problems)

    svc = raw["service"]
    if svc["image"] and (not svc["image"].strip() or any(c.isspace() for c in svc["image"])):
        problems.append(("service.image", "must be an image reference such as public.ecr.aws/nginx/nginx:stable"))
    _validate_build(svc, problems)
    port = svc["container_port"]
    if not 1 <= port <= 65535:
        problems.append(("service.container_port", f"{port} is not a port (1-65535)"))
    cpu, memory = svc["cpu"], svc["memory"]
    if "service.cpu" in unusable:
        pass  # already reported; the pair cannot be checked without a cpu
    elif cpu not in FARGATE_MEMORY:
        problems.append(
            ("service.cpu", f"{cpu} is not a Fargate cpu value; use one of " + ", ".join(map(str, FARGATE_MEMORY)))
        )
    elif "service.memory" not in unusable and memory not in FARGATE_MEMORY[cpu]:
        valid = FARGATE_MEMORY[cpu]
        problems.append(
            ("service.memory", f"{memory} MiB is not valid with cpu {cpu}; use one of " + ", ".join(map(str, valid)))
        )
    if not 0 <= svc["desired_count"] <= 1000:
        problems.append(("service.desired_count", f"{svc['desired_count']} must be between 0 and 1000"))
    path = svc["health_check_path"]
    if not path.startswith("/") or len(path) > 1024 or any(c.isspace() for c in path):
        problems.append(
            ("service.health_check_path", f"{path!r} must start with '/' (at most 1024 characters, no spaces)")
        )
    if svc["log_retention_days"] not in LOG_RETENTION_DAYS:
        problems.append(
            (
                "service.log_retention_days",
                f"{svc['log_retention_days']} is not accepted by "
                "CloudWatch Logs; use one of " + ", ".join(map(str, LOG_RETENTION_DAYS)),
            )
        )
    log_kms = svc["log_kms_key"]
    if log_kms and not re.fullmatch(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]{36}", log_kms):
        # CloudWatch Logs takes a key ARN only (CreateLogGroup/AssociateKmsKey kmsKeyId), not an alias
        problems.append(
            (
                "service.log_kms_key",
                f"{log_kms!r} must be the ARN of a customer-managed KMS key (arn:aws:kms:<region>:<account>:key/<id>); "
                "CloudWatch Logs takes no alias",
            )
        )
    tls = raw["load_balancer"]["tls_policy"]
    if not _TLS_POLICY_RE.fullmatch(tls):
        problems.append(
            (
                "load_balancer.tls_policy",
                f"{tls!r} is not an ELB security policy name (e.g. {DEFAULT_TLS_POLICY}; "
                "`aws elbv2 describe-ssl-policies` lists them)",
            )
        )
    _validate_shared(raw["load_balancer"], problems)
    _validate_bucket_name(raw["load_balancer"]["access_logs_bucket"], problems)
    _validate_ingress(raw, problems)
    kms = svc["secrets_kms_key"]
    if kms and (
        kms == "alias/aws/ssm"
        or not re.fullmatch(
            r"(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/)?"
            r"[0-9a-f-]{36}|(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:)?"
            r"alias/[A-Za-z0-9/_-]+",
            kms,
        )
    ):
        problems.append(
            (
                "service.secrets_kms_key",
                f"{kms!r} must be a customer-managed KMS key id, key ARN or "
                "alias (leave empty for the AWS managed alias/aws/ssm)",
            )
        )
    for name, value in svc["environment"].items():
        key = f"service.environment.{name}"
        if not _ENV_VAR_RE.fullmatch(name):
            problems.append(
                (key, "is not a valid environment variable name (letters, digits, '_'; not starting with a digit)")
            )
        if not isinstance(value, str | int | float | bool) or isinstance(value, dict | list):
            problems.append((key, "must be a string, number or boolean"))
        elif value == "":
            problems.append((key, "must not be empty: ECS drops variables with empty values (leave it out)"))
    for name, param in svc["secrets"].items():
        key = f"service.secrets.{name}"
        if not _ENV_VAR_RE.fullmatch(name):
            problems.append(
                (key, "is not a valid environment variable name (letters, digits, '_'; not starting with a digit)")
            )
        if name in svc["environment"]:
            problems.append((key, "is also set in service.environment: a variable is either plain or secret"))
        if not isinstance(param, str):
            problems.append((key, "must be an SSM parameter name (a string)"))
            continue
        why = check_ssm_name(param)
        if why:
            problems.append((key, f"SSM parameter name {param!r} {why}"))
    params = [p for p in svc["secrets"].values() if isinstance(p, str)]
    if len(set(params)) != len(params):
        problems.append(("service.secrets", "two variables use the same SSM parameter"))
    _validate_deploy(svc["deploy"], problems, str(raw["dns"]["hostname"] or ""))
    _validate_capacity(svc, problems)
    _validate_autoscaling(svc, problems)
    # Checks added after stacks were made with such files: they forbid building or changing the
    # stack, not reading or destroying one that exists (``build``: where parse collects them).
    build = problems if build is None else build
    _validate_exec_filesystem(svc, build)
    _validate_host_header(raw, host, build)


def _validate_exec_filesystem(svc: dict[str, Any], problems: list[tuple[str, str]]) -> None:
    """ECS Exec runs AWS's SSM agent inside the container, and the agent writes there (its
    binaries, logs and state under /var/lib/amazon/ssm and /var/log/amazon/ssm): with a read-only root
    file system it cannot start, and every ExecuteCommand fails (aws/containers-roadmap#1359; AWS's
    amazon-ecs-exec-checker flags readonlyRootFilesystem as a reason ECS Exec does not work)."""
    if svc["exec"] and svc["readonly_root_filesystem"]:
        problems.append(
            (
                "service.exec",
                "cannot be true with service.readonly_root_filesystem = true: ECS Exec's SSM agent must write "
                "inside the container (set one of them to false)",
            )
        )


# ELB API reference, HostHeaderConditionConfig Values: "The maximum size of each name is 128 characters."
HOST_HEADER_VALUE_LIMIT = 128


def _validate_host_header(raw: dict[str, Any], host: str | None, problems: list[tuple[str, str]]) -> None:
    """On a shared load balancer the stack's traffic is chosen by a host-header rule whose value is
    the hostname: ELB refuses a value over 128 characters (ValidationError), so such a stack could
    never join -- refused here, before anything is created, not half-way through the join."""
    lb = raw["load_balancer"]
    if "shared" not in lb.get(GIVEN, ()) or not lb["shared"] or not host:
        return
    if len(host) > HOST_HEADER_VALUE_LIMIT:
        problems.append(
            (
                "dns.hostname",
                f"is {len(host)} characters; on a shared load balancer (load_balancer.shared) it is a listener "
                f"rule's host-header value, which ELB limits to {HOST_HEADER_VALUE_LIMIT}: use a shorter hostname "
                "or the stack's own load balancer",
            )
        )


# ELB API reference, CreateLoadBalancer Name: "must be unique per region per account, can have a
# maximum of 32 characters, must contain only alphanumeric characters or hyphens, must not begin or
# end with a hyphen, and must not begin with 'internal-'".
_ALB_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")


NETWORK_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?")


def _validate_own_network(net: dict[str, Any], problems: list[tuple[str, str]]) -> None:
    """[network] shared / cidr: ecsup's own network (steps/vpc.py), never beside a network the
    user names (vpc_id, subnets, alb_subnets)."""
    import ipaddress

    name = net["shared"]
    if name and not NETWORK_NAME.fullmatch(name):
        problems.append(
            (
                "network.shared",
                f"{name!r} is not a network name: 1-32 lowercase letters, digits and hyphens, "
                "not starting or ending with a hyphen",
            )
        )
    given = [f"network.{k}" for k in ("vpc_id", "subnets", "alb_subnets") if net[k]]
    if name and given:
        problems.append(
            (
                "network.shared",
                f"cannot be combined with {', '.join(given)}: ecsup's own network or one you name, not both "
                "(remove one)",
            )
        )
    cidr = net["cidr"]
    if cidr and not name:
        problems.append(("network.cidr", "is the block of ecsup's own network: set network.shared too"))
    if cidr:
        try:
            block = ipaddress.ip_network(cidr, strict=True)
        except ValueError:
            problems.append(("network.cidr", f"{cidr!r} is not an IPv4 CIDR block such as 10.20.0.0/16"))
            return
        if block.version != 4 or not block.is_private or not 16 <= block.prefixlen <= 24:
            problems.append(
                (
                    "network.cidr",
                    f"{cidr} is not a private IPv4 block from /16 to /24 (10.0.0.0/8, 172.16.0.0/12 or "
                    "192.168.0.0/16; a VPC's block is /16 to /28, and ecsup cuts it into 8 subnets)",
                )
            )


def _validate_shared(lb: dict[str, Any], problems: list[tuple[str, str]]) -> None:
    shared = lb["shared"]
    if "shared" not in lb.get(GIVEN, ()):
        return
    if not _ALB_NAME_RE.fullmatch(shared) or shared.lower().startswith("internal-"):
        problems.append(
            (
                "load_balancer.shared",
                f"{shared!r} is not a valid load balancer name: 1-32 letters, digits and hyphens, not starting or "
                "ending with a hyphen, not starting with 'internal-'",
            )
        )
    if lb["deletion_protection"]:
        problems.append(
            (
                "load_balancer.deletion_protection",
                "is for a stack's own load balancer; a shared one is deleted only by the last stack that leaves it "
                "(remove the key, or remove load_balancer.shared)",
            )
        )
    if lb["access_logs"]:
        problems.append(
            (
                "load_balancer.access_logs",
                "is for a stack's own load balancer; a shared one's logs would be every stack's (remove the key, "
                "or remove load_balancer.shared)",
            )
        )


# A regional AWS WAF web ACL (WAFV2 API reference, AssociateWebACL WebACLArn; the ARN forms in the
# WAF Developer Guide): arn:aws:wafv2:<region>:<account>:regional/webacl/<name>/<id>. A CloudFront
# one (global/webacl/..., in us-east-1) cannot be associated with a load balancer.
_WAF_ACL_RE = re.compile(
    r"^arn:aws[a-z-]*:wafv2:([a-z0-9-]+):(\d{12}):(regional|global)/webacl/([\w-]{1,128})/([\w-]+)$"
)
# What a listener rule's conditions may hold: "Condition values per rule: 5" (ELB User Guide, "Quotas
# for your Application Load Balancers"): the stack's host-header value counts, so 4 CIDRs.
RULE_CONDITION_VALUES = 5
# "Inbound or outbound rules per security group: 60 ... enforced separately for IPv4 rules and IPv6
# rules" (VPC User Guide, "Amazon VPC quotas", Security groups); a rule whose source is a security
# group is counted in both families here, to be safe.
SG_RULES_LIMIT = 60


def waf_acl_region(arn: str) -> str:
    """The region of a regional web ACL ARN ("" when it is not one)."""
    m = _WAF_ACL_RE.fullmatch(arn)
    return m.group(1) if m and m.group(3) == "regional" else ""


def normalise_cidrs(values: list[Any]) -> tuple[str, ...]:
    """allow_cidrs as ipaddress writes them (host bits refused by validation), in the given order."""
    import ipaddress

    return tuple(str(ipaddress.ip_network(str(v).strip(), strict=True)) for v in values)


def _validate_ingress(raw: dict[str, Any], problems: list[tuple[str, str]]) -> None:
    """[load_balancer] allow_cidrs, internal, waf_acl (docs/network.md, "Who may reach the service")."""
    import ipaddress

    lb = raw["load_balancer"]
    seen: dict[str, int] = {}
    for i, value in enumerate(lb["allow_cidrs"]):
        key = f"load_balancer.allow_cidrs[{i}]"
        if not isinstance(value, str):
            problems.append((key, f"{value!r} must be a CIDR string such as 203.0.113.0/24 or 2001:db8::/32"))
            continue
        try:
            net = ipaddress.ip_network(value.strip(), strict=True)
        except ValueError as exc:
            hint = ""
            if "/" in value:  # host bits set: the network it is in
                with contextlib.suppress(ValueError):
                    hint = f" (did you mean {ipaddress.ip_network(value.strip(), strict=False)}?)"
            problems.append((key, f"{value!r} is not a CIDR block: {exc}{hint}"))
            continue
        if str(net) in seen:
            problems.append((key, f"{value!r} is {net}, already listed at allow_cidrs[{seen[str(net)]}]"))
        seen.setdefault(str(net), i)
    for family, count in (("IPv4", sum(1 for c in seen if ":" not in c)), ("IPv6", sum(1 for c in seen if ":" in c))):
        if 2 * count > SG_RULES_LIMIT:
            problems.append(
                (
                    "load_balancer.allow_cidrs",
                    f"lists {count} {family} CIDRs: the load balancer's security group would need {2 * count} inbound "
                    f"rules (80 and 443 each), and EC2 allows {SG_RULES_LIMIT} per family: list fewer, wider CIDRs",
                )
            )
    if lb["internal"] and raw["network"]["alb_subnets"]:
        problems.append(
            (
                "network.alb_subnets",
                "is not used with load_balancer.internal = true: an internal load balancer goes in the tasks' "
                "subnets (network.subnets): remove it",
            )
        )
    acl = lb["waf_acl"]
    if acl:
        m = _WAF_ACL_RE.fullmatch(acl)
        if m is None:
            problems.append(
                (
                    "load_balancer.waf_acl",
                    f"{acl!r} is not a WAF web ACL ARN (arn:aws:wafv2:<region>:<account>:regional/webacl/<name>/<id>)",
                )
            )
        elif m.group(3) != "regional":
            problems.append(
                (
                    "load_balancer.waf_acl",
                    f"{acl!r} is a CloudFront (global) web ACL: a load balancer takes a REGIONAL one "
                    "(scope REGIONAL, in the stack's region)",
                )
            )
        elif raw["region"] and m.group(1) != raw["region"]:
            problems.append(
                (
                    "load_balancer.waf_acl",
                    f"{acl!r} is in {m.group(1)}: a load balancer takes a web ACL of its own region ({raw['region']})",
                )
            )
    if not lb["shared"]:
        return
    if lb["internal"]:
        problems.append(
            (
                "load_balancer.internal",
                "is for a stack's own load balancer; a shared one's scheme is the shared part's, made by the first "
                "stack (remove the key, or remove load_balancer.shared)",
            )
        )
    if acl:
        problems.append(
            (
                "load_balancer.waf_acl",
                "is for a stack's own load balancer; a shared one's web ACL would filter every stack on it "
                "(associate it with the shared load balancer yourself, or remove load_balancer.shared)",
            )
        )
    limit = RULE_CONDITION_VALUES - 1  # the host-header value
    if len(lb["allow_cidrs"]) > limit:
        problems.append(
            (
                "load_balancer.allow_cidrs",
                f"lists {len(lb['allow_cidrs'])} CIDRs; on a shared load balancer they are the stack's rule's "
                f"source-ip condition, and ELB allows {RULE_CONDITION_VALUES} condition values per rule, one of "
                f"them the hostname: at most {limit} (or use the stack's own load balancer)",
            )
        )


# S3's naming rules for general purpose buckets (S3 User Guide, "General purpose bucket naming
# rules"): 3-63 characters; lowercase letters, digits, dots and hyphens; a letter or digit first and
# last; no two dots in a row; not an IP address; none of the prefixes and suffixes S3 reserves.
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be an S3 bucket's name, or None."""
    if not _BUCKET_RE.fullmatch(name):
        return "3-63 lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit"
    if ".." in name:
        return "no two dots in a row"
    if re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", name):
        return "not formatted as an IP address"
    if name.startswith(_BUCKET_RESERVED_PREFIXES) or name.endswith(_BUCKET_RESERVED_SUFFIXES):
        return (
            "not beginning with "
            + ", ".join(_BUCKET_RESERVED_PREFIXES)
            + " nor ending with "
            + ", ".join(_BUCKET_RESERVED_SUFFIXES)
            + " (S3 reserves them)"
        )
    return None


def _validate_bucket_name(name: str, problems: list[tuple[str, str]]) -> None:
    if not name:
        return
    why = bucket_name_problem(name)
    if why is not None:
        problems.append(("load_balancer.access_logs_bucket", f"{name!r} is not a valid S3 bucket name: {why}"))


def _validate_capacity(svc: dict[str, Any], problems: list[tuple[str, str]]) -> None:
    if svc["cpu_architecture"] not in ARCHITECTURES:
        problems.append(("service.cpu_architecture", f'{svc["cpu_architecture"]!r} must be "X86_64" or "ARM64"'))
    if svc["capacity"] not in CAPACITIES:
        problems.append(("service.capacity", f'{svc["capacity"]!r} must be "FARGATE", "FARGATE_SPOT" or "mixed"'))
    # ARM64 with Spot is allowed: "FARGATE_SPOT supports Linux tasks with the ARM64 architecture on
    # platform version 1.4.0 or later" (ECS API Reference, CapacityProviderStrategyItem; the
    # Developer Guide's older "x86_64 only" is out of date). ecsup's services run LATEST (1.4.0).
    given = svc[GIVEN]
    if svc["capacity"] != "mixed" and given & {"on_demand_base", "on_demand_percent"}:
        key = sorted(given & {"on_demand_base", "on_demand_percent"})[0]
        problems.append((f"service.{key}", 'is used only with capacity = "mixed"'))
    if not 0 <= svc["on_demand_base"] <= 100000:
        problems.append(("service.on_demand_base", f"{svc['on_demand_base']} must be between 0 and 100000"))
    if not 0 <= svc["on_demand_percent"] <= 100:
        problems.append(("service.on_demand_percent", f"{svc['on_demand_percent']} must be between 0 and 100"))


def _validate_autoscaling(svc: dict[str, Any], problems: list[tuple[str, str]]) -> None:
    scaling = svc["autoscaling"]
    if not scaling[GIVEN]:
        return
    key = "service.autoscaling"
    for name in ("min", "max"):
        if scaling[name] is None:
            problems.append((f"{key}.{name}", "is required in [service.autoscaling]"))
        elif not 0 <= scaling[name] <= 1000:
            problems.append((f"{key}.{name}", f"{scaling[name]} must be between 0 and 1000"))
    if scaling["min"] is not None and scaling["max"] is not None and scaling["min"] > scaling["max"]:
        problems.append((f"{key}.min", f"{scaling['min']} is more than max ({scaling['max']})"))
    if scaling["cpu_target"] is None and scaling["requests_per_target"] is None:
        problems.append((key, "needs cpu_target, requests_per_target, or both"))
    if scaling["cpu_target"] is not None and not 1 <= scaling["cpu_target"] <= 100:
        problems.append((f"{key}.cpu_target", f"{scaling['cpu_target']} must be a percentage from 1 to 100"))
    if scaling["requests_per_target"] is not None and not scaling["requests_per_target"] > 0:
        problems.append((f"{key}.requests_per_target", "must be more than 0 (requests per task per minute)"))
    for name in ("scale_in_cooldown", "scale_out_cooldown"):
        if not 0 <= scaling[name] <= 86400:
            problems.append((f"{key}.{name}", f"{scaling[name]} must be between 0 and 86400 seconds"))


# ECS API reference: DeploymentConfiguration (bakeTimeInMinutes), LinearConfiguration
# (stepPercent: multiples of 0.1 from 3.0 to 100.0; stepBakeTimeInMinutes 0-1440),
# CanaryConfiguration (canaryPercent: multiples of 0.1 from 0.1 to 100.0; canaryBakeTimeInMinutes 0-1440).
_PERCENT_RANGE = {"step_percent": (3.0, 100.0), "canary_percent": (0.1, 100.0)}
_ONLY_WITH = {
    "step_percent": "linear",
    "step_minutes": "linear",
    "canary_percent": "canary",
    "canary_minutes": "canary",
}


def _validate_deploy(deploy: dict[str, Any], problems: list[tuple[str, str]], hostname: str = "") -> None:
    strategy = deploy["strategy"]
    if strategy not in STRATEGIES:
        problems.append(("service.deploy.strategy", f"{strategy!r} must be one of " + ", ".join(STRATEGIES)))
    for key in ("bake_minutes", "step_minutes", "canary_minutes"):
        if not 0 <= deploy[key] <= 1440:
            problems.append((f"service.deploy.{key}", f"{deploy[key]} must be between 0 and 1440 minutes (24 hours)"))
    for key, (low, high) in _PERCENT_RANGE.items():
        value = deploy[key]
        if not low <= value <= high or abs(round(value * 10) - value * 10) > 1e-6:
            problems.append((f"service.deploy.{key}", f"{value} must be a multiple of 0.1 from {low} to {high}"))
    before = deploy["before"]
    if before and not all(isinstance(word, str) and word for word in before):
        problems.append(
            ("service.deploy.before", 'must be a list of non-empty strings, e.g. ["python", "manage.py", "migrate"]')
        )
    if not 1 <= deploy["before_timeout"] <= 86400:
        problems.append(
            ("service.deploy.before_timeout", f"{deploy['before_timeout']} must be between 1 and 86400 seconds")
        )
    _validate_alarms(deploy["alarms"], problems)
    _validate_verify(deploy["verify"], problems, hostname)
    given = deploy[GIVEN]
    if strategy == "rolling" and "bake_minutes" in given:
        problems.append(("service.deploy.bake_minutes", 'has no effect with strategy = "rolling"'))
    for key, needs in _ONLY_WITH.items():
        if key in given and strategy in STRATEGIES and strategy != needs:
            problems.append((f"service.deploy.{key}", f'is used only with strategy = "{needs}" (it is {strategy!r})'))


def _validate_alarms(alarms: dict[str, Any], problems: list[tuple[str, str]]) -> None:
    key = "service.deploy.alarms"
    if not 0 <= alarms["error_rate_percent"] <= 100:
        problems.append((f"{key}.error_rate_percent", f"{alarms['error_rate_percent']} must be from 0 (off) to 100"))
    if not 0 <= alarms["latency_p95_ms"] <= 3_600_000:
        problems.append((f"{key}.latency_p95_ms", f"{alarms['latency_p95_ms']} must be from 0 (off) to 3600000"))
    # CloudWatch: a period of 10, 30 or a multiple of 60 seconds (PutMetricAlarm, Period); ELB
    # publishes its metrics every 60 seconds, so less than that would evaluate missing data
    if alarms["period_seconds"] < 60 or alarms["period_seconds"] % 60 or alarms["period_seconds"] > 86400:
        problems.append((f"{key}.period_seconds", f"{alarms['period_seconds']} must be a multiple of 60 up to 86400"))
    if not 1 <= alarms["evaluation_periods"] <= 100:
        problems.append((f"{key}.evaluation_periods", f"{alarms['evaluation_periods']} must be from 1 to 100"))
    else:
        # PutMetricAlarm: "Period * EvaluationPeriods" may not exceed one day for periods under an
        # hour, seven days otherwise (CloudWatch API reference, PutMetricAlarm, EvaluationPeriods)
        span, limit = (
            alarms["period_seconds"] * alarms["evaluation_periods"],
            (86400 if alarms["period_seconds"] < 3600 else 7 * 86400),
        )
        if span > limit:
            problems.append(
                (
                    f"{key}.evaluation_periods",
                    f"{alarms['evaluation_periods']} periods of {alarms['period_seconds']} s span {span} s; "
                    f"CloudWatch allows {limit} s: fewer or shorter periods",
                )
            )
    names = alarms["names"]
    if not all(isinstance(n, str) and 1 <= len(n) <= ALARM_NAME_LIMIT for n in names):
        problems.append((f"{key}.names", f"must be a list of CloudWatch alarm names (1-{ALARM_NAME_LIMIT} characters)"))
    elif len(set(names)) != len(names):
        problems.append((f"{key}.names", "names an alarm twice"))
    elif any(str(n).startswith("ecsup-") for n in names):
        problems.append((f"{key}.names", "alarms named ecsup-... are ecsup's own: name your alarms otherwise"))
    ours = (alarms["error_rate_percent"] > 0) + (alarms["latency_p95_ms"] > 0) if alarms["enabled"] else 0
    if ours + len(names) > MAX_DEPLOYMENT_ALARMS:
        problems.append(
            (
                f"{key}.names",
                f"ECS watches at most {MAX_DEPLOYMENT_ALARMS} alarms a service; with ecsup's {ours} that leaves "
                f"{MAX_DEPLOYMENT_ALARMS - ours} names (got {len(names)})",
            )
        )


def _validate_verify(verify: dict[str, Any], problems: list[tuple[str, str]], hostname: str = "") -> None:
    from urllib.parse import urlsplit

    key = "service.deploy.verify"
    url = verify["url"]
    if url and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
        problems.append((f"{key}.url", f"{url!r} must be an http:// or https:// URL"))
    elif url:
        parts = urlsplit(url)
        try:
            parts.port  # noqa: B018 -- raises ValueError for a port that is not a number from 0 to 65535
        except ValueError:
            problems.append((f"{key}.url", "has a port that is not a number from 1 to 65535"))
        if parts.username is not None or parts.password is not None:
            problems.append((f"{key}.url", "must not carry a user or password (it is printed with the probe's result)"))
        if parts.scheme == "http" and hostname and (parts.hostname or "").lower() == hostname.lower():
            # the load balancer answers http://<hostname> itself (301 to https): the probe would pass
            # without reaching the new tasks
            problems.append((f"{key}.url", f"must be https:// for {hostname}: http:// only gets the redirect to it"))
    if not 1 <= verify["requests"] <= 1000:
        problems.append((f"{key}.requests", f"{verify['requests']} must be from 1 to 1000"))
    if not 0 <= verify["seconds"] <= 3600:
        problems.append((f"{key}.seconds", f"{verify['seconds']} must be from 0 to 3600"))


# Build arguments whose name says they carry a secret: a --build-arg value is kept in the image's
# history and metadata (`docker history`, the build cache), so such values belong in
# `docker build --secret` (BuildKit secret mounts), which ecsup does not pass.
_SECRET_ARG_RE = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.IGNORECASE)


def _validate_build(svc: dict[str, Any], problems: list[tuple[str, str]]) -> None:
    """[service] build / build_dockerfile / build_args, and exactly one of image and build."""
    given = svc[GIVEN]
    if "image" in given and "build" in given:
        problems.append(
            (
                "service.build",
                "cannot be combined with service.image: set image (an image pushed elsewhere) or build "
                "(a Docker build context ecsup builds and pushes), not both",
            )
        )
    elif not svc["image"] and not svc["build"]:
        key = "service.build" if "build" in given else "service.image"
        problems.append(
            (key, 'is required: an image reference (image = "...") or a Docker build context (build = ".")')
        )
    if "build" in given and not str(svc["build"]).strip():
        problems.append(("service.build", 'must be a directory (a Docker build context), e.g. "."'))
    if svc["build_dockerfile"] and "build" not in given:
        problems.append(("service.build_dockerfile", "is used only with service.build"))
    if svc["build_args"] and "build" not in given:
        problems.append(("service.build_args", "is used only with service.build"))
    for name, value in svc["build_args"].items():
        key = f"service.build_args.{name}"
        if not _ENV_VAR_RE.fullmatch(name):
            problems.append((key, "must be a name of letters, digits and '_' (not starting with a digit)"))
        elif not isinstance(value, str | int | float | bool):
            problems.append((key, "must be a string"))
        elif _SECRET_ARG_RE.search(name):
            problems.append(
                (
                    key,
                    "looks like a secret: build arguments stay in the image's history; pass build secrets with "
                    "`docker build --secret` (a BuildKit secret mount) outside ecsup, and runtime secrets through "
                    "[service.secrets]",
                )
            )


def _autoscaling(raw: dict[str, Any]) -> AutoscalingConfig | None:
    if not raw[GIVEN]:
        return None
    return AutoscalingConfig(
        min=raw["min"],
        max=raw["max"],
        cpu_target=None if raw["cpu_target"] is None else float(raw["cpu_target"]),
        requests_per_target=None if raw["requests_per_target"] is None else float(raw["requests_per_target"]),
        scale_in_cooldown=raw["scale_in_cooldown"],
        scale_out_cooldown=raw["scale_out_cooldown"],
        disable_scale_in=raw["disable_scale_in"],
    )


def _validate_external_dns(raw: dict[str, Any], problems: list[tuple[str, str]]) -> None:
    """[dns] external = true: the domain's DNS is at another provider. Without it a zone is
    required; with it a zone is refused, as is what needs ecsup to write DNS records: dns.record
    (the user's provider decides the record) and load_balancer.shared (a stack moves between load
    balancers by repointing its record in Route53 the moment ECS shifts production traffic -- a
    record at another provider would still point at the load balancer being removed)."""
    dns = raw["dns"]
    if not dns["external"]:
        if not dns["zone"] and "dns.zone" not in {key for key, _ in problems}:
            problems.append(
                ("dns.zone", "is required (or dns.external = true when the domain's DNS is not in Route53)")
            )
        return
    if dns["zone"]:
        problems.append(
            (
                "dns.zone",
                "cannot be combined with dns.external = true: remove dns.zone (DNS at another provider), "
                "or dns.external (DNS in this Route53 zone)",
            )
        )
    if "record" in dns[GIVEN]:
        problems.append(
            (
                "dns.record",
                "does not apply with dns.external = true (ecsup writes no DNS record; `ecsup create` prints the "
                "one to create at your DNS provider): remove it",
            )
        )
    host = _normalise_domain(dns["hostname"]) if dns["hostname"] else ""
    if not dns["certificate_arn"] and len(host) > ACM_FIRST_NAME_LIMIT:
        problems.append(
            (
                "dns.hostname",
                f"{host!r} is {len(host)} characters; ACM limits a certificate's first name (with dns.external, "
                f"the hostname) to {ACM_FIRST_NAME_LIMIT}: use a shorter hostname, or bring a certificate with "
                "dns.certificate_arn",
            )
        )
    if raw["load_balancer"]["shared"]:
        problems.append(
            (
                "load_balancer.shared",
                "cannot be combined with dns.external = true: joining or leaving a shared load balancer moves the "
                "hostname's record the moment traffic moves, which ecsup can do only in Route53: remove one of them",
            )
        )


_PREVIEW_KEYS = {"domain": str, "shared": str, "capacity": str, "ttl_hours": int, "secrets": dict}


def _read_preview(
    raw: dict[str, Any], workers: tuple[WorkerConfig, ...], jobs: tuple[JobConfig, ...], problems: list[tuple[str, str]]
) -> PreviewConfig | None:
    """[preview] (absent: None). The domain is inside the Route53 zone (each preview is
    <name>.<domain>, one certificate for *.<domain> serves them all), the shared load balancer is
    required (previews join it: none pays for a load balancer of its own), [preview.secrets] names
    other parameters for variables the workloads read."""
    table = raw["preview"]
    if not table:
        return None
    before = len(problems)
    for key in table:
        if key not in _PREVIEW_KEYS:
            problems.append((f"preview.{key}", f"unknown key (known keys here: {', '.join(sorted(_PREVIEW_KEYS))})"))
    for key, expected in _PREVIEW_KEYS.items():
        if key in table and not _type_ok(table[key], expected):
            problems.append((f"preview.{key}", f"must be {_TYPE_NAMES[expected]}, got {type(table[key]).__name__}"))
    if len(problems) > before:
        return None
    domain = _normalise_domain(table.get("domain", ""))
    zone = _normalise_domain(raw["dns"]["zone"] or "")
    if not domain:
        problems.append(
            ("preview.domain", 'is required: e.g. domain = "preview.example.com" (each preview is <name>.<domain>)')
        )
    elif _check_domain(domain, "preview.domain", problems):
        if raw["dns"]["external"]:
            problems.append(
                (
                    "preview.domain",
                    "needs a Route53 zone (each preview's record and the previews' certificate validation are written "
                    "there): previews cannot be used with dns.external = true",
                )
            )
        elif zone and domain != zone and not domain.endswith("." + zone):
            problems.append(
                ("preview.domain", f"{domain!r} is not inside the zone {zone!r}: use a name ending in .{zone}")
            )
        if len(domain) + 2 > ACM_FIRST_NAME_LIMIT:
            problems.append(
                (
                    "preview.domain",
                    f"{domain!r} is {len(domain)} characters; the previews' certificate names *.{domain}, "
                    "and ACM limits "
                    f"a certificate's first name to {ACM_FIRST_NAME_LIMIT}: use a domain of at most "
                    f"{ACM_FIRST_NAME_LIMIT - 2} characters",
                )
            )
    shared = table.get("shared", "")
    if not shared:
        problems.append(
            ("preview.shared", 'is required: the shared load balancer previews join (e.g. shared = "edge")')
        )
    elif not _ALB_NAME_RE.fullmatch(shared) or shared.lower().startswith("internal-"):
        problems.append(
            (
                "preview.shared",
                f"{shared!r} is not a valid load balancer name: 1-32 letters, digits and hyphens, not starting or "
                "ending with a hyphen, not starting with 'internal-'",
            )
        )
    capacity = table.get("capacity", "FARGATE_SPOT")
    if capacity not in PREVIEW_CAPACITIES:
        problems.append(("preview.capacity", f'{capacity!r} must be "FARGATE_SPOT" or "FARGATE"'))
    ttl = table.get("ttl_hours", 72)
    if not 1 <= ttl <= 8760:
        problems.append(("preview.ttl_hours", f"{ttl} must be from 1 to 8760 hours (a year)"))
    read = {var for var, _ in raw["service"]["secrets"].items()}
    for workload in (*workers, *jobs):
        read.update(var for var, _ in workload.secrets)
    secrets = table.get("secrets", {})
    for var, param in secrets.items():
        key = f"preview.secrets.{var}"
        if var not in read:
            known = ", ".join(sorted(read)) or "none"
            problems.append(
                (key, f"is not a secret any workload reads ([service.secrets] and the workers' and jobs': {known})")
            )
        if not isinstance(param, str):
            problems.append((key, "must be an SSM parameter name (a string)"))
            continue
        why = check_ssm_name(param)
        if why:
            problems.append((key, f"SSM parameter name {param!r} {why}"))
    if len(problems) > before:
        return None
    return PreviewConfig(
        domain=domain,
        shared=shared,
        capacity=capacity,
        ttl_hours=ttl,
        secrets=tuple(sorted((str(k), str(v)) for k, v in secrets.items())),
    )


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse(text: str, path: str = "ecsup.toml", build: bool = True) -> Config:
    """Parse and validate configuration text; raise ConfigError listing every problem.

    ``build=False`` (commands that only read or destroy the stack: status, logs, destroy): the
    problems that only forbid building or changing it are kept in ``Config.build_problems``
    instead, so a stack created before those checks existed stays reachable."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            [(path, f"invalid TOML: {exc}")], hint="fix the syntax at the line and column given"
        ) from None
    problems: list[tuple[str, str]] = []
    raw = _read_section(data, _SCHEMA, "", problems)
    build_problems: list[tuple[str, str]] = []
    _validate(raw, problems, build_problems)
    from .workloads import read_workloads

    valid_names = all(isinstance(raw[k], str) and _NAME_RE.fullmatch(raw[k]) for k in ("app", "env"))
    workers, jobs = read_workloads(
        {"workers": raw["workers"], "jobs": raw["jobs"]},
        raw["service"],
        f"{raw['app']}-{raw['env']}" if valid_names else None,
        problems,
    )
    preview = _read_preview(raw, workers, jobs, problems)
    if build:
        problems += build_problems
    if problems:
        raise ConfigError(problems, hint=f"fix {path} and run the command again; nothing was changed")
    dns, net, svc, lb = raw["dns"], raw["network"], raw["service"], raw["load_balancer"]
    return Config(
        build_problems=tuple(build_problems),
        workers=workers,
        jobs=jobs,
        preview=preview,
        app=raw["app"],
        env=raw["env"],
        region=raw["region"],
        path=path,
        dns=DnsConfig(
            zone=_normalise_domain(dns["zone"]),
            hostname=_normalise_domain(dns["hostname"]),
            record=dns["record"],
            cloudfront_certificate=dns["cloudfront_certificate"],
            certificate_arn=dns["certificate_arn"],
            external=dns["external"],
        ),
        load_balancer=LoadBalancerConfig(
            tls_policy=lb["tls_policy"],
            deletion_protection=lb["deletion_protection"],
            access_logs=lb["access_logs"],
            shared=lb["shared"],
            access_logs_bucket=lb["access_logs_bucket"],
            allow_cidrs=normalise_cidrs(lb["allow_cidrs"]),
            internal=lb["internal"],
            waf_acl=lb["waf_acl"],
        ),
        network=NetworkConfig(
            vpc_id=net["vpc_id"],
            subnets=tuple(net["subnets"]),
            alb_subnets=tuple(net["alb_subnets"]),
            assign_public_ip=net["assign_public_ip"],
            shared=net["shared"],
            cidr=net["cidr"],
            ipv6=net["ipv6"],
            egress=net["egress"],
        ),
        service=ServiceConfig(
            image=svc["image"].strip(),
            container_port=svc["container_port"],
            cpu=svc["cpu"],
            memory=svc["memory"],
            desired_count=svc["desired_count"],
            health_check_path=svc["health_check_path"],
            log_retention_days=svc["log_retention_days"],
            secrets_kms_key=svc["secrets_kms_key"],
            environment=tuple(sorted((k, _env_value(v)) for k, v in svc["environment"].items())),
            secrets=tuple(sorted(svc["secrets"].items())),
            cpu_architecture=svc["cpu_architecture"],
            capacity=svc["capacity"],
            on_demand_base=svc["on_demand_base"],
            on_demand_percent=svc["on_demand_percent"],
            autoscaling=_autoscaling(svc["autoscaling"]),
            readonly_root_filesystem=svc["readonly_root_filesystem"],
            container_insights=svc["container_insights"],
            log_kms_key=svc["log_kms_key"],
            build=svc["build"].strip(),
            build_dockerfile=svc["build_dockerfile"].strip(),
            build_args=tuple(sorted((k, _env_value(v)) for k, v in svc["build_args"].items())),
            deploy=DeployConfig(
                strategy=svc["deploy"]["strategy"],
                bake_minutes=svc["deploy"]["bake_minutes"],
                step_percent=float(svc["deploy"]["step_percent"]),
                step_minutes=svc["deploy"]["step_minutes"],
                canary_percent=float(svc["deploy"]["canary_percent"]),
                canary_minutes=svc["deploy"]["canary_minutes"],
                before=tuple(str(w) for w in svc["deploy"]["before"]),
                before_timeout=svc["deploy"]["before_timeout"],
                alarms=AlarmsConfig(
                    enabled=svc["deploy"]["alarms"]["enabled"],
                    error_rate_percent=float(svc["deploy"]["alarms"]["error_rate_percent"]),
                    latency_p95_ms=svc["deploy"]["alarms"]["latency_p95_ms"],
                    period_seconds=svc["deploy"]["alarms"]["period_seconds"],
                    evaluation_periods=svc["deploy"]["alarms"]["evaluation_periods"],
                    names=tuple(str(n) for n in svc["deploy"]["alarms"]["names"]),
                ),
                verify=VerifyConfig(**{k: v for k, v in svc["deploy"]["verify"].items() if k != GIVEN}),
            ),
            exec=svc["exec"],
        ),
    )


def load(path: str | Path, given: bool = False, build: bool = True) -> Config:
    """Read and validate the file; ``given``: its path came from --config (the hint then says so);
    ``build``: as in parse."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        import shlex

        raise ConfigMissing(
            f"{p} is missing: there is no configuration to read",
            hint=f"write it with `ecsup init -c {shlex.quote(str(p))}`"
            if given
            else "write one here with `ecsup init`, or point to yours with --config PATH",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([(str(p), f"cannot be read: {exc}")]) from None
    return parse(text, str(p), build)
