"""SSM Parameter Store: one SecureString per configured secret. An existing
parameter is used as it is and never overwritten; a missing one takes its value
from ECSUP_SECRET_<NAME> or a hidden prompt, checked before anything is created.
Values never leave this module except to put_parameter."""

from __future__ import annotations

import os
from functools import partial
from typing import Any

from ..context import Context
from ..errors import AwsError, ConfigError, EcsupError, doing, error_code, is_code
from ..names import tag_dict
from ..plan import Action
from . import Step, service_ref


def parameter_arn(ctx: Context, name: str) -> str:
    return f"arn:{ctx.partition}:ssm:{ctx.region}:{ctx.account_id}:parameter/{name.lstrip('/')}"


def describe_parameters(ctx: Context, names: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    ssm = ctx.client("ssm")
    for i in range(0, len(names), 50):
        try:
            pages = ssm.get_paginator("describe_parameters").paginate(
                ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": names[i : i + 50]}]
            )
            for page in pages:
                for p in page["Parameters"]:
                    found[p["Name"]] = p
                    # the account id, without an sts call: DescribeParameters lists this account's own
                    # parameters (another's shared ones only with the "Shared" option), each with its ARN
                    ctx.learn_account(str(p.get("ARN") or ""))
        except EcsupError:  # ecsup's own (a stopped --endpoint-url, context.py): already says what to do
            raise
        except Exception as exc:
            raise AwsError(
                f"look up SSM parameters: {error_code(exc) or type(exc).__name__}", error_code(exc)
            ) from None
    return found


def kms_key_arn(ctx: Context) -> str | None:
    key = ctx.config.service.secrets_kms_key
    if not key:
        return None
    if "kms_key_arn" not in ctx.facts:
        try:
            with doing(f"look up KMS key {key}"):
                ctx.facts["kms_key_arn"] = ctx.client("kms").describe_key(KeyId=key)["KeyMetadata"]["Arn"]
        except Exception as exc:
            if is_code(exc, "NotFoundException"):
                raise ConfigError(
                    [("service.secrets_kms_key", f"KMS key {key!r} does not exist in {ctx.region}")],
                    hint="create the key, or leave secrets_kms_key empty for alias/aws/ssm",
                ) from None
            raise
    return str(ctx.facts["kms_key_arn"])


AWS_MANAGED_KEY = "alias/aws/ssm"


def parameter_key_arn(ctx: Context, var: str, name: str, key_id: str, key: str = "") -> str:
    """The ARN of the customer-managed key that encrypts an existing SecureString
    (DescribeParameters gives its KeyId as it was set: an alias, key id or ARN): the execution
    role needs kms:Decrypt on it, or the tasks fail with ResourceInitializationError."""
    if key_id.startswith("arn:") and ":key/" in key_id:
        return key_id
    cache: dict[str, str] = ctx.facts.setdefault("key_arns", {})
    if key_id not in cache:
        try:
            with doing(f"look up KMS key {key_id} of SSM parameter {name}"):
                cache[key_id] = str(ctx.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])
        except AwsError as exc:
            if exc.code == "NotFoundException":
                raise ConfigError(
                    [
                        (
                            key or f"service.secrets.{var}",
                            f"SSM parameter {name} is encrypted with KMS key {key_id}, which does not exist in "
                            f"{ctx.region}: the tasks could not decrypt it",
                        )
                    ],
                    hint="re-create the parameter with a key that exists; nothing was changed",
                ) from None
            raise
    return cache[key_id]


# PutParameter refuses a Standard-tier value over 4,096 characters ("ValidationException: Standard tier
# parameters support a maximum parameter value of 4096 characters. To create a larger parameter value,
# upgrade the parameter to use the advanced-parameter tier"; SSM API reference, PutParameter Value:
# "Standard parameters have a value limit of 4 KB. Advanced parameters have a value limit of 8 KB").
# ecsup stays on the Standard tier (free; an Advanced parameter is billed monthly and cannot go back to
# Standard) and refuses a longer value before any call; an existing Advanced parameter takes 8 KB.
VALUE_LIMIT = {"Standard": 4096, "Advanced": 8192}


def value_too_long(var: str, name: str, value: str, tier: str = "Standard", key: str = "") -> tuple[str, str] | None:
    """The problem with a value SSM would refuse for its length (never the value itself)."""
    limit = VALUE_LIMIT.get(tier, VALUE_LIMIT["Standard"])
    if len(value) <= limit:
        return None
    return (
        key or f"service.secrets.{var}",
        f"the value for {name} is {len(value)} characters: an SSM {tier}-tier parameter holds at most {limit}",
    )


TOO_LONG_HINT = (
    "store a bigger value elsewhere (e.g. an S3 object the task reads at start) and keep only its location "
    "in the secret; nothing was changed"
)


def _no_value(var: str, name: str, key: str = "") -> tuple[str, str]:
    """A missing parameter with no value to create it from: plan and create say it alike."""
    return (
        key or f"service.secrets.{var}",
        f"SSM parameter {name} does not exist and no value was given: "
        f"export ECSUP_SECRET_{var} (or run on a terminal to be prompted)",
    )


def stack_parameters(ctx: Context) -> dict[str, tuple[str, str]]:
    """Every SSM parameter a workload of the stack reads ([service], each worker, each job), with
    the variable it is read as and the key path that names it (the first, in that order): a worker
    may read a variable of [service] from another parameter, or another variable from the same one."""
    cfg = ctx.config
    sources: list[tuple[str, tuple[tuple[str, str], ...]]] = [("service", cfg.service.secrets)]
    sources += [(f"workers.{w.name}", w.secrets) for w in cfg.workers]
    sources += [(f"jobs.{j.name}", j.secrets) for j in cfg.jobs]
    found: dict[str, tuple[str, str]] = {}
    for prefix, pairs in sources:
        for var, name in pairs:
            found.setdefault(name, (var, f"{prefix}.secrets.{var}"))
    return found


class SecretsStep(Step):
    title = "secrets"
    reads = ("purge",)
    provides = ("kms_key_arn", "key_arns", "secret_arns", "parameter_arns", "secret_parameters", "decrypt_keys")
    concurrent = True  # one parameter each

    def plan(self, ctx: Context) -> list[Action]:
        params = stack_parameters(ctx)
        kms_key_arn(ctx)
        secrets = {name: var for name, (var, _) in params.items()}
        # read first: the parameters' ARNs tell the account id (no sts call)
        existing = describe_parameters(ctx, list(secrets)) if secrets else {}
        # the web container's, by variable; every workload's, by parameter (config.all_secrets)
        ctx.facts["secret_arns"] = {var: parameter_arn(ctx, name) for var, name in ctx.config.service.secrets}
        ctx.facts["parameter_arns"] = {name: parameter_arn(ctx, name) for name in params}
        if not secrets:
            return []
        ctx.facts["secret_parameters"] = existing  # what `status` compares with the tasks' start
        actions: list[Action] = []
        unavailable: list[tuple[str, str]] = []
        too_long: list[tuple[str, str]] = []
        keys = {ctx.facts["kms_key_arn"]} if ctx.facts.get("kms_key_arn") else set()
        for name, var in secrets.items():
            key = params[name][1]
            param = existing.get(name)
            key_id = str((param or {}).get("KeyId") or "")
            if param is not None and param.get("Type") == "SecureString" and key_id and key_id != AWS_MANAGED_KEY:
                keys.add(parameter_key_arn(ctx, var, name, key_id, key))
            if param is not None:
                kind = param.get("Type")
                modified = str(param.get("LastModifiedDate", "?"))[:19]
                detail = f"{kind}, version {param.get('Version')}, last modified {modified}"
                if kind != "SecureString":
                    detail += " (not a SecureString: consider re-creating it as one)"
                actions.append(Action("noop", "secret", name, detail))
                continue
            if ctx.mode == "plan":  # what create would do, without asking for the value
                source = ctx.secret_source_of(var)
                if source is None:
                    unavailable.append(_no_value(var, name, key))
                else:
                    actions.append(Action("create", "secret", name, f"SecureString from {source}"))
                    if source.startswith("ECSUP_SECRET_"):
                        given = ctx.secret_source(var) if ctx.secret_source else os.environ.get(source)
                        long = value_too_long(var, name, given or "", key=key)
                        if long:
                            too_long.append(long)
                continue
            if ctx.mode != "apply":
                env = f"ECSUP_SECRET_{var}"
                actions.append(Action("create", "secret", name, f"SecureString from {env} or a prompt"))
                continue
            value = ctx.secret_value(var, name)
            if value is None:
                unavailable.append(_no_value(var, name, key))
                continue
            long = value_too_long(var, name, value, key=key)
            if long:
                too_long.append(long)
                continue
            actions.append(Action("create", "secret", name, "SecureString", run=partial(self._put, ctx, name, value)))
        if unavailable:
            raise ConfigError(unavailable, hint="nothing was changed; set the variables and run again")
        if too_long:
            raise ConfigError(too_long, hint=TOO_LONG_HINT)
        ctx.facts["decrypt_keys"] = sorted(keys)
        return actions

    def _put(self, ctx: Context, name: str, value: str) -> str:
        kwargs: dict[str, Any] = {
            "Name": name,
            "Value": value,
            "Type": "SecureString",
            "Tags": ctx.names.tag_list(),
            "Description": f"ecsup {ctx.names.stack}",
        }
        if ctx.facts.get("kms_key_arn"):
            kwargs["KeyId"] = ctx.facts["kms_key_arn"]
        try:
            ctx.client("ssm").put_parameter(**kwargs)
        except EcsupError:
            raise
        except Exception as exc:  # never let botocore echo the parameters (the value) into a message
            if is_code(exc, "ParameterAlreadyExists"):
                return "already exists (kept as it is)"
            code = error_code(exc) or type(exc).__name__
            raise AwsError(f"create SSM parameter {name}: {code}", code) from None
        return "created"

    def plan_destroy(self, ctx: Context) -> list[Action]:
        from .workloads import worker_service_refs

        secrets = sorted(stack_parameters(ctx))
        if not secrets:
            return []
        existing = describe_parameters(ctx, secrets)
        actions: list[Action] = []
        for name in secrets:
            if name not in existing:
                continue
            if not ctx.facts.get("purge"):
                actions.append(Action("keep", "secret", name, "holds data (use --purge to delete)"))
                continue
            try:
                tags = tag_dict(
                    ctx.client("ssm").list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
                )
            except EcsupError:
                raise
            except Exception as exc:
                raise AwsError(f"read tags of SSM parameter {name}: {error_code(exc)}", error_code(exc)) from None
            if not ctx.names.owns(tags):
                actions.append(Action("keep", "secret", name, "not created by ecsup: left alone"))
                continue
            actions.append(
                Action(
                    "delete",
                    "secret",
                    name,
                    "--purge",
                    run=partial(self._delete, ctx, name),
                    after=(service_ref(ctx), *worker_service_refs(ctx)),
                )
            )
        return actions

    def _delete(self, ctx: Context, name: str) -> str:
        try:
            ctx.client("ssm").delete_parameter(Name=name)
        except EcsupError:
            raise
        except Exception as exc:
            if is_code(exc, "ParameterNotFound"):
                return "already gone"
            raise AwsError(f"delete SSM parameter {name}: {error_code(exc)}", error_code(exc)) from None
        return "deleted"
