"""For `ecsup cost`: how many stacks share ecsup's own network ([network] shared), whose NAT gateway
and VPC endpoints are split among them as a shared load balancer's hours are (cost.Sharing).

The network is found by its tag (``ecsup:network`` = its name, on everything of the network); the
stacks on it by their tasks' security groups in its VPC (``<app>-<env>-tasks``, tagged
``ecsup:app`` / ``ecsup:env``): each stack on the network has one. Read-only."""

from __future__ import annotations

from ..context import Context
from ..cost import Sharing
from ..errors import doing, is_code
from ..names import TAG_APP, TAG_ENV, tag_dict

TAG_NETWORK = "ecsup:network"  # the network's tag (names.py's network_tags writes it)
NETWORK = "ecsup's network"


def network_name(ctx: Context) -> str:
    return str(getattr(ctx.config.network, "shared", "") or "")


def network_sharing(ctx: Context, offline: bool = False) -> Sharing | None:
    """The network's shared parts as they are -- its NAT gateways and interface endpoints (a
    layout's parts are kept until the network is deleted, whichever stack made them) -- and the
    stacks they are split among: the private ones on the network (egress other than "public": their
    tasks have no public IP, they are the ones the NAT gateway and endpoints serve), or every stack
    on it when none is private. This stack counts as its config says. None without [network]
    shared. Offline, or before the network exists: this stack alone, its parts as configured."""
    from .egress import observe

    name = network_name(ctx)
    if not name:
        return None
    if offline:
        return Sharing(name, 1, known=False, what=NETWORK)
    ec2 = ctx.client("ec2")
    with doing(f"look up ecsup's network {name}"):
        vpcs = ec2.describe_vpcs(Filters=[{"Name": f"tag:{TAG_NETWORK}", "Values": [name]}])["Vpcs"]
    if not vpcs:
        return Sharing(name, 1, what=NETWORK)
    vpc_id = vpcs[0]["VpcId"]
    stacks: set[str] = set()
    with doing(f"list the stacks on network {name}"):
        pages = ec2.get_paginator("describe_security_groups").paginate(
            Filters=[
                {"Name": "vpc-id", "Values": [vpc_id]},
                {"Name": "tag-key", "Values": [TAG_APP]},
            ]
        )
        for page in pages:
            for group in page["SecurityGroups"]:
                tags = tag_dict(group.get("Tags"))
                if tags.get(TAG_APP) and tags.get(TAG_ENV) and str(group.get("GroupName", "")).endswith("-tasks"):
                    stacks.add(f"{tags[TAG_APP]}-{tags[TAG_ENV]}")
    others = sorted(stacks - {ctx.names.stack})
    private = [s for s in others if not _public(ctx, s)]
    me_private = ctx.config.network.egress != "public"
    if private or me_private:
        among = tuple(private)
        count = len(private) + (1 if me_private else 0)
    else:
        among, count = tuple(others), len(others) + 1
    if private and not me_private:  # the private stacks pay for the parts: this one none of them
        return Sharing(name, count, among, what=NETWORK, nats=0)
    found = observe(ctx, vpc_id)
    interface = [e for e in found.endpoints if e.get("VpcEndpointType") == "Interface"]
    return Sharing(
        name,
        max(count, 1),
        among,
        what=NETWORK,
        nats=len(found.nats),
        endpoints=tuple(sorted(str(e.get("ServiceName", "")).rsplit(f"{ctx.region}.", 1)[-1] for e in interface)),
        endpoint_zones=sum(len(e.get("SubnetIds") or []) for e in interface),
    )


def _public(ctx: Context, stack: str) -> bool:
    """Whether a stack's tasks have a public IP (egress = "public"; its cluster and service are
    named after it): a stack with no service is counted as private (it may still use the parts)."""
    with doing(f"read the network configuration of stack {stack}"):
        try:
            services = ctx.client("ecs").describe_services(cluster=stack, services=[stack])["services"]
        except Exception as exc:
            if is_code(exc, "ClusterNotFoundException"):
                return False
            raise
    for service in services:
        if service.get("status") == "ACTIVE":
            vpc = (service.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
            return vpc.get("assignPublicIp") == "ENABLED"
    return False
