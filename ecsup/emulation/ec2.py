"""EC2: the shape of an account (a default VPC with an internet gateway, as AWS's) and security
groups that stay in use while network interfaces are released."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import (
    AwsFault,
    Emulation,
    _ec2,
    _ecs,
    _elbv2,
    _settled,
    _state,
)
from .ecs import _service_groups, advance_draining


# -- EC2: the account's shape --------------------------------------------------------------
def default_vpc_has_an_internet_gateway(em: Emulation, backend: Any, proceed: Callable[[], Any]) -> Any:
    """AWS's default VPC comes with an internet gateway and a main route table sending
    0.0.0.0/0 to it (VPC User Guide, "Default VPCs"); moto's has only the local route."""
    vpc = proceed()
    igw = backend.create_internet_gateway()
    backend.attach_internet_gateway(igw.id, vpc.id)
    main = backend.describe_route_tables(filters={"vpc-id": [vpc.id], "association.main": ["true"]})
    for table in main:
        backend.create_route(table.id, "0.0.0.0/0", gateway_id=igw.id)
    return vpc


def route_table_of(ec2: Any, subnet: Any) -> Any:
    """The subnet's own route table, else its VPC's main one (as EC2 routes)."""
    own = ec2.describe_route_tables(filters={"association.subnet-id": [subnet.id]})
    if own:
        return own[0]
    main = ec2.describe_route_tables(filters={"vpc-id": [subnet.vpc_id], "association.main": ["true"]})
    return main[0] if main else None


def routes_to_internet_gateway(table: Any) -> bool:
    return table is not None and any(
        r.destination_cidr_block == "0.0.0.0/0" and r.gateway is not None and str(r.gateway.id).startswith("igw-")
        for r in table.routes
    )


# -- EC2 ----------------------------------------------------------------------------------
def security_group_in_use_is_a_dependency_violation(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """DeleteSecurityGroup: "DependencyViolation: resource sg-... has a dependent object"
    while a load balancer, a service's tasks or another group's rule use it, and while the
    network interfaces of deleted ones are released (lianghong/delete_vpc#10)."""
    gid = resp._get_param("GroupId")
    account, region = resp.current_account, resp.region
    if gid:
        in_use = any(gid in (lb.security_groups or []) for lb in _elbv2(account, region).load_balancers.values())
        ecs = _ecs(account, region)
        advance_draining(em, ecs)
        in_use = in_use or any(
            gid in _service_groups(svc) for svc in ecs.services.values() if svc.status in ("ACTIVE", "DRAINING")
        )
        ec2 = _ec2(account, region)
        in_use = in_use or any(
            rule.source_group.get("GroupId") == gid
            for groups in ec2.groups.values()
            for group in groups.values()
            if group.id != gid
            for rule in [*group.ingress_rules, *group.egress_rules]
        )
        released_at = _state(ec2, "released").get(gid)
        if in_use or not _settled(em, released_at, em.delays.eni_release):
            raise AwsFault("DependencyViolation", f"resource {gid} has a dependent object")
    return proceed()


def ingress_rules_in_no_promised_order(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    result = proceed()
    gid = resp._get_param("GroupId")
    group = _ec2(resp.current_account, resp.region).get_security_group_from_id(gid) if gid else None
    if group is not None:
        group.ingress_rules.reverse()
    return result


def _subnet_ipv6_associations_as_aws(original: Any) -> Any:
    """DescribeSubnets' Ipv6CidrBlockAssociationSet[].Ipv6CidrBlockState.State: "associated" on AWS;
    moto 5.2 answers the whole state dict as a string ("{'State': 'associated'}"). With the
    emulation active, the field is AWS's shape."""

    def associations(subnet: Any) -> Any:
        from . import ACTIVE

        if ACTIVE is None:
            return original.fget(subnet)
        return [
            {
                "ipv6CidrBlock": a["ipv6CidrBlock"],
                "associationId": a["associationId"],
                "ipv6CidrBlockState": {"state": (a.get("ipv6CidrBlockState") or {}).get("State")},
            }
            for a in subnet.ipv6_cidr_block_associations.values()
            if (a.get("ipv6CidrBlockState") or {}).get("State") == "associated"
        ]

    return property(associations)


def install(around: Callable[..., None]) -> None:
    from moto.ec2.models.subnets import Subnet
    from moto.ec2.models.vpcs import VPCBackend
    from moto.ec2.responses import EC2Response as EC2

    Subnet.ipv6_cidr_block_association_set = _subnet_ipv6_associations_as_aws(  # type: ignore[method-assign]
        Subnet.ipv6_cidr_block_association_set
    )
    around(VPCBackend, "create_default_vpc", default_vpc_has_an_internet_gateway, always=True)
    around(EC2, "delete_security_group", security_group_in_use_is_a_dependency_violation)
    around(EC2, "authorize_security_group_ingress", ingress_rules_in_no_promised_order)
