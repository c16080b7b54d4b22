"""The facts steps share: identifiers and observations one step writes and later ones read.

``Facts`` is a dataclass mypy checks (``ctx.facts.alb_arn`` is a ``str | None``) that is also a
mapping, so ``ctx.facts["alb_arn"]``, ``.get``, ``.setdefault``, ``in``, ``del`` and ``.update``
keep working: a field is *in* the mapping once a step set it (its default, None, is not), and a
key that is not a field (a step added later with facts of its own) is kept beside them.

Steps declare which facts they read and which they provide (``Step.reads`` / ``Step.provides``,
by these field names); the engine derives from them which step waits for which, when planning
and when applying (engine.py). A fact is *provided* by a step once that step is done: planned
(for the steps that read it while planning) or applied (for the actions that read it when they
run) -- whether the step writes the value while planning or while applying is its own business.
A few facts are markers of a resource rather than a value (``log_group``, ``alarms``): what the
tasks need to exist before they start, read by the service step so that it waits for them.

The engine provides ``INPUTS`` itself, before any step: the move detection (steps/move.py) and
destroy's ``--purge``.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .steps.move import Move


@dataclass(eq=False)
class Facts(MutableMapping[str, Any]):
    # -- the engine's, before any step (INPUTS) ---------------------------------------------------
    purge: bool | None = None  # destroy --purge
    move: Move | None = None  # a move between load balancers (move.detect)
    service_seen: dict[str, Any] | None = None  # DescribeServices, once per plan (move.detect, ecs.seen_service)
    target_groups_seen: tuple[int, dict[str, dict[str, Any]]] | None = None  # (pair, groups by name)
    # -- zone -------------------------------------------------------------------------------------------
    zone_id: str | None = None  # None: no zone (destroy of a stack whose zone is gone)
    records: dict[str, list[dict[str, Any]]] | None = None  # record sets read, by name (a cache: zone.py)
    record_spans: list[tuple[str, str | None]] | None = None  # what the listings read spanned (zone.py)
    # -- network ----------------------------------------------------------------------------------------
    vpc_id: str | None = None
    subnets: list[str] | None = None  # the tasks'
    alb_subnets: list[str] | None = None  # the load balancer's
    sg_alb: str | None = None
    sg_tasks: str | None = None
    alb_ingress: list[tuple[str, int, int, str]] | None = None  # every rule of the load balancer's group
    # -- load balancer ------------------------------------------------------------------------------------
    alb_arn: str | None = None
    alb_dns: str | None = None
    alb_zone: str | None = None
    alb_attributes: dict[str, str] | None = None
    alb_tags: dict[str, str] | None = None  # the own load balancer's tags (WafStep: ecsup:waf-acl)
    alb_scheme: str | None = None  # the own load balancer's Scheme, as read (status shows it)
    waf_acl_associated: str | None = None  # the web ACL the load balancer has ("" none; status shows it)
    tg_blue: str | None = None
    tg_green: str | None = None
    https_listener_arn: str | None = None  # HTTPS:443 (or the staging listener that becomes it)
    promote: str | None = None  # the staging listener to turn into HTTPS:443 (HttpsStep)
    live_target_group_arn: str | None = None
    live_target_group: str | None = None
    production_weights: dict[str, int] | None = None  # a repaired forward's weights
    production_rule_arn: str | None = None
    # -- shared load balancer -----------------------------------------------------------------------------
    shared_listeners: dict[int, dict[str, Any]] | None = None
    shared_rules: list[dict[str, Any]] | None = None
    shared_others: list[str] | None = None  # the other stacks on it
    rule_priority: str | None = None
    listener_certificates: list[str] | None = None
    listener_certificate: str | None = None  # the one serving this stack's hostname
    # -- certificate ------------------------------------------------------------------------------------
    cert_arn: str | None = None
    cert_arn_issued: bool | None = None
    cert_arn_cloudfront: str | None = None
    cert_arn_cloudfront_issued: bool | None = None
    provider_validation: dict[str, list[dict[str, str]]] | None = None  # dns.external: by region
    provider_records: list[dict[str, str]] | None = None  # dns.external: the records shown (--json)
    provider_records_shown: tuple[str, ...] | None = None
    provider_leftover_validation: list[dict[str, str]] | None = None  # destroy, dns.external
    provider_leftover_alb: str | None = None  # destroy, dns.external
    owned_cert_arns: list[str] | None = None  # destroy: the stack's certificates (a shared listener's SNI)
    kept_certs: dict[str, str] | None = None  # destroy: certificate ARN -> why it stays
    deleted_certs: set[str] | None = None  # destroy
    records_by_cert: dict[str, set[tuple[str, str]]] | None = None  # destroy: validation records in use
    records_doubts: dict[str, str] | None = None  # destroy: regions that could not be read
    # -- secrets and IAM ---------------------------------------------------------------------------------
    kms_key_arn: str | None = None
    key_arns: dict[str, str] | None = None  # KMS key id -> ARN (a cache)
    secret_arns: dict[str, str] | None = None  # variable -> SSM parameter ARN
    secret_parameters: dict[str, dict[str, Any]] | None = None  # what status compares with the tasks' start
    decrypt_keys: list[str] | None = None
    parameter_arns: dict[str, str] | None = None  # SSM parameter name -> ARN: every workload's secrets
    execution_role_arn: str | None = None
    task_role_arn: str | None = None
    infrastructure_role_arn: str | None = None
    permissions_changed_at: float | None = None  # on the context's clock (the service lets it settle)
    # -- ECS ----------------------------------------------------------------------------------------------
    log_group: str | None = None  # marker: the log group exists once LogsStep is applied
    cluster_arn: str | None = None
    cluster_tags: dict[str, str] | None = None  # an existing cluster's (the stack has workers: workloads.py)
    image: str | None = None
    running_image: str | None = None
    running_size: tuple[int, int, str] | None = None  # cpu, memory, architecture of what runs
    task_definition_arn: str | None = None
    alarms: list[str] | None = None  # marker: the deployment alarms exist once AlarmsStep is applied
    alarm_states: list[dict[str, Any]] | None = None
    service: dict[str, Any] | None = None  # the ECS service (status reports on it); exists once applied
    autoscaling: dict[str, Any] | None = None
    # -- workers and jobs ---------------------------------------------------------------------------------
    worker_services: dict[str, dict[str, Any]] | None = None  # the stack's worker services, by worker (a cache)
    worker_task_definitions: dict[str, str] | None = None  # worker -> the revision its service runs after this run
    jobs_roles_changed_at: float | None = None  # on the context's clock: the jobs' roles changed (they settle)
    job_task_definitions: dict[str, str] | None = None  # job -> the revision its state machine runs
    # -- not fields ------------------------------------------------------------------------------------------
    _present: set[str] = field(default_factory=set, repr=False)
    _extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._present.clear()  # the defaults are not facts

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        present = self.__dict__.get("_present")
        if present is not None and name in FIELDS:
            present.add(name)

    @classmethod
    def of(cls, values: dict[str, Any]) -> Facts:
        facts = cls()
        facts.update(values)
        return facts

    # -- the mapping -------------------------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        if key in FIELDS:
            if key not in self._present:
                raise KeyError(key)
            return self.__dict__[key]
        return self._extra[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key in FIELDS:
            setattr(self, key, value)
        else:
            self._extra[key] = value

    def __delitem__(self, key: str) -> None:
        if key in FIELDS:
            if key not in self._present:
                raise KeyError(key)
            object.__setattr__(self, key, None)
            self._present.discard(key)
        else:
            del self._extra[key]

    def __iter__(self) -> Iterator[str]:
        yield from [name for name in FIELDS if name in self._present]
        yield from list(self._extra)

    def __len__(self) -> int:
        return len(self._present) + len(self._extra)

    def __contains__(self, key: object) -> bool:
        if key in FIELDS:
            return key in self._present
        return key in self._extra

    def __repr__(self) -> str:
        return f"Facts({dict(self.items())!r})"


FIELDS: frozenset[str] = frozenset(f.name for f in fields(Facts) if not f.name.startswith("_"))
# Provided by the engine before the first step observes (move.detect; destroy's --purge).
INPUTS: frozenset[str] = frozenset({"purge", "move", "service_seen", "target_groups_seen"})
