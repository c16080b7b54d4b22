"""S3: bucket policies' conditions on the transport."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from . import Emulation


def _denies_plain_http_only(statement: dict[str, Any]) -> bool:
    condition = statement.get("Condition") or {}
    return statement.get("Effect") == "Deny" and condition == {"Bool": {"aws:SecureTransport": "false"}}


def tls_only_statements_spare_https_requests(
    em: Emulation, bucket: Any, proceed: Callable[[], Any], action: str, resource: str
) -> Any:
    """A bucket policy's "Deny ... Bool aws:SecureTransport false" (the usual TLS-only statement)
    denies plain-HTTP requests only; every request an SDK makes to AWS is HTTPS. moto evaluates
    bucket policies without their conditions (moto/s3/models.py: "Conditions are not taken into
    account"), so it would deny every request: it evaluates the policy without those statements."""
    if bucket.policy is None:
        return proceed()
    from moto.iam.access_control import IAMPolicy

    doc = json.loads(bucket.policy.decode() if isinstance(bucket.policy, bytes) else bucket.policy)
    statements = doc.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    kept = [s for s in statements if not _denies_plain_http_only(s)]
    if len(kept) == len(statements):
        return proceed()
    return IAMPolicy(json.dumps({**doc, "Statement": kept})).is_action_permitted(action, resource)


def install(around: Callable[..., None]) -> None:
    from moto.s3.models import FakeBucket

    # always: moto is wrong in the strict direction here, plain_moto tests included
    around(FakeBucket, "get_permission", tls_only_statements_spare_https_requests, always=True)
