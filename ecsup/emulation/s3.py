"""S3: bucket policies' conditions on the transport; bucket names are global (another account's
bucket answers 403); a new bucket settles for a while."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from . import Emulation, _settled, _state


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


# -- buckets are global: another account's ------------------------------------------------------
def _owner(name: str) -> str | None:
    """The account that owns bucket ``name`` (moto keeps bucket names global, as S3 does)."""
    from moto.s3.models import s3_backends

    found = s3_backends.bucket_accounts.get(name)
    return None if found is None else str(found[1])


def mark_foreign(name: str, account: str = "210987654321", region: str = "eu-west-1") -> None:
    """Test helper: another AWS account creates bucket ``name`` (bucket names are global)."""
    from moto.s3.models import s3_backends

    s3_backends[account]["aws"].create_bucket(name, region)


def _error(code: str, message: str, status: int, head: bool) -> tuple[int, dict[str, str], str]:
    """A raw S3 error answer (moto's handlers return (status, headers, body)); a HEAD has no body."""
    if head:
        return status, {}, ""
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return status, {"content-type": "application/xml"}, body


def another_accounts_bucket_is_forbidden(
    em: Emulation, resp: Any, proceed: Callable[[], Any], bucket_level: bool, request: Any, full_url: str
) -> Any:
    """A bucket another account owns answers 403 to this one: HeadBucket with no body ("If the bucket
    exists but you don't have permission to access it, you get an HTTP 403 Forbidden"; so does a
    wrong ExpectedBucketOwner), the other calls AccessDenied (S3 API reference, HeadBucket, and
    "Verifying bucket ownership with bucket owner condition"). CreateBucket of its name answers
    BucketAlreadyExists (moto does). moto serves any account's bucket to every account
    (its s3_allow_crossdomain_access)."""
    name = resp.parse_bucket_name_from_url(request, full_url)
    owner = _owner(name) if name else None
    if owner is None or owner == resp.current_account:
        return proceed()
    if bucket_level and request.method == "PUT" and not resp._get_querystring(request, full_url):
        return proceed()  # CreateBucket: moto answers BucketAlreadyExists
    return _error("AccessDenied", "Access Denied", 403, request.method == "HEAD")


# -- a new bucket settles -------------------------------------------------------------------------
def _s3_state(account: str, name: str) -> dict[str, Any]:
    from moto.s3.models import s3_backends

    return _state(s3_backends[account]["aws"], name)


def new_bucket_settles(
    em: Emulation, resp: Any, proceed: Callable[[], Any], bucket_level: bool, request: Any, full_url: str
) -> Any:
    """For ``Delays.bucket_settling`` after CreateBucket, S3 does not know the bucket everywhere yet:
    the calls that follow answer NoSuchBucket (HEAD: 404), a write in the second half of the window
    OperationAborted ("A conflicting conditional operation is currently in progress against this
    resource. Please try again."), and so does CreateBucket of the same name again --
    terraform-provider-aws retries both for 2 minutes (internal/service/s3/bucket.go
    bucketPropagationTimeout; bucket_lifecycle_configuration.go on NoSuchBucket; its older
    bucket.go's CreateBucket on OperationAborted). PutBucketPolicy is recorded for ELB
    (emulation/elbv2.py: the policy becomes visible to it a moment later)."""
    name = resp.parse_bucket_name_from_url(request, full_url)
    if not name:
        return proceed()
    account = resp.current_account
    created = _s3_state(account, "created")
    query = resp._get_querystring(request, full_url)
    is_bucket = bucket_level
    creating = request.method == "PUT" and not query and is_bucket
    since = created.get(name)
    settling = since is not None and not _settled(em, since, em.delays.bucket_settling)
    if settling and creating:
        return _error(
            "OperationAborted",
            "A conflicting conditional operation is currently in progress against this resource. Please try again.",
            409,
            False,
        )
    if settling:
        late = em.now() >= since + em.delays.bucket_settling / 2  # type: ignore[operator]
        if request.method in ("PUT", "POST", "DELETE") and late:
            return _error(
                "OperationAborted",
                "A conflicting conditional operation is currently in progress against this resource. Please try again.",
                409,
                False,
            )
        return _error("NoSuchBucket", "The specified bucket does not exist", 404, request.method == "HEAD")
    result = proceed()
    status = result[0] if isinstance(result, tuple) else 200
    if creating and status == 200:
        created[name] = em.now()
    elif request.method == "PUT" and "policy" in query and is_bucket and status in (200, 204):
        _s3_state(account, "policy_put")[name] = em.now()
    elif request.method == "DELETE" and not query and is_bucket and status in (200, 204):
        created.pop(name, None)
    return result


def policy_put_at(account: str, name: str) -> float | None:
    """When PutBucketPolicy last succeeded on bucket ``name`` (the emulation's clock), if it did."""
    found = _s3_state(account, "policy_put").get(name)
    return None if found is None else float(found)


def _at_level(hook: Callable[..., Any], bucket_level: bool, em: Emulation, resp: Any, proceed: Any, *args: Any) -> Any:
    return hook(em, resp, proceed, bucket_level, *args)


def install(around: Callable[..., None]) -> None:
    from moto.s3.models import FakeBucket
    from moto.s3.responses import S3Response

    # always: moto is wrong in the strict direction here, plain_moto tests included
    around(FakeBucket, "get_permission", tls_only_statements_spare_https_requests, always=True)
    for handler, bucket_level in (("_bucket_response", True), ("_key_response", False)):
        for hook in (another_accounts_bucket_is_forbidden, new_bucket_settles):
            around(S3Response, handler, functools.partial(_at_level, hook, bucket_level))
