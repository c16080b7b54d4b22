"""Scheduled jobs (``[jobs.<name>]``): what runs them, as resources of the stack.

A job is an EventBridge Scheduler schedule ``Names.schedule(job)`` in the stack's schedule group
``Names.schedule_group`` whose target starts a Standard Step Functions state machine
``Names.workload(job)``; the state machine runs one task of the job's own task definition family
``Names.workload(job)`` with ``arn:aws:states:::ecs:runTask.sync`` and waits for it to stop:

* the Run state: the stack's cluster, subnets, tasks' security group and public-IP setting, the
  job's capacity (a capacity provider strategy, else launch type FARGATE), platform LATEST,
  ``StartedBy = "ecsup-job/<job>"``, the stack's tags and ``ecsup:job``, PropagateTags
  TASK_DEFINITION, ``TimeoutSeconds = timeout`` (Step Functions stops the task when it passes),
  ``ResultPath = "$.task"``;
* a Choice on ``$.task.Containers[0].ExitCode``: 0 -> a Succeed state; otherwise a Fail state with
  ``"Error": "NonZeroExit"`` and ``"CausePath": "States.Format('exit code {}', $.task.Containers[0].ExitCode)"``.

What really happens on AWS (the Choice and the Fail state are the contract's, kept as a guard: on
AWS they are reached with exit 0 only):

* a non-zero exit: runTask.sync itself fails the Run state with ``States.TaskFailed``, the task's
  description (its containers' ExitCode) as the cause; the execution ends FAILED there and the
  Choice is never reached (aws/copilot-cli#3160; wellcomecollection/catalogue-pipeline#3377: ".sync
  treats any non-zero container exit code as a failure");
* a run past ``timeout``: the Run state's own TimeoutSeconds fails it with ``States.Timeout``, Step
  Functions stops the task, and the execution ends FAILED (TIMED_OUT is only for an execution's
  own TimeoutSeconds, which ecsup does not set);
* a task that could not start: ``States.TaskFailed`` (its stoppedReason) or an ECS error (RunTask
  refused): FAILED.

``status`` reads each of them as ecsup/jobs_status.py says (exit N, timed out, could not start),
whichever of the two shapes a run ended with. Every failed run is a failed execution that Step
Functions keeps listed for 90 days (what `status` reads), and counts in the state machine's own
metrics: AWS/States ExecutionsFailed counts all of the above (non-zero exit, timeout, could not
start); ExecutionsTimedOut (an execution's own timeout) and ExecutionsAborted (StopExecution) are
alarmed on too (``[jobs.<name>] alarm`` / ``notify``).

Two roles: ``Names.jobs_role``, which the state machines run with (trusted by
states.amazonaws.com), and ``Names.scheduler_role``, which the schedules start them with
(trusted by scheduler.amazonaws.com). Both trust policies admit only this account
(``aws:SourceAccount``: the Step Functions and EventBridge Scheduler guides' "confused deputy
prevention" pages).

Schedules carry no tags (EventBridge Scheduler tags groups only): a schedule is the stack's when
it is in the stack's group and the group carries the stack's tags. A job removed from ecsup.toml
is found through the group's schedules; its alarm, state machine and family go first, its
schedule last (the key that finds the rest again after a crash).
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from .. import waiting
from ..context import Context
from ..errors import OwnershipConflict, doing, is_code
from ..names import tag_dict
from ..plan import KNOWN_AFTER_APPLY, Action, Change
from ..workloads import JOB_STARTED_BY_PREFIX, JobConfig
from . import Step, check_owner, foreign, resolve
from .ecs import _effective, ecs_tags, eventually_consistent, plan_family_deletion, settled_image
from .iam import _doc, _norm, delete_role, get_role, role_arn, trust
from .workloads import workload_task_definition

JOB_TAG = "ecsup:job"  # on each job's state machine, alarm and tasks: which job
# on a job's revision made by create with the job's own ``image``: that image (a job that follows
# the service's image again takes the web service's, not this one)
OWN_IMAGE_TAG = "ecsup:own-image"
STARTED_BY_PREFIX = JOB_STARTED_BY_PREFIX  # at most 36 characters with the job's name (workloads.JOB_NAME_LIMIT)
RUN_STATE = "Run"
EXIT_STATE = "Exit code"
SUCCEEDED_STATE = "Succeeded"
FAILED_STATE = "Failed"
NON_ZERO_EXIT = "NonZeroExit"
# The schedule's retries of its own StartExecution call (throttling, a state machine being updated):
# a few, within an hour; a run's failures are the state machine's, never retried by the schedule.
RETRY_ATTEMPTS = 2
MAX_EVENT_AGE = 3600
ALARM_PERIOD = 300
# ExecutionsFailed counts a non-zero exit (States.TaskFailed), a run past its timeout (States.Timeout:
# FAILED, not TIMED_OUT) and a task that could not start; the two others, an execution's own timeout
# and a StopExecution
FAILURE_METRICS = ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted")
ROLE_POLICY = "ecsup-jobs"

# "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to
# assume the provided role." (AccessDeniedException at CreateStateMachine / UpdateStateMachine for a
# role IAM has not propagated yet: terraform-provider-aws retries CreateStateMachine on
# AccessDeniedException, internal/service/sfn/state_machine.go). AWS gives only message text here.
STATES_CANNOT_ASSUME = "is authorized to assume the provided role"
# "AccessDeniedException: 'arn:aws:iam::...:role/<role>' is not authorized to create managed-rule."
# (CreateStateMachine / UpdateStateMachine of a .sync integration whose role's events:PutRule on the
# StepFunctionsGetEventsForECSTaskRule is not in effect yet: the policy is put moments before;
# terraform-aws-modules/terraform-aws-step-functions#11 and #41, nasa/cumulus#2693). The jobs' role
# allows it (jobs_role_policy, TaskStateEvents): until IAM has propagated that, retried.
STATES_CANNOT_CREATE_RULE = "is not authorized to create managed-rule"
# "ValidationException: The execution role you provide must allow AWS EventBridge Scheduler to
# assume the role." (CreateSchedule / UpdateSchedule, same cause: terraform-provider-aws
# internal/service/scheduler retryWhenIAMNotPropagated, 2 minutes).
SCHEDULER_CANNOT_ASSUME = "must allow AWS EventBridge Scheduler to assume the role"


def started_by(job: str) -> str:
    return f"{STARTED_BY_PREFIX}{job}"


def _message(exc: BaseException) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Message", ""))


def states_role_not_ready(exc: BaseException) -> bool:
    message = _message(exc)
    return is_code(exc, "AccessDeniedException") and (
        STATES_CANNOT_ASSUME in message or STATES_CANNOT_CREATE_RULE in message
    )


def scheduler_role_not_ready(exc: BaseException) -> bool:
    return is_code(exc, "ValidationException") and SCHEDULER_CANNOT_ASSUME in _message(exc)


# -- ARNs ------------------------------------------------------------------------------------
def _arn(ctx: Context, service: str, resource: str) -> str:
    return f"arn:{ctx.partition}:{service}:{ctx.region}:{ctx.account_id}:{resource}"


def cluster_arn(ctx: Context) -> str:
    return _arn(ctx, "ecs", f"cluster/{ctx.names.cluster}")


def state_machine_arn(ctx: Context, job: str) -> str:
    return _arn(ctx, "states", f"stateMachine:{ctx.names.workload(job)}")


def family_revisions_arn(ctx: Context, job: str) -> str:
    return _arn(ctx, "ecs", f"task-definition/{ctx.names.workload(job)}:*")


def schedule_group_arn(ctx: Context) -> str:
    return _arn(ctx, "scheduler", f"schedule-group/{ctx.names.schedule_group}")


# Step Functions Developer Guide, "IAM policies for Amazon ECS/AWS Fargate", Run a Job (.sync): the
# integration watches the task through this EventBridge managed rule.
ECS_EVENTS_RULE = "StepFunctionsGetEventsForECSTaskRule"


# -- the roles --------------------------------------------------------------------------------
def jobs_role_policy(ctx: Context, jobs: tuple[JobConfig, ...]) -> dict[str, Any]:
    """What a job's state machine does (Step Functions Developer Guide, "IAM policies for Amazon
    ECS/AWS Fargate", Run a Job (.sync), static resources): RunTask of the jobs' families on the
    stack's cluster; StopTask (a run past its timeout) and DescribeTasks (the wait) on the cluster's
    tasks; the EventBridge managed rule through which runTask.sync learns that a task stopped;
    PassRole of the stack's task and execution roles to ECS tasks. And ecs:TagResource for the tags
    RunTask is given, on creation only: ECS authorizes tags given to RunTask as a TagResource (ECS
    Developer Guide, "Grant permission to tag resources on creation")."""
    cluster = cluster_arn(ctx)
    on_cluster = {"ArnEquals": {"ecs:cluster": cluster}}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RunJobTasks",
                "Effect": "Allow",
                "Action": "ecs:RunTask",
                "Resource": sorted(family_revisions_arn(ctx, job.name) for job in jobs),
                "Condition": on_cluster,
            },
            {
                "Sid": "TagJobTasks",
                "Effect": "Allow",
                "Action": "ecs:TagResource",
                "Resource": _arn(ctx, "ecs", f"task/{ctx.names.cluster}/*"),
                "Condition": {"StringEquals": {"ecs:CreateAction": "RunTask"}},
            },
            {
                "Sid": "WatchJobTasks",
                "Effect": "Allow",
                "Action": ["ecs:StopTask", "ecs:DescribeTasks"],
                "Resource": "*",
                "Condition": on_cluster,
            },
            {
                "Sid": "TaskStateEvents",
                "Effect": "Allow",
                "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                "Resource": _arn(ctx, "events", f"rule/{ECS_EVENTS_RULE}"),
            },
            {
                "Sid": "PassTaskRoles",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": [role_arn(ctx, ctx.names.execution_role), role_arn(ctx, ctx.names.task_role)],
                "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            },
        ],
    }


def scheduler_role_policy(ctx: Context, jobs: tuple[JobConfig, ...]) -> dict[str, Any]:
    """What the schedules do: start the jobs' state machines, nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "StartJobs",
                "Effect": "Allow",
                "Action": "states:StartExecution",
                "Resource": sorted(state_machine_arn(ctx, job.name) for job in jobs),
            }
        ],
    }


def role_trust(ctx: Context, principal: str) -> dict[str, Any]:
    doc = trust(principal)
    doc["Statement"][0]["Condition"] = {"StringEquals": {"aws:SourceAccount": ctx.account_id}}
    return doc


def role_specs(ctx: Context, jobs: tuple[JobConfig, ...]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(name, what it is for, the principal that assumes it, its inline policy)."""
    return [
        (
            ctx.names.jobs_role,
            "Step Functions: runs the jobs' tasks",
            "states.amazonaws.com",
            jobs_role_policy(ctx, jobs),
        ),
        (
            ctx.names.scheduler_role,
            "EventBridge Scheduler: starts the jobs' state machines",
            "scheduler.amazonaws.com",
            scheduler_role_policy(ctx, jobs),
        ),
    ]


def _inline(ctx: Context, name: str) -> Any:
    with doing(f"read the policy of IAM role {name}"):
        try:
            return _doc(ctx.client("iam").get_role_policy(RoleName=name, PolicyName=ROLE_POLICY)["PolicyDocument"])
        except Exception as exc:
            if is_code(exc, "NoSuchEntity"):
                return None
            raise


class JobRolesStep(Step):
    """The jobs' two roles, made early so that IAM has propagated them by the time the state
    machines and schedules that name them are created. Only with jobs configured; a stack whose
    last job was removed loses them in JobsStep, after the schedules and state machines."""

    title = "jobs' roles"
    # beside the stack's roles: the policy names them (PassRole) and the state machines, which IAM
    # takes before they exist; the account id of every ARN is what the parameters' ARNs gave
    reads = ()
    plan_reads = ("parameter_arns",)
    provides = ("jobs_roles_changed_at",)  # and the roles: what names them settles after this (settle_roles)
    concurrent = True  # one role each
    after = ("CertificateStep",)  # the two longest waits start first (as IamStep)

    def plan(self, ctx: Context) -> list[Action]:
        jobs = ctx.config.jobs
        if not jobs:
            return []
        items: list[Action | Any] = [partial(self._observe, ctx, *spec) for spec in role_specs(ctx, jobs)]
        return [a for a in resolve(ctx, items) if a.kind != "skip"]

    def _observe(self, ctx: Context, name: str, what: str, principal: str, policy: dict[str, Any]) -> Action:
        role = get_role(ctx, name)
        run = partial(self._converge, ctx, name, what, principal, policy)
        if role is None:
            return Action("create", "IAM role", name, what, run=partial(run, True))
        if not check_owner(ctx, "IAM role", name, tag_dict(role.get("Tags"))):
            return Action("skip", "IAM role", name)
        changes = []
        if _norm(_doc(role.get("AssumeRolePolicyDocument"))) != _norm(role_trust(ctx, principal)):
            changes.append(Change("trust policy", "other", f"{principal} from this account only"))
        have = _inline(ctx, name)
        if have is None or _norm(have) != _norm(policy):
            changes.append(Change("inline policy", "absent" if have is None else "other", _policy_summary(policy)))
        if changes:
            return Action("update", "IAM role", name, what, changes, run=partial(run, False))
        return Action("noop", "IAM role", name, role["Arn"])

    def _converge(
        self, ctx: Context, name: str, what: str, principal: str, policy: dict[str, Any], create: bool
    ) -> str:
        iam = ctx.client("iam")
        doc = json.dumps(role_trust(ctx, principal))
        created = False
        with doing(f"configure IAM role {name}"):
            if create:
                try:
                    iam.create_role(
                        RoleName=name,
                        AssumeRolePolicyDocument=doc,
                        Description=f"ecsup {ctx.names.stack} {what}"[:1000],
                        Tags=ctx.names.tag_list(),
                    )
                    created = True
                except Exception as exc:
                    if not is_code(exc, "EntityAlreadyExists"):
                        raise
            if not created:  # a run that died after CreateRole left it: it may not be readable yet
                role = waiting.retry(
                    ctx,
                    f"IAM role {name} to be readable",
                    lambda: iam.get_role(RoleName=name)["Role"],
                    lambda e: is_code(e, "NoSuchEntity"),
                    ctx.timeouts.propagation,
                )
                if not ctx.names.owns(tag_dict(role.get("Tags"))):
                    raise OwnershipConflict(
                        f"IAM role {name!r} exists but does not carry ecsup's tags for app={ctx.names.app}, "
                        f"env={ctx.names.env}",
                        hint="rename or remove the other role, or pick another app/env",
                    )
                if _norm(_doc(role.get("AssumeRolePolicyDocument"))) != _norm(json.loads(doc)):
                    iam.update_assume_role_policy(RoleName=name, PolicyDocument=doc)
            waiting.retry(  # IAM may not know a role created a moment ago (NoSuchEntity)
                ctx,
                f"IAM role {name} to be known to IAM",
                lambda: iam.put_role_policy(RoleName=name, PolicyName=ROLE_POLICY, PolicyDocument=json.dumps(policy)),
                lambda e: is_code(e, "NoSuchEntity"),
                ctx.timeouts.propagation,
            )
        # Step Functions and EventBridge Scheduler refuse a role they cannot assume yet: what names
        # it waits for the change to settle first (JobsStep), then retries
        ctx.facts["jobs_roles_changed_at"] = ctx.clock()
        return "created" if created else "updated"


def _policy_summary(policy: dict[str, Any]) -> str:
    actions = sorted(
        {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    )
    return ", ".join(actions)


def settle_roles(ctx: Context) -> None:
    """Before a call that makes Step Functions or EventBridge Scheduler assume a role this run just
    created or changed: let IAM apply it (the project's settle: waiting.settle, ctx.timeouts.iam_settle)."""
    changed = ctx.facts.get("jobs_roles_changed_at")
    if changed is not None:
        waiting.settle(ctx, "IAM to apply the jobs' roles", changed + ctx.timeouts.iam_settle)


# -- the state machine's definition -------------------------------------------------------------
def job_image(ctx: Context, job: JobConfig, named: tuple[dict[str, Any], dict[str, str]] | None = None) -> str:
    """The image create gives the job: its own ``image``; else, for a job that follows the web
    service's image, the image of the revision its state machine names (``named``, with its tags:
    a release moves it, once the release succeeded) -- unless [service] image changed in ecsup.toml
    since create last applied it, then the one the web service is given (TaskDefinitionStep's,
    ServiceStep deploys it before the jobs move), or the job had an image of its own until now
    (its revision's OWN_IMAGE_TAG). A job with no revision yet starts with the image the web service
    runs outside a release (ecs.settled_image): never an unfinished release's, which a `create`
    run while it is under way would otherwise read."""
    if job.image:
        return job.image
    if named is not None and not ctx.facts.get("service_image_applied"):
        td, tags = named
        image = next((c.get("image") for c in td.get("containerDefinitions", []) if c.get("name") == job.name), None)
        if image and tags.get(OWN_IMAGE_TAG) != image:
            return str(image)
    return settled_image(ctx)


def definition(ctx: Context, job: JobConfig, task_definition: str) -> dict[str, Any]:
    """The state machine's Amazon States Language definition (module docstring); values known only
    once this create has made them read KNOWN_AFTER_APPLY."""
    tags = [{"Key": k, "Value": v} for k, v in dict(ctx.names.tags(), **{JOB_TAG: job.name}).items()]
    parameters: dict[str, Any] = {
        "Cluster": cluster_arn(ctx),
        "TaskDefinition": task_definition,
        "PlatformVersion": "LATEST",
        "NetworkConfiguration": {
            "AwsvpcConfiguration": {
                "Subnets": list(ctx.facts.get("subnets") or [KNOWN_AFTER_APPLY]),
                "SecurityGroups": [ctx.facts.get("sg_tasks") or KNOWN_AFTER_APPLY],
                "AssignPublicIp": ctx.config.network.task_public_ip,
            }
        },
        "StartedBy": started_by(job.name),
        "PropagateTags": "TASK_DEFINITION",
        "EnableECSManagedTags": True,
        "Tags": tags,
    }
    strategy = job.capacity_provider_strategy
    if strategy:
        parameters["CapacityProviderStrategy"] = [
            {"CapacityProvider": s["capacityProvider"], "Weight": s["weight"], "Base": s["base"]} for s in strategy
        ]
    else:
        parameters["LaunchType"] = "FARGATE"
    exit_code = "$.task.Containers[0].ExitCode"
    return {
        "Comment": f"ecsup job {job.name} of {ctx.names.stack}: runs one task of {ctx.names.workload(job.name)}",
        "StartAt": RUN_STATE,
        "States": {
            RUN_STATE: {
                "Type": "Task",
                "Resource": f"arn:{ctx.partition}:states:::ecs:runTask.sync",
                "Parameters": parameters,
                # past it: States.Timeout, the task stopped, the execution FAILED (not TIMED_OUT)
                "TimeoutSeconds": job.timeout,
                "ResultPath": "$.task",
                "Next": EXIT_STATE,
            },
            # a non-zero exit never gets here on AWS (runTask.sync fails the Run state with
            # States.TaskFailed first, module docstring): reached with exit 0, a guard otherwise
            EXIT_STATE: {
                "Type": "Choice",
                "Choices": [{"Variable": exit_code, "NumericEquals": 0, "Next": SUCCEEDED_STATE}],
                "Default": FAILED_STATE,
            },
            SUCCEEDED_STATE: {"Type": "Succeed"},
            FAILED_STATE: {
                "Type": "Fail",
                "Error": NON_ZERO_EXIT,
                "CausePath": f"States.Format('exit code {{}}', {exit_code})",
            },
        },
    }


def _view(doc: Any) -> dict[str, str]:
    """What a definition sets, attribute by attribute (for the plan's lines)."""
    try:
        run = doc["States"][RUN_STATE]
        params = run["Parameters"]
        net = params.get("NetworkConfiguration", {}).get("AwsvpcConfiguration", {})
    except (KeyError, TypeError):
        return {"definition": "another definition"}
    capacity = params.get("CapacityProviderStrategy")
    return {
        "task definition": str(params.get("TaskDefinition", "-")).split("/")[-1],
        "timeout": str(run.get("TimeoutSeconds", "-")),
        "cluster": str(params.get("Cluster", "-")).split("/")[-1],
        "subnets": ", ".join(net.get("Subnets") or []) or "-",
        "security group": ", ".join(net.get("SecurityGroups") or []) or "-",
        "public IP": str(net.get("AssignPublicIp", "-")),
        "capacity": ", ".join(f"{c['CapacityProvider']} {c['Weight']}/{c['Base']}" for c in capacity)
        if capacity
        else str(params.get("LaunchType", "-")),
        "started by": str(params.get("StartedBy", "-")),
    }


def definition_changes(have: Any, want: dict[str, Any]) -> list[Change]:
    if have == want:
        return []
    old, new = _view(have), _view(want)
    changes = [Change(k, old.get(k, "-"), new[k]) for k in new if old.get(k) != new[k]]
    return changes or [Change("definition", "other", "as configured")]


# -- reads --------------------------------------------------------------------------------------
def get_schedule_group(ctx: Context) -> dict[str, Any] | None:
    with doing(f"look up schedule group {ctx.names.schedule_group}"):
        try:
            return dict(ctx.client("scheduler").get_schedule_group(Name=ctx.names.schedule_group))
        except Exception as exc:
            if is_code(exc, "ResourceNotFoundException"):
                return None
            raise


def group_tags(ctx: Context, arn: str) -> dict[str, str]:
    with doing(f"read the tags of schedule group {ctx.names.schedule_group}"):
        return tag_dict(ctx.client("scheduler").list_tags_for_resource(ResourceArn=arn).get("Tags"))


def group_schedules(ctx: Context) -> list[str]:
    """The names of the schedules in the stack's group (every page)."""
    with doing(f"list the schedules of group {ctx.names.schedule_group}"):
        pages = ctx.client("scheduler").get_paginator("list_schedules").paginate(GroupName=ctx.names.schedule_group)
        return sorted(s["Name"] for page in pages for s in page.get("Schedules", []))


def get_schedule(ctx: Context, job: str) -> dict[str, Any] | None:
    name = ctx.names.schedule(job)
    with doing(f"look up schedule {name}"):
        try:
            return dict(ctx.client("scheduler").get_schedule(Name=name, GroupName=ctx.names.schedule_group))
        except Exception as exc:
            if is_code(exc, "ResourceNotFoundException"):
                return None
            raise


def describe_state_machine(ctx: Context, job: str) -> dict[str, Any] | None:
    """The job's state machine (not one being deleted)."""
    sfn = ctx.client("stepfunctions")
    with doing(f"look up state machine {ctx.names.workload(job)}"):
        try:
            found = dict(sfn.describe_state_machine(stateMachineArn=state_machine_arn(ctx, job)))
        except Exception as exc:
            if is_code(exc, "StateMachineDoesNotExist"):
                return None
            raise
    return None if found.get("status") == "DELETING" else found


def get_state_machine(ctx: Context, job: str) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The job's state machine (not one being deleted) and its tags."""
    found = describe_state_machine(ctx, job)
    if found is None:
        return None
    with doing(f"look up state machine {ctx.names.workload(job)}"):
        tags = ctx.client("stepfunctions").list_tags_for_resource(resourceArn=found["stateMachineArn"]).get("tags")
    return found, tag_dict(tags, "key", "value")


def _describe_td(ctx: Context, ref: str) -> tuple[dict[str, Any], dict[str, str]] | None:
    with doing(f"look up task definition {ref.split('/')[-1]}"):
        try:
            resp = ctx.client("ecs").describe_task_definition(taskDefinition=ref, include=["TAGS"])
        except Exception as exc:
            if is_code(exc, "ClientException"):  # no active revision in the family
                return None
            raise
    return dict(resp["taskDefinition"]), tag_dict(resp.get("tags"), "key", "value")


def referenced_task_definition(found: dict[str, Any] | None) -> str | None:
    """The task definition a state machine's Run state names."""
    if found is None:
        return None
    try:
        return str(json.loads(found["definition"])["States"][RUN_STATE]["Parameters"]["TaskDefinition"])
    except (KeyError, TypeError, ValueError):
        return None


def _comparable(td: dict[str, Any]) -> dict[str, Any]:
    """ecs._effective plus what a workload's container sets besides the web's (its command)."""
    out = _effective(td)
    for container, found in zip(out["containers"], td.get("containerDefinitions", []), strict=False):
        container["command"] = list(found.get("command") or [])
    return out


def _td_changes(have: dict[str, Any], want: dict[str, Any]) -> list[Change]:
    old, new = _comparable(have), _comparable(want)
    changes = []
    for key in new:
        if key == "containers":
            for hc, wc in zip(old[key] or [{}], new[key], strict=False):
                for k in wc:
                    if hc.get(k) != wc[k]:
                        shown = [x[0] for x in wc[k]] if k == "secrets" else wc[k]
                        was = [x[0] for x in hc.get(k) or []] if k == "secrets" else hc.get(k)
                        changes.append(Change(k if k != "secrets" else "secrets (names)", str(was), str(shown)))
        elif old.get(key) != new[key]:
            changes.append(Change(key, str(old.get(key)), str(new[key])))
    return changes


# -- alarms ---------------------------------------------------------------------------------------
def alarm_body(ctx: Context, job: JobConfig) -> dict[str, Any]:
    """PutMetricAlarm's arguments (tags aside): a failed, timed-out or aborted run of the job's state
    machine in a period (its own metrics, AWS/States by StateMachineArn; published only when non-zero,
    so each is FILLed with 0 and no data is not breaching)."""
    dims = [{"Name": "StateMachineArn", "Value": state_machine_arn(ctx, job.name)}]
    metrics: list[dict[str, Any]] = [
        {
            "Id": f"m{i}",
            "MetricStat": {
                "Metric": {"Namespace": "AWS/States", "MetricName": name, "Dimensions": dims},
                "Period": ALARM_PERIOD,
                "Stat": "Sum",
            },
            "ReturnData": False,
        }
        for i, name in enumerate(FAILURE_METRICS, 1)
    ]
    metrics.append(
        {
            "Id": "failed",
            "Expression": " + ".join(f"FILL(m{i},0)" for i in range(1, len(FAILURE_METRICS) + 1)),
            "Label": "failed, timed-out and aborted runs",
            "ReturnData": True,
        }
    )
    actions = [job.notify] if job.notify else []
    return {
        "AlarmDescription": f"ecsup: a run of job {job.name} of {ctx.names.stack} failed (non-zero exit, "
        "could not start, timed out or was stopped)",
        "Metrics": metrics,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "TreatMissingData": "notBreaching",
        "ActionsEnabled": bool(actions),
        "AlarmActions": actions,
        "OKActions": actions,
    }


def alarm_changes(have: dict[str, Any], want: dict[str, Any]) -> list[Change]:
    from .alarms import differences

    changes = [c for c in differences(have, want) if c.attribute != "measures"]
    for key in ("AlarmActions", "OKActions"):
        if sorted(have.get(key) or []) != sorted(want[key]):
            changes.append(Change(key, ", ".join(have.get(key) or []) or "-", ", ".join(want[key]) or "-"))
    return changes


def _alarm_tags(ctx: Context, arn: str) -> dict[str, str]:
    with doing(f"read the tags of alarm {arn.split(':')[-1]}"):
        return tag_dict(ctx.client("cloudwatch").list_tags_for_resource(ResourceARN=arn).get("Tags"))


def put_alarm(ctx: Context, job: JobConfig) -> str:
    name = ctx.names.job_alarm(job.name)
    tags = [{"Key": k, "Value": v} for k, v in dict(ctx.names.tags(), **{JOB_TAG: job.name}).items()]
    with doing(f"put CloudWatch alarm {name}"):
        ctx.client("cloudwatch").put_metric_alarm(AlarmName=name, Tags=tags, **alarm_body(ctx, job))
    return "notifies " + job.notify if job.notify else "no notification"


def delete_alarm(ctx: Context, name: str) -> str:
    with doing(f"delete CloudWatch alarm {name}"):
        try:
            ctx.client("cloudwatch").delete_alarms(AlarmNames=[name])
        except Exception as exc:
            if is_code(exc, "ResourceNotFound"):
                return "already gone"
            raise
    return "deleted"


# -- schedules ----------------------------------------------------------------------------------
def schedule_body(ctx: Context, job: JobConfig) -> dict[str, Any]:
    """CreateSchedule's / UpdateSchedule's arguments but the name and group."""
    return {
        "ScheduleExpression": job.schedule,
        "ScheduleExpressionTimezone": job.timezone,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED",
        "Description": f"ecsup job {job.name} of {ctx.names.stack}",
        "Target": {
            "Arn": state_machine_arn(ctx, job.name),
            "RoleArn": role_arn(ctx, ctx.names.scheduler_role),
            "Input": "{}",
            "RetryPolicy": {"MaximumRetryAttempts": RETRY_ATTEMPTS, "MaximumEventAgeInSeconds": MAX_EVENT_AGE},
        },
    }


def _schedule_view(body: dict[str, Any]) -> dict[str, str]:
    target = body.get("Target") or {}
    retry = target.get("RetryPolicy") or {}
    return {
        "expression": str(body.get("ScheduleExpression")),
        "timezone": str(body.get("ScheduleExpressionTimezone") or "UTC"),
        "state": str(body.get("State")),
        "flexible window": str((body.get("FlexibleTimeWindow") or {}).get("Mode")),
        "target": str(target.get("Arn")).split(":")[-1],
        "role": str(target.get("RoleArn")).split("/")[-1],
        "input": str(target.get("Input")),
        "retries": f"{retry.get('MaximumRetryAttempts')} within {retry.get('MaximumEventAgeInSeconds')}s",
    }


def schedule_changes(have: dict[str, Any], want: dict[str, Any]) -> list[Change]:
    old, new = _schedule_view(have), _schedule_view(want)
    return [Change(k, old[k], new[k]) for k in new if old[k] != new[k]]


def delete_schedule(ctx: Context, name: str) -> str:
    with doing(f"delete schedule {name}"):
        try:
            ctx.client("scheduler").delete_schedule(Name=name, GroupName=ctx.names.schedule_group)
        except Exception as exc:
            if is_code(exc, "ResourceNotFoundException"):
                return "already gone"
            raise
    return "deleted"


def delete_state_machine(ctx: Context, job: str) -> str:
    """DeleteStateMachine: the state machine is DELETING until its running executions end (Step
    Functions stops their tasks), then gone."""
    with doing(f"delete state machine {ctx.names.workload(job)}"):
        try:
            ctx.client("stepfunctions").delete_state_machine(stateMachineArn=state_machine_arn(ctx, job))
        except Exception as exc:
            if is_code(exc, "StateMachineDoesNotExist"):
                return "already gone"
            raise
    return "deleted"


def _job_of(ctx: Context, schedule: str) -> str | None:
    prefix = ctx.names.stack + "-"
    return schedule[len(prefix) :] if schedule.startswith(prefix) and len(schedule) > len(prefix) else None


# -- the step ---------------------------------------------------------------------------------------
class JobsStep(Step):
    """Each job's family revision, state machine, schedule and alarm; the schedule group; what a
    removed job left; the roles and the group once no job is left."""

    title = "scheduled jobs"
    # what the families, state machines and schedules name: the image the web service runs after
    # this run (job_image), the stack's roles and parameters, the tasks' network, the cluster, the
    # log group the runs write to, the jobs' roles (settle_roles)
    reads = (
        "image",
        "task_role_arn",
        "execution_role_arn",
        "parameter_arns",
        "subnets",
        "sg_tasks",
        "cluster_arn",
        "log_group",
        "jobs_roles_changed_at",
    )
    # applied once the web service's step is: a job that follows its image moves to a new one only
    # once the web service's release of it succeeded (planned beside it, though)
    apply_reads = ("service",)
    provides = ("job_task_definitions",)

    def plan(self, ctx: Context) -> list[Action]:
        jobs = ctx.config.jobs
        group = get_schedule_group(ctx)
        name = ctx.names.schedule_group
        if group is not None and not check_owner(ctx, "schedule group", name, group_tags(ctx, group["Arn"])):
            return []
        active = group is not None and group.get("State", "ACTIVE") == "ACTIVE"
        if not jobs and not active:  # no job, and no group (or one being deleted): nothing of jobs
            return []
        ctx.facts.setdefault("job_task_definitions", {})
        ctx.facts.setdefault("job_images", {})
        actions: list[Action] = []
        if jobs and not active:
            detail = "the previous one is still being deleted: wait, then create" if group else "tagged as the stack's"
            actions.append(Action("create", "schedule group", name, detail, run=partial(self._create_group, ctx)))
        scheduled = group_schedules(ctx) if active else []
        observed = ctx.in_parallel({i: partial(self._observe_job, ctx, job, active) for i, job in enumerate(jobs)})
        for _, error in observed.values():
            if error is not None:
                raise error
        for i in range(len(jobs)):
            actions += observed[i][0] or []
        configured = {job.name for job in jobs}
        for schedule in scheduled:
            job = _job_of(ctx, schedule)
            if job is not None and job not in configured:
                actions += self._removal(ctx, job, schedule)
        if not jobs:  # the last job went: its roles and the group go too, once the rest is gone
            removals = tuple(a.ref for a in actions if a.kind == "delete")
            for role in (ctx.names.jobs_role, ctx.names.scheduler_role):
                found = get_role(ctx, role)
                if found is not None and check_owner(ctx, "IAM role", role, tag_dict(found.get("Tags"))):
                    run = partial(delete_role, ctx, role)
                    actions.append(Action("delete", "IAM role", role, "no job left", run=run, after=removals))
            everything = tuple(a.ref for a in actions if a.kind == "delete")
            run = partial(self._delete_group, ctx)
            actions.append(Action("delete", "schedule group", name, "no job left", run=run, after=everything))
        if active and jobs and group is not None:
            actions.insert(0, Action("noop", "schedule group", name, group["Arn"]))
        return actions

    # -- one configured job ------------------------------------------------------------------
    def _observe_job(self, ctx: Context, job: JobConfig, group_active: bool) -> list[Action]:
        reads: dict[str, Any] = {
            "machine": partial(get_state_machine, ctx, job.name),
            "latest": partial(_describe_td, ctx, ctx.names.workload(job.name)),
            "schedule": (partial(get_schedule, ctx, job.name) if group_active else lambda: None),
            "alarm": partial(self._alarm, ctx, job),
        }
        found = ctx.in_parallel(reads)
        for _, error in found.values():
            if error is not None:
                raise error
        machine, latest, schedule, alarm = (found[k][0] for k in ("machine", "latest", "schedule", "alarm"))
        actions = [
            *self._family(ctx, job, machine, latest),
            *self._machine(ctx, job, machine),
            *self._schedule(ctx, job, schedule),
            *self._alarm_actions(ctx, job, alarm),
        ]
        return actions

    def _family(
        self,
        ctx: Context,
        job: JobConfig,
        machine: tuple[dict[str, Any], dict[str, str]] | None,
        latest: tuple[dict[str, Any], dict[str, str]] | None,
    ) -> list[Action]:
        family = ctx.names.workload(job.name)
        named = latest  # what the schedule runs: the revision the state machine names
        referenced = referenced_task_definition(machine[0] if machine else None)
        if latest is not None and referenced and referenced != latest[0]["taskDefinitionArn"]:
            found = _describe_td(ctx, referenced)
            if found is not None and found[0].get("family") == family:
                named = found
        image = job_image(ctx, job, named if machine is not None else None)
        ctx.facts.setdefault("job_images", {})[job.name] = image
        want = workload_task_definition(ctx, job, image)
        register = partial(self._register, ctx, job)
        if latest is None:
            return [
                Action(
                    "create",
                    "task definition",
                    family,
                    f"{image}, cpu {want['cpu']}/{want['memory']} MiB",
                    run=register,
                )
            ]
        td, tags = latest
        if not check_owner(ctx, "task definition", f"{family}:{td['revision']}", tags):
            return []
        current = named[0] if named is not None else td  # what the schedule runs: compare with it
        changes = _td_changes(current, want)
        if not changes:
            ctx.facts["job_task_definitions"][job.name] = current["taskDefinitionArn"]
            return [Action("noop", "task definition", f"{family}:{current['revision']}", image)]
        return [
            Action("create", "task definition", f"{family}:{td['revision'] + 1}", "new revision", changes, run=register)
        ]

    def _register(self, ctx: Context, job: JobConfig) -> str:
        ecs = ctx.client("ecs")
        image = ctx.facts.get("job_images", {}).get(job.name) or job_image(ctx, job)
        want = workload_task_definition(ctx, job, image)
        tags = ecs_tags(ctx, {JOB_TAG: job.name, **({OWN_IMAGE_TAG: job.image} if job.image else {})})
        with doing(f"register task definition {want['family']}"):
            td = waiting.retry(
                ctx,
                "the new IAM roles to be usable by ECS",
                lambda: ecs.register_task_definition(**want, tags=tags),
                eventually_consistent,
                ctx.timeouts.propagation,
            )["taskDefinition"]
        ctx.facts["job_task_definitions"][job.name] = td["taskDefinitionArn"]
        return f"revision {td['revision']}"

    def _task_definition(self, ctx: Context, job: JobConfig) -> str:
        return str(ctx.facts["job_task_definitions"].get(job.name) or KNOWN_AFTER_APPLY)

    def _machine(
        self, ctx: Context, job: JobConfig, machine: tuple[dict[str, Any], dict[str, str]] | None
    ) -> list[Action]:
        name = ctx.names.workload(job.name)
        want = definition(ctx, job, self._task_definition(ctx, job))
        if machine is None:
            return [
                Action(
                    "create",
                    "state machine",
                    name,
                    f"Standard, runs {name} with a {job.timeout}s timeout",
                    run=partial(self._create_machine, ctx, job),
                )
            ]
        found, tags = machine
        if not check_owner(ctx, "state machine", name, tags):
            return []
        changes = []
        if found.get("roleArn") != role_arn(ctx, ctx.names.jobs_role):
            changes.append(Change("role", str(found.get("roleArn")).split("/")[-1], ctx.names.jobs_role))
        try:
            have = json.loads(found.get("definition") or "")
        except ValueError:
            have = None
        changes += definition_changes(have, want)
        if changes:
            return [Action("update", "state machine", name, "", changes, run=partial(self._update_machine, ctx, job))]
        return [Action("noop", "state machine", name, f"runs {_view(have)['task definition']}")]

    def _create_machine(self, ctx: Context, job: JobConfig) -> str:
        sfn = ctx.client("stepfunctions")
        tags = [{"key": k, "value": v} for k, v in dict(ctx.names.tags(), **{JOB_TAG: job.name}).items()]
        doc = json.dumps(definition(ctx, job, self._task_definition(ctx, job)))
        settle_roles(ctx)
        with doing(f"create state machine {ctx.names.workload(job.name)}"):
            arn = waiting.retry(
                ctx,
                "Step Functions to be able to assume the jobs' role",
                lambda: sfn.create_state_machine(
                    name=ctx.names.workload(job.name),
                    definition=doc,
                    roleArn=role_arn(ctx, ctx.names.jobs_role),
                    type="STANDARD",
                    tags=tags,
                )["stateMachineArn"],
                # a role not assumable yet; a state machine of the name still being deleted (a destroy
                # moments ago): terraform-provider-aws retries both (sfn/state_machine.go)
                lambda e: states_role_not_ready(e) or is_code(e, "StateMachineDeleting"),
                ctx.timeouts.release,  # a deletion lasts as long as the runs it stops
            )
        return str(arn)

    def _update_machine(self, ctx: Context, job: JobConfig) -> str:
        sfn = ctx.client("stepfunctions")
        doc = json.dumps(definition(ctx, job, self._task_definition(ctx, job)))
        settle_roles(ctx)
        with doing(f"update state machine {ctx.names.workload(job.name)}"):
            waiting.retry(
                ctx,
                "Step Functions to be able to assume the jobs' role",
                lambda: sfn.update_state_machine(
                    stateMachineArn=state_machine_arn(ctx, job.name),
                    definition=doc,
                    roleArn=role_arn(ctx, ctx.names.jobs_role),
                ),
                states_role_not_ready,
                ctx.timeouts.propagation,
            )
        return "updated"

    def _schedule(self, ctx: Context, job: JobConfig, found: dict[str, Any] | None) -> list[Action]:
        name = ctx.names.schedule(job.name)
        want = schedule_body(ctx, job)
        if found is None:
            return [
                Action(
                    "create",
                    "schedule",
                    name,
                    f"{job.schedule} ({job.timezone})",
                    run=partial(self._put_schedule, ctx, job, "create"),
                )
            ]
        changes = schedule_changes(found, want)
        if changes:
            return [
                Action(
                    "update",
                    "schedule",
                    name,
                    f"{job.schedule} ({job.timezone})",
                    changes,
                    run=partial(self._put_schedule, ctx, job, "update"),
                )
            ]
        return [Action("noop", "schedule", name, f"{job.schedule} ({job.timezone})")]

    def _put_schedule(self, ctx: Context, job: JobConfig, how: str) -> str:
        scheduler = ctx.client("scheduler")
        body = dict(schedule_body(ctx, job), Name=ctx.names.schedule(job.name), GroupName=ctx.names.schedule_group)
        settle_roles(ctx)

        def put() -> None:
            if how == "create":
                try:
                    scheduler.create_schedule(**body)
                    return
                except Exception as exc:
                    if not is_code(exc, "ConflictException"):  # made by a run that died: update it
                        raise
            scheduler.update_schedule(**body)

        with doing(f"{how} schedule {body['Name']}"):
            waiting.retry(
                ctx,
                "EventBridge Scheduler to be able to assume the scheduler role",
                put,
                scheduler_role_not_ready,
                ctx.timeouts.propagation,
            )
        return f"{job.schedule} ({job.timezone})"

    def _alarm(self, ctx: Context, job: JobConfig) -> dict[str, Any] | None:
        from ..deployments import alarm_states

        name = ctx.names.job_alarm(job.name)
        return alarm_states(ctx, [name]).get(name)

    def _alarm_actions(self, ctx: Context, job: JobConfig, have: dict[str, Any] | None) -> list[Action]:
        name = ctx.names.job_alarm(job.name)
        if have is not None and not check_owner(ctx, "CloudWatch alarm", name, _alarm_tags(ctx, have["AlarmArn"])):
            return []
        if not job.alarmed:
            if have is None:
                return []
            return [
                Action("delete", "CloudWatch alarm", name, "alarm turned off", run=partial(delete_alarm, ctx, name))
            ]
        want = alarm_body(ctx, job)
        detail = f"failed runs of {ctx.names.workload(job.name)}" + (f", notifies {job.notify}" if job.notify else "")
        if have is None:
            return [Action("create", "CloudWatch alarm", name, detail, run=partial(put_alarm, ctx, job))]
        changes = alarm_changes(have, want)
        if changes:
            return [Action("update", "CloudWatch alarm", name, detail, changes, run=partial(put_alarm, ctx, job))]
        return [Action("noop", "CloudWatch alarm", name, f"{have.get('StateValue')}: {have.get('StateReason', '')}")]

    # -- a job no longer configured ------------------------------------------------------------
    def _removal(self, ctx: Context, job: str, schedule: str) -> list[Action]:
        """Its alarm, state machine and family, then (last: what finds the rest again) its schedule."""
        leftovers = self._leftovers(ctx, job, "no longer configured")
        first = tuple(a.ref for a in leftovers if a.kind == "delete")
        return [*leftovers, self._schedule_deletion(ctx, schedule, first)]

    def _leftovers(self, ctx: Context, job: str, why: str, after: tuple[str, ...] = ()) -> list[Action]:
        from ..deployments import alarm_states

        actions: list[Action] = []
        alarm_name = ctx.names.job_alarm(job)
        alarm = alarm_states(ctx, [alarm_name]).get(alarm_name)
        if alarm is not None:
            if ctx.names.owns(_alarm_tags(ctx, alarm["AlarmArn"])):
                actions.append(
                    Action("delete", "CloudWatch alarm", alarm_name, why, run=partial(delete_alarm, ctx, alarm_name))
                )
            else:
                actions.append(foreign(ctx, "CloudWatch alarm", alarm_name))
        machine = get_state_machine(ctx, job)
        name = ctx.names.workload(job)
        machine_ref: tuple[str, ...] = ()
        if machine is not None:
            if ctx.names.owns(machine[1]):
                action = Action(
                    "delete", "state machine", name, why, run=partial(delete_state_machine, ctx, job), after=after
                )
                actions.append(action)
                machine_ref = (action.ref,)
            else:
                actions.append(foreign(ctx, "state machine", name))
        if ctx.config.worker(job) is None:  # a worker of that name now owns the family
            actions += plan_family_deletion(ctx, name, machine_ref)
        return actions

    def _schedule_deletion(self, ctx: Context, schedule: str, after: tuple[str, ...]) -> Action:
        return Action("delete", "schedule", schedule, "", run=partial(delete_schedule, ctx, schedule), after=after)

    # -- the group ----------------------------------------------------------------------------
    def _create_group(self, ctx: Context) -> str:
        scheduler = ctx.client("scheduler")
        name = ctx.names.schedule_group

        def create() -> str:
            try:
                return str(scheduler.create_schedule_group(Name=name, Tags=ctx.names.tag_list())["ScheduleGroupArn"])
            except Exception as exc:
                if not is_code(exc, "ConflictException"):
                    raise
            group = get_schedule_group(ctx)  # made by a run that died, or still being deleted
            if group is None or group.get("State") == "DELETING":
                raise exc_deleting()
            if not ctx.names.owns(group_tags(ctx, group["Arn"])):
                raise OwnershipConflict(
                    f"schedule group {name!r} exists but does not carry ecsup's tags for app={ctx.names.app}, "
                    f"env={ctx.names.env}",
                    hint="rename or remove the other schedule group, or pick another app/env",
                )
            return str(group["Arn"])

        with doing(f"create schedule group {name}"):
            return waiting.retry(
                ctx,
                f"the previous schedule group {name} to be deleted",
                create,
                lambda e: isinstance(e, _GroupDeleting),
                ctx.timeouts.release,
            )

    def _delete_group(self, ctx: Context) -> str:
        name = ctx.names.schedule_group
        with doing(f"delete schedule group {name}"):
            try:
                ctx.client("scheduler").delete_schedule_group(Name=name)
            except Exception as exc:
                if is_code(exc, "ResourceNotFoundException"):
                    return "already gone"
                raise
        return "deleted"

    # -- destroy ----------------------------------------------------------------------------------
    def plan_destroy(self, ctx: Context) -> list[Action]:
        """Every job's schedule, then its state machine (and its running tasks are stopped: DeleteCluster
        refuses while they run), its family and alarm; the roles once the state machines and schedules
        are gone; the group once its schedules are. Jobs are found in ecsup.toml, in the group's
        schedules and among the account's state machines named for the stack (a destroy or a removal
        that died half-way)."""
        group = get_schedule_group(ctx)
        name = ctx.names.schedule_group
        actions: list[Action] = []
        ours = group is not None and ctx.names.owns(group_tags(ctx, group["Arn"]))
        if group is not None and not ours:
            actions.append(foreign(ctx, "schedule group", name))
        scheduled = group_schedules(ctx) if ours and group.get("State", "ACTIVE") == "ACTIVE" else []  # type: ignore[union-attr]
        jobs = {job.name for job in ctx.config.jobs}
        jobs |= {j for j in (_job_of(ctx, s) for s in scheduled) if j}
        jobs |= self._machines_named_for_the_stack(ctx)
        jobs |= self._families_named_for_the_stack(ctx, jobs)
        schedule_refs: list[str] = []
        machine_refs: list[str] = []
        for job in sorted(jobs):
            schedule = ctx.names.schedule(job)
            after: tuple[str, ...] = ()
            if schedule in scheduled:
                deletion = self._schedule_deletion(ctx, schedule, ())
                actions.append(deletion)
                schedule_refs.append(deletion.ref)
                after = (deletion.ref,)
            actions += self._task_stops(ctx, job)
            leftovers = self._leftovers(ctx, job, "", after)
            machine_refs += [a.ref for a in leftovers if a.resource == "state machine" and a.kind == "delete"]
            actions += leftovers
        for role in (ctx.names.jobs_role, ctx.names.scheduler_role):
            found = get_role(ctx, role)
            if found is None:
                continue
            if not ctx.names.owns(tag_dict(found.get("Tags"))):
                actions.append(foreign(ctx, "IAM role", role))
                continue
            actions.append(
                Action(
                    "delete",
                    "IAM role",
                    role,
                    "",
                    run=partial(delete_role, ctx, role),
                    after=tuple(schedule_refs + machine_refs),
                )
            )
        if ours:
            actions.append(
                Action(
                    "delete",
                    "schedule group",
                    name,
                    "",
                    run=partial(self._delete_group, ctx),
                    after=tuple(schedule_refs),
                )
            )
        return actions

    def _machines_named_for_the_stack(self, ctx: Context) -> set[str]:
        """Jobs whose state machine is left with no schedule: state machines named <stack>-<job>
        that carry the stack's tags and a job's (every page)."""
        sfn = ctx.client("stepfunctions")
        prefix = ctx.names.stack + "-"
        found: set[str] = set()
        with doing("list state machines"):
            for page in sfn.get_paginator("list_state_machines").paginate():
                for machine in page.get("stateMachines", []):
                    if not machine["name"].startswith(prefix):
                        continue
                    tags = tag_dict(
                        sfn.list_tags_for_resource(resourceArn=machine["stateMachineArn"]).get("tags"), "key", "value"
                    )
                    if ctx.names.owns(tags) and tags.get(JOB_TAG) == machine["name"][len(prefix) :]:
                        found.add(tags[JOB_TAG])
        return found

    def _families_named_for_the_stack(self, ctx: Context, known: set[str]) -> set[str]:
        """Jobs whose family is left with no schedule and no state machine (a destroy, or a job's
        removal, that died between deleting its state machine and its family): families named
        <stack>-<job> (ListTaskDefinitionFamilies, every page, INACTIVE ones too) whose revisions
        carry the stack's tags and the job's. The workers' families (``ecsup:worker``) are
        WorkerTaskDefinitionStep's."""
        ecs = ctx.client("ecs")
        prefix = ctx.names.stack + "-"
        workers = {w.name for w in ctx.config.workers}
        found: set[str] = set()
        with doing(f"list the task definition families of {ctx.names.stack}"):
            families = [
                f
                for page in ecs.get_paginator("list_task_definition_families").paginate(
                    familyPrefix=prefix, status="ALL"
                )
                for f in page.get("families", [])
            ]
        for family in families:
            job = family[len(prefix) :]
            if not family.startswith(prefix) or not job or job in known or job in workers:
                continue
            with doing(f"list task definitions of {family}"):
                pages = (
                    page
                    for status in ("ACTIVE", "INACTIVE")
                    for page in ecs.get_paginator("list_task_definitions").paginate(familyPrefix=family, status=status)
                )
                arn = next(  # one revision says whose the family is: the pages stop there
                    (
                        a
                        for page in pages
                        for a in page.get("taskDefinitionArns", [])
                        if a.split("/")[-1].rsplit(":", 1)[0] == family
                    ),
                    None,
                )
            found_td = _describe_td(ctx, arn) if arn else None
            if found_td is not None and ctx.names.owns(found_td[1]) and found_td[1].get(JOB_TAG) == job:
                found.add(job)
        return found

    def _task_stops(self, ctx: Context, job: str) -> list[Action]:
        """A run of the job still going: DeleteCluster refuses while it runs, and the state machine
        stays DELETING until it ends, so destroy stops it (the cluster's deletion retries meanwhile)."""
        ecs = ctx.client("ecs")
        with doing(f"list the running tasks of job {job}"):
            try:
                pages = ecs.get_paginator("list_tasks").paginate(
                    cluster=ctx.names.cluster, startedBy=started_by(job), desiredStatus="RUNNING"
                )
                arns = [arn for page in pages for arn in page.get("taskArns", [])]
            except Exception as exc:
                if is_code(exc, "ClusterNotFoundException"):
                    return []
                raise
        return [
            Action(
                "delete",
                "one-off task",
                arn.split("/")[-1],
                f"a run of job {job} still going: stopped",
                run=partial(self._stop, ctx, arn),
            )
            for arn in arns
        ]

    def _stop(self, ctx: Context, arn: str) -> str:
        with doing(f"stop task {arn.split('/')[-1]}"):
            ctx.client("ecs").stop_task(cluster=ctx.names.cluster, task=arn, reason="ecsup destroy")
        return "stopped"


class _GroupDeleting(Exception):
    """CreateScheduleGroup answered ConflictException for a group still DELETING (retried)."""


def exc_deleting() -> _GroupDeleting:
    return _GroupDeleting("the schedule group is still being deleted")


# -- releases --------------------------------------------------------------------------------------
def point_jobs_at(ctx: Context, revisions: dict[str, str]) -> dict[str, str]:
    """Move jobs' state machines to other revisions of their families, for a release: ``revisions``
    maps a job's name to the task definition ARN its runs should use from now on (a revision of
    ``Names.workload(job)``). Only the Run state's TaskDefinition changes (UpdateStateMachine; the
    rest of the definition, its network and timeout, stay as the last create made them); a run
    already going keeps its revision, the next one starts with the new. Call it once the release
    has succeeded, so that a failed or rolled-back release leaves jobs on the previous revision.
    Returns job -> "moved to <family:revision>", "already on it", or "no state machine" (a job not
    created yet: the next `create` makes it with the web service's image)."""
    sfn = ctx.client("stepfunctions")
    out: dict[str, str] = {}
    for job, arn in sorted(revisions.items()):
        found = describe_state_machine(ctx, job)  # no tags read: the CI policy a release runs with has none
        if found is None:
            out[job] = "no state machine"
            continue
        doc = json.loads(found["definition"])
        params = doc["States"][RUN_STATE]["Parameters"]
        if params.get("TaskDefinition") == arn:
            out[job] = "already on it"
            continue
        params["TaskDefinition"] = arn
        with doing(f"point job {job} at {arn.split('/')[-1]}"):
            sfn.update_state_machine(stateMachineArn=state_machine_arn(ctx, job), definition=json.dumps(doc))
        out[job] = f"moved to {arn.split('/')[-1]}"
    return out
