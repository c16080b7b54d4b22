"""Leaving a shared load balancer, and what the stacks sharing it are told: the first stack out
hands the listener's default certificate over to one that serves the stacks that stay (their
own, a `certificate_arn`, an ECDSA one) or keeps its own and says so, never waiting for a
release that cannot come; a join that could pass ELB's targets quota during blue/green
deployments is refused before any change; the lines about the shared part say what happened."""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import pytest
from conftest import REGION, ZONE, Recorder, change_records, client, config_text, issued_certificate
from test_shared_lb import SHARED, all_load_balancers, api, both_planned_first, https_listener, rules, web

from ecsup import engine
from ecsup.cli import run_create, run_destroy
from ecsup.errors import ConfigError
from ecsup.render import ConsoleUI, make_console


# -- helpers -----------------------------------------------------------------------------
def destroyed(make_ctx: Any, text: str, purge: bool = False) -> tuple[dict[str, Any], str]:
    """run_destroy with a plain console: (what it reports, what it printed)."""
    ctx = make_ctx(text)
    out = io.StringIO()
    ctx.ui = ConsoleUI(make_console(out), interactive=False)
    result = run_destroy(ctx, ctx.ui, purge)
    return result, out.getvalue()


def created(make_ctx: Any, text: str) -> str:
    ctx = make_ctx(text)
    out = io.StringIO()
    ctx.ui = ConsoleUI(make_console(out), interactive=False)
    run_create(ctx, ctx.ui)
    return out.getvalue()


def listener_certificates() -> dict[str, bool]:
    """The shared HTTPS listener's certificates: ARN -> whether it is the default."""
    elb = client("elbv2")
    found: dict[str, bool] = {}
    for page in elb.get_paginator("describe_listener_certificates").paginate(
        ListenerArn=https_listener()["ListenerArn"]
    ):
        for c in page["Certificates"]:
            found[c["CertificateArn"]] = found.get(c["CertificateArn"], False) or c["IsDefault"]
    return found


def default_certificate() -> dict[str, Any]:
    [arn] = [a for a, default in listener_certificates().items() if default]
    return dict(client("acm").describe_certificate(CertificateArn=arn)["Certificate"])


def certificates() -> dict[str, dict[str, str]]:
    """Every certificate of the region (all key types) -> its tags."""
    acm = client("acm")
    listed = acm.list_certificates(Includes={"keyTypes": ["RSA_2048", "EC_prime256v1"]})["CertificateSummaryList"]
    return {
        c["CertificateArn"]: {
            t["Key"]: t["Value"] for t in acm.list_tags_for_certificate(CertificateArn=c["CertificateArn"])["Tags"]
        }
        for c in listed
    }


def covers(cert: dict[str, Any], host: str) -> bool:
    names = {cert["DomainName"], *cert.get("SubjectAlternativeNames", [])}
    return host in names or f"*.{host.split('.', 1)[1]}" in names


def requested_certificate(domain: str, key_algorithm: str) -> str:
    """A DNS-validated certificate with the given key algorithm (as issued_certificate)."""
    from ecsup import emulation

    acm = client("acm")
    arn = str(
        acm.request_certificate(DomainName=domain, ValidationMethod="DNS", KeyAlgorithm=key_algorithm)["CertificateArn"]
    )
    assert emulation.ACTIVE is not None
    emulation.ACTIVE.clock.sleep(emulation.ACTIVE.delays.validation_records)  # type: ignore[attr-defined]
    options = acm.describe_certificate(CertificateArn=arn)["Certificate"]["DomainValidationOptions"]
    change_records(
        "UPSERT",
        *(
            {
                "Name": o["ResourceRecord"]["Name"],
                "Type": "CNAME",
                "TTL": 300,
                "ResourceRecords": [{"Value": o["ResourceRecord"]["Value"]}],
            }
            for o in options
        ),
    )
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "ISSUED"
    return arn


def api_with_certificate(arn: str) -> str:
    return config_text(
        SHARED,
        replace={
            'app = "web"': 'app = "api"',
            f'hostname = "www.{ZONE}"': f'hostname = "api.{ZONE}"\ncertificate_arn = "{arn}"',
        },
    )


def line(output: str, start: str) -> str:
    """The one printed line that starts (after its indent) with ``start``."""
    found = [x.strip() for x in output.splitlines() if x.strip().startswith(start)]
    assert len(found) == 1, (start, output)
    return found[0]


# -- the strict layer ----------------------------------------------------------------------
def test_acm_lists_only_rsa_certificates_by_default_and_refuses_to_delete_one_in_use(aws, clock, strict_aws):
    """ListCertificates without Includes.keyTypes lists RSA_1024/RSA_2048 only (ACM API reference,
    Filters); a certificate a listener uses cannot be deleted (ResourceInUseException)."""
    acm = client("acm")
    rsa = issued_certificate(f"rsa.{ZONE}")
    ecdsa = requested_certificate(f"ec.{ZONE}", "EC_prime256v1")
    assert acm.describe_certificate(CertificateArn=ecdsa)["Certificate"]["KeyAlgorithm"] == "EC_prime256v1"
    assert [c["CertificateArn"] for c in acm.list_certificates()["CertificateSummaryList"]] == [rsa]
    every = acm.list_certificates(Includes={"keyTypes": ["RSA_2048", "EC_prime256v1"]})["CertificateSummaryList"]
    assert sorted(c["CertificateArn"] for c in every) == sorted([rsa, ecdsa])
    only = acm.list_certificates(Includes={"keyTypes": ["EC_prime256v1"]})["CertificateSummaryList"]
    assert [c["CertificateArn"] for c in only] == [ecdsa]


def test_a_certificate_on_a_listener_cannot_be_deleted(aws, make_ctx, clock, strict_aws):
    engine.create(make_ctx(web()))
    [cert] = listener_certificates()
    with pytest.raises(Exception, match="ResourceInUseException"):
        client("acm").delete_certificate(CertificateArn=cert)


def test_elb_refuses_a_target_past_1000_on_a_load_balancer(aws, make_ctx):
    engine.create(make_ctx(web()))
    elb = client("elbv2")
    groups = {g["TargetGroupName"]: g["TargetGroupArn"] for g in elb.describe_target_groups()["TargetGroups"]}
    have = sum(
        len(elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]) for arn in groups.values()
    )
    ips = [f"10.1.{i // 250}.{i % 250 + 1}" for i in range(1000 - have)]
    for i in range(0, len(ips), 200):
        elb.register_targets(
            TargetGroupArn=groups["web-dev-blue"], Targets=[{"Id": ip, "Port": 8080} for ip in ips[i : i + 200]]
        )
    elb.register_targets(TargetGroupArn=groups["web-dev-blue"], Targets=[{"Id": ips[0], "Port": 8080}])  # not new
    with pytest.raises(Exception, match="TooManyTargets"):
        elb.register_targets(TargetGroupArn=groups["web-dev-green"], Targets=[{"Id": "10.2.0.1", "Port": 8080}])


# -- the first stack out -------------------------------------------------------------------
def test_the_first_stack_out_hands_the_default_over_to_the_second_s_certificate(aws, make_ctx, clock):
    """Both stacks in one zone: web's certificate (*.zone) is the default and covers api's
    hostname, so api's own is not on the listener. web leaves: api's own becomes the default."""
    engine.create(make_ctx(web()))
    engine.create(make_ctx(api()))
    web_cert = next(iter(listener_certificates()))
    assert len(listener_certificates()) == 1  # api's hostname is covered by web's certificate
    api_cert = next(a for a, tags in certificates().items() if tags.get("ecsup:app") == "api")

    before = clock.now
    result, printed = destroyed(make_ctx, web())
    took = clock.now - before

    assert listener_certificates() == {api_cert: True}
    cert = default_certificate()
    assert cert["Status"] == "ISSUED" and covers(cert, f"api.{ZONE}")
    assert web_cert not in certificates()  # web's own is deleted
    assert sorted(rules()) == [f"api.{ZONE}"]
    assert took < 300, took  # no wait for a release that cannot come (the bound is 900 s)
    said = line(printed, "- deleted   listener certificate edge web-dev")
    assert f"the default handed over to {api_cert}" in said, said
    assert not result["failed"] and not result["left"]
    assert engine.make_plan(_planning(make_ctx, api())).changes() == []


def _planning(make_ctx: Any, text: str) -> Any:
    ctx = make_ctx(text)
    ctx.mode = "plan"
    return ctx


def test_the_first_stack_out_hands_over_to_a_stack_s_own_certificate_arn(aws, make_ctx, clock, strict_aws):
    """api brings its certificate (dns.certificate_arn: not ecsup's, no ecsup tags): its rule
    names it, and web's leaving makes it the default."""
    engine.create(make_ctx(web()))
    own = issued_certificate(f"api.{ZONE}")
    clock.sleep(strict_aws.delays.certificate_usable + 1)
    engine.create(make_ctx(api_with_certificate(own)))
    assert own not in listener_certificates()  # covered by web's *.zone

    before = clock.now
    result, printed = destroyed(make_ctx, web())

    assert clock.now - before < 300
    assert listener_certificates() == {own: True}
    assert not result["failed"] and not result["left"]
    assert f"the default handed over to {own}" in line(printed, "- deleted   listener certificate edge web-dev")
    assert [tags.get("ecsup:app") for tags in certificates().values()] == [None]  # web's went, api's stays
    # and api leaves too: its certificate is never deleted, the load balancer goes
    result, printed = destroyed(make_ctx, api_with_certificate(own))
    assert all_load_balancers() == [] and list(certificates()) == [own]
    assert "never deleted by ecsup" in line(printed, f"= kept      certificate {own}")


def test_an_ecdsa_certificate_arn_is_found_for_a_rule_that_does_not_name_it(aws, make_ctx, clock, strict_aws):
    """A rule made before ecsup named its stack's certificate: the certificates of the region
    are read for every key type (ListCertificates' default lists RSA only), and one no ecsup
    stack owns that covers the hostname takes over."""
    engine.create(make_ctx(web()))
    ecdsa = requested_certificate(f"api.{ZONE}", "EC_prime256v1")
    clock.sleep(strict_aws.delays.certificate_usable + 1)
    engine.create(make_ctx(api_with_certificate(ecdsa)))
    rule = rules()[f"api.{ZONE}"]
    client("elbv2").remove_tags(ResourceArns=[rule["RuleArn"]], TagKeys=["ecsup:certificate"])

    before = clock.now
    result, printed = destroyed(make_ctx, web())

    assert clock.now - before < 300
    assert listener_certificates() == {ecdsa: True}
    assert default_certificate()["KeyAlgorithm"] == "EC_prime256v1"
    assert not result["failed"] and not result["left"]
    assert f"the default handed over to {ecdsa}" in line(printed, "- deleted   listener certificate edge web-dev")


def test_a_leaving_certificate_no_other_can_replace_is_kept_and_said_promptly(aws, make_ctx, clock):
    """A rule not ecsup's serves legacy.<zone>, which only web's certificate covers (no
    certificate of the region that ecsup may use does): web's certificate stays on the listener,
    is not deleted (nor its validation records), and destroy says so at once."""
    engine.create(make_ctx(web()))
    web_cert = next(iter(listener_certificates()))
    client("elbv2").create_rule(
        ListenerArn=https_listener()["ListenerArn"],
        Priority=700,
        Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [f"legacy.{ZONE}"]}}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
    )

    before = clock.now
    result, printed = destroyed(make_ctx, web())

    assert clock.now - before < 300
    assert listener_certificates() == {web_cert: True}  # still serving legacy.<zone>
    assert web_cert in certificates()
    assert all_load_balancers() == ["edge"]
    assert not result["failed"] and not result["left"]
    kept = {(a["resource"], a["name"]): a.get("result", "") for a in result["kept"]}
    assert f"the only certificate on edge HTTPS:443 for legacy.{ZONE}" in kept[("listener certificate", "edge web-dev")]
    cert_line = line(printed, f"= kept      certificate {ZONE} ({REGION})")
    assert "it stays on edge HTTPS:443" in cert_line, cert_line
    assert any(r == "validation records" for r, _ in kept)
    assert client("acm").describe_certificate(CertificateArn=web_cert)["Certificate"]["Status"] == "ISSUED"


def test_the_certificate_a_remaining_stack_brings_serves_a_rule_not_ecsup_s_too(aws, make_ctx, clock):
    """A rule not ecsup's (legacy.<zone>, evaluated after none in particular) has no certificate of
    its own to bring; api's *.zone, brought for api's hostname, covers it too: nothing is kept."""
    engine.create(make_ctx(web()))
    engine.create(make_ctx(api()))
    api_cert = next(a for a, tags in certificates().items() if tags.get("ecsup:app") == "api")
    client("elbv2").create_rule(
        ListenerArn=https_listener()["ListenerArn"],
        Priority=700,
        Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [f"legacy.{ZONE}"]}}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
    )

    result, printed = destroyed(make_ctx, web())

    assert listener_certificates() == {api_cert: True}
    assert [tags.get("ecsup:app") for tags in certificates().values()] == ["api"]
    assert not [a for a in result["kept"] if "certificate" in str(a["resource"])], result["kept"]
    said = line(printed, "- deleted   listener certificate edge web-dev")
    assert f"added {api_cert} for api.{ZONE}; the default handed over to {api_cert}" in said, said
    kept = line(printed, "= kept      load balancer edge")
    assert kept.endswith("(kept: other rules remain on its listeners ((a rule not ecsup's, priority 700), api-dev))")


def test_a_certificate_someone_put_on_another_listener_is_kept_not_waited_for(aws, make_ctx, clock, strict_aws):
    """web (its own load balancer) leaves while its certificate is also on edge's listener
    (added there by hand): ACM refuses to delete it for as long as it is; destroy says so at once
    instead of retrying for the release bound and failing."""
    engine.create(make_ctx(api()))
    engine.create(make_ctx(config_text()))  # web on its own load balancer
    web_cert = next(a for a, tags in certificates().items() if tags.get("ecsup:app") == "web")
    client("elbv2").add_listener_certificates(
        ListenerArn=https_listener()["ListenerArn"], Certificates=[{"CertificateArn": web_cert}]
    )

    before = clock.now
    result, printed = destroyed(make_ctx, config_text())

    assert clock.now - before < 300
    assert web_cert in certificates() and web_cert in listener_certificates()
    assert not result["failed"] and not result["left"]
    said = line(printed, f"= kept      certificate {ZONE} ({REGION})")
    assert "still in use by edge HTTPS:443" in said, said


# -- the targets quota -----------------------------------------------------------------------
def test_a_join_that_could_pass_the_targets_quota_during_blue_green_is_refused(aws: Recorder, make_ctx, monkeypatch):
    """web may scale to 400 tasks (800 targets while a deployment runs both sets): api joining
    with 101 tasks could bring 202 more, past the 1,000 targets a load balancer takes."""
    scaling = "\n[service.autoscaling]\nmin = 1\nmax = 400\ncpu_target = 60\n"
    engine.create(make_ctx(web(scaling)))
    many = config_text(
        SHARED,
        replace={
            'app = "web"': 'app = "api"',
            f'hostname = "www.{ZONE}"': f'hostname = "api.{ZONE}"',
            "desired_count = 1": "desired_count = 101",
        },
    )
    aws.reset()
    with pytest.raises(ConfigError) as refused:
        engine.create(make_ctx(many))
    assert aws.mutating() == []
    assert refused.value.exit_code == 2
    text = str(refused.value.problems)
    assert (
        "edge could have 1002 targets registered during blue/green deployments, past this account's quota of 1000"
        in text
    ), text
    assert (
        "this stack up to 202 (2 x desired_count 101)" in text
        and "web-dev up to 800 (2 x auto scaling max 400)" in text
    )
    # the quota is the account's: AWS's default 1,000, or what AWS raised it to
    limits = client("elbv2").describe_account_limits()["Limits"]
    assert {x["Name"]: x["Max"] for x in limits}["targets-per-application-load-balancer"] == "1000"
    from ecsup.emulation import elbv2 as emulated

    with monkeypatch.context() as raised:
        raised.setattr(emulated, "TARGETS_PER_LOAD_BALANCER", 1100)
        plan = engine.make_plan(_planning(make_ctx, many))
        assert any(a.resource == "listener rule" and a.kind == "create" for a in plan.actions)
    # the first stack on a new shared load balancer is checked too: alone, it could pass it
    alone = many.replace('shared = "edge"', 'shared = "edge2"').replace("desired_count = 101", "desired_count = 501")
    with pytest.raises(
        ConfigError, match=r"edge2 could have 1002 targets .*: this stack up to 1002 \(2 x desired_count"
    ):
        engine.make_plan(_planning(make_ctx, alone))
    # 100 tasks fit exactly: the join is planned
    plan = engine.make_plan(_planning(make_ctx, many.replace("desired_count = 101", "desired_count = 100")))
    assert any(a.resource == "listener rule" and a.kind == "create" for a in plan.actions)


# -- what the lines say ----------------------------------------------------------------------
def test_a_load_balancer_made_meanwhile_reads_found_not_created(aws: Recorder, make_ctx, monkeypatch):
    """Both creates plan to make edge; the second, under the shared lock, finds it made: its
    lines say "found", and it is counted as unchanged."""
    hold = both_planned_first(monkeypatch)
    aws.injectors = [hold]
    outputs: dict[str, Any] = {}

    def run(text: str, key: str) -> None:
        try:
            outputs[key] = created(make_ctx, text)
        except BaseException as exc:  # surfaced below
            outputs[key] = exc

    threads = [threading.Thread(target=run, args=(t, k)) for t, k in ((web(), "web"), (api(), "api"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    aws.injectors = []

    assert all(isinstance(o, str) for o in outputs.values()), outputs
    printed = "\n".join(outputs.values())
    assert "(found (made" not in printed and "created   load balancer edge  (found" not in printed, printed
    made = [o for o in outputs.values() if "+ created   load balancer edge  (created" in o]
    found = [o for o in outputs.values() if "= found     load balancer edge  (made by another stack meanwhile)" in o]
    assert len(made) == 1 and len(found) == 1, printed
    # its HTTPS listener too is made by one and found by the other -- not always the same one:
    # the stack that made the load balancer can find the listener made meanwhile by the other
    listener_found = [o for o in outputs.values() if "= found     listener edge HTTPS:443  (made by another stack" in o]
    listener_made = [o for o in outputs.values() if "+ created   listener edge HTTPS:443" in o]
    assert len(listener_found) == 1 and len(listener_made) == 1, printed


def test_the_last_out_while_another_stack_leaves_says_so_and_the_other_deletes_it(aws: Recorder, make_ctx):
    """web leaves while api's destroy has deleted its rule but not yet its tasks' security group
    (which admits edge's): web keeps edge for api, saying api is leaving (not joining), and api,
    out last, deletes it; then nothing of the shared load balancer is left in SSM either."""
    engine.create(make_ctx(web()))
    engine.create(make_ctx(api()))
    api_tasks = client("ec2").describe_security_groups(GroupNames=["api-dev-tasks"])["SecurityGroups"][0]["GroupId"]
    at_group, go = threading.Event(), threading.Event()

    def pause(service: str, operation: str, params: dict[str, Any]) -> None:
        if operation == "DeleteSecurityGroup" and params.get("GroupId") == api_tasks and not go.is_set():
            at_group.set()
            assert go.wait(120)

    aws.injectors = [pause]
    outputs: dict[str, Any] = {}

    def leave_api() -> None:
        try:
            outputs["api"] = destroyed(make_ctx, api())
        except BaseException as exc:  # surfaced below
            outputs["api"] = exc

    leaving = threading.Thread(target=leave_api)
    leaving.start()
    try:
        assert at_group.wait(120)
        for _ in range(600):  # api's rule goes on another of its destroy's threads
            if f"api.{ZONE}" not in rules():
                break
            time.sleep(0.05)
        outputs["web"] = destroyed(make_ctx, web())
    finally:
        go.set()
        leaving.join(120)
    aws.injectors = []

    assert not isinstance(outputs["api"], BaseException), outputs["api"]
    web_line = line(outputs["web"][1], "= kept      load balancer edge")
    assert "api-dev is leaving at the same time" in web_line and "the last one out deletes it" in web_line, web_line
    assert "joining" not in web_line
    assert "- deleted   load balancer edge  (deleted (the last stack left it)" in outputs["api"][1]
    assert all_load_balancers() == []
    ssm = [p["Name"] for p in client("ssm").describe_parameters()["Parameters"]]
    assert not [p for p in ssm if p.startswith("/ecsup/shared-lb/")], ssm


@pytest.mark.parametrize("purge", [False, True])
def test_no_shared_lock_parameter_outlives_the_last_stack(aws, make_ctx, purge):
    """The shared lock's parameters hold no data: none is left once the last stack is out, with
    --purge or without (a generation parameter an earlier version wrote included)."""
    engine.create(make_ctx(web()))
    engine.create(make_ctx(api()))
    ssm = client("ssm")
    ssm.put_parameter(Name="/ecsup/shared-lb/edge/generation", Value="old-run", Type="String")  # earlier versions

    destroyed(make_ctx, web(), purge)
    assert "/ecsup/shared-lb/edge/generation" in [p["Name"] for p in ssm.describe_parameters()["Parameters"]]
    result, printed = destroyed(make_ctx, api(), purge)
    assert not result["failed"] and not result["left"]

    assert "- deleted   load balancer edge  (deleted (the last stack left it)" in printed, printed
    left = [p["Name"] for p in ssm.describe_parameters()["Parameters"]]
    assert not [p for p in left if p.startswith("/ecsup/shared-lb/")], left
    assert not [p for p in left if p.startswith("/ecsup/api-dev/") or p.startswith("/ecsup/web-dev/")], left


@pytest.mark.parametrize(
    ("holder", "said"),
    [
        ({"command": "create"}, "api-dev is joining (security group api-dev-tasks still admits ecsup-shared-edge)"),
        (None, "api-dev has no run under way (a join or leave that stopped half-way"),
    ],
)
def test_the_last_out_says_what_the_stack_its_group_admits_is_doing(aws, make_ctx, holder, said):
    """api's tasks' group admits edge's but api has no rule on it: web, leaving last, keeps edge
    and says whether api is joining (its stack lock held by a create) or stopped half-way."""
    import json
    import os
    import socket

    engine.create(make_ctx(web()))
    ec2 = client("ec2")
    edge_group = ec2.describe_security_groups(GroupNames=["ecsup-shared-edge"])["SecurityGroups"][0]
    tags = [
        {"Key": "ecsup:app", "Value": "api"},
        {"Key": "ecsup:env", "Value": "dev"},
        {"Key": "ManagedBy", "Value": "ecsup"},
    ]
    gid = ec2.create_security_group(
        GroupName="api-dev-tasks",
        Description="api-dev tasks",
        VpcId=edge_group["VpcId"],
        TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}],
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=gid,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 8080,
                "UserIdGroupPairs": [{"GroupId": edge_group["GroupId"]}],
            }
        ],
    )
    if holder is not None:  # a live run of this very machine (its pid is this process's)
        value = dict(holder, host=socket.gethostname(), pid=os.getpid(), run="another-run", stack="api-dev")
        client("ssm").put_parameter(Name="/ecsup/api-dev/lock", Value=json.dumps(value), Type="String")

    result, printed = destroyed(make_ctx, web())

    kept = line(printed, "= kept      load balancer edge")
    assert said in kept, kept
    assert "leaving" not in kept and "the last one out deletes it" not in kept
    assert all_load_balancers() == ["edge"]
    assert not result["failed"] and not result["left"]
