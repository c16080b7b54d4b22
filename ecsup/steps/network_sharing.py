"""For `ecsup cost`: how many stacks share ecsup's own network ([network] shared), whose NAT gateway
and VPC endpoints are split among them as a shared load balancer's hours are (cost.Sharing).

The network is found by its tag (``ecsup:network`` = its name, on everything of the network); the
stacks on it by their tasks' security groups in its VPC (``<app>-<env>-tasks``, tagged
``ecsup:app`` / ``ecsup:env``): each stack on the network has one. Read-only."""

from __future__ import annotations

from ..context import Context
from ..cost import Sharing
from ..errors import doing
from ..names import TAG_APP, TAG_ENV, tag_dict

TAG_NETWORK = "ecsup:network"  # the network's tag (names.py's network_tags writes it)
NETWORK = "ecsup's network"


def network_name(ctx: Context) -> str:
    return str(getattr(ctx.config.network, "shared", "") or "")


def network_sharing(ctx: Context, offline: bool = False) -> Sharing | None:
    """The stacks on the network (this one counted whether or not it is on it yet); None without
    [network] shared. Offline, or before the network exists: this stack alone (said when unknown)."""
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
    stacks: set[str] = set()
    with doing(f"list the stacks on network {name}"):
        pages = ec2.get_paginator("describe_security_groups").paginate(
            Filters=[
                {"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]},
                {"Name": "tag-key", "Values": [TAG_APP]},
            ]
        )
        for page in pages:
            for group in page["SecurityGroups"]:
                tags = tag_dict(group.get("Tags"))
                if tags.get(TAG_APP) and tags.get(TAG_ENV) and str(group.get("GroupName", "")).endswith("-tasks"):
                    stacks.add(f"{tags[TAG_APP]}-{tags[TAG_ENV]}")
    others = tuple(sorted(stacks - {ctx.names.stack}))
    return Sharing(name, len(others) + 1, others, what=NETWORK)
