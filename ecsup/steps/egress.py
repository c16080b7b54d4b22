"""EC2: how the tasks on ecsup's own network reach the internet and AWS ([network] egress).

- "public": the tasks sit in the network's public subnets with a public IPv4 each (nothing here);
- "nat": private subnets in the public ones' zones, one route table for them sending 0.0.0.0/0 to
  one NAT gateway (with an Elastic IP) in the first public subnet;
- "ipv6": private dual-stack subnets, an egress-only internet gateway and ::/0 to it; the tasks have
  no public IPv4 and no IPv4 way out, so every AWS endpoint they need must answer on IPv6 (refused
  in planning where one does not: DUAL_STACK) and ECS must give Fargate tasks IPv6 addresses (its
  dualStackIPv6 account setting);
- "endpoints": private subnets with no internet route; interface endpoints for what a Fargate task
  calls (ECR's API and registry, CloudWatch Logs, SSM for the secrets, SSM messages for ECS Exec)
  with private DNS and a security group admitting HTTPS from the VPC, and the S3 gateway endpoint
  (ECR's image layers) on the private route table.

The network's step (steps/vpc.py) calls these: ``plan_egress`` and ``ensure_egress`` when it makes
or joins the network, ``plan_delete_egress`` and ``delete_egress`` when the last stack leaves it.
On a shared network the layouts add up (one stack's "nat" and another's "endpoints" share the
private subnets and their route table); nothing here is removed before the network is deleted.
Every resource is tagged ``ecsup:network`` = the network's name and ``ecsup:egress`` = its part, and
found again by those tags: a crash between two calls leaves nothing the next run cannot find.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from .. import waiting
from ..context import Context
from ..errors import AwsError, ConfigError, doing, is_code
from ..names import TAG_EGRESS, TAG_NETWORK, network_resource, network_tags, tag_dict
from ..plan import KNOWN_AFTER_APPLY, Action, Change, Kind

# Parts (the ecsup:egress tag's values)
PRIVATE_SUBNET = "private-subnet"
PRIVATE_ROUTES = "private-routes"
NAT = "nat"
EIGW = "egress-only-gateway"
ENDPOINT = "endpoint"
ENDPOINT_GROUP = "endpoint-group"


# Which public AWS endpoints a task's own traffic reaches answer on IPv6 ("dual-stack"), per service,
# as AWS documents them, by the region's partition (botocore's endpoint data). Each answers in the
# regions of the commercial partition (aws); for the others (China, GovCloud, the European Sovereign
# Cloud, ...) no page lists them all, so "ipv6" egress is refused there (the safe side: "nat" or
# "endpoints" work everywhere).
def _commercial(partition: str) -> bool:
    return partition == "aws"


def _nowhere(partition: str) -> bool:
    return False


def _partition(ctx: Context) -> str:
    try:
        return str(ctx.session.get_partition_for_region(ctx.region))
    except Exception:  # a region botocore does not know: none AWS documents dual-stack endpoints for
        return ""


DUAL_STACK: dict[str, tuple[str, Callable[[str], bool], str]] = {
    # service: (what it is to the user, the partitions where it answers on IPv6, AWS's page)
    "ecr": (
        "ECR (image pulls)",
        _commercial,
        "ECR User Guide, 'Making requests to Amazon ECR registries': dual-stack ecr.<region>.api.aws and "
        "<account>.dkr-ecr.<region>.on.aws (docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-requests.html)",
    ),
    "s3": (
        "S3 (ECR's image layers)",
        _commercial,
        "S3 User Guide, 'Using Amazon S3 dual-stack endpoints': s3.dualstack.<region>.amazonaws.com, regional "
        "only (docs.aws.amazon.com/AmazonS3/latest/userguide/dual-stack-endpoints.html)",
    ),
    "logs": (
        "CloudWatch Logs (the awslogs driver)",
        _commercial,
        "CloudWatch Logs dual-stack endpoints logs.<region>.api.aws (AWS General Reference, CloudWatch Logs "
        "endpoints and quotas; resolved to IPv6 addresses in OperationCode/operationcode_infra "
        "IPv6_MIGRATION_NOTES.md)",
    ),
    "ssm": (
        "SSM Parameter Store (the secrets)",
        # No dual-stack endpoint is documented for Systems Manager (its endpoints page lists
        # ssm.<region>.amazonaws.com only), and IPv6-only hosts are reported to time out on it
        # ("SSM, EC2 Messages, and SSM Messages currently require IPv4", OperationCode/operationcode_infra
        # IPv6_MIGRATION_NOTES.md, 2025).
        _nowhere,
        "no dual-stack endpoint in the AWS General Reference's Systems Manager endpoints",
    ),
    # Secrets Manager: not needed -- a secret here is always an SSM parameter name (config.py,
    # check_ssm_name refuses ARNs), so the tasks never call secretsmanager.
}


DUAL_STACK["ssmmessages"] = (
    "SSM messages (ECS Exec)",
    # as ssm: the Systems Manager endpoints page lists no dual-stack name for ssmmessages, and the
    # same migration notes report it IPv4-only
    _nowhere,
    "no dual-stack endpoint in the AWS General Reference's Systems Manager endpoints",
)


def _exec(ctx: Context) -> bool:
    cfg = ctx.config
    return bool(cfg.service.exec or any(getattr(w, "exec", False) for w in (*cfg.workers, *cfg.jobs)))


def ipv6_blockers(ctx: Context) -> list[str]:
    """The services the tasks need that have no IPv6 endpoint in the stack's region."""
    needed = ["ecr", "s3", "logs"] + (["ssm"] if ctx.config.all_secrets else [])
    needed += ["ssmmessages"] if _exec(ctx) else []
    partition = _partition(ctx)
    return [DUAL_STACK[s][0] for s in needed if not DUAL_STACK[s][1](partition)]


def check_ipv6_egress(ctx: Context) -> None:
    """'ipv6' egress where an AWS endpoint the tasks need has no IPv6: refused before any change."""
    if ctx.config.network.egress != "ipv6":
        return
    blockers = ipv6_blockers(ctx)
    if blockers:
        raise ConfigError(
            [
                (
                    "network.egress",
                    f'"ipv6" leaves the tasks without IPv4, but {", ".join(blockers)} '
                    f"{'has' if len(blockers) == 1 else 'have'} no IPv6 endpoint in {ctx.region}: "
                    'choose "nat" or "endpoints"',
                )
            ]
        )


def _images(ctx: Context) -> list[tuple[str, str]]:
    """(key, image) of every image the stack's tasks pull: the web service's ([service] build: the
    app's own ECR repository, always in the region's private ECR), each worker's and job's own."""
    cfg = ctx.config
    out: list[tuple[str, str]] = []
    if not getattr(cfg.service, "build", "") and cfg.service.image:
        out.append(("service.image", cfg.service.image))
    for kind, workloads in (("workers", cfg.workers), ("jobs", cfg.jobs)):
        for w in workloads:
            if w.image:
                out.append((f"{kind}.{w.name}.image", w.image))
    return out


def _regional_ecr(ctx: Context, image: str) -> bool:
    """An image in a private ECR registry of the stack's region (any account's): what the ECR
    interface endpoints (ecr.api, ecr.dkr, and S3 for the layers) reach."""
    host = image.split("/", 1)[0] if "/" in image else ""
    return bool(re.fullmatch(rf"\d{{12}}\.dkr\.ecr\.{re.escape(ctx.region)}\.amazonaws\.com(\.cn)?", host))


def check_endpoints_egress(ctx: Context) -> None:
    """'endpoints' egress leaves the tasks no way to the internet: an image from any other registry
    (public.ecr.aws, Docker Hub, another region's ECR) cannot be pulled -- refused before any change."""
    if ctx.config.network.egress != "endpoints":
        return
    for key, image in _images(ctx):
        if not _regional_ecr(ctx, image):
            raise ConfigError(
                [
                    (
                        key,
                        f'{image} is not in the private ECR of {ctx.region}, and network.egress = "endpoints" '
                        'reaches AWS only: push it there (or use [service] build), or choose egress "nat" to '
                        "reach other registries",
                    )
                ]
            )


def _dual_stack_ecr(ctx: Context, image: str) -> bool:
    host = image.split("/", 1)[0] if "/" in image else ""
    return bool(re.fullmatch(rf"\d{{12}}\.dkr-ecr\.{re.escape(ctx.region)}\.on\.aws", host))


def check_ipv6_images(ctx: Context) -> None:
    """'ipv6' egress: an IPv6-only task pulls from ECR only through its dual-stack image URI (ECS
    Developer Guide, IPv6-only task networking: "must use the Amazon ECR dual-stack image URI
    endpoint"; ECR User Guide, "Making requests to Amazon ECR registries": from an IPv6 network use
    a dual-stack endpoint, <account>.dkr-ecr.<region>.on.aws). ecsup does not rewrite the name for
    the user (the docs found do not say ECS resolves it for a pull by the task execution role the
    same way), so any other name is refused before any change, naming the one to use."""
    if ctx.config.network.egress != "ipv6":
        return
    if getattr(ctx.config.service, "build", ""):
        raise ConfigError(
            [
                (
                    "service.build",
                    f'network.egress = "ipv6": the built image is pushed to ECR\'s IPv4-only name '
                    f"{ctx.account_id}.dkr.ecr.{ctx.region}.amazonaws.com, which tasks without IPv4 cannot pull: "
                    'choose egress "nat" or "endpoints"',
                )
            ]
        )
    for key, image in _images(ctx):
        if _dual_stack_ecr(ctx, image):
            continue
        if _regional_ecr(ctx, image):
            account, path = image.split(".", 1)[0], image.split("/", 1)[1]
            what = f"name it by ECR's dual-stack name {account}.dkr-ecr.{ctx.region}.on.aws/{path}"
        else:
            what = f"push it to ECR and name it <account>.dkr-ecr.{ctx.region}.on.aws/..."
        raise ConfigError(
            [
                (
                    key,
                    f'network.egress = "ipv6" leaves the tasks without IPv4 and {image} is not named by ECR\'s '
                    f'dual-stack name: {what}, or choose egress "nat" or "endpoints"',
                )
            ]
        )


def interface_endpoints(ctx: Context) -> list[str]:
    """The interface endpoints a Fargate task in a subnet with no way out needs (ECS Developer
    Guide, "Amazon ECS interface VPC endpoints": ECR's two, CloudWatch Logs for awslogs, SSM for
    secrets from Parameter Store, SSM messages for ECS Exec); S3 is the gateway endpoint beside."""
    cfg = ctx.config
    names = ["ecr.api", "ecr.dkr", "logs"]
    if cfg.all_secrets:
        names.append("ssm")
    if cfg.service.exec or any(getattr(w, "exec", False) for w in cfg.workers):
        names.append("ssmmessages")
    return names


# Prices (USD, us-east-1, late 2025; other regions cost somewhat more): VPC pricing page.
NAT_HOUR = 0.045
NAT_GB = 0.045
ENDPOINT_HOUR = 0.01  # an interface endpoint, per availability zone
PUBLIC_IPV4_HOUR = 0.005
HOURS = 730


# -- observing -----------------------------------------------------------------------------------
@dataclass
class Egress:
    """What the egress layouts made in one VPC (found by their tags)."""

    vpc: dict[str, Any]
    subnets: list[dict[str, Any]] = field(default_factory=list)  # every subnet of the VPC
    private: dict[str, dict[str, Any]] = field(default_factory=dict)  # by zone
    table: dict[str, Any] | None = None
    nats: list[dict[str, Any]] = field(default_factory=list)  # pending or available
    deleting_nats: list[dict[str, Any]] = field(default_factory=list)  # deleted by a run that then stopped
    addresses: list[dict[str, Any]] = field(default_factory=list)
    eigws: list[dict[str, Any]] = field(default_factory=list)
    endpoints: list[dict[str, Any]] = field(default_factory=list)  # not deleted
    group: dict[str, Any] | None = None


def _name(ctx: Context) -> str:
    return ctx.config.network.shared


def _tags(ctx: Context, part: str, name: str) -> list[dict[str, str]]:
    tags = {**network_tags(_name(ctx)), TAG_EGRESS: part, "Name": name}
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _spec(ctx: Context, resource_type: str, part: str, name: str) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": _tags(ctx, part, name)}]


def _mine(ctx: Context, part: str | None = None) -> list[dict[str, Any]]:
    filters = [{"Name": f"tag:{TAG_NETWORK}", "Values": [_name(ctx)]}]
    filters.append(
        {"Name": f"tag:{TAG_EGRESS}", "Values": [part]} if part else {"Name": "tag-key", "Values": [TAG_EGRESS]}
    )
    return filters


def _pages(ctx: Context, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in ctx.client("ec2").get_paginator(operation).paginate(**kwargs):
        out.extend(page.get(key, []))
    return out


def _zone_of(name: str) -> str:
    return name.rsplit("-private-", 1)[-1]


def observe(ctx: Context, vpc_id: str) -> Egress:
    ec2 = ctx.client("ec2")
    in_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    with doing(f"look up the egress of {network_resource(_name(ctx))} ({vpc_id})"):
        vpcs = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
        found = Egress(vpc=vpcs[0] if vpcs else {"VpcId": vpc_id})
        found.subnets = _pages(ctx, "describe_subnets", "Subnets", Filters=in_vpc)
        for subnet in found.subnets:
            tags = tag_dict(subnet.get("Tags"))
            if tags.get(TAG_NETWORK) == _name(ctx) and tags.get(TAG_EGRESS) == PRIVATE_SUBNET:
                found.private.setdefault(subnet["AvailabilityZone"], subnet)
        tables = _pages(ctx, "describe_route_tables", "RouteTables", Filters=in_vpc + _mine(ctx, PRIVATE_ROUTES))
        found.table = tables[0] if tables else None
        nats = _pages(ctx, "describe_nat_gateways", "NatGateways", Filter=in_vpc + _mine(ctx, NAT))
        found.nats = [n for n in nats if n.get("State") in ("pending", "available")]
        found.deleting_nats = [n for n in nats if n.get("State") == "deleting"]
        found.addresses = list(ec2.describe_addresses(Filters=_mine(ctx, NAT))["Addresses"])
        found.eigws = [
            g
            for g in _pages(
                ctx, "describe_egress_only_internet_gateways", "EgressOnlyInternetGateways", Filters=_mine(ctx, EIGW)
            )
            if any(a.get("VpcId") == vpc_id for a in g.get("Attachments", []))
        ]
        found.endpoints = [
            e
            for e in _pages(ctx, "describe_vpc_endpoints", "VpcEndpoints", Filters=in_vpc + _mine(ctx, ENDPOINT))
            if str(e.get("State", "")).lower() not in ("deleted", "deleting", "failed", "rejected", "expired")
        ]
        groups = _pages(
            ctx,
            "describe_security_groups",
            "SecurityGroups",
            Filters=[*in_vpc, {"Name": "group-name", "Values": [network_resource(_name(ctx), "endpoints")]}],
        )
        found.group = groups[0] if groups else None
    return found


def _public_subnets(ctx: Context, vpc_id: str) -> list[dict[str, Any]]:
    """The network's public subnets (steps/vpc.py names them ecsup-net-<name>-public-<zone>)."""
    subnets = _pages(
        ctx,
        "describe_subnets",
        "Subnets",
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": f"tag:{TAG_NETWORK}", "Values": [_name(ctx)]},
            {"Name": "tag:Name", "Values": [network_resource(_name(ctx), "public-*")]},
        ],
    )
    return sorted(subnets, key=lambda s: s["AvailabilityZone"])


def _zones(public_subnets: list[dict[str, Any]]) -> list[str]:
    return sorted({s["AvailabilityZone"] for s in public_subnets})


def _ipv6_block(vpc: dict[str, Any]) -> str:
    for assoc in vpc.get("Ipv6CidrBlockAssociationSet", []):
        if assoc.get("Ipv6CidrBlockState", {}).get("State") == "associated":
            return str(assoc["Ipv6CidrBlock"])
    return ""


def _subnet_ipv6(subnet: dict[str, Any]) -> bool:
    return any(
        a.get("Ipv6CidrBlockState", {}).get("State") in ("associated", "associating")
        for a in subnet.get("Ipv6CidrBlockAssociationSet", [])
    )


def _free(block: str, taken: list[str], prefix: int) -> list[str]:
    """The blocks of /prefix in ``block`` that overlap none taken, in order."""
    used = [ipaddress.ip_network(t) for t in taken]
    return [
        str(net)
        for net in ipaddress.ip_network(block).subnets(new_prefix=prefix)
        if not any(net.overlaps(u) for u in used)
    ]


# -- planning ------------------------------------------------------------------------------------
def plan_egress(ctx: Context, vpc: dict[str, Any] | None, public_subnets: list[dict[str, Any]]) -> list[Action]:
    """What ``ctx.config.network.egress`` needs that the network lacks (read calls only); with the
    VPC not made yet (None), all of it. Each action's run makes its part (idempotently, reading the
    VPC id from ctx.facts["vpc_id"] when it runs); ``ensure_egress`` makes them all at once."""
    net = ctx.config.network
    check_ipv6_egress(ctx)
    check_ipv6_images(ctx)
    check_endpoints_egress(ctx)
    if net.egress == "public":
        return []
    name = _name(ctx)
    found = observe(ctx, vpc["VpcId"]) if vpc else None
    zones = _zones(public_subnets) if public_subnets else []
    # the zones the network will have (steps/vpc.py makes a public subnet in each of fargate_zones)
    future = zones or [str(z["ZoneName"]) for z in _fargate_zones(ctx)]
    actions: list[Action] = []

    def act(
        kind: Kind, resource: str, what: str, detail: str, part: Callable[..., Any], changes: list[Change] | None = None
    ) -> None:
        run = partial(_run_part, ctx, part)
        actions.append(Action(kind, resource, what, detail, changes or [], run=run, reads=("vpc_id",)))

    missing = [z for z in zones if not found or z not in found.private] if zones else []
    for zone in missing or ([] if zones else ["(each zone of the public subnets)"]):
        act(
            "create",
            "subnet",
            network_resource(name, f"private-{zone}"),
            "private, for the tasks" + (", dual-stack" if net.ipv6 else ""),
            _ensure_private_subnets,
        )
    for zone in zones:
        if net.ipv6 and found is not None and zone in found.private and not _subnet_ipv6(found.private[zone]):
            act(
                "update",
                "subnet",
                network_resource(name, f"private-{zone}"),
                "a /64 of the network's IPv6 block, IPv6 addresses for the tasks",
                _ensure_private_subnets,
                [Change("ipv6", "none", KNOWN_AFTER_APPLY)],
            )
    if found is None or found.table is None:
        act(
            "create",
            "route table",
            network_resource(name, "private"),
            "the private subnets'"
            + {"nat": ": 0.0.0.0/0 -> the NAT gateway", "ipv6": ": ::/0 -> egress-only gateway"}.get(
                net.egress, ": no route to the internet"
            ),
            _ensure_route_table,
        )
    if net.egress == "nat":
        first = public_subnets[0]["AvailabilityZone"] if public_subnets else future[0]
        if not found or not found.addresses:
            act("create", "elastic IP", network_resource(name, "nat"), "the NAT gateway's public IPv4", _ensure_nat)
        if not found or not found.nats:
            act("create", "NAT gateway", network_resource(name, "nat"), f"in the public subnet of {first}", _ensure_nat)
            ctx.notes.append(
                f"NAT gateway {network_resource(name, 'nat')}: ${NAT_HOUR} an hour (about ${NAT_HOUR * HOURS:.2f} a "
                f"month) plus ${NAT_GB} per GB it processes (us-east-1; most regions charge a little more), and its "
                f"Elastic IP ${PUBLIC_IPV4_HOUR * HOURS:.2f} a month. It is one gateway in one zone ({first}): if that "
                "zone fails, the tasks in the other zones keep serving but lose their way out (image pulls, logs, "
                "secrets, the internet) until it is back"
            )
    if net.egress == "ipv6":
        if not found or not found.eigws:
            act(
                "create",
                "egress-only internet gateway",
                network_resource(name, "eigw"),
                "::/0 for the tasks",
                _ensure_eigw,
            )
        setting = _dual_stack_setting(ctx)
        if setting != "enabled":
            act(
                "update",
                "ECS account setting",
                "dualStackIPv6",
                "for the IAM identity ecsup runs as, not the account's default: Fargate gives tasks IPv6 addresses "
                "only with it",
                _ensure_dual_stack_setting,
                [Change("value", setting or "disabled", "enabled")],
            )
    if net.egress == "endpoints":
        have = (
            {str(e["ServiceName"]).rsplit(f"{ctx.region}.", 1)[-1] for e in found.endpoints}
            if found is not None
            else set()
        )
        if found is None or found.group is None:
            act(
                "create",
                "security group",
                network_resource(name, "endpoints"),
                "the VPC endpoints': 443 from the VPC",
                _ensure_endpoint_group,
            )
        for service in [*interface_endpoints(ctx), "s3"]:
            if service not in have:
                act(
                    "create",
                    "VPC endpoint",
                    network_resource(name, service),
                    f"com.amazonaws.{ctx.region}.{service} ("
                    + ("gateway, on the private route table" if service == "s3" else "interface, private DNS")
                    + ")",
                    _ensure_endpoints,
                )
        count = len(interface_endpoints(ctx)) * len(future)
        if any(a.resource == "VPC endpoint" for a in actions):
            ctx.notes.append(
                f"VPC endpoints: {len(interface_endpoints(ctx))} interface endpoints in {len(future)} zones "
                f"bill ${ENDPOINT_HOUR} an hour each per zone (about ${count * ENDPOINT_HOUR * HOURS:.2f} a month) "
                "plus $0.01 per GB (us-east-1); the S3 gateway endpoint is free. The tasks reach AWS only: the "
                "internet is out of reach"
            )
    if vpc and public_subnets and found is not None and not found.private:
        ctx.notes.append(
            f'network.egress = "{net.egress}" on a live network: a stack already running there moves its tasks from '
            "the public subnets to the new private ones with a new deployment (as any network change of the service: "
            "the old tasks serve until the new ones are healthy, so nothing is interrupted); their public IPv4s go"
        )
    return actions


def _fargate_zones(ctx: Context) -> list[dict[str, Any]]:
    from .vpc import fargate_zones  # vpc.py imports this module

    return fargate_zones(ctx)


def planned_task_subnets(ctx: Context, vpc_id: str | None, public_subnets: list[dict[str, Any]]) -> list[str] | None:
    """The tasks' subnet ids as ``ensure_egress`` will return them, for planning (read calls only): the
    public ones for "public", the private ones when each zone has its own already, else None (known
    after apply: the service's plan then shows its network change with the new subnets to come)."""
    if ctx.config.network.egress == "public":
        return sorted(s["SubnetId"] for s in public_subnets)
    if not vpc_id or not public_subnets:
        return None
    found = observe(ctx, vpc_id)
    zones = _zones(public_subnets)
    if any(z not in found.private for z in zones):
        return None
    return sorted(found.private[z]["SubnetId"] for z in zones)


def _run_part(ctx: Context, part: Callable[..., Any]) -> str:
    vpc_id = ctx.facts["vpc_id"]
    part(ctx, vpc_id, _public_subnets(ctx, vpc_id))
    return "ok"


# -- making ----------------------------------------------------------------------------------------
def ensure_egress(ctx: Context, vpc_id: str, public_subnets: list[dict[str, Any]]) -> list[str]:
    """Make what ``ctx.config.network.egress`` needs and the network lacks (idempotent: each part
    looks first, then makes only what is missing), tagged with the network's tags; return the
    tasks' subnet ids (the public ones for "public")."""
    net = ctx.config.network
    check_ipv6_egress(ctx)
    check_ipv6_images(ctx)
    check_endpoints_egress(ctx)
    if net.egress == "public":
        return sorted(s["SubnetId"] for s in public_subnets)
    found = observe(ctx, vpc_id)  # once: each part below keeps it up to date with what it makes
    private = _ensure_private_subnets(ctx, vpc_id, public_subnets, found)
    _ensure_route_table(ctx, vpc_id, public_subnets, found)
    if net.egress == "nat":
        _ensure_nat(ctx, vpc_id, public_subnets, found)
    elif net.egress == "ipv6":
        _ensure_dual_stack_setting(ctx, vpc_id, public_subnets)
        _ensure_eigw(ctx, vpc_id, public_subnets, found)
    elif net.egress == "endpoints":
        _ensure_endpoint_group(ctx, vpc_id, public_subnets, found)
        _ensure_endpoints(ctx, vpc_id, public_subnets, found)
    return sorted(private)


def _ensure_private_subnets(
    ctx: Context, vpc_id: str, public_subnets: list[dict[str, Any]], found: Egress | None = None
) -> list[str]:
    """One private subnet in each zone of the public ones, of their size, in free space of the VPC's
    CIDR (and a free /64 of its IPv6 block, with IPv6 addresses given on creation, on a dual-stack VPC)."""
    ec2 = ctx.client("ec2")
    found = found or observe(ctx, vpc_id)
    ipv6 = _ipv6_block(found.vpc)
    prefix = ipaddress.ip_network(public_subnets[0]["CidrBlock"]).prefixlen if public_subnets else 20
    for zone in _zones(public_subnets):
        subnet = found.private.get(zone)
        if subnet is None:
            taken = [s["CidrBlock"] for s in found.subnets]
            free = _free(found.vpc["CidrBlock"], taken, prefix)
            if not free:
                raise AwsError(
                    f"VPC {vpc_id} ({found.vpc['CidrBlock']}) has no free /{prefix} left for a private subnet "
                    f"in {zone}",
                    hint="give the network a larger network.cidr",
                )
            kwargs: dict[str, Any] = {"CidrBlock": free[0]}
            if ipv6:
                taken6 = [a["Ipv6CidrBlock"] for s in found.subnets for a in s.get("Ipv6CidrBlockAssociationSet", [])]
                kwargs["Ipv6CidrBlock"] = _free(ipv6, taken6, 64)[0]
            name = network_resource(_name(ctx), f"private-{zone}")
            with doing(f"create subnet {name}"):
                subnet = ec2.create_subnet(
                    VpcId=vpc_id,
                    AvailabilityZone=zone,
                    TagSpecifications=_spec(ctx, "subnet", PRIVATE_SUBNET, name),
                    **kwargs,
                )["Subnet"]
            found.subnets.append(subnet)
            found.private[zone] = subnet
        if ipv6 and not _subnet_ipv6(subnet):
            # made before the network had IPv6 ([network] ipv6 turned on later): a free /64 of the
            # VPC's block, as a new one gets (a dual-stack load balancer in these subnets needs it)
            taken6 = [
                a["Ipv6CidrBlock"]
                for s in found.subnets
                for a in s.get("Ipv6CidrBlockAssociationSet", [])
                if a.get("Ipv6CidrBlockState", {}).get("State") not in ("disassociated", "failed")
            ]
            with doing(f"give subnet {subnet['SubnetId']} an IPv6 block"):
                assoc = ec2.associate_subnet_cidr_block(
                    SubnetId=subnet["SubnetId"], Ipv6CidrBlock=_free(ipv6, taken6, 64)[0]
                )["Ipv6CidrBlockAssociation"]
            subnet.setdefault("Ipv6CidrBlockAssociationSet", []).append(assoc)
        if subnet.get("Ipv6CidrBlockAssociationSet") and not subnet.get("AssignIpv6AddressOnCreation"):
            with doing(f"give the tasks in {subnet['SubnetId']} IPv6 addresses"):
                ec2.modify_subnet_attribute(SubnetId=subnet["SubnetId"], AssignIpv6AddressOnCreation={"Value": True})
    return [found.private[z]["SubnetId"] for z in _zones(public_subnets) if z in found.private]


def _ensure_route_table(
    ctx: Context, vpc_id: str, public_subnets: list[dict[str, Any]], found: Egress | None = None
) -> str:
    """The private subnets' route table, associated with each of them."""
    ec2 = ctx.client("ec2")
    found = found or observe(ctx, vpc_id)
    table = found.table
    if table is None:
        name = network_resource(_name(ctx), "private")
        with doing(f"create route table {name}"):
            table = ec2.create_route_table(
                VpcId=vpc_id, TagSpecifications=_spec(ctx, "route-table", PRIVATE_ROUTES, name)
            )["RouteTable"]
        found.table = table
    associations = table.setdefault("Associations", [])
    for subnet in found.private.values():
        if subnet["SubnetId"] not in {a.get("SubnetId") for a in associations}:
            with doing(f"associate {subnet['SubnetId']} with route table {table['RouteTableId']}"):
                assoc = ec2.associate_route_table(RouteTableId=table["RouteTableId"], SubnetId=subnet["SubnetId"])
            associations.append({"SubnetId": subnet["SubnetId"], "RouteTableAssociationId": assoc["AssociationId"]})
    return str(table["RouteTableId"])


def _ensure_route(ctx: Context, table_id: str, destination: str, target: dict[str, str]) -> None:
    """``destination`` -> ``target`` in the table: created, or replaced where it goes elsewhere (a
    NAT gateway deleted meanwhile leaves a blackhole)."""
    ec2 = ctx.client("ec2")
    key = "DestinationIpv6CidrBlock" if ":" in destination else "DestinationCidrBlock"
    (attr, value) = next(iter(target.items()))
    tables = ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"]
    route = next((r for r in (tables[0].get("Routes", []) if tables else []) if r.get(key) == destination), None)
    if route is not None and route.get(attr) == value and route.get("State") != "blackhole":
        return
    with doing(f"route {destination} to {value} in {table_id}"):
        if route is None:
            ec2.create_route(RouteTableId=table_id, **{key: destination}, **target)
        else:
            ec2.replace_route(RouteTableId=table_id, **{key: destination}, **target)


def _ensure_nat(ctx: Context, vpc_id: str, public_subnets: list[dict[str, Any]], found: Egress | None = None) -> str:
    """An Elastic IP, a NAT gateway with it in the first public subnet (waited for until available:
    a route to a gateway that then fails leads nowhere), and 0.0.0.0/0 to it on the private table."""
    ec2 = ctx.client("ec2")
    found = found or observe(ctx, vpc_id)
    name = network_resource(_name(ctx), "nat")
    if found.nats:
        nat = found.nats[0]
    else:
        if found.addresses:
            allocation = found.addresses[0]["AllocationId"]
        else:
            with doing(f"allocate Elastic IP {name}"):
                allocation = ec2.allocate_address(Domain="vpc", TagSpecifications=_spec(ctx, "elastic-ip", NAT, name))[
                    "AllocationId"
                ]
            found.addresses.append({"AllocationId": allocation})
        if not public_subnets:
            raise AwsError(f"the network {network_resource(_name(ctx))} has no public subnet for its NAT gateway")
        with doing(f"create NAT gateway {name}"):
            nat = ec2.create_nat_gateway(
                SubnetId=public_subnets[0]["SubnetId"],
                AllocationId=allocation,
                ConnectivityType="public",
                TagSpecifications=_spec(ctx, "natgateway", NAT, name),
            )["NatGateway"]
        found.nats.append(nat)
    nat_id = str(nat["NatGatewayId"])
    if nat.get("State") != "available":

        def check() -> tuple[bool, str]:
            gateway = ec2.describe_nat_gateways(NatGatewayIds=[nat_id])["NatGateways"][0]
            state = str(gateway.get("State"))
            if state == "failed":
                raise AwsError(
                    f"NAT gateway {nat_id} failed: {gateway.get('FailureMessage', '')}",
                    code=gateway.get("FailureCode"),
                    hint="run the command again: a failed NAT gateway is replaced",
                )
            return state == "available", state

        waiting.poll(
            ctx, f"NAT gateway {nat_id} to be available", check, ctx.timeouts.load_balancer, first=5.0, cap=15.0
        )
        nat["State"] = "available"
    table = _ensure_route_table(ctx, vpc_id, public_subnets, found)
    _ensure_route(ctx, table, "0.0.0.0/0", {"NatGatewayId": nat_id})
    return nat_id


def _dual_stack_setting(ctx: Context) -> str:
    """ECS's dualStackIPv6 as it applies to the identity ecsup runs as (its own, else the account's
    default): ListAccountSettings with effectiveSettings."""
    with doing("read ECS's dualStackIPv6 account setting"):
        pages = (
            ctx.client("ecs")
            .get_paginator("list_account_settings")
            .paginate(name="dualStackIPv6", effectiveSettings=True)
        )
        for page in pages:
            for setting in page.get("settings", []):
                return str(setting.get("value", ""))
    return ""


def _ensure_dual_stack_setting(
    ctx: Context, vpc_id: str = "", public_subnets: list[dict[str, Any]] | None = None
) -> None:
    """Fargate gives a task an IPv6 address in a dual-stack subnet only when dualStackIPv6 is on for
    the identity that launches it (ECS Developer Guide, "Access Amazon ECS features through account
    settings"). PutAccountSetting turns it on for that identity alone -- the one ecsup creates and
    updates the service with -- never the account's default (PutAccountSettingDefault), which would
    change every other principal's tasks too."""
    if _dual_stack_setting(ctx) == "enabled":
        return
    with doing("turn on ECS's dualStackIPv6 account setting for this identity"):
        ctx.client("ecs").put_account_setting(name="dualStackIPv6", value="enabled")


def _ensure_eigw(ctx: Context, vpc_id: str, public_subnets: list[dict[str, Any]], found: Egress | None = None) -> str:
    ec2 = ctx.client("ec2")
    found = found or observe(ctx, vpc_id)
    if found.eigws:
        gid = str(found.eigws[0]["EgressOnlyInternetGatewayId"])
    else:
        name = network_resource(_name(ctx), "eigw")
        with doing(f"create egress-only internet gateway {name}"):
            gid = ec2.create_egress_only_internet_gateway(
                VpcId=vpc_id, TagSpecifications=_spec(ctx, "egress-only-internet-gateway", EIGW, name)
            )["EgressOnlyInternetGateway"]["EgressOnlyInternetGatewayId"]
        found.eigws.append({"EgressOnlyInternetGatewayId": gid})
    table = _ensure_route_table(ctx, vpc_id, public_subnets, found)
    _ensure_route(ctx, table, "::/0", {"EgressOnlyInternetGatewayId": gid})
    return gid


def _ensure_endpoint_group(
    ctx: Context, vpc_id: str, public_subnets: list[dict[str, Any]], found: Egress | None = None
) -> str:
    """The interface endpoints' security group: HTTPS from the VPC (its IPv4 block, and IPv6 one)."""
    ec2 = ctx.client("ec2")
    found = found or observe(ctx, vpc_id)
    name = network_resource(_name(ctx), "endpoints")
    group = found.group
    if group is None:
        with doing(f"create security group {name}"):
            try:
                gid = ec2.create_security_group(
                    GroupName=name,
                    Description=f"ecsup network {_name(ctx)}: the VPC endpoints (HTTPS from the VPC)",
                    VpcId=vpc_id,
                    TagSpecifications=_spec(ctx, "security-group", ENDPOINT_GROUP, name),
                )["GroupId"]
            except Exception as exc:
                if not is_code(exc, "InvalidGroup.Duplicate"):
                    raise
                again = observe(ctx, vpc_id).group
                if again is None:
                    raise
                gid = again["GroupId"]
        group = waiting.retry(
            ctx,
            f"security group {gid} to be visible",
            lambda: ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0],
            lambda e: is_code(e, "InvalidGroup.NotFound"),
            ctx.timeouts.propagation,
        )
    gid = str(group["GroupId"])
    have = {
        r.get("CidrIp") or r.get("CidrIpv6")
        for p in group.get("IpPermissions", [])
        if p.get("FromPort") == 443
        for r in [*p.get("IpRanges", []), *p.get("Ipv6Ranges", [])]
    }
    perms: list[dict[str, Any]] = []
    cidr, cidr6 = found.vpc.get("CidrBlock", ""), _ipv6_block(found.vpc)
    if cidr and cidr not in have:
        perms.append({"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": cidr}]})
    if cidr6 and cidr6 not in have:
        perms.append({"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "Ipv6Ranges": [{"CidrIpv6": cidr6}]})
    if perms:
        with doing(f"admit HTTPS from the VPC in {gid}"):
            ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=perms)
        group.setdefault("IpPermissions", []).extend(perms)
    found.group = group
    return gid


def _ensure_endpoints(
    ctx: Context, vpc_id: str, public_subnets: list[dict[str, Any]], found: Egress | None = None
) -> list[str]:
    """The interface endpoints (private DNS: the tasks' usual AWS hostnames resolve to them, which
    needs the VPC's DNS support and DNS hostnames) and the S3 gateway endpoint on the private table;
    waited for until available (tasks started before cannot pull their image)."""
    ec2 = ctx.client("ec2")
    found = found or observe(ctx, vpc_id)
    group = _ensure_endpoint_group(ctx, vpc_id, public_subnets, found)
    table = _ensure_route_table(ctx, vpc_id, public_subnets, found)
    for attribute in ("enableDnsSupport", "enableDnsHostnames"):
        key = attribute[0].upper() + attribute[1:]
        value = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=attribute)[key]["Value"]
        if not value:
            with doing(f"turn on {attribute} of {vpc_id} (private DNS of the VPC endpoints needs it)"):
                ec2.modify_vpc_attribute(VpcId=vpc_id, **{key: {"Value": True}})
    subnets = [s["SubnetId"] for _, s in sorted(found.private.items())]
    have = {str(e["ServiceName"]): e for e in found.endpoints}
    ids: list[str] = []
    states: dict[str, str] = {}
    for service in [*interface_endpoints(ctx), "s3"]:
        service_name = f"com.amazonaws.{ctx.region}.{service}"
        endpoint = have.get(service_name)
        if endpoint is None:
            name = network_resource(_name(ctx), service)
            kwargs: dict[str, Any] = (
                {"VpcEndpointType": "Gateway", "RouteTableIds": [table]}
                if service == "s3"
                else {
                    "VpcEndpointType": "Interface",
                    "SubnetIds": subnets,
                    "SecurityGroupIds": [group],
                    "PrivateDnsEnabled": True,
                }
            )
            with doing(f"create VPC endpoint {name} ({service_name})"):
                endpoint = ec2.create_vpc_endpoint(
                    VpcId=vpc_id,
                    ServiceName=service_name,
                    TagSpecifications=_spec(ctx, "vpc-endpoint", ENDPOINT, name),
                    **kwargs,
                )["VpcEndpoint"]
        elif service != "s3" and set(subnets) - set(endpoint.get("SubnetIds", [])):
            added = sorted(set(subnets) - set(endpoint.get("SubnetIds", [])))
            with doing(f"add {', '.join(added)} to VPC endpoint {endpoint['VpcEndpointId']}"):
                ec2.modify_vpc_endpoint(VpcEndpointId=endpoint["VpcEndpointId"], AddSubnetIds=added)
        ids.append(str(endpoint["VpcEndpointId"]))
        states[ids[-1]] = str(endpoint.get("State", "")).lower()
    if any(state != "available" for state in states.values()):

        def check() -> tuple[bool, str]:
            states = {
                e["VpcEndpointId"]: str(e.get("State", "")).lower()
                for e in ec2.describe_vpc_endpoints(VpcEndpointIds=ids)["VpcEndpoints"]
            }
            failed = [i for i, s in states.items() if s in ("failed", "rejected")]
            if failed:
                raise AwsError(f"VPC endpoint {', '.join(failed)} failed", hint="run the command again")
            waiting_for = sorted(i for i, s in states.items() if s != "available")
            return not waiting_for, ", ".join(f"{i}: {states[i]}" for i in waiting_for) or "available"

        waiting.poll(ctx, "the VPC endpoints to be available", check, ctx.timeouts.load_balancer, first=5.0, cap=15.0)
    return ids


# -- deleting ------------------------------------------------------------------------------------
def plan_delete_egress(ctx: Context, vpc_id: str) -> list[Action]:
    """Everything the egress layouts made in the VPC, as deletions in AWS's order: the endpoints
    (waited for until gone), the NAT gateway (waited for until deleted) then its Elastic IP, the
    egress-only gateway, the private route table, the endpoints' group, the private subnets."""
    found = observe(ctx, vpc_id)
    name = _name(ctx)
    actions: list[Action] = []
    endpoint_refs: list[str] = []
    for e in found.endpoints:
        label = tag_dict(e.get("Tags")).get("Name", e["VpcEndpointId"])
        actions.append(
            Action(
                "delete",
                "VPC endpoint",
                label,
                e["VpcEndpointId"],
                run=partial(_delete_endpoint, ctx, e["VpcEndpointId"]),
            )
        )
        endpoint_refs.append(actions[-1].ref)
    nat_refs: list[str] = []
    for n in [*found.nats, *found.deleting_nats]:  # one being deleted: waited for until deleted
        actions.append(
            Action(
                "delete",
                "NAT gateway",
                network_resource(name, "nat"),
                n["NatGatewayId"],
                run=partial(_delete_nat, ctx, n),
            )
        )
        nat_refs.append(actions[-1].ref)
    for a in found.addresses:
        actions.append(
            Action(
                "delete",
                "elastic IP",
                network_resource(name, "nat"),
                a["AllocationId"],
                run=partial(_release_address, ctx, a["AllocationId"]),
                after=tuple(nat_refs),
            )
        )
    for g in found.eigws:
        gid = g["EgressOnlyInternetGatewayId"]
        actions.append(
            Action(
                "delete",
                "egress-only internet gateway",
                network_resource(name, "eigw"),
                gid,
                run=partial(_delete_eigw, ctx, gid),
            )
        )
    table_refs: list[str] = []
    if found.table is not None:
        actions.append(
            Action(
                "delete",
                "route table",
                network_resource(name, "private"),
                found.table["RouteTableId"],
                run=partial(_delete_route_table, ctx, found.table),
                after=tuple(endpoint_refs + nat_refs),
            )
        )
        table_refs.append(actions[-1].ref)
    if found.group is not None:
        actions.append(
            Action(
                "delete",
                "security group",
                network_resource(name, "endpoints"),
                found.group["GroupId"],
                run=partial(_delete_group, ctx, found.group["GroupId"]),
                after=tuple(endpoint_refs),
            )
        )
    for zone, s in sorted(found.private.items()):
        actions.append(
            Action(
                "delete",
                "subnet",
                network_resource(name, f"private-{zone}"),
                s["SubnetId"],
                run=partial(_delete_subnet, ctx, s["SubnetId"]),
                after=tuple(endpoint_refs + table_refs),
            )
        )
    return actions


def delete_egress(ctx: Context, vpc_id: str) -> None:
    """Delete everything the egress layouts made in the VPC, in AWS's order, waiting where AWS needs
    it (safe to run again after a crash: each deletion tolerates what is already gone). The
    endpoints are all deleted first and waited for together (one bound, not one per endpoint: the
    network's lock is held meanwhile)."""
    actions = plan_delete_egress(ctx, vpc_id)
    endpoints = [a.detail for a in actions if a.resource == "VPC endpoint"]
    for endpoint_id in endpoints:
        _start_delete_endpoint(ctx, endpoint_id)
    # and those an earlier run (that died) left being deleted: their interfaces hold the subnets
    deleting = _pages(
        ctx,
        "describe_vpc_endpoints",
        "VpcEndpoints",
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "vpc-endpoint-state", "Values": ["deleting"]},
            *_mine(ctx, ENDPOINT),
        ],
    )
    endpoints += [e["VpcEndpointId"] for e in deleting if e["VpcEndpointId"] not in endpoints]
    if endpoints:
        _wait_endpoints_gone(ctx, endpoints)
    for action in actions:
        if action.resource != "VPC endpoint":
            assert action.run is not None
            action.run()


def _gone(exc: BaseException, *codes: str) -> bool:
    return is_code(exc, *codes)


def _delete_endpoint(ctx: Context, endpoint_id: str) -> str:
    if not _start_delete_endpoint(ctx, endpoint_id):
        return "deleted"
    return _wait_endpoints_gone(ctx, [endpoint_id])


def _start_delete_endpoint(ctx: Context, endpoint_id: str) -> bool:
    """DeleteVpcEndpoints for one endpoint; False: it was gone already."""
    ec2 = ctx.client("ec2")
    with doing(f"delete VPC endpoint {endpoint_id}"):
        try:
            answer = ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id])
        except Exception as exc:
            if not _gone(exc, "InvalidVpcEndpointId.NotFound"):
                raise
            return False
        for failure in answer.get("Unsuccessful", []):
            code = failure.get("Error", {}).get("Code", "")
            if code != "InvalidVpcEndpointId.NotFound":
                raise AwsError(f"VPC endpoint {endpoint_id} was not deleted: {failure.get('Error', {})}", code=code)
    return True


def _wait_endpoints_gone(ctx: Context, endpoint_ids: list[str]) -> str:
    """Until every endpoint is deleted, in one wait bounded by ctx.timeouts.release."""
    ec2 = ctx.client("ec2")
    left = list(endpoint_ids)

    def state_of(endpoint_id: str) -> str:
        try:
            found = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"]
        except Exception as exc:
            if _gone(exc, "InvalidVpcEndpointId.NotFound"):
                return "deleted"
            raise
        return str(found[0].get("State", "deleted")).lower() if found else "deleted"

    def check() -> tuple[bool, str]:
        states = {e: state_of(e) for e in left}
        left[:] = [e for e, state in states.items() if state != "deleted"]
        return not left, ", ".join(f"{e} {states[e]}" for e in left) or "deleted"

    what = f"VPC endpoint {endpoint_ids[0]}" if len(endpoint_ids) == 1 else f"{len(endpoint_ids)} VPC endpoints"
    return waiting.poll(ctx, f"{what} to be deleted", check, ctx.timeouts.release, first=2.0, cap=10.0)


def _delete_nat(ctx: Context, nat: dict[str, Any]) -> str:
    ec2 = ctx.client("ec2")
    nat_id = nat["NatGatewayId"]
    if nat.get("State") != "deleting":
        with doing(f"delete NAT gateway {nat_id}"):
            try:
                ec2.delete_nat_gateway(NatGatewayId=nat_id)
            except Exception as exc:
                if not _gone(exc, "NatGatewayNotFound", "InvalidNatGatewayID.NotFound"):
                    raise

    def check() -> tuple[bool, str]:
        try:
            found = ec2.describe_nat_gateways(NatGatewayIds=[nat_id])["NatGateways"]
        except Exception as exc:
            if _gone(exc, "NatGatewayNotFound", "InvalidNatGatewayID.NotFound"):
                return True, "deleted"
            raise
        state = str(found[0].get("State")) if found else "deleted"
        return state == "deleted", state

    # "deleting" for a minute or more; its network interface and Elastic IP are held until "deleted"
    return waiting.poll(ctx, f"NAT gateway {nat_id} to be deleted", check, ctx.timeouts.release, first=5.0, cap=15.0)


def _release_address(ctx: Context, allocation_id: str) -> str:
    """ReleaseAddress answers AuthFailure while a NAT gateway being deleted still holds the address,
    even moments after it reports "deleted" (eformat/sno-for-100#5, #9), InvalidIPAddress.InUse while
    it is associated: retried; InvalidAllocationID.NotFound: already released (ansible/ansible#20167)."""
    ec2 = ctx.client("ec2")

    def attempt() -> None:
        try:
            ec2.release_address(AllocationId=allocation_id)
        except Exception as exc:
            if not _gone(exc, "InvalidAllocationID.NotFound"):
                raise

    with doing(f"release Elastic IP {allocation_id}"):
        waiting.retry(
            ctx,
            f"the NAT gateway to let go of Elastic IP {allocation_id}",
            attempt,
            lambda e: is_code(e, "AuthFailure", "InvalidIPAddress.InUse"),
            ctx.timeouts.release,
            first=2.0,
            cap=10.0,
        )
    return "released"


def _delete_eigw(ctx: Context, gid: str) -> str:
    with doing(f"delete egress-only internet gateway {gid}"):
        try:
            ctx.client("ec2").delete_egress_only_internet_gateway(EgressOnlyInternetGatewayId=gid)
        except Exception as exc:
            if not _gone(exc, "InvalidEgressOnlyInternetGatewayId.NotFound", "InvalidGatewayID.NotFound"):
                raise
    return "deleted"


def _delete_route_table(ctx: Context, table: dict[str, Any]) -> str:
    ec2 = ctx.client("ec2")
    tid = table["RouteTableId"]
    with doing(f"delete route table {tid}"):
        try:
            current = ec2.describe_route_tables(RouteTableIds=[tid])["RouteTables"]
        except Exception as exc:
            if _gone(exc, "InvalidRouteTableID.NotFound"):
                return "deleted"
            raise
        for assoc in (current[0] if current else table).get("Associations", []):
            if assoc.get("Main") or not assoc.get("RouteTableAssociationId"):
                continue
            try:
                ec2.disassociate_route_table(AssociationId=assoc["RouteTableAssociationId"])
            except Exception as exc:
                if not _gone(exc, "InvalidAssociationID.NotFound"):
                    raise
        try:
            ec2.delete_route_table(RouteTableId=tid)
        except Exception as exc:
            if not _gone(exc, "InvalidRouteTableID.NotFound"):
                raise
    return "deleted"


def _retry_dependency(ctx: Context, what: str, call: Callable[[], Any], gone: tuple[str, ...]) -> str:
    def attempt() -> None:
        try:
            call()
        except Exception as exc:
            if not _gone(exc, *gone):
                raise

    waiting.retry(
        ctx,
        f"network interfaces to release {what}",
        attempt,
        lambda e: is_code(e, "DependencyViolation"),
        ctx.timeouts.release,
        first=1.0,
        cap=15.0,
    )
    return "deleted"


def _delete_group(ctx: Context, gid: str) -> str:
    with doing(f"delete security group {gid}"):
        return _retry_dependency(
            ctx, gid, lambda: ctx.client("ec2").delete_security_group(GroupId=gid), ("InvalidGroup.NotFound",)
        )


def _delete_subnet(ctx: Context, subnet_id: str) -> str:
    """DependencyViolation while network interfaces in it are released (the tasks', the endpoints')."""
    with doing(f"delete subnet {subnet_id}"):
        return _retry_dependency(
            ctx,
            f"subnet {subnet_id}",
            lambda: ctx.client("ec2").delete_subnet(SubnetId=subnet_id),
            ("InvalidSubnetID.NotFound",),
        )
