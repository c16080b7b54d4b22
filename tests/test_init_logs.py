"""`ecsup init` (a commented ecsup.toml that always loads) and `ecsup logs` (the service's
CloudWatch logs, prefixed with the task id), against moto and through the real CLI."""

from __future__ import annotations

import io
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import BASE_CONFIG, REGION, ZONE, client, explain, invoke
from rich.console import Console

from ecsup import engine
from ecsup.config import load, parse
from ecsup.errors import EXIT_CONFIG, EXIT_UNHEALTHY, ConfigError, OptionError
from ecsup.init import (
    EXTERNAL_CHOICE,
    InitOptions,
    account_zones,
    build,
    list_public_zones,
    pick,
    run_init,
    toml_str,
)
from ecsup.logs import LogLine, parse_since, tail
from ecsup.render import LogPrinter, task_style

pytestmark = pytest.mark.usefixtures("plain_output")

ESC = "\x1b"
REQUIRED_OPTS = ["--app", "web", "--env", "dev", "--zone", ZONE, "--image", "public.ecr.aws/nginx/nginx:stable"]


# -- init: non-interactive ------------------------------------------------------------


def test_init_minimal_options_write_a_loadable_commented_file(tmp_path: Path) -> None:
    path = tmp_path / "ecsup.toml"
    result = invoke("init", "-c", str(path), *REQUIRED_OPTS)
    assert result.exit_code == 0, explain(result)
    assert f"wrote {path}" in result.stdout
    cfg = load(path)
    assert (cfg.app, cfg.env, cfg.dns.zone, cfg.dns.hostname) == ("web", "dev", ZONE, f"www.{ZONE}")
    assert cfg.service.image == "public.ecr.aws/nginx/nginx:stable"
    assert (cfg.service.cpu, cfg.service.memory, cfg.service.container_port) == (256, 512, 80)
    assert cfg.service.secrets == () and cfg.service.environment == () and cfg.region == ""
    text = path.read_text()
    # commented-out examples where nothing was given
    assert '# DB_PASSWORD = "/web/dev/DB_PASSWORD"' in text
    assert "# [network]" in text and "# vpc_id = " in text and "# subnets = " in text
    assert '# region = "eu-west-1"' in text and "# certificate_arn = " in text
    # every key is written (or shown commented out) under a comment
    lines = text.splitlines()
    for key in [
        "app",
        "env",
        "region",
        "zone",
        "hostname",
        "record",
        "cloudfront_certificate",
        "certificate_arn",
        "image",
        "container_port",
        "cpu",
        "desired_count",
        "health_check_path",
        "log_retention_days",
        "secrets_kms_key",
        "cpu_architecture",
        "capacity",
        "strategy",
        "bake_minutes",
        "min",
        "cpu_target",
        "vpc_id",
        "alb_subnets",
        "subnets",
        "assign_public_ip",
        "ipv6",
        "shared",
    ]:
        at = next(i for i, line in enumerate(lines) if line.lstrip("# ").startswith(f"{key} = "))
        assert lines[at - 1].startswith("#"), key
    # the commented-out [network] example is valid once uncommented
    network = "\n".join(line[2:] for line in lines[lines.index("# [network]") :] if line.startswith("# "))
    # (shared, ecsup's own network, is the alternative to vpc_id/subnets: one or the other)
    keys = {"vpc_id", "alb_subnets", "subnets", "assign_public_ip", "ipv6", "egress", "shared"}
    assert set(tomllib.loads(network)["network"]) == keys
    # so is the [load_balancer] one, shared load balancer included
    start = lines.index("# [load_balancer]")
    end = lines.index("", start)
    section = "\n".join(line[2:] for line in lines[start:end])
    assert tomllib.loads(section)["load_balancer"]["shared"] == "edge"


@pytest.mark.parametrize(
    ("extra", "check"),
    [
        (
            [
                "--region",
                "eu-central-1",
                "--hostname",
                ZONE,
                "--port",
                "8080",
                "--cpu",
                "1024",
                "--memory",
                "4096",
                "--desired-count",
                "3",
                "--health-check-path",
                "/healthz",
                "--cloudfront-certificate",
            ],
            lambda c: (
                c.region == "eu-central-1"
                and c.dns.hostname == ZONE
                and c.dns.record == "alias"
                and c.dns.cloudfront_certificate
                and (c.service.container_port, c.service.cpu, c.service.memory) == (8080, 1024, 4096)
                and c.service.desired_count == 3
                and c.service.health_check_path == "/healthz"
            ),
        ),
        (
            ["--record", "cname", "--hostname", f"API.{ZONE}."],
            lambda c: c.dns.record == "cname" and c.dns.hostname == f"api.{ZONE}" and not c.dns.cloudfront_certificate,
        ),
        # --cpu alone: the smallest memory valid for it
        (["--cpu", "2048"], lambda c: (c.service.cpu, c.service.memory) == (2048, 4096)),
        (
            [
                "--secret",
                "DB_PASSWORD=/web/dev/DB_PASSWORD",
                "--secret",
                "API_KEY = /web/dev/api-key",
                "--env-var",
                "APP_ENV=dev",
                "--env-var",
                'QUOTED=say "hi" \\o/ C:\\temp',
                "--env-var",
                "MULTI=line one\nline\ttwo",
                "--env-var",
                "UNICODE=héllo ✓ 🚀\x7f",
                "--env-var",
                "EQUALS=a=b=c",
            ],
            lambda c: (
                dict(c.service.secrets) == {"DB_PASSWORD": "/web/dev/DB_PASSWORD", "API_KEY": "/web/dev/api-key"}
                and dict(c.service.environment)
                == {
                    "APP_ENV": "dev",
                    "QUOTED": 'say "hi" \\o/ C:\\temp',
                    "MULTI": "line one\nline\ttwo",
                    "UNICODE": "héllo ✓ 🚀\x7f",
                    "EQUALS": "a=b=c",
                }
            ),
        ),
    ],
    ids=["every-option", "cname", "cpu-only", "secrets-and-env-vars"],
)
def test_init_option_sets_write_loadable_files(tmp_path: Path, extra: list[str], check: Callable[..., bool]) -> None:
    path = tmp_path / "ecsup.toml"
    result = invoke("init", "-c", str(path), *REQUIRED_OPTS, *extra)
    assert result.exit_code == 0, explain(result)
    cfg = load(path)
    assert check(cfg), cfg
    if "--secret" in extra:
        assert "# DB_PASSWORD" not in path.read_text()  # the example only when no secret was given


def test_toml_strings_round_trip() -> None:
    for value in ['"', "\\", "\\n", "a\nb", "\t", "\x00\x1f\x7f", "é✓🚀", "'''", '"""', "${X}", ""]:
        assert tomllib.loads(f"v = {toml_str(value)}")["v"] == value
    with pytest.raises(ValueError):
        toml_str("bad \udcff byte")  # an undecodable command-line byte (surrogateescape)


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    path = tmp_path / "ecsup.toml"
    path.write_text("# mine\n")
    result = invoke("init", "-c", str(path), *REQUIRED_OPTS)
    assert result.exit_code == EXIT_CONFIG, explain(result)
    assert path.read_text() == "# mine\n"
    assert result.stderr.strip().count("\n") == 0, result.stderr  # one line
    assert "exists already" in result.stderr and "--force" in result.stderr and "Traceback" not in result.output

    result = invoke("init", "-c", str(path), *REQUIRED_OPTS, "--force")
    assert result.exit_code == 0, explain(result)
    assert load(path).app == "web"


def test_init_missing_required_option_off_a_terminal(tmp_path: Path) -> None:
    path = tmp_path / "ecsup.toml"
    result = invoke("init", "-c", str(path), "--env", "dev", "--zone", ZONE, "--image", "nginx")
    assert result.exit_code == EXIT_CONFIG, explain(result)
    assert "--app" in result.stderr and "terminal" in result.stderr and "Traceback" not in result.output
    assert not path.exists()

    result = invoke("init", "-c", str(path), "--app", "web")
    assert result.exit_code == EXIT_CONFIG
    assert all(flag in result.stderr for flag in ("--env", "--zone", "--image"))
    assert not path.exists()


@pytest.mark.parametrize(
    ("extra", "expect"),
    [
        (["--memory", "3000"], ["service.memory (--memory)", "512, 1024, 2048"]),
        (["--secret", "DB_PASSWORD=relative/name"], ["service.secrets.DB_PASSWORD (--secret)"]),
        (["--secret", "DB_PASSWORD"], ["--secret", "NAME=VALUE"]),
        (["--secret", "X=/a/x", "--secret", "X=/a/y"], ["--secret X: given twice"]),
        (["--env-var", "BAD NAME=1"], ["service.environment.BAD NAME (--env-var)"]),
        (["--record", "mx"], ["dns.record (--record)"]),
        (["--hostname", "www.elsewhere.org"], ["dns.hostname (--hostname)", "not inside the zone"]),
    ],
)
def test_init_invalid_options_write_nothing(tmp_path: Path, extra: list[str], expect: list[str]) -> None:
    path = tmp_path / "ecsup.toml"
    result = invoke("init", "-c", str(path), *REQUIRED_OPTS, *extra)
    assert result.exit_code == EXIT_CONFIG, explain(result)
    for text in expect:
        assert text in result.stderr, explain(result)
    assert "Traceback" not in result.output
    assert not path.exists()


def test_init_external_writes_a_dns_elsewhere_config_that_creates(
    aws: Any, make_ctx: Callable[..., Any], tmp_path: Path
) -> None:
    """--external (the domain's DNS at another provider): no zone, the hostname required, a file
    with `external = true` that loads and that `create` builds without a Route53 zone."""
    path = tmp_path / "ecsup.toml"
    base = ["--app", "web", "--env", "dev", "--image", "public.ecr.aws/nginx/nginx:stable", "--region", REGION]
    result = invoke("init", "-c", str(path), *base, "--external")
    assert result.exit_code == EXIT_CONFIG, explain(result)
    assert "--hostname" in result.stderr and "--zone" not in result.stderr and not path.exists()
    for extra, says in ((["--zone", ZONE], "--zone and --external"), (["--record", "cname"], "--record")):
        result = invoke("init", "-c", str(path), *base, "--external", "--hostname", "app.example.org", *extra)
        assert result.exit_code == EXIT_CONFIG, explain(result)
        assert says in result.stderr and "Traceback" not in result.output and not path.exists()
    result = invoke("init", "-c", str(path), *base, "--external", "--hostname", "App.Example.org")
    assert result.exit_code == 0, explain(result)
    text = path.read_text()
    assert "\nexternal = true\n" in text and "\nzone =" not in text and "\nrecord =" not in text
    cfg = load(path)
    assert (cfg.dns.external, cfg.dns.zone, cfg.dns.hostname) == (True, "", "app.example.org")
    engine.create(make_ctx(cfg))
    certs = client("acm").list_certificates()["CertificateSummaryList"]
    assert [c["DomainName"] for c in certs] == ["app.example.org"]


def test_interactive_init_offers_external_dns_without_a_zone_or_when_chosen(tmp_path: Path) -> None:
    """No public zone in the account: an empty answer means the DNS is elsewhere, and the hostname
    is then asked with no default; with zones, the last choice is "elsewhere"."""
    asked: list[str] = []

    def run(zones: list[str], answers: list[str], choice: str = "") -> Any:
        given = iter(answers)

        def prompt(label: str) -> str:
            asked.append(label)
            return next(given)

        path = tmp_path / f"{len(list(tmp_path.iterdir()))}.toml"
        return run_init(
            InitOptions(app="web", env="dev", image="nginx", region=REGION),
            str(path),
            False,
            True,
            prompt=prompt,
            choose=lambda label, choices: pick(str(choices.index(EXTERNAL_CHOICE) + 1), choices),
            zones=lambda: zones,
            warn=lambda line: None,
        )

    # no zone found: empty answer -> external; an empty hostname is asked again (no www.<zone> to take)
    cfg = run([], ["", "", "shop.example.org"])
    assert (cfg.dns.external, cfg.dns.zone, cfg.dns.hostname) == (True, "", "shop.example.org")
    assert asked[0].startswith("Public Route53 hosted zone (none found; empty: the domain's DNS is at another")
    assert asked[1:] == ["Hostname served over HTTPS (its DNS at your provider)"] * 2
    # zones found, "elsewhere" chosen
    asked.clear()
    cfg = run([ZONE], ["api.example.org"])
    assert (cfg.dns.external, cfg.dns.hostname) == (True, "api.example.org")
    assert asked == ["Hostname served over HTTPS (its DNS at your provider)"]


def test_init_uses_the_global_region(tmp_path: Path) -> None:
    path = tmp_path / "ecsup.toml"
    result = invoke("--region", "us-west-2", "init", "-c", str(path), *REQUIRED_OPTS)
    assert result.exit_code == 0, explain(result)
    assert load(path).region == "us-west-2"


# -- init: interactive ----------------------------------------------------------------


def test_public_zones_are_listed_from_the_account(aws: Any) -> None:
    r53 = client("route53")
    vpc = client("ec2").create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    r53.create_hosted_zone(
        Name="internal.example.com",
        CallerReference="private",
        VPC={"VPCRegion": REGION, "VPCId": vpc},
        HostedZoneConfig={"PrivateZone": True},
    )
    for i in range(101):  # more than one page (100 zones a page)
        r53.create_hosted_zone(Name=f"z{i:03}.example.org", CallerReference=f"z{i}")
    zones = list_public_zones(client("route53"))
    assert len(zones) == 102 and ZONE in zones and "z100.example.org" in zones
    assert "internal.example.com" not in zones
    assert zones == sorted(zones) and not any(z.endswith(".") for z in zones)
    assert account_zones(region=REGION) == zones


def test_listing_zones_without_credentials_or_network_gives_no_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    assert account_zones(region=REGION, endpoint_url="http://127.0.0.1:9") == []  # nothing listens there
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert account_zones(region=REGION) == []
    assert account_zones(profile="no-such-profile") == []


def test_interactive_init_offers_the_account_zones(aws: Any, tmp_path: Path) -> None:
    client("route53").create_hosted_zone(Name="other.example.net", CallerReference="other")
    path = tmp_path / "ecsup.toml"
    asked: list[str] = []
    offered: list[list[str]] = []
    # an empty answer is asked again; an empty hostname takes the shown www.<zone>
    answers = iter(["", "web", "public.ecr.aws/nginx/nginx:stable", ""])

    def prompt(label: str) -> str:
        asked.append(label)
        return next(answers)

    def choose(label: str, choices: list[str]) -> str:
        offered.append(choices)
        return pick(str(choices.index(ZONE) + 1), choices)  # the user types the number

    cfg = run_init(
        InitOptions(env="dev", region=REGION),
        str(path),
        force=False,
        interactive=True,
        prompt=prompt,
        choose=choose,
        zones=lambda: list_public_zones(client("route53")),
    )
    assert offered == [[*sorted([ZONE, "other.example.net"]), EXTERNAL_CHOICE]]  # and "DNS elsewhere"
    assert len(asked) == 4 and asked[0].startswith("Application") and asked[2].startswith("Container image")
    assert asked[3] == f"Hostname served over HTTPS [www.{ZONE}]"
    assert (cfg.app, cfg.dns.zone, cfg.dns.hostname) == ("web", ZONE, f"www.{ZONE}")
    assert load(path) == cfg


def test_interactive_init_without_zone_choices_just_asks(tmp_path: Path) -> None:
    path = tmp_path / "ecsup.toml"
    asked: list[str] = []

    def prompt(label: str) -> str:
        asked.append(label)
        if label.startswith("AWS region"):
            return "eu-north-1"
        if label.startswith("Hostname"):
            return "api.example.org"
        return "example.org" if "zone" in label else "x"

    def choose(label: str, choices: list[str]) -> str:
        raise AssertionError("no choices to offer")

    cfg = run_init(
        InitOptions(app="web", env="dev"), str(path), False, True, prompt=prompt, choose=choose, zones=lambda: []
    )
    assert cfg.dns.zone == "example.org" and cfg.service.image == "x" and cfg.region == "eu-north-1"
    assert cfg.dns.hostname == "api.example.org"
    assert [label.split()[0] for label in asked] == ["Public", "Container", "Hostname", "AWS"]


def test_interactive_init_asks_again_for_an_invalid_answer(tmp_path: Path) -> None:
    path = tmp_path / "ecsup.toml"
    # checked as given: My_App is refused before the next question, eu-west is asked again
    answers = iter(["My App", "my-app", "nginx", "www.example.com", "", "eu-west", ""])
    asked: list[str] = []
    warned: list[str] = []

    def prompt(label: str) -> str:
        asked.append(label.split()[0])
        return next(answers)

    cfg = run_init(
        InitOptions(env="dev", zone="example.org"),
        str(path),
        False,
        True,
        prompt=prompt,
        choose=lambda label, choices: "",
        zones=lambda: [],
        warn=warned.append,
    )
    assert cfg.app == "my-app" and load(path).app == "my-app" and cfg.region == ""  # left to the environment
    assert cfg.dns.hostname == "www.example.org"
    assert asked == ["Application", "Application", "Container", "Hostname", "Hostname", "AWS", "AWS"]
    assert len(warned) == 3 and warned[0].startswith("app (--app): 'My App'")
    assert warned[1].startswith("dns.hostname (--hostname): 'www.example.com' is not inside the zone")
    assert warned[2] == "region (--region): 'eu-west' is not an AWS region name (e.g. eu-west-1)"


def test_interactive_init_does_not_ask_again_for_a_bad_option(tmp_path: Path) -> None:
    path = tmp_path / "ecsup.toml"
    with pytest.raises(ConfigError) as exc:
        run_init(
            InitOptions(env="dev", zone="example.org", image="nginx", memory=3, region=REGION),
            str(path),
            False,
            True,
            prompt=lambda label, answers=iter(["Bad App", "good-app", ""]): next(answers),
            choose=lambda label, choices: "",
            zones=lambda: [],
            warn=lambda line: None,
        )
    assert {key for key, _ in exc.value.problems} == {"service.memory (--memory)"}
    assert not path.exists()


def test_interactive_init_on_a_terminal_asks_the_hostname_and_shows_the_region_it_would_use(
    aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the CLI, answers typed on stdin: the hostname question shows www.<zone>, the
    region question the environment's region; empty answers take them, and both are written."""
    from typer.testing import CliRunner

    from ecsup.cli import app

    monkeypatch.setattr("ecsup.cli._on_terminal", lambda: True)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    runner = CliRunner()
    first, second = tmp_path / "first.toml", tmp_path / "second.toml"
    # app, image (env and zone given), then empty answers: the shown defaults
    result = runner.invoke(app, ["init", "-c", str(first), "--env", "dev", "--zone", ZONE], input="web\nnginx\n\n\n")
    assert result.exit_code == 0, explain(result)
    assert f"Hostname served over HTTPS [www.{ZONE}]: " in result.stdout
    assert "AWS region [eu-central-1]: " in result.stdout
    cfg = load(first)
    assert (cfg.dns.hostname, cfg.region) == (f"www.{ZONE}", "eu-central-1")
    # a hostname outside the zone is asked again; typed answers are written
    typed = f"web\nnginx\napi.other.org\napi.{ZONE}\neu-west-3\n"
    result = runner.invoke(app, ["init", "-c", str(second), "--env", "dev", "--zone", ZONE], input=typed)
    assert result.exit_code == 0, explain(result)
    assert "'api.other.org' is not inside the zone" in result.output
    cfg = load(second)
    assert (cfg.dns.hostname, cfg.region) == (f"api.{ZONE}", "eu-west-3")


def test_pick_accepts_a_number_or_a_name() -> None:
    choices = ["a.example", "b.example"]
    assert pick("2", choices) == "b.example"
    assert pick(" a.example ", choices) == "a.example"
    assert pick("c.example", choices) == "c.example"  # a zone the listing did not show
    assert pick("3", choices) == "3"


def test_interactive_init_refuses_an_existing_file_before_asking(tmp_path: Path) -> None:
    path = tmp_path / "ecsup.toml"
    path.write_text("keep")

    def never(*_: Any) -> str:
        raise AssertionError("asked although the file cannot be written")

    with pytest.raises(OptionError, match="--force"):
        run_init(InitOptions(), str(path), False, True, prompt=never, choose=never, zones=lambda: [])
    assert path.read_text() == "keep"


def test_create_works_on_a_generated_config(aws: Any, make_ctx: Callable[..., Any], tmp_path: Path) -> None:
    path = tmp_path / "ecsup.toml"
    result = invoke(
        "init",
        "-c",
        str(path),
        *REQUIRED_OPTS,
        "--region",
        REGION,
        "--port",
        "8080",
        "--secret",
        "DB_PASSWORD=/web/dev/DB_PASSWORD",
        "--env-var",
        'GREETING=say "hi"',
        "-e",  # the short form, as in `ecsup run`
        "MODE=web",
    )
    assert result.exit_code == 0, explain(result)
    outcome = engine.create(make_ctx(path.read_text()))
    assert ("ECS service", "create") in {(a.resource, a.kind) for a in outcome.actions}
    service = client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"][0]
    task = client("ecs").describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    container = task["containerDefinitions"][0]
    assert container["portMappings"][0]["containerPort"] == 8080
    assert {"name": "GREETING", "value": 'say "hi"'} in container["environment"]
    assert {"name": "MODE", "value": "web"} in container["environment"]
    assert container["secrets"][0]["name"] == "DB_PASSWORD"


def test_build_keeps_a_valid_text_and_config_in_step() -> None:
    text, cfg = build(InitOptions(app="a", env="b", zone="example.com", image="i"))
    assert parse(text) == cfg


# -- logs -----------------------------------------------------------------------------

TASK_A = "0123456789abcdef0123456789abcdef"
TASK_B = "fedcba9876543210fedcba9876543210"


def now_ms() -> int:
    return int(time.time() * 1000)


def put(task: str, *messages: str, at: int | None = None) -> None:
    logs = client("logs")
    stream = f"ecs/web/{task}"
    if not logs.describe_log_streams(logGroupName="/ecs/web-dev", logStreamNamePrefix=stream)["logStreams"]:
        logs.create_log_stream(logGroupName="/ecs/web-dev", logStreamName=stream)
    stamp = now_ms() if at is None else at
    logs.put_log_events(
        logGroupName="/ecs/web-dev",
        logStreamName=stream,
        logEvents=[{"timestamp": stamp + i, "message": m} for i, m in enumerate(messages)],
    )


@pytest.fixture
def log_group(aws: Any, tmp_path: Path) -> Path:
    """The stack's log group with no events yet; returns the ecsup.toml path."""
    client("logs").create_log_group(logGroupName="/ecs/web-dev")
    path = tmp_path / "ecsup.toml"
    path.write_text(BASE_CONFIG)
    return path


def test_logs_prints_recent_lines_with_task_prefixes(log_group: Path) -> None:
    put(TASK_A, "GET / 200", "GET /health 200")
    put(TASK_B, "ERROR boom\n", "x" * 300)
    result = invoke("logs", "-c", str(log_group), "--since", "5m")
    assert result.exit_code == 0, explain(result)
    lines = result.stdout.splitlines()
    assert sorted(lines) == sorted(
        ["[01234567] GET / 200", "[01234567] GET /health 200", "[fedcba98] ERROR boom", "[fedcba98] " + "x" * 300]
    )  # a long line is not folded
    assert lines.index("[01234567] GET / 200") < lines.index("[01234567] GET /health 200")
    assert ESC not in result.output


def test_logs_filter_pattern(log_group: Path) -> None:
    put(TASK_A, "INFO started", "ERROR db unreachable", "INFO retrying")
    put(TASK_B, "ERROR disk full")
    result = invoke("logs", "-c", str(log_group), "--filter", "ERROR")
    assert result.exit_code == 0, explain(result)
    assert sorted(result.stdout.splitlines()) == ["[01234567] ERROR db unreachable", "[fedcba98] ERROR disk full"]


def test_logs_since_excludes_older_events(log_group: Path) -> None:
    put(TASK_A, "an hour ago", at=now_ms() - 3600 * 1000)
    put(TASK_A, "just now")
    result = invoke("logs", "-c", str(log_group), "--since", "5m")
    assert result.stdout.splitlines() == ["[01234567] just now"], explain(result)
    result = invoke("logs", "-c", str(log_group), "--since", "2h")
    assert result.stdout.splitlines() == ["[01234567] an hour ago", "[01234567] just now"], explain(result)


def test_logs_says_when_the_window_has_no_events(log_group: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    put(TASK_A, "an hour ago", at=now_ms() - 3600 * 1000)
    result = invoke("logs", "-c", str(log_group))
    assert result.exit_code == 0, explain(result)
    assert result.stdout == ""  # stdout carries only events
    assert "no events in /ecs/web-dev in the last 10m" in result.stderr, explain(result)

    from ecsup import context as context_module

    def ctrl_c(seconds: float) -> None:  # the user stops following at the first wait
        raise KeyboardInterrupt

    monkeypatch.setattr(context_module.CLOCK, "sleep", ctrl_c)
    result = invoke("logs", "-c", str(log_group), "-f", "--filter", "ERROR")
    assert result.exit_code == 0, explain(result)
    assert "no events matching 'ERROR' in /ecs/web-dev in the last 10m; following" in result.stderr, explain(result)
    put(TASK_A, "ERROR now")
    result = invoke("logs", "-c", str(log_group), "-f")
    assert result.stdout.splitlines() == ["[01234567] ERROR now"], explain(result)
    assert "following /ecs/web-dev, Ctrl-C stops" in result.stderr, explain(result)


def test_logs_missing_log_group_is_exit_6(aws: Any, tmp_path: Path) -> None:
    path = tmp_path / "ecsup.toml"
    path.write_text(BASE_CONFIG)
    result = invoke("logs", "-c", str(path))
    assert result.exit_code == EXIT_UNHEALTHY, explain(result)
    assert result.stderr.strip() == "error: log group /ecs/web-dev does not exist: run `ecsup create` first"
    assert result.stdout == ""


@pytest.mark.parametrize("bad", ["10", "5x", "m", "-1h", "0s", ""])
def test_logs_bad_since_is_exit_2_naming_the_option(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "ecsup.toml"
    path.write_text(BASE_CONFIG)
    result = invoke("logs", "-c", str(path), "--since", bad)
    assert result.exit_code == EXIT_CONFIG, explain(result)
    assert "--since" in result.stderr and "Traceback" not in result.output


def test_parse_since() -> None:
    assert [parse_since(s) for s in ("30s", "10m", "1h", "2d", "1w", "1.5h", " 5M ")] == [
        30,
        600,
        3600,
        172800,
        604800,
        5400,
        300,
    ]


def test_follow_picks_up_new_events_exactly_once(log_group: Path, make_ctx: Callable[..., Any]) -> None:
    put(TASK_A, "first")
    ctx = make_ctx()
    sleeps: list[float] = []
    batches = iter([[(TASK_B, "second"), (TASK_A, "third")], [], [(TASK_A, "fourth")]])

    def sleep(seconds: float) -> None:  # events arrive while ecsup waits between polls
        sleeps.append(seconds)
        for task, message in next(batches):
            put(task, message)

    ctx.sleep = sleep
    seen: list[LogLine] = []
    count = tail(ctx, seen.append, since=300, follow=True, max_polls=4)
    assert [(line.task, line.message) for line in seen] == [
        (TASK_A, "first"),
        (TASK_B, "second"),
        (TASK_A, "third"),
        (TASK_A, "fourth"),
    ]
    assert count == 4 and sleeps == [2.0, 2.0, 2.0]
    assert len({line.event_id for line in seen}) == 4


def test_logs_paginate_with_next_token(aws: Any, log_group: Path, make_ctx: Callable[..., Any]) -> None:
    put(TASK_A, *(f"line {i}" for i in range(7)))
    aws.reset()
    seen: list[LogLine] = []
    assert tail(make_ctx(), seen.append, since=300, page_size=3) == 7
    assert [line.message for line in seen] == [f"line {i}" for i in range(7)]
    assert aws.calls == [("logs", "FilterLogEvents")] * 3


def test_log_printer_plain_and_coloured() -> None:
    line = LogLine("1", 0, TASK_A, "hello [bold]not markup[/]\nsecond line\n")
    plain = io.StringIO()
    LogPrinter(Console(file=plain, width=200))(line)
    assert plain.getvalue() == "[01234567] hello [bold]not markup[/]\n[01234567] second line\n"

    coloured = io.StringIO()
    printer = LogPrinter(Console(file=coloured, force_terminal=True, color_system="standard", width=200))
    printer(line)
    printer(LogLine("2", 0, TASK_A, "\x1b[31mred from the app\x1b[0m"))
    out = coloured.getvalue()
    assert ESC in out and "red from the app" in out
    assert "[01234567] \x1b[0mhello [bold]not markup[/]\n" in out  # only the prefix is coloured
    assert task_style(TASK_A) == task_style(TASK_A) and isinstance(task_style(TASK_B), str)

    stripped = io.StringIO()
    LogPrinter(Console(file=stripped, width=200))(LogLine("3", 0, TASK_B, "\x1b[31mred from the app\x1b[0m"))
    assert stripped.getvalue() == "[fedcba98] red from the app\n"
