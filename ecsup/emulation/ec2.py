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


# -- EC2: ecsup's own network (steps/vpc.py) ---------------------------------------------------
def vpc_with_dependencies_is_a_dependency_violation(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """DeleteVpc: "DependencyViolation: The vpc 'vpc-...' has dependencies and cannot be deleted."
    while anything but its default security group, main route table and default network ACL is in
    it (EC2 API reference, DeleteVpc: "You must detach or delete all gateways and resources that
    are associated with the VPC before you can delete it ... delete all security groups associated
    with the VPC (except the default one), delete all route tables associated with the VPC (except
    the default one)"; the message: repost.aws knowledge-center troubleshoot-dependency-error-delete-vpc).
    moto refuses subnets and extra route tables, not an attached internet gateway, other security
    groups or network interfaces."""
    vpc_id = resp._get_param("VpcId")
    ec2 = _ec2(resp.current_account, resp.region)
    if vpc_id in ec2.vpcs:
        attached = any(igw.vpc is not None and igw.vpc.id == vpc_id for igw in ec2.internet_gateways.values())
        groups = any(
            g.vpc_id == vpc_id and g.name != "default" for groups in ec2.groups.values() for g in groups.values()
        )
        interfaces = any(eni.subnet.vpc_id == vpc_id for eni in ec2.enis.values())
        if attached or groups or interfaces:
            raise AwsFault("DependencyViolation", f"The vpc '{vpc_id}' has dependencies and cannot be deleted.")
    return proceed()


def subnet_with_interfaces_is_a_dependency_violation(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """DeleteSubnet: "DependencyViolation: The subnet 'subnet-...' has dependencies and cannot be
    deleted." while a network interface is in it (terraform-aws-modules/terraform-aws-vpc#1081,
    hashicorp/terraform#6318: an ELB's interface still in it; gruntwork-io/cloud-nuke#285: VPC
    endpoints'). moto deletes it."""
    subnet_id = resp._get_param("SubnetId")
    ec2 = _ec2(resp.current_account, resp.region)
    if any(eni.subnet.id == subnet_id for eni in ec2.enis.values()):
        raise AwsFault("DependencyViolation", f"The subnet '{subnet_id}' has dependencies and cannot be deleted.")
    return proceed()


def attached_internet_gateway_is_a_dependency_violation(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """DeleteInternetGateway while attached: "DependencyViolation: The internetGateway 'igw-...' has
    dependencies and cannot be deleted." (giantswarm/aws-operator#109; the EC2 API reference,
    DeleteInternetGateway: "You must detach the internet gateway from the VPC before you can delete
    it"). moto refuses it too, with another message: AWS's is kept here whatever moto does."""
    gid = resp._get_param("InternetGatewayId")
    igw = _ec2(resp.current_account, resp.region).internet_gateways.get(gid)
    if igw is not None and igw.vpc is not None:
        raise AwsFault("DependencyViolation", f"The internetGateway '{gid}' has dependencies and cannot be deleted.")
    return proceed()


def _subnet_ipv6_associations(self: Any) -> list[dict[str, Any]]:
    """A subnet's IPv6 blocks as AWS describes them: Ipv6CidrBlockState {"State": "associated"}
    (moto 5 nests its own dict under "state", which reaches the client as the string
    "{'State': 'associated'}")."""
    return [
        {
            "ipv6CidrBlock": a["ipv6CidrBlock"],
            "associationId": a["associationId"],
            "ipv6CidrBlockState": {"state": a["ipv6CidrBlockState"]["State"]},
        }
        for a in self.ipv6_cidr_block_associations.values()
        if a["ipv6CidrBlockState"]["State"] == "associated"
    ]


def install(around: Callable[..., None]) -> None:
    from moto.ec2.models.vpcs import VPCBackend
    from moto.ec2.responses import EC2Response as EC2

    around(VPCBackend, "create_default_vpc", default_vpc_has_an_internet_gateway, always=True)
    around(EC2, "delete_security_group", security_group_in_use_is_a_dependency_violation)
    around(EC2, "authorize_security_group_ingress", ingress_rules_in_no_promised_order)
    around(EC2, "delete_vpc", vpc_with_dependencies_is_a_dependency_violation)
    around(EC2, "delete_subnet", subnet_with_interfaces_is_a_dependency_violation)
    around(EC2, "delete_internet_gateway", attached_internet_gateway_is_a_dependency_violation)
    from moto.ec2.models.subnets import Subnet

    Subnet.ipv6_cidr_block_association_set = property(_subnet_ipv6_associations)  # type: ignore[assignment,method-assign]
