"""SSM Parameter Store: the KMS key of an overwritten SecureString; the Standard tier's value limit;
the ARN of a described parameter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import AwsFault, Emulation

DEFAULT_KEY = "alias/aws/ssm"


def overwrite_without_key_id_uses_the_default_key(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """PutParameter with Overwrite on a SecureString and no KeyId encrypts the new version with
    the account's default key, alias/aws/ssm, whatever key the previous version had (API
    reference, PutParameter KeyId: "If you don't specify a key ID, the system uses the default
    key associated with your Amazon Web Services account"; a writer that does not give the key
    again "silently falls back to aws/ssm on every write", aws-devtools-labs/aws-blocks#452).
    moto keeps the previous version's key."""
    answer = proceed()
    if resp._get_param("Overwrite", False) and not resp._get_param("KeyId"):
        versions = resp.ssm_backend._parameters.get(resp._get_param("Name")) or []
        if versions and versions[-1].parameter_type == "SecureString":
            versions[-1].keyid = DEFAULT_KEY
    return answer


STANDARD_VALUE_LIMIT = 4096


def standard_tier_values_hold_4096_characters(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """PutParameter of a value over 4,096 characters in the Standard tier (the default; an
    existing Advanced parameter stays Advanced): "ValidationException: Standard tier parameters
    support a maximum parameter value of 4096 characters. To create a larger parameter value,
    upgrade the parameter to use the advanced-parameter tier" (SSM API reference, PutParameter
    Value: "Standard parameters have a value limit of 4 KB. Advanced parameters have a value limit
    of 8 KB"). moto stores it."""
    value = resp._get_param("Value") or ""
    tier = resp._get_param("Tier")
    if tier is None:
        versions = resp.ssm_backend._parameters.get(resp._get_param("Name")) or []
        tier = "Advanced" if versions and getattr(versions[-1], "tier", None) == "Advanced" else "Standard"
    if tier == "Standard" and len(value) > STANDARD_VALUE_LIMIT:
        raise AwsFault(
            "ValidationException",
            "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger "
            "parameter value, upgrade the parameter to use the advanced-parameter tier.",
        )
    return overwrite_without_key_id_uses_the_default_key(em, resp, proceed)


def described_parameters_carry_their_arn(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """DescribeParameters gives each parameter's ARN (API reference, ParameterMetadata: "ARN: The
    Amazon Resource Name (ARN) of the parameter"; botocore's model has it). moto leaves it out."""
    from moto.ssm.utils import parameter_arn

    answer = proceed()
    for parameter in getattr(answer, "result", {}).get("Parameters", []):
        parameter.setdefault("ARN", parameter_arn(resp.current_account, resp.region, parameter["Name"]))
    return answer


def install(around: Callable[..., None]) -> None:
    from moto.ssm.responses import SimpleSystemManagerResponse as SSM

    around(SSM, "put_parameter", standard_tier_values_hold_4096_characters)
    around(SSM, "describe_parameters", described_parameters_carry_their_arn)
