"""[dns] external = true: a domain whose DNS is at another provider. ecsup makes no Route53 call;
it prints the records the user creates there, waits for ACM (resumably), checks public DNS in
`status` and says what can go after `destroy`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    REGION,
    SECRET_GIVEN,
    ZONE,
    Recorder,
    client,
    config_text,
    explain,
    invoke,
)

from ecsup import emulation
from ecsup.config import parse
from ecsup.context import Context
from ecsup.errors import EXIT_CONFIG, EXIT_TIMEOUT, EXIT_UNHEALTHY, ConfigError
from ecsup.steps import external

HOST = "app.example.org"
DNS = f'zone = "{ZONE}"\nhostname = "www.{ZONE}"'
EXTERNAL = config_text(replace={DNS: f'external = true\nhostname = "{HOST}"'})


@pytest.fixture
def stack_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plain_output: None) -> Path:
    for key, value in SECRET_GIVEN.items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "ecsup.toml"
    path.write_text(EXTERNAL)
    return path


def route53_calls(rec: Recorder) -> list[tuple[str, str]]:
    return [c for c in rec.calls if c[0] == "route53"]


def certificates(region: str = REGION) -> list[dict[str, Any]]:
    acm = client("acm", region)
    return [
        acm.describe_certificate(CertificateArn=c["CertificateArn"])["Certificate"]
        for c in acm.list_certificates()["CertificateSummaryList"]
    ]


def validation_cname(cert: dict[str, Any]) -> tuple[str, str]:
    [option] = cert["DomainValidationOptions"]
    return option["ResourceRecord"]["Name"], option["ResourceRecord"]["Value"]


def load_balancer_dns() -> str:
    [lb] = client("elbv2").describe_load_balancers(Names=["web-dev"])["LoadBalancers"]
    return str(lb["DNSName"])


def https_certificate() -> str | None:
    elb = client("elbv2")
    [lb] = elb.describe_load_balancers(Names=["web-dev"])["LoadBalancers"]
    for listener in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]:
        if listener["Port"] == 443 and listener["Protocol"] == "HTTPS":
            return str(listener["Certificates"][0]["CertificateArn"])
    return None


def assert_nothing_left() -> None:
    elb, ec2, iam, ecs = client("elbv2"), client("ec2"), client("iam"), client("ecs")
    assert elb.describe_load_balancers()["LoadBalancers"] == []
    assert elb.describe_target_groups()["TargetGroups"] == []
    groups = ec2.describe_security_groups()["SecurityGroups"]
    assert [g["GroupName"] for g in groups if g["GroupName"].startswith("web-dev")] == []
    assert certificates() == [] and certificates("us-east-1") == []
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("web-dev")]
    assert roles == []
    clusters = ecs.describe_clusters(clusters=["web-dev"])["clusters"]
    assert all(c["status"] == "INACTIVE" for c in clusters)


def fake_resolver(answers: dict[str, set[str]]) -> Any:
    asked: list[str] = []

    def resolve(name: str) -> set[str]:
        asked.append(name)
        return answers.get(name.rstrip(".").lower(), set())

    resolve.asked = asked  # type: ignore[attr-defined]
    return resolve


# -- the configuration ---------------------------------------------------------------------
def problems(text: str) -> dict[str, str]:
    with pytest.raises(ConfigError) as raised:
        parse(text)
    return dict(raised.value.problems)


def test_external_needs_no_zone_and_requires_the_hostname():
    cfg = parse(EXTERNAL)
    assert cfg.dns.external and cfg.dns.zone == "" and cfg.dns.hostname == HOST
    assert problems(config_text(replace={DNS: "external = true"}))["dns.hostname"] == "is required"
    # without external, the zone is still required -- and the message says the way out
    assert "dns.external = true" in problems(config_text(replace={DNS: f'hostname = "{HOST}"'}))["dns.zone"]


def test_external_refuses_a_zone_a_record_kind_and_a_shared_load_balancer_with_their_key_paths():
    with_zone = problems(config_text(replace={DNS: f'zone = "{ZONE}"\nexternal = true\nhostname = "www.{ZONE}"'}))
    assert with_zone["dns.zone"].startswith("cannot be combined with dns.external = true")
    with_record = problems(config_text(replace={DNS: f'external = true\nrecord = "cname"\nhostname = "{HOST}"'}))
    assert "does not apply with dns.external = true" in with_record["dns.record"]
    shared = problems(EXTERNAL + '\n[load_balancer]\nshared = "edge"\n')
    assert "only in Route53" in shared["load_balancer.shared"]
    long_host = "a" * 60 + ".example.org"
    assert (
        "ACM limits"
        in problems(config_text(replace={DNS: f'external = true\nhostname = "{long_host}"'}))["dns.hostname"]
    )
    # the us-east-1 copy combines: ACM gives the same validation record for a name in every region
    both = parse(config_text(replace={DNS: f'external = true\ncloudfront_certificate = true\nhostname = "{HOST}"'}))
    assert both.dns.external and both.dns.cloudfront_certificate


def test_a_refused_combination_is_one_line_exit_2_and_no_aws_call(aws, tmp_path):
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text(replace={DNS: f'zone = "{ZONE}"\nexternal = true\nhostname = "www.{ZONE}"'}))
    aws.reset()
    result = invoke("create", "-c", str(path))
    assert result.exit_code == EXIT_CONFIG, explain(result)
    assert result.stderr.splitlines()[0].startswith("error: invalid configuration: dns.zone: cannot be combined")
    assert "Traceback" not in result.stderr
    assert aws.calls == []


def test_init_writes_the_key_commented(tmp_path):
    from ecsup.init import InitOptions, render

    text = render(InitOptions(app="web", env="dev", zone=ZONE, image="nginx:stable"))
    assert "# external = true" in text
    uncommented = text.replace(f'zone = "{ZONE}"', "").replace('record = "alias"', "")
    uncommented = uncommented.replace("# external = true", "external = true")
    assert parse(uncommented).dns.external  # the comment's instructions give a valid file


# -- create -> status -> destroy on the strict layer ----------------------------------------
def test_create_status_destroy_end_to_end_without_a_route53_call(aws, stack_file, monkeypatch):
    created = invoke("create", "-c", str(stack_file))
    assert created.exit_code == 0, explain(created)

    [cert] = certificates()
    assert cert["Status"] == "ISSUED"
    assert cert["DomainName"] == HOST and cert["SubjectAlternativeNames"] == [HOST]  # no wildcard without a zone
    assert https_certificate() == cert["CertificateArn"]
    name, value = validation_cname(cert)
    alb = load_balancer_dns()
    out = created.stdout
    assert f"{HOST}: the domain's DNS is at your provider (dns.external)" in out
    assert f"CNAME  {name}  ->  {value}   (certificate validation" in out
    assert f"CNAME  {HOST}.  ->  {alb.lower()}   (the site; if {HOST} is the apex of your domain" in out
    assert out.count(f"CNAME  {name}") == 1  # once a run
    assert route53_calls(aws) == []

    # status: the certificate is issued; public DNS (the system resolver) sends the name to the ALB
    resolver = fake_resolver({HOST: {"192.0.2.10", "192.0.2.11"}, alb.lower(): {"192.0.2.10", "192.0.2.11"}})
    monkeypatch.setattr(external, "RESOLVE", resolver)
    healthy = invoke("status", "-c", str(stack_file), "--json")
    assert healthy.exit_code == 0, explain(healthy)
    rows = {(r["resource"], r["name"]): r for r in json.loads(healthy.stdout)["resources"]}
    assert rows[("certificate", f"{HOST} ({REGION})")]["detail"].startswith("ISSUED")
    dns = rows[("public DNS", HOST)]
    assert dns["state"] == "OK" and "resolves to load balancer" in dns["detail"]
    assert ("DNS record", HOST) not in rows
    assert set(resolver.asked) == {HOST, alb}

    # the record not created yet: status says so, and what to create
    monkeypatch.setattr(external, "RESOLVE", fake_resolver({alb.lower(): {"192.0.2.10"}}))
    missing = invoke("status", "-c", str(stack_file), "--json")
    assert missing.exit_code == EXIT_UNHEALTHY, explain(missing)
    [row] = [r for r in json.loads(missing.stdout)["resources"] if r["resource"] == "public DNS"]
    assert row["state"] == "MISSING"
    assert row["detail"].startswith(f"{HOST} does not resolve (system resolver): create the record at your DNS")
    assert f"CNAME  {HOST}.  ->  {alb.lower()}" in row["detail"]
    # pointing elsewhere (another host, or a proxy in front)
    monkeypatch.setattr(external, "RESOLVE", fake_resolver({alb.lower(): {"192.0.2.10"}, HOST: {"198.51.100.7"}}))
    elsewhere = invoke("status", "-c", str(stack_file), "--json")
    assert elsewhere.exit_code == EXIT_UNHEALTHY, explain(elsewhere)
    [row] = [r for r in json.loads(elsewhere.stdout)["resources"] if r["resource"] == "public DNS"]
    assert row["state"] == "DRIFT"
    assert row["detail"].startswith(f"{HOST} resolves to 198.51.100.7, not to load balancer")

    destroyed = invoke("destroy", "-c", str(stack_file), "--yes")
    assert destroyed.exit_code == 0, explain(destroyed)
    assert f"{HOST}: the stack is gone; at your DNS provider you can now remove these records:" in destroyed.stdout
    assert f"CNAME  {name}  ->  {value}   (certificate validation: the certificate is deleted)" in destroyed.stdout
    assert f"CNAME  {HOST}.  ->  {alb.lower()}   (the site: its load balancer is deleted)" in destroyed.stdout
    assert_nothing_left()
    assert route53_calls(aws) == []  # not in create, status or destroy

    again = invoke("destroy", "-c", str(stack_file), "--yes")  # nothing left: nothing to remove either
    assert again.exit_code == 0, explain(again)
    assert "you can now remove" not in again.stdout


def test_status_skips_the_public_dns_check_against_an_endpoint(aws, stack_file, monkeypatch):
    assert invoke("create", "-c", str(stack_file)).exit_code == 0
    resolver = fake_resolver({})
    monkeypatch.setattr(external, "RESOLVE", resolver)
    monkeypatch.setattr(Context, "endpoint", property(lambda self: "http://127.0.0.1:4566"))
    result = invoke("status", "-c", str(stack_file))
    assert result.exit_code == 0, explain(result)  # a skipped check is not a fault
    assert "SKIPPED" in result.stdout and "skipped: AWS calls go to http://127.0.0.1:4566" in result.stdout
    assert resolver.asked == []  # no lookup at all


def test_an_apex_hostname_is_told_to_use_alias_flattening(aws, tmp_path, monkeypatch, plain_output):
    for key, value in SECRET_GIVEN.items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text(replace={DNS: 'external = true\nhostname = "example.org"'}))
    result = invoke("create", "-c", str(path))
    assert result.exit_code == 0, explain(result)
    assert f"ALIAS  example.org.  ->  {load_balancer_dns().lower()}   (the site; example.org is the apex" in (
        result.stdout
    )
    assert "ALIAS, ANAME or CNAME flattening" in result.stdout


# -- a create stopped while ACM waits for the user's records, then resumed ---------------------------
def test_a_create_stopped_by_the_certificate_timeout_resumes(aws, stack_file, clock, strict_aws):
    # the user takes ten minutes to add the records at their provider
    emulation.activate(strict_aws.with_delays(external_dns_records=600.0))

    first = invoke("create", "-c", str(stack_file), "--certificate-timeout", "5")
    assert first.exit_code == EXIT_TIMEOUT, explain(first)
    [cert] = certificates()
    assert cert["Status"] == "PENDING_VALIDATION"
    name, value = validation_cname(cert)
    assert f"CNAME  {name}  ->  {value}" in first.stdout
    assert "certificate still PENDING_VALIDATION after 5 s" in first.stderr
    assert "re-running `ecsup create` resumes" in first.stderr
    assert https_certificate() is None  # the HTTPS listener waits for the certificate

    pending = invoke("status", "-c", str(stack_file))
    assert pending.exit_code == EXIT_UNHEALTHY
    assert "PENDING_VALIDATION" in pending.stdout and "create at your DNS provider: CNAME" in pending.stdout

    assert clock.now < 600  # still pending when the create is run again: it waits on
    second = invoke("create", "-c", str(stack_file))
    assert second.exit_code == 0, explain(second)
    assert f"CNAME  {name}  ->  {value}" in second.stdout  # found again by its tags, printed again
    assert "certificate validation (ACM): ISSUED after" in second.stdout
    [same] = certificates()
    assert same["CertificateArn"] == cert["CertificateArn"] and same["Status"] == "ISSUED"
    assert https_certificate() == cert["CertificateArn"]
    assert route53_calls(aws) == []

    third = invoke("create", "-c", str(stack_file), "--json")  # done: nothing to wait for, nothing printed again
    assert third.exit_code == 0, explain(third)
    assert "(nothing to do)" in third.stderr and "Create these records there" not in third.stderr
    [site] = json.loads(third.stdout)["dns_provider_records"]  # the site's record: validation was done
    assert (site["type"], site["name"], site["value"]) == ("CNAME", f"{HOST}.", load_balancer_dns().lower())
    assert site["why"].startswith("the site")


def test_plan_of_an_external_stack_reads_no_route53(aws, stack_file):
    result = invoke("plan", "-c", str(stack_file), "--verbose")  # the record is unchanged: listed with --verbose
    assert result.exit_code == 0, explain(result)
    assert f"certificate {HOST} ({REGION})" in result.stdout
    assert "its validation CNAME is yours to create at your DNS provider" in result.stdout
    assert f"DNS record {HOST}" in result.stdout and "not written by ecsup" in result.stdout
    assert route53_calls(aws) == [] and aws.mutating() == []


def test_a_stack_moving_between_load_balancers_cannot_turn_external(aws, make_ctx, tmp_path, monkeypatch, plain_output):
    from ecsup import engine

    engine.create(make_ctx(config_text('\n[load_balancer]\nshared = "edge"\n')))  # on a shared load balancer
    for key, value in SECRET_GIVEN.items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "ecsup.toml"  # back to its own load balancer (a move), with its DNS elsewhere
    path.write_text(config_text(replace={DNS: f'external = true\nhostname = "www.{ZONE}"'}))
    aws.reset()
    result = invoke("create", "-c", str(path))
    assert result.exit_code == EXIT_CONFIG, explain(result)
    assert result.stderr.startswith("error: invalid configuration: dns.external: web-dev is moving between load")
    assert aws.mutating() == []
