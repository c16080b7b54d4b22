"""ecsup's own network ([network] shared): an account without a default VPC gets a working stack,
stacks share the network and the last one out deletes it, something foreign inside keeps it,
concurrent first creates make one VPC, and what is refused is refused before any change."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from conftest import ZONE, Recorder, client, config_text, explain, invoke

from ecsup import engine
from ecsup.errors import ConfigError
from ecsup.sandbox import remove_default_vpc

NETWORK = '\n[network]\nshared = "main"\n'


def web(extra: str = "") -> str:
    return config_text(NETWORK + extra)


def api(extra: str = "") -> str:
    return config_text(
        NETWORK + extra,
        replace={'app = "web"': 'app = "api"', f'hostname = "www.{ZONE}"': f'hostname = "api.{ZONE}"'},
    )


def vpcs() -> list[dict[str, Any]]:
    return client("ec2").describe_vpcs()["Vpcs"]


def network_vpcs() -> list[dict[str, Any]]:
    return client("ec2").describe_vpcs(Filters=[{"Name": "tag:ecsup:network", "Values": ["main"]}])["Vpcs"]


def in_vpc(what: str, key: str, vpc_id: str) -> list[dict[str, Any]]:
    return getattr(client("ec2"), what)(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[key]


def destroy(make_ctx: Any, text: str) -> engine.DestroyResult:
    ctx = make_ctx(text)
    outcome = engine.plan_destroy(ctx)
    with engine.destroy_locked(ctx):
        return engine.destroy(ctx, outcome)


def changes(make_ctx: Any, text: str) -> list[Any]:
    ctx = make_ctx(text)
    ctx.mode = "plan"
    return engine.make_plan(ctx).changes()


@pytest.fixture
def bare(aws: Recorder) -> Recorder:
    """An account with no default VPC (as AWS Control Tower leaves one)."""
    assert remove_default_vpc(client("ec2"))
    assert vpcs() == []
    aws.reset()
    return aws


def test_an_account_without_a_default_vpc_gets_a_serving_stack_on_shared_main(bare, make_ctx):
    engine.create(make_ctx(web()))

    [vpc] = network_vpcs()
    tags = {t["Key"]: t["Value"] for t in vpc["Tags"]}
    assert tags == {"ecsup:network": "main", "ManagedBy": "ecsup", "Name": "ecsup-net-main"}
    assert vpc["CidrBlock"] == "10.0.0.0/16"
    subnets = in_vpc("describe_subnets", "Subnets", vpc["VpcId"])
    assert sorted(s["AvailabilityZone"] for s in subnets) == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert all({t["Key"]: t["Value"] for t in s["Tags"]}["ecsup:network"] == "main" for s in subnets)
    igws = client("ec2").describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc["VpcId"]]}])
    [igw] = igws["InternetGateways"]
    tables = in_vpc("describe_route_tables", "RouteTables", vpc["VpcId"])
    [public] = [t for t in tables if not any(a.get("Main") for a in t["Associations"])]
    assert {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw["InternetGatewayId"]}.items() <= next(
        r for r in public["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"
    ).items()
    assert sorted(a["SubnetId"] for a in public["Associations"]) == sorted(s["SubnetId"] for s in subnets)

    # the stack serves from it: its load balancer and service in the network's subnets
    [lb] = client("elbv2").describe_load_balancers(Names=["web-dev"])["LoadBalancers"]
    assert lb["VpcId"] == vpc["VpcId"]
    service = client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"][0]
    assert service["runningCount"] == 1
    net = service["networkConfiguration"]["awsvpcConfiguration"]
    assert sorted(net["subnets"]) == sorted(s["SubnetId"] for s in subnets)
    assert changes(make_ctx, web()) == []  # the second create makes no change


def test_no_default_vpc_and_no_network_named_stops_with_the_hint_and_exit_2(bare, tmp_path):
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    for command in ("plan", "create"):
        bare.reset()
        result = invoke(command, "--config", str(path))
        assert result.exit_code == 2, explain(result)
        assert '[network] shared = "main"' in result.stderr
        assert "Traceback" not in result.stderr
        assert bare.mutating() == []  # no AWS change
    assert vpcs() == []


def test_two_stacks_share_the_network_and_the_last_one_out_deletes_it(bare, make_ctx):
    engine.create(make_ctx(web()))
    engine.create(make_ctx(api()))
    [vpc] = network_vpcs()
    assert client("elbv2").describe_load_balancers(Names=["api-dev"])["LoadBalancers"][0]["VpcId"] == vpc["VpcId"]

    first = destroy(make_ctx, web())
    assert first.failed == [] and first.left == []
    assert network_vpcs() != []  # api is still on it
    assert client("elbv2").describe_load_balancers(Names=["api-dev"])["LoadBalancers"]

    last = destroy(make_ctx, api())
    assert last.failed == [] and last.left == []
    assert vpcs() == []
    assert client("ec2").describe_internet_gateways()["InternetGateways"] == []
    assert client("ec2").describe_subnets()["Subnets"] == []
    params = client("ssm").get_parameters_by_path(Path="/ecsup/network", Recursive=True)["Parameters"]
    assert params == []


def test_something_foreign_inside_keeps_the_network_and_destroy_names_it(bare, make_ctx, tmp_path):
    engine.create(make_ctx(web()))
    [vpc] = network_vpcs()
    subnet = in_vpc("describe_subnets", "Subnets", vpc["VpcId"])[0]["SubnetId"]
    eni = client("ec2").create_network_interface(SubnetId=subnet, Description="someone's database")
    eni_id = eni["NetworkInterface"]["NetworkInterfaceId"]
    path = tmp_path / "ecsup.toml"
    path.write_text(web())

    result = invoke("destroy", "--config", str(path), "--yes")
    assert result.exit_code == 0, explain(result)
    assert eni_id in result.stdout and "someone's database" in result.stdout
    assert [v["VpcId"] for v in network_vpcs()] == [vpc["VpcId"]]  # kept
    assert client("elbv2").describe_load_balancers()["LoadBalancers"] == []  # the stack itself is gone

    # once it is removed, destroy again deletes the network
    client("ec2").delete_network_interface(NetworkInterfaceId=eni_id)
    again = invoke("destroy", "--config", str(path), "--yes")
    assert again.exit_code == 0, explain(again)
    assert vpcs() == []


def test_two_first_creates_at_once_make_one_vpc(bare, make_ctx, monkeypatch):
    """Both plan to create the network before either changes anything (a barrier at each run's
    first write, its stack lock); under the network's lock one makes it, the other finds it."""
    from test_shared_lb import both_planned_first

    hold = both_planned_first(monkeypatch)
    bare.injectors = [hold]
    errors: list[BaseException] = []
    plans: dict[str, list[str]] = {}

    def run(text: str, key: str) -> None:
        try:
            engine.create(
                make_ctx(text), on_plan=lambda o: plans.setdefault(key, [a.kind + " " + a.ref for a in o.actions])
            )
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t, k)) for t, k in ((web(), "web"), (api(), "api"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    bare.injectors = []

    assert errors == []
    assert all("create network main" in p for p in plans.values())  # both planned to create it
    assert len(vpcs()) == 1
    assert len(client("ec2").describe_internet_gateways()["InternetGateways"]) == 1
    assert len(client("ec2").describe_subnets()["Subnets"]) == 3
    assert changes(make_ctx, web()) == [] and changes(make_ctx, api()) == []


def test_shared_is_refused_with_a_network_the_user_names(make_ctx):
    with pytest.raises(ConfigError) as err:
        make_ctx(web('vpc_id = "vpc-0123abcd"\n'))
    assert err.value.problems[0][0] == "network.shared"
    assert "network.vpc_id" in err.value.problems[0][1]


@pytest.mark.parametrize("cidr", ["10.0.0.0/8", "8.8.0.0/16", "10.1.0.0/25", "nope"])
def test_a_cidr_that_is_not_a_private_16_to_24_is_refused(make_ctx, cidr):
    with pytest.raises(ConfigError) as err:
        make_ctx(web(f'cidr = "{cidr}"\n'))
    assert err.value.problems[0][0] == "network.cidr"


def test_the_block_chosen_overlaps_no_vpc_of_the_region(aws, make_ctx):
    client("ec2").create_vpc(CidrBlock="10.0.0.0/16")
    client("ec2").create_vpc(CidrBlock="10.1.128.0/24")
    ctx = make_ctx(web())
    ctx.mode = "plan"
    aws.reset()
    [action] = [a for a in engine.make_plan(ctx).actions if a.resource == "network"]
    assert action.kind == "create" and "10.2.0.0/16" in action.detail
    assert aws.mutating() == []  # planning changes nothing


def test_ipv6_blocks_on_the_vpc_and_subnets_and_a_route_for_ipv6(bare, make_ctx):
    engine.create(make_ctx(web('ipv6 = true\ncidr = "10.42.0.0/16"\n')))
    [vpc] = network_vpcs()
    assert vpc["CidrBlock"] == "10.42.0.0/16"
    [block] = [a["Ipv6CidrBlock"] for a in vpc["Ipv6CidrBlockAssociationSet"]]
    assert block.endswith("/56")
    subnets = in_vpc("describe_subnets", "Subnets", vpc["VpcId"])
    sixes = [a["Ipv6CidrBlock"] for s in subnets for a in s["Ipv6CidrBlockAssociationSet"]]
    assert len(set(sixes)) == 3 and all(s.endswith("/64") for s in sixes)
    assert all(s["AssignIpv6AddressOnCreation"] for s in subnets)
    tables = in_vpc("describe_route_tables", "RouteTables", vpc["VpcId"])
    [public] = [t for t in tables if not any(a.get("Main") for a in t["Associations"])]
    assert any(
        r.get("DestinationIpv6CidrBlock") == "::/0" and r["GatewayId"].startswith("igw-") for r in public["Routes"]
    )
    assert changes(make_ctx, web('ipv6 = true\ncidr = "10.42.0.0/16"\n')) == []


def test_a_shared_load_balancer_on_another_network_is_refused_before_any_change(aws, make_ctx):
    lb = '\n[load_balancer]\nshared = "edge"\n'
    engine.create(make_ctx(config_text(lb)))  # on the default VPC
    aws.reset()
    ctx = make_ctx(api(lb))
    with pytest.raises(ConfigError) as err:
        engine.create(ctx)
    assert "same network" in err.value.problems[0][1]
    assert aws.writes() == []


def _code_and_message(call: Any, **params: Any) -> tuple[str, str]:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as err:
        call(**params)
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def test_the_emulation_refuses_deleting_what_aws_refuses(aws):
    """AWS's DependencyViolation where moto deletes: a VPC with an internet gateway attached or a
    security group of its own, a subnet with a network interface, an attached internet gateway."""
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.0.0/24")["Subnet"]["SubnetId"]
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    assert _code_and_message(ec2.delete_subnet, SubnetId=subnet) == (
        "DependencyViolation",
        f"The subnet '{subnet}' has dependencies and cannot be deleted.",
    )
    ec2.delete_network_interface(NetworkInterfaceId=eni)
    ec2.delete_subnet(SubnetId=subnet)

    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    assert _code_and_message(ec2.delete_internet_gateway, InternetGatewayId=igw) == (
        "DependencyViolation",
        f"The internetGateway '{igw}' has dependencies and cannot be deleted.",
    )
    assert _code_and_message(ec2.delete_vpc, VpcId=vpc) == (
        "DependencyViolation",
        f"The vpc '{vpc}' has dependencies and cannot be deleted.",
    )
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    ec2.delete_internet_gateway(InternetGatewayId=igw)

    group = ec2.create_security_group(GroupName="theirs", Description="theirs", VpcId=vpc)["GroupId"]
    assert _code_and_message(ec2.delete_vpc, VpcId=vpc)[0] == "DependencyViolation"
    ec2.delete_security_group(GroupId=group)
    ec2.delete_vpc(VpcId=vpc)
    assert vpc not in [v["VpcId"] for v in vpcs()]


def test_the_network_waits_out_dependency_violation_while_interfaces_are_released(bare, make_ctx, clock):
    """A subnet answers DependencyViolation for a while after the stack's interfaces went (AWS
    releases them in minutes): the network's deletion retries, then deletes it all."""
    from conftest import fail_first

    engine.create(make_ctx(web()))
    bare.injectors = [
        fail_first("ec2", "DeleteSubnet", "DependencyViolation", 3),
        fail_first("ec2", "DeleteVpc", "DependencyViolation", 2),
    ]
    result = destroy(make_ctx, web())
    assert result.failed == [] and result.left == []
    assert vpcs() == []


def test_init_writes_shared_main_where_the_region_has_no_default_vpc(bare, tmp_path):
    from ecsup.config import load

    path = tmp_path / "ecsup.toml"
    args = ("init", "--app", "web", "--env", "dev", "--zone", ZONE, "--image", "nginx", "--region", "eu-west-1")
    result = invoke(*args, "--config", str(path))
    assert result.exit_code == 0, explain(result)
    text = path.read_text()
    assert '[network]\nshared = "main"\n' in text
    assert load(path).network.shared == "main"


def test_init_only_mentions_shared_main_where_there_is_a_default_vpc(aws, tmp_path):
    from ecsup.config import load

    path = tmp_path / "ecsup.toml"
    args = ("init", "--app", "web", "--env", "dev", "--zone", ZONE, "--image", "nginx", "--region", "eu-west-1")
    result = invoke(*args, "--config", str(path))
    assert result.exit_code == 0, explain(result)
    text = path.read_text()
    assert '# shared = "main"' in text and "\n[network]" not in text
    assert load(path).network.shared == ""


def test_ipv6_turned_on_later_adds_the_blocks_in_place(bare, make_ctx):
    engine.create(make_ctx(web()))
    [before] = network_vpcs()
    subnets = sorted(s["SubnetId"] for s in in_vpc("describe_subnets", "Subnets", before["VpcId"]))
    [action] = [a for a in changes(make_ctx, web("ipv6 = true\n")) if a.resource == "network"]
    assert {c.attribute for c in action.changes} >= {"IPv6 block", "subnets' IPv6", "routes"}

    engine.create(make_ctx(web("ipv6 = true\n")))
    [after] = network_vpcs()
    assert after["VpcId"] == before["VpcId"]  # the same network, changed in place
    found = in_vpc("describe_subnets", "Subnets", after["VpcId"])
    assert sorted(s["SubnetId"] for s in found) == subnets
    assert all(s["Ipv6CidrBlockAssociationSet"] and s["AssignIpv6AddressOnCreation"] for s in found)
    assert changes(make_ctx, web("ipv6 = true\n")) == []


def test_stacks_on_a_shared_load_balancer_in_the_network_leave_nothing_behind(bare, make_ctx):
    lb = '\n[load_balancer]\nshared = "edge"\n'
    engine.create(make_ctx(web() + lb))
    engine.create(make_ctx(api() + lb))
    [vpc] = network_vpcs()
    [edge] = client("elbv2").describe_load_balancers(Names=["edge"])["LoadBalancers"]
    assert edge["VpcId"] == vpc["VpcId"]

    for text in (web() + lb, api() + lb):
        result = destroy(make_ctx, text)
        assert result.failed == [] and result.left == []
    assert client("elbv2").describe_load_balancers()["LoadBalancers"] == []
    assert vpcs() == []
    assert client("ec2").describe_security_groups()["SecurityGroups"] == []


def test_tasks_without_a_public_ip_in_the_public_subnets_are_refused_before_any_change(bare, make_ctx):
    # refused when the file is read (config.py), before a client exists
    with pytest.raises(ConfigError) as err:
        engine.create(make_ctx(web("assign_public_ip = false\n")))
    assert err.value.problems[0][0] == "network.assign_public_ip"
    assert bare.writes() == [] and vpcs() == []


def test_ipv6_turned_on_later_gives_the_private_subnets_ipv6_too(bare, make_ctx):
    """A private egress's subnets made before [network] ipv6 get a /64 and IPv6 addresses on
    creation when it is turned on (planned as an update): an internal dual-stack load balancer in
    them needs it (ELB: "You must specify subnets with an associated IPv6 CIDR block")."""
    nat = 'egress = "nat"\n'
    internal = "\n[load_balancer]\ninternal = true\n"
    engine.create(make_ctx(web(nat) + internal))
    later = web(nat + "ipv6 = true\n") + internal
    planned = [a for a in changes(make_ctx, later) if a.resource == "subnet"]
    assert planned and all(a.kind == "update" and "-private-" in a.name for a in planned)

    engine.create(make_ctx(later))
    [vpc] = network_vpcs()
    found = in_vpc("describe_subnets", "Subnets", vpc["VpcId"])
    assert all(s["Ipv6CidrBlockAssociationSet"] and s["AssignIpv6AddressOnCreation"] for s in found)
    [lb] = client("elbv2").describe_load_balancers()["LoadBalancers"]
    assert (lb["Scheme"], lb["IpAddressType"]) == ("internal", "dualstack")
    assert changes(make_ctx, later) == []


def test_a_stack_destroyed_after_its_network_was_renamed_leaves_no_marker_behind(bare, make_ctx):
    # web changes [network] shared (refused: the hint says to destroy with the old config first), then
    # is destroyed with the new config anyway: its marker on "main" goes, so api, the last stack on
    # main, deletes the network (it would otherwise be kept for a stack that is gone)
    engine.create(make_ctx(web()))
    engine.create(make_ctx(api()))
    renamed = web().replace('shared = "main"', 'shared = "other"')
    ctx = make_ctx(renamed)
    ctx.mode = "plan"
    with pytest.raises(Exception) as refused:
        engine.make_plan(ctx)
    assert "run `ecsup destroy` with the config that names network main first" in str(refused.value)

    gone = destroy(make_ctx, renamed)
    assert gone.failed == [] and gone.left == []
    markers = client("ssm").get_parameters_by_path(Path="/ecsup/network", Recursive=True)["Parameters"]
    assert [p["Name"] for p in markers if "/stacks/" in p["Name"]] == ["/ecsup/network/main/stacks/api-dev"]

    last = destroy(make_ctx, api())
    assert last.failed == [] and last.left == []
    assert vpcs() == []
