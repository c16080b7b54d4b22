"""ecsup's own network ([network] shared = "<name>"), shared by every stack naming it, the way a
shared load balancer is (steps/shared.py).

What it is: a VPC ``ecsup-net-<name>`` (a private IPv4 block that overlaps none of the region's
VPCs, or [network] cidr; with ipv6 an Amazon-provided /56), public subnets in two or three
availability zones where Fargate runs (a /64 each with ipv6), an internet gateway, one route
table sending 0.0.0.0/0 (and ::/0) to it, associated with the public subnets; and what
[network] egress adds (steps/egress.py: private subnets, NAT, endpoints).

Its owner is the network itself: everything carries ``ecsup:network=<name>`` and the managed-by
tag (names.network_tags), no stack's tags, and is found by those tags, never by its Name alone.
It is created, joined and deleted only under the network's own lock (lock.network_key), after
reading again what is there. Each stack on it keeps a membership marker (an SSM parameter,
names.network_member_parameter) written and deleted under that lock: the last stack out -- the
one finding no other marker -- deletes the network, once everything of its own in it is gone
(the engine's ``after``), and only when nothing ecsup does not own is inside; otherwise it keeps
it and says what is there.

The VPC's block is cut into 8 equal parts (subnet_blocks): public subnets take parts 0-2,
private ones (egress) parts 4-6; with ipv6 the same part numbers pick each subnet's /64.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from functools import partial
from typing import Any

from .. import waiting
from ..context import Context
from ..errors import ConfigError, doing, is_code
from ..names import (
    TAG_APP,
    TAG_ENV,
    network_member_parameter,
    network_members_path,
    network_subnet,
    network_tag_list,
    network_tags,
    network_vpc,
    owns_network,
    tag_dict,
)
from ..plan import FOUND, KNOWN_AFTER_APPLY, Action, Change
from . import Step, load_balancer_ref, service_ref
from .network import fargate_runs_in

PARTS = 8  # the VPC's block in 8 equal subnets
PUBLIC_PARTS = (0, 1, 2)
PRIVATE_PARTS = (4, 5, 6)
MAX_ZONES = 3
LOCK_WAIT = 300.0  # another stack's join or leave holds the network's lock for seconds (minutes: a NAT gateway)
# The last stack's leave holds the lock through delete_egress and delete_network, whose waits are each
# bounded by ctx.timeouts.release and run one after the other: the endpoints (all together), the NAT
# gateway, its Elastic IP, then the subnets' (and the VPC's) DependencyViolation. A stack waiting for
# the lock waits at least that long (network_lock_wait), not to fail on a leave that is on time.
LEAVE_BOUNDS = 4
# The candidates for the VPC's block when [network] cidr is not given: the first /16 of these that
# overlaps no VPC of the region (so that peering or a VPN between them stays possible).
CANDIDATES = tuple(f"10.{i}.0.0/16" for i in range(256))
# ENIs that egress's own resources hold (its NAT gateway, its interface endpoints): delete_egress
# removes them with what holds them. Any other interface in the VPC is someone else's.
EGRESS_INTERFACES = ("nat_gateway", "vpc_endpoint")


def network_lock(ctx: Context, command: str) -> Any:
    from .. import lock

    return lock.held(ctx, command, key=lock.network_key(ctx), wait=network_lock_wait(ctx))


def network_lock_wait(ctx: Context) -> float:
    """How long a stack waits for the network's lock: another stack's join, or the longest leave
    (LEAVE_BOUNDS deletion bounds of ctx.timeouts.release, one after the other)."""
    return LOCK_WAIT + LEAVE_BOUNDS * ctx.timeouts.release


def _name(ctx: Context) -> str:
    return ctx.config.network.shared


def _egress(ctx: Context) -> str:
    return str(getattr(ctx.config.network, "egress", "public"))


def _paginate(ctx: Context, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    pages = ctx.client("ec2").get_paginator(operation).paginate(**kwargs)
    return [item for page in pages for item in page.get(key, [])]


def _in_vpc(vpc_id: str) -> list[dict[str, Any]]:
    return [{"Name": "vpc-id", "Values": [vpc_id]}]


def _tag_filters(name: str) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{k}", "Values": [v]} for k, v in network_tags(name).items()]


# -- reading it ---------------------------------------------------------------------------------
def find_vpc(ctx: Context, name: str) -> dict[str, Any] | None:
    """The network's VPC, by its tags (the oldest, should there be two: made behind the lock's back)."""
    with doing(f"look up network {name}"):
        found = _paginate(ctx, "describe_vpcs", "Vpcs", Filters=_tag_filters(name))
    found = [v for v in found if owns_network(name, tag_dict(v.get("Tags")))]
    return sorted(found, key=lambda v: str(v["VpcId"]))[0] if found else None


def ipv6_block(vpc: dict[str, Any]) -> str:
    for assoc in vpc.get("Ipv6CidrBlockAssociationSet") or []:
        if (assoc.get("Ipv6CidrBlockState") or {}).get("State") == "associated" and assoc.get("Ipv6CidrBlock"):
            return str(assoc["Ipv6CidrBlock"])
    return ""


def subnet_blocks(vpc: dict[str, Any], part: int) -> tuple[str, str]:
    """The IPv4 block of subnet ``part`` (of PARTS) of the VPC, and its IPv6 /64 ("" without IPv6)."""
    v4 = list(ipaddress.ip_network(vpc["CidrBlock"]).subnets(prefixlen_diff=3))[part]
    v6 = ipv6_block(vpc)
    six = str(list(ipaddress.ip_network(v6).subnets(new_prefix=64))[part]) if v6 else ""
    return str(v4), six


def _part_of(vpc: dict[str, Any], subnet: dict[str, Any]) -> int | None:
    blocks = list(ipaddress.ip_network(vpc["CidrBlock"]).subnets(prefixlen_diff=3))
    try:
        return blocks.index(ipaddress.ip_network(subnet["CidrBlock"]))
    except ValueError:
        return None


def _subnet_ipv6(subnet: dict[str, Any]) -> str:
    for assoc in subnet.get("Ipv6CidrBlockAssociationSet") or []:
        if (assoc.get("Ipv6CidrBlockState") or {}).get("State") in ("associated", "associating"):
            return str(assoc.get("Ipv6CidrBlock", ""))
    return ""


def fargate_zones(ctx: Context) -> list[dict[str, Any]]:
    """Up to MAX_ZONES available zones (by name) where Fargate runs for either CPU architecture,
    so that any stack joining later runs there too (FARGATE_ZONES, by zone ID: the names of zones
    differ per account). A ConfigError when fewer than 2: a load balancer needs two."""
    with doing(f"list the availability zones of {ctx.region}"):
        zones = ctx.client("ec2").describe_availability_zones()["AvailabilityZones"]
    usable = [
        z
        for z in sorted(zones, key=lambda z: str(z["ZoneName"]))
        if z.get("State", "available") == "available"
        and z.get("ZoneType", "availability-zone") == "availability-zone"
        and all(fargate_runs_in(ctx.region, str(z.get("ZoneId", "")), arch) for arch in ("X86_64", "ARM64"))
    ]
    if len(usable) < 2:
        raise ConfigError(
            [
                (
                    "network.shared",
                    f"{ctx.region} has {len(usable)} availability zone(s) where Fargate runs, 2 are needed",
                )
            ]
        )
    return usable[:MAX_ZONES]


def choose_cidr(ctx: Context) -> str:
    """The first candidate block overlapping none of the region's VPCs' IPv4 blocks."""
    taken = _taken_blocks(ctx)
    for candidate in CANDIDATES:
        block = ipaddress.ip_network(candidate)
        if not any(block.overlaps(t) for t in taken):
            return candidate
    raise ConfigError([("network.cidr", f"every 10.x.0.0/16 overlaps a VPC in {ctx.region}: set network.cidr")])


def _taken_blocks(ctx: Context) -> list[ipaddress.IPv4Network]:
    with doing(f"list the VPCs of {ctx.region}"):
        vpcs = _paginate(ctx, "describe_vpcs", "Vpcs")
    taken = []
    for vpc in vpcs:
        for assoc in vpc.get("CidrBlockAssociationSet") or [{"CidrBlock": vpc.get("CidrBlock")}]:
            state = (assoc.get("CidrBlockState") or {}).get("State", "associated")
            if assoc.get("CidrBlock") and state in ("associated", "associating"):
                taken.append(ipaddress.IPv4Network(assoc["CidrBlock"]))
    return taken


class State:
    """What of the network exists, read in a fixed order."""

    def __init__(self, ctx: Context, vpc: dict[str, Any]) -> None:
        name = _name(ctx)
        vpc_id = vpc["VpcId"]
        self.vpc = vpc
        with doing(f"read network {name} ({vpc_id})"):
            self.subnets = _paginate(ctx, "describe_subnets", "Subnets", Filters=_in_vpc(vpc_id))
            self.igws = [
                g
                for g in _paginate(ctx, "describe_internet_gateways", "InternetGateways", Filters=_tag_filters(name))
                if owns_network(name, tag_dict(g.get("Tags")))
            ]
            self.tables = _paginate(ctx, "describe_route_tables", "RouteTables", Filters=_in_vpc(vpc_id))
        self.name = name

    def public(self) -> list[dict[str, Any]]:
        return sorted(
            (
                s
                for s in self.subnets
                if owns_network(self.name, tag_dict(s.get("Tags")))
                and tag_dict(s.get("Tags")).get("Name") == network_subnet(self.name, "public", s["AvailabilityZone"])
            ),
            key=lambda s: str(s["AvailabilityZone"]),
        )

    def private(self) -> list[dict[str, Any]]:
        return sorted(
            (
                s
                for s in self.subnets
                if owns_network(self.name, tag_dict(s.get("Tags")))
                and tag_dict(s.get("Tags")).get("Name") == network_subnet(self.name, "private", s["AvailabilityZone"])
            ),
            key=lambda s: str(s["AvailabilityZone"]),
        )

    def igw(self) -> dict[str, Any] | None:
        return sorted(self.igws, key=lambda g: str(g["InternetGatewayId"]))[0] if self.igws else None

    def attached(self) -> bool:
        igw = self.igw()
        return igw is not None and any(
            a.get("VpcId") == self.vpc["VpcId"] and a.get("State") in ("available", "attached")
            for a in igw.get("Attachments", [])
        )

    def table(self) -> dict[str, Any] | None:
        """The public route table (ecsup-net-<name>-public, the network's tags)."""
        ours = [
            t
            for t in self.tables
            if owns_network(self.name, tag_dict(t.get("Tags")))
            and tag_dict(t.get("Tags")).get("Name") == f"{network_vpc(self.name)}-public"
        ]
        return sorted(ours, key=lambda t: str(t["RouteTableId"]))[0] if ours else None


def _route_ok(table: dict[str, Any] | None, igw_id: str, key: str, dest: str) -> bool:
    return table is not None and any(
        r.get(key) == dest and r.get("GatewayId") == igw_id and r.get("State", "active") == "active"
        for r in table.get("Routes", [])
    )


def _has_route(table: dict[str, Any] | None, key: str, dest: str) -> bool:
    return table is not None and any(r.get(key) == dest for r in table.get("Routes", []))


def _associated(table: dict[str, Any] | None, subnet_id: str) -> bool:
    return table is not None and any(a.get("SubnetId") == subnet_id for a in table.get("Associations", []))


def gaps(ctx: Context, state: State, zones: list[dict[str, Any]]) -> list[Change]:
    """What the network lacks (the plan's changes; ensure() makes them in this order)."""
    ipv6 = ctx.config.network.ipv6
    out = []
    if ipv6 and not ipv6_block(state.vpc):
        out.append(Change("IPv6 block", "-", "Amazon-provided /56"))
    if state.igw() is None:
        out.append(Change("internet gateway", "-", "created, attached"))
    elif not state.attached():
        out.append(Change("internet gateway", "detached", "attached"))
    have = {s["AvailabilityZone"] for s in state.public()}
    missing = [z["ZoneName"] for z in zones if z["ZoneName"] not in have]
    if missing:
        out.append(Change("public subnets", ", ".join(sorted(have)) or "-", ", ".join(z["ZoneName"] for z in zones)))
    if ipv6:
        no_v6 = [
            s["SubnetId"] for s in state.public() if not (_subnet_ipv6(s) and s.get("AssignIpv6AddressOnCreation"))
        ]
        if no_v6:
            out.append(Change("subnets' IPv6", "-", f"a /64 each ({', '.join(no_v6)})"))
    table = state.table()
    igw_id = (state.igw() or {}).get("InternetGatewayId", "")
    routes = ["0.0.0.0/0"] + (["::/0"] if ipv6 else [])
    lacking = [
        r
        for r in routes
        if not _route_ok(table, igw_id, "DestinationIpv6CidrBlock" if ":" in r else "DestinationCidrBlock", r)
    ]
    if table is None:
        out.append(Change("route table", "-", " and ".join(routes) + " -> internet gateway"))
    elif lacking:
        out.append(Change("routes", "-", " and ".join(lacking) + " -> internet gateway"))
    unassociated = [s["SubnetId"] for s in state.public() if not _associated(table, s["SubnetId"])]
    if table is not None and unassociated:
        out.append(Change("route table associations", "-", ", ".join(unassociated)))
    return out


# -- membership ---------------------------------------------------------------------------------
def members(ctx: Context) -> list[str]:
    """The stacks whose marker is on the network (app-env), sorted."""
    path = network_members_path(_name(ctx))
    with doing(f"list the stacks on network {_name(ctx)}"):
        pages = ctx.client("ssm").get_paginator("get_parameters_by_path").paginate(Path=path)
        names = [p["Name"] for page in pages for p in page.get("Parameters", [])]
    return sorted(n.rsplit("/", 1)[-1] for n in names)


NETWORKS_PATH = "/ecsup/network"  # every network's parameters: /ecsup/network/<name>/...


def stack_markers(ctx: Context) -> dict[str, str]:
    """This stack's markers under any network ({network: parameter}): a stack whose [network]
    shared changed keeps the marker of the network it was created on, which no destroy with the
    new config would otherwise find (and that network's last stack would then keep it forever)."""
    with doing(f"look up the networks stack {ctx.names.stack} is on"):
        pages = ctx.client("ssm").get_paginator("get_parameters_by_path").paginate(Path=NETWORKS_PATH, Recursive=True)
        found = [str(p["Name"]) for page in pages for p in page.get("Parameters", [])]
    markers: dict[str, str] = {}
    for parameter in found:
        parts = parameter.split("/")  # '', 'ecsup', 'network', <name>, 'stacks', <stack>
        if len(parts) == 6 and parts[4] == "stacks" and parts[5] == ctx.names.stack:
            markers[parts[3]] = parameter
    return markers


def _stale_markers(ctx: Context) -> dict[str, str]:
    """This stack's markers on networks other than the configured one."""
    return {net: p for net, p in stack_markers(ctx).items() if net != _name(ctx)}


def _remove_marker(ctx: Context, network: str, parameter: str) -> str:
    """Remove this stack's marker on a network it is no longer configured for (under that
    network's lock: its last stack decides on the markers)."""
    from .. import lock

    key = lock.network_key(ctx, network)
    with (
        lock.held(ctx, "destroy", key=key, wait=network_lock_wait(ctx)),
        doing(f"remove stack {ctx.names.stack}'s mark on network {network}"),
    ):
        try:
            ctx.client("ssm").delete_parameter(Name=parameter)
        except Exception as exc:
            if not is_code(exc, "ParameterNotFound"):
                raise
    return f"removed {parameter}: network {network} no longer counts this stack"


def _stale_actions(ctx: Context) -> list[Action]:
    return [
        Action(
            "delete",
            "network marker",
            f"{network}/{ctx.names.stack}",
            f"this stack's mark on network {network} ([network] shared named it before): its last stack can "
            "then delete it",
            run=partial(_remove_marker, ctx, network, parameter),
        )
        for network, parameter in sorted(_stale_markers(ctx).items())
    ]


def _join(ctx: Context) -> bool:
    """This stack's marker (under the network's lock): True when it wrote it."""
    n = ctx.names
    with doing(f"mark stack {n.stack} as on network {_name(ctx)}"):
        try:
            ctx.client("ssm").put_parameter(
                Name=network_member_parameter(_name(ctx), n.stack),
                Value=f"stack {n.stack} uses ecsup's network {_name(ctx)}",
                Type="String",
                Tags=n.tag_list(),
            )
        except Exception as exc:
            if is_code(exc, "ParameterAlreadyExists"):
                return False
            raise
    return True


def _left_behind(ctx: Context) -> list[str]:
    """With the network gone: its lock parameter, and this stack's marker, if still there."""
    from ..names import network_lock_parameter

    name = _name(ctx)
    wanted = {network_lock_parameter(name), network_member_parameter(name, ctx.names.stack)}
    with doing(f"look for what is left of network {name}"):
        pages = (
            ctx.client("ssm")
            .get_paginator("get_parameters_by_path")
            .paginate(Path=f"/ecsup/network/{name}", Recursive=True)
        )
        found = [p["Name"] for page in pages for p in page.get("Parameters", [])]
    return sorted(n for n in found if n in wanted)


def _leave_marker(ctx: Context) -> None:
    n = ctx.names
    with doing(f"remove stack {n.stack}'s mark on network {_name(ctx)}"):
        try:
            ctx.client("ssm").delete_parameter(Name=network_member_parameter(_name(ctx), n.stack))
        except Exception as exc:
            if not is_code(exc, "ParameterNotFound"):
                raise


def _set_facts(ctx: Context, state: State | None) -> None:
    """vpc_id, alb_subnets (the public subnets) and subnets (the tasks': the private ones when
    egress is not "public") -- as resolve_network sets them for a network the user names."""
    public = state.public() if state is not None else []
    private = state.private() if state is not None else []
    if state is None:
        ctx.facts.update(vpc_id=KNOWN_AFTER_APPLY, alb_subnets=[KNOWN_AFTER_APPLY], subnets=[KNOWN_AFTER_APPLY])
        return
    ctx.facts["vpc_id"] = state.vpc["VpcId"]
    tasks = public if _egress(ctx) == "public" else private
    ctx.facts["subnets"] = sorted(s["SubnetId"] for s in tasks) or [KNOWN_AFTER_APPLY]
    ctx.facts["alb_subnets"] = _alb_subnets(ctx, sorted(s["SubnetId"] for s in public) or [KNOWN_AFTER_APPLY])


def _alb_subnets(ctx: Context, public: list[str]) -> list[str]:
    """The load balancer's subnets: the public ones; an internal load balancer's are the tasks'
    (the private ones with a private egress), as on a network the user names (resolve_network)."""
    if ctx.config.load_balancer.internal and not ctx.names.shared:
        return list(ctx.facts["subnets"])
    return public


def network_facts(ctx: Context) -> None:
    """The network's facts, read (no actions): for resolve_network outside the pipeline. A stack
    whose [network] shared changed (refused in planning) still lives on the network it was made on:
    when the configured one does not exist, that one's (so that a destroy finds what is there)."""
    vpc = find_vpc(ctx, _name(ctx))
    if vpc is None:
        for network in sorted(_stale_markers(ctx)):
            vpc = find_vpc(ctx, network)
            if vpc is not None:
                break
    _set_facts(ctx, State(ctx, vpc) if vpc is not None else None)


# -- the step -----------------------------------------------------------------------------------
def _cost_facts(ctx: Context, vpc_id: str) -> None:
    """For the plan's cost line (engine.cost_change, which makes no AWS call): ``network_sharing``
    (the network's parts as they are and the stacks they are split among, as `ecsup cost` reads
    them) and ``egress_live`` (the layout the live service has: engine.live_egress). A change that
    leaves a billed part behind (the parts stay until the network is deleted) is said in a note."""
    from .egress import observe
    from .network_sharing import network_sharing

    ctx.facts["network_sharing"] = network_sharing(ctx)
    found = observe(ctx, vpc_id)
    interface = [e for e in found.endpoints if e.get("VpcEndpointType") == "Interface"]
    live = _service_egress(ctx, found.nats, interface, found.eigws)
    if live is not None:
        ctx.facts["egress_live"] = live
    _kept_notes(ctx, live, len(found.nats), sum(len(e.get("SubnetIds") or []) for e in interface))


def _service_egress(ctx: Context, nats: list[Any], endpoints: list[Any], eigws: list[Any]) -> str | None:
    """The egress the stack's live service has: "public" with a public IP; else the private layout
    the network's parts give (the configured one when the network has its parts). None: no service."""
    n = ctx.names
    with doing(f"read the network configuration of service {n.service}"):
        try:
            services = ctx.client("ecs").describe_services(cluster=n.cluster, services=[n.service])["services"]
        except Exception as exc:
            if is_code(exc, "ClusterNotFoundException"):
                return None
            raise
    active = [s for s in services if s.get("status") == "ACTIVE"]
    if not active:
        return None
    vpc = (active[0].get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    if vpc.get("assignPublicIp") == "ENABLED":
        return "public"
    present = [mode for mode, parts in (("nat", nats), ("endpoints", endpoints), ("ipv6", eigws)) if parts]
    if _egress(ctx) in present:
        return _egress(ctx)
    return present[0] if present else None


def _kept_notes(ctx: Context, live: str | None, nats: int, endpoint_zones: int) -> None:
    """A change of egress away from "nat" or "endpoints" leaves the NAT gateway or the endpoints on
    the network, billed until the network is deleted: said, with their monthly cost."""
    from ..cost import HOURS_PER_MONTH
    from ..prices import UnknownRegion, shipped_prices

    if live is None or live == _egress(ctx):
        return
    try:
        prices = shipped_prices(ctx.region)
    except UnknownRegion:
        return
    name = _name(ctx)
    if live == "nat" and nats:
        monthly = nats * HOURS_PER_MONTH * (prices.nat_gateway_hour + prices.public_ipv4_hour)
        ctx.notes.append(
            f"the NAT gateway stays on network {name} (other stacks may use it) and bills ${monthly:,.2f} a month "
            "(with its Elastic IP) until the network is deleted"
        )
    if live == "endpoints" and endpoint_zones:
        monthly = endpoint_zones * HOURS_PER_MONTH * prices.vpc_endpoint_hour
        ctx.notes.append(
            f"the VPC interface endpoints stay on network {name} (other stacks may use them) and bill "
            f"${monthly:,.2f} a month until the network is deleted"
        )


class NetworkStep(Step):
    """[network] shared: the network found by its tags, or made (under its lock) by the first stack
    that names it; every stack records that it uses it; the last one out deletes it."""

    title = "network"
    reads = ()
    provides = ("vpc_id", "subnets", "alb_subnets")

    def plan(self, ctx: Context) -> list[Action]:
        from .egress import plan_egress

        name = _name(ctx)
        if not name:
            return []
        if _egress(ctx) == "public" and not ctx.config.network.assign_public_ip:
            raise ConfigError(
                [
                    (
                        "network.assign_public_ip",
                        f"is false, but on network {name} with the public egress the tasks are in public subnets, "
                        "where only a public IP lets them reach the internet (ECR, CloudWatch Logs): set it to true",
                    )
                ]
            )
        for network in sorted(_stale_markers(ctx)):
            ctx.conflicts.append(
                f"stack {ctx.names.stack} is on network {network}, not {name}: [network] shared cannot change in "
                f"place; run `ecsup destroy` with the config that names network {network} first, then create the "
                "stack with this one"
            )
        ipv6 = ctx.config.network.ipv6
        vpc = find_vpc(ctx, name)
        zones = fargate_zones(ctx)
        if vpc is None:
            cidr = ctx.config.network.cidr or choose_cidr(ctx)
            if ctx.config.network.cidr:
                block = ipaddress.ip_network(cidr)
                overlapping = [str(t) for t in _taken_blocks(ctx) if block.overlaps(t)]
                if overlapping:
                    ctx.notes.append(
                        f"network {name}: {cidr} overlaps {', '.join(overlapping)} of another VPC in {ctx.region} "
                        "(they cannot be peered)"
                    )
            _set_facts(ctx, None)
            detail = (
                f"VPC {network_vpc(name)} {cidr}{' + an Amazon-provided IPv6 /56' if ipv6 else ''}, public subnets "
                f"in {', '.join(z['ZoneName'] for z in zones)}, internet gateway, route 0.0.0.0/0"
                + (" and ::/0" if ipv6 else "")
                + "; shared by every stack naming it (this one first)"
            )
            egress = [_shown(a) for a in plan_egress(ctx, None, [])]
            return [Action("create", "network", name, detail, run=partial(self._ensure, ctx)), *egress]
        state = State(ctx, vpc)
        _set_facts(ctx, state)
        _cost_facts(ctx, vpc["VpcId"])
        changes = gaps(ctx, state, zones)
        if not _dns_hostnames(ctx, vpc["VpcId"]):
            changes.append(Change("DNS hostnames", "off", "on"))
        stacks = members(ctx)
        others = [s for s in stacks if s != ctx.names.stack]
        if ctx.names.stack not in stacks:
            joined = ", ".join(sorted([*stacks, ctx.names.stack]))
            changes.append(Change("stacks on it", ", ".join(stacks) or "-", joined))
        egress = [_shown(a) for a in plan_egress(ctx, vpc, state.public())]
        count = len(others) + 1
        detail = (
            f"{vpc['VpcId']} {vpc['CidrBlock']}{' ' + ipv6_block(vpc) if ipv6_block(vpc) else ''}: "
            f"{count} stack{'s' if count != 1 else ''} on it"
            + (f" (with {', '.join(others)})" if others else " (this one alone)")
        )
        if changes or any(a.mutates for a in egress):
            return [Action("update", "network", name, detail, changes, run=partial(self._ensure, ctx)), *egress]
        return [Action("noop", "network", name, detail), *egress]

    def _ensure(self, ctx: Context) -> str:
        """Under the network's lock: read again, make what is missing in a fixed order, then this
        stack's marker. A network another run made meanwhile is found, not made twice."""
        from .egress import ensure_egress

        name = _name(ctx)
        ec2 = ctx.client("ec2")
        made: list[str] = []
        with network_lock(ctx, "create"):
            vpc = find_vpc(ctx, name)
            if vpc is None:
                cidr = ctx.config.network.cidr or choose_cidr(ctx)
                with doing(f"create VPC {network_vpc(name)}"):
                    vpc = ec2.create_vpc(
                        CidrBlock=cidr,
                        AmazonProvidedIpv6CidrBlock=ctx.config.network.ipv6,
                        TagSpecifications=[{"ResourceType": "vpc", "Tags": network_tag_list(name, network_vpc(name))}],
                    )["Vpc"]
                made.append(f"VPC {vpc['VpcId']} {cidr}")
            vpc = self._available(ctx, vpc["VpcId"])
            vpc_id = vpc["VpcId"]
            if not _dns_hostnames(ctx, vpc_id):  # interface endpoints' private DNS needs them
                with doing(f"turn on DNS hostnames in {vpc_id}"):
                    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
            if ctx.config.network.ipv6 and not ipv6_block(vpc):
                if not any(
                    (a.get("Ipv6CidrBlockState") or {}).get("State") == "associating"
                    for a in vpc.get("Ipv6CidrBlockAssociationSet") or []
                ):
                    with doing(f"add an IPv6 block to {vpc_id}"):
                        ec2.associate_vpc_cidr_block(VpcId=vpc_id, AmazonProvidedIpv6CidrBlock=True)
                    made.append("IPv6 block")
                vpc = self._available(ctx, vpc_id, ipv6=True)
            state = State(ctx, vpc)
            made += self._gateway(ctx, state)
            state = State(ctx, vpc)
            made += self._subnets(ctx, state, fargate_zones(ctx))
            state = State(ctx, vpc)
            made += self._routes(ctx, state)
            state = State(ctx, vpc)
            tasks = ensure_egress(ctx, vpc_id, state.public())
            joined = _join(ctx)
        ctx.facts["vpc_id"] = vpc_id
        ctx.facts["subnets"] = sorted(tasks)
        ctx.facts["alb_subnets"] = _alb_subnets(ctx, sorted(s["SubnetId"] for s in state.public()))
        if made:
            return "created " + ", ".join(made)
        if joined:
            return f"joined (stack {ctx.names.stack} on it)"
        return f"{FOUND}: made by another stack meanwhile"

    def _available(self, ctx: Context, vpc_id: str, ipv6: bool = False) -> dict[str, Any]:
        """The VPC once ``available`` (CreateVpc answers ``pending``) and, with ``ipv6``, once its
        Amazon-provided block is associated (AssociateVpcCidrBlock answers ``associating``)."""
        found: dict[str, Any] = {}

        def ready() -> tuple[bool, str]:
            try:
                vpcs = ctx.client("ec2").describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
            except Exception as exc:
                if is_code(exc, "InvalidVpcID.NotFound"):  # eventually consistent right after CreateVpc
                    return False, "not visible yet"
                raise
            found.update(vpcs[0])
            if found.get("State") != "available":
                return False, str(found.get("State"))
            if ipv6 and not ipv6_block(found):
                return False, "IPv6 block associating"
            return True, "available"

        with doing(f"wait for VPC {vpc_id}"):
            waiting.poll(ctx, f"VPC {vpc_id} to be available", ready, ctx.timeouts.propagation, first=1.0, report=False)
        return found

    def _gateway(self, ctx: Context, state: State) -> list[str]:
        ec2 = ctx.client("ec2")
        name, vpc_id = state.name, state.vpc["VpcId"]
        made = []
        igw = state.igw()
        if igw is None:
            with doing(f"create the internet gateway of {network_vpc(name)}"):
                igw = ec2.create_internet_gateway(
                    TagSpecifications=[
                        {"ResourceType": "internet-gateway", "Tags": network_tag_list(name, network_vpc(name))}
                    ]
                )["InternetGateway"]
            made.append(f"internet gateway {igw['InternetGatewayId']}")
            state.igws = [igw]
        if not state.attached():
            with doing(f"attach {igw['InternetGatewayId']} to {vpc_id}"):
                ec2.attach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc_id)
        return made

    def _subnets(self, ctx: Context, state: State, zones: list[dict[str, Any]]) -> list[str]:
        ec2 = ctx.client("ec2")
        name, vpc = state.name, state.vpc
        ipv6 = ctx.config.network.ipv6
        made = []
        public = state.public()
        have = {s["AvailabilityZone"] for s in public}
        used = {_part_of(vpc, s) for s in state.subnets}
        for zone in zones:
            if zone["ZoneName"] in have:
                continue
            part = next(p for p in PUBLIC_PARTS if p not in used)
            used.add(part)
            v4, v6 = subnet_blocks(vpc, part)
            label = network_subnet(name, "public", zone["ZoneName"])
            with doing(f"create subnet {label}"):
                subnet = ec2.create_subnet(
                    VpcId=vpc["VpcId"],
                    AvailabilityZone=zone["ZoneName"],
                    CidrBlock=v4,
                    **({"Ipv6CidrBlock": v6} if ipv6 and v6 else {}),
                    TagSpecifications=[{"ResourceType": "subnet", "Tags": network_tag_list(name, label)}],
                )["Subnet"]
            public.append(subnet)
            made.append(f"subnet {label} {v4}")
        if ipv6:
            for subnet in sorted(public, key=lambda s: str(s["AvailabilityZone"])):
                sid = subnet["SubnetId"]
                if not _subnet_ipv6(subnet):
                    at = _part_of(vpc, subnet)
                    _, v6 = subnet_blocks(vpc, at if at is not None else 0)
                    with doing(f"add an IPv6 block to {sid}"):
                        ec2.associate_subnet_cidr_block(SubnetId=sid, Ipv6CidrBlock=v6)
                if not subnet.get("AssignIpv6AddressOnCreation"):
                    with doing(f"assign IPv6 addresses in {sid}"):
                        ec2.modify_subnet_attribute(SubnetId=sid, AssignIpv6AddressOnCreation={"Value": True})
        return made

    def _routes(self, ctx: Context, state: State) -> list[str]:
        ec2 = ctx.client("ec2")
        name, vpc_id = state.name, state.vpc["VpcId"]
        igw = state.igw()
        assert igw is not None
        igw_id = igw["InternetGatewayId"]
        made = []
        table = state.table()
        if table is None:
            with doing(f"create route table {network_vpc(name)}-public"):
                table = ec2.create_route_table(
                    VpcId=vpc_id,
                    TagSpecifications=[
                        {"ResourceType": "route-table", "Tags": network_tag_list(name, f"{network_vpc(name)}-public")}
                    ],
                )["RouteTable"]
            made.append(f"route table {table['RouteTableId']}")
        table_id = table["RouteTableId"]
        for dest in ["0.0.0.0/0"] + (["::/0"] if ctx.config.network.ipv6 else []):
            key = "DestinationIpv6CidrBlock" if ":" in dest else "DestinationCidrBlock"
            if _route_ok(table, igw_id, key, dest):
                continue
            call = ec2.replace_route if _has_route(table, key, dest) else ec2.create_route
            with doing(f"route {dest} to {igw_id} in {table_id}"):
                call(RouteTableId=table_id, GatewayId=igw_id, **{key: dest})
        for subnet in state.public():
            if not _associated(table, subnet["SubnetId"]):
                with doing(f"associate {subnet['SubnetId']} with {table_id}"):
                    ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet["SubnetId"])
        return made

    # -- leaving ---------------------------------------------------------------------------
    def plan_destroy(self, ctx: Context) -> list[Action]:
        """This stack's leave of the configured network, and of any network it was on before
        ([network] shared changed: its marker there is removed, or that network's last stack would
        keep it, and its bill, forever)."""
        stale = [replace(a, after=_inside_refs(ctx)) for a in _stale_actions(ctx)]
        return [*stale, *self._plan_leave(ctx)]

    def _plan_leave(self, ctx: Context) -> list[Action]:
        from .egress import plan_delete_egress

        name = _name(ctx)
        if not name:
            return []
        vpc = find_vpc(ctx, name)
        if vpc is None:
            left = _left_behind(ctx)
            if not left:
                return []
            # a destroy that died after deleting the network, before releasing its lock (or, earlier,
            # before this stack's marker went): nothing else would ever remove them
            return [
                Action(
                    "delete",
                    "network",
                    name,
                    f"already deleted; what an interrupted run left: {', '.join(left)}",
                    run=partial(self._forget, ctx),
                    after=_inside_refs(ctx),
                )
            ]
        state = State(ctx, vpc)
        _set_facts(ctx, state)
        stacks = members(ctx)
        others = [s for s in stacks if s != ctx.names.stack]
        if others and ctx.names.stack not in stacks:
            return [Action("keep", "network", name, f"{vpc['VpcId']}: other stacks use it ({', '.join(others)})")]
        egress = ", ".join(a.ref for a in plan_delete_egress(ctx, vpc["VpcId"]) if a.mutates)
        detail = (
            f"{vpc['VpcId']}: only if no other stack uses it and nothing ecsup does not own is inside (decided "
            "under its lock)" + (f"; now: {', '.join(others)}" if others else "; this is the last stack on it")
        )
        if egress and not others:
            detail += f"; with {egress}"
        return [Action("delete", "network", name, detail, run=partial(self._leave, ctx), after=_inside_refs(ctx))]

    def _forget(self, ctx: Context) -> str:
        """The network is gone: this stack's marker goes, and its lock, taken (a dead run's is taken
        over) and released (deleted)."""
        with network_lock(ctx, "destroy"):
            _leave_marker(ctx)
        return "deleted what an interrupted run left (the network itself was gone)"

    def _leave(self, ctx: Context) -> str:
        """Under the network's lock: remove this stack's marker; the last stack out deletes the
        network, unless something ecsup does not own is inside (then it says what, and keeps it)."""
        name = _name(ctx)
        with network_lock(ctx, "destroy"):
            _leave_marker(ctx)
            vpc = find_vpc(ctx, name)
            if vpc is None:
                return "already gone"
            others = members(ctx)
            if others:
                return f"kept: {', '.join(others)} {'uses' if len(others) == 1 else 'use'} it"
            inside = foreign_inside(ctx, vpc)
            if inside:
                return (
                    f"kept: {'; '.join(inside)} inside {vpc['VpcId']} {'is' if len(inside) == 1 else 'are'} not "
                    f"ecsup's network {name}'s: remove {'it' if len(inside) == 1 else 'them'} and run "
                    "`ecsup destroy` again to delete the network"
                )
            delete_network(ctx, vpc)
        return f"deleted (the last stack left it): {vpc['VpcId']}, its subnets, route table and internet gateway"


def _shown(action: Action) -> Action:
    """egress's planned actions, shown in the plan: the network's own action makes them
    (ensure_egress), so they carry no run of their own."""
    from dataclasses import replace

    return replace(action, run=None)


def _dns_hostnames(ctx: Context, vpc_id: str) -> bool:
    with doing(f"read the DNS hostnames attribute of {vpc_id}"):
        found = ctx.client("ec2").describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
    return bool((found.get("EnableDnsHostnames") or {}).get("Value"))


def _inside_refs(ctx: Context) -> tuple[str, ...]:
    """Every deletion of the stack whose resource lives in the network (destroy's ``after``)."""
    from .workloads import worker_service_refs

    n = ctx.names
    refs = [
        service_ref(ctx),
        *worker_service_refs(ctx),
        f"security group {n.sg_tasks}",
        f"security group {n.own_sg_alb}",
        f"load balancer {n.own_alb}",
        load_balancer_ref(ctx),
    ]
    if n.shared:
        refs.append(f"security group {n.sg_alb}")  # an interrupted leave of the shared load balancer
    return tuple(dict.fromkeys(refs))


def foreign_inside(ctx: Context, vpc: dict[str, Any]) -> list[str]:
    """What is in the VPC that ecsup's network does not own: instances, network interfaces (but
    those of egress's own NAT gateway and endpoints), security groups (but the default one and the
    network's), subnets, route tables (but the main one), NAT gateways and endpoints not tagged as
    the network's. Read in a fixed order."""
    name = _name(ctx)
    vpc_id = vpc["VpcId"]
    out: list[str] = []
    with doing(f"look for what else is inside {vpc_id}"):
        instances = [
            i
            for r in _paginate(
                ctx,
                "describe_instances",
                "Reservations",
                Filters=[
                    *_in_vpc(vpc_id),
                    {
                        "Name": "instance-state-name",
                        "Values": ["pending", "running", "shutting-down", "stopping", "stopped"],
                    },
                ],
            )
            for i in r.get("Instances", [])
        ]
        out += [f"instance {i['InstanceId']}" for i in instances]
        nats = [
            g
            for g in _paginate(ctx, "describe_nat_gateways", "NatGateways", Filters=_in_vpc(vpc_id))
            if g.get("State") not in ("deleted", "deleting") and not owns_network(name, tag_dict(g.get("Tags")))
        ]
        out += [f"NAT gateway {g['NatGatewayId']}" for g in nats]
        endpoints = [
            e
            for e in _paginate(ctx, "describe_vpc_endpoints", "VpcEndpoints", Filters=_in_vpc(vpc_id))
            if str(e.get("State", "")).lower() not in ("deleted", "deleting")
            and not owns_network(name, tag_dict(e.get("Tags")))
        ]
        out += [f"VPC endpoint {e['VpcEndpointId']} ({e.get('ServiceName')})" for e in endpoints]
        interfaces = _paginate(ctx, "describe_network_interfaces", "NetworkInterfaces", Filters=_in_vpc(vpc_id))
        out += [
            f"network interface {e['NetworkInterfaceId']}" + (f" ({e['Description']})" if e.get("Description") else "")
            for e in interfaces
            if e.get("InterfaceType") not in EGRESS_INTERFACES
        ]
        groups = _paginate(ctx, "describe_security_groups", "SecurityGroups", Filters=_in_vpc(vpc_id))
        for g in groups:
            tags = tag_dict(g.get("Tags"))
            if g.get("GroupName") == "default" or owns_network(name, tags):
                continue
            whose = f", stack {tags[TAG_APP]}-{tags[TAG_ENV]}'s" if tags.get(TAG_APP) and tags.get(TAG_ENV) else ""
            out.append(f"security group {g['GroupName']} ({g['GroupId']}{whose})")
        state = State(ctx, vpc)
        out += [f"subnet {s['SubnetId']}" for s in state.subnets if not owns_network(name, tag_dict(s.get("Tags")))]
        out += [
            f"route table {t['RouteTableId']}"
            for t in state.tables
            if not any(a.get("Main") for a in t.get("Associations", []))
            and not owns_network(name, tag_dict(t.get("Tags")))
        ]
    return out


def delete_network(ctx: Context, vpc: dict[str, Any]) -> None:
    """In AWS's order: what egress made (endpoints, NAT gateway: delete_egress), the subnets, the
    route table, the internet gateway (detached first), the VPC -- each retried while AWS answers
    DependencyViolation (network interfaces being released take minutes)."""
    from .egress import delete_egress

    ec2 = ctx.client("ec2")
    vpc_id = vpc["VpcId"]
    delete_egress(ctx, vpc_id)
    state = State(ctx, vpc)
    # the subnets' route table associations first (moto keeps those of a deleted subnet, which
    # then hold its route table: DependencyViolation; disassociating first is as good on AWS)
    for table in sorted(state.tables, key=lambda t: str(t["RouteTableId"])):
        for assoc in table.get("Associations", []):
            if assoc.get("Main") or not assoc.get("SubnetId"):
                continue
            aid = assoc["RouteTableAssociationId"]
            _retry_gone(
                ctx,
                f"disassociate {assoc['SubnetId']} from {table['RouteTableId']}",
                "InvalidAssociationID.NotFound",
                ec2.disassociate_route_table,
                AssociationId=aid,
            )
    for subnet in sorted(state.subnets, key=lambda s: str(s["SubnetId"])):
        sid = subnet["SubnetId"]
        _retry_gone(ctx, f"delete subnet {sid}", "InvalidSubnetID.NotFound", ec2.delete_subnet, SubnetId=sid)
    for table in sorted(state.tables, key=lambda t: str(t["RouteTableId"])):
        if any(a.get("Main") for a in table.get("Associations", [])):
            continue  # the main one goes with the VPC
        _retry_gone(
            ctx,
            f"delete route table {table['RouteTableId']}",
            "InvalidRouteTableID.NotFound",
            ec2.delete_route_table,
            RouteTableId=table["RouteTableId"],
        )
    for igw in sorted(state.igws, key=lambda g: str(g["InternetGatewayId"])):
        gid = igw["InternetGatewayId"]
        for attachment in igw.get("Attachments", []):
            _retry_gone(
                ctx,
                f"detach {gid} from {attachment['VpcId']}",
                "Gateway.NotAttached",
                ec2.detach_internet_gateway,
                InternetGatewayId=gid,
                VpcId=attachment["VpcId"],
            )
        _retry_gone(
            ctx,
            f"delete internet gateway {gid}",
            "InvalidInternetGatewayID.NotFound",
            ec2.delete_internet_gateway,
            InternetGatewayId=gid,
        )
    for group in sorted(
        _paginate(ctx, "describe_security_groups", "SecurityGroups", Filters=_in_vpc(vpc_id)),
        key=lambda g: str(g["GroupId"]),
    ):
        if group.get("GroupName") != "default" and owns_network(state.name, tag_dict(group.get("Tags"))):
            # the network's own (an endpoints' group egress left): the default one goes with the VPC
            _retry_gone(
                ctx,
                f"delete security group {group['GroupId']}",
                "InvalidGroup.NotFound",
                ec2.delete_security_group,
                GroupId=group["GroupId"],
            )
    _retry_gone(ctx, f"delete VPC {vpc_id}", "InvalidVpcID.NotFound", ec2.delete_vpc, VpcId=vpc_id)


def _retry_gone(ctx: Context, what: str, gone: str, call: Any, **params: Any) -> None:
    """One deletion: "already gone" is done; DependencyViolation is retried (bounded) while what
    held the resource is released."""

    def attempt() -> None:
        try:
            call(**params)
        except Exception as exc:
            if not is_code(exc, gone):
                raise

    with doing(what):
        waiting.retry(
            ctx,
            f"{what}: its dependencies to be released",
            attempt,
            lambda e: is_code(e, "DependencyViolation"),
            ctx.timeouts.release,
            first=1.0,
            cap=15.0,
        )
