"""Previews: a stack per pull request, derived from the environment's config ([preview]).

A preview named ``pr-123`` of app ``shop`` is the stack ``shop-pr-123``: its env is the
preview's name, so every name, tag, lock and destroy of a stack applies to it unchanged (and
ELB's 32-character names bound the name: ``<app>-<name>-green``). Its config is this file's,
with the [preview] overrides (preview_config): hostname ``<name>.<domain>``, the shared load
balancer ``[preview] shared``, one task on Spot, no auto scaling, a rolling deployment, workers
at one task, no jobs.

What makes a stack a preview is its marker, an SSM parameter ``/ecsup/previews/<app>/<name>``
tagged as the stack's (``ecsup:app``/``ecsup:env``) plus ``ecsup:preview`` (its name),
``ecsup:preview-created`` (when its first ``preview up`` began: ``gc`` ages previews by it) and
``ecsup:preview-domain``. ``preview up`` writes it before anything else and ``preview down``
deletes it after everything else, so a preview that exists in any part has one: ``list`` and
``gc`` find every preview, even one whose up or down stopped half-way.

The previews of a domain share one certificate for ``*.<domain>`` (not the stack's own per-zone
certificate): each preview's config brings it as ``dns.certificate_arn``, so the rule step adds
it to the shared listener once (the next previews find it there, or covering them) and a
preview's destroy never touches it. It is requested by the first preview up (under the shared
load balancer's lock), tagged ``ecsup:preview-domain`` and ``ecsup:shared-lb``, and deleted by the
last preview down -- decided under that lock, as the shared load balancer's last stack out is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from .config import Config, PreviewConfig
from .context import Context
from .errors import ConfigError, OptionError, OwnershipConflict, doing, is_code
from .names import (
    ELB_NAME_LIMIT,
    MANAGED_VALUE,
    PREVIEWS_PATH,
    TAG_CERTIFICATE,
    TAG_MANAGED,
    TAG_PREVIEW,
    TAG_PREVIEW_CREATED,
    TAG_PREVIEW_DOMAIN,
    TAG_RETIRING,
    TAG_SHARED,
    Names,
    previews_path,
    tag_dict,
)

_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
LABEL_LIMIT = 63  # a DNS label
HOST_HEADER_VALUE_LIMIT = 128  # ELB's host-header condition value (config.py says so too)


# -- the preview's config ------------------------------------------------------------------------
def settings(config: Config) -> PreviewConfig:
    if config.preview is None:
        raise ConfigError(
            [("preview", "is missing: previews need a [preview] section (domain, shared)")],
            hint=f"add it to {config.path or 'ecsup.toml'} (`ecsup init` writes a commented example); "
            "nothing was changed",
        )
    return config.preview


def check_name(config: Config, name: str) -> None:
    """A preview's name is its stack's env: a name, short enough for every name derived from it."""
    from .workloads import WORKLOAD_NAME_LIMIT

    p = settings(config)
    if not _NAME_RE.fullmatch(name):
        raise OptionError(
            f"--name {name!r} must be lowercase letters, digits and hyphens, starting and ending with a letter "
            "or digit",
            hint="e.g. --name pr-123",
        )
    if name == config.env:
        raise OptionError(
            f"--name {name!r} is the environment's own name ({config.app}-{config.env}): a preview needs another",
            hint="e.g. --name pr-123",
        )
    names = Names(config.app, name)
    what, longest = max(names.elb_names().items(), key=lambda item: len(item[1]))
    if len(longest) > ELB_NAME_LIMIT:
        room = len(name) - (len(longest) - ELB_NAME_LIMIT)
        raise OptionError(
            f"--name {name!r} is too long: the preview's {what} would be {longest!r}, {len(longest)} characters, "
            f"and Elastic Load Balancing allows {ELB_NAME_LIMIT}",
            hint=f"use a name of at most {max(room, 0)} characters with app {config.app!r}",
        )
    host = f"{name}.{p.domain}"
    if len(name) > LABEL_LIMIT or len(host) > HOST_HEADER_VALUE_LIMIT:
        raise OptionError(f"--name {name!r}: the hostname {host!r} is too long for DNS or the load balancer's rule")
    for worker in config.workers:
        full = names.workload(worker.name)
        if len(full) > WORKLOAD_NAME_LIMIT:
            raise OptionError(
                f"--name {name!r}: worker {worker.name}'s service would be {full!r}, over "
                f"{WORKLOAD_NAME_LIMIT} characters",
                hint="use a shorter preview name",
            )


def preview_config(config: Config, name: str, image: str = "", certificate_arn: str = "") -> Config:
    """The preview's config, derived from the environment's: the [preview] overrides on top.

    - hostname ``<name>.<domain>`` (an alias record), on the shared load balancer ``[preview]
      shared`` (never deletion protection or access logs: the load balancer is shared);
    - the web service: ``image`` (else the file's), one task on ``[preview] capacity`` (Spot by
      default), no auto scaling, a rolling deployment (no bake, no second set of tasks, no
      infrastructure role: the cheapest that still rolls back on the circuit breaker), no Container
      Insights; ecsup's deployment alarms, not the environment's own (alarms.names), and the probe
      at the preview's URL (not verify.url);
    - secrets: the environment's parameters, but for the variables [preview.secrets] names;
    - workers: at most one task each, on the same capacity, no auto scaling;
    - jobs: none (a preview runs no schedule: its jobs would run against what the environment's
      secrets point at);
    - the certificate: ``certificate_arn``, the previews' *.<domain> (given as "bring your own":
      the stack never deletes it)."""
    p = settings(config)
    swap = dict(p.secrets)

    def secrets(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((var, swap.get(var, param)) for var, param in pairs))

    svc = config.service
    service = replace(
        svc,
        image=image or svc.image,
        desired_count=1,
        autoscaling=None,
        capacity=p.capacity,
        on_demand_base=1,
        on_demand_percent=0,
        container_insights=False,
        secrets=secrets(svc.secrets),
        deploy=replace(
            svc.deploy,
            strategy="rolling",
            # the environment's own alarms and probe URL watch the environment, not the preview
            alarms=replace(svc.deploy.alarms, names=()),
            verify=replace(svc.deploy.verify, url=""),
        ),
    )
    workers = tuple(
        replace(
            w,
            desired_count=min(w.desired_count, 1),
            autoscaling=None,
            capacity=p.capacity,
            on_demand_base=1,
            on_demand_percent=0,
            secrets=secrets(w.secrets),
        )
        for w in config.workers
    )
    dns = replace(
        config.dns,
        hostname=f"{name}.{p.domain}",
        record="alias",
        cloudfront_certificate=False,
        certificate_arn=certificate_arn,
        external=False,
    )
    # internal and waf_acl are a shared load balancer's settings, never a stack's on it: a preview
    # is on [preview] shared as it is; allow_cidrs carries over (a source-ip condition on its rule)
    lb = replace(
        config.load_balancer,
        shared=p.shared,
        deletion_protection=False,
        access_logs=False,
        internal=False,
        waf_acl="",
    )
    return replace(
        config,
        env=name,
        dns=dns,
        service=service,
        load_balancer=lb,
        workers=workers,
        jobs=(),
        build_problems=(),
    )


def for_preview(ctx: Context, config: Config) -> Context:
    """A context for a preview's stack, connected as ``ctx`` is."""
    made = Context(
        config,
        profile=ctx.profile,
        region=ctx.region,
        endpoint_url=ctx.endpoint_url,
        credentials=ctx.credentials,
        ui=ctx.ui,
        timeouts=ctx.timeouts,
        sleep=ctx.sleep,
        clock=ctx.clock,
        secret_source=ctx.secret_source,
    )
    made.wall = ctx.wall
    made.calls = ctx.calls  # one command's calls, counted together (the demo, the CLI's counts)
    return made


def secrets_line(config: Config) -> str:
    """Which parameters the preview reads: the environment's, or [preview.secrets]'s."""
    p = settings(config)
    ours = dict(p.secrets)
    pairs = sorted({*config.service.secrets, *(pair for w in config.workers for pair in w.secrets)})
    if not pairs:
        return ""
    parts = [
        f"{var} <- {param} ({'[preview.secrets]' if var in ours else 'the environment' + chr(39) + 's'})"
        for var, param in pairs
    ]
    return "secrets: " + ", ".join(parts)


# -- the marker ----------------------------------------------------------------------------------
def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float | None:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except (TypeError, ValueError):
        return None


def read_marker(ctx: Context) -> dict[str, Any] | None:
    """The preview's marker (its value, with "tags"), or None."""
    ssm = ctx.client("ssm")
    name = ctx.names.preview_marker
    with doing(f"read {name}"):
        try:
            value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except Exception as exc:
            if is_code(exc, "ParameterNotFound"):
                return None
            raise
        tags = tag_dict(ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"])
    try:
        found = json.loads(value)
    except ValueError:
        found = {}
    found = found if isinstance(found, dict) else {}
    found["tags"] = tags
    return found


def marker_tags(ctx: Context, created: str) -> list[dict[str, str]]:
    p = settings(ctx.config)
    extra = {TAG_PREVIEW: ctx.names.env, TAG_PREVIEW_CREATED: created, TAG_PREVIEW_DOMAIN: p.domain}
    return [*ctx.names.tag_list(), *({"Key": k, "Value": v} for k, v in extra.items())]


def write_marker(ctx: Context) -> str:
    """Make the stack a preview (before anything of it is created); its creation time is now."""
    created = iso(ctx.wall())
    value = json.dumps({"name": ctx.names.env, "url": ctx.config.url, "created": created})
    with doing(f"create {ctx.names.preview_marker}"):
        try:
            ctx.client("ssm").put_parameter(
                Name=ctx.names.preview_marker,
                Value=value,
                Type="String",
                Overwrite=False,
                Tags=marker_tags(ctx, created),
                Description=f"ecsup preview {ctx.names.stack}",
            )
        except Exception as exc:
            if not is_code(exc, "ParameterAlreadyExists"):  # written by a run that stopped after it
                raise
    return created


def delete_marker(ctx: Context) -> str:
    with doing(f"delete {ctx.names.preview_marker}"):
        try:
            ctx.client("ssm").delete_parameter(Name=ctx.names.preview_marker)
        except Exception as exc:
            if is_code(exc, "ParameterNotFound"):
                return "already gone"
            raise
    return "deleted"


def stack_exists(ctx: Context) -> bool:
    """Whether the stack's cluster exists (ACTIVE): a stack of this name that has no marker is
    an environment of the app, not a preview."""
    with doing(f"look up cluster {ctx.names.cluster}"):
        found = ctx.client("ecs").describe_clusters(clusters=[ctx.names.cluster])["clusters"]
    return any(c.get("status") == "ACTIVE" for c in found)


def _refuse_environment(ctx: Context) -> None:
    raise OwnershipConflict(
        f"{ctx.names.stack} exists and is not a preview (it has no {ctx.names.preview_marker}): "
        "an environment of the app has this name",
        hint="pick another --name; nothing was changed",
    )


def markers(ctx: Context, app: str | None = None, domain: str | None = None) -> list[dict[str, Any]]:
    """The preview markers (described, paginated): one app's (by its path and its ecsup:app tag),
    or every app's previews of a domain (by the ecsup:preview-domain tag). DescribeParameters takes
    "tag:<key>" filters (Option Equals or BeginsWith) and "Path" (Option Recursive or OneLevel),
    ANDed (SSM API reference, ParameterStringFilter); its results are paginated."""
    filters: list[dict[str, Any]] = []
    if app is not None:
        filters += [
            {"Key": "Path", "Option": "OneLevel", "Values": [previews_path(app)]},
            {"Key": "tag:ecsup:app", "Option": "Equals", "Values": [app]},
        ]
    else:
        filters.append({"Key": "Path", "Option": "Recursive", "Values": [PREVIEWS_PATH]})
    if domain is not None:
        filters.append({"Key": f"tag:{TAG_PREVIEW_DOMAIN}", "Option": "Equals", "Values": [domain]})
    with doing("list the previews' markers"):
        pages = ctx.client("ssm").get_paginator("describe_parameters").paginate(ParameterFilters=filters)
        return sorted((p for page in pages for p in page["Parameters"]), key=lambda p: str(p["Name"]))


# -- the previews' certificate -------------------------------------------------------------------
def wildcard(domain: str) -> str:
    return f"*.{domain}"


def certificate_tags(ctx: Context) -> list[dict[str, str]]:
    p = settings(ctx.config)
    tags = {TAG_PREVIEW_DOMAIN: p.domain, TAG_SHARED: p.shared, TAG_MANAGED: MANAGED_VALUE}
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def certificates(ctx: Context) -> list[dict[str, Any]]:
    """ecsup's certificates for *.<domain> in the region (described, with "Tags"), newest first."""
    from .steps.certificate import ALL_KEY_TYPES

    p = settings(ctx.config)
    acm = ctx.client("acm")
    found = []
    with doing(f"list the certificates for {wildcard(p.domain)}"):
        for page in acm.get_paginator("list_certificates").paginate(Includes=ALL_KEY_TYPES):
            for summary in page["CertificateSummaryList"]:
                if summary.get("DomainName", "").lower() != wildcard(p.domain):
                    continue
                arn = summary["CertificateArn"]
                try:
                    tags = tag_dict(acm.list_tags_for_certificate(CertificateArn=arn).get("Tags"))
                    if tags.get(TAG_PREVIEW_DOMAIN) != p.domain or tags.get(TAG_MANAGED) != MANAGED_VALUE:
                        continue
                    cert = dict(acm.describe_certificate(CertificateArn=arn)["Certificate"])
                except Exception as exc:  # deleted between list and read
                    if is_code(exc, "ResourceNotFoundException"):
                        continue
                    raise
                cert["Tags"] = tags
                found.append(cert)
    found.sort(key=lambda c: str(c.get("CreatedAt", "")), reverse=True)
    return found


def _usable(certs: list[dict[str, Any]]) -> dict[str, Any] | None:
    from .steps.certificate import UNUSABLE

    return next((c for c in certs if c["Status"] not in UNUSABLE and TAG_RETIRING not in c["Tags"]), None)


@contextmanager
def _shared_lock(ctx: Context, command: str) -> Iterator[None]:
    from .steps.shared import shared_lock

    with shared_lock(ctx, command):
        yield


def ensure_certificate(ctx: Context) -> tuple[str, str]:
    """The previews' certificate for *.<domain>: found, or requested (under the shared load
    balancer's lock: two previews going up at once request one), and its validation record in
    the zone. Returns (ARN, what was done)."""
    from .steps.certificate import missing_records, upsert_records, wait_records
    from .steps.zone import find_zone

    p = settings(ctx.config)
    cert = _usable(certificates(ctx))
    said = "found"
    if cert is None:
        with _shared_lock(ctx, "preview up"):
            cert = _usable(certificates(ctx))
            if cert is not None:
                said = "found (requested by another preview meanwhile)"
            else:
                arn = request_certificate(ctx)
                cert = {"CertificateArn": arn, "Status": "PENDING_VALIDATION"}
                said = "requested"
    arn = str(cert["CertificateArn"])
    ctx.learn_account(arn)
    ctx.facts["zone_id"] = find_zone(ctx, ctx.config.dns.zone)["Id"].split("/")[-1]
    records = wait_records(ctx, arn, ctx.region)
    missing = missing_records(ctx, records)
    if missing:
        upsert_records(ctx, missing, f"validation of {wildcard(p.domain)}")
        said += ", validation record written"
    return arn, f"{said}: {arn}"


def request_certificate(ctx: Context) -> str:
    p = settings(ctx.config)
    with doing(f"request certificate for {wildcard(p.domain)}"):
        arn = ctx.client("acm").request_certificate(
            DomainName=wildcard(p.domain),
            ValidationMethod="DNS",
            # per run, as for a stack's certificate (steps/certificate.py request): a botocore retry
            # of this call is idempotent; a request after the last preview's deleted it is new
            IdempotencyToken=ctx.run_id[:32],
            Tags=certificate_tags(ctx),
            Options={"CertificateTransparencyLoggingPreference": "ENABLED"},
        )["CertificateArn"]
    return str(arn)


def settle_stack_lock(ctx: Context) -> None:
    """The preview's stack is gone, but a run that died releasing its lock left the lock (and its
    generation parameter): taken over (when its holder is provably gone, lock.py) and deleted, as
    the destroy of a stack with something left would -- a preview leaves nothing behind."""
    from . import lock
    from .engine import destroy_locked

    if lock.read(ctx) is None and lock.generation(ctx) is None:
        return
    with destroy_locked(ctx):
        pass


def release_certificate(ctx: Context, marked: bool = True) -> list[tuple[str, str]]:
    """After a preview's stack is gone: delete its marker and, when it was the domain's last
    preview, the previews' certificate (off the shared listener first, handing the listener's
    default over if it was that), then its validation record. Under the shared lock: the marker
    goes, no other preview's marker is left, and the certificate is tagged retiring (a preview going
    up then requests another); the markers are read again after that tag, so a preview that went
    up meanwhile keeps it. ``marked``: the preview's marker exists (prepare_down read it). Returns
    (what, result) lines."""
    from .steps.certificate import delete_certificate, delete_records, validation_records
    from .steps.shared import (
        find_shared,
        hand_over,
        keep_certificate,
        listener_certificates,
        listener_rules,
        shared_listeners,
    )
    from .steps.zone import find_zone

    p = settings(ctx.config)
    done: list[tuple[str, str]] = []
    settle_stack_lock(ctx)
    certs = certificates(ctx)
    label = f"certificate {wildcard(p.domain)}"
    marker = f"preview marker {ctx.names.preview_marker}"
    if not certs:  # nothing shared to decide about: no lock
        return [(marker, delete_marker(ctx))] if marked else []
    if not marked and markers(ctx, domain=p.domain):  # a preview already down, others up: nothing to do
        return []
    with _shared_lock(ctx, "preview down"):
        if marked:
            done.append((marker, delete_marker(ctx)))
        others = markers(ctx, domain=p.domain)
        if others:
            return [*done, (label, f"kept: {len(others)} other preview(s) of {p.domain} use it")]
        acm = ctx.client("acm")
        for cert in certs:
            if TAG_RETIRING not in cert["Tags"]:
                with doing(f"tag certificate {cert['CertificateArn']}"):
                    acm.add_tags_to_certificate(
                        CertificateArn=cert["CertificateArn"], Tags=[{"Key": TAG_RETIRING, "Value": "true"}]
                    )
        others = markers(ctx, domain=p.domain)
        if others:  # a preview went up meanwhile and may have found it before the tag: it stays
            for cert in certs:
                with doing(f"untag certificate {cert['CertificateArn']}"):
                    acm.remove_tags_from_certificate(
                        CertificateArn=cert["CertificateArn"], Tags=[{"Key": TAG_RETIRING, "Value": "true"}]
                    )
            return [*done, (label, f"kept: {len(others)} other preview(s) of {p.domain} use it")]
        lb, _ = find_shared(ctx)
        https = shared_listeners(ctx, lb["LoadBalancerArn"]).get(443) if lb else None
        if https is not None:
            listed = listener_certificates(ctx, https["ListenerArn"])
            rules = listener_rules(ctx, https["ListenerArn"])
            for cert in certs:
                arn = cert["CertificateArn"]
                if arn not in [c["CertificateArn"] for c in listed]:
                    continue
                users = [r for r in rules if (r.get("Tags") or {}).get(TAG_CERTIFICATE) == arn]
                if users:  # a rule made without a marker: it keeps serving with it
                    result = keep_certificate(ctx, arn, f"rule priority {users[0].get('Priority')} names it")
                else:
                    result = hand_over(ctx, https["ListenerArn"], listed, arn, rules)
                done.append((f"listener certificate {p.shared} HTTPS:443 {wildcard(p.domain)}", result))
                listed = listener_certificates(ctx, https["ListenerArn"])
    ctx.facts["zone_id"] = find_zone(ctx, ctx.config.dns.zone)["Id"].split("/")[-1]
    for cert in certs:
        arn = cert["CertificateArn"]
        kept = ctx.facts.get("kept_certs", {}).get(arn)
        if kept:  # it stays on the listener (hand_over): so do its records, which it renews with
            done.append((label, f"kept: {kept}"))
            continue
        # its validation record first (unless another certificate uses it), then the certificate: a
        # run stopped between the two finds the certificate again, and with it the record's name
        records = validation_records(cert) or []
        if records:
            ctx.facts.setdefault("deleted_certs", set()).add(arn)  # going: its own use keeps nothing
            names = {p.domain, wildcard(p.domain)}
            done.append((f"validation records {wildcard(p.domain)}", delete_records(ctx, records, arn, names)))
        result = delete_certificate(ctx, arn, ctx.region)
        done.append((label, f"{result}: {arn}"))
    return done


# -- up, down, list, gc --------------------------------------------------------------------------
@dataclass
class Prepared:
    ctx: Context  # the preview's stack, ready for engine.create / plan_destroy
    certificate: str = ""  # what was done about the previews' certificate
    created: str = ""  # the marker's creation time
    exists: bool = True  # down: anything of the preview exists


def prepare_up(base: Context, name: str, image: str = "") -> Prepared:
    """Before `create` of the preview's stack: its marker, the previews' certificate."""
    check_name(base.config, name)
    ctx = for_preview(base, preview_config(base.config, name, image))
    found = read_marker(ctx)
    if found is None and stack_exists(ctx):
        _refuse_environment(ctx)
    check_secrets(ctx)
    if found is None:
        created = write_marker(ctx)
    else:
        created = str(found.get("tags", {}).get(TAG_PREVIEW_CREATED) or found.get("created") or "")
    arn, said = ensure_certificate(ctx)
    ctx.reset_observations()
    ctx.config = preview_config(base.config, name, image, arn)
    return Prepared(ctx, said, created)


def check_secrets(ctx: Context) -> None:
    """Before anything is written: a parameter the preview reads that is missing, with no value to
    create it from, stops `preview up` here (as `create` stops before any change)."""
    from .steps.secrets import SecretsStep

    mode, ctx.mode = ctx.mode, "plan"
    try:
        SecretsStep().plan(ctx)
    finally:
        ctx.mode = mode
        ctx.reset_observations()


def prepare_down(base: Context, name: str) -> Prepared:
    """Before `destroy` of the preview's stack (its config without the previews' certificate: the
    stack's destroy leaves it to release_certificate)."""
    check_name(base.config, name)
    ctx = for_preview(base, preview_config(base.config, name))
    found = read_marker(ctx)
    if found is None and stack_exists(ctx):
        _refuse_environment(ctx)
    return Prepared(ctx, exists=found is not None)


@dataclass
class Preview:
    name: str
    stack: str
    url: str
    created: str
    age_seconds: float | None
    image: str = ""
    state: str = ""  # the service's status, or "not created"
    monthly: str = ""
    monthly_usd: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stack": self.stack,
            "url": self.url,
            "created": self.created,
            "age_hours": None if self.age_seconds is None else round(self.age_seconds / 3600, 1),
            "image": self.image,
            "state": self.state,
            "monthly_cost": self.monthly_usd,
        }


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    hours = int(seconds // 3600)
    if hours >= 48:
        return f"{hours // 24}d {hours % 24}h"
    if hours >= 1:
        return f"{hours}h {int(seconds % 3600 // 60)}m"
    return f"{int(seconds // 60)}m"


def _service_image(ctx: Context) -> tuple[str, str]:
    """(image, state) of the preview's web service: its running task definition's image."""
    ecs = ctx.client("ecs")
    n = ctx.names
    with doing(f"describe service {n.service}"):
        try:
            services = ecs.describe_services(cluster=n.cluster, services=[n.service])["services"]
        except Exception as exc:
            if is_code(exc, "ClusterNotFoundException"):
                return "", "not created"
            raise
        live = [s for s in services if s.get("status") in ("ACTIVE", "DRAINING")]
        if not live:
            return "", "not created"
        definition = ecs.describe_task_definition(taskDefinition=live[0]["taskDefinition"])["taskDefinition"]
    image = next(
        (c.get("image", "") for c in definition.get("containerDefinitions", []) if c.get("name") == n.container), ""
    )
    service = live[0]
    return str(image), f"{service.get('runningCount', 0)}/{service.get('desiredCount', 0)} running"


def list_previews(base: Context, costs: bool = True, prices: Any = None) -> list[Preview]:
    """Every preview of the app: its marker, its service's image, its monthly cost."""
    from .cost import Sharing, Usage, estimate

    p = settings(base.config)
    found: list[Preview] = []
    names = [str(m["Name"]).rsplit("/", 1)[-1] for m in markers(base, app=base.config.app)]
    sharing = None
    if names and costs:
        from .steps.shared import find_shared, listener_rules, shared_listeners, stacks_on

        probe = for_preview(base, preview_config(base.config, names[0]))
        lb, tags = find_shared(probe)
        stacks: list[str] = []
        if lb is not None and probe.names.owns_shared(tags):
            https = shared_listeners(probe, lb["LoadBalancerArn"]).get(443)
            stacks = stacks_on(listener_rules(probe, https["ListenerArn"])) if https else []
        sharing = Sharing(p.shared, max(len(stacks), 1), tuple(stacks))
    now = base.wall()
    for name in names:
        cfg = preview_config(base.config, name)
        ctx = for_preview(base, cfg)
        marker = read_marker(ctx) or {}
        created = str(marker.get("tags", {}).get(TAG_PREVIEW_CREATED) or marker.get("created") or "")
        when = parse_iso(created)
        image, state = _service_image(ctx)
        preview = Preview(name, ctx.names.stack, cfg.url, created, None if when is None else max(now - when, 0.0))
        preview.image, preview.state = image, state
        if costs and prices is not None:
            result = estimate(
                replace(cfg, service=replace(cfg.service, image=image or cfg.service.image)), Usage(), prices, sharing
            )
            preview.monthly, preview.monthly_usd = result.total_text, result.total_low
        found.append(preview)
    return found


def parse_duration(text: str) -> float:
    """ "72h", "3d", "90m" (or a number of hours) -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhd]?)\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise OptionError(
            f"--older-than {text!r} is not a duration", hint="e.g. --older-than 72h, 3d or 90m (a number alone: hours)"
        )
    unit = {"m": 60, "h": 3600, "d": 86400, "": 3600}[match.group(2)]
    return float(match.group(1)) * unit


def expired(previews: list[Preview], older_than: float) -> list[Preview]:
    """The previews older than ``older_than`` seconds (one whose age is unknown is not)."""
    return [p for p in previews if p.age_seconds is not None and p.age_seconds > older_than]
