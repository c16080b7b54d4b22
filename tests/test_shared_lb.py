"""A load balancer shared by several stacks (issue 19): the shared part made by the first stack
and found by the next, one host rule per stack as ECS's production rule, releases that move only
their own rule, and leaving in either order (the shared part goes with the last)."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from conftest import ZONE, Recorder, client, config_text, issued_certificate

from ecsup import deploy, engine
from ecsup.errors import ConfigError

IMAGE_2 = "public.ecr.aws/nginx/nginx:1.27"
SHARED = '\n[load_balancer]\nshared = "edge"\n'


def web(extra: str = "") -> str:
    return config_text(SHARED + extra)


def api(extra: str = "") -> str:
    return config_text(
        SHARED + extra, replace={'app = "web"': 'app = "api"', f'hostname = "www.{ZONE}"': f'hostname = "api.{ZONE}"'}
    )


def shared_lb() -> dict[str, Any] | None:
    lbs = [lb for lb in client("elbv2").describe_load_balancers()["LoadBalancers"]]
    return next((lb for lb in lbs if lb["LoadBalancerName"] == "edge"), None)


def all_load_balancers() -> list[str]:
    return sorted(lb["LoadBalancerName"] for lb in client("elbv2").describe_load_balancers()["LoadBalancers"])


def https_listener() -> dict[str, Any]:
    lb = shared_lb()
    assert lb is not None
    return next(
        li
        for li in client("elbv2").describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
        if li["Port"] == 443
    )


def rules() -> dict[str, dict[str, Any]]:
    """The shared HTTPS listener's host rules by host name."""
    out = {}
    for r in client("elbv2").describe_rules(ListenerArn=https_listener()["ListenerArn"])["Rules"]:
        if r["IsDefault"]:
            continue
        host = r["Conditions"][0]["HostHeaderConfig"]["Values"][0]
        out[host] = r
    return out


def aliases() -> dict[str, str]:
    """The zone's alias A records: name -> target DNS name (no trailing dots)."""
    from conftest import zone_id

    found = client("route53").list_resource_record_sets(HostedZoneId=zone_id())["ResourceRecordSets"]
    return {
        r["Name"].rstrip("."): r["AliasTarget"]["DNSName"].rstrip(".").lower()
        for r in found
        if r["Type"] == "A" and "AliasTarget" in r
    }


def weights(rule: dict[str, Any]) -> dict[str, int]:
    groups = rule["Actions"][0]["ForwardConfig"]["TargetGroups"]
    return {g["TargetGroupArn"].split("/")[-2]: g["Weight"] for g in groups}


def changes(make_ctx: Any, text: str) -> list[Any]:
    ctx = make_ctx(text)
    ctx.mode = "plan"
    return engine.make_plan(ctx).changes()


def destroy(make_ctx: Any, text: str) -> engine.DestroyResult:
    ctx = make_ctx(text)
    outcome = engine.plan_destroy(ctx)
    with engine.destroy_locked(ctx):
        return engine.destroy(ctx, outcome)


@pytest.fixture
def two(aws: Recorder, make_ctx: Any) -> Recorder:
    engine.create(make_ctx(web()))
    engine.create(make_ctx(api()))
    aws.reset()
    return aws


def test_two_stacks_share_one_load_balancer_with_a_rule_each(two, make_ctx):
    assert all_load_balancers() == ["edge"]  # no own load balancer for either stack
    lb = shared_lb()
    tags = {
        t["Key"]: t["Value"]
        for t in client("elbv2").describe_tags(ResourceArns=[lb["LoadBalancerArn"]])["TagDescriptions"][0]["Tags"]
    }
    assert tags.get("ecsup:shared-lb") == "edge" and "ecsup:app" not in tags
    https = https_listener()
    assert https["DefaultActions"][0]["Type"] == "fixed-response"
    assert https["DefaultActions"][0]["FixedResponseConfig"]["StatusCode"] == "404"
    found = rules()
    assert sorted(found) == [f"api.{ZONE}", f"www.{ZONE}"]
    assert found[f"www.{ZONE}"]["Priority"] != found[f"api.{ZONE}"]["Priority"]
    # each rule is its service's production rule, and its first deployment made green live on it
    for app, host in (("web", f"www.{ZONE}"), ("api", f"api.{ZONE}")):
        svc = client("ecs").describe_services(cluster=f"{app}-dev", services=[f"{app}-dev"])["services"][0]
        adv = svc["loadBalancers"][0]["advancedConfiguration"]
        assert adv["productionListenerRule"] == found[host]["RuleArn"]
        assert weights(found[host]) == {f"{app}-dev-blue": 0, f"{app}-dev-green": 100}
    # the tasks admit the shared load balancer's security group
    sg = client("ec2").describe_security_groups(GroupNames=["api-dev-tasks"])["SecurityGroups"][0]
    assert [p["UserIdGroupPairs"][0]["GroupId"] for p in sg["IpPermissions"]] == lb["SecurityGroups"]
    # both hostnames alias the shared load balancer
    assert aliases() == {f"www.{ZONE}": lb["DNSName"].lower(), f"api.{ZONE}": lb["DNSName"].lower()}
    # each stack's 5xx alarm reads its own target groups (the shared load balancer's own 5xx count,
    # every stack's, only as the sign of an outage of this stack's groups: alarms.py)
    for app in ("web", "api"):
        [alarm] = client("cloudwatch").describe_alarms(AlarmNames=[f"ecsup-{app}-dev-5xx"])["MetricAlarms"]
        metrics = {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}
        assert metrics == {"HTTPCode_Target_5XX_Count", "RequestCount", "HealthyHostCount", "HTTPCode_ELB_5XX_Count"}
        ratio = next(m["Expression"] for m in alarm["Metrics"] if m["Id"] == "ratio")
        assert "e5" not in ratio, ratio
        groups = {
            d["Value"].split("/")[1]
            for m in alarm["Metrics"]
            if "MetricStat" in m
            for d in m["MetricStat"]["Metric"]["Dimensions"]
            if d["Name"] == "TargetGroup"
        }
        assert groups == {f"{app}-dev-blue", f"{app}-dev-green"}
    # re-run: nothing to change for either
    assert changes(make_ctx, web()) == []
    assert changes(make_ctx, api()) == []


def test_each_stack_deploys_and_rolls_back_moving_only_its_own_rule(two, make_ctx):
    before = rules()
    api_rule = before[f"api.{ZONE}"]

    result = deploy.deploy(make_ctx(web()), IMAGE_2)

    assert result.status == "SUCCESSFUL"
    after = rules()
    assert weights(after[f"www.{ZONE}"]) == {"web-dev-blue": 100, "web-dev-green": 0}  # web moved to blue
    assert after[f"api.{ZONE}"]["Actions"] == api_rule["Actions"]  # api's rule untouched
    assert {h: r["Priority"] for h, r in after.items()} == {h: r["Priority"] for h, r in before.items()}

    deploy.deploy(make_ctx(api()), IMAGE_2)
    after = rules()
    assert weights(after[f"api.{ZONE}"]) == {"api-dev-blue": 100, "api-dev-green": 0}
    assert weights(after[f"www.{ZONE}"]) == {"web-dev-blue": 100, "web-dev-green": 0}

    deploy.rollback(make_ctx(web()))
    after = rules()
    assert weights(after[f"www.{ZONE}"]) == {"web-dev-blue": 0, "web-dev-green": 100}
    assert weights(after[f"api.{ZONE}"]) == {"api-dev-blue": 100, "api-dev-green": 0}
    # neither stack's infrastructure takes ECS's weights back
    assert changes(make_ctx, web()) == [] and changes(make_ctx, api()) == []


@pytest.mark.parametrize("first", ["web", "api"])
def test_destroy_in_either_order_leaves_nothing_after_the_last(two, make_ctx, first):
    configs = {"web": web(), "api": api()}
    second = "api" if first == "web" else "web"
    host = {"web": f"www.{ZONE}", "api": f"api.{ZONE}"}

    result = destroy(make_ctx, configs[first])

    assert not result.failed and not result.left
    assert all_load_balancers() == ["edge"]  # the other stack still uses it
    assert list(aliases()) == [host[second]]  # the leaving stack's record is gone, the other's stays
    assert sorted(rules()) == [host[second]]
    groups = [g["TargetGroupName"] for g in client("elbv2").describe_target_groups()["TargetGroups"]]
    assert sorted(groups) == [f"{second}-dev-blue", f"{second}-dev-green"]
    # the certificate that stays serves the remaining host; the one that left is gone from ACM
    certs = client("elbv2").describe_listener_certificates(ListenerArn=https_listener()["ListenerArn"])["Certificates"]
    assert certs and all(c["CertificateArn"] for c in certs)
    tagged = {
        c["CertificateArn"]: {
            t["Key"]: t["Value"]
            for t in client("acm").list_tags_for_certificate(CertificateArn=c["CertificateArn"])["Tags"]
        }
        for c in client("acm").list_certificates()["CertificateSummaryList"]
    }
    assert sorted(t.get("ecsup:app") for t in tagged.values()) == [second]
    assert {c["CertificateArn"] for c in certs} <= set(tagged)
    # the remaining stack is still as it should be
    assert changes(make_ctx, configs[second]) == []

    result = destroy(make_ctx, configs[second])

    assert not result.failed and not result.left
    assert all_load_balancers() == []
    assert client("elbv2").describe_target_groups()["TargetGroups"] == []
    names = [g["GroupName"] for g in client("ec2").describe_security_groups()["SecurityGroups"]]
    assert not [n for n in names if n.startswith("ecsup-shared") or n.endswith("-tasks")]
    assert client("acm").list_certificates()["CertificateSummaryList"] == []
    ssm = [p["Name"] for p in client("ssm").describe_parameters()["Parameters"]]
    assert not [p for p in ssm if p.startswith("/ecsup/shared-lb/edge/lock")]
    # a second destroy changes nothing
    ctx = make_ctx(configs[second])
    assert [a for a in engine.plan_destroy(ctx).actions if a.mutates] == []


def both_planned_first(monkeypatch: Any) -> Any:
    """An injector holding each of two runs at its first write (taking its stack lock) until the
    other has planned too; the shared lock is then waited for without end (the fake clock runs
    while the other thread works)."""
    from ecsup.steps import shared

    monkeypatch.setattr(shared, "LOCK_WAIT", 1e9)
    barrier = threading.Barrier(2, timeout=60)
    waited: set[str] = set()

    def both_planned(service: str, operation: str, params: dict[str, Any]) -> Any:
        name = str(params.get("Name", ""))
        if operation == "PutParameter" and name.endswith("-dev/lock") and name not in waited:
            waited.add(name)
            barrier.wait()
        return None

    both_planned.waited = waited  # type: ignore[attr-defined]  # the stack locks that waited
    return both_planned


def test_two_creates_on_a_new_shared_name_at_once_make_one_load_balancer_and_two_rules(aws, make_ctx, monkeypatch):
    """Both plan before either changes anything (a barrier at each run's first write, its stack
    lock): both plan to create "edge"; under the shared lock one creates it, the other finds it."""
    hold = both_planned_first(monkeypatch)
    aws.injectors = [hold]
    errors: list[BaseException] = []
    plans: dict[str, list[str]] = {}

    def run(text: str, key: str) -> None:
        try:
            engine.create(make_ctx(text), on_plan=lambda o: plans.setdefault(key, [a.detail for a in o.actions]))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t, k)) for t, k in ((web(), "web"), (api(), "api"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    aws.injectors = []

    assert errors == []
    assert hold.waited == {"/ecsup/web-dev/lock", "/ecsup/api-dev/lock"}
    assert all(any(d.startswith("shared, created") for d in p) for p in plans.values())  # both planned to create it
    assert all_load_balancers() == ["edge"]
    found = rules()
    assert sorted(found) == [f"api.{ZONE}", f"www.{ZONE}"]
    assert len({r["Priority"] for r in found.values()}) == 2
    groups = client("ec2").describe_security_groups(Filters=[{"Name": "group-name", "Values": ["ecsup-shared-edge"]}])
    assert len(groups["SecurityGroups"]) == 1
    assert changes(make_ctx, web()) == [] and changes(make_ctx, api()) == []


def test_joining_is_refused_before_any_change(aws, make_ctx):
    engine.create(make_ctx(web()))
    aws.reset()
    # a hostname another stack on the load balancer serves
    taken = config_text(SHARED, replace={'app = "web"': 'app = "api"'})
    with pytest.raises(ConfigError, match=f"www.{ZONE} is already served by web-dev on shared load balancer edge"):
        engine.create(make_ctx(taken))
    assert aws.mutating() == []
    # the rules quota: 100 rules on the load balancer already, one of them on HTTP:80 (the quota is
    # per load balancer, every listener's rules counted)
    elb = client("elbv2")
    https = https_listener()["ListenerArn"]
    http = next(
        li["ListenerArn"]
        for li in elb.describe_listeners(LoadBalancerArn=shared_lb()["LoadBalancerArn"])["Listeners"]
        if li["Port"] == 80
    )
    elb.create_rule(
        ListenerArn=http,
        Priority=1,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/.well-known/*"]}}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )
    for i in range(98):
        elb.create_rule(
            ListenerArn=https,
            Priority=1000 + i,
            Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [f"h{i}.example.org"]}}],
            Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}],
        )
    with pytest.raises(Exception, match="TooManyRules"):  # the strict layer refuses the 101st, as AWS
        elb.create_rule(
            ListenerArn=https,
            Priority=5000,
            Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": ["x.example.org"]}}],
            Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}],
        )
    aws.reset()
    with pytest.raises(ConfigError, match="edge has 100 rules: AWS's default quota is 100 rules per load balancer"):
        engine.create(make_ctx(api()))
    assert aws.mutating() == []


def test_the_certificates_quota_is_checked_before_any_change(aws, make_ctx, clock, strict_aws):
    engine.create(make_ctx(web()))
    elb = client("elbv2")
    https = https_listener()["ListenerArn"]
    certs = [issued_certificate(f"s{i}.{ZONE}") for i in range(26)]
    clock.sleep(strict_aws.delays.certificate_usable + 1)  # ELB takes a certificate a moment after ISSUED
    for cert in certs[:25]:  # 25 SNI certificates besides web's default: AWS's default quota
        elb.add_listener_certificates(ListenerArn=https, Certificates=[{"CertificateArn": cert}])
    with pytest.raises(Exception, match="TooManyCertificates"):  # the strict layer refuses a 26th, as AWS
        elb.add_listener_certificates(ListenerArn=https, Certificates=[{"CertificateArn": certs[25]}])
    # a stack whose hostname no certificate on the listener covers would need a 26th
    client("route53").create_hosted_zone(Name="other.test", CallerReference="other")
    elsewhere = api().replace(f'zone = "{ZONE}"', 'zone = "other.test"').replace(f"api.{ZONE}", "api.other.test")
    aws.reset()
    with pytest.raises(ConfigError, match="edge HTTPS:443 has 25 certificates besides its default"):
        engine.create(make_ctx(elsewhere))
    assert aws.mutating() == []
    # one the listener's certificates cover needs none: web's (*.zone) covers api's hostname
    ctx = make_ctx(api())
    ctx.mode = "plan"
    plan = engine.make_plan(ctx)
    [attachment] = [a for a in plan.actions if a.resource == "listener certificate"]
    assert attachment.kind == "noop" and attachment.detail.startswith("covered by")
    assert aws.mutating() == []


def test_shared_name_must_be_a_load_balancer_name(make_ctx):
    for bad in ("-edge", "edge-", "internal-edge", "a" * 33, "ed_ge", ""):
        with pytest.raises(ConfigError, match=r"load_balancer\.shared"):
            make_ctx(config_text(f'\n[load_balancer]\nshared = "{bad}"\n'))


def test_a_same_named_load_balancer_not_shared_is_refused(aws, make_ctx):
    engine.create(make_ctx(config_text(replace={'app = "web"': 'app = "edge"', 'env = "dev"': 'env = "x"'})))
    # the own load balancer of stack edge-x is named "edge-x"; make one named "edge" by hand
    elb = client("elbv2")
    lb = elb.describe_load_balancers(Names=["edge-x"])["LoadBalancers"][0]
    elb.create_load_balancer(
        Name="edge", Subnets=[az["SubnetId"] for az in lb["AvailabilityZones"]], Scheme="internet-facing"
    )
    aws.reset()
    from ecsup.errors import OwnershipConflict

    with pytest.raises(OwnershipConflict, match="load balancer 'edge' exists but is not ecsup's shared load balancer"):
        engine.create(make_ctx(web()))
    assert aws.mutating() == []


def test_status_cost_and_plan_show_the_sharing(two, make_ctx, tmp_path):
    from conftest import explain, invoke

    from ecsup.status import collect

    report = collect(make_ctx(web()))
    assert report.healthy, [r for r in report.rows if r.state != "OK"]
    found = rules()
    web_cert = client("elbv2").describe_listener_certificates(ListenerArn=https_listener()["ListenerArn"])
    default = next(c["CertificateArn"] for c in web_cert["Certificates"] if c["IsDefault"])
    assert report.shared == {
        "name": "edge",
        "rule_priority": found[f"www.{ZONE}"]["Priority"],
        "certificate": default,
        "other_stacks": ["api-dev"],
    }
    rows = {(r.resource, r.name): r.detail for r in report.rows}
    assert rows[("load balancer", "edge")] == "shared, found: 2 stacks on it (with api-dev)"
    assert rows[("listener rule", "edge web-dev")].startswith(f"priority {found[f'www.{ZONE}']['Priority']}, host www.")
    # api's hostname is covered by web's certificate (*.zone), already on the listener
    assert collect(make_ctx(api())).shared["certificate"] == default

    # cost: the load balancer's hours and its addresses split between the two stacks
    path = tmp_path / "ecsup.toml"
    path.write_text(web())
    own = tmp_path / "own.toml"
    own.write_text(config_text())
    shared_doc = json.loads(invoke("cost", "--json", "-c", str(path)).stdout)
    own_result = invoke("cost", "--json", "-c", str(own))
    assert own_result.exit_code == 0, explain(own_result)
    own_doc = json.loads(own_result.stdout)
    items = {i["item"]: i for i in shared_doc["items"]}
    own_items = {i["item"]: i for i in own_doc["items"]}
    assert items["Load balancer hours"]["monthly"] == pytest.approx(
        own_items["Load balancer hours"]["monthly"] / 2, abs=0.01
    )
    assert "2 stacks on it (with api-dev)" in items["Load balancer hours"]["note"]
    assert "/ 2 stacks" in items["Public IPv4 addresses"]["quantity"]
    assert items["Public IPv4 addresses"]["monthly"] < own_items["Public IPv4 addresses"]["monthly"]

    # plan of a third stack (a preview environment): what joining saves
    preview = tmp_path / "preview.toml"
    preview.write_text(
        config_text(
            SHARED, replace={'env = "dev"': 'env = "pr7"', f'hostname = "www.{ZONE}"': f'hostname = "pr7.{ZONE}"'}
        )
    )
    result = invoke("plan", "-c", str(preview), "--verbose")  # the joined load balancer is unchanged: listed
    assert result.exit_code in (0, 1), explain(result)
    assert "shared load balancer edge (3 stacks with this one)" in result.stdout
    assert "joining saves $" in result.stdout
    assert "(shared, found: 2 stacks on it (api-dev, web-dev); this stack joins)" in result.stdout


def test_two_destroys_at_once_leave_nothing(two, make_ctx, monkeypatch):
    """Both plan their leave before either deletes (a barrier at each run's stack lock): the last
    one out is decided under the shared lock, so the shared part goes, whichever that is."""
    hold = both_planned_first(monkeypatch)
    two.injectors = [hold]
    results: dict[str, Any] = {}

    def run(text: str, key: str) -> None:
        try:
            results[key] = destroy(make_ctx, text)
        except BaseException as exc:  # surfaced below
            results[key] = exc

    threads = [threading.Thread(target=run, args=(t, k)) for t, k in ((web(), "web"), (api(), "api"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    two.injectors = []

    assert hold.waited == {"/ecsup/web-dev/lock", "/ecsup/api-dev/lock"}
    for result in results.values():
        assert isinstance(result, engine.DestroyResult) and not result.failed and not result.left, result
    assert all_load_balancers() == []
    assert client("elbv2").describe_target_groups()["TargetGroups"] == []
    assert client("acm").list_certificates()["CertificateSummaryList"] == []
    names = [g["GroupName"] for g in client("ec2").describe_security_groups()["SecurityGroups"]]
    assert "ecsup-shared-edge" not in names


def test_a_rule_ecsup_does_not_own_keeps_the_shared_part(two, make_ctx):
    elb = client("elbv2")
    elb.create_rule(
        ListenerArn=https_listener()["ListenerArn"],
        Priority=700,
        Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": ["legacy.example.org"]}}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}],
    )
    destroy(make_ctx, web())
    result = destroy(make_ctx, api())

    assert not result.failed and not result.left
    assert all_load_balancers() == ["edge"]  # kept, and said why
    ctx = make_ctx(api())
    [kept] = [a for a in engine.plan_destroy(ctx).actions if a.resource == "load balancer"]
    assert kept.kind == "keep" and "a rule not ecsup's, priority 700" in kept.detail
    assert [r["Conditions"][0]["HostHeaderConfig"]["Values"] for r in rules().values()] == [["legacy.example.org"]]


def test_drift_of_the_stack_rule_is_repaired_and_of_the_shared_part_reported(two, make_ctx):
    elb = client("elbv2")
    rule = rules()[f"www.{ZONE}"]
    # someone points web's rule at another host, and changes the shared listener's TLS policy
    elb.modify_rule(
        RuleArn=rule["RuleArn"],
        Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [f"old.{ZONE}"]}}],
    )
    elb.modify_listener(ListenerArn=https_listener()["ListenerArn"], SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06")
    ctx = make_ctx(web())
    ctx.mode = "plan"
    plan = engine.make_plan(ctx)
    [update] = plan.changes()
    assert (update.resource, update.name) == ("listener rule", "edge web-dev")
    assert [str(c) for c in update.changes] == [f"host: old.{ZONE} -> www.{ZONE}"]
    assert any("TLS policy ELBSecurityPolicy-TLS13-1-2-2021-06" in n and "not changed" in n for n in plan.notes)

    engine.create(make_ctx(web()))

    after = rules()[f"www.{ZONE}"]
    assert after["RuleArn"] == rule["RuleArn"] and after["Priority"] == rule["Priority"]
    assert weights(after) == {"web-dev-blue": 0, "web-dev-green": 100}  # ECS's weights kept
    assert https_listener()["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"  # not web's alone to repair
    assert changes(make_ctx, web()) == []


def test_the_cli_refuses_a_served_hostname_with_one_line_and_exit_2(two, tmp_path):
    from conftest import explain, invoke

    path = tmp_path / "ecsup.toml"
    path.write_text(config_text(SHARED, replace={'app = "web"': 'app = "shop"'}))
    two.reset()
    result = invoke("create", "-c", str(path))
    assert result.exit_code == 2, explain(result)
    assert "Traceback" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert f"www.{ZONE} is already served by web-dev on shared load balancer edge" in first
    assert two.mutating() == []


def test_deletion_protection_and_access_logs_are_refused_with_shared(make_ctx):
    with pytest.raises(ConfigError, match=r"load_balancer\.deletion_protection"):
        make_ctx(config_text(SHARED + "deletion_protection = true\n"))
    with pytest.raises(ConfigError, match=r"load_balancer\.access_logs: is for a stack's own load balancer"):
        make_ctx(config_text(SHARED + "access_logs = true\n"))


def _target_groups() -> list[str]:
    return sorted(g["TargetGroupName"] for g in client("elbv2").describe_target_groups()["TargetGroups"])


def _healthy(name: str) -> int:
    elb = client("elbv2")
    arn = elb.describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"]
    found = elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    return sum(1 for t in found if t["TargetHealth"]["State"] == "healthy")


def _service(app: str = "web") -> dict[str, Any]:
    svc = client("ecs").describe_services(cluster=f"{app}-dev", services=[f"{app}-dev"], include=["TAGS"])
    return svc["services"][0]


def _tasks_admit() -> list[str]:
    sg = client("ec2").describe_security_groups(GroupNames=["web-dev-tasks"])["SecurityGroups"][0]
    return sorted(pair["GroupId"] for p in sg["IpPermissions"] for pair in p["UserIdGroupPairs"])


def _group_id(name: str) -> str:
    return str(client("ec2").describe_security_groups(GroupNames=[name])["SecurityGroups"][0]["GroupId"])


class _WhenRecordMoves:
    """At the moment ecsup changes the www record: what serves behind the old and new load balancers."""

    def __init__(self, new_groups: tuple[str, str], old_live: str) -> None:
        self.new_groups, self.old_live = new_groups, old_live
        self.seen: list[dict[str, Any]] = []

    def __call__(self, service: str, operation: str, params: dict[str, Any]) -> None:
        if operation != "ChangeResourceRecordSets" or f"www.{ZONE}" not in json.dumps(params, default=str):
            return
        if not any(c["ResourceRecordSet"]["Type"] == "A" for c in params["ChangeBatch"]["Changes"]):
            return
        self.seen.append(
            {
                "new": {g: _healthy(g) for g in self.new_groups},
                "old": _healthy(self.old_live),
                "load balancers": all_load_balancers(),
            }
        )


def test_a_stack_moves_from_its_own_load_balancer_to_a_shared_one_and_back(aws, make_ctx):
    """The issue's "planned change": the new rule serves before the record moves, the old load
    balancer serves until then and is deleted only after; the other stack on the shared load
    balancer is never touched; each direction ends on a re-run that changes nothing."""
    engine.create(make_ctx(config_text()))  # web-dev on its own load balancer
    engine.create(make_ctx(api()))  # api-dev on edge
    api_rule = rules()[f"api.{ZONE}"]
    own_group = _group_id("web-dev-alb")

    ctx = make_ctx(web())
    ctx.mode = "plan"
    plan = engine.make_plan(ctx)
    planned = {(a.kind, a.resource, a.name) for a in plan.changes()}
    assert {
        ("create", "target group", "web-dev-blu2"),
        ("create", "target group", "web-dev-grn2"),
        ("create", "listener rule", "edge web-dev"),
        ("update", "ECS service", "web-dev"),
        ("update", "DNS record", f"www.{ZONE}"),
        ("delete", "listeners", "web-dev"),
        ("delete", "target group", "web-dev-blue"),
        ("delete", "target group", "web-dev-green"),
        ("delete", "load balancer", "web-dev"),
        ("update", "security group", "web-dev-tasks"),
        ("delete", "security group", "web-dev-alb"),
    } <= planned, planned
    kinds = [(a.resource, a.name) for a in plan.changes()]
    assert kinds.index(("ECS service", "web-dev")) < kinds.index(("DNS record", f"www.{ZONE}"))
    assert kinds.index(("DNS record", f"www.{ZONE}")) < kinds.index(("load balancer", "web-dev"))
    assert any(
        "moves from its own load balancer web-dev to shared load balancer edge: without interruption" in n
        for n in plan.notes
    ), plan.notes
    assert all_load_balancers() == ["edge", "web-dev"]  # planning changed nothing

    # -- own -> shared
    when = _WhenRecordMoves(("web-dev-blu2", "web-dev-grn2"), "web-dev-green")
    aws.injectors = [when]
    engine.create(make_ctx(web()))
    aws.injectors = []
    [moment] = when.seen  # the record moved once, while both load balancers served
    assert moment["new"]["web-dev-grn2"] >= 1 and moment["old"] >= 1, moment
    assert moment["load balancers"] == ["edge", "web-dev"], moment

    assert all_load_balancers() == ["edge"]
    assert _target_groups() == ["api-dev-blue", "api-dev-green", "web-dev-blu2", "web-dev-grn2"]
    found = rules()
    assert weights(found[f"www.{ZONE}"]) == {"web-dev-blu2": 0, "web-dev-grn2": 100}
    svc = _service()
    adv = svc["loadBalancers"][0]["advancedConfiguration"]
    assert adv["productionListenerRule"] == found[f"www.{ZONE}"]["RuleArn"]
    assert svc["deploymentConfiguration"]["bakeTimeInMinutes"] == 5  # the move's bake was set back
    assert "ecsup:moving-from" not in {t["key"] for t in svc.get("tags", [])}
    assert aliases()[f"www.{ZONE}"] == shared_lb()["DNSName"].lower()
    assert _tasks_admit() == shared_lb()["SecurityGroups"]  # the own load balancer's access is gone
    assert not client("ec2").describe_security_groups(Filters=[{"Name": "group-id", "Values": [own_group]}])[
        "SecurityGroups"
    ]
    assert found[f"api.{ZONE}"] == api_rule  # the other stack's rule: priority, host, weights, ARN
    assert changes(make_ctx, web()) == []

    # -- shared -> own (api-dev stays on edge, which stays)
    when = _WhenRecordMoves(("web-dev-blue", "web-dev-green"), "web-dev-grn2")
    aws.injectors = [when]
    engine.create(make_ctx(config_text()))
    aws.injectors = []
    [moment] = when.seen
    assert moment["new"]["web-dev-green"] >= 1 and moment["old"] >= 1, moment

    assert all_load_balancers() == ["edge", "web-dev"]
    assert _target_groups() == ["api-dev-blue", "api-dev-green", "web-dev-blue", "web-dev-green"]
    assert sorted(rules()) == [f"api.{ZONE}"] and rules()[f"api.{ZONE}"] == api_rule
    own = next(
        lb for lb in client("elbv2").describe_load_balancers()["LoadBalancers"] if lb["LoadBalancerName"] == "web-dev"
    )
    assert aliases()[f"www.{ZONE}"] == own["DNSName"].lower()
    assert _tasks_admit() == [_group_id("web-dev-alb")]
    own_https = [li for li in client("elbv2").describe_listeners(LoadBalancerArn=own["LoadBalancerArn"])["Listeners"]]
    [web_cert] = [li["Certificates"][0]["CertificateArn"] for li in own_https if li["Port"] == 443]
    certs = client("elbv2").describe_listener_certificates(ListenerArn=https_listener()["ListenerArn"])["Certificates"]
    assert web_cert not in [c["CertificateArn"] for c in certs]  # its certificate left the shared listener too
    assert changes(make_ctx, config_text()) == []


class _DiesAt:
    """Kill the run right before its first call matching ``what`` (every later call fails too)."""

    def __init__(self, operation: str, text: str = "") -> None:
        self.operation, self.text, self.dead = operation, text, False

    def __call__(self, service: str, operation: str, params: dict[str, Any]) -> None:
        from test_crash import Crash

        if self.dead:
            raise Crash("dead process")
        if operation == self.operation and self.text in json.dumps(params, default=str):
            self.dead = True
            raise Crash(f"killed before {operation}")


def _moved_and_stopped(aws: Any, make_ctx: Any, operation: str, text: str = "") -> None:
    """web-dev on its own load balancer, api-dev on edge; web-dev's move onto edge dies before ``operation``."""
    from test_crash import Crash

    engine.create(make_ctx(config_text()))
    engine.create(make_ctx(api()))
    aws.injectors = [_DiesAt(operation, text)]
    with pytest.raises(Crash):
        engine.create(make_ctx(web()))
    aws.injectors = []


@pytest.mark.parametrize(
    "operation,text",
    [
        ("UpdateService", ""),  # the new pair and rule made, the service not moved yet
        ("ChangeResourceRecordSets", "www"),  # the service moving: its deployment under way
        ("DeleteLoadBalancer", ""),  # the record moved, the old side half gone
    ],
)
def test_a_move_that_died_is_finished_by_the_next_create(aws, make_ctx, clock, operation, text):
    _moved_and_stopped(aws, make_ctx, operation, text)
    clock.sleep(600)  # a later run: the deployment the dead one started has ended meanwhile
    api_rule = rules()[f"api.{ZONE}"]
    engine.create(make_ctx(web()))
    assert all_load_balancers() == ["edge"]
    assert _target_groups() == ["api-dev-blue", "api-dev-green", "web-dev-blu2", "web-dev-grn2"]
    assert aliases()[f"www.{ZONE}"] == shared_lb()["DNSName"].lower()
    assert "ecsup:moving-from" not in {t["key"] for t in _service().get("tags", [])}
    assert _tasks_admit() == shared_lb()["SecurityGroups"]
    assert rules()[f"api.{ZONE}"] == api_rule
    assert changes(make_ctx, web()) == []


def test_destroy_during_a_move_removes_both_sides_and_the_other_stack_stays(aws, make_ctx, clock):
    _moved_and_stopped(aws, make_ctx, "ChangeResourceRecordSets", "www")
    clock.sleep(600)
    result = destroy(make_ctx, web())
    assert not result.failed and not result.left
    assert all_load_balancers() == ["edge"]
    assert _target_groups() == ["api-dev-blue", "api-dev-green"]
    assert sorted(rules()) == [f"api.{ZONE}"]
    assert sorted(aliases()) == [f"api.{ZONE}"]  # the record pointed at the old load balancer still: gone too
    names = {g["GroupName"] for g in client("ec2").describe_security_groups()["SecurityGroups"]}
    assert not {"web-dev-alb", "web-dev-tasks"} & names


def test_the_last_stack_moving_off_a_shared_load_balancer_takes_it_down(aws, make_ctx):
    engine.create(make_ctx(web()))
    assert all_load_balancers() == ["edge"]
    engine.create(make_ctx(config_text()))
    assert all_load_balancers() == ["web-dev"]
    names = {g["GroupName"] for g in client("ec2").describe_security_groups()["SecurityGroups"]}
    assert "ecsup-shared-edge" not in names
    assert _target_groups() == ["web-dev-blu2", "web-dev-grn2"]  # the first pair went with edge
    assert changes(make_ctx, config_text()) == []


def test_a_rolling_stack_s_move_says_it_may_interrupt_traffic(aws, make_ctx):
    rolling = '\n[service.deploy]\nstrategy = "rolling"\n'
    engine.create(make_ctx(config_text(rolling)))
    ctx = make_ctx(config_text(SHARED + rolling))
    ctx.mode = "plan"
    notes = engine.make_plan(ctx).notes
    assert any("TRAFFIC MAY BE INTERRUPTED for up to about 2 minutes" in n for n in notes), notes
    when = _WhenRecordMoves(("web-dev-blu2", "web-dev-grn2"), "web-dev-blue")
    aws.injectors = [when]
    engine.create(make_ctx(config_text(SHARED + rolling)))
    aws.injectors = []
    [moment] = when.seen  # the record moved once the new tasks were healthy behind the new rule
    assert moment["new"]["web-dev-blu2"] >= 1, moment
    assert all_load_balancers() == ["edge"]
    assert aliases()[f"www.{ZONE}"] == shared_lb()["DNSName"].lower()
    assert _target_groups() == ["web-dev-blu2", "web-dev-grn2"]  # the old pair went with web-dev


def test_a_stack_joining_while_the_last_one_leaves_keeps_the_load_balancer(aws, make_ctx, monkeypatch):
    """api-dev joins edge while web-dev, the only stack on it, leaves: the leave runs entirely
    between api-dev's security groups (its tasks now admit edge's group) and its rule. The last
    one out keeps the shared part for the stack joining, which ends serving on it."""
    from ecsup.steps import shared

    monkeypatch.setattr(shared, "LOCK_WAIT", 1e9)
    engine.create(make_ctx(web()))
    at_groups, left = threading.Event(), threading.Event()

    def pause(service: str, operation: str, params: dict[str, Any]) -> None:
        if operation == "CreateTargetGroup" and str(params.get("Name", "")).startswith("api-dev") and not left.is_set():
            at_groups.set()
            assert left.wait(60)

    aws.injectors = [pause]
    errors: list[BaseException] = []

    def join() -> None:
        try:
            engine.create(make_ctx(api()))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    joiner = threading.Thread(target=join)
    joiner.start()
    assert at_groups.wait(60)
    try:
        result = destroy(make_ctx, web())
    finally:
        left.set()
    joiner.join(120)
    aws.injectors = []
    assert not errors, errors
    assert not result.failed and not result.left
    left_of_web = engine.plan_destroy(make_ctx(web())).changes()
    assert left_of_web == [], left_of_web  # nothing of web-dev left
    assert all_load_balancers() == ["edge"]
    assert sorted(rules()) == [f"api.{ZONE}"]
    assert aliases() == {f"api.{ZONE}": shared_lb()["DNSName"].lower()}
    assert changes(make_ctx, api()) == []


def test_a_priority_taken_behind_ecsup_s_back_is_passed_over(aws, make_ctx):
    """Someone who does not take ecsup's lock (the console) creates a rule between ecsup's read
    and its CreateRule: AWS answers PriorityInUse, ecsup takes the next free priority."""
    from conftest import fail_first

    engine.create(make_ctx(web()))
    taken = fail_first("elbv2", "CreateRule", "PriorityInUse", 2, "The specified priority is in use.")
    aws.injectors = [taken]
    engine.create(make_ctx(api()))
    aws.injectors = []

    assert taken.remaining["n"] == 0  # type: ignore[attr-defined]
    found = rules()
    assert found[f"www.{ZONE}"]["Priority"] == "1" and found[f"api.{ZONE}"]["Priority"] == "4"
    assert changes(make_ctx, api()) == []


def test_a_wildcard_rule_evaluated_first_would_take_the_hostname_and_is_refused(two, make_ctx):
    """A host condition may be a pattern (`*`, `?`): another rule whose pattern matches the
    hostname and comes first (lower priority number) would get the stack's requests."""
    elb = client("elbv2")
    preview = config_text(
        SHARED, replace={'env = "dev"': 'env = "pr7"', f'hostname = "www.{ZONE}"': f'hostname = "pr7.{ZONE}"'}
    )
    catch_all = elb.create_rule(
        ListenerArn=https_listener()["ListenerArn"],
        Priority=900,  # after the rule the preview stack would get (3): it does not take its requests
        Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [f"*.{ZONE}"]}}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}],
    )["Rules"][0]
    ctx = make_ctx(preview)
    ctx.mode = "plan"
    assert any(a.resource == "listener rule" and a.kind == "create" for a in engine.make_plan(ctx).actions)
    elb.set_rule_priorities(RulePriorities=[{"RuleArn": catch_all["RuleArn"], "Priority": 3}])
    ctx = make_ctx(preview)
    ctx.mode = "plan"
    with pytest.raises(ConfigError, match=rf"dns.hostname: pr7.{ZONE} is already served by a rule not ecsup's"):
        engine.make_plan(ctx)


def test_the_target_groups_quota_is_checked_before_any_change(two, make_ctx, monkeypatch):
    """Each stack adds two target groups to the load balancer: AWS's default quota is 100 per
    load balancer (here lowered to 5, with the two stacks' 4 attached already)."""
    from ecsup.steps import shared

    assert shared.attached_target_groups(make_ctx(web()), shared_lb()["LoadBalancerArn"]) == 4
    monkeypatch.setattr(shared, "TARGET_GROUPS_LIMIT", 5)
    preview = config_text(
        SHARED, replace={'env = "dev"': 'env = "pr7"', f'hostname = "www.{ZONE}"': f'hostname = "pr7.{ZONE}"'}
    )
    ctx = make_ctx(preview)
    ctx.mode = "plan"
    with pytest.raises(ConfigError, match="has 4 target groups: this stack's 2 would pass AWS's default quota of 5"):
        engine.make_plan(ctx)
    assert changes(make_ctx, web()) == []  # a stack already on it is not refused
