"""CI: GitHub Actions' way into the account (`ecsup ci bootstrap`) and the workflow file
(`ecsup ci init github`).

`ci bootstrap` is a small stack of its own, planned as data and applied in order: GitHub's OIDC
identity provider (account-wide, shared by every role that trusts it; made only when missing) and
the stack's deploy role `<app>-<env>-github-deploy`, which trusts that provider for one repository
and holds the stack's least-privilege policy (policies.ci_role_policy, the one the docs show).
Observing makes read calls only; the actions' ``run`` are the only writes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from . import policies, waiting
from .context import Context
from .errors import EcsupError, OptionError, OwnershipConflict, doing, is_code
from .names import MANAGED_VALUE, TAG_MANAGED, tag_dict
from .plan import Action, Change

PROVIDER_URL = f"https://{policies.GITHUB_ISSUER}"
ROLE_POLICY = "ecsup-deploy"  # the deploy role's inline policy
ROLE_NAME_LIMIT = 64  # IAM: a role name is at most 64 characters
PROVIDER = "OIDC provider"
ROLE = "IAM role"


# -- the repository -----------------------------------------------------------------------------
# GitHub: an owner is 1-39 letters, digits or hyphens; a repository name letters, digits, ".", "_", "-"
_REPOSITORY = re.compile(
    r"^(?P<owner>[A-Za-z0-9][A-Za-z0-9-]{0,38})(?:@(?P<owner_id>\d+))?/(?P<name>[A-Za-z0-9._-]{1,100})(?:@(?P<repo_id>\d+))?$"
)
_BRANCH = re.compile(r"^[A-Za-z0-9._/*-]{1,255}$")  # a branch, or a pattern of branches (`release/*`)
_ENVIRONMENT = re.compile(r"^[A-Za-z0-9._-]{1,255}$")


@dataclass(frozen=True)
class Repository:
    owner: str
    name: str
    owner_id: str = ""
    repo_id: str = ""

    @property
    def full(self) -> str:
        return f"{self.owner}/{self.name}"


def parse_repository(text: str) -> Repository:
    """`--github OWNER/REPO`, or `OWNER@OWNER_ID/REPO@REPO_ID` with the numeric ids GitHub's
    immutable `sub` carries (both ids or none)."""
    m = _REPOSITORY.match(text.strip())
    if not m or bool(m.group("owner_id")) != bool(m.group("repo_id")) or m.group("name") in (".", ".."):
        raise OptionError(
            f"--github {text!r} is not OWNER/REPO (or OWNER@OWNER_ID/REPO@REPO_ID)",
            hint="e.g. --github acme/web",
        )
    return Repository(m.group("owner"), m.group("name"), m.group("owner_id") or "", m.group("repo_id") or "")


def github_ids(repository: Repository, token: str = "") -> tuple[str, str]:
    """The owner's and the repository's numeric ids, from GitHub's REST API (`GET /repos/OWNER/REPO`:
    `owner.id`, `id`); a token (GITHUB_TOKEN / GH_TOKEN) for a private repository."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"https://api.github.com/repos/{repository.owner}/{repository.name}",
        headers={"Accept": "application/vnd.github+json", "User-Agent": "ecsup"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
    )
    hint = (
        f"give them: --github {repository.owner}@OWNER_ID/{repository.name}@REPO_ID "
        f"(`gh api repos/{repository.full} --jq '.owner.id, .id'`), or set GITHUB_TOKEN for a private repository"
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            doc = json.loads(answer.read().decode())
        return str(int(doc["owner"]["id"])), str(int(doc["id"]))
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as exc:
        raise OptionError(
            f"could not read the numeric ids of GitHub repository {repository.full} ({exc}): the deploy role "
            "trusts its immutable `sub` (repo:OWNER@OWNER_ID/REPO@REPO_ID:...) too",
            hint=hint,
        ) from None


@dataclass(frozen=True)
class Bootstrap:
    """What the deploy role admits: a repository's pushes to a branch, its pull requests and,
    when given, the jobs of a GitHub environment."""

    repository: Repository
    branch: str = "main"
    environment: str = ""

    def __post_init__(self) -> None:
        if not _BRANCH.match(self.branch) or self.branch.startswith("refs/"):
            raise OptionError(f"--branch {self.branch!r} is not a branch name", hint="e.g. --branch main")
        if self.environment and not _ENVIRONMENT.match(self.environment):
            raise OptionError(
                f"--environment {self.environment!r} is not a GitHub environment name",
                hint="letters, digits, '.', '_' and '-'",
            )

    def subjects(self) -> list[str]:
        r = self.repository
        ids = (r.owner_id, r.repo_id) if r.owner_id else None
        return policies.github_subjects(r.full, self.branch, self.environment, ids)

    def describe(self) -> str:
        what = [f"pushes to {self.branch}", "pull requests"] + (
            [f"environment {self.environment}"] if self.environment else []
        )
        return f"trusts GitHub {self.repository.full}: {', '.join(what)}"


# -- what exists ------------------------------------------------------------------------------------
def provider_arn(ctx: Context) -> str:
    return f"arn:{ctx.partition}:iam::{ctx.account_id}:oidc-provider/{policies.GITHUB_ISSUER}"


def role_name(ctx: Context) -> str:
    name = ctx.names.github_deploy_role
    if len(name) > ROLE_NAME_LIMIT:
        from .errors import ConfigError

        raise ConfigError(
            [("app", f"the deploy role's name {name!r} is longer than IAM's {ROLE_NAME_LIMIT} characters")],
            hint="shorten app or env",
        )
    return name


def role_arn(ctx: Context) -> str:
    return f"arn:{ctx.partition}:iam::{ctx.account_id}:role/{role_name(ctx)}"


def trust_policy(ctx: Context, boot: Bootstrap) -> dict[str, Any]:
    return policies.ci_trust_policy(boot.subjects(), ctx.account_id, ctx.partition)


def role_policy(ctx: Context) -> dict[str, Any]:
    """The stack's policy (policies.ci_role_policy). One inline policy: IAM counts all of a role's
    inline policies together against 10,240 characters (a managed policy: 6,144), so splitting it
    inline would not help; it is far below that (tests/test_ci.py checks the margin)."""
    previews = f"{ctx.names.app}-pr" if getattr(ctx.config, "preview", None) is not None else ""
    policy = policies.ci_role_policy(ctx.names.stack, ctx.account_id, ctx.partition, previews)
    size = policies.policy_size(policy)
    if size > policies.INLINE_ROLE_POLICY_QUOTA:
        raise EcsupError(
            f"the deploy role's policy is {size} characters, over IAM's {policies.INLINE_ROLE_POLICY_QUOTA} for a "
            "role's inline policies"
        )
    return policy


def _provider(ctx: Context) -> dict[str, Any] | None:
    with doing("look up GitHub's OIDC provider"):
        try:
            return dict(ctx.client("iam").get_open_id_connect_provider(OpenIDConnectProviderArn=provider_arn(ctx)))
        except Exception as exc:
            if is_code(exc, "NoSuchEntity"):
                return None
            raise


def _role(ctx: Context, name: str) -> dict[str, Any] | None:
    from .steps.iam import get_role

    return get_role(ctx, name)


def _inline(ctx: Context, name: str) -> Any:
    from .steps.iam import _doc

    with doing(f"read the policy of IAM role {name}"):
        try:
            return _doc(ctx.client("iam").get_role_policy(RoleName=name, PolicyName=ROLE_POLICY)["PolicyDocument"])
        except Exception as exc:
            if is_code(exc, "NoSuchEntity"):
                return None
            raise


def _foreign_role(ctx: Context, name: str) -> OwnershipConflict:
    return OwnershipConflict(
        f"IAM role {name!r} exists but does not carry ecsup's tags for app={ctx.names.app}, env={ctx.names.env}",
        hint="rename or remove the other role, or pick another app/env",
    )


# -- plans -------------------------------------------------------------------------------------------
def plan_bootstrap(ctx: Context, boot: Bootstrap) -> list[Action]:
    """The provider (created when missing; its audience added when it lacks STS), then the role
    (created; or its trust and its policy put back when they differ). A role of that name that is
    not ecsup's: OwnershipConflict, nothing planned."""
    from .steps.iam import _doc, _norm

    actions: list[Action] = []
    provider = _provider(ctx)
    made_provider = provider is None
    if provider is None:
        actions.append(
            Action(
                "create",
                PROVIDER,
                PROVIDER_URL,
                f"GitHub Actions' tokens for {policies.GITHUB_AUDIENCE}",
                run=partial(_create_provider, ctx),
            )
        )
    elif policies.GITHUB_AUDIENCE not in provider.get("ClientIDList", []):
        audiences = ", ".join(provider.get("ClientIDList", [])) or "none"
        actions.append(
            Action(
                "update",
                PROVIDER,
                PROVIDER_URL,
                "",
                [Change("audiences", audiences, f"+ {policies.GITHUB_AUDIENCE}")],
                run=partial(_add_audience, ctx),
            )
        )
    else:
        actions.append(Action("noop", PROVIDER, PROVIDER_URL, provider_arn(ctx)))

    name = role_name(ctx)
    want_trust, want_policy = trust_policy(ctx, boot), role_policy(ctx)
    role = _role(ctx, name)
    if role is None:
        actions.append(
            Action("create", ROLE, name, boot.describe(), run=partial(_create_role, ctx, boot, made_provider))
        )
        return actions
    if not ctx.names.owns(tag_dict(role.get("Tags"))):
        raise _foreign_role(ctx, name)
    changes = []
    if _norm(_doc(role.get("AssumeRolePolicyDocument"))) != _norm(want_trust):
        changes.append(Change("trust policy", "other", boot.describe().removeprefix("trusts ")))
    have = _inline(ctx, name)
    if have is None or _norm(have) != _norm(want_policy):
        changes.append(Change("permissions", "absent" if have is None else "other", f"{ctx.names.stack}'s policy"))
    if changes:
        actions.append(Action("update", ROLE, name, "", changes, run=partial(_repair_role, ctx, boot, changes)))
    else:
        actions.append(Action("noop", ROLE, name, str(role["Arn"])))
    return actions


def plan_delete(ctx: Context) -> list[Action]:
    """The role (ecsup's only: another's is OwnershipConflict), then the provider -- only when
    ecsup created it (its tag) and no other role trusts it."""
    actions: list[Action] = []
    name = role_name(ctx)
    role = _role(ctx, name)
    if role is not None:
        if not ctx.names.owns(tag_dict(role.get("Tags"))):
            raise _foreign_role(ctx, name)
        actions.append(Action("delete", ROLE, name, "", run=partial(_delete_role, ctx, name)))
    provider = _provider(ctx)
    if provider is None:
        return actions
    if tag_dict(provider.get("Tags")).get(TAG_MANAGED) != MANAGED_VALUE:
        actions.append(Action("keep", PROVIDER, PROVIDER_URL, "not created by ecsup: kept"))
        return actions
    others = _roles_trusting(ctx, provider_arn(ctx), name)
    if others:
        more = f" and {len(others) - 3} more" if len(others) > 3 else ""
        actions.append(Action("keep", PROVIDER, PROVIDER_URL, f"trusted by {', '.join(others[:3])}{more}: kept"))
    else:
        actions.append(Action("delete", PROVIDER, PROVIDER_URL, "", run=partial(_delete_provider, ctx)))
    return actions


def _roles_trusting(ctx: Context, arn: str, but: str) -> list[str]:
    """The roles (other than ``but``) whose trust policy names the provider as a principal."""
    from .steps.iam import _doc

    found = []
    with doing("list the IAM roles that trust GitHub's OIDC provider"):
        for page in ctx.client("iam").get_paginator("list_roles").paginate():
            for role in page["Roles"]:
                if role["RoleName"] == but:
                    continue
                doc = _doc(role.get("AssumeRolePolicyDocument")) or {}
                statements = doc.get("Statement", [])
                for statement in statements if isinstance(statements, list) else [statements]:
                    federated = (statement.get("Principal") or {}).get("Federated", [])
                    if arn in ([federated] if isinstance(federated, str) else federated):
                        found.append(str(role["RoleName"]))
                        break
    return sorted(found)


# -- the writes ----------------------------------------------------------------------------------------
def _create_provider(ctx: Context) -> str:
    """No thumbprint: IAM verifies GitHub's tokens against its library of trusted CAs, not a
    thumbprint (aws-actions/configure-aws-credentials README, "OIDC": "The thumbprint, if
    specified, will be ignored", its CLI example passes none; its older README set all F's only
    because the API then required a value), and ThumbprintList is optional in the API today
    (CreateOpenIDConnectProvider reference: "If it is not included, IAM will retrieve and use the
    top intermediate certificate authority (CA) thumbprint"; botocore's model requires Url only).
    Tagged ManagedBy=ecsup: `--delete` removes only a provider ecsup made."""
    with doing("create GitHub's OIDC provider"):
        try:
            arn = ctx.client("iam").create_open_id_connect_provider(
                Url=PROVIDER_URL,
                ClientIDList=[policies.GITHUB_AUDIENCE],
                Tags=[{"Key": TAG_MANAGED, "Value": MANAGED_VALUE}],
            )["OpenIDConnectProviderArn"]
        except Exception as exc:
            if not is_code(exc, "EntityAlreadyExists"):  # made meanwhile (another bootstrap)
                raise
            _add_audience(ctx)
            return "found"
    return str(arn)


def _add_audience(ctx: Context) -> str:
    with doing("add sts.amazonaws.com to GitHub's OIDC provider"):
        ctx.client("iam").add_client_id_to_open_id_connect_provider(
            OpenIDConnectProviderArn=provider_arn(ctx), ClientID=policies.GITHUB_AUDIENCE
        )
    return f"audience {policies.GITHUB_AUDIENCE}"


def _create_role(ctx: Context, boot: Bootstrap, provider_is_new: bool) -> str:
    iam = ctx.client("iam")
    name = role_name(ctx)
    with doing(f"create IAM role {name}"):

        def create() -> dict[str, Any]:
            return dict(
                iam.create_role(
                    RoleName=name,
                    AssumeRolePolicyDocument=json.dumps(trust_policy(ctx, boot)),
                    Description=f"ecsup {ctx.names.stack}: GitHub Actions of {boot.repository.full} deploy it",
                    Tags=ctx.names.tag_list(),
                )["Role"]
            )

        try:
            # a provider made a moment ago may not be a valid principal yet: IAM is eventually consistent
            role = waiting.retry(
                ctx,
                "GitHub's new OIDC provider to be usable in a trust policy",
                create,
                lambda e: provider_is_new and is_code(e, "MalformedPolicyDocument"),
                ctx.timeouts.propagation,
            )
        except Exception as exc:
            if not is_code(exc, "EntityAlreadyExists"):
                raise
            found = _role(ctx, name)  # made meanwhile: converge it as a re-run would
            if found is None or not ctx.names.owns(tag_dict(found.get("Tags"))):
                raise _foreign_role(ctx, name) from None
            _repair_role(ctx, boot, [Change("trust policy", "", ""), Change("permissions", "", "")])
            return str(found["Arn"])
        _put_policy(ctx, name)
    return str(role["Arn"])


def _put_policy(ctx: Context, name: str) -> None:
    iam = ctx.client("iam")
    doc = json.dumps(role_policy(ctx))
    waiting.retry(  # a role created a moment ago may not be known to IAM yet
        ctx,
        f"IAM role {name} to be known to IAM",
        lambda: iam.put_role_policy(RoleName=name, PolicyName=ROLE_POLICY, PolicyDocument=doc),
        lambda e: is_code(e, "NoSuchEntity"),
        ctx.timeouts.propagation,
    )


def _repair_role(ctx: Context, boot: Bootstrap, changes: list[Change]) -> str:
    name = role_name(ctx)
    with doing(f"repair IAM role {name}"):
        for change in changes:
            if change.attribute == "trust policy":
                ctx.client("iam").update_assume_role_policy(
                    RoleName=name, PolicyDocument=json.dumps(trust_policy(ctx, boot))
                )
            elif change.attribute == "permissions":
                _put_policy(ctx, name)
    return ", ".join(c.attribute for c in changes) + " put back"


def _delete_role(ctx: Context, name: str) -> str:
    from .steps.iam import delete_role

    return delete_role(ctx, name)


def _delete_provider(ctx: Context) -> str:
    with doing("delete GitHub's OIDC provider"):
        try:
            ctx.client("iam").delete_open_id_connect_provider(OpenIDConnectProviderArn=provider_arn(ctx))
        except Exception as exc:
            if is_code(exc, "NoSuchEntity"):
                return "already gone"
            raise
    return "deleted"


def apply(actions: list[Action], report: Callable[[Action], None]) -> None:
    """Run the plan's writes in order (the provider before the role that trusts it; the role
    before the provider on --delete), reporting each action."""
    for action in actions:
        if action.mutates and action.run is not None:
            action.result = action.run()
        report(action)


# -- the workflow file -----------------------------------------------------------------------------------
WORKFLOW_PATH = ".github/workflows/ecsup.yml"
ACTION = "ecsup/ecsup@v1"  # the Action (action.yml at the root of ecsup's repository), by its major version
# The workflow `ecsup ci init github` writes; docs/ci.md shows exactly this text (tests/test_ci.py
# checks the page against it). Inputs reach the Action's shell through env, never as script text.
WORKFLOW = f"""\
# ecsup: the plan as a comment on each pull request, a preview per pull request (up on open and
# push, down on close), deploy on pushes to main. Written by `ecsup ci init github` (docs/ci.md).
# Repository variables: ECSUP_ROLE_ARN (`ecsup ci bootstrap --github OWNER/REPO` prints it) and
# AWS_REGION. Deploy and previews build the image from [service] build (or pass `image:`).
name: ecsup
on:
  pull_request:
    types: [opened, synchronize, reopened, closed]
  push:
    branches: [main]
permissions:
  id-token: write       # GitHub's OIDC token, exchanged for the deploy role's credentials
  contents: read
  pull-requests: write  # the plan's comment
jobs:
  plan:
    if: github.event_name == 'pull_request' && github.event.action != 'closed'
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: {ACTION}
        with:
          command: plan
          role-to-assume: ${{{{ vars.ECSUP_ROLE_ARN }}}}
          aws-region: ${{{{ vars.AWS_REGION }}}}
  preview-up:
    if: github.event_name == 'pull_request' && github.event.action != 'closed'
    runs-on: ubuntu-latest
    concurrency:
      group: ecsup-preview-${{{{ github.event.pull_request.number }}}}
      cancel-in-progress: false
    steps:
      - uses: actions/checkout@v4
      - id: preview
        uses: {ACTION}
        with:
          command: preview-up
          role-to-assume: ${{{{ vars.ECSUP_ROLE_ARN }}}}
          aws-region: ${{{{ vars.AWS_REGION }}}}
      - env:
          URL: ${{{{ steps.preview.outputs.url }}}}
        run: echo "preview at $URL" >> "$GITHUB_STEP_SUMMARY"
  preview-down:
    if: github.event_name == 'pull_request' && github.event.action == 'closed'
    runs-on: ubuntu-latest
    concurrency:
      group: ecsup-preview-${{{{ github.event.pull_request.number }}}}
      cancel-in-progress: false
    steps:
      - uses: actions/checkout@v4
      - uses: {ACTION}
        with:
          command: preview-down
          role-to-assume: ${{{{ vars.ECSUP_ROLE_ARN }}}}
          aws-region: ${{{{ vars.AWS_REGION }}}}
  deploy:
    if: github.event_name == 'push'
    runs-on: ubuntu-latest
    concurrency:
      group: ecsup-deploy   # one release at a time (the stack's lock also refuses a second)
      cancel-in-progress: false
    steps:
      - uses: actions/checkout@v4
      - uses: {ACTION}
        with:
          command: deploy
          role-to-assume: ${{{{ vars.ECSUP_ROLE_ARN }}}}
          aws-region: ${{{{ vars.AWS_REGION }}}}
"""


def write_workflow(path: Path, force: bool) -> Path:
    """Write WORKFLOW to ``path`` (its directories made); an existing file only with ``force``."""
    if path.is_dir():
        raise OptionError(f"{path} is a directory: pass --path with a file name")
    if path.exists() and not force:
        raise OptionError(f"{path} exists already: pass --force to overwrite it (nothing was written)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(WORKFLOW, encoding="utf-8")
    except OSError as exc:
        raise EcsupError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
