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
    # ecsup's own network (steps/vpc.py)
    around(EC2, "delete_vpc", vpc_with_dependencies_is_a_dependency_violation)
    around(EC2, "delete_subnet", subnet_with_interfaces_is_a_dependency_violation)
    around(EC2, "delete_internet_gateway", attached_internet_gateway_is_a_dependency_violation)
    install_egress(around)


# -- EC2: what the egress layouts make (steps/egress.py) -----------------------------------------
def nat_gateway_is_pending_at_first(
    em: Emulation, backend: Any, proceed: Callable[[], Any], *args: Any, **kw: Any
) -> Any:
    """CreateNatGateway answers "pending"; the gateway is "available" a minute or more later (EC2 API
    reference, NatGateway: pending | failed | available | deleting | deleted). moto: available at once."""
    nat = proceed()
    nat.state = "pending"
    # its network interface is AWS's "nat_gateway" type (DescribeNetworkInterfaces InterfaceType;
    # EC2 API reference, NetworkInterface); moto's is a plain "interface", as if a user had made it
    eni = getattr(nat, "_eni", None)
    if eni is not None:
        eni.interface_type = "nat_gateway"
    _state(backend, "nat_gateway_since")[nat.id] = em.now()
    return nat


def nat_gateway_takes_time_to_go(em: Emulation, backend: Any, proceed: Callable[[], Any], *args: Any, **kw: Any) -> Any:
    """DeleteNatGateway answers "deleting"; "deleted" comes later, and until then the gateway keeps its
    network interface (its subnet cannot be deleted) and its Elastic IP (eformat/sno-for-100#5). moto:
    "deleted" at once, and its interface and address association stay for ever."""
    nat = proceed()
    nat.state = "deleting"
    _state(backend, "nat_gateway_since")[nat.id] = em.now()
    return nat


def nat_gateways_settle(em: Emulation, backend: Any, proceed: Callable[[], Any], *args: Any, **kw: Any) -> Any:
    """DescribeNatGateways: pending -> available, deleting -> deleted (its interface and address let go)
    once nat_gateway seconds have passed."""
    since = _state(backend, "nat_gateway_since")
    for nat in list(backend.nat_gateways.values()):
        if nat.state not in ("pending", "deleting") or not _settled(em, since.get(nat.id), em.delays.nat_gateway):
            continue
        if nat.state == "pending":
            nat.state = "available"
            continue
        nat.state = "deleted"
        eni = getattr(nat, "_eni", None)
        for address in list(backend.addresses):
            if eni is not None and address.eni is eni:
                address.eni = None
                address.association_id = None
        if eni is not None:
            backend.enis.pop(eni.id, None)
    return proceed()


def _nat_gateways(em: Emulation, ec2: Any) -> list[Any]:
    """The NAT gateways, their states advanced to now first (nat_gateways_settle)."""
    nat_gateways_settle(em, ec2, lambda: None)
    return list(ec2.nat_gateways.values())


def address_held_by_a_nat_gateway_is_not_released(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """ReleaseAddress of an Elastic IP a NAT gateway still holds (any state before "deleted"):
    "AuthFailure: You do not have permission to access the specified resource." (eformat/sno-for-100#5,
    #9); of one associated with anything else: InvalidIPAddress.InUse. moto releases it."""
    allocation = resp._get_param("AllocationId")
    ec2 = _ec2(resp.current_account, resp.region)
    address = next((a for a in ec2.addresses if allocation and a.allocation_id == allocation), None)
    if address is not None:
        held = [
            n
            for n in _nat_gateways(em, ec2)
            if n.state != "deleted" and any(a.get("allocationId") == allocation for a in n.address_set)
        ]
        if held:
            raise AwsFault("AuthFailure", "You do not have permission to access the specified resource.")
        if address.eni is not None or address.instance is not None:
            raise AwsFault("InvalidIPAddress.InUse", f"Address {address.public_ip} is in use.")
    return proceed()


def subnet_with_gateways_or_endpoints_is_a_dependency_violation(
    em: Emulation, resp: Any, proceed: Callable[[], Any]
) -> Any:
    """DeleteSubnet of a subnet a NAT gateway (not yet "deleted") or an interface VPC endpoint (not yet
    gone) still has network interfaces in: "DependencyViolation: The subnet '...' has dependencies and
    cannot be deleted." (EC2 API reference, DeleteSubnet: "You must terminate all running instances in
    the subnet before you can delete the subnet"; terraform-provider-aws retries it). moto deletes it."""
    subnet_id = resp._get_param("SubnetId")
    ec2 = _ec2(resp.current_account, resp.region)
    nats = [n for n in _nat_gateways(em, ec2) if n.subnet_id == subnet_id and n.state != "deleted"]
    endpoints = [
        e
        for e in ec2.vpc_end_points.values()
        if subnet_id in (e.subnet_ids or []) and str(e.state).lower() != "deleted"
    ]
    if nats or endpoints:
        raise AwsFault("DependencyViolation", f"The subnet '{subnet_id}' has dependencies and cannot be deleted.")
    return proceed()


def vpc_endpoint_takes_time_to_go(
    em: Emulation, backend: Any, proceed: Callable[[], Any], *args: Any, **kw: Any
) -> Any:
    """DeleteVpcEndpoints: an interface endpoint is "deleting" for a while (its network interfaces still
    in its subnets); moto: "deleted" at once."""
    ids = kw.get("vpce_ids", args[0] if args else None) or []
    result = proceed()
    since = _state(backend, "vpc_endpoint_deleting")
    for vpce_id in ids:
        endpoint = backend.vpc_end_points.get(vpce_id)
        if endpoint is not None and str(endpoint.vpc_endpoint_type).lower() == "interface":
            endpoint.state = "deleting"
            since[vpce_id] = em.now()
    return result


def vpc_endpoints_settle(em: Emulation, backend: Any, proceed: Callable[[], Any], *args: Any, **kw: Any) -> Any:
    since = _state(backend, "vpc_endpoint_deleting")
    for vpce_id, at in list(since.items()):
        endpoint = backend.vpc_end_points.get(vpce_id)
        if endpoint is not None and endpoint.state == "deleting" and _settled(em, at, em.delays.vpc_endpoint_deleting):
            endpoint.state = "deleted"
            since.pop(vpce_id)
    return proceed()


def private_dns_needs_the_vpcs_dns_attributes(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """CreateVpcEndpoint of an interface endpoint with private DNS (AWS's default for AWS services) in a
    VPC without enableDnsSupport and enableDnsHostnames: refused, InvalidParameter (VPC User Guide,
    "DNS attributes for your VPC": private DNS of interface endpoints needs both; terraform-community-
    modules/tf_aws_vpc#6). moto creates it, and resolves nothing either way."""
    if str(resp._get_param("VpcEndpointType") or "Gateway").lower() == "interface" and resp._get_bool_param(
        "PrivateDnsEnabled", if_none=True
    ):
        vpc_id = resp._get_param("VpcId")
        vpc = _ec2(resp.current_account, resp.region).vpcs.get(vpc_id)
        on = [str(v).lower() == "true" for v in (vpc.enable_dns_support, vpc.enable_dns_hostnames)] if vpc else []
        if vpc is not None and not all(on):  # moto keeps a modified attribute as the request's "true"/"false"
            raise AwsFault(
                "InvalidParameter",
                "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set "
                f"to true for {vpc_id}",
            )
    return proceed()


def endpoint_interfaces_are_the_vpc_endpoint_type(
    em: Emulation, backend: Any, proceed: Callable[[], Any], *args: Any, **kw: Any
) -> Any:
    """An interface endpoint's network interfaces are AWS's "vpc_endpoint" type (DescribeNetworkInterfaces
    InterfaceType; EC2 API reference, NetworkInterface); moto's are plain "interface", as if a user had
    made them."""
    endpoint = proceed()
    for eni_id in getattr(endpoint, "network_interface_ids", None) or []:
        eni = backend.enis.get(eni_id)
        if eni is not None:
            eni.interface_type = "vpc_endpoint"
    return endpoint


def install_egress(around: Callable[..., None]) -> None:
    from moto.ec2.models.nat_gateways import NatGatewayBackend
    from moto.ec2.models.vpcs import VPCBackend
    from moto.ec2.responses import EC2Response as EC2

    around(NatGatewayBackend, "create_nat_gateway", nat_gateway_is_pending_at_first)
    around(NatGatewayBackend, "delete_nat_gateway", nat_gateway_takes_time_to_go)
    around(NatGatewayBackend, "describe_nat_gateways", nat_gateways_settle)
    around(EC2, "release_address", address_held_by_a_nat_gateway_is_not_released)
    around(EC2, "delete_subnet", subnet_with_gateways_or_endpoints_is_a_dependency_violation)
    around(VPCBackend, "create_vpc_endpoint", endpoint_interfaces_are_the_vpc_endpoint_type)
    around(VPCBackend, "delete_vpc_endpoints", vpc_endpoint_takes_time_to_go)
    around(VPCBackend, "describe_vpc_endpoints", vpc_endpoints_settle)
    around(EC2, "create_vpc_endpoint", private_dns_needs_the_vpcs_dns_attributes)
