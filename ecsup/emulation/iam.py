"""IAM: eventually consistent reads and permission changes, and ECS's service-linked role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import (
    AwsFault,
    Emulation,
    _iam,
    _role,
    _settled,
    _state,
)

# -- IAM ----------------------------------------------------------------------------------
SERVICE_LINKED_ROLE = "AWSServiceRoleForECS"


def created_role(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    result = proceed()
    _state(_iam(resp.current_account), "created")[result.result["Role"].name] = em.now()
    return result


def service_linked_role_taken(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """CreateServiceLinkedRole for a role that exists: "InvalidInput: Service role name
    AWSServiceRoleForECS has been taken in this account, please try a different suffix."
    (Rayraegah/terraform-aws-hasura#17)."""
    service = resp._get_param("AWSServiceName") or ""
    name = SERVICE_LINKED_ROLE if service == "ecs.amazonaws.com" else None
    if name and _role(resp.current_account, name) is not None:
        raise AwsFault(
            "InvalidInput", f"Service role name {name} has been taken in this account, please try a different suffix."
        )
    return created_role(em, resp, proceed)


def role_read_right_after_create(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    name = resp._get_param("RoleName")
    created = _state(_iam(resp.current_account), "created").get(name)
    if not _settled(em, created, em.delays.iam_read):
        raise AwsFault("NoSuchEntity", f"The role with name {name} cannot be found.")
    return proceed()


def role_permissions_changed(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    result = proceed()
    _state(_iam(resp.current_account), "permissions")[resp._get_param("RoleName")] = em.now()
    return result


def install(around: Callable[..., None]) -> None:
    from moto.iam import models as iam_models
    from moto.iam.responses import IamResponse as IAM

    # moto names ECS's service-linked role "AWSServiceRoleForecs"; AWS: AWSServiceRoleForECS.
    iam_models.SERVICE_NAME_CONVERSION.setdefault("ecs", "ECS")
    around(IAM, "create_role", created_role)
    around(IAM, "create_service_linked_role", service_linked_role_taken)
    for read in ("get_role", "list_attached_role_policies", "get_role_policy", "list_role_policies", "list_role_tags"):
        around(IAM, read, role_read_right_after_create)
    for change in ("put_role_policy", "delete_role_policy", "attach_role_policy", "detach_role_policy"):
        around(IAM, change, role_permissions_changed)
