"""The load balancer's access logs ([load_balancer] access_logs = true): an S3 bucket ecsup owns,
with the bucket policy Elastic Load Balancing needs in the stack's region, SSE-S3 encryption,
public access blocked, ACLs off, TLS-only access and a lifecycle rule expiring the logs after
`[service] log_retention_days`; and the load balancer's `access_logs.s3.*` attributes.

`destroy` keeps the bucket (it holds logs) unless `--purge`, like the log group. Turning the key
off stops the logging and keeps the bucket for the same reason.

Bucket names are global and the default one is predictable, so another account may hold it: S3
then answers 403 to this account's HeadBucket (with ExpectedBucketOwner, and without permission
on the bucket) and BucketAlreadyExists to CreateBucket. That is a conflict, found by the plan,
with `[load_balancer] access_logs_bucket` to choose another name.

A new bucket settles for a while: S3 can answer NoSuchBucket or OperationAborted to the calls that
follow CreateBucket (terraform-provider-aws retries them for its bucketPropagationTimeout, 2 minutes:
internal/service/s3/bucket.go, "General timeout for S3 bucket changes to propagate";
bucket_lifecycle_configuration.go retries PutBucketLifecycleConfiguration on NoSuchBucket; its
older bucket.go retried CreateBucket on OperationAborted for bucketCreatedTimeout, 2 minutes), and
ELB refuses the load balancer's access-log attributes with InvalidConfigurationRequest ("Access
Denied for bucket: ...") until it sees the new bucket policy. Both are retried, bounded by
`Timeouts.propagation`, and shown as waits.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from .. import waiting
from ..context import Context
from ..errors import OwnershipConflict, doing, is_code
from ..plan import Action, Change
from . import Step, load_balancer_ref

# The account that writes access logs in each region opened before August 2022 (ELB User Guide,
# "Enable access logs for your Application Load Balancer", step 2: "Regions available before
# August 2022"; the same table as terraform-provider-aws internal/service/elb/
# service_account_data_source.go). Every other region takes the service principal
# logdelivery.elasticloadbalancing.amazonaws.com ("Regions available as of August 2022 or later").
ELB_LOG_ACCOUNTS = {
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331",
    "ap-south-1": "718504428378",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-southeast-3": "589379963580",
    "ca-central-1": "985666609251",
    "cn-north-1": "638102146993",
    "cn-northwest-1": "037604701340",
    "eu-central-1": "054676820928",
    "eu-north-1": "897822967062",
    "eu-south-1": "635631232127",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-west-3": "009996457667",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-gov-east-1": "190560391635",
    "us-gov-west-1": "048591011584",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
}
LOG_DELIVERY = "logdelivery.elasticloadbalancing.amazonaws.com"
# SSE-S3 only: "The only server-side encryption option that's supported is Amazon S3-managed keys
# (SSE-S3)" (ELB User Guide, access log bucket requirements); a KMS-encrypted bucket makes
# ModifyLoadBalancerAttributes fail with "Access Denied for bucket" (terraform-aws-modules/
# terraform-aws-alb#61).
ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
BLOCK_PUBLIC = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
LIFECYCLE_RULE = "ecsup-expire-access-logs"


def bucket_name(ctx: Context) -> str:
    """`[load_balancer] access_logs_bucket`, else `<stack>-logs-<account>-<region>`: bucket names
    are global, so the account and region make it this stack's alone -- unless another account
    took it first (FOREIGN). It fits S3's 63 characters: a stack name is at most 26 (its target
    groups' names, `<stack>-green`, are limited to 32), a region's at most 14."""
    chosen = ctx.config.load_balancer.access_logs_bucket
    return chosen or f"{ctx.names.stack}-logs-{ctx.account_id}-{ctx.region}"


FOREIGN_HINT = (
    'choose a bucket name of your own with `access_logs_bucket = "..."` under [load_balancer] in ecsup.toml, '
    "then re-run `ecsup create`: it resumes where it stopped"
)


def foreign_conflict(name: str) -> str:
    return (
        f"S3 bucket {name!r} belongs to another AWS account (S3 answers 403 to this one; bucket names are "
        "global): set [load_balancer] access_logs_bucket to a bucket name of your own (if the bucket is this "
        "account's, let this identity s3:ListBucket it)"
    )


def bucket_policy(ctx: Context, bucket: str) -> dict[str, Any]:
    arn = f"arn:{ctx.partition}:s3:::{bucket}"
    writer = ELB_LOG_ACCOUNTS.get(ctx.region)
    principal = {"AWS": f"arn:{ctx.partition}:iam::{writer}:root"} if writer else {"Service": LOG_DELIVERY}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ElasticLoadBalancingWritesAccessLogs",
                "Effect": "Allow",
                "Principal": principal,
                "Action": "s3:PutObject",
                "Resource": f"{arn}/AWSLogs/{ctx.account_id}/*",
            },
            {
                # scanners' "bucket allows plain HTTP" check (Prowler s3_bucket_secure_transport_policy)
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


def lifecycle(days: int) -> dict[str, Any]:
    return {
        "Rules": [
            {
                "ID": LIFECYCLE_RULE,
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "Expiration": {"Days": days},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            }
        ]
    }


def wanted_attributes(bucket: str, on: bool) -> dict[str, str]:
    if not on:
        return {"access_logs.s3.enabled": "false"}
    return {"access_logs.s3.enabled": "true", "access_logs.s3.bucket": bucket, "access_logs.s3.prefix": ""}


def _algorithms(encryption: dict[str, Any] | None) -> list[str]:
    """The default encryption's algorithms (AWS adds BucketKeyEnabled and the like to what was put)."""
    rules = (encryption or {}).get("Rules", [])
    return [str(r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")) for r in rules]


def _missing(exc: Exception) -> bool:
    return is_code(exc, "NoSuchBucket", "404", "NotFound")


def _foreign(exc: Exception) -> bool:
    """HeadBucket's answer for a bucket another account owns: 403 with no body (botocore's code
    "403"), AccessDenied from the calls that have one (S3 API reference, HeadBucket: "If the
    bucket exists but you don't have permission to access it, you get an HTTP 403 Forbidden";
    ExpectedBucketOwner: "If the account ID that you provide does not match the actual owner of the
    bucket, the request fails with the HTTP status code 403 Forbidden")."""
    return is_code(exc, "403", "AccessDenied", "Forbidden")


def _settling(exc: BaseException) -> bool:
    """What S3 answers while a bucket it has just created settles."""
    return is_code(exc, "NoSuchBucket", "OperationAborted")


FOREIGN: dict[str, Any] = {"foreign": True}  # _bucket's answer for another account's bucket


class AccessLogsStep(Step):
    title = "access logs"
    reads = ("alb_arn", "alb_attributes", "purge")  # the load balancer's ARN, when it exists

    # -- observe -------------------------------------------------------------------------------
    def _bucket(self, ctx: Context, name: str) -> dict[str, Any] | None:
        """What the bucket has: tags, policy, encryption, public access block, lifecycle, whether
        it holds objects; None when there is no such bucket; FOREIGN when another account has it."""
        s3 = ctx.client("s3")
        with doing(f"look up S3 bucket {name}"):
            try:
                s3.head_bucket(Bucket=name, ExpectedBucketOwner=ctx.account_id)
            except Exception as exc:
                if _missing(exc):
                    return None
                if _foreign(exc):
                    return FOREIGN
                raise
            found: dict[str, Any] = {}
            found["tags"] = self._read(lambda: s3.get_bucket_tagging(Bucket=name)["TagSet"], "NoSuchTagSet", [])
            found["tags"] = {t["Key"]: t["Value"] for t in found["tags"]}
            found["policy"] = self._read(
                lambda: json.loads(s3.get_bucket_policy(Bucket=name)["Policy"]), "NoSuchBucketPolicy", None
            )
            found["encryption"] = self._read(
                lambda: s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"],
                "ServerSideEncryptionConfigurationNotFoundError",
                None,
            )
            found["public"] = self._read(
                lambda: s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"],
                "NoSuchPublicAccessBlockConfiguration",
                None,
            )
            found["lifecycle"] = self._read(
                lambda: s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"],
                "NoSuchLifecycleConfiguration",
                [],
            )
            found["empty"] = not s3.list_objects_v2(Bucket=name, MaxKeys=1).get("KeyCount", 0)
        return found

    @staticmethod
    def _read(call: Any, absent: str, default: Any) -> Any:
        try:
            return call()
        except Exception as exc:
            if is_code(exc, absent):
                return default
            raise

    @staticmethod
    def _lb_attributes(ctx: Context) -> dict[str, str]:
        """The load balancer's attributes as LoadBalancerStep read them ({} before it exists)."""
        return dict(ctx.facts.get("alb_attributes", {}))

    def _owned(self, ctx: Context, name: str, bucket: dict[str, Any]) -> bool:
        """The bucket carries this stack's tags -- or none at all and holds nothing: ecsup made it
        and stopped before tagging it (CreateBucket takes no tags); the name holds this account's ID."""
        return ctx.names.owns(bucket["tags"]) or (not bucket["tags"] and bucket["empty"])

    def _changes(self, ctx: Context, name: str, bucket: dict[str, Any]) -> list[Change]:
        days = ctx.config.service.log_retention_days
        changes = []
        if not ctx.names.owns(bucket["tags"]):
            changes.append(Change("tags", "none", "ecsup's"))
        if bucket["policy"] != bucket_policy(ctx, name):
            changes.append(
                Change("bucket policy", "other" if bucket["policy"] else "none", "ELB writes logs, TLS only")
            )
        if _algorithms(bucket["encryption"]) != ["AES256"]:
            changes.append(Change("encryption", "other" if bucket["encryption"] else "none", "SSE-S3"))
        if bucket["public"] != BLOCK_PUBLIC:
            changes.append(Change("public access", "not fully blocked", "blocked"))
        have_days = next(
            (r.get("Expiration", {}).get("Days") for r in bucket["lifecycle"] if r.get("ID") == LIFECYCLE_RULE), None
        )
        if have_days != days:
            changes.append(Change("expire logs after (days)", str(have_days or "never"), str(days)))
        return changes

    # -- plan ----------------------------------------------------------------------------------
    def plan(self, ctx: Context) -> list[Action]:
        on = ctx.config.load_balancer.access_logs
        name = bucket_name(ctx)
        attrs = self._lb_attributes(ctx)
        logging = attrs.get("access_logs.s3.enabled", "false") == "true"
        if not on and not logging:
            return []  # nothing to do, and no read: a bucket kept from earlier is destroy --purge's
        bucket = self._bucket(ctx, name)
        actions: list[Action] = []
        if bucket is FOREIGN:
            if on:
                ctx.conflicts.append(foreign_conflict(name))
            return []  # turning logging off needs no bucket
        if bucket is not None and not self._owned(ctx, name, bucket):
            ctx.conflicts.append(f"S3 bucket {name!r} exists but does not carry ecsup's tags for this stack")
            return []
        days = ctx.config.service.log_retention_days
        if on and bucket is None:
            actions.append(
                Action(
                    "create",
                    "access log bucket",
                    name,
                    f"SSE-S3, public access blocked, logs expire after {days} days",
                    run=partial(self._converge, ctx, name, None),
                )
            )
        elif on and bucket is not None:
            changes = self._changes(ctx, name, bucket)
            if changes:
                actions.append(
                    Action(
                        "update", "access log bucket", name, "", changes, run=partial(self._converge, ctx, name, bucket)
                    )
                )
            else:
                actions.append(Action("noop", "access log bucket", name, f"logs expire after {days} days"))
        elif bucket is not None:
            actions.append(
                Action(
                    "noop", "access log bucket", name, "access logs off; kept: holds logs (destroy --purge deletes it)"
                )
            )
        want = wanted_attributes(name, on)
        if attrs or on:  # a load balancer to set, or one still to be created
            differ = [Change(k, attrs.get(k, "false" if k.endswith("enabled") else ""), v) for k, v in want.items()]
            differ = [c for c in differ if c.old != c.new]
            if differ:
                actions.append(
                    Action(
                        "update",
                        "load balancer",
                        ctx.names.alb,
                        "access logs " + ("on" if on else "off"),
                        differ,
                        run=partial(self._set_attributes, ctx, want),
                    )
                )
        return actions

    # -- apply ---------------------------------------------------------------------------------
    def _converge(self, ctx: Context, name: str, bucket: dict[str, Any] | None) -> str:
        s3 = ctx.client("s3")
        settle = ctx.timeouts.propagation
        if bucket is None:
            with doing(f"create S3 bucket {name}"):
                kwargs: dict[str, Any] = {}
                if ctx.region != "us-east-1":  # us-east-1 refuses its own name as LocationConstraint
                    kwargs["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}

                def create() -> None:
                    try:
                        s3.create_bucket(Bucket=name, ObjectOwnership="BucketOwnerEnforced", **kwargs)
                    except Exception as exc:
                        if is_code(exc, "BucketAlreadyExists"):  # another account's, taken since the plan
                            raise OwnershipConflict(foreign_conflict(name), hint=FOREIGN_HINT) from None
                        if not is_code(exc, "BucketAlreadyOwnedByYou"):
                            raise

                waiting.retry(
                    ctx, f"S3 to create bucket {name}", create, lambda e: is_code(e, "OperationAborted"), settle
                )
        days = ctx.config.service.log_retention_days
        calls: list[tuple[str, Any]] = [
            ("tags", lambda: s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": ctx.names.tag_list()})),
            (
                "public access block",
                lambda: s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=BLOCK_PUBLIC),
            ),
            (
                "encryption",
                lambda: s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration=ENCRYPTION),
            ),
            ("policy", lambda: s3.put_bucket_policy(Bucket=name, Policy=json.dumps(bucket_policy(ctx, name)))),
            (
                "lifecycle",
                lambda: s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration=lifecycle(days)),
            ),
        ]
        with doing(f"configure S3 bucket {name}"):
            for what, call in calls:
                waiting.retry(ctx, f"S3 bucket {name} to take its {what}", call, _settling, settle)
        return "SSE-S3, TLS only, ELB may write"

    def _set_attributes(self, ctx: Context, want: dict[str, str]) -> str:
        on = want["access_logs.s3.enabled"] == "true"

        def modify() -> None:
            ctx.client("elbv2").modify_load_balancer_attributes(
                LoadBalancerArn=ctx.facts["alb_arn"], Attributes=[{"Key": k, "Value": v} for k, v in want.items()]
            )

        with doing(f"set the access logs of load balancer {ctx.names.alb}"):
            if on:
                # ELB checks that it may write to the bucket (it puts a test object) and answers
                # InvalidConfigurationRequest "Access Denied for bucket: ..." until the bucket policy
                # written moments ago is visible to it: retried, bounded; a bucket it can never
                # write to (KMS-encrypted, another region) ends the wait with AWS's message.
                waiting.retry(
                    ctx,
                    f"load balancer {ctx.names.alb} to accept bucket {want['access_logs.s3.bucket']} for its logs",
                    modify,
                    lambda e: is_code(e, "InvalidConfigurationRequest"),
                    ctx.timeouts.propagation,
                )
            else:
                modify()
        return "access logs " + ("on" if on else "off")

    # -- destroy -------------------------------------------------------------------------------
    def plan_destroy(self, ctx: Context) -> list[Action]:
        name = bucket_name(ctx)
        bucket = self._bucket(ctx, name)
        if bucket is None or bucket is FOREIGN:  # another account's is not this stack's to keep or delete
            return []
        if not ctx.facts.get("purge"):
            return [Action("keep", "access log bucket", name, "holds access logs (use --purge to delete)")]
        if not ctx.names.owns(bucket["tags"]) and not bucket["empty"]:
            return [Action("keep", "access log bucket", name, "not created by ecsup: left alone")]
        return [
            Action(
                "delete",
                "access log bucket",
                name,
                "--purge: its logs too",
                run=partial(self._delete, ctx, name),
                after=(load_balancer_ref(ctx),),  # nothing writes to it any more
            )
        ]

    def _delete(self, ctx: Context, name: str) -> str:
        s3 = ctx.client("s3")
        removed = 0
        with doing(f"empty S3 bucket {name}"):
            try:
                for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
                    keys = [
                        {"Key": o["Key"], "VersionId": o["VersionId"]}
                        for o in page.get("Versions", []) + page.get("DeleteMarkers", [])
                    ]
                    for i in range(0, len(keys), 1000):  # DeleteObjects takes up to 1,000 keys
                        s3.delete_objects(Bucket=name, Delete={"Objects": keys[i : i + 1000], "Quiet": True})
                    removed += len(keys)
                s3.delete_bucket(Bucket=name)
            except Exception as exc:
                if _missing(exc):
                    return "already gone"
                raise
        return f"deleted ({removed} object{'s' if removed != 1 else ''})"
