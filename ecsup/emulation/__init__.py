"""Emulated AWS: how AWS behaves where moto is more lenient, kept in one place.

moto answers at once and forgives what AWS refuses. ecsup is written for AWS, so its
test suite and its sandbox both run moto with the behaviours below switched on: the
tests strictly, on the tests' fake clock (AWS's delays pass while ecsup waits them out,
in no real time), the sandbox on the real clock with short delays. Each behaviour is
named after what AWS does and says where that is documented or reported.

The behaviours wrap moto's API handlers (its ``*Response`` classes: the API boundary,
so moto's own internal calls are untouched) and, for the shape of an account (a default
VPC with an internet gateway), its models. They work alike for moto in-process
(``mock_aws``) and as a server (the sandbox), since both run the same handlers.

Needs moto (the ``sandbox`` extra); nothing in ecsup's commands imports this module
unless the sandbox is used.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from moto.core.exceptions import ServiceException


class AwsFault(ServiceException):
    """An AWS error answer. Defined outside moto's packages, it is serialised in the
    protocol of whichever service is being called (moto.core.errors.get_error_model)."""


@dataclass(frozen=True)
class Delays:
    """Seconds AWS takes to settle after an event; while it settles, it answers as below.

    The ones a create or a destroy of the stack must wait out, one after the other, are the
    physical limit of those commands (scripts/bench prints it): certificate_validation,
    load_balancer_provisioning and service_start on create; service_draining and eni_release
    on destroy. The sandbox (``ecsup sandbox --validation-delay ...``) and scripts/bench set them.
    """

    # ACM publishes DomainValidationOptions[].ResourceRecord seconds after RequestCertificate
    # (terraform-provider-aws waits for it; STACK.md).
    validation_records: float = 2.0
    # ACM issues a DNS-validated certificate some time after its validation CNAMEs appear in DNS:
    # it "makes repeated attempts to validate a certificate for 72 hours" (ACM API reference,
    # CertificateDetail.Status), usually minutes after the records exist, sometimes over an hour
    # (hashicorp/terraform-provider-aws#9338; aws_acm_certificate_validation waits up to 75 minutes).
    # Counted from when the records are first present (not from the request): PENDING_VALIDATION
    # until then, ISSUED after. 0 in the tests, where records written means issued.
    certificate_validation: float = 0.0
    # A certificate for names that no hosted zone of the account holds ([dns] external: DNS at another
    # provider): the emulation cannot see that provider, so it takes the validation records as created
    # there this long after ACM published them (the user's time to add them; ACM then validates after
    # certificate_validation as usual). On the tests' fake clock it costs nothing.
    external_dns_records: float = 60.0
    # ELB answers UnsupportedCertificate for a certificate ACM has just issued: "The certificate
    # '...' must have a fully-qualified domain name, a supported signature, and a supported key
    # size." -- terraform-provider-aws#41789 (ModifyListener), DataBiosphere/azul#8321 (CreateListener).
    certificate_usable: float = 2.0
    # IAM is eventually consistent: reads right after CreateRole answer NoSuchEntity
    # (IAM User Guide, "Changes that I make are not always immediately visible").
    iam_read: float = 2.0
    # ...and permission changes take seconds to apply: tasks started meanwhile cannot read
    # their secrets (ResourceInitializationError ... AccessDeniedException).
    iam_permissions: float = 4.0
    # ECS cannot assume its service-linked role for a while after it is created: "Unable to
    # assume the service linked role. Please verify that the ECS service linked role exists."
    # (aws-cloudformation/cloudformation-coverage-roadmap#818; terraform-provider-aws retries it
    # in ecs/cluster.go retryClusterCreate and ecs/service.go retryServiceCreate).
    service_linked_role: float = 5.0
    # Route53 refuses an alias to a load balancer it does not see yet ("Tried to create an alias
    # that targets ..., but that target was not found" -- barnybug/cli53#227, aws/aws-cdk#19643).
    alias_target: float = 3.0
    # S3 answers NoSuchBucket or OperationAborted to the calls that follow CreateBucket for a while
    # (terraform-provider-aws retries them for 2 minutes: internal/service/s3/bucket.go
    # bucketPropagationTimeout, "General timeout for S3 bucket changes to propagate"; emulation/s3.py).
    bucket_settling: float = 3.0
    # ELB refuses a load balancer's access-log attributes ("InvalidConfigurationRequest: Access Denied
    # for bucket: ...") until the bucket policy put moments before is visible to it (emulation/elbv2.py).
    bucket_policy_visible: float = 3.0
    # A new load balancer is "provisioning" until it "is fully set up and ready to route traffic",
    # then "active" (ELB API reference, LoadBalancerState); minutes in practice: terraform's aws_lb
    # waits for active with a 10-minute timeout that large stacks exceed (terraform-provider-aws#8054),
    # "very normal that it takes > 2 minutes" (kubernetes/kubernetes#44695). Listeners and DNS
    # aliases can be created meanwhile, but its target groups' targets cannot pass health checks
    # (TargetHealth stays "initial", Elb.RegistrationInProgress / Elb.InitialHealthChecking; ELB API
    # reference, TargetHealth): a service behind it cannot finish its first deployment before.
    # Short in the tests, whose services come later than that.
    load_balancer_provisioning: float = 3.0
    # A new service's tasks: PENDING (Fargate capacity, the awsvpc network interface -- "an overhead
    # of several seconds" (ECS Developer Guide, "Optimize Amazon ECS task launch time") --, image
    # pull, container start), then RUNNING; its first deployment is COMPLETED once they run and pass
    # the load balancer's health checks (healthy threshold x interval: 2 x 15 s with ecsup's
    # defaults). 0 in the tests: CreateService's tasks run at once (what most tests assume).
    service_start: float = 0.0
    # EC2 answers DependencyViolation ("resource sg-... has a dependent object") while the
    # network interfaces of a deleted load balancer or of stopped tasks are released: minutes
    # (cloud-barista/cb-spider#460, terraform-provider-aws#1671).
    eni_release: float = 90.0
    # ACM answers ResourceInUseException ("Certificate ... is in use.") for a while after the
    # listener using it is gone (terraform-provider-aws#3866; TF retries it for 20 minutes).
    certificate_release: float = 30.0
    # A deleted ECS service stays DRAINING until its tasks stop (DeleteService API reference;
    # minutes in practice: hashicorp/terraform#9521): the target groups' deregistration delay (30 s
    # in ecsup's target groups), then the containers' stop timeout.
    service_draining: float = 30.0
    # ECS service deployments after the first (deployments.py): new tasks take this long to start
    # and pass two health checks; a "minute" of bake time (bakeTimeInMinutes, step and canary bake
    # times) lasts this many seconds (the sandbox compresses it).
    task_start: float = 20.0
    deployment_minute: float = 60.0
    # A one-off task's log lines reach its awslogs stream this long after the container wrote them,
    # its last ones after the container stopped -- here after the task is STOPPED, which takes a tenth
    # of task_start once the container exited (tasks.py: Docker's awslogs driver batches, CloudWatch
    # Logs' ingestion; apache/airflow#43717).
    log_delivery: float = 4.0
    # ECS Exec: the task's ExecuteCommandAgent (the SSM agent ECS starts inside the container once it
    # runs) reports PENDING, then RUNNING (API reference, ManagedAgent lastStatus / lastStartedAt);
    # ExecuteCommand works only once it runs ("... or the execute command agent isn't running").
    # Seconds after the container starts; short in the tests, which wait it out.
    exec_agent_start: float = 5.0
    # A deleted Step Functions state machine is DELETING, and its name cannot be taken again, for a
    # while (DeleteStateMachine: "sets the state machine's status to DELETING"); a deleted schedule
    # group is DELETING until its schedules are gone (DeleteScheduleGroup) (emulation/states.py,
    # emulation/scheduler.py).
    state_machine_deleting: float = 3.0
    schedule_group_deleting: float = 3.0
    # A NAT gateway is "pending" for a minute or more after CreateNatGateway, then "available"; after
    # DeleteNatGateway "deleting" until "deleted", holding its network interface and Elastic IP until
    # then (EC2 API reference, NatGateway State; eformat/sno-for-100#5). An interface VPC endpoint is
    # "deleting" for a while after DeleteVpcEndpoints, its network interfaces still in its subnets.
    nat_gateway: float = 90.0
    vpc_endpoint_deleting: float = 30.0
    # AWS WAF answers WAFUnavailableEntityException to AssociateWebACL for a load balancer created
    # moments ago (emulation/wafv2.py).
    waf_resource_visible: float = 2.0


STRICT = Delays()  # the test suite: on its fake clock these cost no real time
SANDBOX = Delays(  # the sandbox: on the real clock, short enough to watch (scripts/demo: about a minute)
    validation_records=0.5,
    certificate_validation=1.0,
    external_dns_records=2.0,
    certificate_usable=0.5,
    iam_read=0.5,
    iam_permissions=1.0,
    service_linked_role=1.0,
    alias_target=0.5,
    bucket_settling=0.5,
    bucket_policy_visible=0.5,
    load_balancer_provisioning=1.0,
    service_start=1.0,
    eni_release=2.0,
    certificate_release=1.0,
    service_draining=2.0,
    task_start=1.0,
    deployment_minute=1.0,
    log_delivery=0.5,
    exec_agent_start=0.5,
    state_machine_deleting=0.5,
    schedule_group_deleting=0.5,
    nat_gateway=1.0,
    vpc_endpoint_deleting=0.5,
    waf_resource_visible=0.5,
)


@dataclass
class Emulation:
    delays: Delays = STRICT
    clock: Callable[[], float] = time.monotonic
    # False: moto as it is (a test that needs plain moto says so); the shape of the account
    # (a default VPC like AWS's) stays.
    strict: bool = True
    # Seconds AWS's clock is ahead of this machine's (negative: behind): the timestamps ECS's
    # deployments report. A laptop's clock can be minutes off; nothing may compare the two.
    aws_clock_offset: float = 0.0

    def now(self) -> float:
        return self.clock()

    def with_delays(self, **changes: float) -> Emulation:
        return replace(self, delays=replace(self.delays, **changes))


ACTIVE: Emulation | None = None


def activate(emulation: Emulation) -> Emulation:
    """Switch the behaviours on for this process (moto's classes are patched once)."""
    import warnings

    global ACTIVE
    install()
    # Codes AWS returns that botocore's models do not list (UnsupportedCertificate, ...): moto
    # still answers them as the service's error; its warning about the model is noise here.
    warnings.filterwarnings("ignore", message=r"Exception\(AwsFault\)", category=UserWarning)
    ACTIVE = emulation
    return emulation


def deactivate() -> None:
    global ACTIVE
    ACTIVE = None


# -- plumbing ---------------------------------------------------------------------------
Around = Callable[..., Any]  # (emulation, the handler or model, proceed, *the call's arguments)


@dataclass
class _Hooks:
    strict: list[Around] = field(default_factory=list)
    always: list[Around] = field(default_factory=list)


_HOOKS: dict[tuple[type, str], _Hooks] = {}
_INSTALLED = False


def _around(cls: type, method: str, hook: Around, always: bool = False) -> None:
    key = (cls, method)
    if key not in _HOOKS:
        _HOOKS[key] = _Hooks()
        original = getattr(cls, method)

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            em = ACTIVE
            hooks = _HOOKS[key]
            chain = ([*hooks.always, *hooks.strict] if em.strict else list(hooks.always)) if em else []

            def call(i: int) -> Any:
                if i == len(chain):
                    return original(self, *args, **kwargs)
                assert em is not None
                return chain[i](em, self, lambda: call(i + 1), *args, **kwargs)

            return call(0)

        setattr(cls, method, wrapper)
    (_HOOKS[key].always if always else _HOOKS[key].strict).append(hook)


def _state(backend: Any, name: str) -> dict[str, Any]:
    """Emulation state kept on a moto backend: it is reset with the backend (mock_aws)."""
    store: dict[str, dict[str, Any]] = backend.__dict__.setdefault("_ecsup_emulation", {})
    return store.setdefault(name, {})


def _params(resp: Any) -> dict[str, Any]:
    """The request's parameters (query protocol: nested; JSON protocol: the body)."""
    import json

    body = resp.body.decode() if isinstance(resp.body, bytes) else resp.body
    if body and body.lstrip().startswith("{"):
        return dict(json.loads(body))
    return dict(resp._get_params())


def _settled(em: Emulation, since: float | None, delay: float) -> bool:
    return since is None or em.now() >= since + delay


def _iam(account: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account]["aws"]


def _elbv2(account: str, region: str) -> Any:
    from moto.elbv2.models import elbv2_backends

    return elbv2_backends[account][region]


def _ec2(account: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account][region]


def _ecs(account: str, region: str) -> Any:
    from moto.ecs.models import ecs_backends

    return ecs_backends[account][region]


def _acm(account: str, region: str) -> Any:
    from moto.acm.models import acm_backends

    return acm_backends[account][region]


def _route53(account: str) -> Any:
    from moto.route53.models import route53_backends

    return route53_backends[account]["aws"]


def _role(account: str, name: str) -> Any:
    return next((r for r in _iam(account).roles.values() if r.name == name), None)


def _autoscaling(account: str, region: str) -> Any:
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    return applicationautoscaling_backends[account][region]


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


# -- installation ------------------------------------------------------------------------------
SERVICES = (
    "ec2",
    "elbv2",
    "acm",
    "iam",
    "ecs",
    "cloudwatch",
    "deployments",
    "autoscaling",
    "route53",
    "logs",
    "tasks",
    "s3",
    "ssm",
    "scheduler",
    "states",
    "jobs",
    "wafv2",
)


# One request at a time into moto. AWS answers each call atomically, whichever calls run at once;
# moto's backends are plain dicts and lists (OrderedDicts in ELBv2's) with no lock of their own, so
# a request that iterates one while another thread's request changes it fails -- "RuntimeError:
# OrderedDict mutated during iteration", seen during a destroy's concurrent deletions (moto is not
# thread-safe: getmoto/moto#372). ecsup's threads call moto in-process in the tests (mock_aws answers
# in botocore's before-send, in the calling thread) and through the sandbox's threaded server: both
# entries hold this lock while moto answers, and so does whatever else reads or changes moto's
# state outside a request (the sandbox's jobs ticker). Re-entrant: a handler's own calls into moto
# (in-process) take it again.
SERIAL = threading.RLock()


def _one_request_at_a_time() -> None:
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.core.utils import convert_to_flask_response

    def serialized(original: Callable[..., Any]) -> Callable[..., Any]:
        def answer(self: Any, *args: Any, **kwargs: Any) -> Any:
            with SERIAL:
                return original(self, *args, **kwargs)

        return answer

    # in-process (mock_aws, and `responses` for requests' calls) | the server's (each route's view)
    BotocoreStubber.process_request = serialized(BotocoreStubber.process_request)  # type: ignore[method-assign]
    convert_to_flask_response.__call__ = serialized(convert_to_flask_response.__call__)  # type: ignore[method-assign]


def install() -> None:
    """Patch moto's handlers once per process; with no active emulation they pass through. Each
    AWS service's behaviours live in a module of their own (emulation/<service>.py), which
    registers them here."""
    global _INSTALLED
    if _INSTALLED:
        return
    _INSTALLED = True
    _one_request_at_a_time()
    import importlib

    for name in SERVICES:
        importlib.import_module(f"{__name__}.{name}").install(_around)
