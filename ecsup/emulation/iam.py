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


def _federated_principals(document: Any) -> list[str]:
    import json
    from urllib.parse import unquote

    try:
        doc = json.loads(unquote(document)) if isinstance(document, str) else document
    except ValueError:
        return []
    found: list[str] = []
    statements = doc.get("Statement", []) if isinstance(doc, dict) else []
    for statement in statements if isinstance(statements, list) else [statements]:
        principal = statement.get("Principal") if isinstance(statement, dict) else None
        federated = principal.get("Federated") if isinstance(principal, dict) else None
        found += [federated] if isinstance(federated, str) else list(federated or [])
    return found


def federated_principal_exists(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """A trust policy naming an OIDC provider the account does not have: AWS refuses it
    (CreateRole / UpdateAssumeRolePolicy: "MalformedPolicyDocument: Invalid principal in policy";
    terraform-aws-modules/terraform-aws-iam#202, pulumi/pulumi-eks#871: the provider must exist
    first). moto accepts any principal."""
    document = resp._get_param("AssumeRolePolicyDocument") or resp._get_param("PolicyDocument")
    providers = _iam(resp.current_account).open_id_providers
    for principal in _federated_principals(document):
        if ":oidc-provider/" in principal and principal not in providers:
            raise AwsFault("MalformedPolicyDocument", f'Invalid principal in policy: "Federated":"{principal}"')
    return proceed()


def add_client_id_to_open_id_connect_provider(resp: Any) -> Any:
    """AddClientIDToOpenIDConnectProvider, which moto lacks: adds an audience (a client id already
    is no error: the API reference calls the operation idempotent); NoSuchEntity
    for an unknown provider."""
    from moto.core.responses import EmptyResult

    provider = resp.backend.get_open_id_connect_provider(resp._get_param("OpenIDConnectProviderArn"))
    client_id = resp._get_param("ClientID")
    if client_id not in provider.client_id_list:
        provider.client_id_list.append(client_id)
    return EmptyResult()


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
    around(IAM, "create_role", federated_principal_exists)
    around(IAM, "update_assume_role_policy", federated_principal_exists)
    if not hasattr(IAM, "add_client_id_to_open_id_connect_provider"):
        IAM.add_client_id_to_open_id_connect_provider = add_client_id_to_open_id_connect_provider  # type: ignore[attr-defined]
