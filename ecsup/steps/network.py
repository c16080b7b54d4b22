"""EC2: the VPC and subnets (looked up, never changed) and the two security groups:
the ALB's (80/443 from anywhere, IPv4 and IPv6) and the tasks' (the container
port from the ALB's group only)."""

from __future__ import annotations

from functools import partial
from typing import Any

from .. import waiting
from ..context import Context
from ..errors import ConfigError, doing, is_code
from ..names import tag_dict
from ..plan import KNOWN_AFTER_APPLY, Action, Change
from . import Step, check_owner, foreign, load_balancer_ref, service_ref

Rule = tuple[str, int, int, str]  # (protocol, from, to, source) where source is a CIDR or a group id


def _vpc_exists(ctx: Context, vpc_id: str) -> bool:
    try:
        return bool(ctx.client("ec2").describe_vpcs(VpcIds=[vpc_id])["Vpcs"])
    except Exception as exc:
        if is_code(exc, "InvalidVpcID.NotFound", "InvalidVpcID.Malformed"):
            return False
        raise


def resolve_network(ctx: Context) -> None:
    """VPC and subnets into ctx.facts, or a ConfigError naming the key. One call when all is
    well (the subnets name their VPC); the error paths read more to say what is wrong."""
    ec2 = ctx.client("ec2")
    net = ctx.config.network
    with doing("look up the VPC and its subnets"):
        if net.subnets:
            try:
                subnets = ec2.describe_subnets(SubnetIds=list(net.subnets))["Subnets"]
            except Exception as exc:
                if is_code(exc, "InvalidSubnetID.NotFound", "InvalidSubnetID.Malformed"):
                    raise ConfigError(
                        [("network.subnets", f"one of {', '.join(net.subnets)} does not exist in {ctx.region}")]
                    ) from None
                raise
            outside = [s["SubnetId"] for s in subnets if s["VpcId"] != net.vpc_id]
            if outside and not _vpc_exists(ctx, net.vpc_id):
                raise ConfigError([("network.vpc_id", f"VPC {net.vpc_id} does not exist in {ctx.region}")])
            if outside:
                raise ConfigError([("network.subnets", f"{', '.join(outside)} not in {net.vpc_id}")])
            vpc_id = net.vpc_id
        else:
            filters = [{"Name": "default-for-az", "Values": ["true"]}]
            if net.vpc_id:
                filters.append({"Name": "vpc-id", "Values": [net.vpc_id]})
            subnets = ec2.describe_subnets(Filters=filters)["Subnets"]
            if not subnets:
                if net.vpc_id and not _vpc_exists(ctx, net.vpc_id):
                    raise ConfigError([("network.vpc_id", f"VPC {net.vpc_id} does not exist in {ctx.region}")])
                if (
                    not net.vpc_id
                    and not ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
                ):
                    raise ConfigError(
                        [
                            (
                                "network.vpc_id",
                                f"there is no default VPC in {ctx.region}: set network.vpc_id and network.subnets",
                            )
                        ]
                    )
                raise ConfigError(
                    [
                        (
                            "network.subnets",
                            f"{net.vpc_id or 'the default VPC'} has no default subnets: list the public "
                            "subnets for the load balancer and tasks in network.subnets",
                        )
                    ]
                )
            vpc_id = subnets[0]["VpcId"]
    zones = {s["AvailabilityZone"] for s in subnets}
    if net.subnets and len(zones) < len(subnets):
        by_zone: dict[str, list[str]] = {}
        for subnet in subnets:
            by_zone.setdefault(subnet["AvailabilityZone"], []).append(subnet["SubnetId"])
        twice = "; ".join(f"{z}: {', '.join(ids)}" for z, ids in sorted(by_zone.items()) if len(ids) > 1)
        raise ConfigError([("network.subnets", f"a load balancer takes one subnet per availability zone ({twice})")])
    if len(zones) < 2:
        key = "network.subnets" if net.subnets else "network.vpc_id"
        raise ConfigError(
            [
                (
                    key,
                    f"the subnets ({', '.join(s['SubnetId'] for s in subnets) or 'none'}) span "
                    f"{len(zones)} availability zone(s); an application load balancer needs 2 or more",
                )
            ]
        )
    ctx.facts["vpc_id"] = vpc_id
    ctx.facts["subnets"] = sorted(s["SubnetId"] for s in subnets)


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


class SecurityGroupsStep(Step):
    title = "security groups"

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
        resolve_network(ctx)
        n = ctx.names
        groups = self._groups(ctx)
        actions = []
        alb = groups.get(n.sg_alb)
        tasks = groups.get(n.sg_tasks)
        if alb and check_owner(ctx, "security group", n.sg_alb, tag_dict(alb.get("Tags"))):
            ctx.facts["sg_alb"] = alb["GroupId"]
        if tasks and check_owner(ctx, "security group", n.sg_tasks, tag_dict(tasks.get("Tags"))):
            ctx.facts["sg_tasks"] = tasks["GroupId"]
        port = ctx.config.service.container_port
        for name, group, fact, desc in (
            (n.sg_alb, alb, "sg_alb", "load balancer: HTTP/HTTPS from anywhere"),
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
            missing = want - have
            extra = self._stale(ctx, fact, have) - want
            others = have - want - extra
            if others:
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

    def _wanted(self, ctx: Context, fact: str) -> set[Rule]:
        if fact == "sg_alb":
            return set(ALB_RULES)
        port = ctx.config.service.container_port
        return {("tcp", port, port, ctx.facts.get("sg_alb") or KNOWN_AFTER_APPLY)}

    def _stale(self, ctx: Context, fact: str, have: set[Rule]) -> set[Rule]:
        """Rules ecsup itself added earlier (ALB ports; the ALB group as source) but no longer wants.
        Rules anyone else added are left alone."""
        if fact == "sg_alb":
            return {r for r in have if r[3] in ("0.0.0.0/0", "::/0") and r[1] in (80, 443)} - ALB_RULES
        alb = ctx.facts.get("sg_alb")
        return {r for r in have if alb and r[3] == alb}

    def _create(self, ctx: Context, name: str, fact: str, desc: str) -> str:
        ec2 = ctx.client("ec2")
        with doing(f"create security group {name}"):
            try:
                gid = ec2.create_security_group(
                    GroupName=name,
                    Description=f"ecsup {ctx.names.stack} {desc}",
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
        groups = self._groups(ctx)
        actions = []
        # tasks' group first: it references the ALB's
        for name in (ctx.names.sg_tasks, ctx.names.sg_alb):
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
                (service_ref(ctx),)
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
                first=5.0,
                cap=20.0,
            )
        return "deleted"
