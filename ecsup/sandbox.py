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

from .errors import EcsupError

DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class SandboxUnavailable(EcsupError):
    pass


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
    """moto launches no tasks; in the sandbox a service reports its tasks running."""
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


@dataclass
class Sandbox:
    zone: str = "example.test"
    region: str = "eu-west-1"
    certificate_wait: int = 3
    port: int = 0
    delays: Any = None  # emulation.Delays; None: emulation.SANDBOX
    endpoint_url: str = ""
    zone_id: str = ""
    _server: Any = field(default=None, repr=False)

    def start(self) -> Sandbox:
        try:
            from moto import settings
            from moto.server import ThreadedMotoServer
        except ImportError as exc:
            raise SandboxUnavailable(
                f"the sandbox needs moto's server, which is not installed ({exc.name})",
                hint="pip install 'ecsup[sandbox]' (scripts/demo does this for you)",
            ) from None
        _isolate_environment()
        _services_report_running()
        from . import emulation

        # AWS's behaviours where moto is lenient (ecsup/emulation/), on the real clock with
        # short delays: what the tests check strictly, the sandbox shows.
        emulation.activate(emulation.Emulation(self.delays or emulation.SANDBOX))
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log on the user's terminal
        settings.ACM_VALIDATION_WAIT = self.certificate_wait  # certificates turn ISSUED after this many seconds
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self._seed()
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
        session.client("ec2", endpoint_url=self.endpoint_url).describe_vpcs()  # materialise the default VPC

    def stop(self) -> None:
        if self._server is not None:
            from . import emulation

            self._server.stop()
            self._server = None
            emulation.deactivate()

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
        }


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

[service.environment]
APP_ENV = "dev"

[service.secrets]
DB_PASSWORD = "/demo/dev/DB_PASSWORD"
'''
