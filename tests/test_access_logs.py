"""Issue 20: `[load_balancer] access_logs = true` -- an S3 bucket ecsup owns, the ALB logging into
it, planned, priced, kept by destroy unless --purge; on the strict layer (AWS refuses a bucket the
load balancer cannot write to)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Recorder, client, config_text, invoke

from ecsup import engine
from ecsup.errors import AwsError
from ecsup.steps.accesslogs import bucket_name, bucket_policy

ON = "\n[load_balancer]\naccess_logs = true\n"
BUCKET = "web-dev-logs-123456789012-eu-west-1"


def lb_arn() -> str:
    return str(client("elbv2").describe_load_balancers(Names=["web-dev"])["LoadBalancers"][0]["LoadBalancerArn"])


def lb_logging() -> dict[str, str]:
    attrs = client("elbv2").describe_load_balancer_attributes(LoadBalancerArn=lb_arn())["Attributes"]
    return {a["Key"]: a["Value"] for a in attrs if a["Key"].startswith("access_logs.")}


def buckets() -> list[str]:
    return [b["Name"] for b in client("s3").list_buckets()["Buckets"]]


def planned(make_ctx: Any, text: str) -> list[Any]:
    ctx = make_ctx(text)
    ctx.mode = "plan"
    return engine.make_plan(ctx).changes()


def test_access_logs_bucket_is_made_repaired_kept_and_purged(aws: Recorder, make_ctx: Any) -> None:
    from test_destroy import destroy

    text = config_text(ON)
    engine.create(make_ctx(text))
    s3 = client("s3")
    assert buckets() == [BUCKET]
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
    assert tags["ecsup:app"] == "web" and tags["ecsup:env"] == "dev"
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    writer = policy["Statement"][0]
    assert writer["Principal"] == {"AWS": "arn:aws:iam::156460612806:root"}  # eu-west-1's ELB account
    assert writer["Resource"] == f"arn:aws:s3:::{BUCKET}/AWSLogs/123456789012/*"
    assert policy["Statement"][1]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    rule = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"].values())
    [expiry] = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert expiry["Expiration"]["Days"] == 30  # [service] log_retention_days' default
    assert lb_logging() == {
        "access_logs.s3.enabled": "true",
        "access_logs.s3.bucket": BUCKET,
        "access_logs.s3.prefix": "",
    }
    assert planned(make_ctx, text) == []

    # someone loosens the bucket: plan says what, create repairs it
    s3.delete_bucket_policy(Bucket=BUCKET)
    s3.delete_public_access_block(Bucket=BUCKET)
    drift = {(a.resource, c.attribute) for a in planned(make_ctx, text) for c in a.changes}
    assert drift == {("access log bucket", "bucket policy"), ("access log bucket", "public access")}
    engine.create(make_ctx(text))
    assert json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"]) == policy
    assert planned(make_ctx, text) == []

    # turned off: the load balancer stops logging, the bucket (its logs) stays
    s3.put_object(Bucket=BUCKET, Key="AWSLogs/123456789012/elasticloadbalancing/log.gz", Body=b"x")
    engine.create(make_ctx(config_text()))
    assert lb_logging()["access_logs.s3.enabled"] == "false"
    assert buckets() == [BUCKET]

    # destroy keeps it (it holds logs); --purge empties and deletes it
    result = destroy(make_ctx(text))
    assert result["failed"] == [], result
    assert ("access log bucket", BUCKET) in {(a["resource"], a["name"]) for a in result["kept"]}, result
    assert buckets() == [BUCKET]
    result = destroy(make_ctx(text), purge=True)
    assert result["failed"] == [], result
    assert buckets() == []


def test_aws_refuses_logging_into_a_bucket_it_cannot_write(aws: Recorder, make_ctx: Any) -> None:
    engine.create(make_ctx())
    s3, elb = client("s3"), client("elbv2")
    s3.create_bucket(Bucket="mine", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    on = [
        {"Key": "access_logs.s3.enabled", "Value": "true"},
        {"Key": "access_logs.s3.bucket", "Value": "mine"},
    ]
    with pytest.raises(elb.exceptions.InvalidConfigurationRequestException, match="Access Denied for bucket: mine"):
        elb.modify_load_balancer_attributes(LoadBalancerArn=lb_arn(), Attributes=on)


def test_a_crash_after_the_bucket_is_made_converges(aws: Recorder, make_ctx: Any) -> None:
    from conftest import fail_first

    text = config_text(ON)
    aws.injectors.append(fail_first("s3", "PutBucketTagging", "InternalError", 99, status=500))
    with pytest.raises(AwsError, match=r"PutBucketTagging|InternalError|configure S3 bucket"):
        engine.create(make_ctx(text))
    aws.injectors.clear()
    assert buckets() == [BUCKET]  # made, not tagged: the next run adopts it (empty, its name)
    engine.create(make_ctx(text))
    assert lb_logging()["access_logs.s3.enabled"] == "true"
    assert planned(make_ctx, text) == []


def test_bucket_names_fit_and_new_regions_use_the_log_delivery_principal(make_ctx: Any) -> None:
    ctx = make_ctx(config_text(replace={'app = "web"': 'app = "a-long-app-name-of-22c"'}))
    ctx._account = "123456789012"
    name = bucket_name(ctx)
    assert len(ctx.names.stack) == 26  # the longest a stack name can be
    assert len(name) <= 63 and name.endswith("-logs-123456789012-eu-west-1"), name
    ctx._region = "ap-southeast-5"  # opened after August 2022: no ELB account, the service principal
    assert bucket_policy(ctx, name)["Statement"][0]["Principal"] == {
        "Service": "logdelivery.elasticloadbalancing.amazonaws.com"
    }


def test_cost_prices_access_logs_only_when_on(tmp_path: Any) -> None:
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    off = json.loads(invoke("cost", "--offline", "--json", "-c", str(path)).stdout)
    assert "ALB access logs (S3)" not in [i["item"] for i in off["items"]]
    path.write_text(config_text(ON))
    on = json.loads(invoke("cost", "--offline", "--json", "-c", str(path)).stdout)
    line = next(i for i in on["items"] if i["item"] == "ALB access logs (S3)")
    assert line["monthly"] > 0
    assert on["total"] == round(off["total"] + line["monthly"], 2)
