"""Crash while making or deleting ecsup's own network ([network] shared): abort right before each
mutating call of the network -- the VPC's, its gateway's, subnets', routes', the network lock's and
the stack's membership marker -- of

1. the first create in an account without a default VPC, which makes the network;
2. the destroy of the last stack on it, which deletes it.

The network's calls are made one after another by its own step (the other steps' run beside it),
so the injector counts only those: the n-th is the same call in every run. After each crash the
next run converges, and the run after that makes no mutating call (create) or finds nothing left
(destroy)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Recorder, client
from moto import mock_aws, settings
from test_crash import Crash, _fresh_account
from test_own_network import web

from ecsup import engine
from ecsup.context import is_mutating
from ecsup.sandbox import remove_default_vpc

TEXT = web("ipv6 = true\n")
EC2_NETWORK = {
    "CreateVpc",
    "ModifyVpcAttribute",
    "AssociateVpcCidrBlock",
    "CreateInternetGateway",
    "AttachInternetGateway",
    "CreateSubnet",
    "AssociateSubnetCidrBlock",
    "ModifySubnetAttribute",
    "CreateRouteTable",
    "CreateRoute",
    "ReplaceRoute",
    "AssociateRouteTable",
    "DisassociateRouteTable",
    "DeleteSubnet",
    "DeleteRouteTable",
    "DetachInternetGateway",
    "DeleteInternetGateway",
    "DeleteVpc",
}


def _network_call(service: str, operation: str, params: dict[str, Any]) -> bool:
    if not is_mutating(operation):
        return False
    if service == "ec2":
        return operation in EC2_NETWORK
    return service == "ssm" and str(params.get("Name", "")).startswith("/ecsup/network/")


def _spy(seen: list[str]) -> Any:
    def spy(service: str, operation: str, params: dict[str, Any]) -> None:
        if _network_call(service, operation, params):
            seen.append(f"{operation} {params.get('Name', '')}".strip())

    return spy


def _crash_before(n: int, crashed_at: list[str]) -> Any:
    """Crash right before the network's n-th mutating call; from then on the process is dead:
    every call fails (no cleanup, e.g. releasing a lock -- like kill -9)."""
    state = {"n": 0, "dead": False}

    def inject(service: str, operation: str, params: dict[str, Any]) -> Any:
        if state["dead"]:
            raise Crash("dead process")
        if _network_call(service, operation, params):
            state["n"] += 1
            if state["n"] == n:
                state["dead"] = True
                crashed_at.append(f"{operation} {params.get('Name', '')}".strip())
                raise Crash(f"crash before the network's call #{n}: {operation}")
        return None

    return inject


def _bare_account() -> None:
    _fresh_account()
    remove_default_vpc(client("ec2"))


def _destroy(make_ctx: Any) -> engine.DestroyResult:
    ctx = make_ctx(TEXT)
    outcome = engine.plan_destroy(ctx)
    with engine.destroy_locked(ctx):
        return engine.destroy(ctx, outcome)


def _network() -> dict[str, int]:
    ec2 = client("ec2")
    return {
        "vpcs": len(ec2.describe_vpcs()["Vpcs"]),
        "subnets": len(ec2.describe_subnets()["Subnets"]),
        "gateways": len(ec2.describe_internet_gateways()["InternetGateways"]),
        "route tables": len(ec2.describe_route_tables()["RouteTables"]),
    }


def _network_params() -> list[str]:
    found = client("ssm").get_parameters_by_path(Path="/ecsup/network", Recursive=True)["Parameters"]
    return sorted(p["Name"] for p in found)


@pytest.fixture
def recorder(shared_clients: Any) -> Recorder:
    settings.ACM_VALIDATION_WAIT = 0
    rec = Recorder()
    shared_clients(rec)
    return rec


def test_making_the_network_converges_after_a_crash_before_each_of_its_calls(recorder, make_ctx):
    calls: list[str] = []
    with mock_aws():  # the network's calls in a full first create
        _bare_account()
        recorder.injectors = [_spy(calls)]
        engine.create(make_ctx(TEXT))
        recorder.injectors = []
        whole = _network()
    assert whole == {"vpcs": 1, "subnets": 3, "gateways": 1, "route tables": 2}
    assert {"CreateVpc", "CreateSubnet", "AttachInternetGateway", "CreateRoute", "AssociateRouteTable"} <= {
        c.split()[0] for c in calls
    }
    assert "PutParameter /ecsup/network/main/stacks/web-dev" in calls

    crashed_at: list[str] = []
    for n in range(1, len(calls) + 1):
        with mock_aws():
            _bare_account()
            recorder.injectors = [_crash_before(n, crashed_at)]
            with pytest.raises(Crash):
                engine.create(make_ctx(TEXT))
            recorder.injectors = []
            engine.create(make_ctx(TEXT))  # resume
            assert _network() == whole, f"after a crash before the network's call #{n} ({crashed_at[-1]})"
            # the dead run's network lock was taken over and released -- unless the crash hit its
            # release itself (the last call): nothing was left to change, and the next run that
            # changes the network takes the stale lock over (test_lock.py)
            left = ["/ecsup/network/main/lock"] if crashed_at[-1] == "DeleteParameter /ecsup/network/main/lock" else []
            assert _network_params() == [*left, "/ecsup/network/main/stacks/web-dev"], crashed_at[-1]
            service = client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"][0]
            assert service["runningCount"] == 1
            recorder.reset()
            engine.create(make_ctx(TEXT))  # converged: nothing left to do
            assert recorder.mutating() == [], f"after a crash before the network's call #{n} ({crashed_at[-1]})"
    assert crashed_at == calls  # every call of making the network was a crash point


def test_deleting_the_network_converges_after_a_crash_before_each_of_its_calls(recorder, make_ctx):
    calls: list[str] = []
    with mock_aws():  # the network's calls in the destroy of its last stack
        _bare_account()
        engine.create(make_ctx(TEXT))
        recorder.injectors = [_spy(calls)]
        assert _destroy(make_ctx).failed == []
        recorder.injectors = []
        assert _network() == {"vpcs": 0, "subnets": 0, "gateways": 0, "route tables": 0}
    assert {"DeleteSubnet", "DetachInternetGateway", "DeleteInternetGateway", "DeleteVpc"} <= {
        c.split()[0] for c in calls
    }

    crashed_at: list[str] = []
    for n in range(1, len(calls) + 1):
        with mock_aws():
            _bare_account()
            engine.create(make_ctx(TEXT))
            recorder.injectors = [_crash_before(n, crashed_at)]
            with pytest.raises(Crash):
                _destroy(make_ctx)
            recorder.injectors = []
            result = _destroy(make_ctx)  # resume
            assert result.failed == [] and result.left == [], f"after a crash before call #{n} ({crashed_at[-1]})"
            assert _network() == {"vpcs": 0, "subnets": 0, "gateways": 0, "route tables": 0}, crashed_at[-1]
            assert _network_params() == []
    assert crashed_at == calls  # every call of deleting the network was a crash point
