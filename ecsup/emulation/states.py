"""Step Functions: what AWS refuses that moto accepts, for the calls scheduled jobs make.

- A role Step Functions cannot assume -- missing, not trusting states.amazonaws.com, or created
  seconds ago (IAM propagation) -- at CreateStateMachine / UpdateStateMachine: "AccessDeniedException:
  Neither the global service principal states.amazonaws.com, nor the regional one is authorized to
  assume the provided role." (lumigo-io/lumigo-CLI#83 quotes it; terraform-provider-aws retries
  CreateStateMachine on AccessDeniedException for IAM's eventual consistency, sfn/state_machine.go).
- CreateStateMachine is idempotent only for the same definition and type: another definition under a
  name that exists is "StateMachineAlreadyExists" (API reference, CreateStateMachine; moto returns the
  existing one, unchanged).
- A definition that is not Amazon States Language (not JSON, no StartAt naming one of its States):
  InvalidDefinition.
- DeleteStateMachine: the state machine is DELETING for a while ("sets the state machine's status to
  DELETING and begins the deletion process", API reference), and CreateStateMachine / UpdateStateMachine
  of it answer StateMachineDeleting meanwhile (terraform-provider-aws retries CreateStateMachine on it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from . import AwsFault, Emulation, _state
from .scheduler import role_assumable

STATES = "states.amazonaws.com"


def _backend(resp: Any) -> Any:
    return resp.stepfunction_backend


def _advance(em: Emulation, resp: Any) -> dict[str, float]:
    """State machines being deleted are gone once their time has passed."""
    backend = _backend(resp)
    deleting: dict[str, float] = _state(backend, "deleting")
    for arn, until in list(deleting.items()):
        if em.now() >= until:
            backend.state_machines = [sm for sm in backend.state_machines if sm.arn != arn]
            del deleting[arn]
    return deleting


def _check_definition(text: str | None) -> None:
    try:
        doc = json.loads(text or "")
        ok = isinstance(doc, dict) and isinstance(doc.get("States"), dict) and doc.get("StartAt") in doc["States"]
    except ValueError:
        ok = False
    if not ok:
        raise AwsFault("InvalidDefinition", "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED'")


def _check_role(em: Emulation, resp: Any, arn: str | None) -> None:
    if not role_assumable(em, resp.current_account, arn or "", STATES):
        raise AwsFault(
            "AccessDeniedException",
            "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to "
            "assume the provided role.",
        )


def _arn_of(resp: Any, name: str) -> str:
    return f"arn:aws:states:{resp.region}:{resp.current_account}:stateMachine:{name}"


def create_checks_the_role_the_definition_and_the_name(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    deleting = _advance(em, resp)
    name = resp._get_param("name")
    arn = _arn_of(resp, name)
    if arn in deleting:
        raise AwsFault("StateMachineDeleting", f"State machine is being deleted: '{arn}'")
    definition = resp._get_param("definition")
    _check_definition(definition)
    existing = next((sm for sm in _backend(resp).state_machines if sm.arn == arn), None)
    if existing is not None and (
        json.loads(existing.definition) != json.loads(definition)
        or (resp._get_param("type") or "STANDARD") != existing.type
    ):
        raise AwsFault("StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'")
    _check_role(em, resp, resp._get_param("roleArn"))
    return proceed()


def update_checks_the_role_and_the_definition(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    deleting = _advance(em, resp)
    arn = resp._get_param("stateMachineArn")
    if arn in deleting:
        raise AwsFault("StateMachineDeleting", f"State machine is being deleted: '{arn}'")
    if resp._get_param("definition") is not None:
        _check_definition(resp._get_param("definition"))
    if resp._get_param("roleArn") is not None:
        _check_role(em, resp, resp._get_param("roleArn"))
    return proceed()


def a_deleted_state_machine_is_deleting_for_a_while(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    from moto.core.responses import EmptyResult

    deleting = _advance(em, resp)
    arn = resp._get_param("stateMachineArn")
    if any(sm.arn == arn for sm in _backend(resp).state_machines) and arn not in deleting:
        deleting[arn] = em.now() + em.delays.state_machine_deleting
    return EmptyResult()


def a_deleting_state_machine_says_so(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    deleting = _advance(em, resp)
    answer = proceed()
    if resp._get_param("stateMachineArn") in deleting:
        answer.result["status"] = "DELETING"
    return answer


def state_machines_being_deleted_go_in_time(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    _advance(em, resp)
    return proceed()


def install(around: Callable[..., None]) -> None:
    from moto.stepfunctions.responses import StepFunctionResponse as StepFunctions

    around(StepFunctions, "create_state_machine", create_checks_the_role_the_definition_and_the_name)
    around(StepFunctions, "update_state_machine", update_checks_the_role_and_the_definition)
    around(StepFunctions, "delete_state_machine", a_deleted_state_machine_is_deleting_for_a_while)
    around(StepFunctions, "describe_state_machine", a_deleting_state_machine_says_so)
    for read in ("list_state_machines", "list_tags_for_resource"):
        around(StepFunctions, read, state_machines_being_deleted_go_in_time)
