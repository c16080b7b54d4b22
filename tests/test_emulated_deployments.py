"""ECS's deployment controller as the emulation runs it (ecsup/emulation/deployments.py): the
ServiceDeployment API, blue/green, linear and canary traffic shifts on the production listener
rule, rollbacks, the circuit breaker -- driven through the AWS API, on the fake clock."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import REGION, FakeClock, client

from ecsup import emulation
from ecsup.emulation.deployments import TERMINAL

Client = Callable[[str], Any]

IMAGE = "public.ecr.aws/nginx/nginx:1.27"
UNHEALTHY = "public.ecr.aws/nginx/nginx:unhealthy"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def delays() -> emulation.Delays:
    assert emulation.ACTIVE is not None
    return emulation.ACTIVE.delays


class Stack:
    """A minimal service behind an ALB: HTTP:8080 whose default rule (the production rule)
    forwards green 100 / blue 0 before the service exists, an infrastructure role for ECS, a
    cluster, a FARGATE task. A blue/green service's first deployment moves production to the
    other group, as on AWS: the tests start from blue live."""

    def __init__(self, clock: FakeClock, make: Client = client) -> None:
        self.clock, self.make = clock, make
        ec2, elb, iam = make("ec2"), make("elbv2"), make("iam")
        self.ecs = make("ecs")
        self.elb = elb
        vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        self.subnets = [
            s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
        ]
        self.sg = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
        lb = elb.create_load_balancer(Name="web", Subnets=self.subnets[:2], SecurityGroups=[self.sg])
        self.lb = lb["LoadBalancers"][0]["LoadBalancerArn"]
        self.blue, self.green = (
            elb.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")["TargetGroups"][0][
                "TargetGroupArn"
            ]
            for name in ("blue", "green")
        )
        forward = {
            "TargetGroups": [{"TargetGroupArn": self.blue, "Weight": 0}, {"TargetGroupArn": self.green, "Weight": 100}]
        }
        self.listener = elb.create_listener(
            LoadBalancerArn=self.lb,
            Protocol="HTTP",
            Port=8080,
            DefaultActions=[{"Type": "forward", "ForwardConfig": forward}],
        )["Listeners"][0]["ListenerArn"]
        rules = elb.describe_rules(ListenerArn=self.listener)["Rules"]
        self.rule = next(r["RuleArn"] for r in rules if r["IsDefault"])
        self.role = iam.create_role(RoleName="ecs-infrastructure", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"][
            "Arn"
        ]
        iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
        clock.sleep(delays().service_linked_role)
        self.ecs.create_cluster(clusterName="apps")
        self.revision = 0

    def task(self, image: str = IMAGE) -> str:
        self.revision += 1
        return str(
            self.ecs.register_task_definition(
                family="web",
                requiresCompatibilities=["FARGATE"],
                networkMode="awsvpc",
                cpu="256",
                memory="512",
                executionRoleArn=self.role,  # (the emulation reads it; a task without one trips it up)
                containerDefinitions=[{"name": "app", "image": image, "portMappings": [{"containerPort": 80}]}],
            )["taskDefinition"]["taskDefinitionArn"]
        )

    def advanced(self, **changes: Any) -> dict[str, Any]:
        adv = {"alternateTargetGroupArn": self.green, "productionListenerRule": self.rule, "roleArn": self.role}
        adv.update(changes)
        return {k: v for k, v in adv.items() if v is not None}

    def service(
        self, strategy: str = "BLUE_GREEN", image: str = IMAGE, desired: int = 1, first: bool = True, **config: Any
    ) -> str:
        """The service, and (``first``) its first deployment run to its end."""
        deployment: dict[str, Any] = {"strategy": strategy, **config}
        if strategy == "BLUE_GREEN":
            deployment.setdefault("bakeTimeInMinutes", 1)
        lb: dict[str, Any] = {"targetGroupArn": self.blue, "containerName": "app", "containerPort": 80}
        if strategy != "ROLLING":
            lb["advancedConfiguration"] = self.advanced()
        self.ecs.create_service(
            cluster="apps",
            serviceName="web",
            taskDefinition=self.task(image),
            desiredCount=desired,
            launchType="FARGATE",
            networkConfiguration={"awsvpcConfiguration": {"subnets": self.subnets, "securityGroups": [self.sg]}},
            loadBalancers=[lb],
            deploymentConfiguration=deployment,
        )
        if first:
            self.until(status(*TERMINAL), step=5)
        return "web"

    def update(self, image: str = IMAGE, **kwargs: Any) -> str:
        td = self.task(image)
        self.ecs.update_service(cluster="apps", service="web", taskDefinition=td, **kwargs)
        return td

    # -- reading back ------------------------------------------------------------------------------
    def svc(self) -> dict[str, Any]:
        return dict(self.ecs.describe_services(cluster="apps", services=["web"])["services"][0])

    def listed(self, **filters: Any) -> list[dict[str, Any]]:
        """ListServiceDeployments's first page as it comes (in no promised order)."""
        return list(self.ecs.list_service_deployments(cluster="apps", service="web", **filters)["serviceDeployments"])

    def deployments(self, **filters: Any) -> list[dict[str, Any]]:
        """Newest first, by createdAt."""
        return sorted(self.listed(**filters), key=lambda d: d["createdAt"], reverse=True)

    def latest(self) -> dict[str, Any]:
        arn = self.deployments()[0]["serviceDeploymentArn"]
        return dict(self.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0])

    def weights(self) -> dict[str, int]:
        """Production weights, read back from DescribeRules -- and the same from DescribeListeners."""
        rule = self.elb.describe_rules(RuleArns=[self.rule])["Rules"][0]
        groups = rule["Actions"][0]["ForwardConfig"]["TargetGroups"]
        from_rule = {g["TargetGroupArn"]: g["Weight"] for g in groups}
        listener = self.elb.describe_listeners(ListenerArns=[self.listener])["Listeners"][0]
        groups = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
        assert {g["TargetGroupArn"]: g["Weight"] for g in groups} == from_rule
        return {("blue" if arn == self.blue else "green"): w for arn, w in from_rule.items()}

    def until(
        self, predicate: Callable[[dict[str, Any]], bool], limit: float = 900, step: float = 1.0
    ) -> dict[str, Any]:
        """Advance the fake clock until the latest deployment satisfies predicate; return it."""
        waited = 0.0
        while True:
            dep = self.latest()
            if predicate(dep):
                return dep
            assert waited < limit, dep
            self.clock.sleep(step)
            waited += step


def stage(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda d: d.get("lifecycleStage") == name


def status(*names: str) -> Callable[[dict[str, Any]], bool]:
    return lambda d: d["status"] in names


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


@pytest.fixture
def stack(aws: Any, clock: FakeClock) -> Stack:
    return Stack(clock)


# -- blue/green -------------------------------------------------------------------------------------
def test_create_keeps_the_configuration_and_its_first_deployment_succeeds(stack: Stack) -> None:
    stack.service(deploymentCircuitBreaker={"enable": True, "rollback": True})
    svc = stack.svc()
    config = svc["deploymentConfiguration"]
    assert config["strategy"] == "BLUE_GREEN" and config["bakeTimeInMinutes"] == 1
    assert config["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert svc["loadBalancers"][0]["advancedConfiguration"]["alternateTargetGroupArn"] == stack.green
    [first] = stack.deployments()
    assert first["status"] == "SUCCESSFUL"  # through the whole lifecycle: production moved to blue
    assert first["serviceDeploymentArn"].startswith(f"arn:aws:ecs:{REGION}:")
    assert ":service-deployment/apps/web/" in first["serviceDeploymentArn"]
    dep = stack.latest()
    assert dep["sourceServiceRevisions"] == []
    assert dep["targetServiceRevision"]["runningTaskCount"] == 1
    assert ":service-revision/apps/web/" in dep["targetServiceRevision"]["arn"]
    # the service's deployment id is the revision's number (what terraform matches them by)
    assert svc["deployments"][0]["id"].split("/")[1] == dep["targetServiceRevision"]["arn"].split("/")[-1]
    assert stack.weights() == {"blue": 100, "green": 0}
    assert any("has reached a steady state" in e["message"] for e in svc["events"])


def test_blue_green_walks_the_stages_and_moves_production_to_the_other_group(stack: Stack) -> None:
    stack.service()
    old = stack.svc()["taskDefinition"]
    new = stack.update()
    dep = stack.latest()
    assert dep["status"] == "PENDING"
    assert stack.svc()["taskDefinition"] == new  # as ECS: the service names the new revision at once
    assert [r["arn"] for r in dep["sourceServiceRevisions"]] != [dep["targetServiceRevision"]["arn"]]

    dep = stack.until(stage("SCALE_UP"))
    assert dep["status"] == "IN_PROGRESS" and "startedAt" in dep
    target = dep["targetServiceRevision"]
    assert (target["pendingTaskCount"], target["runningTaskCount"]) == (1, 0)
    svc = stack.svc()
    assert len(svc["deployments"]) == 2 and svc["deployments"][0]["status"] == "PRIMARY"
    assert svc["pendingCount"] == 1 and svc["runningCount"] == 1
    assert "has started 1 tasks" in svc["events"][0]["message"]
    assert stack.weights() == {"blue": 100, "green": 0}

    seen = []
    for name in ("POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"):
        dep = stack.until(stage(name), step=0.5)
        seen.append(dep["lifecycleStage"])
    assert dep["targetServiceRevision"]["runningTaskCount"] == 1
    assert dep["targetServiceRevision"]["requestedProductionTrafficWeight"] == 100.0
    assert dep["sourceServiceRevisions"][0]["requestedProductionTrafficWeight"] == 0.0
    assert stack.weights() == {"blue": 0, "green": 100}  # BLUE_GREEN: all at once

    dep = stack.until(stage("BAKE_TIME"), step=0.5)
    assert dep["sourceServiceRevisions"][0]["runningTaskCount"] == 1  # blue still up while baking
    stack.clock.sleep(delays().deployment_minute - 1)
    assert stack.latest()["lifecycleStage"] == "BAKE_TIME"
    dep = stack.until(stage("CLEAN_UP"), step=0.5)
    assert dep["sourceServiceRevisions"][0]["runningTaskCount"] == 0
    dep = stack.until(status("SUCCESSFUL"), step=0.5)
    assert "finishedAt" in dep and dep["finishedAt"] >= dep["startedAt"]
    svc = stack.svc()
    assert svc["taskDefinition"] == new != old
    assert (svc["runningCount"], svc["pendingCount"], len(svc["deployments"])) == (1, 0, 1)
    assert svc["deployments"][0]["rolloutState"] == "COMPLETED"
    assert stack.weights() == {"blue": 0, "green": 100}
    assert "has reached a steady state" in svc["events"][0]["message"]

    # the next deployment goes back the other way: green is live now
    stack.update()
    stack.until(status("SUCCESSFUL"), step=5)
    assert stack.weights() == {"blue": 100, "green": 0}


def test_linear_shifts_traffic_in_steps(stack: Stack) -> None:
    stack.service("LINEAR", bakeTimeInMinutes=0, linearConfiguration={"stepPercent": 40.0, "stepBakeTimeInMinutes": 2})
    assert stack.svc()["deploymentConfiguration"]["linearConfiguration"]["stepPercent"] == 40.0
    stack.update()
    dep = stack.until(stage("PRODUCTION_TRAFFIC_SHIFT"), step=0.5)
    assert stack.weights() == {"blue": 60, "green": 40}
    assert dep["targetServiceRevision"]["requestedProductionTrafficWeight"] == 40.0
    assert dep["sourceServiceRevisions"][0]["requestedProductionTrafficWeight"] == 60.0
    minute = delays().deployment_minute
    stack.clock.sleep(2 * minute - 1)
    assert stack.weights() == {"blue": 60, "green": 40}
    stack.clock.sleep(1)
    assert stack.weights() == {"blue": 20, "green": 80}
    assert stack.latest()["lifecycleStage"] == "PRODUCTION_TRAFFIC_SHIFT"  # the stage of every step
    stack.clock.sleep(2 * minute)
    assert stack.weights() == {"blue": 0, "green": 100}
    stack.until(status("SUCCESSFUL"), step=0.5)


def test_canary_shifts_the_canary_then_the_rest(stack: Stack) -> None:
    stack.service(
        "CANARY", bakeTimeInMinutes=0, canaryConfiguration={"canaryPercent": 12.5, "canaryBakeTimeInMinutes": 3}
    )
    stack.update()
    dep = stack.until(stage("PRODUCTION_TRAFFIC_SHIFT"), step=0.5)
    # ELB weights are integers: 12.5 % is 125 of 1000
    assert stack.weights() == {"blue": 875, "green": 125}
    assert dep["targetServiceRevision"]["requestedProductionTrafficWeight"] == 12.5
    stack.clock.sleep(3 * delays().deployment_minute - 1)
    assert stack.weights()["green"] == 125
    stack.clock.sleep(1)
    assert stack.weights() == {"blue": 0, "green": 100}
    stack.until(status("SUCCESSFUL"), step=0.5)


# -- rollbacks --------------------------------------------------------------------------------------
def test_rollback_on_request_puts_traffic_and_the_task_definition_back(stack: Stack) -> None:
    stack.service()
    old = stack.svc()["taskDefinition"]
    source = stack.latest()["targetServiceRevision"]["arn"]
    stack.update()
    stack.until(stage("BAKE_TIME"), step=0.5)
    assert stack.weights() == {"blue": 0, "green": 100}
    arn = stack.latest()["serviceDeploymentArn"]
    assert (
        stack.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")["serviceDeploymentArn"] == arn
    )
    assert stack.latest()["status"] == "ROLLBACK_REQUESTED"
    dep = stack.until(status("ROLLBACK_IN_PROGRESS"), step=0.5)
    assert stack.weights() == {"blue": 100, "green": 0}
    assert stack.svc()["taskDefinition"] == old
    assert dep["rollback"]["serviceRevisionArn"] == source
    assert "requested" in dep["rollback"]["reason"] and "startedAt" in dep["rollback"]
    # a second request while it rolls back: it continues
    stack.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    dep = stack.until(status("ROLLBACK_SUCCESSFUL"), step=0.5)
    assert dep["statusReason"] == dep["rollback"]["reason"]
    assert dep["targetServiceRevision"]["runningTaskCount"] == 0
    svc = stack.svc()
    assert (svc["taskDefinition"], svc["runningCount"], len(svc["deployments"])) == (old, 1, 1)
    assert any("rolling back to deployment" in e["message"] for e in svc["events"])
    # an ended deployment cannot be stopped; an unknown one does not exist
    with pytest.raises(ClientError) as exc:
        stack.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert error(exc)[0] == "ConflictException"
    with pytest.raises(stack.ecs.exceptions.ServiceDeploymentNotFoundException):
        stack.ecs.stop_service_deployment(serviceDeploymentArn=arn[:-3] + "xyz", stopType="ROLLBACK")


def test_circuit_breaker_rolls_back_tasks_that_never_pass_health_checks(stack: Stack) -> None:
    stack.service(deploymentCircuitBreaker={"enable": True, "rollback": True})
    old = stack.svc()["taskDefinition"]
    stack.update(UNHEALTHY)
    dep = stack.until(stage("SCALE_UP"))
    assert dep["deploymentCircuitBreaker"] == {"status": "MONITORING", "failureCount": 0, "threshold": 3}
    stack.clock.sleep(delays().task_start)
    assert stack.latest()["deploymentCircuitBreaker"]["failureCount"] == 1
    dep = stack.until(status("ROLLBACK_IN_PROGRESS"))
    assert dep["lifecycleStage"] == "SCALE_UP"  # never got further
    assert dep["statusReason"] == "Service deployment rolled back because the circuit breaker threshold was exceeded."
    assert dep["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    svc = stack.svc()
    failed = next(d for d in svc["deployments"] if d.get("rolloutState") == "FAILED")
    assert failed["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
    assert svc["taskDefinition"] == old
    assert any("deployment failed: tasks failed to start" in e["message"] for e in svc["events"])
    dep = stack.until(status("ROLLBACK_SUCCESSFUL"))
    assert dep["rollback"]["reason"] == dep["statusReason"]
    assert stack.weights() == {"blue": 100, "green": 0}  # production never left blue
    assert stack.svc()["runningCount"] == 1


def test_without_the_breaker_unhealthy_tasks_keep_the_deployment_in_progress(stack: Stack) -> None:
    stack.service()
    stack.update(UNHEALTHY)
    stack.until(stage("SCALE_UP"))
    stack.clock.sleep(20 * delays().task_start)
    dep = stack.latest()
    assert (dep["status"], dep["lifecycleStage"]) == ("IN_PROGRESS", "SCALE_UP")
    assert dep["deploymentCircuitBreaker"]["status"] == "DISABLED"
    assert dep["deploymentCircuitBreaker"]["failureCount"] >= 20
    assert stack.weights() == {"blue": 100, "green": 0}


def test_breaker_without_rollback_stops_the_deployment(stack: Stack) -> None:
    stack.service(deploymentCircuitBreaker={"enable": True, "rollback": False})
    new = stack.update(UNHEALTHY)
    dep = stack.until(status("STOPPED"))
    assert "stoppedAt" in dep and "circuit breaker" in dep["statusReason"]
    assert stack.svc()["taskDefinition"] == new


def test_a_first_deployment_that_fails_has_nothing_to_roll_back_to(stack: Stack) -> None:
    stack.service(image=UNHEALTHY, deploymentCircuitBreaker={"enable": True, "rollback": True})
    assert stack.svc()["runningCount"] == 0
    dep = stack.until(status("ROLLBACK_FAILED"))
    assert dep["statusReason"] == "No rollback candidate was found to run the rollback."


def test_a_rule_serving_both_groups_fails_the_deployment_when_it_starts(stack: Stack) -> None:
    stack.service()
    both = {
        "TargetGroups": [{"TargetGroupArn": stack.blue, "Weight": 50}, {"TargetGroupArn": stack.green, "Weight": 50}]
    }
    stack.elb.modify_rule(RuleArn=stack.rule, Actions=[{"Type": "forward", "ForwardConfig": both}])
    stack.update()
    dep = stack.until(status("ROLLBACK_SUCCESSFUL"))
    assert dep["statusReason"].startswith("Service deployment rolled back because of invalid networking configuration.")
    assert "should have exactly one target group serving traffic but found 2" in dep["statusReason"]


def test_abort_stops_where_it_is(stack: Stack) -> None:
    stack.service()
    stack.update()
    stack.until(stage("SCALE_UP"))
    arn = stack.latest()["serviceDeploymentArn"]
    stack.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ABORT")
    assert stack.latest()["status"] == "STOP_REQUESTED"
    dep = stack.until(status("STOPPED"))
    assert "stoppedAt" in dep and "finishedAt" not in dep


def test_a_new_update_supersedes_the_one_in_progress(stack: Stack) -> None:
    stack.service()
    stack.update()
    stack.until(stage("PRODUCTION_TRAFFIC_SHIFT"), step=0.5)
    first = stack.latest()["serviceDeploymentArn"]
    latest = stack.update()
    dep = stack.until(stage("RECONCILE_SERVICE"), step=0.5)
    assert len(dep["sourceServiceRevisions"]) == 2  # more than one revision running: reconcile first
    old = stack.ecs.describe_service_deployments(serviceDeploymentArns=[first])["serviceDeployments"][0]
    assert old["status"] == "STOPPED" and "newer" in old["statusReason"]
    dep = stack.until(status("SUCCESSFUL"), step=5)
    assert stack.svc()["taskDefinition"] == latest
    assert sum(stack.weights().values()) == 100


def test_deleting_the_service_stops_its_deployment(stack: Stack) -> None:
    stack.service()
    stack.update()
    stack.until(stage("SCALE_UP"))
    arn = stack.latest()["serviceDeploymentArn"]
    stack.ecs.delete_service(cluster="apps", service="web", force=True)
    dep = stack.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
    assert dep["status"] == "STOPPED"


# -- rolling ------------------------------------------------------------------------------------------
def test_rolling_replaces_the_tasks_without_moving_traffic(stack: Stack) -> None:
    stack.service("ROLLING")
    assert stack.weights() == {"blue": 0, "green": 100}  # a rolling service's first deployment moves nothing
    new = stack.update()
    dep = stack.until(status("IN_PROGRESS"))
    assert "lifecycleStage" not in dep
    assert "requestedProductionTrafficWeight" not in dep["targetServiceRevision"]
    assert stack.svc()["runningCount"] == 1 and stack.svc()["pendingCount"] == 1
    dep = stack.until(status("SUCCESSFUL"))
    assert dep["sourceServiceRevisions"][0]["runningTaskCount"] == 0
    svc = stack.svc()
    assert (svc["taskDefinition"], svc["runningCount"], len(svc["deployments"])) == (new, 1, 1)
    assert stack.weights() == {"blue": 0, "green": 100}
    stack.ecs.update_service(cluster="apps", service="web", forceNewDeployment=True)
    assert len(stack.deployments()) == 3


# -- the read API -----------------------------------------------------------------------------------
def test_list_service_deployments_in_no_promised_order_with_filters_and_pages(stack: Stack) -> None:
    stack.service("ROLLING")
    for _ in range(2):
        stack.update()
        stack.until(status("SUCCESSFUL"))
    stack.update(UNHEALTHY)
    listed = stack.listed()
    created = [d["createdAt"] for d in listed]
    assert created == sorted(created)  # oldest first: code that takes the first for the newest fails
    every = stack.deployments()
    assert [d["status"] for d in every] == ["PENDING", "SUCCESSFUL", "SUCCESSFUL", "SUCCESSFUL"]
    created = [d["createdAt"] for d in every]
    assert [d["status"] for d in stack.deployments(status=["PENDING", "IN_PROGRESS"])] == ["PENDING"]
    assert len(stack.deployments(createdAt={"after": created[2]})) == 2
    assert len(stack.deployments(createdAt={"before": created[2]})) == 1
    page = stack.ecs.list_service_deployments(cluster="apps", service="web", maxResults=3)
    rest = stack.ecs.list_service_deployments(cluster="apps", service="web", nextToken=page["nextToken"])
    assert [d["serviceDeploymentArn"] for d in page["serviceDeployments"] + rest["serviceDeployments"]] == [
        d["serviceDeploymentArn"] for d in listed
    ]
    assert "nextToken" not in rest
    with pytest.raises(stack.ecs.exceptions.ServiceNotFoundException):
        stack.ecs.list_service_deployments(cluster="apps", service="nope")
    brief = every[1]
    assert set(brief) >= {"serviceDeploymentArn", "serviceArn", "clusterArn", "targetServiceRevisionArn", "status"}


def test_describe_service_revisions_and_unknown_arns(stack: Stack) -> None:
    stack.service()
    td = stack.update()
    dep = stack.latest()
    missing = dep["serviceDeploymentArn"] + "0"
    out = stack.ecs.describe_service_deployments(serviceDeploymentArns=[dep["serviceDeploymentArn"], missing])
    assert out["failures"] == [{"arn": missing, "reason": "MISSING"}]
    target, source = dep["targetServiceRevision"]["arn"], dep["sourceServiceRevisions"][0]["arn"]
    out = stack.ecs.describe_service_revisions(serviceRevisionArns=[target, source, target + "9"])
    revisions = {r["serviceRevisionArn"]: r for r in out["serviceRevisions"]}
    assert revisions[target]["taskDefinition"] == td
    assert revisions[source]["taskDefinition"] != td
    assert revisions[target]["launchType"] == "FARGATE"
    assert revisions[target]["loadBalancers"][0]["advancedConfiguration"]["productionListenerRule"] == stack.rule
    assert revisions[target]["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == stack.subnets
    assert out["failures"] == [{"arn": target + "9", "reason": "MISSING"}]
    with pytest.raises(ClientError) as exc:
        stack.ecs.continue_service_deployment(serviceDeploymentArn=dep["serviceDeploymentArn"], hookId="nope")
    assert error(exc)[0] == "InvalidParameterException"


# -- validation -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"alternateTargetGroupArn": None}, "alternateTargetGroupArn must be specified"),
        ({"roleArn": None}, "roleArn must be specified"),
        ({"roleArn": "arn:aws:iam::123456789012:role/missing"}, "Unable to assume role"),
        ({"productionListenerRule": "LISTENER"}, "productionListenerRule has an invalid ARN format"),
        ({"testListenerRule": "RULE"}, "cannot be used as both production and test listener rules"),
        ({"alternateTargetGroupArn": "BLUE"}, "Duplicate targetGroupArn found"),
    ],
)
def test_bad_advanced_configuration_is_refused(stack: Stack, change: dict[str, Any], message: str) -> None:
    values = {"LISTENER": stack.listener, "RULE": stack.rule, "BLUE": stack.blue}
    change = {k: values.get(v, v) if v else v for k, v in change.items()}
    lb = {"targetGroupArn": stack.blue, "containerName": "app", "containerPort": 80}
    lb["advancedConfiguration"] = stack.advanced(**change)  # type: ignore[assignment]
    with pytest.raises(ClientError) as exc:
        stack.ecs.create_service(
            cluster="apps",
            serviceName="web",
            taskDefinition=stack.task(),
            desiredCount=1,
            launchType="FARGATE",
            networkConfiguration={"awsvpcConfiguration": {"subnets": stack.subnets, "securityGroups": [stack.sg]}},
            loadBalancers=[lb],
            deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5},
        )
    code, text = error(exc)
    assert code == "InvalidParameterException" and message in text
    assert stack.ecs.describe_services(cluster="apps", services=["web"])["services"] == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"strategy": "BLUE_GREEN"}, "bakeTimeInMinutes must be specified"),
        ({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1441}, "bakeTimeInMinutes must be between 0 and 1440"),
        ({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 2.5}}, "from 3.0 to 100.0"),
        ({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 10.05}}, "multiple of 0.1"),
        ({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 0.0}}, "from 0.1 to 100.0"),
        ({"strategy": "CANARY", "canaryConfiguration": {"canaryBakeTimeInMinutes": 2000}}, "between 0 and 1440"),
        ({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1, "linearConfiguration": {}}, "only valid with the LINEAR"),
    ],
)
def test_bad_deployment_configuration_is_refused(stack: Stack, config: dict[str, Any], message: str) -> None:
    stack.service("ROLLING")
    lb = {
        "targetGroupArn": stack.blue,
        "containerName": "app",
        "containerPort": 80,
        "advancedConfiguration": stack.advanced(),
    }
    with pytest.raises(ClientError) as exc:
        stack.ecs.update_service(cluster="apps", service="web", deploymentConfiguration=config, loadBalancers=[lb])
    code, text = error(exc)
    assert code == "InvalidParameterException" and message in text
    assert stack.svc()["deploymentConfiguration"]["strategy"] == "ROLLING"


def test_a_non_rolling_strategy_needs_advanced_configuration_on_every_load_balancer(stack: Stack) -> None:
    stack.service("ROLLING")
    with pytest.raises(ClientError) as exc:
        stack.ecs.update_service(
            cluster="apps", service="web", deploymentConfiguration={"strategy": "CANARY", "bakeTimeInMinutes": 1}
        )
    assert "advancedConfiguration field is required for all loadBalancers" in error(exc)[1]
    # switching to blue/green with the load balancer's advanced configuration is a deployment
    lb = {
        "targetGroupArn": stack.blue,
        "containerName": "app",
        "containerPort": 80,
        "advancedConfiguration": stack.advanced(),
    }
    stack.ecs.update_service(
        cluster="apps", service="web", deploymentConfiguration={"strategy": "CANARY"}, loadBalancers=[lb]
    )
    assert stack.svc()["deploymentConfiguration"]["canaryConfiguration"] == {
        "canaryPercent": 5.0,
        "canaryBakeTimeInMinutes": 10,
    }
    assert stack.until(stage("PRE_SCALE_UP"))["deploymentConfiguration"]["strategy"] == "CANARY"


def test_a_production_rule_without_both_groups_needs_a_test_rule(stack: Stack) -> None:
    only_blue = {"TargetGroups": [{"TargetGroupArn": stack.blue, "Weight": 1}]}
    stack.elb.modify_rule(RuleArn=stack.rule, Actions=[{"Type": "forward", "ForwardConfig": only_blue}])
    with pytest.raises(ClientError) as exc:
        stack.service()
    assert "testListenerRule is required when productionListenerRule is not associated with both" in error(exc)[1]


# -- over HTTP ----------------------------------------------------------------------------------------
@pytest.fixture
def server() -> Iterator[str]:
    """moto as a server in this process (no mock_aws: they would share and wipe state)."""
    from moto.server import ThreadedMotoServer

    srv = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    srv.start()
    host, port = srv.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        srv.stop()


def test_the_deployment_api_answers_over_http(server: str, clock: FakeClock) -> None:
    session = boto3.Session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")

    def make(service: str) -> Any:
        return session.client(service, endpoint_url=server)  # type: ignore[call-overload]

    stack = Stack(clock, make)
    stack.service()
    stack.update()
    dep = stack.until(stage("PRODUCTION_TRAFFIC_SHIFT"), step=2)
    assert stack.weights() == {"blue": 0, "green": 100}
    stack.ecs.stop_service_deployment(serviceDeploymentArn=dep["serviceDeploymentArn"], stopType="ROLLBACK")
    stack.until(status("ROLLBACK_SUCCESSFUL"), step=2)
    revisions = stack.ecs.describe_service_revisions(serviceRevisionArns=[dep["targetServiceRevision"]["arn"]])
    assert len(revisions["serviceRevisions"]) == 1
    assert stack.weights() == {"blue": 100, "green": 0}
