"""Scheduled jobs ([jobs.<name>]) as resources of the stack, on the strict layer: the schedule in the
stack's group, the Step Functions state machine that runs the job's task, the two roles, the job's
task definition family and its alarm -- created, converged, removed with the job, destroyed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import REGION, client, config_text

from ecsup import engine
from ecsup.errors import OwnershipConflict

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


def test_the_roles_allow_exactly_what_running_and_starting_the_jobs_needs(aws, make_ctx):
    create(make_ctx)
    iam = client("iam")
    jobs_role = iam.get_role(RoleName="web-dev-jobs")["Role"]
    trust = jobs_role["AssumeRolePolicyDocument"]
    trust = trust if isinstance(trust, dict) else json.loads(trust)
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "states.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    ]
    assert tagdict(jobs_role["Tags"]) == TAGS
    statements = {s["Sid"]: s for s in inline("web-dev-jobs")["Statement"]}
    on_cluster = {"ArnEquals": {"ecs:cluster": CLUSTER}}
    assert statements["RunJobTasks"]["Action"] == "ecs:RunTask"
    assert statements["RunJobTasks"]["Resource"] == [
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web-dev-nightly:*"
    ]
    assert statements["RunJobTasks"]["Condition"] == on_cluster
    assert statements["WatchJobTasks"]["Action"] == ["ecs:StopTask", "ecs:DescribeTasks"]
    assert statements["WatchJobTasks"]["Condition"] == on_cluster
    assert statements["TagJobTasks"]["Action"] == "ecs:TagResource"
    assert statements["TagJobTasks"]["Condition"] == {"StringEquals": {"ecs:CreateAction": "RunTask"}}
    assert statements["TaskStateEvents"]["Action"] == ["events:PutTargets", "events:PutRule", "events:DescribeRule"]
    assert statements["TaskStateEvents"]["Resource"] == (
        f"arn:aws:events:{REGION}:{ACCOUNT}:rule/StepFunctionsGetEventsForECSTaskRule"
    )
    assert statements["PassTaskRoles"]["Action"] == "iam:PassRole"
    assert statements["PassTaskRoles"]["Resource"] == [
        f"arn:aws:iam::{ACCOUNT}:role/web-dev-execution",
        f"arn:aws:iam::{ACCOUNT}:role/web-dev-task",
    ]
    assert statements["PassTaskRoles"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    assert set(statements) == {"RunJobTasks", "TagJobTasks", "WatchJobTasks", "TaskStateEvents", "PassTaskRoles"}

    scheduler_role = iam.get_role(RoleName="web-dev-scheduler")["Role"]
    trust = scheduler_role["AssumeRolePolicyDocument"]
    trust = trust if isinstance(trust, dict) else json.loads(trust)
    assert trust["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    assert inline("web-dev-scheduler")["Statement"] == [
        {"Sid": "StartJobs", "Effect": "Allow", "Action": "states:StartExecution", "Resource": [MACHINE]}
    ]


CHANGED = JOB.replace('"cron(0 3 * * ? *)"', '"rate(2 hours)"').replace("1800", "600").replace("cleanup", "purge")


def test_a_changed_schedule_timeout_and_command_are_updated_in_place(aws, make_ctx):
    create(make_ctx)
    schedule_arn = schedule()["Arn"]
    aws.reset()
    outcome = create(make_ctx, CHANGED)
    mutating = {(svc, op) for svc, op in aws.mutating() if svc != "ssm"}  # but the stack's lock
    assert ("scheduler", "UpdateSchedule") in mutating and ("stepfunctions", "UpdateStateMachine") in mutating
    assert not mutating & {("scheduler", "CreateSchedule"), ("stepfunctions", "CreateStateMachine")}
    assert not {op for svc, op in mutating if op.startswith("Delete")}
    sched = schedule()
    assert sched["Arn"] == schedule_arn and sched["ScheduleExpression"] == "rate(2 hours)"
    _, doc = machine()
    run = doc["States"]["Run"]
    assert run["TimeoutSeconds"] == 600
    td = client("ecs").describe_task_definition(taskDefinition=run["Parameters"]["TaskDefinition"])["taskDefinition"]
    assert td["revision"] == 2 and td["containerDefinitions"][0]["command"] == ["python", "manage.py", "purge"]
    lines = {(a.resource, a.kind): a for a in outcome.actions}
    assert str(lines[("schedule", "update")].changes[0]) == "expression: cron(0 3 * * ? *) -> rate(2 hours)"
    machine_changes = {c.attribute: c for c in lines[("state machine", "update")].changes}
    assert str(machine_changes["timeout"]) == "timeout: 1800 -> 600"
    assert machine_changes["task definition"].old == "web-dev-nightly:1"
    aws.reset()
    create(make_ctx, CHANGED)
    assert aws.mutating() == []


def test_alarm_and_notify_make_the_alarm_and_turning_it_off_removes_it(aws, make_ctx):
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:ops"
    create(make_ctx, JOB + "alarm = true\n")
    cw = client("cloudwatch")
    (alarm,) = cw.describe_alarms(AlarmNames=["ecsup-web-dev-job-nightly-failed"])["MetricAlarms"]
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in metrics.values() if "MetricStat" in m}
    assert names == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    for m in metrics.values():
        if "MetricStat" in m:
            assert m["MetricStat"]["Metric"]["Namespace"] == "AWS/States"
            assert m["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "StateMachineArn", "Value": MACHINE}]
            assert m["MetricStat"]["Stat"] == "Sum"
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching" and not alarm.get("AlarmActions")

    aws.reset()
    create(make_ctx, JOB + f'notify = "{topic}"\n')
    (alarm,) = cw.describe_alarms(AlarmNames=["ecsup-web-dev-job-nightly-failed"])["MetricAlarms"]
    assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic]
    assert ("cloudwatch", "PutMetricAlarm") in aws.mutating()

    create(make_ctx)  # neither alarm nor notify
    assert cw.describe_alarms(AlarmNames=["ecsup-web-dev-job-nightly-failed"])["MetricAlarms"] == []


TWO = (
    JOB
    + """
[jobs.report]
schedule = "rate(1 day)"
command = ["python", "report.py"]
"""
)


def test_a_job_removed_from_the_config_is_deleted_with_everything_it_had(aws, make_ctx):
    create(make_ctx, TWO.replace("[jobs.report]", "[jobs.report]\nalarm = true"))
    report = MACHINE.replace("nightly", "report")
    aws.reset()
    outcome = create(make_ctx, JOB)
    deleted = {(a.resource, a.name) for a in outcome.actions if a.kind == "delete"}
    assert deleted == {
        ("schedule", "web-dev-report"),
        ("state machine", "web-dev-report"),
        ("task definition", "web-dev-report"),
        ("CloudWatch alarm", "ecsup-web-dev-job-report-failed"),
    }
    names = [s["Name"] for s in client("scheduler").list_schedules(GroupName="web-dev")["Schedules"]]
    assert names == ["web-dev-nightly"]
    assert client("stepfunctions").describe_state_machine(stateMachineArn=report)["status"] == "DELETING"
    assert (
        client("ecs").list_task_definitions(familyPrefix="web-dev-report", status="ACTIVE")["taskDefinitionArns"] == []
    )
    assert inline("web-dev-scheduler")["Statement"][0]["Resource"] == [MACHINE]  # no longer the removed one's
    machine()  # the other job is untouched
    aws.reset()
    create(make_ctx, JOB)
    assert aws.mutating() == []


def _nothing_of_jobs_left() -> None:
    scheduler, sfn, iam = client("scheduler"), client("stepfunctions"), client("iam")
    groups = [g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]]
    assert groups == ["default"]
    assert sfn.list_state_machines()["stateMachines"] == []
    roles = {r["RoleName"] for r in iam.list_roles()["Roles"]}
    assert not roles & {"web-dev-jobs", "web-dev-scheduler"}
    for family in ("web-dev-nightly", "web-dev-report"):
        for status in ("ACTIVE", "INACTIVE"):
            assert client("ecs").list_task_definitions(familyPrefix=family, status=status)["taskDefinitionArns"] == []
    assert client("cloudwatch").describe_alarms(AlarmNamePrefix="ecsup-web-dev-job-")["MetricAlarms"] == []


def test_destroy_leaves_nothing_of_the_jobs(aws, make_ctx, clock):
    create(make_ctx, TWO + "alarm = true\n")
    result = destroy(make_ctx, TWO)
    assert result.failed == [] and result.left == []
    clock.sleep(60)  # the state machines and the group stay DELETING for a moment
    _nothing_of_jobs_left()
    aws.reset()
    outcome = engine.plan_destroy(make_ctx(config_text(TWO)))
    assert [a for a in outcome.actions if a.mutates] == []


def test_removing_the_last_job_removes_the_roles_and_the_group_too(aws, make_ctx, clock):
    create(make_ctx)
    create(make_ctx, "")
    clock.sleep(60)
    _nothing_of_jobs_left()
    aws.reset()
    create(make_ctx, "")
    assert aws.mutating() == []


def test_destroy_then_create_at_once_waits_for_the_deleting_state_machine_and_group(aws, make_ctx, strict_aws):
    from ecsup import emulation

    # longer than the rest of a create takes: the create meets them still DELETING
    emulation.activate(strict_aws.with_delays(state_machine_deleting=400.0, schedule_group_deleting=300.0))
    create(make_ctx)
    destroy(make_ctx)
    aws.reset()
    create(make_ctx)  # the group and the state machine of the name are still DELETING: retried
    assert aws.calls.count(("scheduler", "CreateScheduleGroup")) > 1
    assert aws.calls.count(("stepfunctions", "CreateStateMachine")) > 1
    assert schedule()["Target"]["Arn"] == MACHINE
    assert machine()[0]["status"] == "ACTIVE"


def test_a_job_added_to_a_stack_waits_out_the_new_roles_propagation(aws, make_ctx):
    """Step Functions and EventBridge Scheduler refuse a role created seconds ago; with no settle at
    all the refusals are met and retried."""
    from ecsup.context import Timeouts

    create(make_ctx, "")
    aws.reset()
    engine.create(make_ctx(config_text(JOB), timeouts=Timeouts(iam_settle=0.0)))
    assert aws.calls.count(("stepfunctions", "CreateStateMachine")) > 1
    assert schedule()["Target"]["Arn"] == MACHINE and machine()[0]["status"] == "ACTIVE"


def test_the_strict_layer_refuses_what_aws_refuses(aws, make_ctx, clock):
    from botocore.exceptions import ClientError

    create(make_ctx)
    scheduler, sfn = client("scheduler"), client("stepfunctions")
    body = schedule()
    base = {
        "Name": "other",
        "GroupName": "web-dev",
        "ScheduleExpression": "rate(1 day)",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": MACHINE, "RoleArn": body["Target"]["RoleArn"]},
    }

    def refused(call: Any, **kwargs: Any) -> str:
        with pytest.raises(ClientError) as caught:
            call(**kwargs)
        return f"{caught.value.response['Error']['Code']}: {caught.value.response['Error']['Message']}"

    missing_role = dict(base["Target"], RoleArn=f"arn:aws:iam::{ACCOUNT}:role/nobody")  # type: ignore[arg-type]
    assert "must allow AWS EventBridge Scheduler to assume the role" in refused(
        scheduler.create_schedule, **dict(base, Target=missing_role)
    )
    jobs_role = dict(base["Target"], RoleArn=f"arn:aws:iam::{ACCOUNT}:role/web-dev-jobs")  # type: ignore[arg-type]
    assert refused(scheduler.create_schedule, **dict(base, Target=jobs_role)).startswith("ValidationException")
    assert refused(scheduler.create_schedule, **dict(base, ScheduleExpression="cron(0 3 * * *)")) == (
        "ValidationException: Invalid Schedule Expression cron(0 3 * * *)."
    )
    assert refused(scheduler.create_schedule, **dict(base, GroupName="nope")).startswith("ResourceNotFoundException")
    assert refused(scheduler.create_schedule_group, Name="web-dev").startswith("ConflictException")
    assert [s["Name"] for s in scheduler.list_schedules(GroupName="web-dev")["Schedules"]] == ["web-dev-nightly"]

    found, doc = machine()
    doc["States"]["Run"]["TimeoutSeconds"] = 5
    assert refused(
        sfn.create_state_machine, name="web-dev-nightly", definition=json.dumps(doc), roleArn=found["roleArn"]
    ).startswith("StateMachineAlreadyExists")
    assert refused(
        sfn.create_state_machine, name="x", definition='{"StartAt": "A", "States": {}}', roleArn=found["roleArn"]
    ).startswith("InvalidDefinition")
    scheduler_role = body["Target"]["RoleArn"]
    assert "authorized to assume the provided role" in refused(
        sfn.create_state_machine, name="x", definition=found["definition"], roleArn=scheduler_role
    )
    client("iam").create_role(RoleName="fresh", AssumeRolePolicyDocument=json.dumps(_trust("states.amazonaws.com")))
    fresh = f"arn:aws:iam::{ACCOUNT}:role/fresh"
    assert refused(sfn.create_state_machine, name="x", definition=found["definition"], roleArn=fresh).startswith(
        "AccessDeniedException"
    )
    clock.sleep(30)  # IAM has propagated it
    sfn.create_state_machine(name="x", definition=found["definition"], roleArn=fresh)


def _trust(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


def test_a_schedule_group_of_the_name_that_is_not_ecsups_is_a_conflict(aws, make_ctx):
    create(make_ctx, "")
    client("scheduler").create_schedule_group(Name="web-dev", Tags=[{"Key": "team", "Value": "other"}])
    aws.reset()
    with pytest.raises(OwnershipConflict) as caught:
        create(make_ctx)
    assert caught.value.exit_code == 4 and "schedule group 'web-dev'" in caught.value.message
    assert aws.writes() == []
    result = destroy(make_ctx)  # destroy leaves it alone
    assert client("scheduler").get_schedule_group(Name="web-dev")["State"] == "ACTIVE"
    assert result.failed == []


def test_point_jobs_at_moves_only_the_task_definition_of_the_runs(aws, make_ctx):
    from ecsup.steps.jobs import point_jobs_at

    create(make_ctx)
    _, before = machine()
    ecs = client("ecs")
    td = ecs.describe_task_definition(taskDefinition="web-dev-nightly", include=["TAGS"])
    again = {
        k: td["taskDefinition"][k]
        for k in ("family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "cpu", "memory")
    }
    again["containerDefinitions"][0]["image"] = "public.ecr.aws/nginx/nginx:mainline"
    arn = ecs.register_task_definition(**again, requiresCompatibilities=["FARGATE"], tags=td["tags"])["taskDefinition"][
        "taskDefinitionArn"
    ]
    ctx = make_ctx(config_text(JOB))
    assert point_jobs_at(ctx, {"nightly": arn, "gone": arn}) == {
        "gone": "no state machine",
        "nightly": "moved to web-dev-nightly:2",
    }
    _, after = machine()
    assert after["States"]["Run"]["Parameters"]["TaskDefinition"] == arn
    before["States"]["Run"]["Parameters"]["TaskDefinition"] = arn
    assert after == before
    assert point_jobs_at(ctx, {"nightly": arn}) == {"nightly": "already on it"}


def test_plan_shows_a_line_per_job_resource(aws, make_ctx):
    ctx = make_ctx(config_text(JOB + "alarm = true\n"))
    ctx.mode = "plan"
    outcome = engine.make_plan(ctx)
    lines = {(a.kind, a.resource, a.name) for a in outcome.actions}
    assert {
        ("create", "IAM role", "web-dev-jobs"),
        ("create", "IAM role", "web-dev-scheduler"),
        ("create", "schedule group", "web-dev"),
        ("create", "task definition", "web-dev-nightly"),
        ("create", "state machine", "web-dev-nightly"),
        ("create", "schedule", "web-dev-nightly"),
        ("create", "CloudWatch alarm", "ecsup-web-dev-job-nightly-failed"),
    } <= lines
    assert aws.writes() == []


def test_ecsup_plan_prints_the_jobs_changes_attribute_by_attribute(aws, make_ctx, tmp_path):
    from conftest import SECRET_GIVEN, explain
    from typer.testing import CliRunner

    from ecsup.cli import app

    create(make_ctx)
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text(CHANGED))
    aws.reset()
    result = CliRunner().invoke(app, ["plan", "-c", str(path)], env=SECRET_GIVEN)
    assert result.exit_code == 0, explain(result)
    out = result.stdout
    assert "~ update    schedule web-dev-nightly" in out and "expression: cron(0 3 * * ? *) -> rate(2 hours)" in out
    assert "+ create    task definition web-dev-nightly:2" in out, explain(result)
    assert "~ update    state machine web-dev-nightly" in out and "timeout: 1800 -> 600" in out
    assert "command: ['python', 'manage.py', 'cleanup'] -> ['python', 'manage.py', 'purge']" in out
    assert aws.writes() == []


def test_a_job_runs_on_its_own_capacity_size_and_image(aws, make_ctx):
    own = JOB + 'capacity = "mixed"\non_demand_base = 0\non_demand_percent = 25\ncpu = 1024\nmemory = 2048\n'
    create(make_ctx, own + 'image = "ghcr.io/acme/jobs:7"\n')
    _, doc = machine()
    params = doc["States"]["Run"]["Parameters"]
    assert "LaunchType" not in params
    assert sorted(params["CapacityProviderStrategy"], key=lambda s: s["CapacityProvider"]) == [
        {"CapacityProvider": "FARGATE", "Weight": 25, "Base": 0},
        {"CapacityProvider": "FARGATE_SPOT", "Weight": 75, "Base": 0},
    ]
    td = client("ecs").describe_task_definition(taskDefinition=params["TaskDefinition"])["taskDefinition"]
    assert (td["cpu"], td["memory"]) == ("1024", "2048")
    assert td["containerDefinitions"][0]["image"] == "ghcr.io/acme/jobs:7"
    svc = client("ecs").describe_task_definition(taskDefinition="web-dev")["taskDefinition"]
    assert svc["containerDefinitions"][0]["image"] == "public.ecr.aws/nginx/nginx:stable"  # the web's is its own


def test_a_job_follows_the_web_service_image_changed_in_the_config(aws, make_ctx):
    create(make_ctx)
    image = {'image = "public.ecr.aws/nginx/nginx:stable"': 'image = "public.ecr.aws/nginx/nginx:mainline"'}
    create(make_ctx, replace=image)
    _, doc = machine()
    td = client("ecs").describe_task_definition(taskDefinition=doc["States"]["Run"]["Parameters"]["TaskDefinition"])
    assert td["taskDefinition"]["revision"] == 2
    assert td["taskDefinition"]["containerDefinitions"][0]["image"] == "public.ecr.aws/nginx/nginx:mainline"
    aws.reset()
    create(make_ctx, replace=image)
    assert aws.mutating() == []


def test_status_lists_the_jobs_resources_as_they_are(aws, make_ctx):
    from ecsup.status import collect

    create(make_ctx)
    client("scheduler").update_schedule(  # drifted behind ecsup's back
        Name="web-dev-nightly",
        GroupName="web-dev",
        ScheduleExpression="rate(5 minutes)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=schedule()["Target"],
    )
    rows = {(r.resource, r.name): r for r in collect(make_ctx(config_text(JOB))).rows}
    assert rows[("state machine", "web-dev-nightly")].state == "OK"
    drifted = rows[("schedule", "web-dev-nightly")]
    assert drifted.state == "DRIFT" and "expression: rate(5 minutes) -> cron(0 3 * * ? *)" in drifted.detail


def test_a_role_not_yet_allowed_to_create_the_managed_rule_is_retried(aws, make_ctx):
    """CreateStateMachine of a .sync integration refuses with "is not authorized to create
    managed-rule" while the jobs' role's events:PutRule has not propagated: retried, not a failure."""
    from conftest import fail_first

    create(make_ctx, "")
    message = f"'arn:aws:iam::{ACCOUNT}:role/web-dev-jobs' is not authorized to create managed-rule."
    aws.injectors.append(fail_first("stepfunctions", "CreateStateMachine", "AccessDeniedException", 1, message))
    aws.reset()
    create(make_ctx)
    assert aws.calls.count(("stepfunctions", "CreateStateMachine")) == 2
    assert machine()[0]["status"] == "ACTIVE" and schedule()["Target"]["Arn"] == MACHINE


def test_destroy_deletes_the_family_a_removed_job_left_with_no_state_machine(aws, make_ctx, clock):
    """A destroy (or a job's removal) that died after deleting the job's schedule and state machine
    but before its family: the family, of a job no longer in ecsup.toml, is found and deleted."""
    create(make_ctx)
    client("scheduler").delete_schedule(Name="web-dev-nightly", GroupName="web-dev")
    client("stepfunctions").delete_state_machine(stateMachineArn=MACHINE)
    clock.sleep(60)
    assert client("ecs").list_task_definitions(familyPrefix="web-dev-nightly")["taskDefinitionArns"]
    result = destroy(make_ctx, "")  # ecsup.toml no longer names the job
    assert result.failed == [] and result.left == []
    for status in ("ACTIVE", "INACTIVE"):
        assert (
            client("ecs").list_task_definitions(familyPrefix="web-dev-nightly", status=status)["taskDefinitionArns"]
            == []
        )
