"""CI: the plan as a pull request comment (`plan --format markdown`), the GitHub Action
(action.yml) and its workflow, `ci init github`, and `ci bootstrap` (GitHub's OIDC provider and
the deploy role) on the strict layer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import SECRET_GIVEN, SECRET_VALUE, config_text, explain
from typer.testing import CliRunner

from ecsup import engine
from ecsup.cli import app

ROOT = Path(__file__).resolve().parent.parent
LATENCY = "\n[service.deploy.alarms]\nlatency_p95_ms = 800\n"


def cli(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, list(args), env={**SECRET_GIVEN, **(env or {})})


# -- plan --format markdown ----------------------------------------------------------------------
def test_markdown_plan_shows_the_changes_the_cost_delta_the_warnings_and_no_secret(
    aws: Any, make_ctx: Any, tmp_path: Path
) -> None:
    engine.create(make_ctx(config_text(LATENCY)))
    path = tmp_path / "ecsup.toml"
    # twice the vCPU (a cost delta) and the latency alarm turned off (a deletion: a warning)
    path.write_text(config_text(replace={"cpu = 512": "cpu = 1024", "memory = 1024": "memory = 2048"}))
    result = cli("plan", "-c", str(path), "--format", "markdown", "--detailed-exitcode")
    assert result.exit_code == 2, explain(result)  # changes pending
    out = result.stdout
    lines = out.splitlines()
    assert lines[0] == "<!-- ecsup-plan:web-dev -->"
    assert lines[1] == "### ecsup plan: `web-dev` (eu-west-1)"
    assert lines[3].startswith("**Plan: 1 to create, 1 to update, 1 to delete** ("), out
    rows = [line for line in lines if line.startswith("| `")]
    assert any(
        r.startswith("| `+` create | task definition | `web-dev:2` |") and "cpu: 512 → 1024; memory: 1024 → 2048" in r
        for r in rows
    ), out
    assert any(r.startswith("| `~` update | ECS service | `web-dev` |") for r in rows), out
    assert any(r.startswith("| `-` delete | CloudWatch alarm | `ecsup-web-dev-latency`") for r in rows), out
    cost = next(line for line in lines if line.startswith("**Monthly cost:**"))
    doc = json.loads(cli("plan", "-c", str(path), "--format", "json").stdout)
    money = doc["monthly_cost"]
    assert money["delta"] > 0
    assert f"(**+${money['delta']:,.2f}** a month" in cost, cost
    assert f"${money['before']:,.2f} → ${money['after']:,.2f}" in cost, cost
    warnings = lines[lines.index("**Warnings**") + 2 :]
    assert warnings[0].startswith("- :warning: deletes CloudWatch alarm `ecsup-web-dev-latency`"), out
    assert SECRET_VALUE not in out and "stderr" not in out
    assert "ecsup plan web-dev in eu-west-1" in result.stderr  # the heading line goes to stderr
    # --json still works, and is --format json
    assert json.loads(cli("plan", "-c", str(path), "--json").stdout)["changes"] == doc["changes"] == 3


def test_markdown_plan_without_changes_says_so(aws: Any, make_ctx: Any, tmp_path: Path) -> None:
    engine.create(make_ctx())
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    result = cli("plan", "-c", str(path), "--format", "markdown")
    assert result.exit_code == 0, explain(result)
    assert result.stdout.splitlines()[3].startswith("**No changes.**"), result.stdout
    assert "| " not in result.stdout and "Monthly cost" not in result.stdout


def test_plan_format_refuses_an_unknown_format_or_two_at_once(aws: Any, tmp_path: Path) -> None:
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    aws.reset()
    bad = cli("plan", "-c", str(path), "--format", "html")
    assert bad.exit_code == 2 and "--format 'html' is not one of text, json, markdown" in bad.stderr, explain(bad)
    both = cli("plan", "-c", str(path), "--json", "--format", "markdown")
    assert both.exit_code == 2 and "two formats" in both.stderr, explain(both)
    assert aws.calls == []


# -- ci bootstrap ----------------------------------------------------------------------------------
ACCOUNT = "123456789012"  # moto's
ROLE = "web-dev-github-deploy"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
# the trust policy exactly as docs/ci.md documents it, for acme/web (owner id 111, repository id 222)
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Federated": PROVIDER_ARN},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                "StringLike": {
                    "token.actions.githubusercontent.com:sub": [
                        "repo:acme/web:ref:refs/heads/main",
                        "repo:acme/web:pull_request",
                        "repo:acme@111/web@222:ref:refs/heads/main",
                        "repo:acme@111/web@222:pull_request",
                    ]
                },
            },
        }
    ],
}


def _iam() -> Any:
    from conftest import client

    return client("iam")


def _bootstrap(path: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    """The command, then time passing (the fake clock): IAM shows a new role to reads seconds later."""
    from ecsup import emulation

    result = cli("ci", "bootstrap", "-c", str(path), *args, env=env)
    if emulation.ACTIVE is not None:
        emulation.ACTIVE.clock.sleep(10)  # type: ignore[attr-defined]
    return result


def test_bootstrap_creates_the_provider_and_a_role_trusting_exactly_the_repository(aws: Any, config_file: Path) -> None:
    from ecsup import policies

    result = _bootstrap(config_file, "--github", "acme@111/web@222", "--yes")
    assert result.exit_code == 0, explain(result)
    iam = _iam()
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=PROVIDER_ARN)
    assert provider["ClientIDList"] == ["sts.amazonaws.com"]
    assert {t["Key"]: t["Value"] for t in provider["Tags"]} == {"ManagedBy": "ecsup"}
    role = iam.get_role(RoleName=ROLE)["Role"]
    assert role["AssumeRolePolicyDocument"] == TRUST
    assert {t["Key"]: t["Value"] for t in role["Tags"]} == {
        "ecsup:app": "web",
        "ecsup:env": "dev",
        "ManagedBy": "ecsup",
    }
    policy = iam.get_role_policy(RoleName=ROLE, PolicyName="ecsup-deploy")["PolicyDocument"]
    assert policy == policies.ci_role_policy("web-dev", ACCOUNT)  # the stack's policy, the one docs/iam.md shows
    deny = policy["Statement"][-1]
    assert deny["Effect"] == "Deny" and deny["Resource"] == ROLE_ARN and "iam:UpdateAssumeRolePolicy" in deny["Action"]
    assert f"role-to-assume: {ROLE_ARN}" in result.stdout
    assert "+ create    OIDC provider https://token.actions.githubusercontent.com" in result.stdout, result.stdout
    assert f"+ create    IAM role {ROLE}" in result.stdout

    # a second run: nothing to do, and not one mutating call
    aws.reset()
    again = _bootstrap(config_file, "--github", "acme@111/web@222")  # no --yes needed: nothing to confirm
    assert again.exit_code == 0, explain(again)
    assert aws.mutating() == [] and aws.calls, aws.calls
    assert "nothing to do" in again.stdout and f"role-to-assume: {ROLE_ARN}" in again.stdout

    # drift: someone widened the trust and dropped the policy; the next run puts both back
    iam.update_assume_role_policy(
        RoleName=ROLE, PolicyDocument=json.dumps(TRUST | {"Statement": [TRUST["Statement"][0] | {"Condition": {}}]})
    )
    iam.delete_role_policy(RoleName=ROLE, PolicyName="ecsup-deploy")
    aws.reset()
    repaired = _bootstrap(config_file, "--github", "acme@111/web@222", "--branch", "main", "--yes")
    assert repaired.exit_code == 0, explain(repaired)
    assert "trust policy: other -> GitHub acme/web" in repaired.stdout, repaired.stdout
    assert "permissions: absent -> web-dev's policy" in repaired.stdout
    assert iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"] == TRUST
    assert iam.get_role_policy(RoleName=ROLE, PolicyName="ecsup-deploy")["PolicyDocument"] == policy
    assert ("iam", "CreateOpenIDConnectProvider") not in aws.calls and ("iam", "CreateRole") not in aws.calls


def test_bootstrap_with_an_environment_and_another_branch_trusts_those(aws: Any, config_file: Path) -> None:
    result = _bootstrap(
        config_file, "--github", "acme@111/web@222", "--branch", "release/*", "--environment", "prod", "--yes"
    )
    assert result.exit_code == 0, explain(result)
    sub = _iam().get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]
    assert sub["StringLike"]["token.actions.githubusercontent.com:sub"] == [
        "repo:acme/web:ref:refs/heads/release/*",
        "repo:acme/web:pull_request",
        "repo:acme/web:environment:prod",
        "repo:acme@111/web@222:ref:refs/heads/release/*",
        "repo:acme@111/web@222:pull_request",
        "repo:acme@111/web@222:environment:prod",
    ]


def test_bootstrap_reads_the_repository_s_ids_from_github(aws: Any, config_file: Path, monkeypatch: Any) -> None:
    import io
    import urllib.request

    asked: list[Any] = []

    def answer(request: Any, timeout: float) -> Any:
        asked.append(request)
        return io.BytesIO(json.dumps({"id": 222, "owner": {"login": "acme", "id": 111}}).encode())

    monkeypatch.setattr(urllib.request, "urlopen", answer)
    result = _bootstrap(config_file, "--github", "acme/web", "--yes", env={"GITHUB_TOKEN": "ghs_token"})
    assert result.exit_code == 0, explain(result)
    assert asked[0].full_url == "https://api.github.com/repos/acme/web"
    assert asked[0].get_header("Authorization") == "Bearer ghs_token"
    assert _iam().get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"] == TRUST


def test_bootstrap_refuses_bad_input_and_unreadable_ids_before_any_aws_call(
    aws: Any, config_file: Path, monkeypatch: Any
) -> None:
    import urllib.error
    import urllib.request

    def down(request: Any, timeout: float) -> Any:
        raise urllib.error.HTTPError(request.full_url, 404, "Not Found", {}, None)  # type: ignore[arg-type]

    monkeypatch.setattr(urllib.request, "urlopen", down)
    aws.reset()
    for args, said in (
        (("--github", "acme"), "--github 'acme' is not OWNER/REPO"),
        (("--github", "acme@1/web"), "is not OWNER/REPO"),
        (("--github", "acme/web@2", "--branch", "a b"), "is not OWNER/REPO"),
        (("--github", "acme@1/web@2", "--branch", "a:b"), "--branch 'a:b' is not a branch name"),
        ((), "--github OWNER/REPO is required"),
        (("--github", "acme/web"), "could not read the numeric ids of GitHub repository acme/web"),
    ):
        result = _bootstrap(config_file, *args, "--yes")
        assert result.exit_code == 2 and said in result.stderr, explain(result)
    assert "gh api repos/acme/web --jq '.owner.id, .id'" in result.stderr
    assert [c for c in aws.calls if c[0] == "iam"] == [], aws.calls


def test_bootstrap_without_confirmation_and_plan_only_change_nothing(aws: Any, config_file: Path) -> None:
    aws.reset()
    planned = _bootstrap(config_file, "--github", "acme@111/web@222", "--plan")
    assert planned.exit_code == 0, explain(planned)
    assert "+ create    IAM role web-dev-github-deploy" in planned.stdout and "--plan: nothing done" in planned.stdout
    refused = _bootstrap(config_file, "--github", "acme@111/web@222")  # no terminal, no --yes
    assert refused.exit_code == 7 and "not confirmed" in refused.stderr, explain(refused)
    assert aws.mutating() == []
    assert _iam().list_open_id_connect_providers()["OpenIDConnectProviderList"] == []


def test_bootstrap_refuses_a_foreign_role_of_that_name(aws: Any, config_file: Path, clock: Any) -> None:
    _iam().create_role(
        RoleName=ROLE,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )
    clock.sleep(60)  # someone else's role, made long ago
    aws.reset()
    for args in (("--github", "acme@111/web@222", "--yes"), ("--delete", "--yes")):
        result = _bootstrap(config_file, *args)
        assert result.exit_code == 4 and f"IAM role '{ROLE}' exists but does not carry ecsup's tags" in result.stderr, (
            explain(result)
        )
    assert aws.mutating() == []
    assert _iam().get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "ec2.amazonaws.com"
    }


def test_delete_removes_the_role_and_the_provider_only_when_nothing_else_trusts_it(aws: Any, config_file: Path) -> None:
    assert _bootstrap(config_file, "--github", "acme@111/web@222", "--yes").exit_code == 0
    other = TRUST | {"Statement": [TRUST["Statement"][0]]}
    _iam().create_role(RoleName="someone-elses-ci", AssumeRolePolicyDocument=json.dumps(other))
    kept = _bootstrap(config_file, "--delete", "--yes")
    assert kept.exit_code == 0, explain(kept)
    assert "- deleted   IAM role web-dev-github-deploy" in kept.stdout, kept.stdout
    assert "trusted by someone-elses-ci: kept" in kept.stdout
    roles = [r["RoleName"] for r in _iam().list_roles()["Roles"]]
    assert ROLE not in roles and "someone-elses-ci" in roles
    assert len(_iam().list_open_id_connect_providers()["OpenIDConnectProviderList"]) == 1

    _iam().delete_role(RoleName="someone-elses-ci")
    gone = _bootstrap(config_file, "--delete", "--yes")
    assert gone.exit_code == 0, explain(gone)
    assert "- deleted   OIDC provider https://token.actions.githubusercontent.com" in gone.stdout, gone.stdout
    assert _iam().list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    aws.reset()
    nothing = _bootstrap(config_file, "--delete")  # a second delete: nothing to do, nothing asked
    assert nothing.exit_code == 0 and "nothing to do" in nothing.stdout, explain(nothing)
    assert aws.mutating() == []


def test_a_provider_ecsup_did_not_make_is_used_as_it_is_and_never_deleted(aws: Any, config_file: Path) -> None:
    iam = _iam()
    iam.create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com", ClientIDList=["sigstore"], ThumbprintList=["f" * 40]
    )
    result = _bootstrap(config_file, "--github", "acme@111/web@222", "--yes")
    assert result.exit_code == 0, explain(result)
    assert "audiences: sigstore -> + sts.amazonaws.com" in result.stdout, result.stdout
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=PROVIDER_ARN)
    assert provider["ClientIDList"] == ["sigstore", "sts.amazonaws.com"] and provider["ThumbprintList"] == ["f" * 40]
    deleted = _bootstrap(config_file, "--delete", "--yes")
    assert deleted.exit_code == 0 and "not created by ecsup: kept" in deleted.stdout, explain(deleted)
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=PROVIDER_ARN)["ClientIDList"]


def test_aws_refuses_a_role_trusting_a_provider_that_does_not_exist(aws: Any) -> None:
    """The strict layer, as AWS: MalformedPolicyDocument (moto accepts any principal)."""
    import pytest
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as caught:
        _iam().create_role(RoleName="x", AssumeRolePolicyDocument=json.dumps(TRUST))
    assert caught.value.response["Error"]["Code"] == "MalformedPolicyDocument"


def test_every_call_of_bootstrap_is_allowed_by_its_documented_policy(aws: Any, config_file: Path) -> None:
    from test_iam_policies import DOCS, not_allowed

    from ecsup import policies

    documented = {
        name: json.loads(body) for name, body in policies.documented_blocks((DOCS / "iam.md").read_text()).items()
    }
    made: set[tuple[str, str]] = set()
    for args in (("--github", "acme@111/web@222", "--yes"), ("--delete", "--yes")):
        aws.reset()
        assert _bootstrap(config_file, *args).exit_code == 0
        made.update(aws.calls)
    assert {
        ("iam", "CreateOpenIDConnectProvider"),
        ("iam", "DeleteOpenIDConnectProvider"),
        ("iam", "ListRoles"),
    } <= made
    assert not_allowed(documented["ci-bootstrap"], sorted(made)) == []


def test_the_deploy_role_s_policy_fits_iam_s_inline_quota_with_room_to_grow() -> None:
    """IAM counts a role's inline policies together against 10,240 characters (no whitespace): the
    policy must stay well inside (a growth past it needs managed policies of 6,144 each)."""
    from ecsup import policies

    size = policies.policy_size(policies.ci_role_policy("a-twenty-six-char-app-env", "123456789012", "aws-us-gov"))
    assert size < 0.75 * policies.INLINE_ROLE_POLICY_QUOTA, size


def test_the_iam_page_shows_the_deploy_role_s_own_statement() -> None:
    from test_iam_policies import DOCS

    from ecsup import policies

    text = (DOCS / "iam.md").read_text()
    block = text.split("<!-- statement: ci-role-deny -->\n```json\n", 1)[1].split("\n```", 1)[0]
    assert json.loads(block) == policies.ci_role_policy()["Statement"][-1]
    assert policies.ci_role_policy()["Statement"][:-1] == policies.operator_policy()["Statement"]


# -- the workflow, the Action ---------------------------------------------------------------------
def _yaml(text: str) -> Any:
    """PyYAML comes with moto (through responses, a dependency of moto's): a real YAML parse."""
    import yaml

    return yaml.safe_load(text)


def _doc_block(marker: str, lang: str) -> str:
    text = (ROOT / "docs" / "ci.md").read_text()
    return text.split(f"<!-- {marker} -->\n```{lang}\n", 1)[1].split("\n```", 1)[0]


def test_ci_init_github_writes_the_workflow_the_docs_show_and_keeps_an_existing_one(tmp_path: Path) -> None:
    from ecsup import ci

    assert _doc_block("workflow: github", "yaml") + "\n" == ci.WORKFLOW
    target = tmp_path / "repo" / ".github" / "workflows" / "ecsup.yml"
    result = cli("ci", "init", "github", "--path", str(target))
    assert result.exit_code == 0 and f"wrote {target}" in result.stdout, explain(result)
    assert target.read_text() == _doc_block("workflow: github", "yaml") + "\n"
    target.write_text("# mine\n")
    kept = cli("ci", "init", "github", "--path", str(target))
    assert kept.exit_code == 2 and "exists already: pass --force" in kept.stderr, explain(kept)
    assert target.read_text() == "# mine\n"
    forced = cli("ci", "init", "github", "--path", str(target), "--force")
    assert forced.exit_code == 0 and target.read_text() == ci.WORKFLOW, explain(forced)


def test_the_docs_show_the_trust_policy_bootstrap_makes() -> None:
    from ecsup import policies

    shown = json.loads(_doc_block("trust: acme/web", "json"))
    assert shown == TRUST == policies.ci_trust_policy(policies.github_subjects("acme/web", ids=("111", "222")))


def _action() -> dict[str, Any]:
    return dict(_yaml((ROOT / "action.yml").read_text()))


def test_the_action_parses_and_uses_its_inputs_consistently() -> None:
    import re

    import ecsup

    action = _action()
    inputs, outputs = action["inputs"], action["outputs"]
    assert set(inputs) == {
        "command", "version", "role-to-assume", "aws-region", "config", "image", "name", "github-token"
    }  # fmt: skip
    assert set(outputs) == {"url", "exit-code", "changes"}
    assert inputs["version"]["default"] == ecsup.__version__  # this release installs itself, pinned
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    text = (ROOT / "action.yml").read_text()
    used = set(re.findall(r"inputs\.([\w-]+)", text))
    assert used == set(inputs), used ^ set(inputs)  # every input used, none used undeclared
    uses = [s["uses"] for s in steps if "uses" in s]
    assert re.fullmatch(r"astral-sh/setup-uv@v\d+\.\d+\.\d+", uses[0]), uses  # a release tag
    assert uses[1] == "aws-actions/configure-aws-credentials@v6"  # a pinned major
    setup = steps[0]["with"]
    assert setup["enable-cache"] is True and "inputs.version" in setup["cache-suffix"]
    assert steps[2]["with"] == {
        "role-to-assume": "${{ inputs.role-to-assume }}",
        "aws-region": "${{ inputs.aws-region }}",
    }
    run = next(s for s in steps if s.get("id") == "run")
    assert 'uv tool install "ecsup==${ECSUP_VERSION}"' in steps[1]["run"]
    # the script sees inputs through env only (no ${{ }} in its text: no script injection)
    assert "${{" not in run["run"]
    for output in outputs.values():
        name = output["value"].removeprefix("${{ steps.run.outputs.").removesuffix(" }}")
        assert f'echo "{name}=' in run["run"], name
    for command in ("plan)", "deploy)", "preview-up)", "preview-down)", "*)"):
        assert f"  {command}\n" in run["run"], command
    assert 'exit "$code"' in run["run"]  # the exit code passed through
    assert "<!-- ecsup-plan:" in run["run"]  # the one comment found by the plan's marker


def test_the_workflow_gives_the_action_what_it_needs() -> None:
    from ecsup import ci

    workflow = _yaml(ci.WORKFLOW)
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers == {
        "pull_request": {"types": ["opened", "synchronize", "reopened", "closed"]},
        "push": {"branches": ["main"]},
    }
    assert workflow["permissions"] == {"id-token": "write", "contents": "read", "pull-requests": "write"}
    inputs = _action()["inputs"]
    required = {name for name, spec in inputs.items() if spec.get("required")}
    commands = {}
    for name, job in workflow["jobs"].items():
        step = next(s for s in job["steps"] if s.get("uses") == ci.ACTION)
        assert set(step["with"]) <= set(inputs) and required <= set(step["with"]), name
        commands[name] = (step["with"]["command"], job["if"])
    assert commands == {
        "plan": ("plan", "github.event_name == 'pull_request' && github.event.action != 'closed'"),
        "preview-up": ("preview-up", "github.event_name == 'pull_request' && github.event.action != 'closed'"),
        "preview-down": ("preview-down", "github.event_name == 'pull_request' && github.event.action == 'closed'"),
        "deploy": ("deploy", "github.event_name == 'push'"),
    }


def test_bootstrap_stopped_between_the_role_and_its_policy_converges_on_the_next_run(
    aws: Any, config_file: Path
) -> None:
    from conftest import fail_first

    from ecsup import policies

    aws.injectors.append(fail_first("iam", "PutRolePolicy", "AccessDenied", 1))
    failed = _bootstrap(config_file, "--github", "acme@111/web@222", "--yes")
    assert failed.exit_code == 3 and "AccessDenied" in failed.stderr, explain(failed)
    assert _iam().get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"] == TRUST
    aws.reset()
    again = _bootstrap(config_file, "--github", "acme@111/web@222", "--yes")
    assert again.exit_code == 0, explain(again)
    assert "permissions: absent -> web-dev's policy" in again.stdout, again.stdout
    assert [c for c in aws.mutating() if c[0] == "iam"] == [("iam", "PutRolePolicy")]
    policy = _iam().get_role_policy(RoleName=ROLE, PolicyName="ecsup-deploy")["PolicyDocument"]
    assert policy == policies.ci_role_policy("web-dev", ACCOUNT)


def test_markdown_plan_of_a_new_stack_names_the_secret_s_parameter_never_its_value(aws: Any, tmp_path: Path) -> None:
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    result = cli("plan", "-c", str(path), "--format", "markdown")  # the value comes from ECSUP_SECRET_DB_PASSWORD
    assert result.exit_code == 0, explain(result)
    rows = [line for line in result.stdout.splitlines() if "/web/dev/DB_PASSWORD" in line]
    assert rows and rows[0].startswith("| `+` create |"), result.stdout
    assert SECRET_VALUE not in result.stdout + result.stderr
    assert "**Monthly cost:** nothing → $" in result.stdout


def test_with_previews_the_deploy_role_may_manage_the_previews_roles_but_still_not_its_own() -> None:
    from ecsup import policies

    policy = policies.ci_role_policy("web-dev", ACCOUNT, previews="web-pr")
    previews = next(s for s in policy["Statement"] if s.get("Sid") == "PreviewRoles")
    assert previews["Resource"] == f"arn:aws:iam::{ACCOUNT}:role/web-pr-*" and "iam:CreateRole" in previews["Action"]
    assert policy["Statement"][-1]["Effect"] == "Deny" and policy["Statement"][-1]["Resource"] == ROLE_ARN
    assert "PreviewRoles" not in json.dumps(policies.ci_role_policy("web-dev", ACCOUNT))
