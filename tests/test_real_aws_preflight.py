"""Issue 10, what real AWS refuses that moto lets through, found before any change: the load
balancer's subnets and the tasks' (2), ACM's name limits (6), a CNAME next to other records
(7), secrets encrypted with their own KMS key (9), and the zones Fargate runs in (15).
The strict AWS layer (ecsup/emulation/) is on: without these checks, AWS (as emulated)
refuses the change half-way through create."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import REGION, ZONE, change_records, client, config_text

from ecsup import engine
from ecsup.config import parse
from ecsup.errors import ConfigError, OwnershipConflict
from ecsup.steps import network as network_step
from ecsup.steps.network import fargate_runs_in

ECR_IMAGE = f"123456789012.dkr.ecr.{REGION}.amazonaws.com/web:1"


@dataclass
class Vpc:
    id: str
    public: list[str]  # routed 0.0.0.0/0 -> internet gateway
    private: list[str]  # routed 0.0.0.0/0 -> NAT gateway
    isolated: list[str]  # no default route


def make_vpc() -> Vpc:
    """A VPC as people build them: an internet gateway, two public subnets (a NAT gateway in
    one), two private subnets behind the NAT, two isolated ones."""
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # interface endpoints' private DNS
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)

    def subnets(third: int, table: str) -> list[str]:
        ids = []
        for i, az in enumerate("ab"):
            sid = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{third + i}.0/24", AvailabilityZone=f"{REGION}{az}")
            ids.append(sid["Subnet"]["SubnetId"])
            ec2.associate_route_table(RouteTableId=table, SubnetId=ids[-1])
        return ids

    public_table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    public = subnets(1, public_table)
    nat = ec2.create_nat_gateway(SubnetId=public[0])["NatGateway"]["NatGatewayId"]
    private_table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=private_table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    private = subnets(11, private_table)
    isolated_table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    isolated = subnets(21, isolated_table)
    return Vpc(vpc, public, private, isolated)


def network(vpc: str, *, subnets: list[str] | None = None, alb: list[str] | None = None, public_ip: bool = True) -> str:
    lines = ["", "[network]", f'vpc_id = "{vpc}"', f"assign_public_ip = {str(public_ip).lower()}"]
    if subnets is not None:
        lines.append(f"subnets = {json.dumps(subnets)}")
    if alb is not None:
        lines.append(f"alb_subnets = {json.dumps(alb)}")
    return "\n".join(lines) + "\n"


def with_network(net: str, image: str | None = None) -> str:
    text = config_text()
    if image:
        text = text.replace('image = "public.ecr.aws/nginx/nginx:stable"', f'image = "{image}"')
    # [network] must come before [service.*] tables in TOML order: put it after [dns]
    head, _, rest = text.partition("\n[service]")
    return head + net + "\n[service]" + rest


def load_balancer_subnets() -> set[str]:
    lb = client("elbv2").describe_load_balancers(Names=["web-dev"])["LoadBalancers"][0]
    return {az["SubnetId"] for az in lb["AvailabilityZones"]}


def service_network() -> dict[str, Any]:
    svc = client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"][0]
    return dict(svc["networkConfiguration"]["awsvpcConfiguration"])


# -- 2. the load balancer's subnets and the tasks' ------------------------------------------
def test_private_subnets_for_the_load_balancer_are_refused_before_any_change(aws, make_ctx):
    vpc = make_vpc()
    for net, names in (
        (network(vpc.id, subnets=vpc.private, public_ip=False), vpc.private),  # only `subnets`, and private
        (network(vpc.id, subnets=vpc.private, alb=vpc.isolated, public_ip=False), vpc.isolated),
    ):
        with pytest.raises(ConfigError) as err:
            engine.create(make_ctx(with_network(net)))
        assert err.value.problems[0][0] == "network.alb_subnets"
        assert all(s in err.value.message for s in names) and "internet gateway" in err.value.message
    assert aws.mutating() == []  # nothing was created (AWS would refuse the ALB after half the stack)


def test_public_load_balancer_private_tasks_behind_nat(aws, make_ctx):
    vpc = make_vpc()
    ctx = make_ctx(with_network(network(vpc.id, subnets=vpc.private, alb=vpc.public, public_ip=False)))
    engine.create(ctx)
    assert load_balancer_subnets() == set(vpc.public)
    net = service_network()
    assert set(net["subnets"]) == set(vpc.private) and net["assignPublicIp"] == "DISABLED"
    assert ctx.notes == []  # a NAT route: nothing to warn about


def test_public_subnets_alone_serve_both(aws, make_ctx):
    vpc = make_vpc()
    engine.create(make_ctx(with_network(network(vpc.id, subnets=vpc.public))))
    assert load_balancer_subnets() == set(vpc.public)
    assert set(service_network()["subnets"]) == set(vpc.public)


def test_public_ip_in_private_subnets_is_refused(aws, make_ctx):
    vpc = make_vpc()
    with pytest.raises(ConfigError) as err:
        engine.create(make_ctx(with_network(network(vpc.id, subnets=vpc.private, alb=vpc.public, public_ip=True))))
    assert err.value.problems[0][0] == "network.assign_public_ip"
    assert vpc.private[0] in err.value.message and "NAT" in err.value.message
    assert aws.mutating() == []


def test_isolated_task_subnets_warn_what_the_tasks_cannot_reach(aws, make_ctx):
    vpc = make_vpc()
    text = with_network(network(vpc.id, subnets=vpc.isolated, alb=vpc.public, public_ip=False))
    ctx = make_ctx(text)
    ctx.mode = "plan"
    engine.make_plan(ctx)
    warning = " ".join(ctx.notes)
    for endpoint in ("ecr.api", "ecr.dkr", "s3", "logs", "ssm"):
        assert endpoint in warning
    assert "no route to the internet" in warning and "public.ecr.aws/nginx/nginx:stable" in warning

    # with the endpoints and an image in this region's ECR, nothing is missing
    ec2 = client("ec2")
    for service in ("ecr.api", "ecr.dkr", "logs", "ssm"):
        ec2.create_vpc_endpoint(
            VpcId=vpc.id, ServiceName=f"com.amazonaws.{REGION}.{service}", VpcEndpointType="Interface"
        )
    ec2.create_vpc_endpoint(VpcId=vpc.id, ServiceName=f"com.amazonaws.{REGION}.s3", VpcEndpointType="Gateway")
    ctx = make_ctx(with_network(network(vpc.id, subnets=vpc.isolated, alb=vpc.public, public_ip=False), ECR_IMAGE))
    ctx.mode = "plan"
    engine.make_plan(ctx)
    assert ctx.notes == []


def test_default_vpc_serves_both_as_before(aws, make_ctx):
    """The default VPC (an internet gateway on its main route table, as on AWS) needs no [network]."""
    engine.create(make_ctx())
    default = {s["SubnetId"] for s in client("ec2").describe_subnets()["Subnets"] if s["DefaultForAz"]}
    assert load_balancer_subnets() == default
    assert set(service_network()["subnets"]) == default


# -- 6. ACM's name limits -------------------------------------------------------------------------
LONG_ZONE = f"{'a' * 30}.{'b' * 30}.example.com"  # 73 characters, every label under 63


def test_zone_apex_longer_than_acm_allows_is_a_config_error(aws):
    text = (
        config_text()
        .replace(f'zone = "{ZONE}"', f'zone = "{LONG_ZONE}"')
        .replace(f'hostname = "www.{ZONE}"', f'hostname = "www.{LONG_ZONE}"')
    )
    with pytest.raises(ConfigError) as err:
        parse(text)
    assert err.value.problems[0][0] == "dns.zone"
    assert "64" in err.value.message and "73 characters" in err.value.message
    assert "dns.certificate_arn" in err.value.message  # what to do instead
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    brought = text.replace(f'hostname = "www.{LONG_ZONE}"', f'hostname = "www.{LONG_ZONE}"\ncertificate_arn = "{arn}"')
    assert parse(brought).dns.certificate_arn == arn  # a certificate brought may name it as a SAN


def test_cloudfront_copy_of_a_brought_certificate_is_a_config_error():
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    text = config_text().replace(
        f'hostname = "www.{ZONE}"', f'hostname = "www.{ZONE}"\ncertificate_arn = "{arn}"\ncloudfront_certificate = true'
    )
    with pytest.raises(ConfigError) as err:
        parse(text)
    assert err.value.problems[0][0] == "dns.cloudfront_certificate"


# -- 7. a CNAME next to other records ----------------------------------------------------------
CNAME = config_text().replace(f'hostname = "www.{ZONE}"', f'hostname = "www.{ZONE}"\nrecord = "cname"')


def test_cname_where_other_records_exist_is_a_conflict_found_in_planning(aws, make_ctx):
    change_records(
        "CREATE", {"Name": f"www.{ZONE}", "Type": "TXT", "TTL": 60, "ResourceRecords": [{"Value": '"v=spf1 -all"'}]}
    )
    aws.reset()
    with pytest.raises(OwnershipConflict) as err:
        engine.create(make_ctx(CNAME))
    assert err.value.exit_code == 4
    assert "TXT" in err.value.message and f"www.{ZONE}" in err.value.message and "alias" in err.value.message
    assert aws.mutating() == []  # AWS would refuse the change batch after the whole stack was built


def test_switching_our_alias_to_a_cname_is_not_a_conflict(aws, make_ctx):
    engine.create(make_ctx())
    engine.create(make_ctx(CNAME))
    rrs = client("route53").list_resource_record_sets(
        HostedZoneId=client("route53").list_hosted_zones_by_name(DNSName=ZONE)["HostedZones"][0]["Id"]
    )["ResourceRecordSets"]
    at_host = [r["Type"] for r in rrs if r["Name"] == f"www.{ZONE}."]
    assert at_host == ["CNAME"]


# -- 9. existing secrets encrypted with their own key ---------------------------------------------
@pytest.mark.parametrize("given_as", ["alias", "arn", "id"])
def test_existing_secret_with_its_own_key_gets_decrypt_on_that_key(aws, make_ctx, given_as):
    kms = client("kms")
    key = kms.create_key(Description="the app team's key")["KeyMetadata"]
    kms.create_alias(AliasName="alias/app-secrets", TargetKeyId=key["KeyId"])
    key_id = {"alias": "alias/app-secrets", "arn": key["Arn"], "id": key["KeyId"]}[given_as]
    client("ssm").put_parameter(Name="/web/dev/DB_PASSWORD", Value="theirs", Type="SecureString", KeyId=key_id)

    engine.create(make_ctx(secrets={}))

    policy = client("iam").get_role_policy(RoleName="web-dev-execution", PolicyName="ecsup-secrets")["PolicyDocument"]
    decrypt = [s for s in policy["Statement"] if s["Action"] == "kms:Decrypt"]
    assert decrypt and decrypt[0]["Resource"] == key["Arn"]  # the key itself, resolved from an alias


def test_secret_with_a_key_that_does_not_exist_is_a_config_error(aws, make_ctx):
    client("ssm").put_parameter(Name="/web/dev/DB_PASSWORD", Value="x", Type="SecureString", KeyId="alias/app-secrets")
    with pytest.raises(ConfigError) as err:
        engine.create(make_ctx(secrets={}))
    assert err.value.problems[0][0] == "service.secrets.DB_PASSWORD"
    assert "alias/app-secrets" in err.value.message
    assert aws.mutating() == []


# -- 15. the zones Fargate runs in --------------------------------------------------------------
def test_fargate_zone_table():
    assert not fargate_runs_in("us-west-1", "usw1-az2") and fargate_runs_in("us-west-1", "usw1-az1")
    assert not fargate_runs_in("ap-northeast-1", "apne1-az3") and fargate_runs_in("ap-northeast-1", "apne1-az4")
    assert fargate_runs_in("us-east-1", "use1-az3") and not fargate_runs_in("us-east-1", "use1-az3", "ARM64")
    assert fargate_runs_in("eu-west-1", "euw1-az3")  # a region with no restriction


def test_default_subnets_where_fargate_does_not_run_are_left_out_of_the_tasks(aws, make_ctx, monkeypatch):
    # moto's zones are all ones Fargate supports: pretend eu-west-1 had a zone without Fargate
    monkeypatch.setitem(network_step.FARGATE_ZONES, REGION, {"euw1-az1", "euw1-az2"})
    subnets = client("ec2").describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    excluded = next(s["SubnetId"] for s in subnets if s["AvailabilityZoneId"] == "euw1-az3")
    ctx = make_ctx()
    engine.create(ctx)
    assert excluded in load_balancer_subnets()  # the load balancer still uses the zone
    assert excluded not in service_network()["subnets"]
    assert any(excluded in note and "euw1-az3" in note and "Fargate" in note for note in ctx.notes)


def test_configured_subnet_where_fargate_does_not_run_is_a_config_error(aws, make_ctx, monkeypatch):
    vpc = make_vpc()
    zone = client("ec2").describe_subnets(SubnetIds=[vpc.public[1]])["Subnets"][0]["AvailabilityZoneId"]
    monkeypatch.setitem(network_step.FARGATE_ZONES, REGION, {"euw1-az1", "euw1-az2", "euw1-az3"} - {zone})
    with pytest.raises(ConfigError) as err:
        engine.create(make_ctx(with_network(network(vpc.id, subnets=vpc.public))))
    assert err.value.problems[0][0] == "network.subnets"
    assert vpc.public[1] in err.value.message and zone in err.value.message
    assert aws.mutating() == []
