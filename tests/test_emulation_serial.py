"""moto answers one request at a time (ecsup/emulation SERIAL): AWS answers each call atomically,
while moto's backends have no lock of their own -- a destroy's concurrent deletions once met
"RuntimeError: OrderedDict mutated during iteration" in them. Both ways ecsup reaches moto: in
process (the tests' mock_aws) and the sandbox's threaded server."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from conftest import REGION, client
from moto import mock_aws


@pytest.fixture(params=["in-process", "server"])
def elbv2(request: pytest.FixtureRequest) -> Iterator[Callable[[], Any]]:
    """A maker of ELBv2 clients reaching moto one way or the other."""
    if request.param == "in-process":
        with mock_aws():
            yield lambda: client("elbv2")
        return
    from moto.server import ThreadedMotoServer

    srv = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    srv.start()
    host, port = srv.get_host_and_port()
    session = boto3.Session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    try:
        yield lambda: session.client("elbv2", endpoint_url=f"http://{host}:{port}")
    finally:
        srv.stop()


def test_a_request_waits_for_the_one_moto_is_answering(
    elbv2: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """While moto answers a DescribeTargetGroups (iterating its target groups), a CreateTargetGroup
    sent from another thread is answered only after it."""
    from moto.elbv2.models import ELBv2Backend

    events: list[str] = []
    others: list[threading.Thread] = []
    describe, create = ELBv2Backend.describe_target_groups, ELBv2Backend.create_target_group
    elb = elbv2()

    def create_another() -> None:
        elbv2().create_target_group(Name="another", Protocol="HTTP", Port=80, TargetType="ip", VpcId=vpc)

    def describing(self: Any, *args: Any, **kwargs: Any) -> Any:
        events.append("describe starts")
        other = threading.Thread(target=create_another, daemon=True)
        others.append(other)
        other.start()
        other.join(timeout=0.3)  # unserialized, the other request is answered meanwhile
        events.append("describe ends")
        return describe(self, *args, **kwargs)

    def creating(self: Any, *args: Any, **kwargs: Any) -> Any:
        events.append("create")
        return create(self, *args, **kwargs)

    vpc = _default_vpc(elb)
    monkeypatch.setattr(ELBv2Backend, "describe_target_groups", describing)
    monkeypatch.setattr(ELBv2Backend, "create_target_group", creating)
    assert elb.describe_target_groups()["TargetGroups"] == []
    for other in others:
        other.join(timeout=30)
    assert events == ["describe starts", "describe ends", "create"]
    monkeypatch.undo()
    assert [tg["TargetGroupName"] for tg in elb.describe_target_groups()["TargetGroups"]] == ["another"]


def _default_vpc(elb: Any) -> str:
    """The default VPC of the account elb reaches (its EC2 at the same endpoint)."""
    ec2 = boto3.Session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing").client(
        "ec2", endpoint_url=elb.meta.endpoint_url if "127.0.0.1" in elb.meta.endpoint_url else None
    )
    (vpc,) = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    return str(vpc["VpcId"])
