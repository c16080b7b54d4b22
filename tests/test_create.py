"""`ecsup create` against moto: the stack of STACK.md, idempotence, partial states."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import REGION, SECRET_VALUE, ZONE, change_records, client, config_text, issued_certificate, zone_id

from ecsup import engine
from ecsup.errors import ConfigError, OwnershipConflict
from ecsup.steps.loadbalancer import TLS_POLICY

TAGS = {"ecsup:app": "web", "ecsup:env": "dev", "ManagedBy": "ecsup"}


def tagdict(tags: list[dict[str, str]] | None, k: str = "Key", v: str = "Value") -> dict[str, str]:
    return {t[k]: t[v] for t in tags or []}


def records(name: str | None = None) -> list[dict[str, Any]]:
    rrs = client("route53").list_resource_record_sets(HostedZoneId=zone_id())["ResourceRecordSets"]
    return [r for r in rrs if name is None or r["Name"] == name]


def assert_full_stack(port: int = 8080, host: str = f"www.{ZONE}") -> None:
    """Reads every resource back and checks the settings STACK.md asks for."""
    acm = client("acm")
    certs = acm.list_certificates()["CertificateSummaryList"]
    assert len(certs) == 1
    cert = acm.describe_certificate(CertificateArn=certs[0]["CertificateArn"])["Certificate"]
    assert cert["DomainName"] == ZONE
    assert set(cert["SubjectAlternativeNames"]) == {ZONE, f"*.{ZONE}"}
    assert tagdict(acm.list_tags_for_certificate(CertificateArn=cert["CertificateArn"])["Tags"]) == TAGS
    validation = cert["DomainValidationOptions"][0]["ResourceRecord"]
    cnames = records(validation["Name"])
    assert len(cnames) == 1 and cnames[0]["ResourceRecords"][0]["Value"] == validation["Value"]

    ec2 = client("ec2")
    groups = {
        g["GroupName"]: g
        for g in ec2.describe_security_groups(
            Filters=[{"Name": "group-name", "Values": ["web-dev-alb", "web-dev-tasks"]}]
        )["SecurityGroups"]
    }
    assert set(groups) == {"web-dev-alb", "web-dev-tasks"}
    for g in groups.values():
        assert TAGS.items() <= tagdict(g.get("Tags")).items()
    alb_rules = {
        (p["FromPort"], r.get("CidrIp") or r.get("CidrIpv6"))
        for p in groups["web-dev-alb"]["IpPermissions"]
        for r in p.get("IpRanges", []) + p.get("Ipv6Ranges", [])
    }
    assert alb_rules == {(80, "0.0.0.0/0"), (80, "::/0"), (443, "0.0.0.0/0"), (443, "::/0")}
    task_perms = groups["web-dev-tasks"]["IpPermissions"]
    assert [(p["FromPort"], p["ToPort"]) for p in task_perms] == [(port, port)]
    assert [pair["GroupId"] for pair in task_perms[0]["UserIdGroupPairs"]] == [groups["web-dev-alb"]["GroupId"]]
    assert not task_perms[0].get("IpRanges") and not task_perms[0].get("Ipv6Ranges")

    elb = client("elbv2")
    lbs = elb.describe_load_balancers()["LoadBalancers"]
    assert [lb["LoadBalancerName"] for lb in lbs] == ["web-dev"]
    lb = lbs[0]
    assert lb["Scheme"] == "internet-facing" and lb["Type"] == "application"
    assert len({az["ZoneName"] for az in lb["AvailabilityZones"]}) >= 2
    attrs = {
        a["Key"]: a["Value"]
        for a in elb.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]
    }
    assert attrs["routing.http.drop_invalid_header_fields.enabled"] == "true"
    tgs = {t["TargetGroupName"]: t for t in elb.describe_target_groups()["TargetGroups"]}
    assert set(tgs) == {"web-dev-blue", "web-dev-green"}
    for tg in tgs.values():
        assert tg["TargetType"] == "ip" and tg["Protocol"] == "HTTP" and tg["Port"] == port
        assert tg["HealthCheckPath"] == "/health" and tg["HealthCheckIntervalSeconds"] == 15
        assert tg["HealthyThresholdCount"] == 2 and tg["UnhealthyThresholdCount"] == 3
        assert tg["HealthCheckTimeoutSeconds"] == 5 and tg["Matcher"]["HttpCode"] == "200-399"
        tattrs = {
            a["Key"]: a["Value"]
            for a in elb.describe_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"])["Attributes"]
        }
        assert tattrs["deregistration_delay.timeout_seconds"] == "30"
    listeners = {lst["Port"]: lst for lst in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]}
    assert set(listeners) == {80, 443}
    https = listeners[443]
    assert https["Protocol"] == "HTTPS" and https["SslPolicy"] == TLS_POLICY
    assert https["Certificates"][0]["CertificateArn"] == cert["CertificateArn"]
    forward = https["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    weights = {t["TargetGroupArn"]: t["Weight"] for t in forward}
    assert set(weights) == {tgs["web-dev-blue"]["TargetGroupArn"], tgs["web-dev-green"]["TargetGroupArn"]}
    assert sorted(weights.values()) == [0, 100]  # blue when created; ECS moves production on deployments
    live = max(weights, key=lambda arn: weights[arn])
    redirect = listeners[80]["DefaultActions"][0]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS" and redirect["RedirectConfig"]["StatusCode"] == "HTTP_301"

    host_records = [r for r in records(host + ".") if r["Type"] in ("A", "CNAME")]
    assert len(host_records) == 1
    assert host_records[0]["AliasTarget"]["DNSName"].rstrip(".") == lb["DNSName"]

    ssm = client("ssm")
    param = ssm.get_parameter(Name="/web/dev/DB_PASSWORD", WithDecryption=True)["Parameter"]
    assert param["Type"] == "SecureString" and param["Value"] == SECRET_VALUE

    iam = client("iam")
    role = iam.get_role(RoleName="web-dev-execution")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] == "ecs-tasks.amazonaws.com"
    attached = [
        p["PolicyName"] for p in iam.list_attached_role_policies(RoleName="web-dev-execution")["AttachedPolicies"]
    ]
    assert attached == ["AmazonECSTaskExecutionRolePolicy"]
    policy = iam.get_role_policy(RoleName="web-dev-execution", PolicyName="ecsup-secrets")["PolicyDocument"]
    param_arn = f"arn:aws:ssm:{REGION}:123456789012:parameter/web/dev/DB_PASSWORD"
    assert policy["Statement"] == [
        {"Sid": "ReadSecrets", "Effect": "Allow", "Action": "ssm:GetParameters", "Resource": [param_arn]}
    ]
    assert iam.list_attached_role_policies(RoleName="web-dev-task")["AttachedPolicies"] == []
    assert iam.list_role_policies(RoleName="web-dev-task")["PolicyNames"] == []

    logs = client("logs")
    groups_ = logs.describe_log_groups(logGroupNamePrefix="/ecs/web-dev")["logGroups"]
    assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups_] == [("/ecs/web-dev", 30)]

    ecs = client("ecs")
    clusters = ecs.describe_clusters(clusters=["web-dev"], include=["TAGS"])["clusters"]
    assert clusters[0]["status"] == "ACTIVE" and tagdict(clusters[0]["tags"], "key", "value") == TAGS
    families = ecs.list_task_definitions(familyPrefix="web-dev")["taskDefinitionArns"]
    assert len(families) == 1
    td = ecs.describe_task_definition(taskDefinition="web-dev")["taskDefinition"]
    assert td["requiresCompatibilities"] == ["FARGATE"] and td["networkMode"] == "awsvpc"
    assert (td["cpu"], td["memory"]) == ("512", "1024")
    assert td["executionRoleArn"] == role["Arn"]
    container = td["containerDefinitions"][0]
    assert container["image"] == "public.ecr.aws/nginx/nginx:stable"
    assert container["portMappings"][0]["containerPort"] == port
    assert container["environment"] == [{"name": "APP_ENV", "value": "dev"}]
    assert container["secrets"] == [{"name": "DB_PASSWORD", "valueFrom": param_arn}]
    assert container["logConfiguration"]["options"]["awslogs-group"] == "/ecs/web-dev"
    assert SECRET_VALUE not in json.dumps(td, default=str)
    services = ecs.describe_services(cluster="web-dev", services=["web-dev"])["services"]
    assert len(services) == 1
    svc = services[0]
    assert "launchType" not in svc and svc["desiredCount"] == 1
    assert svc["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]
    # ECS's own blue/green on the two groups: production rule = the HTTPS listener's default rule
    rules = elb.describe_rules(ListenerArn=https["ListenerArn"])["Rules"]
    default_rule = next(r["RuleArn"] for r in rules if r["IsDefault"])
    infrastructure = iam.get_role(RoleName="web-dev-infrastructure")["Role"]
    [lb_config] = svc["loadBalancers"]
    advanced = lb_config.pop("advancedConfiguration")
    assert lb_config == {"targetGroupArn": lb_config["targetGroupArn"], "containerName": "web", "containerPort": port}
    # which of the two is live is ECS's to decide: the pair is what ecsup configures
    assert {lb_config["targetGroupArn"], advanced.pop("alternateTargetGroupArn")} == set(weights)
    assert live in set(weights)
    assert advanced == {"productionListenerRule": default_rule, "roleArn": infrastructure["Arn"]}
    assert infrastructure["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] == "ecs.amazonaws.com"
    assert [
        p["PolicyName"] for p in iam.list_attached_role_policies(RoleName="web-dev-infrastructure")["AttachedPolicies"]
    ] == ["AmazonECSInfrastructureRolePolicyForLoadBalancers"]
    net = svc["networkConfiguration"]["awsvpcConfiguration"]
    assert net["securityGroups"] == [groups["web-dev-tasks"]["GroupId"]] and net["assignPublicIp"] == "ENABLED"
    # the deployment alarm: one, ecsup's, on this stack's groups, and the service watches it with rollback
    cw = client("cloudwatch")
    [alarm] = cw.describe_alarms()["MetricAlarms"]
    assert alarm["AlarmName"] == "ecsup-web-dev-5xx"
    assert tagdict(cw.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]) == TAGS
    dims = {d["Value"] for m in alarm["Metrics"] if "MetricStat" in m for d in m["MetricStat"]["Metric"]["Dimensions"]}
    assert {f"targetgroup/{t['TargetGroupArn'].split('targetgroup/')[1]}" for t in tgs.values()} <= dims
    assert svc["deploymentConfiguration"]["alarms"] == {
        "alarmNames": ["ecsup-web-dev-5xx"],
        "enable": True,
        "rollback": True,
    }


def test_create_builds_the_whole_stack(aws, make_ctx):
    ctx = make_ctx()
    outcome = engine.create(ctx)
    assert_full_stack()
    kinds = {(a.resource, a.kind) for a in outcome.actions}
    assert ("load balancer", "create") in kinds and ("ECS service", "create") in kinds
    assert ctx.config.url == f"https://www.{ZONE}/"


def test_second_create_makes_no_mutating_call(aws, make_ctx):
    engine.create(make_ctx())
    aws.reset()
    outcome = engine.create(make_ctx())
    assert aws.mutating() == []
    assert all(a.kind == "noop" for a in outcome.actions), [a for a in outcome.actions if a.kind != "noop"]
    assert_full_stack()


def test_the_certificate_is_waited_for_only_by_the_https_listener(aws, make_ctx):
    """Overlap: everything not needing the certificate is created before the first ISSUED check."""
    engine.create(make_ctx())
    calls = aws.calls
    first_listener = calls.index(("elbv2", "CreateListener"))
    for needed_before in [
        ("elbv2", "CreateLoadBalancer"),
        ("ecs", "RegisterTaskDefinition"),
        ("iam", "CreateRole"),
        ("logs", "CreateLogGroup"),
        ("ssm", "PutParameter"),
    ]:
        assert calls.index(needed_before) < first_listener
    # the two longest waits start first: the load balancer (provisioning), then the certificate
    assert calls.index(("elbv2", "CreateLoadBalancer")) < calls.index(("acm", "RequestCertificate"))
    assert calls.index(("acm", "RequestCertificate")) < calls.index(("iam", "CreateRole"))


@pytest.mark.parametrize(
    "damage, expected",
    [
        (
            lambda: client("iam").delete_role_policy(RoleName="web-dev-execution", PolicyName="ecsup-secrets"),
            [("iam", "TagRole"), ("iam", "PutRolePolicy")],  # the time of a permission change, then the change
        ),
        (
            lambda: client("iam").detach_role_policy(
                RoleName="web-dev-execution",
                PolicyArn="arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
            ),
            [("iam", "TagRole"), ("iam", "AttachRolePolicy")],
        ),
        (
            lambda: client("logs").put_retention_policy(logGroupName="/ecs/web-dev", retentionInDays=7),
            [("logs", "PutRetentionPolicy")],
        ),
        (lambda: client("elbv2").delete_listener(ListenerArn=_listener(80)), [("elbv2", "CreateListener")]),
        (
            lambda: client("elbv2").modify_load_balancer_attributes(
                LoadBalancerArn=_alb_arn(),
                Attributes=[{"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "false"}],
            ),
            [("elbv2", "ModifyLoadBalancerAttributes")],
        ),
        (lambda: _revoke_alb_443(), [("ec2", "AuthorizeSecurityGroupIngress")]),
        (
            lambda: client("elbv2").modify_target_group(
                TargetGroupArn=_tg_arn("web-dev-green"), HealthCheckPath="/elsewhere"
            ),
            [("elbv2", "ModifyTargetGroup")],
        ),
    ],
    ids=[
        "inline-policy",
        "managed-policy",
        "log-retention",
        "http-listener",
        "alb-attribute",
        "sg-rule",
        "health-check",
    ],
)
def test_partial_stack_gets_only_the_missing_part(aws, make_ctx, damage, expected):
    engine.create(make_ctx())
    damage()
    aws.reset()
    engine.create(make_ctx())
    assert aws.writes() == expected
    assert_full_stack()


def _alb_arn() -> str:
    return str(client("elbv2").describe_load_balancers(Names=["web-dev"])["LoadBalancers"][0]["LoadBalancerArn"])


def _listener(port: int) -> str:
    listeners = client("elbv2").describe_listeners(LoadBalancerArn=_alb_arn())["Listeners"]
    return str(next(lst["ListenerArn"] for lst in listeners if lst["Port"] == port))


def _tg_arn(name: str) -> str:
    return str(client("elbv2").describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"])


def _revoke_alb_443() -> None:
    ec2 = client("ec2")
    gid = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["web-dev-alb"]}])["SecurityGroups"][
        0
    ]["GroupId"]
    ec2.revoke_security_group_ingress(
        GroupId=gid,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )


def test_changed_image_registers_one_new_revision_and_updates_the_service(aws, make_ctx):
    engine.create(make_ctx())
    aws.reset()
    engine.create(make_ctx(config_text(replace={"nginx:stable": "nginx:1.27"})))
    assert aws.writes() == [("ecs", "RegisterTaskDefinition"), ("ecs", "UpdateService"), ("ecs", "TagResource")]
    ecs = client("ecs")
    svc = ecs.describe_services(cluster="web-dev", services=["web-dev"])["services"][0]
    assert svc["taskDefinition"].endswith(":2")


def test_live_desired_count_is_not_reset_but_a_config_change_is_applied(aws, make_ctx):
    engine.create(make_ctx())
    ecs = client("ecs")
    ecs.update_service(cluster="web-dev", service="web-dev", desiredCount=3)  # autoscaling or a person
    aws.reset()
    ctx = make_ctx()
    engine.create(ctx)
    assert aws.mutating() == []
    assert any("desired count 3" in note for note in ctx.notes)
    engine.create(make_ctx(config_text(replace={"desired_count = 1": "desired_count = 2"})))
    assert ecs.describe_services(cluster="web-dev", services=["web-dev"])["services"][0]["desiredCount"] == 2


def test_cloudfront_certificate_in_us_east_1(aws, make_ctx):
    engine.create(
        make_ctx(config_text(replace={'hostname = "www.': 'cloudfront_certificate = true\nhostname = "www.'}))
    )
    certs = client("acm", "us-east-1").list_certificates()["CertificateSummaryList"]
    assert len(certs) == 1
    arn = certs[0]["CertificateArn"]
    assert tagdict(client("acm", "us-east-1").list_tags_for_certificate(CertificateArn=arn)["Tags"]) == TAGS
    assert_full_stack()
    aws.reset()
    engine.create(
        make_ctx(config_text(replace={'hostname = "www.': 'cloudfront_certificate = true\nhostname = "www.'}))
    )
    assert aws.mutating() == []


def test_deep_hostname_gets_its_own_san_and_cname_record(aws, make_ctx):
    text = config_text(replace={f'hostname = "www.{ZONE}"': f'hostname = "api.eu.{ZONE}"\nrecord = "cname"'})
    engine.create(make_ctx(text))
    acm = client("acm")
    cert = acm.describe_certificate(
        CertificateArn=acm.list_certificates()["CertificateSummaryList"][0]["CertificateArn"]
    )["Certificate"]
    assert f"api.eu.{ZONE}" in cert["SubjectAlternativeNames"]
    rec = [r for r in records(f"api.eu.{ZONE}.") if r["Type"] == "CNAME"]
    alb = client("elbv2").describe_load_balancers(Names=["web-dev"])["LoadBalancers"][0]
    assert rec[0]["ResourceRecords"][0]["Value"] == alb["DNSName"]


def test_apex_hostname_gets_an_alias(aws, make_ctx):
    engine.create(make_ctx(config_text(replace={f'hostname = "www.{ZONE}"': f'hostname = "{ZONE}"'})))
    apex = [r for r in records(f"{ZONE}.") if r["Type"] == "A"]
    assert len(apex) == 1 and "AliasTarget" in apex[0]


def test_bring_your_own_certificate_is_used_and_none_requested(aws, make_ctx):
    acm = client("acm")
    arn = issued_certificate(f"*.{ZONE}")
    text = config_text(replace={'hostname = "www.': f'certificate_arn = "{arn}"\nhostname = "www.'})
    engine.create(make_ctx(text))
    assert [c["CertificateArn"] for c in acm.list_certificates()["CertificateSummaryList"]] == [arn]
    https = next(
        lst for lst in client("elbv2").describe_listeners(LoadBalancerArn=_alb_arn())["Listeners"] if lst["Port"] == 443
    )
    assert https["Certificates"][0]["CertificateArn"] == arn


def test_missing_secret_value_stops_before_any_change(aws, make_ctx):
    with pytest.raises(ConfigError) as err:
        engine.create(make_ctx(secrets={}))
    assert "ECSUP_SECRET_DB_PASSWORD" in str(err.value)
    assert "service.secrets.DB_PASSWORD" in str(err.value)
    assert aws.mutating() == []


def test_existing_parameter_is_used_as_it_is(aws, make_ctx):
    client("ssm").put_parameter(Name="/web/dev/DB_PASSWORD", Value="kept-value", Type="SecureString")
    engine.create(make_ctx(secrets={}))
    assert (
        client("ssm").get_parameter(Name="/web/dev/DB_PASSWORD", WithDecryption=True)["Parameter"]["Value"]
        == "kept-value"
    )
    assert ("ssm", "PutParameter") not in aws.writes()


@pytest.mark.parametrize(
    "make_foreign",
    [
        lambda: client("iam").create_role(RoleName="web-dev-task", AssumeRolePolicyDocument="{}"),
        lambda: client("logs").create_log_group(logGroupName="/ecs/web-dev"),
        lambda: client("ecs").create_cluster(clusterName="web-dev"),
        lambda: client("ec2").create_security_group(
            GroupName="web-dev-alb",
            Description="someone else's",
            VpcId=client("ec2").describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"],
        ),
        lambda: client("elbv2").create_target_group(
            Name="web-dev-green",
            Protocol="HTTP",
            Port=80,
            TargetType="ip",
            VpcId=client("ec2").describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"],
        ),
    ],
    ids=["iam-role", "log-group", "cluster", "security-group", "target-group"],
)
def test_foreign_resource_with_an_ecsup_name_refuses_the_run(aws, make_ctx, make_foreign, clock):
    make_foreign()
    clock.sleep(60)  # made a while ago: visible to every read by now
    aws.reset()
    with pytest.raises(OwnershipConflict) as err:
        engine.create(make_ctx())
    assert "web-dev" in err.value.message
    assert aws.mutating() == []


def test_foreign_role_made_while_create_runs_is_refused_not_adopted(aws, make_ctx):
    """Someone else's role appears between the plan and CreateRole (IAM does not show a new
    role to reads at once, so the plan saw none): EntityAlreadyExists must not mean "ours"."""
    iam = client("iam")
    aws.injectors.append(
        lambda service, operation, params: (
            iam.create_role(RoleName="web-dev-task", AssumeRolePolicyDocument="{}") and None
            if (service, operation, params.get("RoleName")) == ("iam", "CreateRole", "web-dev-task")
            else None
        )
    )
    with pytest.raises(OwnershipConflict) as err:
        engine.create(make_ctx())
    assert "web-dev-task" in err.value.message
    role = iam.get_role(RoleName="web-dev-task")["Role"]
    assert not role.get("Tags")  # left as its owner made it
    assert iam.list_attached_role_policies(RoleName="web-dev-task")["AttachedPolicies"] == []


def test_foreign_dns_record_refuses_the_run(aws, make_ctx):
    change_records(
        "CREATE",
        {"Name": f"www.{ZONE}", "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": "elsewhere.example.net"}]},
    )
    aws.reset()
    with pytest.raises(OwnershipConflict) as err:
        engine.create(make_ctx())
    assert f"www.{ZONE}" in err.value.message and "elsewhere.example.net" in err.value.message
    assert aws.mutating() == []


def test_owner_marker_found_past_a_full_page_of_records(aws, make_ctx):
    """The marker _ecsup.<hostname> is read from the page that lists <hostname>; when other
    names sort between them and fill the page, it is read from the next one, not assumed absent."""
    engine.create(make_ctx())
    change_records(
        "CREATE",
        *[
            {"Name": f"{i:02d}.www.{ZONE}", "Type": "TXT", "TTL": 60, "ResourceRecords": [{"Value": '"filler"'}]}
            for i in range(25)
        ],
    )
    aws.reset()
    outcome = engine.create(make_ctx())
    assert aws.mutating() == []
    assert [a.kind for a in outcome.actions if a.resource == "DNS record"] == ["noop"]


def test_customer_managed_key_encrypts_the_secrets_and_only_it_is_decryptable(aws, make_ctx):
    key = client("kms").create_key(Description="app secrets")["KeyMetadata"]
    text = config_text(replace={"health_check_path": f'secrets_kms_key = "{key["KeyId"]}"\nhealth_check_path'})
    engine.create(make_ctx(text))
    param = client("ssm").describe_parameters()["Parameters"]
    assert [p["KeyId"] for p in param if p["Name"] == "/web/dev/DB_PASSWORD"] == [key["Arn"]]
    policy = client("iam").get_role_policy(RoleName="web-dev-execution", PolicyName="ecsup-secrets")["PolicyDocument"]
    assert {"Sid": "DecryptSecrets", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key["Arn"]} in policy[
        "Statement"
    ]
    assert all("*" not in str(s["Resource"]) for s in policy["Statement"])
    aws.reset()
    engine.create(make_ctx(text))
    assert aws.mutating() == []


def test_rules_ecsup_did_not_add_are_left_alone_and_reported(aws, make_ctx):
    engine.create(make_ctx())
    ec2 = client("ec2")
    gid = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["web-dev-tasks"]}])["SecurityGroups"][
        0
    ]["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=gid,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}],
    )
    aws.reset()
    ctx = make_ctx()
    engine.create(ctx)
    assert aws.mutating() == []
    assert any("web-dev-tasks" in n and "tcp/22 from 10.0.0.0/8" in n for n in ctx.notes)
