"""Workers ([workers.<name>]) on the strict layer: an ECS service with no load balancer in the
stack's cluster, rolling with the circuit breaker, its own task definition family; planned,
converged, repaired, scaled, removed and destroyed with the stack."""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import unquote

from conftest import SECRET_VALUE, Recorder, client, config_text

from ecsup import deploy, engine
from ecsup.cli import run_destroy
from ecsup.render import ConsoleUI, make_console
from ecsup.status import MISSING, OK, collect

MAIL_SECRET = "mail-t0ken-9981"
WORKER = """
[workers.mailer]
command = ["bundle", "exec", "sidekiq"]
stop_timeout = 90

[workers.mailer.environment]
QUEUES = "mailers"

[workers.mailer.secrets]
MAIL_TOKEN = "/web/dev/MAIL_TOKEN"
"""
SCALED = """
[workers.crunch]
command = ["python", "crunch.py"]
desired_count = 1

[workers.crunch.autoscaling]
min = 1
max = 5
cpu_target = 50
"""
SECRETS = {"DB_PASSWORD": SECRET_VALUE, "MAIL_TOKEN": MAIL_SECRET}
IMAGE = "public.ecr.aws/nginx/nginx:stable"


def ctx_for(make_ctx: Any, text: str) -> Any:
    return make_ctx(text, secrets=SECRETS)


def service(name: str = "web-dev-mailer") -> dict[str, Any] | None:
    found = client("ecs").describe_services(cluster="web-dev", services=[name], include=["TAGS"])["services"]
    return found[0] if found and found[0]["status"] == "ACTIVE" else None


def task_definition(arn: str) -> dict[str, Any]:
    return dict(client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"])


def families(status: str) -> list[str]:
    pages = client("ecs").get_paginator("list_task_definitions").paginate(status=status)
    return [a.split("/")[-1] for page in pages for a in page["taskDefinitionArns"]]


def execution_policy() -> dict[str, Any]:
    doc = client("iam").get_role_policy(RoleName="web-dev-execution", PolicyName="ecsup-secrets")["PolicyDocument"]
    return json.loads(unquote(doc)) if isinstance(doc, str) else dict(doc)


def not_running(names: list[str]) -> bool:
    """None of these services is ACTIVE or DRAINING (or the cluster is gone with them)."""
    try:
        found = client("ecs").describe_services(cluster="web-dev", services=names)["services"]
    except client("ecs").exceptions.ClusterNotFoundException:
        return True
    return all(s["status"] == "INACTIVE" for s in found)


def arn(name: str) -> str:
    return f"arn:aws:ssm:eu-west-1:123456789012:parameter{name}"


# -- create ----------------------------------------------------------------------------------
def test_a_worker_is_an_ecs_service_without_a_load_balancer_rolling_with_the_circuit_breaker(
    aws: Recorder, make_ctx: Any
) -> None:
    engine.create(ctx_for(make_ctx, config_text(WORKER)))

    svc = service()
    assert svc is not None
    assert svc.get("loadBalancers", []) == []
    assert svc["desiredCount"] == 1 and svc["runningCount"] == 1
    assert svc["deploymentController"]["type"] == "ECS"
    config = svc["deploymentConfiguration"]
    assert config["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert config.get("strategy", "ROLLING") == "ROLLING"
    assert svc["capacityProviderStrategy"][0]["capacityProvider"] == "FARGATE"
    net = svc["networkConfiguration"]["awsvpcConfiguration"]
    web = client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"][0]
    assert net == web["networkConfiguration"]["awsvpcConfiguration"]  # the stack's subnets and tasks' group
    tags = {t["key"]: t["value"] for t in svc["tags"]}
    assert tags["ecsup:app"] == "web" and tags["ecsup:env"] == "dev" and tags["ecsup:worker"] == "mailer"

    td = task_definition(svc["taskDefinition"])
    assert td["family"] == "web-dev-mailer"
    assert td["executionRoleArn"].endswith(":role/web-dev-execution") and td["taskRoleArn"].endswith(
        ":role/web-dev-task"
    )
    (c,) = td["containerDefinitions"]
    assert c["name"] == "mailer" and c["image"] == IMAGE
    assert c["command"] == ["bundle", "exec", "sidekiq"]
    assert c["stopTimeout"] == 90
    assert "portMappings" not in c or c["portMappings"] == []
    assert {e["name"]: e["value"] for e in c["environment"]} == {"APP_ENV": "dev", "QUEUES": "mailers"}
    assert {s["name"]: s["valueFrom"] for s in c["secrets"]} == {
        "DB_PASSWORD": arn("/web/dev/DB_PASSWORD"),
        "MAIL_TOKEN": arn("/web/dev/MAIL_TOKEN"),
    }
    logs = c["logConfiguration"]
    assert logs["logDriver"] == "awslogs"
    assert logs["options"]["awslogs-group"] == "/ecs/web-dev"
    assert logs["options"]["awslogs-stream-prefix"] == "mailer"
    assert logs["options"]["mode"] == "non-blocking"
    assert MAIL_SECRET not in json.dumps(td, default=str)  # values never in a task definition

    # the execution role reads exactly the parameters of all workloads, no more
    (read,) = [s for s in execution_policy()["Statement"] if s["Sid"] == "ReadSecrets"]
    resources = read["Resource"] if isinstance(read["Resource"], list) else [read["Resource"]]
    assert sorted(resources) == [arn("/web/dev/DB_PASSWORD"), arn("/web/dev/MAIL_TOKEN")]
    stored = client("ssm").get_parameter(Name="/web/dev/MAIL_TOKEN", WithDecryption=True)["Parameter"]
    assert stored["Value"] == MAIL_SECRET and stored["Type"] == "SecureString"

    aws.reset()
    outcome = engine.create(ctx_for(make_ctx, config_text(WORKER)))
    assert aws.writes() == [], "a no-op re-run changes nothing"
    lines = {(a.kind, a.resource, a.name) for a in outcome.actions}
    assert ("noop", "ECS service", "web-dev-mailer") in lines


def test_plan_shows_one_line_per_worker_resource(aws: Recorder, make_ctx: Any) -> None:
    ctx = ctx_for(make_ctx, config_text(WORKER))
    ctx.mode = "plan"
    actions = engine.make_plan(ctx).actions
    lines = {(a.kind, a.resource, a.name) for a in actions}
    assert ("create", "ECS service", "web-dev-mailer") in lines
    assert ("create", "task definition", "web-dev-mailer") in lines
    assert ("create", "secret", "/web/dev/MAIL_TOKEN") in lines
    assert aws.writes() == []
    svc = next(a for a in actions if a.name == "web-dev-mailer" and a.resource == "ECS service")
    assert "no load balancer" in svc.detail and "circuit breaker" in svc.detail


def test_a_worker_reading_a_variable_from_another_parameter_gets_it_and_the_role_reads_both(
    aws: Recorder, make_ctx: Any
) -> None:
    text = config_text(
        '\n[workers.mailer]\ncommand = ["run"]\n[workers.mailer.secrets]\nDB_PASSWORD = "/web/dev/MAILER_DB"\n'
    )
    engine.create(make_ctx(text, secrets={"DB_PASSWORD": SECRET_VALUE}))
    svc = service()
    assert svc is not None
    (c,) = task_definition(svc["taskDefinition"])["containerDefinitions"]
    assert {s["name"]: s["valueFrom"] for s in c["secrets"]} == {"DB_PASSWORD": arn("/web/dev/MAILER_DB")}
    web = client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"][0]
    (w,) = task_definition(web["taskDefinition"])["containerDefinitions"]
    assert {s["name"]: s["valueFrom"] for s in w["secrets"]} == {"DB_PASSWORD": arn("/web/dev/DB_PASSWORD")}
    (read,) = [s for s in execution_policy()["Statement"] if s["Sid"] == "ReadSecrets"]
    assert sorted(read["Resource"]) == [arn("/web/dev/DB_PASSWORD"), arn("/web/dev/MAILER_DB")]


# -- drift ---------------------------------------------------------------------------------------
def test_a_changed_environment_is_repaired_a_live_count_kept_and_the_file_s_new_count_applied(
    aws: Recorder, make_ctx: Any
) -> None:
    engine.create(ctx_for(make_ctx, config_text(WORKER)))
    first = service()
    assert first is not None
    # a live change of the count (`ecsup scale --workload`, or by hand): kept, as the web service's
    client("ecs").update_service(cluster="web-dev", service="web-dev-mailer", desiredCount=3)

    changed = config_text(WORKER.replace('QUEUES = "mailers"', 'QUEUES = "mailers,digests"'))
    outcome = engine.create(ctx_for(make_ctx, changed))
    update = next(a for a in outcome.actions if a.resource == "ECS service" and a.name == "web-dev-mailer")
    assert update.kind == "update"
    assert {c.attribute for c in update.changes} == {"task definition"}
    svc = service()
    assert svc is not None and svc["desiredCount"] == 3
    assert svc["taskDefinition"] != first["taskDefinition"]
    (c,) = task_definition(svc["taskDefinition"])["containerDefinitions"]
    assert {e["name"]: e["value"] for e in c["environment"]}["QUEUES"] == "mailers,digests"
    assert len(svc["deployments"]) == 1 and svc["deployments"][0]["rolloutState"] == "COMPLETED"

    # desired_count changed in the file: applied over the live count
    counted = changed.replace("stop_timeout = 90\n", "stop_timeout = 90\ndesired_count = 2\n", 1)
    assert counted.count("desired_count = 2") == 1
    outcome = engine.create(ctx_for(make_ctx, counted))
    update = next(a for a in outcome.actions if a.resource == "ECS service" and a.name == "web-dev-mailer")
    assert [(c.attribute, c.old, c.new) for c in update.changes] == [("desired count", "3", "2")]
    svc = service()
    assert svc is not None and svc["desiredCount"] == 2

    aws.reset()
    engine.create(ctx_for(make_ctx, counted))
    assert aws.writes() == []


def test_a_worker_follows_the_image_the_web_service_runs_not_the_files(aws: Recorder, make_ctx: Any) -> None:
    """A deploy released another image: create keeps it for the worker too (never swaps it back)."""
    text = config_text(WORKER)
    engine.create(ctx_for(make_ctx, text))
    deploy.deploy(ctx_for(make_ctx, text), "public.ecr.aws/nginx/nginx:mainline")
    engine.create(ctx_for(make_ctx, text))
    svc = service()
    assert svc is not None
    (c,) = task_definition(svc["taskDefinition"])["containerDefinitions"]
    assert c["image"] == "public.ecr.aws/nginx/nginx:mainline"

    own = text.replace('command = ["bundle", "exec", "sidekiq"]', 'command = ["x"]\nimage = "busybox:1.36"')
    engine.create(ctx_for(make_ctx, own))
    svc = service()
    assert svc is not None
    (c,) = task_definition(svc["taskDefinition"])["containerDefinitions"]
    assert c["image"] == "busybox:1.36"


# -- auto scaling ---------------------------------------------------------------------------------
def test_worker_autoscaling_is_made_and_a_count_it_set_is_kept(aws: Recorder, make_ctx: Any) -> None:
    text = config_text(SCALED)
    engine.create(make_ctx(text))
    aas = client("application-autoscaling")
    rid = "service/web-dev/web-dev-crunch"
    (target,) = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[rid])["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 5)
    (policy,) = aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=rid)["ScalingPolicies"]
    assert policy["PolicyName"] == "ecsup-web-dev-crunch-cpu"
    body = policy["TargetTrackingScalingPolicyConfiguration"]
    assert body["TargetValue"] == 50.0
    assert body["PredefinedMetricSpecification"]["PredefinedMetricType"] == "ECSServiceAverageCPUUtilization"
    svc = service("web-dev-crunch")
    assert svc is not None and svc["desiredCount"] == 1

    client("ecs").update_service(cluster="web-dev", service="web-dev-crunch", desiredCount=4)  # as scaling does
    aws.reset()
    engine.create(make_ctx(text))
    assert aws.writes() == []
    svc = service("web-dev-crunch")
    assert svc is not None and svc["desiredCount"] == 4

    client("ecs").update_service(cluster="web-dev", service="web-dev-crunch", desiredCount=9)  # out of range
    engine.create(make_ctx(text))
    svc = service("web-dev-crunch")
    assert svc is not None and svc["desiredCount"] == 5


# -- removal and destroy --------------------------------------------------------------------------
def test_a_worker_removed_from_the_file_is_deleted_by_the_next_create(aws: Recorder, make_ctx: Any) -> None:
    engine.create(make_ctx(config_text(WORKER + SCALED), secrets=SECRETS))
    assert service("web-dev-crunch") is not None

    ctx = ctx_for(make_ctx, config_text(WORKER))
    ctx.mode = "plan"
    lines = {(a.kind, a.resource, a.name) for a in engine.make_plan(ctx).actions}
    assert ("delete", "ECS service", "web-dev-crunch") in lines
    assert ("delete", "task definition", "web-dev-crunch") in lines
    assert ("delete", "scalable target", "service/web-dev/web-dev-crunch") in lines

    engine.create(ctx_for(make_ctx, config_text(WORKER)))
    assert service("web-dev-crunch") is None and service() is not None
    assert not [f for f in families("ACTIVE") + families("INACTIVE") if f.startswith("web-dev-crunch:")]
    aas = client("application-autoscaling")
    targets = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=["service/web-dev/web-dev-crunch"])
    assert targets["ScalableTargets"] == []
    aws.reset()
    engine.create(ctx_for(make_ctx, config_text(WORKER)))
    assert aws.writes() == []


def test_destroy_leaves_no_worker_service_scaling_or_family(aws: Recorder, make_ctx: Any) -> None:
    text = config_text(WORKER + SCALED)
    engine.create(make_ctx(text, secrets=SECRETS))
    ui = ConsoleUI(make_console(io.StringIO()), interactive=False)
    run_destroy(ctx_for(make_ctx, text), ui, False)

    ecs = client("ecs")
    assert ecs.describe_clusters(clusters=["web-dev"])["clusters"][0]["status"] == "INACTIVE"
    assert not_running(["web-dev", "web-dev-mailer", "web-dev-crunch"])
    assert [f for f in families("ACTIVE") + families("INACTIVE") if f.startswith("web-dev")] == []
    aas = client("application-autoscaling")
    assert aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []
    second = engine.plan_destroy(ctx_for(make_ctx, text))
    assert [a for a in second.actions if a.kind == "delete"] == []


def test_destroy_finds_a_worker_removed_from_the_file(aws: Recorder, make_ctx: Any) -> None:
    engine.create(ctx_for(make_ctx, config_text(WORKER)))
    ui = ConsoleUI(make_console(io.StringIO()), interactive=False)
    run_destroy(make_ctx(config_text()), ui, False)  # the file no longer names it
    assert service() is None
    assert [f for f in families("ACTIVE") + families("INACTIVE") if f.startswith("web-dev")] == []
    assert client("ecs").describe_clusters(clusters=["web-dev"])["clusters"][0]["status"] == "INACTIVE"


# -- status ---------------------------------------------------------------------------------------
def test_status_has_a_row_per_worker_and_is_unhealthy_when_one_is_missing(aws: Recorder, make_ctx: Any) -> None:
    text = config_text(WORKER)
    engine.create(ctx_for(make_ctx, text))
    report = collect(ctx_for(make_ctx, text))
    (row,) = [r for r in report.rows if r.resource == "worker"]
    assert row.state == OK and row.name == "web-dev-mailer"
    assert "running 1/1" in row.detail and "web-dev-mailer:1" in row.detail and "COMPLETED" in row.detail
    assert report.healthy
    assert report.as_dict()["workers"][0]["task_definition"] == "web-dev-mailer:1"

    client("ecs").delete_service(cluster="web-dev", service="web-dev-mailer", force=True)
    report = collect(ctx_for(make_ctx, text))
    states = {(r.resource, r.name): r.state for r in report.rows}
    assert states[("ECS service", "web-dev-mailer")] == MISSING
    assert not report.healthy


def test_a_worker_whose_tasks_exit_fails_its_rollout_rolls_back_and_shows_failing(
    aws: Recorder, make_ctx: Any, clock: Any
) -> None:
    """The emulated rolling deployment of a service without a load balancer: an image whose
    container exits trips the circuit breaker, ECS rolls back to the revision before, create
    fails with the stopped tasks' reason."""
    from ecsup.errors import AwsError

    text = config_text(WORKER)
    engine.create(ctx_for(make_ctx, text))
    before = service()
    assert before is not None
    bad = text.replace('command = ["bundle", "exec", "sidekiq"]', 'command = ["x"]\nimage = "worker:unhealthy"')
    try:
        engine.create(ctx_for(make_ctx, bad))
        raise AssertionError("create did not fail")
    except AwsError as exc:
        assert "web-dev-mailer" in exc.message and "rolled back" in exc.message
        assert "Essential container in task exited" in exc.message
    svc = service()
    assert svc is not None and svc["taskDefinition"] == before["taskDefinition"]  # the breaker's rollback
    assert svc["runningCount"] == 1
    tasks = client("ecs").list_tasks(cluster="web-dev", serviceName="web-dev-mailer")["taskArns"]
    assert len(tasks) == 1
    (task,) = client("ecs").describe_tasks(cluster="web-dev", tasks=tasks)["tasks"]
    assert task["lastStatus"] == "RUNNING" and task["taskDefinitionArn"] == before["taskDefinition"]
    report = collect(ctx_for(make_ctx, bad))
    assert any(r.resource == "task definition" and r.state != OK for r in report.rows)
    assert not report.healthy


def test_a_removed_worker_is_found_past_the_first_page_of_a_crowded_cluster(aws: Recorder, make_ctx: Any) -> None:
    """ListServices answers 10 services a page and DescribeServices takes 10 names (the strict
    layer, as AWS): a removed worker listed on a later page, among services of the same prefix that
    are not ecsup's, is still found and deleted; the others are left alone."""
    engine.create(ctx_for(make_ctx, config_text(WORKER)))
    ecs = client("ecs")
    web = ecs.describe_services(cluster="web-dev", services=["web-dev"])["services"][0]
    others = [f"web-dev-a{i:02d}" for i in range(11)]  # listed before web-dev-mailer
    for name in others:
        ecs.create_service(cluster="web-dev", serviceName=name, taskDefinition=web["taskDefinition"], desiredCount=0)
    first = ecs.list_services(cluster="web-dev")
    assert len(first["serviceArns"]) == 10 and first.get("nextToken")
    try:
        ecs.describe_services(cluster="web-dev", services=others)
        raise AssertionError("DescribeServices took 11 names")
    except ecs.exceptions.InvalidParameterException:
        pass

    engine.create(make_ctx(config_text()))  # the file no longer names the worker
    assert service() is None
    assert all(service(name) is not None for name in others)


def test_the_execution_role_reads_the_parameters_of_every_workload_jobs_included(aws: Recorder, make_ctx: Any) -> None:
    job = (
        '\n[jobs.nightly]\nschedule = "cron(0 3 * * ? *)"\ncommand = ["cleanup"]\n'
        '[jobs.nightly.secrets]\nREPORT_KEY = "/web/dev/REPORT_KEY"\n'
    )
    text = config_text(WORKER + job)
    engine.create(make_ctx(text, secrets=dict(SECRETS, REPORT_KEY="r3port")))
    (read,) = [s for s in execution_policy()["Statement"] if s["Sid"] == "ReadSecrets"]
    assert sorted(read["Resource"]) == [
        arn("/web/dev/DB_PASSWORD"),
        arn("/web/dev/MAIL_TOKEN"),
        arn("/web/dev/REPORT_KEY"),
    ]

    engine.create(make_ctx(config_text(job), secrets=dict(SECRETS, REPORT_KEY="r3port")))  # the worker removed
    (read,) = [s for s in execution_policy()["Statement"] if s["Sid"] == "ReadSecrets"]
    assert sorted(read["Resource"]) == [arn("/web/dev/DB_PASSWORD"), arn("/web/dev/REPORT_KEY")]


def test_destroy_deletes_what_the_workers_use_only_after_their_services(aws: Recorder, make_ctx: Any) -> None:
    """The cluster, the roles, the tasks' security group, and with --purge the log group and the
    secrets, wait for every worker service's deletion (its tasks run in them, with them)."""
    text = config_text(WORKER)
    engine.create(ctx_for(make_ctx, text))
    outcome = engine.plan_destroy(ctx_for(make_ctx, text), purge=True)
    waits = {a.ref: a.after for a in outcome.actions if a.kind == "delete"}
    for ref in (
        "ECS cluster web-dev",
        "IAM role web-dev-execution",
        "IAM role web-dev-task",
        "security group web-dev-tasks",
        "log group /ecs/web-dev",
        "secret /web/dev/MAIL_TOKEN",
        "task definition web-dev-mailer",
    ):
        assert "ECS service web-dev-mailer" in waits[ref], ref


def test_a_workers_count_repaired_is_not_read_as_a_change_of_the_web_services_cost(
    aws: Recorder, make_ctx: Any
) -> None:
    text = config_text(WORKER)
    engine.create(ctx_for(make_ctx, text))
    ecs = client("ecs")
    ecs.update_service(cluster="web-dev", service="web-dev", desiredCount=2)  # kept (`ecsup scale`'s)
    engine.create(ctx_for(make_ctx, text))  # records it as the live one create keeps
    three = text.replace("stop_timeout = 90\n", "stop_timeout = 90\ndesired_count = 3\n", 1)
    assert three.count("desired_count = 3") == 1
    ctx = ctx_for(make_ctx, three)  # the worker's count changes in the file
    ctx.mode = "plan"
    outcome = engine.make_plan(ctx)
    assert [a.name for a in outcome.changes()] == ["web-dev-mailer"]
    assert engine.cost_change(ctx, outcome) is None
