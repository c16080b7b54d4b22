"""EC2: the VPC and subnets (looked up, never changed) and the two security groups:
the ALB's (80/443 from anywhere, IPv4 and IPv6) and the tasks' (the container
port from the ALB's group only)."""

from __future__ import annotations

from functools import partial
from typing import Any

from .. import waiting
from ..config import SG_RULES_LIMIT
from ..context import Context
from ..errors import ConfigError, doing, is_code
from ..names import tag_dict
from ..plan import KNOWN_AFTER_APPLY, Action, Change
from . import Step, check_owner, foreign, load_balancer_ref, service_ref

Rule = tuple[str, int, int, str]  # (protocol, from, to, source) where source is a CIDR or a group id


# Fargate does not run in every availability zone. Zone IDs (not names: names differ per
# account) where it does, for the regions where it is limited -- "Supported Regions for
# Amazon ECS on AWS Fargate", docs.aws.amazon.com/AmazonECS/latest/developerguide/AWS_Fargate-Regions.html
# (Linux x86_64; for ARM64 the page also leaves out use1-az3 in us-east-1).
FARGATE_ZONES: dict[str, set[str]] = {
    "us-west-1": {"usw1-az1", "usw1-az3"},
    "ap-northeast-1": {"apne1-az1", "apne1-az2", "apne1-az4"},
    "cn-north-1": {"cnn1-az1", "cnn1-az2"},
}
FARGATE_ARM64_EXCLUDED: dict[str, set[str]] = {"us-east-1": {"use1-az3"}}


def fargate_runs_in(region: str, zone_id: str, architecture: str = "X86_64") -> bool:
    if architecture == "ARM64" and zone_id in FARGATE_ARM64_EXCLUDED.get(region, set()):
        return False
    allowed = FARGATE_ZONES.get(region)
    return allowed is None or zone_id in allowed


# What tasks in a subnet with no route to the internet need a VPC endpoint for (interface
# endpoints, and the S3 gateway that ECR's image layers come from).
PRIVATE_TASK_ENDPOINTS = ("ecr.api", "ecr.dkr", "s3", "logs")


def _vpc_exists(ctx: Context, vpc_id: str) -> bool:
    try:
        return bool(ctx.client("ec2").describe_vpcs(VpcIds=[vpc_id])["Vpcs"])
    except Exception as exc:
        if is_code(exc, "InvalidVpcID.NotFound", "InvalidVpcID.Malformed"):
            return False
        raise


def _describe_subnets(ctx: Context, ids: list[str], key: str) -> list[dict[str, Any]]:
    try:
        return list(ctx.client("ec2").describe_subnets(SubnetIds=ids)["Subnets"])
    except Exception as exc:
        if is_code(exc, "InvalidSubnetID.NotFound", "InvalidSubnetID.Malformed"):
            raise ConfigError([(key, f"one of {', '.join(ids)} does not exist in {ctx.region}")]) from None
        raise


def _default_subnets(ctx: Context) -> list[dict[str, Any]]:
    ec2 = ctx.client("ec2")
    net = ctx.config.network
    filters = [{"Name": "default-for-az", "Values": ["true"]}]
    if net.vpc_id:
        filters.append({"Name": "vpc-id", "Values": [net.vpc_id]})
    subnets = list(ec2.describe_subnets(Filters=filters)["Subnets"])
    if subnets:
        return subnets
    if net.vpc_id and not _vpc_exists(ctx, net.vpc_id):
        raise ConfigError([("network.vpc_id", f"VPC {net.vpc_id} does not exist in {ctx.region}")])
    if not net.vpc_id and not ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]:
        raise ConfigError(
            [
                (
                    "network.shared",
                    f'there is no default VPC in {ctx.region}: add [network] shared = "main" to the config for a '
                    "network of ecsup's own (or name yours in network.vpc_id and network.subnets); nothing was changed",
                )
            ]
        )
    raise ConfigError(
        [
            (
                "network.subnets",
                f"{net.vpc_id or 'the default VPC'} has no default subnets: list the subnets for the tasks in "
                "network.subnets and public ones for the load balancer in network.alb_subnets",
            )
        ]
    )


def _routes(ctx: Context, vpc_id: str) -> dict[str, list[dict[str, Any]]]:
    """Each subnet's routes (its own route table, else the VPC's main one), by subnet id;
    the main table's under ''. One listing of the VPC's route tables."""
    by_subnet: dict[str, list[dict[str, Any]]] = {}
    pages = (
        ctx.client("ec2")
        .get_paginator("describe_route_tables")
        .paginate(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    )
    for page in pages:
        for table in page["RouteTables"]:
            for assoc in table.get("Associations", []):
                if assoc.get("Main"):
                    by_subnet[""] = table.get("Routes", [])
                elif assoc.get("SubnetId"):
                    by_subnet[assoc["SubnetId"]] = table.get("Routes", [])
    return by_subnet


def _default_route(routes: list[dict[str, Any]]) -> str:
    """Where 0.0.0.0/0 goes: 'igw' (an internet gateway), 'nat' (a NAT gateway, instance,
    network interface or transit gateway: outbound only), or '' (nowhere)."""
    for route in routes:
        if route.get("DestinationCidrBlock") != "0.0.0.0/0" or route.get("State") == "blackhole":
            continue
        if str(route.get("GatewayId", "")).startswith("igw-"):
            return "igw"
        if any(route.get(k) for k in ("NatGatewayId", "InstanceId", "NetworkInterfaceId", "TransitGatewayId")):
            return "nat"
    return ""


def _zones_ok(subnets: list[dict[str, Any]], key: str, what: str) -> None:
    by_zone: dict[str, list[str]] = {}
    for subnet in subnets:
        by_zone.setdefault(subnet["AvailabilityZone"], []).append(subnet["SubnetId"])
    twice = "; ".join(f"{z}: {', '.join(ids)}" for z, ids in sorted(by_zone.items()) if len(ids) > 1)
    if twice:
        raise ConfigError([(key, f"{what} takes one subnet per availability zone ({twice})")])
    if len(by_zone) < 2:
        raise ConfigError(
            [
                (
                    key,
                    f"the subnets ({', '.join(s['SubnetId'] for s in subnets) or 'none'}) span {len(by_zone)} "
                    "availability zone(s); an application load balancer needs 2 or more",
                )
            ]
        )


def resolve_network(ctx: Context) -> None:
    """The VPC, the load balancer's subnets and the tasks' subnets into ctx.facts, or a
    ConfigError naming the key -- all before any change:

    - the load balancer's subnets (network.alb_subnets; else network.subnets when they are
      public; else the default subnets) must route 0.0.0.0/0 to an internet gateway: AWS
      refuses an internet-facing ALB elsewhere, or serves nobody;
    - the tasks' subnets (network.subnets; else alb_subnets; else the default subnets) must
      be public too with assign_public_ip = true; with false and no NAT route, the VPC
      endpoints the tasks need are looked for, and what is missing is a warning;
    - Fargate must run in their zones: default subnets elsewhere are left out (a note),
      configured ones are an error naming the zone."""
    net = ctx.config.network
    if net.shared:  # ecsup's own network: its step (steps/vpc.py) sets the facts
        if "vpc_id" not in ctx.facts:
            from .vpc import network_facts

            network_facts(ctx)
        return
    with doing("look up the VPC, its subnets and route tables"):
        if net.subnets or net.alb_subnets:
            ids = list(dict.fromkeys([*net.subnets, *net.alb_subnets]))
            found = {s["SubnetId"]: s for s in _describe_subnets(ctx, ids, "network.subnets")}
            outside = [i for i in ids if found[i]["VpcId"] != net.vpc_id]
            if outside and not _vpc_exists(ctx, net.vpc_id):
                raise ConfigError([("network.vpc_id", f"VPC {net.vpc_id} does not exist in {ctx.region}")])
            if outside:
                key = "network.subnets" if any(i in net.subnets for i in outside) else "network.alb_subnets"
                raise ConfigError([(key, f"{', '.join(outside)} not in {net.vpc_id}")])
            vpc_id = net.vpc_id
            tasks = [found[i] for i in (net.subnets or net.alb_subnets)]
            alb = [found[i] for i in net.alb_subnets] if net.alb_subnets else None
        else:
            tasks = _default_subnets(ctx)
            vpc_id = tasks[0]["VpcId"]
            alb = list(tasks)
        routes = _routes(ctx, vpc_id)

    def route(subnet: dict[str, Any]) -> str:
        return _default_route(routes.get(subnet["SubnetId"], routes.get("", [])))

    alb_key = "network.alb_subnets" if net.alb_subnets else "network.subnets" if net.subnets else "network.vpc_id"
    internal = ctx.config.load_balancer.internal and not ctx.names.shared
    if internal:  # an internal load balancer: in the tasks' subnets, no internet gateway needed
        alb, alb_key = None, "network.subnets" if net.subnets else alb_key
    _zones_ok(alb if alb is not None else tasks, alb_key, "a load balancer")
    if alb is None and internal:
        alb = list(tasks)
    elif alb is None:  # only network.subnets: the load balancer goes there too, if they are public
        private = [s["SubnetId"] for s in tasks if route(s) != "igw"]
        if private:
            raise ConfigError(
                [
                    (
                        "network.alb_subnets",
                        f"the subnets in network.subnets ({', '.join(private)}) have no route to an internet "
                        "gateway, so an internet-facing load balancer cannot be there: list public subnets "
                        "(0.0.0.0/0 -> igw-...) of the VPC in network.alb_subnets",
                    )
                ]
            )
        alb = list(tasks)
    private_alb = [] if internal else [s["SubnetId"] for s in alb if route(s) != "igw"]
    if private_alb:
        raise ConfigError(
            [
                (
                    alb_key,
                    f"{', '.join(private_alb)} {'has' if len(private_alb) == 1 else 'have'} no route to an internet "
                    "gateway (0.0.0.0/0 -> igw-...) in its route table or the VPC's main one: an internet-facing "
                    "load balancer needs public subnets",
                )
            ]
        )

    if net.ipv6:
        _ipv6_subnets_ok(alb, alb_key)

    task_key = "network.subnets" if net.subnets else alb_key
    arch = ctx.config.service.cpu_architecture
    unsupported = [s for s in tasks if not fargate_runs_in(ctx.region, s.get("AvailabilityZoneId", ""), arch)]
    if unsupported and (net.subnets or net.alb_subnets):
        raise ConfigError(
            [
                (
                    task_key,
                    ", ".join(f"{s['SubnetId']} is in {s.get('AvailabilityZoneId')}" for s in unsupported)
                    + f", where Fargate does not run in {ctx.region}: use subnets in "
                    + ", ".join(sorted(FARGATE_ZONES.get(ctx.region, set()))),
                )
            ]
        )
    if unsupported:
        ctx.notes.append(
            "tasks are not placed in "
            + ", ".join(f"{s['SubnetId']} ({s.get('AvailabilityZoneId')})" for s in unsupported)
            + f": Fargate does not run in that zone of {ctx.region} (the load balancer still uses it)"
        )
        tasks = [s for s in tasks if s not in unsupported]
    if not tasks:
        raise ConfigError([(task_key, f"Fargate runs in none of these subnets' zones in {ctx.region}")])
    if internal and unsupported:  # the internal load balancer goes where the tasks run
        alb = list(tasks)
        _zones_ok(alb, task_key, "an internal load balancer (in the tasks' subnets)")

    if ctx.config.network.assign_public_ip:
        private = [s["SubnetId"] for s in tasks if route(s) != "igw"]
        if private:
            raise ConfigError(
                [
                    (
                        "network.assign_public_ip",
                        f"is true but the tasks' subnets {', '.join(private)} have no route to an internet gateway, "
                        "so a public IP gives them no way out: use public subnets, or set it to false and give the "
                        "subnets a NAT gateway (or VPC endpoints)",
                    )
                ]
            )
    else:
        isolated = [s["SubnetId"] for s in tasks if route(s) == ""]
        if isolated:
            _warn_missing_endpoints(ctx, vpc_id, isolated)

    ctx.facts["vpc_id"] = vpc_id
    ctx.facts["subnets"] = sorted(s["SubnetId"] for s in tasks)
    ctx.facts["alb_subnets"] = sorted(s["SubnetId"] for s in alb)


def has_ipv6(subnet: dict[str, Any]) -> bool:
    """Whether a subnet has an associated IPv6 CIDR block (DescribeSubnets
    Ipv6CidrBlockAssociationSet; a block being associated or disassociated does not count)."""
    return any(
        (a.get("Ipv6CidrBlockState") or {}).get("State") == "associated"
        for a in subnet.get("Ipv6CidrBlockAssociationSet") or []
    )


def _ipv6_subnets_ok(alb: list[dict[str, Any]], key: str) -> None:
    """[network] ipv6 on a network the user owns (or the default VPC): a dual-stack load balancer
    needs an IPv6 CIDR block on each of its subnets. AWS refuses it at CreateLoadBalancer /
    SetIpAddressType otherwise ("ValidationError: You must specify subnets with an associated IPv6
    CIDR block." -- kubernetes-sigs/aws-load-balancer-controller#4852): refused here, before any change."""
    missing = [s["SubnetId"] for s in alb if not has_ipv6(s)]
    if missing:
        raise ConfigError(
            [
                (
                    "network.ipv6",
                    f"is true but the load balancer's subnets {', '.join(missing)} ({key}) have no IPv6 CIDR block, "
                    "and a dual-stack load balancer needs one in each",
                )
            ],
            hint="associate an IPv6 CIDR block with the VPC and each of those subnets (aws ec2 "
            "associate-vpc-cidr-block --amazon-provided-ipv6-cidr-block, associate-subnet-cidr-block), "
            'list subnets that have one, use ecsup\'s own network ([network] shared = "main"), or set ipv6 = false; '
            "nothing was changed",
        )


def _warn_missing_endpoints(ctx: Context, vpc_id: str, isolated: list[str]) -> None:
    """Tasks without a public IP in subnets with no NAT reach AWS only through VPC endpoints:
    say what they will fail to reach (a warning: the endpoints may be on their way)."""
    with doing(f"look up the VPC endpoints of {vpc_id}"):
        endpoints = ctx.client("ec2").describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    prefix = f"com.amazonaws.{ctx.region}."  # e.g. com.amazonaws.eu-west-1.ecr.dkr
    have = {
        str(e["ServiceName"]).removeprefix(prefix)
        for e in endpoints.get("VpcEndpoints", [])
        if str(e.get("State", "available")).lower() in ("available", "pending", "pendingacceptance")
    }
    wanted = list(PRIVATE_TASK_ENDPOINTS) + (["ssm"] if ctx.config.service.secrets else [])
    missing = [name for name in wanted if name not in have]
    image = ctx.config.service.image
    if f".dkr.ecr.{ctx.region}.amazonaws.com/" not in image:
        ctx.notes.append(
            f"the tasks' subnets {', '.join(isolated)} have no route to the internet (no NAT) and assign_public_ip "
            f"is false: the image {image} is not in this region's ECR, so the tasks cannot pull it"
        )
    if missing:
        reach = {
            "ecr.api": "ECR",
            "ecr.dkr": "ECR",
            "s3": "ECR's image layers (S3)",
            "logs": "CloudWatch Logs",
            "ssm": "SSM (the secrets)",
        }
        ctx.notes.append(
            f"the tasks' subnets {', '.join(isolated)} have no route to the internet (no NAT) and assign_public_ip "
            f"is false, and VPC {vpc_id} has no endpoint for {', '.join(missing)}: the tasks will fail to reach "
            + ", ".join(dict.fromkeys(reach[m] for m in missing))
        )


def _rules(group: dict[str, Any]) -> set[Rule]:
    out: set[Rule] = set()
    for perm in group.get("IpPermissions", []):
        proto, lo, hi = perm.get("IpProtocol", "-1"), perm.get("FromPort", -1), perm.get("ToPort", -1)
        for r in perm.get("IpRanges", []):
            out.add((proto, lo, hi, r["CidrIp"]))
        for r in perm.get("Ipv6Ranges", []):
            out.add((proto, lo, hi, r["CidrIpv6"]))
        for r in perm.get("UserIdGroupPairs", []):
            out.add((proto, lo, hi, r["GroupId"]))
    return out


def _permissions(rules: set[Rule]) -> list[dict[str, Any]]:
    perms = []
    for proto, lo, hi, src in sorted(rules):
        perm: dict[str, Any] = {"IpProtocol": proto, "FromPort": lo, "ToPort": hi}
        if src.startswith("sg-"):
            perm["UserIdGroupPairs"] = [{"GroupId": src, "Description": "from the load balancer (ecsup)"}]
        elif ":" in src:
            perm["Ipv6Ranges"] = [{"CidrIpv6": src, "Description": "ecsup"}]
        else:
            perm["IpRanges"] = [{"CidrIp": src, "Description": "ecsup"}]
        perms.append(perm)
    return perms


def _fmt(rules: set[Rule]) -> str:
    return ", ".join(f"{p}/{lo}" + (f"-{hi}" if hi != lo else "") + f" from {s}" for p, lo, hi, s in sorted(rules))


ALB_RULES: set[Rule] = {("tcp", port, port, src) for port in (80, 443) for src in ("0.0.0.0/0", "::/0")}
ANYWHERE = ("0.0.0.0/0", "::/0")


def alb_rules(ctx: Context) -> set[Rule]:
    """What the stack's own load balancer's group admits: 80 and 443 from anywhere (both families),
    or only from [load_balancer] allow_cidrs, each CIDR in its family."""
    allow = ctx.config.load_balancer.allow_cidrs
    if not allow:
        return set(ALB_RULES)
    return {("tcp", port, port, cidr) for port in (80, 443) for cidr in allow}


def _admits_web(rule: Rule) -> bool:
    """A CIDR rule that lets clients reach 80 or 443 (exactly, in a range, or all traffic)."""
    proto, lo, hi, src = rule
    if src.startswith(("sg-", "pl-")):
        return False
    return proto == "-1" or (proto == "tcp" and any(lo <= port <= hi for port in (80, 443)))


def _described(group: dict[str, Any], description: str) -> set[Rule]:
    """The group's CIDR rules carrying this description (what ecsup writes on its own)."""
    out: set[Rule] = set()
    for perm in group.get("IpPermissions", []):
        proto, lo, hi = perm.get("IpProtocol", "-1"), perm.get("FromPort", -1), perm.get("ToPort", -1)
        for r in perm.get("IpRanges", []):
            if r.get("Description") == description:
                out.add((proto, lo, hi, r["CidrIp"]))
        for r in perm.get("Ipv6Ranges", []):
            if r.get("Description") == description:
                out.add((proto, lo, hi, r["CidrIpv6"]))
    return out


def rules_over_quota(rules: set[Rule]) -> str:
    """Which family of a group's inbound rules passes SG_RULES_LIMIT ("" when neither)."""
    groups = sum(1 for r in rules if r[3].startswith(("sg-", "pl-")))  # counted in both families
    v6_cidrs = sum(1 for r in rules if ":" in r[3])
    v4, v6 = len(rules) - v6_cidrs, v6_cidrs + groups
    over = [f"{n} {family}" for n, family in ((v4, "IPv4"), (v6, "IPv6")) if n > SG_RULES_LIMIT]
    return ", ".join(over)


def _sources(ctx: Context) -> str:
    allow = ctx.config.load_balancer.allow_cidrs
    return ", ".join(allow) if allow else "anywhere"


def _group_description(ctx: Context) -> str:
    allowed = "allow_cidrs" if ctx.config.load_balancer.allow_cidrs else "anywhere"
    return f"load balancer: HTTP/HTTPS from {allowed}"


class SecurityGroupsStep(Step):
    title = "security groups"
    reads = ("alb_subnets", "sg_alb", "move")  # on a shared load balancer: its network and group (the tasks' source)
    provides = ("vpc_id", "subnets", "alb_subnets", "sg_alb", "sg_tasks", "alb_ingress")

    def _groups(self, ctx: Context) -> dict[str, dict[str, Any]]:
        n = ctx.names
        with doing("look up security groups"):
            groups = ctx.client("ec2").describe_security_groups(
                Filters=[
                    {"Name": "vpc-id", "Values": [ctx.facts["vpc_id"]]},
                    {"Name": "group-name", "Values": [n.sg_alb, n.sg_tasks]},
                ]
            )["SecurityGroups"]
        return {g["GroupName"]: g for g in groups}

    def plan(self, ctx: Context) -> list[Action]:
        if not (ctx.names.shared and ctx.facts.get("alb_subnets")):  # SharedLoadBalancerStep resolved it
            resolve_network(ctx)
        n = ctx.names
        groups = self._groups(ctx)
        actions = []
        alb = None if n.shared else groups.get(n.sg_alb)  # a shared one is steps/shared.py's
        tasks = groups.get(n.sg_tasks)
        if alb and check_owner(ctx, "security group", n.sg_alb, tag_dict(alb.get("Tags"))):
            ctx.facts["sg_alb"] = alb["GroupId"]
        if tasks and check_owner(ctx, "security group", n.sg_tasks, tag_dict(tasks.get("Tags"))):
            ctx.facts["sg_tasks"] = tasks["GroupId"]
        port = ctx.config.service.container_port
        for name, group, fact, desc in (
            *([] if n.shared else [(n.sg_alb, alb, "sg_alb", f"load balancer: HTTP/HTTPS from {_sources(ctx)}")]),
            (n.sg_tasks, tasks, "sg_tasks", f"tasks: port {port} from the load balancer"),
        ):
            if group is None:
                actions.append(
                    Action("create", "security group", name, desc, run=partial(self._create, ctx, name, fact, desc))
                )
                continue
            if fact not in ctx.facts:  # foreign: conflict recorded
                continue
            want = self._wanted(ctx, fact)
            have = _rules(group)
            if fact == "sg_alb":  # every rule, ecsup's or not: what ports clients can reach
                ctx.facts["alb_ingress"] = sorted(have)
            missing = want - have
            extra = self._stale(ctx, fact, have, group) - want
            others = have - want - extra
            if fact == "sg_alb" and missing:
                self._check_quota(ctx, name, want | others)
            if others and not (fact == "sg_tasks" and ctx.facts.get("move")):  # a move's old source: move.py's
                ctx.notes.append(f"security group {name} also has rules ecsup did not add (left alone): {_fmt(others)}")
            if not missing and not extra:
                actions.append(Action("noop", "security group", name, f"{group['GroupId']}: {_fmt(want)}"))
                continue
            changes = [Change("ingress", _fmt(extra) or "-", _fmt(missing) or "-")]
            actions.append(
                Action(
                    "update",
                    "security group",
                    name,
                    group["GroupId"],
                    changes,
                    run=partial(self._converge, ctx, fact, extra),
                )
            )
        return actions

    def _check_quota(self, ctx: Context, name: str, rules: set[Rule]) -> None:
        over = rules_over_quota(rules)
        if over:
            raise ConfigError(
                [
                    (
                        "load_balancer.allow_cidrs",
                        f"security group {name} would hold {over} inbound rules (80 and 443 for each CIDR, and the "
                        f"rules others added): EC2 allows {SG_RULES_LIMIT} per family; list fewer, wider CIDRs",
                    )
                ],
                hint="nothing was changed",
            )

    def _wanted(self, ctx: Context, fact: str) -> set[Rule]:
        if fact == "sg_alb":
            return alb_rules(ctx)
        port = ctx.config.service.container_port
        return {("tcp", port, port, ctx.facts.get("sg_alb") or KNOWN_AFTER_APPLY)}

    def _stale(self, ctx: Context, fact: str, have: set[Rule], group: dict[str, Any] | None = None) -> set[Rule]:
        """Rules ecsup itself added earlier (ALB ports; the ALB group as source) but no longer wants.
        Rules anyone else added are left alone -- except, with allow_cidrs, any CIDR rule that lets
        clients reach 80 or 443: the allowlist is what the group admits there (drift repaired)."""
        if fact == "sg_alb":
            if ctx.config.load_balancer.allow_cidrs:
                return {r for r in have if _admits_web(r)}
            ours = {r for r in _described(group or {}, "ecsup") if r[1] == r[2] and r[1] in (80, 443)}
            return ({r for r in have if r[3] in ANYWHERE and r[1] in (80, 443)} | ours) - ALB_RULES
        alb = ctx.facts.get("sg_alb")
        return {r for r in have if alb and r[3] == alb}

    def _create(self, ctx: Context, name: str, fact: str, desc: str) -> str:
        ec2 = ctx.client("ec2")
        with doing(f"create security group {name}"):
            try:
                gid = ec2.create_security_group(
                    GroupName=name,
                    # fixed at creation (255 characters): the allowlist itself is in the rules
                    Description=f"ecsup {ctx.names.stack} {desc if fact != 'sg_alb' else _group_description(ctx)}",
                    VpcId=ctx.facts["vpc_id"],
                    TagSpecifications=[
                        {
                            "ResourceType": "security-group",
                            "Tags": [*ctx.names.tag_list(), {"Key": "Name", "Value": name}],
                        }
                    ],
                )["GroupId"]
            except Exception as exc:
                if not is_code(exc, "InvalidGroup.Duplicate"):
                    raise
                gid = self._groups(ctx)[name]["GroupId"]
        ctx.facts[fact] = gid
        self._converge(ctx, fact, set())
        return gid

    def _converge(self, ctx: Context, fact: str, extra: set[Rule]) -> str:
        ec2 = ctx.client("ec2")
        gid = ctx.facts[fact]

        # EC2 is eventually consistent: a group just created (this one, or the ALB's group
        # used as the source) can be "not found" for a few seconds.
        def settling(e: BaseException) -> bool:
            return is_code(e, "InvalidGroup.NotFound")

        with doing(f"set the ingress rules of {gid}"):
            group = waiting.retry(
                ctx,
                f"security group {gid} to be visible",
                lambda: ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0],
                settling,
                ctx.timeouts.propagation,
            )
            missing = self._wanted(ctx, fact) - _rules(group)
            if missing:
                waiting.retry(
                    ctx,
                    f"security group {gid} to be visible",
                    lambda: ec2.authorize_security_group_ingress(
                        GroupId=gid,
                        IpPermissions=_permissions(missing),
                        TagSpecifications=[{"ResourceType": "security-group-rule", "Tags": ctx.names.tag_list()}],
                    ),
                    settling,
                    ctx.timeouts.propagation,
                )
            if extra:
                ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=_permissions(extra))
        return gid

    def plan_destroy(self, ctx: Context) -> list[Action]:
        try:
            resolve_network(ctx)
        except ConfigError:
            return []
        from .workloads import worker_service_refs

        groups = self._groups(ctx)
        actions = []
        # tasks' group first: it references the ALB's
        for name in (ctx.names.sg_tasks, *([] if ctx.names.shared else [ctx.names.sg_alb])):
            group = groups.get(name)
            if group is None:
                continue
            if not ctx.names.owns(tag_dict(group.get("Tags"))):
                actions.append(foreign(ctx, "security group", name))
                continue
            gid = group["GroupId"]
            # the tasks' group: after the service (its tasks' interfaces use it); the ALB's: after the
            # load balancer and after the tasks' group, whose rule refers to it
            after = (
                (service_ref(ctx), *worker_service_refs(ctx))  # the workers' tasks use it too
                if name == ctx.names.sg_tasks
                else (load_balancer_ref(ctx), f"security group {ctx.names.sg_tasks}")
            )
            actions.append(
                Action("delete", "security group", name, gid, run=partial(self._delete, ctx, gid, group), after=after)
            )
        return actions

    def _delete(self, ctx: Context, gid: str, group: dict[str, Any]) -> str:
        ec2 = ctx.client("ec2")

        def attempt() -> None:
            try:
                ec2.delete_security_group(GroupId=gid)
            except Exception as exc:
                if is_code(exc, "InvalidGroup.NotFound"):
                    return
                raise

        with doing(f"delete security group {gid}"):
            waiting.retry(
                ctx,
                f"network interfaces to release security group {gid}",
                attempt,
                lambda e: is_code(e, "DependencyViolation"),
                ctx.timeouts.release,
                first=1.0,  # ENIs are often released within seconds: notice it soon, poll less later
                cap=15.0,
            )
        return "deleted"
