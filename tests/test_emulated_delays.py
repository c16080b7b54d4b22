"""AWS's delays as the emulation models them (ecsup/emulation, Delays), each shown through the
AWS API on the fake clock: the state AWS reports before the delay has passed, and after.

certificate_validation (ACM issues once the validation records have been in the zone that
long), load_balancer_provisioning ("provisioning", then "active"), service_start (a new
service's tasks PENDING, then RUNNING; its first deployment completes once they run and its
load balancer is active), service_draining and eni_release (destroy: DRAINING, then the
tasks' security group held by their network interfaces). Also the sandbox's and the bench's
way of setting them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import REGION, ZONE, FakeClock, Recorder, change_records, client
from moto import settings

from ecsup import emulation, engine
from ecsup.errors import EcsupError

SetDelays = Callable[..., emulation.Delays]


@pytest.fixture
def delays(aws: Any) -> SetDelays:
    """Change the active emulation's delays for this test (the fake clock stays)."""

    def change(**seconds: float) -> emulation.Delays:
        assert emulation.ACTIVE is not None
        return emulation.activate(emulation.ACTIVE.with_delays(**seconds)).delays

    return change


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


# -- ACM: certificate_validation ------------------------------------------------------------------
def request(region: str = REGION) -> str:
    acm = client("acm", region)
    return str(acm.request_certificate(DomainName=f"app.{ZONE}", ValidationMethod="DNS")["CertificateArn"])


def described(arn: str, region: str = REGION) -> dict[str, Any]:
    return dict(client("acm", region).describe_certificate(CertificateArn=arn)["Certificate"])


def write_validation_records(arn: str, region: str = REGION) -> None:
    options = described(arn, region)["DomainValidationOptions"]
    cnames = {(o["ResourceRecord"]["Name"], o["ResourceRecord"]["Value"]) for o in options}
    change_records(
        "UPSERT",
        *({"Name": n, "Type": "CNAME", "TTL": 300, "ResourceRecords": [{"Value": v}]} for n, v in cnames),
    )


def test_a_certificate_is_issued_a_validation_delay_after_its_records_appear_not_after_the_request(
    delays: SetDelays, clock: FakeClock
) -> None:
    d = delays(certificate_validation=300)
    arn = request()
    clock.sleep(d.validation_records)
    clock.sleep(1000)  # long after the request: no records in the zone, so still pending
    cert = described(arn)
    assert cert["Status"] == "PENDING_VALIDATION"
    write_validation_records(arn)
    clock.sleep(299)
    cert = described(arn)
    assert cert["Status"] == "PENDING_VALIDATION"
    assert {o["ValidationStatus"] for o in cert["DomainValidationOptions"]} == {"PENDING_VALIDATION"}
    assert "IssuedAt" not in cert
    clock.sleep(1)
    cert = described(arn)
    assert cert["Status"] == "ISSUED"
    assert {o["ValidationStatus"] for o in cert["DomainValidationOptions"]} == {"SUCCESS"}


def test_the_validation_delay_runs_from_the_records_even_when_nobody_looks_meanwhile(
    delays: SetDelays, clock: FakeClock
) -> None:
    d = delays(certificate_validation=300)
    arn = request()
    clock.sleep(d.validation_records)
    write_validation_records(arn)
    clock.sleep(300)  # no DescribeCertificate in between
    assert described(arn)["Status"] == "ISSUED"


def test_a_certificate_whose_records_are_in_the_zone_already_validates_from_its_request(
    delays: SetDelays, clock: FakeClock
) -> None:
    """ACM gives the same validation CNAME in every region: the second certificate finds it there."""
    d = delays(certificate_validation=300)
    first = request()
    clock.sleep(d.validation_records)
    write_validation_records(first)
    clock.sleep(300)
    assert described(first)["Status"] == "ISSUED"
    second = request("us-east-1")
    clock.sleep(299)
    assert described(second, "us-east-1")["Status"] == "PENDING_VALIDATION"
    clock.sleep(1)
    assert described(second, "us-east-1")["Status"] == "ISSUED"


def test_moto_keeping_a_certificate_pending_still_wins(delays: SetDelays, clock: FakeClock) -> None:
    """What the tests' pending_certificates fixture relies on (DNS that never validates)."""
    d = delays(certificate_validation=10)
    old = settings.ACM_VALIDATION_WAIT
    settings.ACM_VALIDATION_WAIT = 10**6
    try:
        arn = request()
        clock.sleep(d.validation_records)
        write_validation_records(arn)
        clock.sleep(10_000)
        assert described(arn)["Status"] == "PENDING_VALIDATION"
        settings.ACM_VALIDATION_WAIT = 0  # DNS fixed: ACM validates
        assert described(arn)["Status"] == "ISSUED"
    finally:
        settings.ACM_VALIDATION_WAIT = old


def test_the_https_listener_waits_for_the_certificate(delays: SetDelays, clock: FakeClock) -> None:
    d = delays(certificate_validation=60, load_balancer_provisioning=0)
    stack = Stack.build(clock)
    arn = request()
    clock.sleep(d.validation_records)
    write_validation_records(arn)
    elb = client("elbv2")

    def https() -> Any:
        return elb.create_listener(
            LoadBalancerArn=stack.lb,
            Protocol="HTTPS",
            Port=443,
            Certificates=[{"CertificateArn": arn}],
            DefaultActions=[{"Type": "forward", "TargetGroupArn": stack.tg}],
        )

    clock.sleep(59)
    with pytest.raises(ClientError) as exc:
        https()
    assert error_code(exc) == "UnsupportedCertificate"
    clock.sleep(1 + d.certificate_usable)  # issued, and ELB sees it
    assert https()["Listeners"][0]["Port"] == 443


# -- ELB: load_balancer_provisioning ----------------------------------------------------------------
@dataclass
class Stack:
    """A service's surroundings: a load balancer (created at ``lb_created``) with an HTTP listener
    forwarding to an ip target group, a tasks security group admitting the load balancer's, ECS's
    service-linked role (usable), a cluster and a FARGATE task definition."""

    clock: FakeClock
    lb: str
    lb_created: float
    tg: str
    sg_alb: str
    sg_tasks: str
    subnets: list[str]
    task: str

    @classmethod
    def build(cls, clock: FakeClock) -> Stack:
        ec2, elb, ecs, iam = client("ec2"), client("elbv2"), client("ecs"), client("iam")
        vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        subnets = [
            s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
        ]
        sg_alb = ec2.create_security_group(GroupName="alb", Description="alb", VpcId=vpc)["GroupId"]
        sg_tasks = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=sg_tasks,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "UserIdGroupPairs": [{"GroupId": sg_alb}]}
            ],
        )
        created = clock.now
        lb = elb.create_load_balancer(Name="web", Subnets=subnets[:2], SecurityGroups=[sg_alb])["LoadBalancers"][0]
        tg = elb.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")
        tg_arn = tg["TargetGroups"][0]["TargetGroupArn"]
        elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTP",
            Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
        )
        iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
        assert emulation.ACTIVE is not None
        clock.sleep(emulation.ACTIVE.delays.service_linked_role)
        ecs.create_cluster(clusterName="apps")
        task = ecs.register_task_definition(
            family="web",
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="256",
            memory="512",
            containerDefinitions=[{"name": "app", "image": "public.ecr.aws/nginx/nginx:stable"}],
        )["taskDefinition"]["taskDefinitionArn"]
        return cls(clock, lb["LoadBalancerArn"], created, tg_arn, sg_alb, sg_tasks, subnets, task)

    def lb_state(self) -> str:
        return str(
            client("elbv2").describe_load_balancers(LoadBalancerArns=[self.lb])["LoadBalancers"][0]["State"]["Code"]
        )

    def create_service(self, desired: int = 2) -> None:
        client("ecs").create_service(
            cluster="apps",
            serviceName="web",
            taskDefinition=self.task,
            desiredCount=desired,
            launchType="FARGATE",
            networkConfiguration={"awsvpcConfiguration": {"subnets": self.subnets, "securityGroups": [self.sg_tasks]}},
            loadBalancers=[{"targetGroupArn": self.tg, "containerName": "app", "containerPort": 80}],
        )

    def service(self) -> dict[str, Any]:
        return dict(client("ecs").describe_services(cluster="apps", services=["web"])["services"][0])

    def deployment(self) -> dict[str, Any]:
        ecs = client("ecs")
        [listed] = ecs.list_service_deployments(cluster="apps", service="web")["serviceDeployments"]
        arn = listed["serviceDeploymentArn"]
        return dict(ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0])


def test_a_new_load_balancer_is_provisioning_until_the_delay_passes(delays: SetDelays, clock: FakeClock) -> None:
    d = delays(load_balancer_provisioning=120)
    elb = client("elbv2")
    ec2 = client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    created = elb.create_load_balancer(Name="web", Subnets=subnets[:2])["LoadBalancers"][0]
    assert created["State"]["Code"] == "provisioning"
    arn = created["LoadBalancerArn"]

    def states() -> set[str]:  # every way of describing it (moto activates on any of them)
        return {
            elb.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]["State"]["Code"],
            elb.describe_load_balancers(Names=["web"])["LoadBalancers"][0]["State"]["Code"],
            elb.describe_load_balancers()["LoadBalancers"][0]["State"]["Code"],
        }

    assert states() == {"provisioning"}
    # listeners can be created meanwhile
    listener = elb.create_listener(
        LoadBalancerArn=arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}
        ],
    )
    assert listener["Listeners"][0]["Port"] == 80
    clock.sleep(d.load_balancer_provisioning - 1)
    assert states() == {"provisioning"}
    clock.sleep(1)
    assert states() == {"active"}
    clock.sleep(1000)
    assert states() == {"active"}


# -- ECS: service_start, and the load balancer's health checks ---------------------------------------
def test_a_new_service_runs_its_tasks_after_the_start_delay_and_completes_once_its_load_balancer_is_active(
    delays: SetDelays, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "2")  # moto's word: both tasks will run
    d = delays(service_start=30, load_balancer_provisioning=120)
    stack = Stack.build(clock)
    stack.create_service(desired=2)
    started = clock.now
    assert started + d.service_start < stack.lb_created + d.load_balancer_provisioning

    svc = stack.service()
    assert (svc["runningCount"], svc["pendingCount"]) == (0, 2)
    [primary] = svc["deployments"]
    assert (primary["rolloutState"], primary["runningCount"], primary["pendingCount"]) == ("IN_PROGRESS", 0, 2)
    dep = stack.deployment()
    assert dep["status"] == "IN_PROGRESS"
    assert (dep["targetServiceRevision"]["pendingTaskCount"], dep["targetServiceRevision"]["runningTaskCount"]) == (
        2,
        0,
    )

    clock.sleep(d.service_start - 1)
    assert stack.service()["runningCount"] == 0
    clock.sleep(1)  # the tasks run ...
    svc = stack.service()
    assert (svc["runningCount"], svc["pendingCount"]) == (2, 0)
    assert svc["deployments"][0]["rolloutState"] == "IN_PROGRESS"  # ... but cannot pass health checks yet
    assert stack.deployment()["status"] == "IN_PROGRESS"
    assert stack.deployment()["targetServiceRevision"]["runningTaskCount"] == 2
    assert stack.lb_state() == "provisioning"

    clock.now = stack.lb_created + d.load_balancer_provisioning - 0.5
    assert stack.service()["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    clock.sleep(0.5)
    assert stack.lb_state() == "active"
    svc = stack.service()
    [primary] = svc["deployments"]
    assert primary["rolloutState"] == "COMPLETED"
    assert (svc["runningCount"], svc["pendingCount"]) == (2, 0)
    assert any("has reached a steady state" in e["message"] for e in svc["events"])
    dep = stack.deployment()
    assert dep["status"] == "SUCCESSFUL"
    assert dep["finishedAt"] >= dep["startedAt"]


def test_with_its_load_balancer_active_the_tasks_start_decides(delays: SetDelays, clock: FakeClock) -> None:
    d = delays(service_start=30, load_balancer_provisioning=0)
    stack = Stack.build(clock)
    stack.create_service(desired=1)
    clock.sleep(d.service_start - 1)
    svc = stack.service()
    assert (svc["runningCount"], svc["pendingCount"], svc["deployments"][0]["rolloutState"]) == (0, 1, "IN_PROGRESS")
    clock.sleep(1)
    svc = stack.service()
    assert (svc["runningCount"], svc["pendingCount"], svc["deployments"][0]["rolloutState"]) == (1, 0, "COMPLETED")
    assert stack.deployment()["status"] == "SUCCESSFUL"


def test_without_delays_the_first_deployment_completes_at_once(delays: SetDelays, clock: FakeClock) -> None:
    """What the tests' STRICT delays keep (service_start 0) once the load balancer is active."""
    delays(service_start=0, load_balancer_provisioning=0)
    stack = Stack.build(clock)
    stack.create_service(desired=1)
    svc = stack.service()
    assert (svc["runningCount"], svc["pendingCount"], svc["deployments"][0]["rolloutState"]) == (1, 0, "COMPLETED")
    assert stack.deployment()["status"] == "SUCCESSFUL"


def test_tasks_moto_says_never_run_never_run(
    delays: SetDelays, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "0")
    delays(service_start=30, load_balancer_provisioning=0)
    stack = Stack.build(clock)
    stack.create_service(desired=1)
    clock.sleep(10_000)
    svc = stack.service()
    assert (svc["runningCount"], svc["pendingCount"], svc["deployments"][0]["rolloutState"]) == (0, 1, "IN_PROGRESS")
    assert stack.deployment()["status"] == "IN_PROGRESS"
    assert svc["events"] == []


def test_create_waits_for_the_load_balancer_and_the_tasks(
    delays: SetDelays, clock: FakeClock, make_ctx: Any, aws: Recorder
) -> None:
    """ecsup's create, end to end: the service is stable no sooner than its load balancer is active
    and its tasks have started (both counted from their own creation)."""
    d = delays(load_balancer_provisioning=400, service_start=90)
    created: dict[str, float] = {}

    def note(service: str, operation: str, params: dict[str, Any]) -> None:
        if operation in ("CreateLoadBalancer", "CreateService"):
            created[operation] = clock.now

    aws.injectors.append(note)
    engine.create(make_ctx())
    assert set(created) == {"CreateLoadBalancer", "CreateService"}
    assert clock.now >= created["CreateLoadBalancer"] + d.load_balancer_provisioning
    assert clock.now >= created["CreateService"] + d.service_start
    svc = client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"][0]
    assert svc["deployments"][0]["rolloutState"] == "COMPLETED" and svc["runningCount"] == svc["desiredCount"]
    lb = client("elbv2").describe_load_balancers(Names=["web-dev"])["LoadBalancers"][0]
    assert lb["State"]["Code"] == "active"


# -- destroy: service_draining, eni_release -------------------------------------------------------------
def delete_the_service(stack: Stack) -> None:
    ecs = client("ecs")
    ecs.update_service(cluster="apps", service="web", desiredCount=0)
    assert ecs.delete_service(cluster="apps", service="web")["service"]["status"] == "DRAINING"


def delete_group(group: str) -> str:
    try:
        client("ec2").delete_security_group(GroupId=group)
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "deleted"


def test_a_deleted_service_drains_then_its_network_interfaces_hold_its_security_group(
    delays: SetDelays, clock: FakeClock
) -> None:
    d = delays(service_draining=40, eni_release=100)
    stack = Stack.build(clock)
    stack.create_service(desired=1)
    clock.sleep(10)
    delete_the_service(stack)
    assert delete_group(stack.sg_tasks) == "DependencyViolation"
    clock.sleep(d.service_draining - 1)
    assert stack.service()["status"] == "DRAINING"
    with pytest.raises(ClientError) as exc:
        client("ecs").delete_cluster(cluster="apps")
    assert error_code(exc) == "ClusterContainsServicesException"
    clock.sleep(1)
    assert stack.service()["status"] == "INACTIVE"
    assert delete_group(stack.sg_tasks) == "DependencyViolation"  # its tasks' network interfaces
    clock.sleep(d.eni_release - 1)
    assert delete_group(stack.sg_tasks) == "DependencyViolation"
    assert delete_group(stack.sg_alb) == "DependencyViolation"  # the load balancer still uses it
    clock.sleep(1)
    assert delete_group(stack.sg_tasks) == "deleted"


def test_the_network_interfaces_are_released_from_when_the_service_stopped_not_from_when_someone_looked(
    delays: SetDelays, clock: FakeClock
) -> None:
    d = delays(service_draining=40, eni_release=100)
    stack = Stack.build(clock)
    stack.create_service(desired=1)
    delete_the_service(stack)
    clock.sleep(d.service_draining + d.eni_release)  # nobody describes the service meanwhile
    assert delete_group(stack.sg_tasks) == "deleted"


def test_a_deleted_load_balancer_holds_its_security_group_while_its_interfaces_are_released(
    delays: SetDelays, clock: FakeClock
) -> None:
    d = delays(eni_release=100)
    stack = Stack.build(clock)
    client("ec2").delete_security_group(GroupId=stack.sg_tasks)  # (its rule refers to the load balancer's group)
    client("elbv2").delete_load_balancer(LoadBalancerArn=stack.lb)
    clock.sleep(d.eni_release - 1)
    assert delete_group(stack.sg_alb) == "DependencyViolation"
    clock.sleep(1)
    assert delete_group(stack.sg_alb) == "deleted"


# -- setting them: the sandbox and the bench ------------------------------------------------------------------
def test_the_sandbox_sets_the_delays_it_is_given_and_keeps_its_own_for_the_rest() -> None:
    from ecsup.sandbox import describe_delays, sandbox_delays

    d = sandbox_delays(
        certificate_validation=6, load_balancer_provisioning=3, service_start=5, service_draining=4, eni_release=7
    )
    assert (d.certificate_validation, d.load_balancer_provisioning, d.service_start) == (6, 3, 5)
    assert (d.service_draining, d.eni_release) == (4, 7)
    assert d.task_start == 5  # later deployments' tasks start as fast
    assert d.iam_read == emulation.SANDBOX.iam_read and d.alias_target == emulation.SANDBOX.alias_target
    assert sandbox_delays() == emulation.SANDBOX
    assert "certificate validation 6 s" in describe_delays(d) and "service start 5 s" in describe_delays(d)
    with pytest.raises(EcsupError):
        sandbox_delays(service_draining=-1)


def test_the_sandbox_command_takes_the_delays_as_options() -> None:
    from typer.testing import CliRunner

    from ecsup.cli import app

    out = CliRunner().invoke(app, ["sandbox", "--help"], env={"COLUMNS": "200"}).output
    for option in ("--validation-delay", "--load-balancer-delay", "--service-delay", "--draining-delay", "--eni-delay"):
        assert option in out
