"""Bad input is refused with exit code 2, a message naming the key (or resource), no
traceback, and no mutating AWS call. Driven through the real CLI (typer's CliRunner)
against moto."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import BASE_CONFIG, REGION, ZONE, Recorder, client, config_text, explain, invoke
from typer.testing import Result

from ecsup.config import Config, DnsConfig, NetworkConfig, ServiceConfig, parse
from ecsup.errors import EXIT_CONFIG, ConfigError

# Lines of BASE_CONFIG that the cases below extend or replace.
HEALTH = 'health_check_path = "/health"'
HOSTNAME = f'hostname = "www.{ZONE}"'
SECRET = 'DB_PASSWORD = "/web/dev/DB_PASSWORD"'


def service_key(line: str) -> dict[str, str]:
    """A replace= that adds one line to the [service] table."""
    return {HEALTH: f"{HEALTH}\n{line}"}


def dns_key(line: str) -> dict[str, str]:
    """A replace= that adds one line to the [dns] table."""
    return {HOSTNAME: f"{HOSTNAME}\n{line}"}


def network(vpc_id: str, subnets: list[str] | None = None) -> str:
    text = f'\n[network]\nvpc_id = "{vpc_id}"\n'
    if subnets is not None:
        text += "subnets = [" + ", ".join(f'"{s}"' for s in subnets) + "]\n"
    return text


# -- configurations that need resources to exist first (called inside moto) -------


def _vpc(cidr: str = "10.20.0.0/16") -> str:
    return str(client("ec2").create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"])


def _subnet(vpc_id: str, cidr: str, az: str) -> str:
    return str(client("ec2").create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"])


def subnets_in_one_az() -> str:
    vpc = _vpc()
    a = _subnet(vpc, "10.20.1.0/24", f"{REGION}a")
    b = _subnet(vpc, "10.20.2.0/24", f"{REGION}a")
    return config_text(extra=network(vpc, [a, b]))


def subnets_of_another_vpc() -> str:
    mine, other = _vpc("10.20.0.0/16"), _vpc("10.30.0.0/16")
    a = _subnet(other, "10.30.1.0/24", f"{REGION}a")
    b = _subnet(other, "10.30.2.0/24", f"{REGION}b")
    return config_text(extra=network(mine, [a, b]))


def subnet_that_does_not_exist() -> str:
    vpc = _vpc()
    a = _subnet(vpc, "10.20.1.0/24", f"{REGION}a")
    return config_text(extra=network(vpc, [a, "subnet-0123456789abcdef0"]))


def private_zone_only() -> str:
    client("route53").create_hosted_zone(
        Name="internal.example.com",
        CallerReference="private",
        HostedZoneConfig={"Comment": "private", "PrivateZone": True},
        VPC={"VPCRegion": REGION, "VPCId": _vpc()},
    )
    return config_text(
        replace={f'zone = "{ZONE}"': 'zone = "internal.example.com"', HOSTNAME: 'hostname = "www.internal.example.com"'}
    )


@dataclass(frozen=True)
class Case:
    config: str | Callable[[], str]
    expect: tuple[str, ...]  # each must appear on stderr; the first is the key path (or resource)
    local: bool = True  # refused by config validation, before any AWS call at all
    absent: tuple[str, ...] = ()  # must not appear (misleading follow-on problems)


def case(
    id: str,
    expect: tuple[str, ...],
    *,
    extra: str = "",
    replace: dict[str, str] | None = None,
    local: bool = True,
    absent: tuple[str, ...] = (),
) -> object:
    return pytest.param(Case(config_text(extra=extra, replace=replace), expect, local, absent), id=id)


def remote(id: str, config: Callable[[], str], expect: tuple[str, ...]) -> object:
    return pytest.param(Case(config, expect, local=False), id=id)


CASES = [
    # -- cpu / memory / logs ----------------------------------------------------
    case(
        "memory-invalid-for-cpu",
        ("service.memory:", "512 MiB is not valid with cpu 512", "1024, 2048, 3072, 4096"),
        replace={"memory = 1024": "memory = 512"},
    ),
    case(
        "memory-invalid-for-cpu-256",
        ("service.memory:", "512, 1024, 2048"),
        replace={"cpu = 512": "cpu = 256", "memory = 1024": "memory = 4096"},
    ),
    case(
        "cpu-not-fargate",
        ("service.cpu:", "300 is not a Fargate cpu value", "256, 512, 1024"),
        replace={"cpu = 512": "cpu = 300"},
    ),
    case("cpu-wrong-type", ("service.cpu:", "must be an integer", "'512'"), replace={"cpu = 512": 'cpu = "512"'}),
    case("cpu-bool", ("service.cpu:", "must be an integer"), replace={"cpu = 512": "cpu = true"}),
    case(
        # the pair cannot be checked without a cpu: no problem about memory "with cpu 256" (a default)
        "cpu-wrong-type-no-memory-follow-on",
        ("service.cpu:", "invalid configuration: service.cpu: must be an integer, got str '1024'"),
        replace={"cpu = 512": 'cpu = "1024"', "memory = 1024": "memory = 4096"},
        absent=("service.memory", "cpu 256"),
    ),
    case(
        "memory-wrong-type-no-pair-follow-on",
        ("service.memory:", "invalid configuration: service.memory: must be an integer, got str '2048'"),
        replace={"cpu = 512": "cpu = 1024", "memory = 1024": 'memory = "2048"'},
        absent=("512 MiB",),
    ),
    case(
        "log-retention-2",
        ("service.log_retention_days:", "2 is not accepted", "1, 3, 5, 7, 14"),
        replace=service_key("log_retention_days = 2"),
    ),
    # -- [service.deploy] (ECS API reference ranges) ------------------------------
    case(
        "deploy-strategy-unknown",
        ("service.deploy.strategy:", "'codedeploy'", "blue_green, linear, canary, rolling"),
        extra='\n[service.deploy]\nstrategy = "codedeploy"\n',
    ),
    case(
        "deploy-bake-too-long",
        ("service.deploy.bake_minutes:", "2000", "0 and 1440"),
        extra="\n[service.deploy]\nbake_minutes = 2000\n",
    ),
    case(
        "deploy-step-too-small",
        ("service.deploy.step_percent:", "2.5", "3.0 to 100.0"),
        extra='\n[service.deploy]\nstrategy = "linear"\nstep_percent = 2.5\n',
    ),
    case(
        "deploy-canary-not-a-tenth",
        ("service.deploy.canary_percent:", "0.05", "multiple of 0.1"),
        extra='\n[service.deploy]\nstrategy = "canary"\ncanary_percent = 0.05\n',
    ),
    case(
        "deploy-key-of-another-strategy",
        ("service.deploy.canary_percent:", 'only with strategy = "canary"', "'linear'"),
        extra='\n[service.deploy]\nstrategy = "linear"\ncanary_percent = 10\n',
    ),
    case(
        "deploy-bake-with-rolling",
        ("service.deploy.bake_minutes:", "no effect", "rolling"),
        extra='\n[service.deploy]\nstrategy = "rolling"\nbake_minutes = 3\n',
    ),
    case(
        "deploy-percent-wrong-type",
        ("service.deploy.step_percent:", "must be a number", "'ten'"),
        extra='\n[service.deploy]\nstrategy = "linear"\nstep_percent = "ten"\n',
    ),
    # -- names ----------------------------------------------------------------
    case(
        "app-env-too-long-for-elb",
        # the green target group name is the longest (36): shortening by 4 is what makes every name fit
        ("app:", "'customer-portal-api-production-green' is 36 characters", "allows 32", "shorten app or env by 4"),
        replace={'app = "web"': 'app = "customer-portal-api"', 'env = "dev"': 'env = "production"'},
    ),
    case("app-uppercase", ("app:", "'Web'", "lowercase"), replace={'app = "web"': 'app = "Web"'}),
    case("env-trailing-hyphen", ("env:", "'dev-'"), replace={'env = "dev"': 'env = "dev-"'}),
    case("region-malformed", ("region:", "'Ireland'"), replace={f'region = "{REGION}"': 'region = "Ireland"'}),
    # -- dns ------------------------------------------------------------------
    case(
        "hostname-outside-zone",
        ("dns.hostname:", "not inside the zone", "test.example.com"),
        replace={HOSTNAME: 'hostname = "www.example.org"'},
    ),
    case(
        "hostname-suffix-but-not-subdomain",
        ("dns.hostname:", "not inside the zone"),
        replace={HOSTNAME: 'hostname = "www.nottest.example.com"'},
    ),
    case("record-txt", ("dns.record:", "'txt'", '"alias" or "cname"'), replace=dns_key('record = "txt"')),
    case(
        "cname-at-apex",
        ("dns.record:", "apex", 'record = "alias"'),
        replace={HOSTNAME: f'hostname = "{ZONE}"\nrecord = "cname"'},
    ),
    case("zone-missing", ("dns.zone:", "is required"), replace={f'zone = "{ZONE}"\n': ""}),
    case(
        "zone-not-a-domain",
        ("dns.zone:", "not a valid domain name"),
        replace={f'zone = "{ZONE}"': 'zone = "localhost"'},
    ),
    case(
        "certificate-arn-malformed",
        ("dns.certificate_arn:", "not an ACM certificate ARN"),
        replace=dns_key('certificate_arn = "arn:aws:iam::123456789012:server-certificate/x"'),
    ),
    # -- keys and types -------------------------------------------------------
    case(
        "unknown-top-level-key",
        ("name:", "unknown key", "app, dns, env"),
        replace={'app = "web"': 'app = "web"\nname = "x"'},
    ),
    case("unknown-service-key", ("service.port:", "unknown key", "container_port"), replace=service_key("port = 80")),
    case("section-not-a-table", ("dns:", "must be a table"), replace={"[dns]\n": 'dns = "x"\n[nodns]\n'}),
    case(
        "image-missing",
        ("service.image:", "is required"),
        replace={'image = "public.ecr.aws/nginx/nginx:stable"\n': ""},
    ),
    case("image-with-space", ("service.image:", "image reference"), replace={"nginx:stable": "nginx stable"}),
    # -- numbers --------------------------------------------------------------
    case(
        "container-port-0",
        ("service.container_port:", "0 is not a port"),
        replace={"container_port = 8080": "container_port = 0"},
    ),
    case(
        "container-port-70000",
        ("service.container_port:", "70000 is not a port"),
        replace={"container_port = 8080": "container_port = 70000"},
    ),
    case(
        "desired-count-negative", ("service.desired_count:", "-1"), replace={"desired_count = 1": "desired_count = -1"}
    ),
    case(
        "health-check-path-relative",
        ("service.health_check_path:", "'health'"),
        replace={HEALTH: 'health_check_path = "health"'},
    ),
    # -- environment and secrets ----------------------------------------------
    case(
        "environment-name-invalid",
        ("service.environment.APP-ENV:", "not a valid environment variable name"),
        replace={'APP_ENV = "dev"': '"APP-ENV" = "dev"'},
    ),
    case(
        "environment-value-table",
        ("service.environment.APP_ENV:", "string, number or boolean"),
        replace={'APP_ENV = "dev"': "APP_ENV = { a = 1 }"},
    ),
    case(
        "secret-name-invalid",
        ("service.secrets.1BAD:", "not a valid environment variable name"),
        replace={SECRET: '1BAD = "/web/dev/DB_PASSWORD"'},
    ),
    case(
        "ssm-reserved-aws",
        ("service.secrets.DB_PASSWORD:", "'/aws/x'", "reserved"),
        replace={SECRET: 'DB_PASSWORD = "/aws/x"'},
    ),
    case(
        "ssm-reserved-ssm",
        ("service.secrets.DB_PASSWORD:", "'ssm-x'", "reserved"),
        replace={SECRET: 'DB_PASSWORD = "ssm-x"'},
    ),
    case(
        "ssm-invalid-character",
        ("service.secrets.DB_PASSWORD:", "'/web/dev/db$pw'", "may contain only"),
        replace={SECRET: 'DB_PASSWORD = "/web/dev/db$pw"'},
    ),
    case(
        "ssm-relative-hierarchy",
        ("service.secrets.DB_PASSWORD:", "must start with '/'"),
        replace={SECRET: 'DB_PASSWORD = "web/dev/pw"'},
    ),
    case(
        "secret-also-plain",
        ("service.secrets.APP_ENV:", "also set in service.environment"),
        replace={SECRET: f'{SECRET}\nAPP_ENV = "/web/dev/APP_ENV"'},
    ),
    case(
        "two-secrets-one-parameter",
        ("service.secrets:", "same SSM parameter"),
        replace={SECRET: f'{SECRET}\nDB_PASSWORD_COPY = "/web/dev/DB_PASSWORD"'},
    ),
    case(
        "kms-key-aws-managed",
        ("service.secrets_kms_key:", "customer-managed"),
        replace=service_key('secrets_kms_key = "alias/aws/ssm"'),
    ),
    # -- network (local) ------------------------------------------------------
    case(
        "one-subnet",
        ("network.subnets:", "at least 2 subnets"),
        extra=network("vpc-0123456789abcdef0", ["subnet-0123456789abcdef0"]),
    ),
    case(
        "subnet-listed-twice",
        ("network.subnets:", "twice"),
        extra=network("vpc-0123456789abcdef0", ["subnet-0123456789abcdef0", "subnet-0123456789abcdef0"]),
    ),
    case("subnet-id-malformed", ("network.subnets[1]:", "'sn-2'"), extra=network("vpc-0abc", ["subnet-0abc", "sn-2"])),
    case(
        "subnets-without-vpc",
        ("network.vpc_id:", "required when network.subnets is given"),
        extra='\n[network]\nsubnets = ["subnet-0a", "subnet-0b"]\n',
    ),
    case("vpc-id-malformed", ("network.vpc_id:", "'vpc_123'"), extra=network("vpc_123")),
    # -- checked against the account (read calls only) --------------------------
    case(
        "zone-not-in-account",
        ("dns.zone:", "'other.example.org'", "public zones found: test.example.com"),
        replace={f'zone = "{ZONE}"': 'zone = "other.example.org"', HOSTNAME: 'hostname = "www.other.example.org"'},
        local=False,
    ),
    remote("zone-private-only", private_zone_only, ("dns.zone:", "private hosted zone")),
    case(
        "vpc-not-in-account",
        ("network.vpc_id:", "vpc-0123456789abcdef0", "does not exist"),
        extra=network("vpc-0123456789abcdef0"),
        local=False,
    ),
    remote("subnets-in-one-az", subnets_in_one_az, ("network.subnets:", "one subnet per availability zone")),
    remote("subnets-of-another-vpc", subnets_of_another_vpc, ("network.subnets:", "not in vpc-")),
    remote("subnet-not-in-account", subnet_that_does_not_exist, ("network.subnets:", "subnet-0123456789abcdef0")),
    case(
        "kms-key-not-in-account",
        ("service.secrets_kms_key:", "alias/no-such-key", "does not exist"),
        replace=service_key('secrets_kms_key = "alias/no-such-key"'),
        local=False,
    ),
    case(
        "secret-without-value",
        ("service.secrets.DB_PASSWORD:", "ECSUP_SECRET_DB_PASSWORD", "/web/dev/DB_PASSWORD"),
        local=False,
    ),
]


@pytest.fixture(autouse=True)
def no_secret_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """No value for any secret: a missing SSM parameter cannot be created."""
    monkeypatch.delenv("ECSUP_SECRET_DB_PASSWORD", raising=False)
    monkeypatch.delenv("ECSUP_SECRET_DB_PASSWORD_COPY", raising=False)


def assert_refused(result: Result, aws: Recorder, *expect: str) -> None:
    why = explain(result)
    assert isinstance(result.exception, SystemExit), why  # not an unexpected exception
    assert result.exit_code == EXIT_CONFIG, why
    assert "Traceback" not in result.output, why
    assert "error: invalid configuration" in result.stderr, why
    for text in expect:
        assert text in result.stderr, f"{text!r} not on stderr\n{why}"
    assert aws.mutating() == [], why


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ecsup.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_base_config_is_valid() -> None:
    """The cases above differ from a configuration that is accepted."""
    parse(BASE_CONFIG)


@pytest.mark.parametrize("bad", CASES)
def test_bad_config_is_refused(bad: Case, aws: Recorder, tmp_path: Path) -> None:
    text = bad.config if isinstance(bad.config, str) else bad.config()
    path = write(tmp_path, text)
    aws.reset()

    result = invoke("create", "-c", str(path))

    assert_refused(result, aws, *bad.expect)
    for unwanted in bad.absent:
        assert unwanted not in result.stderr, explain(result)
    if bad.local:
        assert aws.calls == [], "config validation must not call AWS"
        with pytest.raises(ConfigError) as info:
            parse(text)
        assert bad.expect[0].rstrip(":") in [key for key, _ in info.value.problems]
    else:
        parse(text)  # locally valid: only the account can tell


def test_toml_syntax_error_names_the_line(aws: Recorder, tmp_path: Path) -> None:
    text = config_text(replace={"cpu = 512": "cpu = = 512"})
    line = text.splitlines().index("cpu = = 512") + 1
    path = write(tmp_path, text)

    result = invoke("create", "-c", str(path))

    assert_refused(result, aws, str(path), "invalid TOML", f"line {line}")
    assert aws.calls == []


def test_several_problems_are_reported_at_once(aws: Recorder, tmp_path: Path) -> None:
    text = config_text(
        replace={
            "memory = 1024": "memory = 512",
            "container_port = 8080": "container_port = 0",
            HOSTNAME: f'{HOSTNAME}\nrecord = "txt"',
            'app = "web"': 'app = "web"\nname = "x"',
            SECRET: 'DB_PASSWORD = "/aws/x"',
        }
    )
    path = write(tmp_path, text)

    result = invoke("create", "-c", str(path))

    assert_refused(
        result,
        aws,
        "invalid configuration (5 problems)",
        "service.memory:",
        "service.container_port:",
        "dns.record:",
        "name: unknown key",
        "service.secrets.DB_PASSWORD:",
    )
    assert aws.calls == []


def test_region_option_conflicting_with_config(aws: Recorder, tmp_path: Path) -> None:
    path = write(tmp_path, config_text())

    result = invoke("--region", "us-east-1", "create", "-c", str(path))

    assert_refused(result, aws, "region:", f"'{REGION}'", "'us-east-1'")
    assert aws.calls == []


def test_missing_config_file(aws: Recorder, tmp_path: Path) -> None:
    path = tmp_path / "nope" / "ecsup.toml"

    result = invoke("create", "-c", str(path))

    assert_missing(result, aws, f"{path} is missing", f"ecsup init -c {path}")
    assert "--config" not in result.stderr  # it was given: no advice to give it
    assert aws.calls == []


def test_default_config_file_missing(aws: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    result = invoke("create")

    assert_missing(result, aws, "ecsup.toml is missing", "`ecsup init`", "--config PATH")


def assert_missing(result: Result, aws: Recorder, *expect: str) -> None:
    why = explain(result)
    assert isinstance(result.exception, SystemExit), why
    assert result.exit_code == EXIT_CONFIG, why
    assert "Traceback" not in result.output and "invalid configuration" not in result.stderr, why
    for text in expect:
        assert text in result.stderr, f"{text!r} not on stderr\n{why}"
    assert aws.calls == [], why


def test_unreadable_config_file(aws: Recorder, tmp_path: Path) -> None:
    path = tmp_path / "ecsup.toml"
    path.write_bytes(b'app = "w\xffb"\n')

    result = invoke("create", "-c", str(path))

    assert_refused(result, aws, str(path), "cannot be read")


def test_valid_config_parses_to_dataclasses() -> None:
    text = config_text(
        replace={
            f'zone = "{ZONE}"': 'zone = "Test.Example.COM."',
            HOSTNAME: 'hostname = "WWW.test.example.com"\nrecord = "cname"',
            'APP_ENV = "dev"': 'APP_ENV = "dev"\nWORKERS = 4\nDEBUG = false\nRATIO = 0.5',
        },
        extra=network("vpc-0abc", ["subnet-0b", "subnet-0a"]) + "assign_public_ip = false\n",
    )

    cfg = parse(text, "conf/ecsup.toml")

    assert cfg == Config(
        app="web",
        env="dev",
        region=REGION,
        path="conf/ecsup.toml",
        dns=DnsConfig(zone=ZONE, hostname=f"www.{ZONE}", record="cname"),
        network=NetworkConfig(vpc_id="vpc-0abc", subnets=("subnet-0b", "subnet-0a"), assign_public_ip=False),
        service=ServiceConfig(
            image="public.ecr.aws/nginx/nginx:stable",
            container_port=8080,
            cpu=512,
            memory=1024,
            desired_count=1,
            health_check_path="/health",
            log_retention_days=30,
            environment=(("APP_ENV", "dev"), ("DEBUG", "false"), ("RATIO", "0.5"), ("WORKERS", "4")),
            secrets=(("DB_PASSWORD", "/web/dev/DB_PASSWORD"),),
        ),
    )
    assert cfg.url == f"https://www.{ZONE}/"
    assert cfg.names.tg_green == "web-dev-green"


def test_minimal_config_takes_the_defaults() -> None:
    cfg = parse(f'app = "a"\nenv = "b"\n[dns]\nzone = "{ZONE}"\nhostname = "{ZONE}"\n[service]\nimage = "nginx"\n')

    assert cfg.region == ""
    assert cfg.dns == DnsConfig(zone=ZONE, hostname=ZONE)
    assert cfg.network == NetworkConfig()
    assert cfg.service == ServiceConfig(image="nginx")
    assert (cfg.service.cpu, cfg.service.memory, cfg.service.container_port) == (256, 512, 80)


@pytest.mark.parametrize(
    ("app_name", "shorten_by"),
    [
        pytest.param("a" * 22, 0, id="green-32-fits"),
        pytest.param("a" * 23, 1, id="blue-32-green-33"),
        pytest.param("a" * 24, 2, id="blue-33-green-34"),
    ],
)
def test_elb_name_limit_boundary(app_name: str, shorten_by: int) -> None:
    """`<app>-<env>-green` is the longest ELB name: with env "dev", 22 + len("-dev-green") = 32 fits.
    The advice must be enough for every name: shorten by what the longest one is over."""
    text = config_text(replace={'app = "web"': f'app = "{app_name}"'})
    if not shorten_by:
        assert len(parse(text).names.tg_green) == 32
        return
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert [key for key, _ in info.value.problems] == ["app"]
    assert f"green target group name '{app_name}-dev-green'" in info.value.message
    assert f"shorten app or env by {shorten_by}" in info.value.message
