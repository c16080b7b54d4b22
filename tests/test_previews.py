"""Previews ([preview], `ecsup preview up/down/list/gc`): a stack per pull request, <app>-<name>
at <name>.<domain> on the shared load balancer, with one certificate for *.<domain> for all."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from conftest import SECRET_VALUE, ZONE, client, config_text, explain, invoke

from ecsup import engine, previews
from ecsup.config import PreviewConfig, parse

DOMAIN = f"pr.{ZONE}"
PREVIEW = f'\n[preview]\ndomain = "{DOMAIN}"\nshared = "edge"\n'


def env_config(extra: str = "") -> str:
    return config_text(PREVIEW + extra)


def up(make_ctx: Any, name: str, image: str = "", text: str | None = None) -> previews.Prepared:
    prepared = previews.prepare_up(make_ctx(text or env_config()), name, image)
    engine.create(prepared.ctx)
    return prepared


def down(make_ctx: Any, name: str, text: str | None = None) -> list[tuple[str, str]]:
    prepared = previews.prepare_down(make_ctx(text or env_config()), name)
    ctx = prepared.ctx
    outcome = engine.plan_destroy(ctx)
    with engine.destroy_locked(ctx):
        result = engine.destroy(ctx, outcome)
    assert not result.failed and not result.left, result
    return previews.release_certificate(ctx, prepared.exists)


def wildcards() -> list[dict[str, Any]]:
    found = client("acm").list_certificates()["CertificateSummaryList"]
    return [c for c in found if c["DomainName"] == f"*.{DOMAIN}"]


def test_up_makes_the_stack_on_the_shared_load_balancer(aws, make_ctx):
    prepared = up(make_ctx, "pr-1")
    assert prepared.ctx.names.stack == "web-pr-1"
    assert len(wildcards()) == 1


def listener_certificates() -> dict[str, bool]:
    from test_shared_lb import https_listener

    found = client("elbv2").describe_listener_certificates(ListenerArn=https_listener()["ListenerArn"])
    return {c["CertificateArn"]: bool(c.get("IsDefault")) for c in found["Certificates"]}


def cert_tags(arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in client("acm").list_tags_for_certificate(CertificateArn=arn)["Tags"]}


def marker_names() -> list[str]:
    found = client("ssm").describe_parameters()["Parameters"]
    return sorted(p["Name"] for p in found if p["Name"].startswith("/ecsup/previews/"))


def write_config(tmp_path: Any, text: str | None = None) -> str:
    path = tmp_path / "ecsup.toml"
    path.write_text(text or env_config())
    return str(path)


def test_preview_up_creates_the_stack_and_prints_its_url(aws, tmp_path, plain_output, monkeypatch):
    from test_shared_lb import aliases, all_load_balancers, rules, shared_lb

    monkeypatch.setenv("ECSUP_SECRET_DB_PASSWORD", SECRET_VALUE)
    path = write_config(tmp_path)
    result = invoke("preview", "up", "--name", "pr-7", "-c", path)

    assert result.exit_code == 0, explain(result)
    url = f"https://pr-7.{DOMAIN}/"
    assert f"URL: {url}" in result.stdout
    assert "DB_PASSWORD <- /web/dev/DB_PASSWORD (the environment's)" in result.stdout
    # the stack web-pr-7 on the shared load balancer, its rule for pr-7.<domain>, its alias
    assert all_load_balancers() == ["edge"]
    assert sorted(rules()) == [f"pr-7.{DOMAIN}"]
    assert aliases() == {f"pr-7.{DOMAIN}": shared_lb()["DNSName"].lower()}
    service = client("ecs").describe_services(cluster="web-pr-7", services=["web-pr-7"])["services"][0]
    assert service["desiredCount"] == 1
    assert service["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]
    assert service["deploymentConfiguration"].get("strategy", "ROLLING") == "ROLLING"
    # one certificate, *.<domain>, on the listener: no certificate of the stack's own
    [cert] = wildcards()
    assert list(listener_certificates()) == [cert["CertificateArn"]]
    assert [c for c in client("acm").list_certificates()["CertificateSummaryList"] if c["DomainName"] == ZONE] == []
    # the marker, tagged as the stack's and the preview's
    assert marker_names() == ["/ecsup/previews/web/pr-7"]
    tags = {
        t["Key"]: t["Value"]
        for t in client("ssm").list_tags_for_resource(ResourceType="Parameter", ResourceId="/ecsup/previews/web/pr-7")[
            "TagList"
        ]
    }
    assert tags["ecsup:app"] == "web" and tags["ecsup:env"] == "pr-7" and tags["ecsup:preview"] == "pr-7"
    assert tags["ecsup:preview-created"] == "1970-01-01T00:00:00Z"  # the fake clock's wall time

    again = invoke(
        "preview", "up", "--name", "pr-7", "--image", "public.ecr.aws/nginx/nginx:1.27", "--json", "-c", path
    )

    assert again.exit_code == 0, explain(again)
    assert json.loads(again.stdout) == {
        "name": "pr-7",
        "url": url,
        "stack": "web-pr-7",
        "image": "public.ecr.aws/nginx/nginx:1.27",
    }
    service = client("ecs").describe_services(cluster="web-pr-7", services=["web-pr-7"])["services"][0]
    definition = client("ecs").describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    assert definition["containerDefinitions"][0]["image"] == "public.ecr.aws/nginx/nginx:1.27"
    assert len(wildcards()) == 1


def both_at(monkeypatch: Any, where: Any) -> Any:
    """An injector holding each of two previews' runs at the call ``where(operation, Name)`` picks
    until the other is there too: both then look for the previews' certificate, join or leave at once.
    The shared lock is waited for without end (the fake clock runs while the other thread works)."""
    from ecsup.steps import shared

    monkeypatch.setattr(shared, "LOCK_WAIT", 1e9)
    barrier = threading.Barrier(2, timeout=60)
    waited: set[str] = set()

    def hold(service: str, op: str, params: dict[str, Any]) -> Any:
        name = str(params.get("Name", ""))
        if where(op, name) and name not in waited:
            waited.add(name)
            barrier.wait()
        return None

    hold.waited = waited  # type: ignore[attr-defined]
    return hold


def at_once(run: Any, names: tuple[str, ...]) -> None:
    errors: list[BaseException] = []

    def body(name: str) -> None:
        try:
            run(name)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(name,)) for name in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert errors == []


def test_two_previews_up_at_once_share_one_certificate_then_list_gc_and_down(
    aws, make_ctx, clock, monkeypatch, tmp_path
):
    from test_shared_lb import all_load_balancers, rules

    hold = both_at(monkeypatch, lambda op, name: op == "PutParameter" and name.startswith("/ecsup/previews/"))
    aws.injectors = [hold]
    at_once(lambda name: up(make_ctx, name), ("pr-1", "pr-2"))
    aws.injectors = []

    assert hold.waited == {"/ecsup/previews/web/pr-1", "/ecsup/previews/web/pr-2"}
    assert all_load_balancers() == ["edge"]
    assert sorted(rules()) == [f"pr-1.{DOMAIN}", f"pr-2.{DOMAIN}"]
    [cert] = wildcards()
    assert list(listener_certificates()) == [cert["CertificateArn"]]
    assert sum(1 for _, op in aws.calls if op == "RequestCertificate") == 1
    assert marker_names() == ["/ecsup/previews/web/pr-1", "/ecsup/previews/web/pr-2"]
    lb_dns = client("elbv2").describe_load_balancers(Names=["edge"])["LoadBalancers"][0]["DNSName"]

    clock.sleep(50 * 3600)
    assert up(make_ctx, "pr-3").certificate.startswith("found")  # no second certificate
    clock.sleep(30 * 3600)  # pr-1 and pr-2 are 80 hours old, pr-3 30

    path = write_config(tmp_path)
    listed = invoke("preview", "list", "--json", "--offline", "-c", path)
    assert listed.exit_code == 0, explain(listed)
    doc = json.loads(listed.stdout)["previews"]
    assert [(p["name"], p["age_hours"], p["url"], p["state"]) for p in doc] == [
        ("pr-1", 80.0, f"https://pr-1.{DOMAIN}/", "1/1 running"),
        ("pr-2", 80.0, f"https://pr-2.{DOMAIN}/", "1/1 running"),
        ("pr-3", 30.0, f"https://pr-3.{DOMAIN}/", "1/1 running"),
    ]
    assert {p["image"] for p in doc} == {"public.ecr.aws/nginx/nginx:stable"}
    assert all(0 < p["monthly_cost"] < 40 for p in doc), doc  # Spot, one task, a third of the load balancer
    text = invoke("preview", "list", "--offline", "-c", path)
    assert "pr-1" in text.stdout and "older than ttl_hours" in text.stdout

    gc = invoke("preview", "gc", "--yes", "--json", "-c", path)  # ttl_hours = 72 by default

    assert gc.exit_code == 0, explain(gc)
    assert json.loads(gc.stdout) == {"deleted": ["pr-1", "pr-2"], "failed": [], "kept": ["pr-3"]}
    assert sorted(rules()) == [f"pr-3.{DOMAIN}"]
    assert marker_names() == ["/ecsup/previews/web/pr-3"]
    assert list(listener_certificates()) == [cert["CertificateArn"]]  # pr-3 still serves with it
    assert client("ecs").describe_clusters(clusters=["web-pr-1"])["clusters"][0]["status"] == "INACTIVE"

    up(make_ctx, "pr-4")
    hold = both_at(monkeypatch, lambda op, name: op == "PutParameter" and name.endswith(("-pr-3/lock", "-pr-4/lock")))
    aws.injectors = [hold]
    at_once(lambda name: down(make_ctx, name), ("pr-3", "pr-4"))
    aws.injectors = []

    assert hold.waited == {"/ecsup/web-pr-3/lock", "/ecsup/web-pr-4/lock"}
    assert all_load_balancers() == []  # the last one out took the shared load balancer
    assert wildcards() == []  # and the previews' certificate
    assert marker_names() == []
    from conftest import zone_id

    records = client("route53").list_resource_record_sets(HostedZoneId=zone_id())["ResourceRecordSets"]
    assert sorted(r["Type"] for r in records) == ["NS", "SOA"], records  # no alias, no validation record
    assert lb_dns  # (it was there)
    again = invoke("preview", "list", "--offline", "-c", path)
    assert again.exit_code == 0 and "no previews of web" in again.stdout, explain(again)
    aws.reset()
    gone = invoke("preview", "down", "--name", "pr-3", "--yes", "--json", "-c", path)
    assert gone.exit_code == 0, explain(gone)
    assert json.loads(gone.stdout)["deleted"] == [] and "nothing to delete" in gone.stderr
    assert aws.mutating() == []  # a second down changes nothing


@pytest.mark.parametrize(
    ("preview", "line"),
    [
        (f'domain = "{DOMAIN}"', "preview.shared: is required"),
        ('domain = "pr.elsewhere.com"\nshared = "edge"', "preview.domain: 'pr.elsewhere.com' is not inside the zone"),
        (
            f'shared = "edge"\ndomain = "{DOMAIN}"\ncapacity = "mixed"',
            "preview.capacity: 'mixed' must be \"FARGATE_SPOT\"",
        ),
        (f'shared = "edge"\ndomain = "{DOMAIN}"\nttl_hours = 0', "preview.ttl_hours: 0 must be from 1 to 8760"),
        (f'shared = "-edge"\ndomain = "{DOMAIN}"', "preview.shared: '-edge' is not a valid load balancer name"),
        (f'shared = "edge"\ndomain = "{DOMAIN}"\nsize = 1', "preview.size: unknown key"),
        (
            f'shared = "edge"\ndomain = "{DOMAIN}"\n[preview.secrets]\nAPI_KEY = "/web/preview/api"',
            "preview.secrets.API_KEY: is not a secret any workload reads",
        ),
        (f'shared = "edge"\ndomain = "{"x" * 60}.{ZONE}"', "ACM limits a certificate's first name to 64"),
    ],
)
def test_a_bad_preview_section_exits_2_with_one_line_and_changes_nothing(aws, tmp_path, preview, line):
    path = write_config(tmp_path, config_text("\n[preview]\n" + preview + "\n"))

    result = invoke("preview", "up", "--name", "pr-1", "-c", path)

    assert result.exit_code == 2, explain(result)
    assert line in result.stderr, explain(result)
    assert "Traceback" not in result.stderr
    assert aws.mutating() == []


def test_bad_names_and_a_missing_section_exit_2_and_an_environment_s_name_4(aws, make_ctx, tmp_path):
    bare = write_config(tmp_path, config_text())
    missing = invoke("preview", "list", "-c", bare)
    assert missing.exit_code == 2 and "preview: is missing" in missing.stderr, explain(missing)

    path = write_config(tmp_path)
    for name, said in (
        ("PR_1", "must be lowercase letters"),
        ("dev", "is the environment's own name"),
        ("pr-12345678901234567890", "Elastic Load Balancing allows 32"),
    ):
        result = invoke("preview", "up", "--name", name, "-c", path)
        assert result.exit_code == 2, explain(result)
        assert said in result.stderr, explain(result)
    both = invoke("preview", "up", "--name", "pr-1", "--image", "img:1", "--build", "-c", path)
    assert both.exit_code == 2 and "--image and --build exclude each other" in both.stderr, explain(both)
    bad = invoke("preview", "gc", "--older-than", "soon", "--yes", "-c", path)
    assert bad.exit_code == 2 and "--older-than 'soon' is not a duration" in bad.stderr, explain(bad)
    assert aws.mutating() == []

    engine.create(make_ctx(config_text(replace={'env = "dev"': 'env = "staging"'})))  # web-staging: not a preview
    aws.reset()
    for command in (("up",), ("down", "--yes")):
        result = invoke("preview", *command, "--name", "staging", "-c", path)
        assert result.exit_code == 4, explain(result)
        assert "web-staging exists and is not a preview" in result.stderr, explain(result)
    assert aws.mutating() == []


def test_the_preview_config_is_derived_from_the_environment_s(make_ctx):
    text = env_config(
        '\n[preview.secrets]\nDB_PASSWORD = "/web/preview/DB_PASSWORD"\n'
        "[service.autoscaling]\nmin = 2\nmax = 6\ncpu_target = 60\n"
        '[workers.mailer]\ncommand = ["mail"]\ndesired_count = 3\n'
        '[jobs.nightly]\nschedule = "cron(0 3 * * ? *)"\ncommand = ["cleanup"]\n'
        '[service.deploy.alarms]\nnames = ["web-dev-errors"]\n'
        '[service.deploy.verify]\nurl = "https://www.test.example.com/ready"\n'
    )
    cfg = previews.preview_config(parse(text), "pr-9", "img:2", "arn:aws:acm:eu-west-1:123456789012:certificate/x")
    assert (cfg.app, cfg.env, cfg.names.stack, cfg.url) == ("web", "pr-9", "web-pr-9", f"https://pr-9.{DOMAIN}/")
    assert cfg.load_balancer.shared == "edge" and cfg.dns.certificate_arn.endswith("/x")
    assert (cfg.service.image, cfg.service.desired_count, cfg.service.autoscaling) == ("img:2", 1, None)
    assert cfg.service.capacity == "FARGATE_SPOT" and cfg.service.deploy.strategy == "rolling"
    assert cfg.service.secrets == (("DB_PASSWORD", "/web/preview/DB_PASSWORD"),)
    [mailer] = cfg.workers
    assert (mailer.desired_count, mailer.capacity) == (1, "FARGATE_SPOT")
    assert dict(mailer.secrets)["DB_PASSWORD"] == "/web/preview/DB_PASSWORD"
    assert cfg.jobs == ()
    assert cfg.service.deploy.alarms.names == () and cfg.service.deploy.verify.url == ""
    # a shared load balancer's settings are never a stack's on it
    walled = parse(text + '\n[load_balancer]\ninternal = true\nallow_cidrs = ["203.0.113.0/24"]\n')
    cfg = previews.preview_config(walled, "pr-9")
    assert (cfg.load_balancer.internal, cfg.load_balancer.waf_acl) == (False, "")
    assert cfg.load_balancer.allow_cidrs == ("203.0.113.0/24",)
    assert "DB_PASSWORD <- /web/preview/DB_PASSWORD ([preview.secrets])" in previews.secrets_line(cfg)


def test_init_writes_a_commented_preview_section_that_loads_once_uncommented(tmp_path):
    path = tmp_path / "ecsup.toml"
    result = invoke("init", "-c", str(path), "--app", "web", "--env", "dev", "--zone", ZONE, "--image", "nginx")
    assert result.exit_code == 0, explain(result)
    text = path.read_text()
    assert "# [preview]" in text and f'# domain = "preview.{ZONE}"' in text
    lines = text.splitlines()
    start = lines.index("# [preview]")
    for i in range(start, start + 5):  # [preview], domain, shared, capacity, ttl_hours
        lines[i] = lines[i][2:]
    cfg = parse("\n".join(lines))
    assert cfg.preview == PreviewConfig(domain=f"preview.{ZONE}", shared="edge")


def test_a_preview_going_up_while_the_last_one_goes_down_keeps_the_certificate(aws, make_ctx):
    """The last preview down tags the certificate retiring, then reads the markers again: a preview
    that went up meanwhile (its marker written before it looked for the certificate) keeps it."""
    up(make_ctx, "pr-1")
    [cert] = wildcards()
    arn = cert["CertificateArn"]

    def another_goes_up(service: str, operation: str, params: dict[str, Any]) -> None:
        if operation == "AddTagsToCertificate" and not marker_names()[1:]:
            previews.write_marker(previews.prepare_down(make_ctx(env_config()), "pr-2").ctx)

    aws.injectors = [another_goes_up]
    said = dict(down(make_ctx, "pr-1"))
    aws.injectors = []

    assert said[f"certificate *.{DOMAIN}"] == f"kept: 1 other preview(s) of {DOMAIN} use it"
    assert [c["CertificateArn"] for c in wildcards()] == [arn]
    assert "ecsup:retiring" not in cert_tags(arn)  # the tag is taken off again
    assert marker_names() == ["/ecsup/previews/web/pr-2"]
    assert up(make_ctx, "pr-2").certificate == f"found: {arn}"  # pr-2 serves with it
    assert list(listener_certificates()) == [arn]


def test_every_call_of_the_preview_commands_is_allowed_by_the_operator_policy(aws, make_ctx, tmp_path):
    from test_iam_policies import DOCS, not_allowed

    from ecsup import policies

    operator = json.loads(policies.documented_blocks((DOCS / "iam.md").read_text())["operator"])
    up(make_ctx, "pr-1")
    up(make_ctx, "pr-2")
    previews.list_previews(make_ctx(env_config()))
    down(make_ctx, "pr-1")

    def another_goes_up(service: str, operation: str, params: dict[str, Any]) -> None:
        if operation == "AddTagsToCertificate" and not marker_names()[1:]:
            previews.write_marker(previews.prepare_down(make_ctx(env_config()), "pr-3").ctx)

    aws.injectors = [another_goes_up]
    down(make_ctx, "pr-2")
    aws.injectors = []
    down(make_ctx, "pr-3")

    calls = set(aws.calls)
    assert {("acm", "RequestCertificate"), ("acm", "RemoveTagsFromCertificate"), ("acm", "DeleteCertificate")} <= calls
    assert not_allowed(operator, sorted(calls)) == []


def test_a_preview_down_right_after_its_up_does_not_wait_for_a_role_rolling_never_makes(aws, make_ctx):
    """A preview deploys rolling: no infrastructure role (only blue/green, linear and canary make
    one). Its destroy right after its up must not retry reading that role for IAM's propagation
    bound (2 minutes), as it would for a role the last run may have made moments ago."""
    up(make_ctx, "pr-1")
    asked: list[str] = []

    def get_role(service: str, operation: str, params: dict[str, Any]) -> None:
        if operation == "GetRole":
            asked.append(str(params.get("RoleName")))

    aws.injectors = [get_role]
    down(make_ctx, "pr-1")
    aws.injectors = []

    assert asked.count("web-pr-1-infrastructure") <= 1, asked
    assert not [r for r in client("iam").list_roles()["Roles"] if r["RoleName"].startswith("web-pr-1")]


def test_the_last_preview_down_hands_the_listener_s_default_over_to_a_stack_that_stays(aws, make_ctx):
    """The first preview made the shared load balancer: the previews' certificate is the listener's
    default. The environment joins it too; the last preview down makes the environment's
    certificate the default before it deletes the previews'."""
    from test_shared_lb import all_load_balancers, rules

    up(make_ctx, "pr-1")
    [cert] = wildcards()
    assert listener_certificates() == {cert["CertificateArn"]: True}
    env_on_edge = env_config('\n[load_balancer]\nshared = "edge"\n')
    engine.create(make_ctx(env_on_edge))
    own = [arn for arn in listener_certificates() if arn != cert["CertificateArn"]]
    assert len(own) <= 1  # the environment's *.zone certificate, unless the previews' covered www

    said = dict(down(make_ctx, "pr-1", env_on_edge))

    assert "the default handed over to" in said[f"listener certificate edge HTTPS:443 *.{DOMAIN}"], said
    assert wildcards() == []
    assert all_load_balancers() == ["edge"] and sorted(rules()) == [f"www.{ZONE}"]
    [(default, is_default)] = listener_certificates().items()
    assert is_default and cert_tags(default).get("ecsup:env") == "dev"
    ctx = make_ctx(env_on_edge)
    ctx.mode = "plan"
    assert engine.make_plan(ctx).changes() == []  # the environment is as it should be
