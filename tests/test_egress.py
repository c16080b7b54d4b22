"""[network] egress on ecsup's own network (steps/egress.py): each layout builds what its tasks
need, is idempotent, is deleted in AWS's order so that the VPC can go, converges after a crash
before any of its mutating calls; "ipv6" is refused where an endpoint the tasks need has no IPv6."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import BASE_CONFIG, Recorder, client, config_text
from moto import mock_aws

from ecsup.config import parse
from ecsup.context import is_mutating
from ecsup.errors import EXIT_CONFIG, ConfigError
from ecsup.names import TAG_EGRESS, TAG_NETWORK
from ecsup.steps import egress

NETWORK = "main"
PRIVATE_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1"
DUAL_STACK_IMAGE = "123456789012.dkr-ecr.eu-west-1.on.aws/web:1"
ZONES = ("eu-west-1a", "eu-west-1b")
NO_SECRETS = {'[service.secrets]\nDB_PASSWORD = "/web/dev/DB_PASSWORD"\n': ""}


def network_config(mode: str, secrets: bool = True, ipv6: bool = True) -> str:
    extra = f'\n[network]\nshared = "{NETWORK}"\nipv6 = {str(ipv6).lower()}\negress = "{mode}"\n'
    replace = {} if secrets else dict(NO_SECRETS)
    if mode in ("endpoints", "ipv6"):  # no way to public.ecr.aws: the region's private ECR (dual-stack name for ipv6)
        image = PRIVATE_IMAGE if mode == "endpoints" else DUAL_STACK_IMAGE
        replace['image = "public.ecr.aws/nginx/nginx:stable"'] = f'image = "{image}"'
    return config_text(extra, replace=replace)


def make_network(ipv6: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """What the network's step makes: a VPC, a public subnet per zone, an internet gateway, routes
    (tagged ecsup:network, named ecsup-net-<name>-...)."""
    ec2 = client("ec2")

    def tags(kind: str, name: str) -> list[dict[str, Any]]:
        return [
            {
                "ResourceType": kind,
                "Tags": [
                    {"Key": TAG_NETWORK, "Value": NETWORK},
                    {"Key": "ManagedBy", "Value": "ecsup"},
                    {"Key": "Name", "Value": name},
                ],
            }
        ]

    vpc = ec2.create_vpc(
        CidrBlock="10.20.0.0/16", AmazonProvidedIpv6CidrBlock=ipv6, TagSpecifications=tags("vpc", "ecsup-net-main")
    )["Vpc"]
    vpc_id = vpc["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    block6 = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0].get("Ipv6CidrBlockAssociationSet", [])
    igw = ec2.create_internet_gateway(TagSpecifications=tags("internet-gateway", "ecsup-net-main"))["InternetGateway"]
    ec2.attach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc_id)
    table = ec2.create_route_table(VpcId=vpc_id, TagSpecifications=tags("route-table", "ecsup-net-main-public"))
    table_id = table["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw["InternetGatewayId"])
    public = []
    for i, zone in enumerate(ZONES):
        kwargs: dict[str, Any] = {}
        if block6:
            prefix = block6[0]["Ipv6CidrBlock"].split("::")[0]
            kwargs["Ipv6CidrBlock"] = f"{prefix[:-2]}{i:02x}::/64"
        subnet = ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=f"10.20.{i * 16}.0/20",
            AvailabilityZone=zone,
            TagSpecifications=tags("subnet", f"ecsup-net-main-public-{zone}"),
            **kwargs,
        )["Subnet"]
        ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet["SubnetId"])
        public.append(subnet)
    return vpc_id, public


def delete_network(vpc_id: str) -> None:
    """What the network's step deletes after egress: on the strict layer, the VPC goes only when
    nothing of egress is left in it."""
    ec2 = client("ec2")
    for table in ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]:
        if any(a.get("Main") for a in table.get("Associations", [])):
            continue
        for assoc in table.get("Associations", []):
            ec2.disassociate_route_table(AssociationId=assoc["RouteTableAssociationId"])
        ec2.delete_route_table(RouteTableId=table["RouteTableId"])
    for subnet in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]:
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    for igw in ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])[
        "InternetGateways"
    ]:
        ec2.detach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc_id)
        ec2.delete_internet_gateway(InternetGatewayId=igw["InternetGatewayId"])
    ec2.delete_vpc(VpcId=vpc_id)
    assert not ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"]


def egress_left(vpc_id: str) -> list[str]:
    """Everything tagged as egress's that still exists."""
    ec2 = client("ec2")
    mine = [{"Name": f"tag:{TAG_NETWORK}", "Values": [NETWORK]}, {"Name": "tag-key", "Values": [TAG_EGRESS]}]
    left = [s["SubnetId"] for s in ec2.describe_subnets(Filters=mine)["Subnets"]]
    left += [t["RouteTableId"] for t in ec2.describe_route_tables(Filters=mine)["RouteTables"]]
    left += [
        n["NatGatewayId"] for n in ec2.describe_nat_gateways(Filter=mine)["NatGateways"] if n["State"] != "deleted"
    ]
    left += [a["AllocationId"] for a in ec2.describe_addresses(Filters=mine)["Addresses"]]
    left += [
        g["EgressOnlyInternetGatewayId"]
        for g in ec2.describe_egress_only_internet_gateways(Filters=mine)["EgressOnlyInternetGateways"]
    ]
    left += [
        e["VpcEndpointId"]
        for e in ec2.describe_vpc_endpoints(Filters=mine)["VpcEndpoints"]
        if e["State"].lower() != "deleted"
    ]
    left += [
        g["GroupId"]
        for g in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
        if g["GroupName"] != "default"
    ]
    return left


def assert_layout(mode: str, vpc_id: str, public: list[dict[str, Any]], tasks: list[str]) -> None:
    """What the tasks of ``mode`` need exists in EC2, once."""
    ec2 = client("ec2")
    public_ids = sorted(s["SubnetId"] for s in public)
    if mode == "public":
        assert tasks == public_ids
        assert egress_left(vpc_id) == []
        return
    private = ec2.describe_subnets(Filters=[{"Name": f"tag:{TAG_EGRESS}", "Values": ["private-subnet"]}])["Subnets"]
    assert sorted(s["SubnetId"] for s in private) == tasks
    assert sorted(s["AvailabilityZone"] for s in private) == list(ZONES)  # one in each zone of the public ones
    assert not set(tasks) & set(public_ids)
    assert all(s["Tags"] and {"Key": TAG_NETWORK, "Value": NETWORK} in s["Tags"] for s in private)
    tables = ec2.describe_route_tables(Filters=[{"Name": f"tag:{TAG_EGRESS}", "Values": ["private-routes"]}])
    assert len(tables["RouteTables"]) == 1
    table = tables["RouteTables"][0]
    assert sorted(a["SubnetId"] for a in table["Associations"]) == tasks
    routes = {r.get("DestinationCidrBlock") or r.get("DestinationIpv6CidrBlock"): r for r in table["Routes"]}
    nats = [n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] != "deleted"]
    eigws = ec2.describe_egress_only_internet_gateways()["EgressOnlyInternetGateways"]
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    if mode == "nat":
        assert len(nats) == 1 and nats[0]["State"] == "available"
        assert nats[0]["SubnetId"] == public[0]["SubnetId"]  # in the first public subnet
        assert routes["0.0.0.0/0"]["NatGatewayId"] == nats[0]["NatGatewayId"]
        assert len(ec2.describe_addresses()["Addresses"]) == 1
    else:
        assert nats == [] and "0.0.0.0/0" not in routes
    if mode == "ipv6":
        assert len(eigws) == 1
        assert routes["::/0"]["EgressOnlyInternetGatewayId"] == eigws[0]["EgressOnlyInternetGatewayId"]
        assert all(s["AssignIpv6AddressOnCreation"] and s["Ipv6CidrBlockAssociationSet"] for s in private)
        settings = client("ecs").list_account_settings(name="dualStackIPv6", effectiveSettings=True)["settings"]
        assert settings[0]["value"] == "enabled"
    else:
        assert eigws == []
    if mode == "endpoints":
        services = sorted(e["ServiceName"].split("eu-west-1.")[1] for e in endpoints)
        assert services == ["ecr.api", "ecr.dkr", "logs", "s3", "ssm"]
        for e in endpoints:
            assert e["State"] == "available"
            if e["VpcEndpointType"] == "Interface":
                assert sorted(e["SubnetIds"]) == tasks and e["PrivateDnsEnabled"]
            else:
                assert e["RouteTableIds"] == [table["RouteTableId"]]
        group = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["ecsup-net-main-endpoints"]}])
        rules = group["SecurityGroups"][0]["IpPermissions"]
        assert [(p["FromPort"], r["CidrIp"]) for p in rules for r in p.get("IpRanges", [])] == [(443, "10.20.0.0/16")]
        assert all(e["Groups"][0]["GroupId"] == group["SecurityGroups"][0]["GroupId"] for e in endpoints if e["Groups"])
    else:
        assert endpoints == []


MODES = [("public", True), ("nat", True), ("endpoints", True), ("ipv6", False)]


@pytest.mark.parametrize(("mode", "secrets"), MODES)
def test_each_egress_builds_what_its_tasks_need_once_and_deletes_it_so_the_vpc_can_go(
    aws: Recorder, make_ctx: Any, mode: str, secrets: bool
) -> None:
    vpc_id, public = make_network()
    ctx = make_ctx(network_config(mode, secrets))
    vpc = client("ec2").describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]

    planned = egress.plan_egress(ctx, vpc, public)
    aws.reset()
    assert bool(planned) == (mode != "public")
    if mode == "ipv6":  # the account setting is a planned change, shown before it is made
        (setting,) = [a for a in planned if a.resource == "ECS account setting"]
        assert setting.kind == "update" and [str(c) for c in setting.changes] == ["value: disabled -> enabled"]
    tasks = egress.ensure_egress(ctx, vpc_id, public)
    assert_layout(mode, vpc_id, public, tasks)
    if mode == "nat":
        assert any("$0.045 an hour" in n and "lose their way out" in n for n in ctx.notes)
        assert ctx.config.network.task_public_ip == "DISABLED"
    if mode == "public":
        assert ctx.config.network.task_public_ip == "ENABLED"

    aws.reset()  # idempotent: a second run changes nothing, and the plan has nothing left to do
    again = make_ctx(network_config(mode, secrets))
    assert egress.ensure_egress(again, vpc_id, public) == tasks
    assert egress.plan_egress(again, vpc, public) == []
    assert again.notes == []  # the cost and availability notes come with the plan that makes the parts
    assert aws.mutating() == []

    deletions = egress.plan_delete_egress(make_ctx(network_config(mode, secrets)), vpc_id)
    assert all(a.kind == "delete" for a in deletions)
    egress.delete_egress(make_ctx(network_config(mode, secrets)), vpc_id)
    assert egress_left(vpc_id) == []
    assert egress.plan_delete_egress(make_ctx(network_config(mode, secrets)), vpc_id) == []
    delete_network(vpc_id)


def test_plan_of_a_network_not_made_yet_lists_every_part(aws: Recorder, make_ctx: Any) -> None:
    ctx = make_ctx(network_config("endpoints"))
    actions = egress.plan_egress(ctx, None, [])
    assert aws.mutating() == []
    kinds = sorted({(a.kind, a.resource) for a in actions})
    assert kinds == [
        ("create", "VPC endpoint"),
        ("create", "route table"),
        ("create", "security group"),
        ("create", "subnet"),
    ]
    assert sorted(a.name for a in actions if a.resource == "VPC endpoint") == [
        f"ecsup-net-main-{s}" for s in ("ecr.api", "ecr.dkr", "logs", "s3", "ssm")
    ]


def test_the_planned_actions_make_the_layout_when_run(aws: Recorder, make_ctx: Any) -> None:
    """The network's step may run egress's planned actions instead of ensure_egress: same result."""
    vpc_id, public = make_network()
    ctx = make_ctx(network_config("nat"))
    ctx.facts["vpc_id"] = vpc_id
    for action in egress.plan_egress(ctx, client("ec2").describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0], public):
        assert action.run is not None
        action.run()
    tasks = sorted(
        s["SubnetId"]
        for s in client("ec2").describe_subnets(Filters=[{"Name": f"tag:{TAG_EGRESS}", "Values": ["private-subnet"]}])[
            "Subnets"
        ]
    )
    assert_layout("nat", vpc_id, public, tasks)


# -- "ipv6" where an endpoint has no IPv6 --------------------------------------------------------------
def test_ipv6_egress_is_refused_where_an_endpoint_the_tasks_need_has_no_ipv6(aws: Recorder, make_ctx: Any) -> None:
    vpc_id, public = make_network()
    ctx = make_ctx(network_config("ipv6", secrets=True))  # secrets come from SSM: no dual-stack endpoint
    with pytest.raises(ConfigError) as refused:
        egress.plan_egress(ctx, client("ec2").describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0], public)
    assert refused.value.exit_code == EXIT_CONFIG == 2
    message = str(refused.value)
    assert "network.egress" in message and "SSM" in message and '"nat" or "endpoints"' in message
    assert "\n" not in message.strip()
    with pytest.raises(ConfigError):
        egress.ensure_egress(ctx, vpc_id, public)
    assert aws.mutating() == []  # nothing changed
    assert egress_left(vpc_id) == []


def test_ipv6_egress_is_region_aware(make_ctx: Any) -> None:
    text = network_config("ipv6", secrets=False)
    assert egress.ipv6_blockers(make_ctx(text)) == []
    assert egress.ipv6_blockers(make_ctx(text.replace('region = "eu-west-1"', 'region = "mx-central-1"'))) == []
    govcloud = make_ctx(text.replace('region = "eu-west-1"', 'region = "us-gov-west-1"'))
    assert len(egress.ipv6_blockers(govcloud)) == 3
    china = make_ctx(text.replace('region = "eu-west-1"', 'region = "cn-north-1"'))
    assert egress.ipv6_blockers(china) == [
        "ECR (image pulls)",
        "S3 (ECR's image layers)",
        "CloudWatch Logs (the awslogs driver)",
    ]


def test_ipv6_egress_refusal_from_the_cli_exits_2_and_names_the_way_out(tmp_path: Any) -> None:
    from conftest import app
    from typer.testing import CliRunner

    path = tmp_path / "ecsup.toml"
    path.write_text(network_config("ipv6", secrets=True).replace("ipv6 = true", "ipv6 = false"))
    result = CliRunner().invoke(app, ["plan", "--config", str(path)])
    assert result.exit_code == 2, result.output
    assert "network.egress" in result.output and "network.ipv6" in result.output


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ('[network]\negress = "nat"\n', "network.egress", "network.shared"),
        ('[network]\nshared = "main"\negress = "ipv6"\n', "network.egress", "network.ipv6"),
        ('[network]\nshared = "main"\negress = "natgw"\n', "network.egress", '"nat"'),
        ('[network]\nshared = "main"\nassign_public_ip = false\n', "network.assign_public_ip", "network.egress"),
    ],
)
def test_egress_needs_ecsups_own_network(extra: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as bad:
        parse(config_text("\n" + extra))
    assert bad.value.exit_code == 2
    assert any(k == key and words in why for k, why in bad.value.problems), bad.value.problems


def test_tasks_public_ip_follows_egress_on_ecsups_network_and_the_key_elsewhere() -> None:
    assert parse(BASE_CONFIG).network.task_public_ip == "ENABLED"
    assert parse(config_text("\n[network]\nassign_public_ip = false\n")).network.task_public_ip == "DISABLED"
    assert parse(network_config("nat")).network.task_public_ip == "DISABLED"
    assert parse(network_config("public")).network.task_public_ip == "ENABLED"


# -- AWS's timing, on the strict layer -------------------------------------------------------------------
def test_nat_gateway_is_waited_for_and_its_address_released_only_once_it_is_deleted(
    aws: Recorder, make_ctx: Any, clock: Any
) -> None:
    vpc_id, public = make_network()
    ctx = make_ctx(network_config("nat"))
    start = clock()
    egress.ensure_egress(ctx, vpc_id, public)
    assert clock() - start >= 90  # pending -> available took the emulated minute and a half
    nat = client("ec2").describe_nat_gateways()["NatGateways"][0]
    allocation = nat["NatGatewayAddresses"][0]["AllocationId"]
    with pytest.raises(client("ec2").exceptions.ClientError) as held:
        client("ec2").release_address(AllocationId=allocation)
    assert held.value.response["Error"]["Code"] == "AuthFailure"
    with pytest.raises(client("ec2").exceptions.ClientError) as busy:
        client("ec2").delete_subnet(SubnetId=public[0]["SubnetId"])
    assert busy.value.response["Error"]["Code"] == "DependencyViolation"
    egress.delete_egress(make_ctx(network_config("nat")), vpc_id)
    assert egress_left(vpc_id) == []
    assert ("ec2", "ReleaseAddress") in aws.calls


# -- a crash before any mutating call converges on re-run -------------------------------------------------
class Crash(BaseException):
    """kill -9: no `except Exception` catches it."""


def _crash_before(n: int, crashed_at: list[str]) -> Any:
    seen = {"n": 0}

    def inject(service: str, operation: str, params: dict[str, Any]) -> Any:
        if seen["n"] >= n:
            raise Crash("dead process")
        if is_mutating(operation):
            seen["n"] += 1
            if seen["n"] == n:
                crashed_at.append(operation)
                raise Crash(f"crash before mutating call #{n}: {service}.{operation}")
        return None

    return inject


@pytest.mark.parametrize(("mode", "secrets"), [("nat", True), ("endpoints", True), ("ipv6", False)])
def test_a_crash_before_every_mutating_call_converges(
    make_ctx: Any, shared_clients: Any, mode: str, secrets: bool
) -> None:
    recorder = Recorder()
    shared_clients(recorder)  # one set of clients for the many Contexts of the loop
    text = network_config(mode, secrets)
    with mock_aws():  # how many mutating calls do ensure and delete make?
        vpc_id, public = make_network()
        recorder.reset()
        egress.ensure_egress(make_ctx(text), vpc_id, public)
        making = [op for _, op in recorder.mutating()]
        recorder.reset()
        egress.delete_egress(make_ctx(text), vpc_id)
        deleting = [op for _, op in recorder.mutating()]
    assert len(making) >= 6 and len(deleting) >= 4, (making, deleting)

    crashed_at: list[str] = []
    for n in range(1, len(making) + 1):
        with mock_aws():
            vpc_id, public = make_network()
            recorder.reset()
            recorder.injectors = [_crash_before(n, crashed_at)]
            with pytest.raises(Crash):
                egress.ensure_egress(make_ctx(text), vpc_id, public)
            recorder.injectors = []
            tasks = egress.ensure_egress(make_ctx(text), vpc_id, public)
            assert_layout(mode, vpc_id, public, tasks)
            recorder.reset()
            egress.ensure_egress(make_ctx(text), vpc_id, public)
            assert recorder.mutating() == [], f"after a crash before {making[n - 1]}"
    assert crashed_at == making

    crashed_at = []
    for n in range(1, len(deleting) + 1):
        with mock_aws():
            vpc_id, public = make_network()
            egress.ensure_egress(make_ctx(text), vpc_id, public)
            recorder.reset()
            recorder.injectors = [_crash_before(n, crashed_at)]
            with pytest.raises(Crash):
                egress.delete_egress(make_ctx(text), vpc_id)
            recorder.injectors = []
            egress.delete_egress(make_ctx(text), vpc_id)
            assert egress_left(vpc_id) == [], f"after a crash before {deleting[n - 1]}"
            delete_network(vpc_id)
    assert crashed_at == deleting


def test_the_documented_operator_policy_allows_every_call_egress_makes(aws: Recorder, make_ctx: Any) -> None:
    from ecsup import policies

    for mode, secrets in MODES:
        vpc_id, public = make_network()
        text = network_config(mode, secrets)
        egress.plan_egress(make_ctx(text), client("ec2").describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0], public)
        egress.ensure_egress(make_ctx(text), vpc_id, public)
        egress.plan_delete_egress(make_ctx(text), vpc_id)
        egress.delete_egress(make_ctx(text), vpc_id)
        delete_network(vpc_id)
    policy = policies.operator_policy()
    actions = {a for service, op in set(aws.calls) for a in policies.iam_actions(service, op)}
    assert {"ec2:CreateNatGateway", "ec2:CreateVpcEndpoint", "ecs:PutAccountSetting"} <= actions
    assert [a for a in sorted(actions) if not policies.allows(policy, a)] == []


def test_cost_counts_a_public_ipv4_per_task_only_when_egress_gives_one() -> None:
    from ecsup.cost import public_ipv4_line
    from ecsup.prices import shipped_prices

    prices = shipped_prices("eu-west-1")
    public = public_ipv4_line(parse(network_config("public")), prices)
    nat = public_ipv4_line(parse(network_config("nat")), prices)
    endpoints = public_ipv4_line(parse(network_config("endpoints")), prices)
    # the task's public IPv4 goes; with "nat" the NAT gateway's Elastic IP takes its place on the bill
    assert public.monthly_low == pytest.approx(endpoints.monthly_low + prices.public_ipv4_hour * 730, rel=0.01)
    assert nat.monthly_low == pytest.approx(endpoints.monthly_low + prices.public_ipv4_hour * 730, rel=0.01)
    assert "tasks have none" in nat.note and "tasks have none" in endpoints.note


def test_a_zone_added_to_the_network_gets_a_private_subnet_and_the_endpoints_reach_into_it(
    aws: Recorder, make_ctx: Any
) -> None:
    vpc_id, public = make_network()
    text = network_config("endpoints")
    egress.ensure_egress(make_ctx(text), vpc_id, public)
    third = client("ec2").create_subnet(
        VpcId=vpc_id,
        CidrBlock="10.20.240.0/20",
        AvailabilityZone="eu-west-1c",
        TagSpecifications=[
            {
                "ResourceType": "subnet",
                "Tags": [{"Key": TAG_NETWORK, "Value": NETWORK}, {"Key": "Name", "Value": "ecsup-net-main-public-c"}],
            }
        ],
    )["Subnet"]
    tasks = egress.ensure_egress(make_ctx(text), vpc_id, [*public, third])
    assert len(tasks) == 3
    zones = {s["AvailabilityZone"] for s in client("ec2").describe_subnets(SubnetIds=tasks)["Subnets"]}
    assert zones == {"eu-west-1a", "eu-west-1b", "eu-west-1c"}
    endpoints = client("ec2").describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    assert all(sorted(e["SubnetIds"]) == tasks for e in endpoints if e["VpcEndpointType"] == "Interface")


def test_endpoints_turn_on_the_vpcs_dns_hostnames_which_private_dns_needs(aws: Recorder, make_ctx: Any) -> None:
    vpc_id, public = make_network()
    ec2 = client("ec2")
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": False})
    with pytest.raises(ec2.exceptions.ClientError) as refused:  # the strict layer, as AWS
        ec2.create_vpc_endpoint(
            VpcId=vpc_id,
            ServiceName="com.amazonaws.eu-west-1.logs",
            VpcEndpointType="Interface",
            SubnetIds=[public[0]["SubnetId"]],
            PrivateDnsEnabled=True,
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameter"
    tasks = egress.ensure_egress(make_ctx(network_config("endpoints")), vpc_id, public)
    assert ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"]
    assert_layout("endpoints", vpc_id, public, tasks)


def test_the_plan_knows_the_tasks_subnets_once_they_exist(aws: Recorder, make_ctx: Any) -> None:
    vpc_id, public = make_network()
    ctx = make_ctx(network_config("nat"))
    assert egress.planned_task_subnets(ctx, vpc_id, public) is None  # known after apply
    tasks = egress.ensure_egress(ctx, vpc_id, public)
    assert egress.planned_task_subnets(make_ctx(network_config("nat")), vpc_id, public) == tasks
    public_ids = sorted(s["SubnetId"] for s in public)
    assert egress.planned_task_subnets(make_ctx(network_config("public")), vpc_id, public) == public_ids


def test_the_first_plan_prices_the_zones_the_network_will_have_and_names_the_nat_zone(
    aws: Recorder, make_ctx: Any
) -> None:
    """On a network not made yet the notes count the zones steps/vpc.py will build (up to 3, as
    fargate_zones gives them) and name the NAT gateway's zone, not "(known after apply)"."""
    ctx = make_ctx(network_config("endpoints"))
    egress.plan_egress(ctx, None, [])
    (note,) = [n for n in ctx.notes if n.startswith("VPC endpoints")]
    assert "4 interface endpoints in 3 zones" in note and "$87.60 a month" in note
    ctx = make_ctx(network_config("nat"))
    egress.plan_egress(ctx, None, [])
    (note,) = [n for n in ctx.notes if n.startswith("NAT gateway")]
    assert "in one zone (eu-west-1a)" in note


@pytest.mark.parametrize(
    ("extra", "key", "image"),
    [
        ("", "service.image", "public.ecr.aws/nginx/nginx:stable"),
        (
            '\n[workers.mailer]\nimage = "docker.io/library/busybox:1"\ncommand = ["sh"]\n',
            "workers.mailer.image",
            "docker.io/library/busybox:1",
        ),
        (
            '\n[jobs.report]\nimage = "123456789012.dkr.ecr.us-east-1.amazonaws.com/r:1"\ncommand = ["sh"]\n'
            'schedule = "rate(1 day)"\n',
            "jobs.report.image",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/r:1",
        ),
    ],
)
def test_endpoints_egress_refuses_an_image_outside_the_regions_private_ecr(
    aws: Recorder, make_ctx: Any, extra: str, key: str, image: str
) -> None:
    vpc_id, public = make_network()
    text = network_config("endpoints") + extra
    if key == "service.image":
        text = text.replace(PRIVATE_IMAGE, image)
    ctx = make_ctx(text)
    with pytest.raises(ConfigError) as refused:
        egress.plan_egress(ctx, client("ec2").describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0], public)
    message = str(refused.value)
    assert refused.value.exit_code == EXIT_CONFIG and key in message and image in message and '"nat"' in message
    assert "\n" not in message.strip()
    assert aws.mutating() == [] and egress_left(vpc_id) == []
    # the region's private ECR (any account's) is reachable through the endpoints
    egress.plan_egress(make_ctx(network_config("endpoints")), None, [])


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [
        # ECR's IPv4-only name: refused, naming the dual-stack name to use
        (DUAL_STACK_IMAGE, PRIVATE_IMAGE, "service.image", DUAL_STACK_IMAGE),
        # another registry: no IPv6 way to it known
        (DUAL_STACK_IMAGE, "public.ecr.aws/nginx/nginx:stable", "service.image", '"nat" or "endpoints"'),
        # ECS Exec: ssmmessages has no IPv6 endpoint
        ("[service]\n", "[service]\nexec = true\n", "network.egress", "SSM messages"),
    ],
)
def test_ipv6_egress_refuses_what_an_ipv6_only_task_cannot_reach(
    aws: Recorder, make_ctx: Any, old: str, new: str, key: str, words: str
) -> None:
    vpc_id, public = make_network()
    text = network_config("ipv6", secrets=False)
    assert old in text
    ctx = make_ctx(text.replace(old, new, 1))
    with pytest.raises(ConfigError) as refused:
        egress.plan_egress(ctx, client("ec2").describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0], public)
    message = str(refused.value)
    assert refused.value.exit_code == EXIT_CONFIG and key in message and words in message
    assert "\n" not in message.strip()
    assert aws.mutating() == [] and egress_left(vpc_id) == []


def test_the_endpoints_are_all_deleted_before_they_are_waited_for(aws: Recorder, make_ctx: Any) -> None:
    # the last stack's leave holds the network's lock meanwhile: one wait for all of them, not one each
    vpc_id, public = make_network()
    ctx = make_ctx(network_config("endpoints"))
    egress.ensure_egress(ctx, vpc_id, public)
    aws.reset()
    egress.delete_egress(make_ctx(network_config("endpoints")), vpc_id)
    ec2 = [name for service, name in aws.calls if service == "ec2"]
    deletes = [i for i, name in enumerate(ec2) if name == "DeleteVpcEndpoints"]
    assert len(deletes) >= 4  # ECR's two, CloudWatch Logs, SSM
    first_wait = ec2.index("DescribeVpcEndpoints", deletes[0])
    assert deletes[-1] < first_wait
    assert egress_left(vpc_id) == []


def test_the_network_lock_is_waited_for_as_long_as_the_last_stacks_leave_may_take(make_ctx: Any) -> None:
    from ecsup.steps import vpc

    ctx = make_ctx(network_config("endpoints"))
    # the endpoints, the NAT gateway, its address and the subnets: each a wait bounded by release
    assert vpc.network_lock_wait(ctx) >= 4 * ctx.timeouts.release
