"""Issue 20: the security defaults a scanner checks -- what exists in AWS afterwards."""

from __future__ import annotations

import json
from typing import Any

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
    # the execution and infrastructure roles keep the bare principal (see iam.trust_policy)
    assert "Condition" not in trust_of("web-dev-execution")["Statement"][0]
    assert "Condition" not in trust_of("web-dev-infrastructure")["Statement"][0]

    # a stack made by an earlier ecsup: the task role trusts every ecs-tasks caller
    client("iam").update_assume_role_policy(
        RoleName="web-dev-task", PolicyDocument=json.dumps(trust("ecs-tasks.amazonaws.com"))
    )
    ctx = make_ctx()
    ctx.mode = "plan"
    planned = [a for a in engine.make_plan(ctx).changes() if a.resource == "IAM role"]
    assert [(a.name, [c.attribute for c in a.changes]) for a in planned] == [("web-dev-task", ["trust policy"])]
    aws.reset()
    engine.create(make_ctx())
    assert ("iam", "UpdateAssumeRolePolicy") in aws.mutating()
    assert "Condition" in trust_of("web-dev-task")["Statement"][0]
    again = make_ctx()
    again.mode = "plan"
    assert engine.make_plan(again).changes() == []
