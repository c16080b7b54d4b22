"""SSM Parameter Store: the KMS key of an overwritten SecureString."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import Emulation

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


def install(around: Callable[..., None]) -> None:
    from moto.ssm.responses import SimpleSystemManagerResponse as SSM

    around(SSM, "put_parameter", overwrite_without_key_id_uses_the_default_key)
