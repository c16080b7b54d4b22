"""Scheduled jobs ([jobs.<name>]) as resources of the stack, on the strict layer: the schedule in the
stack's group, the Step Functions state machine that runs the job's task, the two roles, the job's
task definition family and its alarm -- created, converged, removed with the job, destroyed."""

from __future__ import annotations

import json
from typing import Any

from conftest import REGION, client, config_text

from ecsup import engine

ACCOUNT = "123456789012"
JOB = """
[jobs.nightly]
schedule = "cron(0 3 * * ? *)"
timezone = "Asia/Tokyo"
command = ["python", "manage.py", "cleanup"]
timeout = 1800
"""
TAGS = {"ecsup:app": "web", "ecsup:env": "dev", "ManagedBy": "ecsup"}
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:web-dev-nightly"
CLUSTER = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/web-dev"


def tagdict(tags: list[dict[str, str]] | None, k: str = "Key", v: str = "Value") -> dict[str, str]:
    return {t[k]: t[v] for t in tags or []}


def schedule(name: str = "web-dev-nightly") -> dict[str, Any]:
    return dict(client("scheduler").get_schedule(Name=name, GroupName="web-dev"))


def machine(arn: str = MACHINE) -> tuple[dict[str, Any], dict[str, Any]]:
    found = client("stepfunctions").describe_state_machine(stateMachineArn=arn)
    return found, json.loads(found["definition"])


def inline(role: str) -> dict[str, Any]:
    iam = client("iam")
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    return doc if isinstance(doc, dict) else json.loads(doc)


def create(make_ctx: Any, extra: str = JOB, **kwargs: Any) -> engine.Outcome:
    return engine.create(make_ctx(config_text(extra, **kwargs)))


def destroy(make_ctx: Any, extra: str = JOB) -> engine.DestroyResult:
    ctx = make_ctx(config_text(extra))
    outcome = engine.plan_destroy(ctx)
    with engine.destroy_locked(ctx):
        return engine.destroy(ctx, outcome)


def test_a_job_is_a_schedule_that_starts_a_state_machine_running_its_task(aws, make_ctx):
    create(make_ctx)
    sched = schedule()
    assert sched["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert sched["ScheduleExpressionTimezone"] == "Asia/Tokyo"
    assert sched["State"] == "ENABLED" and sched["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert sched["Target"]["Arn"] == MACHINE
    assert sched["Target"]["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/web-dev-scheduler"
    assert sched["Target"]["RetryPolicy"]["MaximumRetryAttempts"] <= 3
    group = client("scheduler").get_schedule_group(Name="web-dev")
    assert tagdict(client("scheduler").list_tags_for_resource(ResourceArn=group["Arn"])["Tags"]) == TAGS

    found, doc = machine()
    assert found["type"] == "STANDARD" and found["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/web-dev-jobs"
    run = doc["States"][doc["StartAt"]]
    assert run["Resource"] == "arn:aws:states:::ecs:runTask.sync" and run["TimeoutSeconds"] == 1800
    params = run["Parameters"]
    assert params["Cluster"] == CLUSTER
    td = client("ecs").describe_task_definition(taskDefinition=params["TaskDefinition"])["taskDefinition"]
    assert td["family"] == "web-dev-nightly" and td["revision"] == 1
    (container,) = td["containerDefinitions"]
    assert container["name"] == "nightly" and container["command"] == ["python", "manage.py", "cleanup"]
    assert container["image"] == "public.ecr.aws/nginx/nginx:stable"
    assert params["StartedBy"] == "ecsup-job/nightly" and params["LaunchType"] == "FARGATE"
    assert params["PlatformVersion"] == "LATEST" and params["PropagateTags"] == "TASK_DEFINITION"
    assert tagdict(params["Tags"]) == TAGS | {"ecsup:job": "nightly"}
    net = params["NetworkConfiguration"]["AwsvpcConfiguration"]
    tasks_sg = client("ec2").describe_security_groups(Filters=[{"Name": "group-name", "Values": ["web-dev-tasks"]}])
    assert net["SecurityGroups"] == [tasks_sg["SecurityGroups"][0]["GroupId"]]
    svc = client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"][0]
    assert sorted(net["Subnets"]) == sorted(svc["networkConfiguration"]["awsvpcConfiguration"]["subnets"])
    assert net["AssignPublicIp"] == svc["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"]
    choice = doc["States"][run["Next"]]
    assert run["ResultPath"] == "$.task"
    assert choice["Choices"] == [
        {"Variable": "$.task.Containers[0].ExitCode", "NumericEquals": 0, "Next": choice["Choices"][0]["Next"]}
    ]
    assert doc["States"][choice["Choices"][0]["Next"]]["Type"] == "Succeed"
    fail = doc["States"][choice["Default"]]
    assert fail["Type"] == "Fail" and fail["Error"] == "NonZeroExit"
    assert fail["CausePath"] == "States.Format('exit code {}', $.task.Containers[0].ExitCode)"
    tags = client("stepfunctions").list_tags_for_resource(resourceArn=MACHINE)["tags"]
    assert TAGS.items() <= tagdict(tags, "key", "value").items()


def test_a_rerun_with_nothing_changed_makes_no_mutating_call(aws, make_ctx):
    create(make_ctx)
    aws.reset()
    outcome = create(make_ctx)
    assert aws.mutating() == []
    kinds = {(a.resource, a.kind) for a in outcome.actions if a.resource in ("schedule", "state machine")}
    assert kinds == {("schedule", "noop"), ("state machine", "noop")}
