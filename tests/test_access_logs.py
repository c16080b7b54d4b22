"""Issue 20: `[load_balancer] access_logs = true` -- an S3 bucket ecsup owns, the ALB logging into
it, planned, priced, kept by destroy unless --purge; on the strict layer (AWS refuses a bucket the
load balancer cannot write to)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import Recorder, client, config_text, explain, invoke

from ecsup import engine
from ecsup.config import parse
from ecsup.context import SilentUI
from ecsup.errors import EXIT_CONFLICT, AwsError, ConfigError, OwnershipConflict, WaitTimeout
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


# -- a bucket name another account holds ---------------------------------------------------------
@pytest.fixture
def config_file(tmp_path: Any) -> Any:
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    return path


class Waits(SilentUI):
    """A UI that records the waits shown."""

    def __init__(self) -> None:
        self.progress: list[tuple[str, str]] = []

    def wait_progress(self, what: str, state: str, elapsed: float, bound: float) -> None:
        self.progress.append((what, state))


def test_a_bucket_name_another_account_holds_is_a_conflict_in_plan_and_create(
    aws: Recorder, make_ctx: Any, config_file: Any
) -> None:
    from ecsup.emulation.s3 import mark_foreign

    engine.create(make_ctx())
    mark_foreign(BUCKET)  # bucket names are global; ecsup's default one is predictable
    # the strict layer plays S3: another account's bucket answers 403, CreateBucket BucketAlreadyExists
    s3 = client("s3")
    with pytest.raises(ClientError) as head:
        s3.head_bucket(Bucket=BUCKET, ExpectedBucketOwner="123456789012")
    assert head.value.response["Error"]["Code"] == "403"
    with pytest.raises(ClientError) as create:
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert create.value.response["Error"]["Code"] == "BucketAlreadyExists"

    config_file.write_text(config_text(ON))
    aws.reset()
    for command in ("plan", "create"):
        result = invoke(command, "-c", str(config_file))
        assert result.exit_code == EXIT_CONFLICT == 4, explain(result)
        assert "Traceback" not in result.output and "AccessDenied" not in result.output
        assert f"S3 bucket '{BUCKET}' belongs to another AWS account" in result.stderr, result.stderr
        assert "[load_balancer] access_logs_bucket" in result.stderr, result.stderr
    assert aws.writes() == []  # nothing changed
    assert lb_logging().get("access_logs.s3.enabled", "false") == "false"

    # a name of one's own: created, and the load balancer logs into it
    config_file.write_text(config_text(ON + 'access_logs_bucket = "acme-web-dev-alb-logs"\n'))
    result = invoke("create", "-c", str(config_file))
    assert result.exit_code == 0, explain(result)
    assert lb_logging()["access_logs.s3.bucket"] == "acme-web-dev-alb-logs"
    assert "acme-web-dev-alb-logs" in buckets()


def test_a_bucket_taken_by_another_account_after_the_plan_is_a_conflict(aws: Recorder, make_ctx: Any) -> None:
    from ecsup.emulation.s3 import mark_foreign

    engine.create(make_ctx())
    ctx = make_ctx(config_text(ON))
    outcome = engine.make_plan(ctx)
    mark_foreign(BUCKET)  # between the plan and CreateBucket
    with pytest.raises(OwnershipConflict) as err:
        engine.apply(ctx, outcome)
    assert err.value.exit_code == EXIT_CONFLICT
    assert "access_logs_bucket" in (err.value.hint or "")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("ab", "3-63 lowercase"),
        ("Web-Logs", "3-63 lowercase"),
        ("-logs", "3-63 lowercase"),
        ("my..logs", "no two dots"),
        ("192.168.5.4", "IP address"),
        ("xn--logs", "S3 reserves"),
        ("logs-s3alias", "S3 reserves"),
        ("a" * 64, "3-63 lowercase"),
    ],
)
def test_the_bucket_name_key_follows_s3s_naming_rules(name: str, why: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(config_text(ON + f'access_logs_bucket = "{name}"\n'))
    [(key, message)] = err.value.problems
    assert key == "load_balancer.access_logs_bucket" and why in message, message
    assert parse(config_text(ON + 'access_logs_bucket = "acme.web-dev.logs"\n')).load_balancer.access_logs_bucket


def test_init_writes_the_bucket_name_key_commented(tmp_path: Any) -> None:
    import tomllib

    path = tmp_path / "ecsup.toml"
    result = invoke(
        "init", "-c", str(path), "--app", "web", "--env", "dev", "--zone", "test.example.com", "--image", "nginx:1"
    )
    assert result.exit_code == 0, explain(result)
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("# access_logs_bucket = "))
    assert lines[at - 1].startswith("# #")  # under a comment
    start = lines.index("# [load_balancer]")
    section = tomllib.loads("\n".join(line[2:] for line in lines[start : lines.index("", start)]))
    assert parse(
        config_text(
            "\n[load_balancer]\n" + f'access_logs_bucket = "{section["load_balancer"]["access_logs_bucket"]}"\n'
        )
    )


# -- a new bucket settles ---------------------------------------------------------------------------
def test_the_first_create_waits_out_a_new_bucket_and_elbs_view_of_its_policy(
    aws: Recorder, make_ctx: Any, clock: Any
) -> None:
    ui = Waits()
    engine.create(make_ctx(config_text(ON), ui=ui))  # the stack and its access logs, in one first create
    assert lb_logging()["access_logs.s3.enabled"] == "true"
    assert buckets() == [BUCKET]
    said = {(what, state) for what, state in ui.progress}
    # S3 answered the calls after CreateBucket with NoSuchBucket, then OperationAborted; ELB refused
    # the attributes until it saw the policy: each retried, and shown as a wait
    assert any("S3 bucket" in w and "NoSuchBucket" in s for w, s in said), said
    assert any("S3 bucket" in w and "OperationAborted" in s for w, s in said), said
    assert any("accept bucket" in w and "InvalidConfigurationRequest" in s for w, s in said), said
    assert planned(make_ctx, config_text(ON)) == []


def test_the_emulation_plays_a_new_bucket_settling(aws: Recorder, clock: Any) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="fresh-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    with pytest.raises(ClientError) as early:
        s3.put_bucket_tagging(Bucket="fresh-bucket", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    assert early.value.response["Error"]["Code"] == "NoSuchBucket"
    with pytest.raises(ClientError) as again:
        s3.create_bucket(Bucket="fresh-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert again.value.response["Error"]["Code"] == "OperationAborted"
    clock.sleep(2.0)  # the second half of the window: writes are aborted
    with pytest.raises(ClientError) as later:
        s3.put_bucket_tagging(Bucket="fresh-bucket", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    assert later.value.response["Error"]["Code"] == "OperationAborted"
    clock.sleep(2.0)
    s3.put_bucket_tagging(Bucket="fresh-bucket", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    assert s3.get_bucket_tagging(Bucket="fresh-bucket")["TagSet"] == [{"Key": "a", "Value": "b"}]


def test_a_bucket_elb_never_may_write_to_ends_the_wait_with_awss_answer(aws: Recorder, make_ctx: Any) -> None:
    from conftest import fail_first

    engine.create(make_ctx())
    aws.injectors.append(
        fail_first(
            "elbv2",
            "ModifyLoadBalancerAttributes",
            "InvalidConfigurationRequest",
            10**6,
            f"Access Denied for bucket: {BUCKET}. Please check S3bucket permission",
        )
    )
    with pytest.raises(WaitTimeout, match="Access Denied for bucket"):
        engine.create(make_ctx(config_text(ON)))
