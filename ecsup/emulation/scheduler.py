"""EventBridge Scheduler: what AWS refuses that moto accepts, for the calls scheduled jobs make.

- CreateSchedule / UpdateSchedule in a group that does not exist: ResourceNotFoundException (moto:
  a KeyError, HTTP 500).
- An expression EventBridge Scheduler cannot read: "ValidationException: Invalid Schedule Expression
  <expression>." (API reference, CreateSchedule ScheduleExpression; localstack/localstack#9284 shows
  the answer); a time zone it does not know: ValidationException (ScheduleExpressionTimezone).
- A target role it cannot assume -- one that does not exist, does not trust scheduler.amazonaws.com,
  or was created seconds ago (IAM propagation): "ValidationException: The execution role you provide
  must allow AWS EventBridge Scheduler to assume the role." (aws/aws-sdk-js-v3#6494;
  terraform-provider-aws retries it for 2 minutes after creating the role, scheduler
  retryWhenIAMNotPropagated).
- CreateScheduleGroup of a name that exists: ConflictException (moto replaces the group, and its
  schedules are lost).
- DeleteScheduleGroup: the group is DELETING, with its schedules deleted, until they are gone ("When
  you delete a group, it remains in a DELETING state until all of its associated schedules are
  deleted", API reference, DeleteScheduleGroup); a group that does not exist: ResourceNotFoundException.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from . import AwsFault, Emulation, _iam, _role, _settled, _state

SCHEDULER = "scheduler.amazonaws.com"


def role_assumable(em: Emulation, account: str, arn: str, principal: str) -> bool:
    """The role exists, trusts the service principal, and IAM has propagated it (a role is usable by a
    service some seconds after CreateRole: em.delays.iam_permissions)."""
    name = str(arn or "").split("/")[-1]
    role = _role(account, name)
    if role is None:
        return False
    try:
        doc = json.loads(role.assume_role_policy_document)
    except (TypeError, ValueError):
        return False
    trusted = False
    for statement in doc.get("Statement", []):
        services = (statement.get("Principal") or {}).get("Service") or []
        services = [services] if isinstance(services, str) else services
        if statement.get("Effect") == "Allow" and principal in services:
            trusted = True
    created = _state(_iam(account), "created").get(name)
    return trusted and _settled(em, created, em.delays.iam_permissions)


def _backend(resp: Any) -> Any:
    return resp.scheduler_backend


def _advance(em: Emulation, resp: Any) -> dict[str, float]:
    """Groups being deleted are gone once their time has passed."""
    backend = _backend(resp)
    deleting: dict[str, float] = _state(backend, "deleting")
    for name, until in list(deleting.items()):
        if em.now() >= until:
            backend.schedule_groups.pop(name, None)
            del deleting[name]
    return deleting


def _group_name(resp: Any) -> str:
    return str(resp.uri.split("?")[0].split("/")[-1])


def schedules_need_an_active_group_a_valid_expression_and_an_assumable_role(
    em: Emulation, resp: Any, proceed: Callable[[], Any]
) -> Any:
    from ..workloads import schedule_problem, timezone_problem

    deleting = _advance(em, resp)
    group = resp._get_param("GroupName") or "default"
    if group not in _backend(resp).schedule_groups or group in deleting:
        raise AwsFault("ResourceNotFoundException", f"Schedule group {group} does not exist.")
    expression = resp._get_param("ScheduleExpression") or ""
    if schedule_problem(expression):
        raise AwsFault("ValidationException", f"Invalid Schedule Expression {expression}.")
    zone = resp._get_param("ScheduleExpressionTimezone")
    if zone and timezone_problem(zone):
        raise AwsFault("ValidationException", f"Invalid timezone: {zone}.")
    target = resp._get_param("Target") or {}
    if not role_assumable(em, resp.current_account, str(target.get("RoleArn") or ""), SCHEDULER):
        raise AwsFault(
            "ValidationException",
            "The execution role you provide must allow AWS EventBridge Scheduler to assume the role.",
        )
    return proceed()


def a_group_name_is_taken_until_the_group_is_gone(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    _advance(em, resp)
    name = resp._get_param("Name")
    if name in _backend(resp).schedule_groups:
        raise AwsFault("ConflictException", f"ScheduleGroup {name} already exists.")
    return proceed()


def a_deleted_group_is_deleting_until_its_schedules_are_gone(
    em: Emulation, resp: Any, proceed: Callable[[], Any]
) -> Any:
    deleting = _advance(em, resp)
    name = _group_name(resp)
    group = _backend(resp).schedule_groups.get(name)
    if group is None:
        raise AwsFault("ResourceNotFoundException", f"Schedule group {name} does not exist.")
    if name not in deleting:
        group.schedules.clear()
        deleting[name] = em.now() + em.delays.schedule_group_deleting
    return "{}"


def a_deleting_group_says_so(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    deleting = _advance(em, resp)
    answer = proceed()
    if _group_name(resp) in deleting:
        body = json.loads(answer)
        body["State"] = "DELETING"
        return json.dumps(body)
    return answer


def groups_being_deleted_go_in_time(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    _advance(em, resp)
    return proceed()


def install(around: Callable[..., None]) -> None:
    from moto.scheduler.responses import EventBridgeSchedulerResponse as Scheduler

    for write in ("create_schedule", "update_schedule"):
        around(Scheduler, write, schedules_need_an_active_group_a_valid_expression_and_an_assumable_role)
    around(Scheduler, "create_schedule_group", a_group_name_is_taken_until_the_group_is_gone)
    around(Scheduler, "delete_schedule_group", a_deleted_group_is_deleting_until_its_schedules_are_gone)
    around(Scheduler, "get_schedule_group", a_deleting_group_says_so)
    for read in ("list_schedule_groups", "list_schedules", "list_tags_for_resource", "get_schedule", "delete_schedule"):
        around(Scheduler, read, groups_being_deleted_go_in_time)
