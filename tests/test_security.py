"""Issue 20: the security defaults a scanner checks -- what exists in AWS afterwards."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Recorder, client

from ecsup import engine
from ecsup.steps.iam import trust


def trust_of(role: str) -> dict[str, Any]:
    doc = client("iam").get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    return json.loads(doc) if isinstance(doc, str) else doc


def test_the_task_role_trusts_only_this_accounts_ecs_tasks_and_an_old_stack_converges(aws: Recorder, make_ctx: Any):
    engine.create(make_ctx())
    statement = trust_of("web-dev-task")["Statement"][0]
    assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert statement["Condition"] == {
        "ArnLike": {"aws:SourceArn": "arn:aws:ecs:eu-west-1:123456789012:*"},
        "StringEquals": {"aws:SourceAccount": "123456789012"},
    }
    # the execution role: aws:SourceAccount only; the infrastructure role: bare (see iam.trust_policy)
    execution = trust_of("web-dev-execution")["Statement"][0]
    assert execution["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert execution["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert "Condition" not in trust_of("web-dev-infrastructure")["Statement"][0]

    # a stack made by an earlier ecsup: the task and execution roles trust every ecs-tasks caller
    for role in ("web-dev-task", "web-dev-execution"):
        bare = json.dumps(trust("ecs-tasks.amazonaws.com"))
        client("iam").update_assume_role_policy(RoleName=role, PolicyDocument=bare)
    ctx = make_ctx()
    ctx.mode = "plan"
    planned = [a for a in engine.make_plan(ctx).changes() if a.resource == "IAM role"]
    assert sorted((a.name, [c.attribute for c in a.changes]) for a in planned) == [
        ("web-dev-execution", ["trust policy"]),
        ("web-dev-task", ["trust policy"]),
    ]
    aws.reset()
    engine.create(make_ctx())
    assert aws.mutating().count(("iam", "UpdateAssumeRolePolicy")) == 2
    assert "Condition" in trust_of("web-dev-task")["Statement"][0]
    assert trust_of("web-dev-execution")["Statement"][0]["Condition"] == execution["Condition"]
    again = make_ctx()
    again.mode = "plan"
    assert engine.make_plan(again).changes() == []


KEY = "arn:aws:kms:eu-west-1:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
OPT_INS = """
[load_balancer]
tls_policy = "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09"
deletion_protection = true
"""
SERVICE_OPT_INS = {
    "[service.environment]": f'readonly_root_filesystem = true\ncontainer_insights = true\nlog_kms_key = "{KEY}"\n\n'
    "[service.environment]"
}


def alb_attributes() -> dict[str, str]:
    elb = client("elbv2")
    arn = elb.describe_load_balancers(Names=["web-dev"])["LoadBalancers"][0]["LoadBalancerArn"]
    return {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]}


def https_policy() -> str:
    elb = client("elbv2")
    arn = elb.describe_load_balancers(Names=["web-dev"])["LoadBalancers"][0]["LoadBalancerArn"]
    return next(li["SslPolicy"] for li in elb.describe_listeners(LoadBalancerArn=arn)["Listeners"] if li["Port"] == 443)


def container() -> dict[str, Any]:
    ecs = client("ecs")
    arn = ecs.describe_services(cluster="web-dev", services=["web-dev"])["services"][0]["taskDefinition"]
    return dict(ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["containerDefinitions"][0])


def test_defaults_newest_tls_policy_and_non_blocking_logs(aws: Recorder, make_ctx: Any) -> None:
    engine.create(make_ctx())
    assert https_policy() == "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
    options = container()["logConfiguration"]["options"]
    assert options["mode"] == "non-blocking" and options["max-buffer-size"] == "25m"
    assert "readonlyRootFilesystem" not in container()
    assert alb_attributes()["deletion_protection.enabled"] == "false"


def test_opt_ins_are_created_planned_and_removed(aws: Recorder, make_ctx: Any) -> None:
    from conftest import config_text
    from test_destroy import destroy

    engine.create(make_ctx())  # a stack without them, then the keys are set: each is a planned change
    text = config_text(OPT_INS, replace=SERVICE_OPT_INS)
    ctx = make_ctx(text)
    ctx.mode = "plan"
    changes = {(a.resource, c.attribute) for a in engine.make_plan(ctx).changes() for c in a.changes}
    assert {
        ("load balancer", "deletion_protection.enabled"),
        ("listener", "TLS policy"),
        ("ECS cluster", "Container Insights"),
        ("log group", "KMS key"),
    } <= changes, changes
    assert any(a.resource == "task definition" for a in engine.make_plan(ctx).changes())

    def associate(service: str, operation: str, params: dict[str, Any]) -> Any:
        if operation == "AssociateKmsKey":  # moto lacks it: answer as AWS does (empty), and record it
            associated.append(params)
            from botocore.awsrequest import AWSResponse

            return AWSResponse("https://logs.invalid", 200, {}, None), {"ResponseMetadata": {"HTTPStatusCode": 200}}
        return None

    associated: list[dict[str, Any]] = []
    aws.injectors.append(associate)
    engine.create(make_ctx(text))
    assert associated == [{"logGroupName": "/ecs/web-dev", "kmsKeyId": KEY}]
    assert alb_attributes()["deletion_protection.enabled"] == "true"
    assert https_policy() == "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09"
    assert container()["readonlyRootFilesystem"] is True
    cluster = client("ecs").describe_clusters(clusters=["web-dev"], include=["SETTINGS"])["clusters"][0]
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]

    # destroy (confirmed) turns deletion protection off first; AWS (as emulated) refuses otherwise
    result = destroy(make_ctx(text))
    assert result["failed"] == [], result
    assert not client("elbv2").describe_load_balancers()["LoadBalancers"]
    assert ("elbv2", "ModifyLoadBalancerAttributes") in aws.mutating()


def test_a_new_log_group_is_created_with_the_key(aws: Recorder, make_ctx: Any) -> None:
    from conftest import config_text

    engine.create(make_ctx(config_text(replace=SERVICE_OPT_INS)))
    group = client("logs").describe_log_groups(logGroupNamePrefix="/ecs/web-dev")["logGroups"][0]
    assert group["kmsKeyId"] == KEY


def test_a_protected_load_balancer_cannot_be_deleted_behind_ecsups_back(aws: Recorder, make_ctx: Any) -> None:
    import pytest
    from conftest import config_text

    engine.create(make_ctx(config_text(OPT_INS)))
    elb = client("elbv2")
    arn = elb.describe_load_balancers(Names=["web-dev"])["LoadBalancers"][0]["LoadBalancerArn"]
    with pytest.raises(elb.exceptions.OperationNotPermittedException):
        elb.delete_load_balancer(LoadBalancerArn=arn)


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('\n[load_balancer]\ntls_policy = "TLS-1.3"\n', "load_balancer.tls_policy"),
        ('\n[load_balancer]\ndeletion_protection = "yes"\n', "load_balancer.deletion_protection"),
    ],
)
def test_bad_security_keys_name_the_key(aws: Recorder, tmp_path: Any, extra: str, key: str) -> None:
    from conftest import config_text, invoke

    path = tmp_path / "ecsup.toml"
    path.write_text(config_text(extra))
    result = invoke("plan", "-c", str(path))
    assert result.exit_code == 2 and key in result.stderr and "Traceback" not in result.output
    assert aws.calls == []


def test_log_kms_key_must_be_a_key_arn(aws: Recorder, tmp_path: Any) -> None:
    from conftest import config_text, invoke

    path = tmp_path / "ecsup.toml"
    path.write_text(
        config_text(replace={"[service.environment]": 'log_kms_key = "alias/mine"\n\n[service.environment]'})
    )
    result = invoke("create", "-c", str(path))
    assert result.exit_code == 2 and "service.log_kms_key" in result.stderr and "takes no alias" in result.stderr
    assert aws.calls == []


def test_cost_prices_container_insights_only_when_on(tmp_path: Any) -> None:
    from conftest import config_text, invoke

    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    off = json.loads(invoke("cost", "--offline", "--json", "-c", str(path)).stdout)
    assert "Container Insights" not in [i["item"] for i in off["items"]]
    path.write_text(config_text(replace=SERVICE_OPT_INS))
    on = json.loads(invoke("cost", "--offline", "--json", "-c", str(path)).stdout)
    line = next(i for i in on["items"] if i["item"] == "Container Insights")
    assert 5.7 <= line["monthly"] <= 5.8  # 19 metrics x $0.30, and one task's performance logs (cents)
    assert on["total"] == round(off["total"] + line["monthly"], 2)
