"""Fault plans and the injector on real botocore clients: parsing, determinism, retry path."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from infra.local.faults import FaultInjector, FaultPlan, FaultPlanError, Latency, WorkerCrash

REPO = Path(__file__).resolve().parents[3]
CHAOS_FILE = REPO / "docs" / "faults" / "chaos.json"


def client(service: str, injector: FaultInjector, attempts: int = 1) -> Any:
    """A client whose every call the plan answers (no request leaves the process)."""
    made = boto3.session.Session(
        aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
    ).client(
        service,
        endpoint_url="http://127.0.0.1:9",  # nothing listens: a call that got through would fail
        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}),
    )
    injector.install(made.meta.events)
    return made


def always(service: str, **kinds: float) -> FaultPlan:
    return FaultPlan.from_dict({"seed": 3, "calls": [{"service": service, **kinds}]})


def codes(made: Any, calls: int, operation: str, **params: object) -> list[str]:
    seen = []
    for _ in range(calls):
        with pytest.raises(ClientError) as caught:
            getattr(made, operation)(**params)
        seen.append(caught.value.response["Error"]["Code"])
    return seen


def test_throttling_is_answered_as_each_service_answers_it() -> None:
    # Given plans that throttle every call
    s3 = client("s3", FaultInjector(always("s3", throttle=1)))
    dynamodb = client("dynamodb", FaultInjector(always("dynamodb", throttle=1)))
    # Then S3 says SlowDown (503), DynamoDB one of its two throttling errors
    assert set(codes(s3, 3, "get_object", Bucket="b", Key="k")) == {"SlowDown"}
    assert set(codes(dynamodb, 20, "get_item", TableName="t", Key={"pk": {"S": "x"}})) == {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
    }


def test_faults_go_through_botocores_retries() -> None:
    # Given a throttled client allowed 3 attempts
    injector = FaultInjector(always("dynamodb", internal_error=1))
    dynamodb = client("dynamodb", injector, attempts=3)
    # When one call is made, it fails after botocore retried it
    with pytest.raises(ClientError) as caught:
        dynamodb.get_item(TableName="t", Key={"pk": {"S": "x"}})
    assert caught.value.response["Error"]["Code"] == "InternalServerError"
    assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 2
    assert injector.journal.attempts() == {"dynamodb.GetItem": 3}
    assert injector.counts() == {"internal_error": 3}


def test_the_same_seed_replays_the_same_faults() -> None:
    plan = {"calls": [{"service": "s3", "throttle": 0.5, "internal_error": 0.5}]}

    def run(seed: int) -> list[str]:
        made = client("s3", FaultInjector(FaultPlan.from_dict({**plan, "seed": seed})))
        return codes(made, 30, "get_object", Bucket="b", Key="k")

    assert run(1) == run(1)
    assert run(1) != run(2)
    assert set(run(1)) == {"SlowDown", "InternalError"}


def test_lifting_the_faults_lets_calls_through() -> None:
    injector = FaultInjector(always("s3", throttle=1))
    made = client("s3", injector)
    injector.lift()
    with pytest.raises(Exception) as caught:  # the call reached the (absent) endpoint
        made.get_object(Bucket="b", Key="k")
    assert "Could not connect" in str(caught.value)


def test_key_prefix_rules_override_earlier_rules() -> None:
    plan = FaultPlan.from_dict({"calls": [
        {"service": "s3", "throttle": 0.3, "latency": {"median_ms": 5, "p99_ms": 50}},
        {"service": "s3", "operation": "GetObject", "key_prefix": "poison/",
         "internal_error": 1, "throttle": 0},
    ]})  # fmt: skip
    poison = plan.faults_for("s3", "GetObject", "poison/a.jpg")
    plain = plan.faults_for("s3", "GetObject", "cats/a.jpg")
    assert poison is not None and plain is not None
    assert (poison.probability("internal_error"), poison.probability("throttle")) == (1.0, 0.0)
    assert poison.latency == Latency(5, 50)  # inherited
    assert plain.probability("throttle") == 0.3 and plain.probability("internal_error") == 0
    assert plan.faults_for("dynamodb", "PutItem", None) is None


def test_latency_draws_follow_the_median_and_99th_percentile() -> None:
    latency = Latency(median_ms=10, p99_ms=100)
    assert latency.draw_ms(0.5) == pytest.approx(10)
    assert latency.draw_ms(0.99) == pytest.approx(100, rel=1e-6)
    assert latency.draw_ms(0.01) == pytest.approx(1, rel=1e-6)


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ([], "a fault plan is a JSON object"),
        ({"seeds": 1}, "fault plan: unknown field(s) seeds"),
        ({"calls": [{"throttle": 1.5}]}, "calls[0].throttle must be a probability 0..1"),
        ({"calls": [{"throttle": 0.6, "internal_error": 0.6}]}, "add up to more than 1"),
        ({"calls": [{"latency": {"median_ms": 50, "p99_ms": 5}}]}, "median_ms <= p99_ms"),
        ({"delivery": {"max_delay_seconds": 901}}, "0..900"),
        # a DynamoDB rule under a key prefix was accepted and never fired
        (
            {"calls": [{"service": "dynamodb", "key_prefix": "poison/", "internal_error": 1}]},
            'calls[0].key_prefix applies to S3 calls only: add "service": "s3"',
        ),
        ({"calls": [{"key_prefix": "poison/"}]}, "key_prefix applies to S3 calls only"),
    ],
)
def test_a_bad_plan_is_refused_in_one_line(plan: object, message: str) -> None:
    with pytest.raises(FaultPlanError, match=re.escape(message)):
        FaultPlan.from_dict(plan)


def test_the_documented_chaos_plan_is_the_soaks_plan(tmp_path: Path) -> None:
    # The example in docs/faults/ is what FaultPlan.chaos() builds, and loads back the same.
    assert json.loads(CHAOS_FILE.read_text()) == FaultPlan.chaos(seed=0).to_dict()
    assert FaultPlan.load(CHAOS_FILE) == FaultPlan.chaos(seed=0)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(FaultPlanError, match="is not JSON"):
        FaultPlan.load(bad)


def test_a_crash_rule_with_a_key_prefix_crashes_after_those_keys_only() -> None:
    # A crash_after rule under key_prefix never fired: the after-call hook looked the rule
    # up with no key, and the stop summary said "no crashes" for a plan that asked for them
    plan = FaultPlan.from_dict({"seed": 1, "calls": [
        {"service": "s3", "operation": "GetObject", "key_prefix": "crash/", "crash_after": 1},
    ]})  # fmt: skip
    injector = FaultInjector(plan)
    made = client("s3", injector)
    with Stubber(made) as stub:
        for _ in range(2):
            stub.add_response("get_object", {}, {"Bucket": "b", "Key": ANY})
        made.get_object(Bucket="b", Key="cats/a.jpg")
        with pytest.raises(WorkerCrash):
            made.get_object(Bucket="b", Key="crash/a.jpg")
    assert injector.counts() == {"crash": 1}
