"""IAM: the task execution role (managed AmazonECSTaskExecutionRolePolicy plus an
inline policy reading exactly the configured parameters), the application's task role
(no permissions by default), and -- for blue/green, linear and canary deployments -- the
ECS infrastructure role that lets ECS move the listener's traffic between the target
groups (managed AmazonECSInfrastructureRolePolicyForLoadBalancers)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import unquote

from .. import waiting
from ..context import Context
from ..errors import OwnershipConflict, doing, is_code
from ..names import tag_dict
from ..plan import Action, Change
from . import Step, check_owner, foreign, service_ref


def trust(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


TRUST = trust("ecs-tasks.amazonaws.com")


def trust_policy(ctx: Context, spec: RoleSpec) -> dict[str, Any]:
    """The role's trust policy, with the confused-deputy conditions AWS gives for its principal.

    - Task role: ArnLike aws:SourceArn arn:<partition>:ecs:<region>:<account>:* and StringEquals
      aws:SourceAccount, as the ECS Developer Guide's "Amazon ECS task IAM role" page gives them
      (see also github.com/awsdocs/amazon-ecs-developer-guide/issues/208: a task's ARN is the
      source, so no narrower cluster pattern is possible).
    - Execution role: StringEquals aws:SourceAccount only. AWS's own Fargate sample trusts
      ecs-tasks.amazonaws.com for its task execution role with exactly that condition
      (aws/agent-toolkit-for-aws, processing-s3-uploads-with-step-functions: ecs-trust-policy.json
      used by references/iam-roles.md for `sfn-ecs-execution-role`), and AWS's CloudFormation
      Guard rules accept it on an execution role. No AWS page documents aws:SourceArn for the
      agent's pull/log credentials, so that key is left out: a condition on a key ECS does not
      send would make every task fail to start.
    - Infrastructure role: the bare principal. AWS's page ("Amazon ECS infrastructure IAM role
      for load balancers") shows no condition, no AWS source shows ecs.amazonaws.com sending
      aws:SourceAccount or aws:SourceArn when it assumes the role to move listener weights, and a
      condition it does not satisfy would fail every traffic shift (and so every release)."""
    doc = trust(spec.principal)
    account, region = ctx.account_id, ctx.region
    condition: dict[str, Any] = {}
    if "arn" in spec.confused_deputy:
        condition["ArnLike"] = {"aws:SourceArn": f"arn:{ctx.partition}:ecs:{region}:{account}:*"}
    if "account" in spec.confused_deputy:
        condition["StringEquals"] = {"aws:SourceAccount": account}
    if condition:
        doc["Statement"][0]["Condition"] = condition
    return doc


EXECUTION_POLICY = "arn:{partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
# ECS Developer Guide, "Amazon ECS infrastructure IAM role for load balancers" (blue/green, linear, canary)
INFRASTRUCTURE_POLICY = "arn:{partition}:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"


@dataclass(frozen=True)
class RoleSpec:
    name: str
    description: str
    principal: str  # the service that assumes it
    managed: tuple[str, ...] = ()  # policy ARNs, with {partition}
    execution: bool = False  # the inline secrets policy
    # ECS acts with it when it starts tasks (execution role) or moves traffic (infrastructure
    # role): a change to its permissions must settle first (the time is kept on the role)
    settles: bool = False
    exec_policy: bool = False  # the task role: the inline ECS Exec policy when [service] exec = true
    # the trust policy's confused-deputy conditions: "arn" (aws:SourceArn), "account"
    # (aws:SourceAccount); which ones each principal gets, and why, is in trust_policy
    confused_deputy: tuple[str, ...] = ()


def role_specs(ctx: Context) -> list[RoleSpec]:
    n = ctx.names
    specs = [
        RoleSpec(
            n.execution_role,
            "ECS task execution",
            "ecs-tasks.amazonaws.com",
            (EXECUTION_POLICY,),
            execution=True,
            settles=True,
            confused_deputy=("account",),
        ),
        RoleSpec(
            n.task_role,
            "application task role (no permissions)",
            "ecs-tasks.amazonaws.com",
            exec_policy=True,
            confused_deputy=("arn", "account"),
        ),
    ]
    if ctx.config.service.deploy.shifts_traffic:
        specs.append(
            RoleSpec(
                n.infrastructure_role,
                "ECS infrastructure role: moves the listener's traffic between blue and green",
                "ecs.amazonaws.com",
                (INFRASTRUCTURE_POLICY,),
                # "ECS was unable to manage the ELB resources due to missing permissions on ECS
                # Infrastructure Role" fails the first traffic shift and rolls it back (developer
                # guide, "Troubleshooting Amazon ECS blue/green deployments") when UpdateService
                # passes a role whose policy IAM has not applied yet: it settles like the execution role's.
                settles=True,
            )
        )
    return specs


# When ecsup last changed the permissions of a role ECS acts with (epoch seconds), kept on the role:
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
        ctx.facts["permissions_changed_at"] = max(changed, ctx.facts.get("permissions_changed_at", 0))


def role_arn(ctx: Context, name: str) -> str:
    return f"arn:{ctx.partition}:iam::{ctx.account_id}:role/{name}"


def inline_policy(ctx: Context) -> dict[str, Any] | None:
    """ssm:GetParameters on exactly the parameters the stack's workloads read (the web service's,
    every worker's and job's: steps/secrets.py), and kms:Decrypt on the keys that encrypt them."""
    arns = sorted(set(ctx.facts.get("parameter_arns", {}).values()))
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


def unsettled_for(ctx: Context) -> float:
    """How long IAM may still answer NoSuchEntity for a role the stack's last run created: IAM is
    eventually consistent ("Changes that I make are not always immediately visible", IAM User
    Guide), so a destroy right after a create that stopped moments after CreateRole (Ctrl-C, a
    crash: the roles are made at once, IamStep.concurrent) may not see them. The last changing run
    ended when it rewrote the stack's generation parameter (lock.py); up to
    ``Timeouts.propagation`` after that, a role that reads as missing is looked at again. 0 when no
    run changed the stack lately (a destroy of an old or never created stack does not wait)."""
    from datetime import datetime

    with doing("read the stack's generation"):
        try:
            found = ctx.client("ssm").get_parameter(Name=ctx.names.generation_parameter)["Parameter"]
        except Exception as exc:
            if is_code(exc, "ParameterNotFound"):
                return 0.0
            raise
    changed = found.get("LastModifiedDate")
    if not isinstance(changed, datetime):
        return 0.0
    bound = ctx.timeouts.propagation
    return max(0.0, min(bound, changed.timestamp() + bound - ctx.wall()))


def _readable(ctx: Context, name: str, bound: float) -> dict[str, Any] | None:
    """The role, once IAM shows it, or None if it still does not after ``bound`` seconds."""
    from ..errors import WaitTimeout

    try:
        return waiting.retry(
            ctx,
            f"IAM role {name} to be readable (the last run may have made it moments ago)",
            lambda: dict(ctx.client("iam").get_role(RoleName=name)["Role"]),
            lambda e: is_code(e, "NoSuchEntity"),
            bound,
        )
    except WaitTimeout:
        return None


class IamStep(Step):
    title = "IAM roles"
    reads = ("secret_arns", "decrypt_keys")  # the parameters and keys the execution role may read
    provides = ("execution_role_arn", "task_role_arn", "infrastructure_role_arn", "permissions_changed_at")
    concurrent = True  # one role each
    after = ("CertificateStep",)  # the two longest waits start first (CertificateStep.after)

    def plan(self, ctx: Context) -> list[Action]:
        n = ctx.names
        ctx.facts["execution_role_arn"] = role_arn(ctx, n.execution_role)
        ctx.facts["task_role_arn"] = role_arn(ctx, n.task_role)
        ctx.facts["infrastructure_role_arn"] = role_arn(ctx, n.infrastructure_role)
        # the roles are independent: read them at once (the first error, in role order, is raised)
        found = ctx.in_parallel({spec.name: partial(self._observe, ctx, spec) for spec in role_specs(ctx)})
        for _, error in found.values():
            if error is not None:
                raise error
        return [action for action, _ in found.values() if action is not None]

    def _observe(self, ctx: Context, spec: RoleSpec) -> Action | None:
        role = get_role(ctx, spec.name)
        if role is None:
            return Action(
                "create", "IAM role", spec.name, spec.description, run=partial(self._converge, ctx, spec, create=True)
            )
        if not check_owner(ctx, "IAM role", spec.name, tag_dict(role.get("Tags"))):
            return None
        if spec.settles:
            learn_permission_change(ctx, role)
        changes = self._changes(ctx, role, spec)
        if changes:
            return Action("update", "IAM role", spec.name, "", changes, run=partial(self._converge, ctx, spec))
        return Action("noop", "IAM role", spec.name, role["Arn"])

    def _changes(self, ctx: Context, role: dict[str, Any], spec: RoleSpec) -> list[Change]:
        iam = ctx.client("iam")
        name = role["RoleName"]
        changes = []
        if _norm(_doc(role.get("AssumeRolePolicyDocument"))) != _norm(trust_policy(ctx, spec)):
            trusted = spec.principal + (" from this account only" if spec.confused_deputy else "")
            changes.append(Change("trust policy", "other", trusted))
        if spec.exec_policy:
            return changes + exec_policy_changes(ctx, name)
        if not spec.managed and not spec.execution:
            return changes
        with doing(f"read policies of IAM role {name}"):
            attached = {
                p["PolicyArn"]
                for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name)
                for p in page["AttachedPolicies"]
            }
            for policy in spec.managed:
                managed = policy.format(partition=ctx.partition)
                if managed not in attached:
                    changes.append(Change("managed policy", "-", managed.split("/")[-1]))
            if not spec.execution:
                return changes
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

    def _converge(self, ctx: Context, spec: RoleSpec, create: bool = False) -> str:
        iam = ctx.client("iam")
        name = spec.name
        with doing(f"configure IAM role {name}"):
            role: dict[str, Any] | None = None
            if create:
                # a role ECS acts with carries the time of its permissions' change from its creation
                # (the policies come right after): one call less before the service's settle
                stamp = [{"Key": PERMISSIONS_TAG, "Value": f"{ctx.wall():.3f}"}] if spec.settles else []
                try:
                    role = iam.create_role(
                        RoleName=name,
                        AssumeRolePolicyDocument=json.dumps(trust_policy(ctx, spec)),
                        Description=f"ecsup {ctx.names.stack} {spec.description}"[:1000],
                        Tags=[*ctx.names.tag_list(), *stamp],
                    )["Role"]
                except Exception as exc:
                    if not is_code(exc, "EntityAlreadyExists"):
                        raise
            if role is not None:  # just created: its state is known, and IAM may not show it to reads yet
                initial = [
                    Change("managed policy", "-", p.format(partition=ctx.partition).split("/")[-1])
                    for p in spec.managed
                ]
                if spec.execution:
                    initial.append(Change("inline policy", "absent", ""))
                if spec.exec_policy and ctx.config.service.exec:
                    initial.append(Change(EXEC_CHANGE, "absent", "ssmmessages"))
                self._write(ctx, spec, initial, stamped=True)
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
            if spec.execution:
                learn_permission_change(ctx, role)
            if _norm(_doc(role.get("AssumeRolePolicyDocument"))) != _norm(trust_policy(ctx, spec)):
                iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust_policy(ctx, spec)))
            self._write(ctx, spec, self._changes(ctx, role, spec))
        return str(role["Arn"])

    def _write(self, ctx: Context, spec: RoleSpec, changes: list[Change], stamped: bool = False) -> None:
        """Apply policy changes. IAM may not yet know a role created a moment ago
        (NoSuchEntity): retried, bounded. For the execution role the time of the change is
        kept (on the role, and for this run): the service waits for it to take effect before
        it starts tasks (see ecs.py)."""
        iam = ctx.client("iam")
        name = spec.name
        calls: list[Any] = []
        for change in changes:
            if change.attribute == "managed policy":
                for policy in spec.managed:
                    arn = policy.format(partition=ctx.partition)
                    if arn.endswith("/" + change.new):
                        calls.append(lambda arn=arn: iam.attach_role_policy(RoleName=name, PolicyArn=arn))
            elif change.attribute == EXEC_CHANGE:
                calls.append(partial(write_exec_policy, ctx, name))
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
        if calls and spec.settles and not stamped:  # the time first: a run dying between the two over-reports
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
        if calls and spec.settles:  # the latest change (the roles are made at once: IamStep.concurrent)
            ctx.facts["permissions_changed_at"] = max(ctx.clock(), ctx.facts.get("permissions_changed_at") or 0.0)

    def plan_destroy(self, ctx: Context) -> list[Action]:
        from .workloads import worker_service_refs

        actions = []
        n = ctx.names
        services = (service_ref(ctx), *worker_service_refs(ctx))  # every service that runs with them
        settling: list[float] = []  # found once: how long IAM may still hide a role the last run made
        for name in (n.execution_role, n.task_role, n.infrastructure_role):  # whatever the strategy now
            role = get_role(ctx, name)
            if role is None and name == n.infrastructure_role and not ctx.config.service.deploy.shifts_traffic:
                # only blue/green, linear and canary make it: with rolling, a missing one is not one IAM
                # may still hide (a destroy right after a rolling stack's create -- a preview's down
                # after its up -- would otherwise wait the whole bound for a role never made)
                continue
            if role is None:
                if not settling:
                    settling.append(unsettled_for(ctx))
                role = _readable(ctx, name, settling[0]) if settling[0] > 0 else None
            if role is None:
                continue
            if not ctx.names.owns(tag_dict(role.get("Tags"))):
                actions.append(foreign(ctx, "IAM role", name))
                continue
            # after the service: deleting its execution role first strands its tasks
            actions.append(Action("delete", "IAM role", name, "", run=partial(self._delete, ctx, name), after=services))
        return actions

    def _delete(self, ctx: Context, name: str) -> str:
        return delete_role(ctx, name)


def delete_role(ctx: Context, name: str) -> str:
    """Detach and delete a role's policies, then the role (the stack's roles, the jobs' roles)."""
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


# ECS Developer Guide, "Monitor Amazon ECS containers with ECS Exec" (IAM permissions required
# for ECS Exec): the task role lets the SSM agent in the task open its channels.
EXEC_CHANGE = "exec policy"
EXEC_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "EcsExec",
            "Effect": "Allow",
            "Action": [
                "ssmmessages:CreateControlChannel",
                "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel",
                "ssmmessages:OpenDataChannel",
            ],
            "Resource": "*",
        }
    ],
}


def exec_policy_changes(ctx: Context, name: str) -> list[Change]:
    """The task role's ECS Exec policy: present exactly when [service] exec = true."""
    with doing(f"read policies of IAM role {name}"):
        try:
            have = _doc(
                ctx.client("iam").get_role_policy(RoleName=name, PolicyName=ctx.names.exec_policy)["PolicyDocument"]
            )
        except Exception as exc:
            if not is_code(exc, "NoSuchEntity"):
                raise
            have = None
    want = EXEC_POLICY if ctx.config.service.exec else None
    if (have is None) == (want is None) and (want is None or _norm(have) == _norm(want)):
        return []
    return [Change(EXEC_CHANGE, "absent" if have is None else "present", "ssmmessages" if want else "absent")]


def write_exec_policy(ctx: Context, name: str) -> None:
    iam = ctx.client("iam")
    if ctx.config.service.exec:
        iam.put_role_policy(RoleName=name, PolicyName=ctx.names.exec_policy, PolicyDocument=json.dumps(EXEC_POLICY))
        return
    try:
        iam.delete_role_policy(RoleName=name, PolicyName=ctx.names.exec_policy)
    except Exception as exc:
        if not is_code(exc, "NoSuchEntity"):
            raise
