"""IAM: the task execution role (managed AmazonECSTaskExecutionRolePolicy plus an
inline policy reading exactly the configured parameters) and the application's
task role (no permissions by default)."""

from __future__ import annotations

import json
from functools import partial
from typing import Any
from urllib.parse import unquote

from .. import waiting
from ..context import Context
from ..errors import OwnershipConflict, doing, is_code
from ..names import tag_dict
from ..plan import Action, Change
from . import Step, check_owner, foreign, service_ref

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
EXECUTION_POLICY = "arn:{partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


# When ecsup last changed the execution role's permissions (epoch seconds), kept on the role:
# IAM applies a change within seconds and keeps no time of it, and the next run -- after a crash
# or Ctrl-C -- must still let a recent change settle before it starts tasks (ecs.py).
PERMISSIONS_TAG = "ecsup:permissions-changed"


def learn_permission_change(ctx: Context, role: dict[str, Any]) -> None:
    try:
        at = float(tag_dict(role.get("Tags")).get(PERMISSIONS_TAG, ""))
    except ValueError:
        return
    ago = ctx.wall() - at
    if 0 <= ago < ctx.timeouts.iam_settle:
        changed = ctx.clock() - ago
        ctx.facts["execution_permissions_changed_at"] = max(
            changed, ctx.facts.get("execution_permissions_changed_at", 0)
        )


def role_arn(ctx: Context, name: str) -> str:
    return f"arn:{ctx.partition}:iam::{ctx.account_id}:role/{name}"


def inline_policy(ctx: Context) -> dict[str, Any] | None:
    arns = sorted(ctx.facts.get("secret_arns", {}).values())
    if not arns:
        return None
    statements: list[dict[str, Any]] = [
        {"Sid": "ReadSecrets", "Effect": "Allow", "Action": "ssm:GetParameters", "Resource": arns}
    ]
    keys = ctx.facts.get("decrypt_keys") or []  # the configured key and each existing parameter's own
    if keys:
        statements.append(
            {
                "Sid": "DecryptSecrets",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": keys[0] if len(keys) == 1 else keys,
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def _doc(value: Any) -> Any:
    return json.loads(unquote(value)) if isinstance(value, str) else value


def _norm(doc: Any) -> str:
    """Canonical form for comparing policy documents (single values vs lists)."""

    def fix(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: fix(v) for k, v in sorted(x.items())}
        if isinstance(x, list):
            items = [fix(v) for v in x]
            return items[0] if len(items) == 1 else sorted(items, key=json.dumps)
        return x

    return json.dumps(fix(doc), sort_keys=True)


def get_role(ctx: Context, name: str) -> dict[str, Any] | None:
    with doing(f"look up IAM role {name}"):
        try:
            return dict(ctx.client("iam").get_role(RoleName=name)["Role"])
        except Exception as exc:
            if is_code(exc, "NoSuchEntity"):
                return None
            raise


class IamStep(Step):
    title = "IAM roles"

    def plan(self, ctx: Context) -> list[Action]:
        n = ctx.names
        ctx.facts["execution_role_arn"] = role_arn(ctx, n.execution_role)
        ctx.facts["task_role_arn"] = role_arn(ctx, n.task_role)
        actions = []
        for name, execution in ((n.execution_role, True), (n.task_role, False)):
            role = get_role(ctx, name)
            if role is None:
                actions.append(
                    Action(
                        "create",
                        "IAM role",
                        name,
                        "ECS task execution" if execution else "application task role (no permissions)",
                        run=partial(self._converge, ctx, name, execution, create=True),
                    )
                )
                continue
            if not check_owner(ctx, "IAM role", name, tag_dict(role.get("Tags"))):
                continue
            if execution:
                learn_permission_change(ctx, role)
            changes = self._changes(ctx, role, execution)
            if changes:
                actions.append(
                    Action("update", "IAM role", name, "", changes, run=partial(self._converge, ctx, name, execution))
                )
            else:
                actions.append(Action("noop", "IAM role", name, role["Arn"]))
        return actions

    def _changes(self, ctx: Context, role: dict[str, Any], execution: bool) -> list[Change]:
        iam = ctx.client("iam")
        name = role["RoleName"]
        changes = []
        if _norm(_doc(role.get("AssumeRolePolicyDocument"))) != _norm(TRUST):
            changes.append(Change("trust policy", "other", "ecs-tasks.amazonaws.com"))
        if not execution:
            return changes
        with doing(f"read policies of IAM role {name}"):
            attached = {
                p["PolicyArn"]
                for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name)
                for p in page["AttachedPolicies"]
            }
            managed = EXECUTION_POLICY.format(partition=ctx.partition)
            if managed not in attached:
                changes.append(Change("managed policy", "-", managed.split("/")[-1]))
            want = inline_policy(ctx)
            try:
                have = _doc(iam.get_role_policy(RoleName=name, PolicyName=ctx.names.execution_policy)["PolicyDocument"])
            except Exception as exc:
                if not is_code(exc, "NoSuchEntity"):
                    raise
                have = None
        if (have is None) != (want is None) or (want is not None and _norm(have) != _norm(want)):
            changes.append(
                Change(
                    "inline policy",
                    "absent" if have is None else "other",
                    "absent" if want is None else "ssm:GetParameters on the configured parameters",
                )
            )
        return changes

    def _converge(self, ctx: Context, name: str, execution: bool, create: bool = False) -> str:
        iam = ctx.client("iam")
        with doing(f"configure IAM role {name}"):
            role: dict[str, Any] | None = None
            if create:
                try:
                    role = iam.create_role(
                        RoleName=name,
                        AssumeRolePolicyDocument=json.dumps(TRUST),
                        Description=f"ecsup {ctx.names.stack} " + ("task execution" if execution else "task"),
                        Tags=ctx.names.tag_list(),
                    )["Role"]
                except Exception as exc:
                    if not is_code(exc, "EntityAlreadyExists"):
                        raise
            if role is not None:  # just created: its state is known, and IAM may not show it to reads yet
                if execution:
                    self._write(ctx, name, [Change("managed policy", "-", ""), Change("inline policy", "absent", "")])
                return str(role["Arn"])
            role = waiting.retry(  # a run that died after CreateRole left it: it may not be readable yet
                ctx,
                f"IAM role {name} to be readable",
                lambda: iam.get_role(RoleName=name)["Role"],
                lambda e: is_code(e, "NoSuchEntity"),
                ctx.timeouts.propagation,
            )
            if not ctx.names.owns(tag_dict(role.get("Tags"))):  # someone else's, made since the plan
                raise OwnershipConflict(
                    f"IAM role {name!r} exists but does not carry ecsup's tags for app={ctx.names.app}, "
                    f"env={ctx.names.env}",
                    hint="rename or remove the other role, or pick another app/env",
                )
            if execution:
                learn_permission_change(ctx, role)
            if _norm(_doc(role.get("AssumeRolePolicyDocument"))) != _norm(TRUST):
                iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(TRUST))
            if execution:
                self._write(ctx, name, self._changes(ctx, role, execution))
        return str(role["Arn"])

    def _write(self, ctx: Context, name: str, changes: list[Change]) -> None:
        """Apply the execution role's policy changes. IAM may not yet know a role created a
        moment ago (NoSuchEntity): retried, bounded. The time of the change is remembered:
        the service waits for it to take effect before it starts tasks (see ecs.py)."""
        iam = ctx.client("iam")
        calls: list[Any] = []
        for change in changes:
            if change.attribute == "managed policy":
                arn = EXECUTION_POLICY.format(partition=ctx.partition)
                calls.append(lambda arn=arn: iam.attach_role_policy(RoleName=name, PolicyArn=arn))
            elif change.attribute == "inline policy":
                want = inline_policy(ctx)
                if want is None:
                    if change.old != "absent":
                        calls.append(
                            lambda: iam.delete_role_policy(RoleName=name, PolicyName=ctx.names.execution_policy)
                        )
                else:
                    doc = json.dumps(want)
                    calls.append(
                        lambda doc=doc: iam.put_role_policy(
                            RoleName=name, PolicyName=ctx.names.execution_policy, PolicyDocument=doc
                        )
                    )
        if calls:  # the time first: a run that dies between the two over-reports, never under-reports
            stamp = [{"Key": PERMISSIONS_TAG, "Value": f"{ctx.wall():.3f}"}]
            calls.insert(0, lambda: iam.tag_role(RoleName=name, Tags=stamp))
        for call in calls:
            waiting.retry(
                ctx,
                f"IAM role {name} to be known to IAM",
                call,
                lambda e: is_code(e, "NoSuchEntity"),
                ctx.timeouts.propagation,
            )
        if calls:
            ctx.facts["execution_permissions_changed_at"] = ctx.clock()

    def plan_destroy(self, ctx: Context) -> list[Action]:
        actions = []
        for name in (ctx.names.execution_role, ctx.names.task_role):
            role = get_role(ctx, name)
            if role is None:
                continue
            if not ctx.names.owns(tag_dict(role.get("Tags"))):
                actions.append(foreign(ctx, "IAM role", name))
                continue
            # after the service: deleting its execution role first strands its tasks
            actions.append(
                Action("delete", "IAM role", name, "", run=partial(self._delete, ctx, name), after=(service_ref(ctx),))
            )
        return actions

    def _delete(self, ctx: Context, name: str) -> str:
        iam = ctx.client("iam")
        with doing(f"delete IAM role {name}"):
            try:
                for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
                    for p in page["AttachedPolicies"]:
                        iam.detach_role_policy(RoleName=name, PolicyArn=p["PolicyArn"])
                for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
                    for policy in page["PolicyNames"]:
                        iam.delete_role_policy(RoleName=name, PolicyName=policy)
                iam.delete_role(RoleName=name)
            except Exception as exc:
                if is_code(exc, "NoSuchEntity"):
                    return "already gone"
                raise
        return "deleted"
