"""The embedded local AWS (moto's server on a loopback port, in this process).

Used by `ecsup demo` and `ecsup sandbox`. Everything talks to it through the
same code path as real AWS; only the endpoint and the (dummy) credentials differ.
moto is an optional extra: `pip install 'ecsup[sandbox]'`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from .errors import EXIT_CONFIG, EcsupError

DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
SANDBOX_ACCOUNT = "123456789012"  # moto's account for the dummy credentials
JOBS_TICK = 1.0  # seconds between the sandbox's looks at its schedules (emulation/jobs.py)
# `ecsup demo` shows a worker beside the web service and a scheduled job (its config's
# [workers.mailer] and [jobs.report], `run --job`, then `status`).
DEMO_JOB = True
DEMO_JOB_CONFIG = """
[workers.mailer]
# an ECS service beside the web one (no load balancer): its image, secrets and releases
command = ["sh", "-c", "echo mailer: waiting for mail to send; while true; do sleep 60; done"]
desired_count = 1
capacity = "FARGATE_SPOT"

[jobs.report]
# EventBridge Scheduler -> Step Functions -> a one-off task; rate() runs at once, then every minute
schedule = "rate(1 minute)"
command = ["sh", "-c", "echo report: 1042 orders, 3 without a status; sleep 1; exit 0"]
timeout = 300
expected_minutes = 1   # what `ecsup cost` prices a run at (default: the timeout)
"""


class SandboxUnavailable(EcsupError):
    """The ``sandbox`` extra is not installed: nothing was started (an installation to complete,
    as a usage error is one to correct: exit 2)."""

    exit_code = EXIT_CONFIG


# How to add the extra, for each way ecsup is installed: into the same environment (pip, a clone's
# venv), or into the tool's own (`uv tool install` replaces the installed tool; uvx runs one).
SANDBOX_INSTALL = (
    "pip install 'ecsup[sandbox]' (installed as a tool: uv tool install 'ecsup[sandbox]', "
    "pipx install --force 'ecsup[sandbox]', or uvx --from 'ecsup[sandbox]' ecsup demo)"
)


def require_moto() -> None:
    """The sandbox and the emulation need moto's server (the ``sandbox`` extra): say how to get
    it, in one line, before anything imports it (a plain ``pip install ecsup`` has no moto)."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        message = f"the sandbox needs moto's server, which is not installed: {SANDBOX_INSTALL}"
        raise SandboxUnavailable(message) from None


def _isolate_environment() -> None:
    """Make sure nothing in this process can reach real AWS or the metadata service."""
    for var in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        os.environ.pop(var, None)
    os.environ["AWS_ACCESS_KEY_ID"] = DUMMY_CREDENTIALS["aws_access_key_id"]
    os.environ["AWS_SECRET_ACCESS_KEY"] = DUMMY_CREDENTIALS["aws_secret_access_key"]
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    # moto: AWS managed policies exist (AmazonECSTaskExecutionRolePolicy)
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"


def _services_report_running() -> None:
    """moto launches no tasks; in the sandbox every task a service asks for will run. When they
    do is the emulation's (ecsup/emulation: PENDING for Delays.service_start, the deployment
    COMPLETED once its load balancer is active too)."""
    from moto.ecs import models

    if getattr(models.Service, "_ecsup_patched", False):
        return
    original = models.Service.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.running_count = self.desired_count
        self.pending_count = 0
        for deployment in self.deployments:
            deployment.update(runningCount=self.desired_count, pendingCount=0, rolloutState="COMPLETED")

    models.Service.__init__ = init  # type: ignore[method-assign]
    models.Service._ecsup_patched = True  # type: ignore[attr-defined]


def sandbox_delays(
    *,
    certificate_validation: float | None = None,
    load_balancer_provisioning: float | None = None,
    service_start: float | None = None,
    service_draining: float | None = None,
    eni_release: float | None = None,
) -> Any:
    """The sandbox's delays (emulation.SANDBOX) with the given ones changed, in seconds (None:
    the sandbox's own). ``service_start`` is also the start of the tasks of later deployments
    (Delays.task_start): one figure for "tasks take this long to start"."""
    from dataclasses import replace

    require_moto()
    from . import emulation

    changes = {
        "certificate_validation": certificate_validation,
        "load_balancer_provisioning": load_balancer_provisioning,
        "service_start": service_start,
        "task_start": service_start,
        "service_draining": service_draining,
        "eni_release": eni_release,
    }
    for name, value in changes.items():
        if value is not None and value < 0:
            raise EcsupError(f"the sandbox's {name.replace('_', ' ')} delay must be >= 0 seconds, not {value:g}")
    return replace(emulation.SANDBOX, **{k: float(v) for k, v in changes.items() if v is not None})


def describe_delays(delays: Any) -> str:
    """The delays a create or destroy waits out, as the sandbox's banner says them."""
    return (
        f"certificate validation {delays.certificate_validation:g} s, load balancer provisioning "
        f"{delays.load_balancer_provisioning:g} s, service start {delays.service_start:g} s, service draining "
        f"{delays.service_draining:g} s, network interface release {delays.eni_release:g} s"
    )


@dataclass
class Sandbox:
    zone: str = "example.test"
    region: str = "eu-west-1"
    # Deprecated: the certificate validation delay, in seconds (Delays.certificate_validation,
    # which it overrides when given). ACM issues a certificate that long after its validation
    # records appear in the zone, not after the request (moto's ACM_VALIDATION_WAIT is set to 0).
    certificate_wait: float | None = None
    port: int = 0
    delays: Any = None  # emulation.Delays; None: emulation.SANDBOX. start() sets the ones in effect.
    # The emulation's clock (a callable giving seconds); None: the real one. The acceptance kit runs
    # the sandbox on a virtual clock that its own waits move on (ecsup/acceptance/kit.py).
    clock: Any = None
    endpoint_url: str = ""
    zone_id: str = ""
    _server: Any = field(default=None, repr=False)
    _acm_wait: Any = field(default=None, repr=False)
    _iam_settle: str | None = field(default=None, repr=False)
    _log_quiet: str | None = field(default=None, repr=False)
    _ticker: Any = field(default=None, repr=False)
    # an account without a default VPC (as AWS Control Tower and most landing zones leave one)
    no_default_vpc: bool = False

    def start(self) -> Sandbox:
        require_moto()
        from moto import settings
        from moto.server import ThreadedMotoServer

        _isolate_environment()
        _services_report_running()
        from . import emulation

        # AWS's behaviours where moto is lenient (ecsup/emulation/), on the real clock with
        # short delays: what the tests check strictly, the sandbox shows.
        delays = self.delays or emulation.SANDBOX
        if self.certificate_wait is not None:
            from dataclasses import replace

            delays = replace(delays, certificate_validation=float(self.certificate_wait))
        self.delays = delays
        # ecsup's own wait for IAM sized to this sandbox's IAM, as it is to AWS's by default
        self._iam_settle = os.environ.get("ECSUP_IAM_SETTLE")
        os.environ["ECSUP_IAM_SETTLE"] = f"{iam_settle(delays):g}"
        # and its wait for a one-off task's last log lines, to this sandbox's log delivery
        self._log_quiet = os.environ.get("ECSUP_LOG_QUIET")
        os.environ["ECSUP_LOG_QUIET"] = f"{log_quiet(delays):g}"
        emulation.activate(
            emulation.Emulation(delays, clock=self.clock) if self.clock is not None else emulation.Emulation(delays)
        )
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log on the user's terminal
        # moto issues at once; the emulation holds a certificate PENDING_VALIDATION until its
        # records have been in the zone for delays.certificate_validation.
        self._acm_wait = settings.ACM_VALIDATION_WAIT
        settings.ACM_VALIDATION_WAIT = 0
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self._seed()
        self._ticker = _JobsTicker(self.region)
        self._ticker.start()
        return self

    def _seed(self) -> None:
        import boto3

        session = boto3.Session(region_name=self.region, aws_access_key_id="testing", aws_secret_access_key="testing")
        r53 = session.client("route53", endpoint_url=self.endpoint_url)
        zone = r53.create_hosted_zone(
            Name=self.zone,
            CallerReference=f"ecsup-sandbox-{self.zone}",
            HostedZoneConfig={"Comment": "ecsup sandbox", "PrivateZone": False},
        )
        self.zone_id = zone["HostedZone"]["Id"].split("/")[-1]
        ec2 = session.client("ec2", endpoint_url=self.endpoint_url)
        ec2.describe_vpcs()  # materialise the default VPC
        if self.no_default_vpc:
            remove_default_vpc(ec2)

    def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.halt()
            self._ticker = None
        if self._server is not None:
            from . import emulation

            self._server.stop()
            self._server = None
            emulation.deactivate()
            for variable, before in (("ECSUP_IAM_SETTLE", self._iam_settle), ("ECSUP_LOG_QUIET", self._log_quiet)):
                if before is None:
                    os.environ.pop(variable, None)
                else:
                    os.environ[variable] = before
            if self._acm_wait is not None:
                from moto import settings

                settings.ACM_VALIDATION_WAIT = self._acm_wait

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.stop()

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_EC2_METADATA_DISABLED": "true",
            "ECSUP_IAM_SETTLE": f"{iam_settle(self.delays or _sandbox_delays()):g}",
            "ECSUP_LOG_QUIET": f"{log_quiet(self.delays or _sandbox_delays()):g}",
        }


class _JobsTicker:
    """The sandbox's schedules fire on its clock even while nothing reads them: every JOBS_TICK
    seconds the emulation fires what came due and carries the executions on (emulation/jobs.py),
    so a due job's task starts then, as on AWS (its lines reach its log stream as it runs)."""

    def __init__(self, region: str) -> None:
        import threading

        self.region = region
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ecsup-sandbox-jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def halt(self) -> None:
        self._halt.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._halt.wait(JOBS_TICK):
            try:
                self.tick()
            except Exception:  # a half-made resource mid-request: the next tick sees it whole
                logging.getLogger(__name__).debug("sandbox jobs tick", exc_info=True)

    def tick(self) -> None:
        """One look: fire what came due, carry the executions to now."""
        from . import emulation
        from .emulation import jobs

        em = emulation.ACTIVE
        if em is not None:
            with emulation.SERIAL:  # moto's state, read and changed outside a request: one at a time
                jobs.advance(em, SANDBOX_ACCOUNT, self.region)


def remove_default_vpc(ec2: Any) -> list[str]:
    """Delete the region's default VPC and its parts, in AWS's order (subnets, the internet gateway
    detached then deleted, the VPC): an account as a landing zone leaves it. The VPC ids deleted."""
    gone = []
    for vpc in ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]:
        vpc_id = vpc["VpcId"]
        for subnet in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]:
            ec2.delete_subnet(SubnetId=subnet["SubnetId"])
        gateways = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])
        for igw in gateways["InternetGateways"]:
            ec2.detach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc_id)
            ec2.delete_internet_gateway(InternetGatewayId=igw["InternetGatewayId"])
        ec2.delete_vpc(VpcId=vpc_id)
        gone.append(vpc_id)
    return gone


def demo_delays() -> Any:
    """The sandbox's delays halved, for `ecsup demo`: it runs create, releases, a rollback and two
    stacks' joins and leaves in about a minute. The order of events, and so what is shown, is the
    same; only the waits are shorter."""
    from dataclasses import fields, replace

    require_moto()
    from . import emulation

    s = emulation.SANDBOX
    return replace(s, **{f.name: getattr(s, f.name) / 2 for f in fields(s)})


def _sandbox_delays() -> Any:
    from . import emulation

    return emulation.SANDBOX


def iam_settle(delays: Any) -> float:
    """How long ecsup lets a permission change settle against these delays: the same margin over
    IAM's delay as the default (5 s) keeps over the strict emulation's (4 s, emulation.STRICT)."""
    from . import emulation
    from .context import IAM_SETTLE

    return round(IAM_SETTLE * delays.iam_permissions / emulation.STRICT.iam_permissions, 2)


def log_quiet(delays: Any) -> float:
    """ecsup's wait for a one-off task's last log lines, scaled to this sandbox's log delivery as
    the default (5 s) is to the strict emulation's (emulation.STRICT.log_delivery)."""
    from . import emulation
    from .context import LOG_QUIET

    return round(LOG_QUIET * delays.log_delivery / emulation.STRICT.log_delivery, 2)


def shared_demo_config(app: str, zone: str, region: str) -> str:
    """A small stack on the demo's shared load balancer "edge", on ecsup's own dual-stack network
    "main" (ecsup demo's last part)."""
    return f'''# written by `ecsup demo`: {app} on the shared load balancer "edge"
app = "{app}"
env = "dev"
region = "{region}"

[dns]
zone = "{zone}"
hostname = "{app}.{zone}"

[load_balancer]
shared = "edge"

[network]
shared = "main"   # ecsup's own network, dual-stack: the first stack makes it, the last one out deletes it
ipv6 = true

[service]
image = "public.ecr.aws/nginx/nginx:stable"
desired_count = 1
'''


def demo_config(zone: str, region: str) -> str:
    return f'''# written by `ecsup demo` for the local sandbox
app = "demo"
env = "dev"
region = "{region}"

[dns]
zone = "{zone}"
hostname = "www.{zone}"
cloudfront_certificate = true

[service]
image = "public.ecr.aws/nginx/nginx:stable"
container_port = 80
cpu = 256
memory = 512
desired_count = 2
health_check_path = "/"

[service.deploy]
# run as a one-off task of each NEW revision before ECS rolls it out (the first create included)
before = ["sh", "-c", "echo Operations to perform: apply all migrations; echo Applying orders.0002_status... OK"]

[service.environment]
APP_ENV = "dev"

[service.secrets]
DB_PASSWORD = "/demo/dev/DB_PASSWORD"
''' + (DEMO_JOB_CONFIG if DEMO_JOB else "")
