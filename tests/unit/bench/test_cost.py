"""bench/cost.py's pure model: rounding rules, item sizes, request prices, capacity, last line.

bench/ is not a package; its `costmodel` package is imported from the bench directory.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from costmodel import capacity, cost_tables, host_cpu, photo_uploads, prices, pricing, usage  # noqa: E402
from costmodel.latency import AWS_LATENCY_MS, aws_latency_plan  # noqa: E402

from classifier.contracts import ShardedIndex  # noqa: E402

LAST_LINE = re.compile(r"^per 1M images: \$\d+\.\d{2} tags off, \$\d+\.\d{2} tags on$")


# --- rounding ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("seconds", "expected_ms"),
    [(0.1, 100), (0.1004, 101), (0.0000001, 1), (1.5, 1500), (0.0, 1)],
)
def test_billed_duration_rounds_up_to_the_next_millisecond(
    seconds: float, expected_ms: int
) -> None:
    # Given a handler wall time / Then Lambda's billed duration (1 ms granularity, >= 1 ms)
    assert pricing.billed_ms(seconds) == expected_ms


def test_gb_seconds_use_1024_mb_per_gb() -> None:
    assert pricing.gb_seconds(1000, 1769) == pytest.approx(1769 / 1024)
    assert pricing.gb_seconds(250, 2048) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("payload", "billed"), [(1, 1), (65_536, 1), (65_537, 2), (256 * 1024, 4), (0, 1)]
)
def test_sqs_bills_each_started_64_kb_chunk(payload: int, billed: int) -> None:
    assert pricing.sqs_billed_requests(payload) == billed


def test_read_units_are_per_4_kb_and_halved_when_eventually_consistent() -> None:
    assert pricing.read_units(4096) == 1.0
    assert pricing.read_units(4097) == 2.0
    assert pricing.read_units(100, consistent=False) == 0.5
    assert pricing.read_units(8192, consistent=False) == 1.0


# --- dollars -----------------------------------------------------------------------------
def test_each_request_class_is_priced_per_million_images() -> None:
    cost = pricing.cost_per_image(
        pricing.Usage(
            s3_put_class=1,
            s3_get_class=1,
            dynamodb_write_units=1,
            dynamodb_read_units=1,
            sqs_requests=1,
            lambda_invocations=0.1,
            lambda_billed_ms=100,
            memory_mb=1024,
            log_bytes=1024**3 / 1_000_000,
        )
    )
    million = {line: pricing.per_million(dollars) for line, dollars in cost.items()}
    assert million["S3 PUT-class requests"] == pytest.approx(5.00)
    assert million["S3 GET-class requests"] == pytest.approx(0.40)
    assert million["DynamoDB writes (on-demand)"] == pytest.approx(0.625)
    assert million["DynamoDB reads (on-demand)"] == pytest.approx(0.125)
    assert million["SQS requests"] == pytest.approx(0.40)
    assert million["Lambda requests"] == pytest.approx(0.02)
    assert million["Lambda duration (arm64)"] == pytest.approx(0.1 * 0.0000133334 * 1e6)
    assert million["CloudWatch Logs ingestion"] == pytest.approx(0.50)
    assert million["SSM GetParameter"] == 0.0  # standard throughput is free


def test_the_floor_is_one_get_one_message_one_write_and_one_tag_write() -> None:
    off = pricing.per_million(
        sum(pricing.cost_per_image(pricing.floor_usage(tags=False, message_bytes=1500)).values())
    )
    on = pricing.per_million(
        sum(pricing.cost_per_image(pricing.floor_usage(tags=True, message_bytes=1500)).values())
    )
    # SQS: send + a tenth of a receive and of a delete = 1.2 requests
    assert off == pytest.approx(0.40 + 1.2 * 0.40 + 0.625)
    assert on - off == pytest.approx(5.00)


def test_tag_storage_and_rekognition_prices() -> None:
    assert pricing.tag_storage_per_million_objects_month(3) == pytest.approx(3.00)
    assert pricing.rekognition_detect_labels_per_million() == pytest.approx(1000.0)
    assert pricing.custom_labels_per_million(5.0) == pytest.approx(1e6 / 5 / 3600 * 4.0)


def test_prices_are_dated() -> None:
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", prices.PRICES_READ_ON)


def test_last_line_reads_exactly() -> None:
    line = pricing.last_line(2.5, 7.999)
    assert line == "per 1M images: $2.50 tags off, $8.00 tags on"
    assert LAST_LINE.match(line)


# --- what a run measured -----------------------------------------------------------------
def measured(**changes: object) -> usage.Measured:
    index = ShardedIndex("by_status", "status_shard", "status", projection=())
    base: dict[str, object] = {
        "images": 20,
        "enqueued": 20,
        "attempts": {
            "s3.GetObject": 20,
            "s3.GetObjectTagging": 20,
            "s3.PutObjectTagging": 20,
            "s3.DeleteObjectTagging": 5,
            "dynamodb.GetItem": 40,
            "dynamodb.PutItem": 20,
        },
        "batches": [usage.Batch(10, 10, 0.5004), usage.Batch(10, 9, 0.25)],
        "body_bytes": [1500] * 20,
        "items": [
            {
                "pk": f"b/{i}",
                "status_shard": f"CLASSIFIED#{i % 4}",
                "classified_at": "2026-11-23T00:00:00.000Z",
                "blob": "x" * 1500,  # the table write is 2 units, the index entry 1
            }
            for i in range(20)
        ],
        "indexes": {
            index.name: index,
            "by_label": ShardedIndex("by_label", "label_shard", "label"),
        },
        "log_bytes": 0,
    }
    base.update(changes)
    return usage.Measured(**base)


def test_usage_per_image_from_a_run() -> None:
    run = measured()
    got = usage.usage_of(run, 1024)
    assert got.lambda_invocations == pytest.approx(2 / 20)
    assert got.lambda_billed_ms == pytest.approx((501 + 250) / 20)
    assert got.s3_get_class == 2.0 and got.s3_put_class == 1.0  # DELETEs are free
    assert got.dynamodb_read_units == 2.0
    # 2 units for the table's copy, 1 for the status index's entry (keys only), none for the
    # label index the items are not in (sparse)
    assert got.dynamodb_write_units == 3.0
    # one send per object, one receive and one delete per batch of 10
    assert got.sqs_requests == pytest.approx(1 + 2 / 20 + 2 / 20)
    assert got.log_bytes > 0  # Lambda's own START/END/REPORT lines


def test_moto_time_on_the_critical_path_is_taken_out() -> None:
    # Given a batch that took 1 s, its busiest thread 0.4 s of it waiting for moto's answers
    # Then 0.6 s remains: the injected AWS latency and the compute
    assert usage.Batch(10, 10, 1.0, 0.4, threads=8).aws_seconds() == pytest.approx(0.6)
    assert usage.Batch(10, 10, 0.3, 0.4).aws_seconds() == 0.0
    run = measured(batches=[usage.Batch(10, 10, 1.0, 0.4)])
    assert run.billed_ms() == [600] and run.billed_ms(local=True) == [1000]
    assert usage.usage_of(run, 1024).lambda_billed_ms == pytest.approx(600 / 20)
    assert usage.usage_of(run, 1024, local=True).lambda_billed_ms == pytest.approx(1000 / 20)


def test_index_shards_are_read_from_the_partition_values() -> None:
    assert usage.index_shards(measured()) == {"by_status": 4, "by_label": 1}


# --- capacity ----------------------------------------------------------------------------
def profile(**changes: object) -> capacity.Profile:
    base: dict[str, object] = {
        "s3_get_per_image": 2.0,
        "s3_put_per_image": 1.0,
        "ms_per_image": 20.0,
        "batch_seconds": 0.2,
        "table_write_units": 1.0,
        "table_read_units": 2.0,
        "index_write_units": {"by_status": 1.0},
        "index_shards": {"by_status": 1},
    }
    base.update(changes)
    return capacity.Profile(**base)


def test_a_limit_saturates_at_quota_over_demand() -> None:
    limit = capacity.Limit("x", quota=5_500, demand=2.0, setting="", source="")
    assert limit.max_rate == pytest.approx(2_750)
    assert limit.utilisation(1_000) == pytest.approx(1_000 * 2 / 5_500)


def test_the_binding_limit_and_the_backfill() -> None:
    rows = capacity.limits(profile(), capacity.Quotas(name="p", max_concurrency=50))
    first = capacity.binding(rows)
    # 50 concurrent executions at 20 ms per image: 2,500 images/s; an unsharded status index
    # takes every write on one key value: 1,000 write units per second bind first
    assert first.name.startswith("GSI by_status")
    assert first.max_rate == pytest.approx(1_000)
    assert capacity.backfill_hours(rows) == pytest.approx(100e6 / 1_000 / 3600)


def test_sharding_and_raised_quotas_move_the_binding_limit() -> None:
    # Given tags off (no tag writes) and a status index over 8 shards (8,000 images/s)
    sharded = profile(index_shards={"by_status": 8}, s3_put_per_image=0.0)
    default = capacity.Quotas(name="p", max_concurrency=50)
    rows = capacity.limits(sharded, default)
    # Then 50 executions at 20 ms per image bind first
    assert capacity.binding(rows).name == "ESM MaximumConcurrency"
    assert capacity.binding(rows).max_rate == pytest.approx(2_500)
    # And with every quota raised, 2 GETs per image over 10 prefixes bind at 27,500/s
    raised = capacity.raised(default, sharded, max_shards=64)
    assert raised.max_concurrency == 1_000 and raised.index_shards == {"by_status": 64}
    first = capacity.binding(capacity.limits(sharded, raised))
    assert first.name == "S3 GET/HEAD per prefix"
    assert first.max_rate == pytest.approx(27_500)


def test_ssm_rate_is_environments_over_the_refresh_interval() -> None:
    rows = capacity.limits(profile(), capacity.Quotas(name="p", max_concurrency=1000))
    ssm = next(row for row in rows if row.name.startswith("SSM"))
    # 1,000 images/s at 20 ms = 20 environments, each reading every 60 s
    assert ssm.utilisation(1_000) * ssm.quota == pytest.approx(20 / 60)


def test_ramps() -> None:
    quotas = capacity.Quotas(name="p", max_concurrency=1000)
    assert capacity.esm_ramp_minutes(profile(), 10_000, quotas) == pytest.approx(195 / 300)
    # 10,000 write units a second from a new table's 4,000: two doublings of 30 minutes
    assert capacity.dynamodb_ramp_minutes(profile(), 10_000) == 60
    assert capacity.dynamodb_ramp_minutes(profile(), 1_000) == 0
    assert math.isinf(capacity.Limit("x", 1, 0.0, "", "").max_rate)


# --- the latency plan --------------------------------------------------------------------
def test_the_latency_plan_only_adds_latency() -> None:
    plan = aws_latency_plan(seed=1)
    for (service, operation), (median, p99) in AWS_LATENCY_MS.items():
        rule = plan.faults_for(service, operation, None)
        assert rule is not None and rule.latency is not None
        assert (rule.latency.median_ms, rule.latency.p99_ms) == (median, p99)
        assert all(rule.probability(kind) == 0 for kind in ("throttle", "internal_error"))
        assert rule.probability("crash_after") == 0
    assert plan.delivery.duplicate == 0 and plan.delivery.delay == 0


# --- one vCPU, the label registry, item sizes (generic labels) ---------------------------
def test_billed_time_is_at_least_the_functions_cpu_time() -> None:
    # Given a batch whose 10 records overlapped on this machine's cores: 0.3 s of wall time
    # (moto's time out) but 0.5 s of the function's CPU
    batch = usage.Batch(10, 10, 0.4, 0.1, threads=10, cpu_seconds=0.5)
    # Then one vCPU could not have done it faster than its CPU time
    assert batch.one_vcpu_seconds() == pytest.approx(0.5)
    assert usage.Batch(10, 10, 0.4, 0.1, cpu_seconds=0.2).one_vcpu_seconds() == pytest.approx(0.3)
    run = measured(batches=[batch])
    assert run.billed_ms() == [500] and run.billed_ms(local=True) == [400]
    assert run.cpu_ms_per_image() == pytest.approx(500 / 20)


def test_the_registry_grows_value_by_value_and_is_priced_apart() -> None:
    values = [f"label-{i:03d}" for i in range(200)]  # 9 bytes each
    empty = usage.registry_bytes([])
    assert usage.registry_bytes(values) == empty + 200 * 9
    # The last 2 ADDs: the item after each is 1,800 bytes and 1,791 (+ key): 2 units each
    assert usage.registry_write_units(values, 2) == 4.0
    assert usage.registry_write_units(values[:3], 3) == 3.0  # all under 1 KB
    assert usage.registry_write_units(values, 0) == 0.0
    # Given a pass with 10 registry UpdateItems among its writes
    attempts = {"dynamodb.PutItem": 20, "dynamodb.UpdateItem": 10}
    run = measured(attempts=attempts, registry_writes=10, registry_values=values[:10])
    assert usage.item_writes(run) == 20
    # Then the totals leave them out (2 units for the item, 1 for its status index entry)
    assert usage.usage_of(run, 1024).dynamodb_write_units == pytest.approx(3.0)
    # And `registry` adds them at the registry's size (1 unit each, under 1 KB)
    with_registry = usage.usage_of(run, 1024, registry=True)
    assert with_registry.dynamodb_write_units == pytest.approx(3.0 + 10 / 20)


def test_item_sizes_of_a_run() -> None:
    items = [
        {
            "pk": "b/1",
            "label_shard": "dog#0",
            "classified_at": "t",
            "labels": {"dog": 0.9, "animal": 1},
            "blob": "x" * 1100,
        },
        {"pk": "b/2", "status_shard": "CLASSIFIED#1", "classified_at": "t"},
    ]
    sizes = usage.item_sizes(measured(items=items))
    assert sizes.items == 2 and sizes.max_bytes > 1024
    assert sizes.over_one_unit == 0.5
    assert sizes.mean_labels == 1.0  # 2 labels on one item, none on the other
    # labels: name 6 + map 3 + (1 + 3 + 2) + (1 + 6 + 2) bytes
    assert sizes.mean_labels_bytes == pytest.approx((6 + 3 + 6 + 9) / 2)
    # by_label holds the first item only (keys, no projected `blob`); by_status the second
    label_mean, _, label_over = sizes.index_entries["by_label"]
    assert label_over == 0.0 and label_mean < 100
    assert sizes.index_entries["by_status"][0] < 100


# --- the photo mix and the host ----------------------------------------------------------
def test_the_photo_mix_uses_every_photo_before_repeating_and_keys_are_distinct() -> None:
    photos = [Path(f"/p/{name}") for name in ("b.PNG", "a.jpg", "c.webp")]
    mix = photo_uploads.photo_mix(photos, 7, seed=0)
    assert sorted(mix[:3]) == sorted(photos) and mix[3:6] == mix[:3] and mix[6] == mix[0]
    assert photo_uploads.photo_mix(photos, 7, seed=0) == mix  # seeded
    keys = [key for key, _ in photo_uploads.photo_keys(mix)]
    assert len(set(keys)) == 7
    assert all(key.startswith(photo_uploads.IMAGE_PREFIX) for key in keys)
    assert keys[0].endswith(mix[0].stem + mix[0].suffix.lower())
    with pytest.raises(ValueError):
        photo_uploads.photo_mix([], 1, seed=0)


def test_the_host_cpu_is_read_from_lscpu_and_cpuinfo() -> None:
    text = "Architecture:  x86_64\nModel name:      AMD EPYC 9R14\nThread(s) per core: 1\n"
    assert host_cpu.lscpu_model(text) == "AMD EPYC 9R14"
    assert host_cpu.lscpu_model("Architecture: aarch64\n") == "unknown"
    flags = host_cpu.cpu_flags("processor : 0\nflags : fpu avx2 avx512_vnni\n")
    assert host_cpu.cpu_flag_text(flags) == "avx2 yes, avx512_vnni yes, avx_vnni no"
    assert "asimddp" in host_cpu.cpu_flags("Features : fp asimd asimddp\n")


def test_the_generic_goals_are_checked() -> None:
    lines = cost_tables.comparison_lines(3.30, 8.20, 1.5, 6.5, 5.0, goals=(3.25, 8.25))
    assert lines[-1] == ("  goal tags off <= $3.25: NOT met ($3.30); tags on <= $8.25: met ($8.20)")


def test_an_extra_index_entry_is_a_write_unit_per_started_kb_for_its_share() -> None:
    assert pricing.index_entry_per_million(700) == pytest.approx(0.625)
    assert pricing.index_entry_per_million(1025) == pytest.approx(1.25)
    assert pricing.index_entry_per_million(700, share=0.2) == pytest.approx(0.125)
