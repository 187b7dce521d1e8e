"""Queries over the write-sharded index on moto, and `imgclf reindex` for older items."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from classifier.adapters import DynamoResults
from classifier.contracts import (
    INDEX_PROJECTION,
    LABEL_REGISTRY_PK,
    LABEL_SHARD_ATTRIBUTE,
    Status,
    index_shard,
)
from classifier.model import Classification, Prediction
from classifier.results import ObjectFacts, classified_item, rejected_item
from imgclf import commands
from imgclf.deployment import Deployment
from imgclf.main import main as cli_main
from imgclf.reindex import reindex
from imgclf.result_queries import ColourQuery, query_results, registered_values
from infra.resources import StackOutputs, results_table_create_args

REGION = "us-east-1"
SHARDS = 4
START = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def aws(fake_aws: str) -> Iterator[SimpleNamespace]:
    """The results table on moto, created from the shared definition, found by the CLI."""
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name=REGION)
        dynamodb.create_table(**results_table_create_args("results"))
        yield SimpleNamespace(
            table=dynamodb.Table("results"), deployment=deployment(SHARDS), dynamodb=dynamodb
        )


def deployment(shards: int) -> Deployment:
    return Deployment(
        env="test",
        outputs={
            StackOutputs.IMAGES_BUCKET: "images",
            StackOutputs.RESULTS_TABLE: "results",
            StackOutputs.INDEX_SHARDS: str(shards),
        },
        region=REGION,
    )


def at(minute: int) -> str:
    return (START + timedelta(minutes=minute)).isoformat(timespec="milliseconds")[:-6] + "Z"


def classified(key: str, label: str, minute: int, shards: int = SHARDS) -> dict[str, Any]:
    """An item as the function builds it, classified `minute` minutes after START."""
    best = Prediction(label, 0.9)
    item = classified_item(
        ObjectFacts("images", key, f"etag-{key}", None, 100, at(minute)),
        classification=Classification(best=best, top_k=[best, Prediction("x", 0.1)], other=0),
        model_version="v1",
        width=8,
        height=8,
        latency_ms=1.0,
        tags="applied",
        index_shards=shards,
    )
    return {**item, "classified_at": at(minute)}


def rejected(key: str, minute: int) -> dict[str, Any]:
    item = rejected_item(
        ObjectFacts("images", key, f"etag-{key}", None, 0, at(minute)),
        reason="empty file (0 bytes)",
        model_version="v1",
        latency_ms=1.0,
        index_shards=SHARDS,
    )
    return {**item, "classified_at": at(minute)}


def write(aws: SimpleNamespace, items: list[dict[str, Any]], *, legacy: bool = False) -> None:
    """Write items as the function does (registering their index values first), or, with
    `legacy`, as a table from before the label registry holds them."""
    if not legacy:
        results = DynamoResults(aws.dynamodb, "results")
        for item in items:
            assert results.put(item)
        return
    with aws.table.batch_writer() as batch:
        for item in items:
            batch.put_item(Item=item)


@pytest.fixture
def labelled(aws: SimpleNamespace) -> dict[str, list[str]]:
    """39 red and 11 green images interleaved in time, and 6 rejects; keys by kind, newest
    first."""
    items: list[dict[str, Any]] = []
    kinds: dict[str, list[str]] = {"red": [], "green": [], "rejected": []}
    for minute in range(56):
        if minute % 8 == 3 and len(kinds["rejected"]) < 6:
            key, kind = f"bad/{minute}.jpg", "rejected"
            items.append(rejected(key, minute))
        elif minute % 5 == 0:
            key, kind = f"green/{minute}.jpg", "green"
            items.append(classified(key, "green", minute))
        else:
            key, kind = f"red/{minute}.jpg", "red"
            items.append(classified(key, "red", minute))
        kinds[kind].append(key)
    write(aws, items)
    return {kind: keys[::-1] for kind, keys in kinds.items()}


def test_a_label_query_merges_every_shard_newest_first(
    aws: SimpleNamespace, labelled: dict[str, list[str]]
) -> None:
    # Given red items spread over every shard of by_label
    red = labelled["red"]
    assert len(red) == 39
    assert set(Counter(index_shard(f"images/{key}", SHARDS) for key in red)) == set(range(SHARDS))
    # When the CLI asks for red, with pages of 2 items per Query (many pages per shard)
    found = query_results(aws.deployment, label="red", page_size=2)
    # Then every red item comes back, newest first, and nothing else
    assert [item["key"] for item in found] == red
    # And with a limit, the newest ones, whether pages are small or limit-sized
    assert [i["key"] for i in query_results(aws.deployment, label="red", limit=7)] == red[:7]
    paged = query_results(aws.deployment, label="red", limit=7, page_size=3)
    assert [item["key"] for item in paged] == red[:7]
    # And --since cuts on the sort key in every shard
    since = query_results(aws.deployment, label="red", since=at(40), page_size=2)
    assert [item["key"] for item in since] == [k for k in red if int(k[4:-4]) >= 40]


def test_status_queries_and_the_unfiltered_listing_cover_every_shard(
    aws: SimpleNamespace, labelled: dict[str, list[str]]
) -> None:
    everything = sorted(
        (key for keys in labelled.values() for key in keys),
        key=lambda key: -int(key.split("/")[1][:-4]),
    )
    # When the rejects, the classified and all are asked for, with small pages
    rejects = query_results(aws.deployment, status=Status.REJECTED, page_size=1)
    kept = query_results(aws.deployment, status=Status.CLASSIFIED, page_size=2)
    every = query_results(aws.deployment, page_size=3)
    # Then each is complete and newest first across the statuses' shards
    assert [item["key"] for item in rejects] == labelled["rejected"]
    assert len(kept) == 50 and all(item["status"] == "CLASSIFIED" for item in kept)
    assert [item["key"] for item in every] == everything
    assert [i["key"] for i in query_results(aws.deployment, limit=5)] == everything[:5]
    # And a label with a status is that label's partition, or nothing for the rejects
    greens = query_results(aws.deployment, label="green", status=Status.CLASSIFIED)
    assert [item["key"] for item in greens] == labelled["green"]
    assert query_results(aws.deployment, label="green", status=Status.REJECTED) == []
    # And the listings across labels asked exactly the registered values
    assert registered_values(aws.deployment) == ["!rejected", "green", "red"]


def test_a_colour_query_filters_every_label_on_the_dominant_colour(
    aws: SimpleNamespace,
) -> None:
    # Given navy, sky blue and white dominant colours across two labels, newest last
    colours = [("navy", "blue"), ("sky blue", "blue"), ("white", "white")]
    items = []
    for minute in range(12):
        name, family = colours[minute % 3]
        item = classified(f"c/{minute}.jpg", "red" if minute % 2 else "green", minute)
        items.append({**item, "colours": [{"name": name, "family": family}]})
    write(aws, items)
    # When blue, and then navy, are asked for across labels, and blue within one label
    blue = query_results(aws.deployment, colour=ColourQuery("blue"), page_size=2)
    navy = query_results(aws.deployment, colour=ColourQuery("blue", "navy"))
    green_blue = query_results(aws.deployment, label="green", colour=ColourQuery("blue"))
    # Then each is the matching items newest first, from every label's shards
    expect = [f"c/{m}.jpg" for m in range(11, -1, -1) if m % 3 != 2]
    assert [item["key"] for item in blue] == expect
    assert [item["key"] for item in navy] == [f"c/{m}.jpg" for m in range(11, -1, -1) if m % 3 == 0]
    assert [item["key"] for item in green_blue] == [k for k in expect if int(k[2:-4]) % 2 == 0]
    limited = query_results(aws.deployment, colour=ColourQuery("blue"), limit=3)
    assert [item["key"] for item in limited] == expect[:3]


def test_results_show_the_same_columns_from_the_projected_index(
    aws: SimpleNamespace,
    labelled: dict[str, list[str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(commands, "resolve", lambda env: aws.deployment)
    # Given an index that holds only the listed attributes (moto enforces the projection)
    from_index = query_results(aws.deployment, label="red", limit=1)[0]
    assert "top_k" not in from_index and "event_order" not in from_index
    assert set(from_index) <= {*INDEX_PROJECTION, "pk", "classified_at", LABEL_SHARD_ATTRIBUTE}
    # When the CLI prints JSON
    capsys.readouterr()
    assert cli_main(["results", "--label", "red", "--limit", "3", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    # Then each item is the whole item, as the table holds it, in the query's order
    assert [item["key"] for item in shown] == labelled["red"][:3]
    whole = aws.table.get_item(Key={"pk": "images/" + labelled["red"][0]})["Item"]
    assert set(shown[0]) == set(whole) and shown[0]["top_k"][0]["label"] == "red"
    # And the CSV's columns all come from the index
    assert cli_main(["results", "--status", "rejected", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[0].split(",")
    row = dict(zip(header, lines[1].split(","), strict=True))
    assert row["key"] == labelled["rejected"][0] and row["reason"] == "empty file (0 bytes)"
    assert row["etag"] == f"etag-{labelled['rejected'][0]}" and row["size"] == "0"


def test_reindex_finds_items_written_before_sharding_and_after_a_shard_count_change(
    aws: SimpleNamespace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given, in a table from before the label registry, 12 items written before the index was
    # sharded (no label_shard; a retired index's attribute instead), a reject from the
    # three-index table (status_shard only), and 12 written with 2 shards, while the stack
    # now says 4
    old = [classified(f"old/{m}.jpg", "red", m) for m in range(12)]
    for item in old:
        item.pop(LABEL_SHARD_ATTRIBUTE)
        item["colour_shard"] = "blue#0"
    reject = rejected("bad/0.jpg", 50)
    reject["status_shard"] = reject.pop(LABEL_SHARD_ATTRIBUTE).replace("!rejected", "REJECTED")
    two = [classified(f"two/{m}.jpg", "red", 100 + m, shards=2) for m in range(12)]
    write(aws, [*old, reject, *two], legacy=True)
    assert query_results(aws.deployment) == []  # nothing registered yet
    # Then the old ones are in no index, and the 2-shard ones are found (shards 0 and 1
    # are among 4); with 1 shard configured, those on shard 1 are hidden
    keys = {i["key"] for i in query_results(aws.deployment, label="red")}
    assert keys == {item["key"] for item in two}
    hidden = {i["key"] for i in query_results(deployment(1), label="red")}
    assert hidden < keys
    # When the operator counts, then reindexes
    moved = [i for i in two if index_shard(i["pk"], SHARDS) != index_shard(i["pk"], 2)]
    assert 0 < len(moved) < len(two)
    stale = len(old) + 1 + len(moved)
    monkeypatch.setattr(commands, "resolve", lambda env: aws.deployment)
    capsys.readouterr()
    assert cli_main(["reindex", "--dry-run"]) == 0
    assert f"would rewrite the index attributes of {stale} for 4 shards" in (
        capsys.readouterr().out
    )
    assert len(query_results(aws.deployment, label="red")) == 12  # a dry run writes nothing
    counted = reindex(aws.deployment, segments=3, page_size=5)
    # Then every item is found by label and by status, newest first, from the right shard
    assert (counted.scanned, counted.rewritten, counted.changed) == (25, stale, 0)
    assert counted.values == {"red", "!rejected"}
    assert registered_values(aws.deployment) == ["!rejected", "red"]
    expected = [item["key"] for item in (two[::-1] + old[::-1])]
    assert [i["key"] for i in query_results(aws.deployment, label="red")] == expected
    by_status = query_results(aws.deployment, status=Status.CLASSIFIED, page_size=4)
    assert [i["key"] for i in by_status] == expected
    assert [i["key"] for i in query_results(aws.deployment, status=Status.REJECTED)] == [
        "bad/0.jpg"
    ]
    stored = aws.table.get_item(Key={"pk": "images/old/3.jpg"})["Item"]
    assert stored[LABEL_SHARD_ATTRIBUTE] == f"red#{index_shard('images/old/3.jpg', SHARDS)}"
    assert "colour_shard" not in stored  # the retired indexes' attributes are removed
    assert "status_shard" not in aws.table.get_item(Key={"pk": "images/bad/0.jpg"})["Item"]
    # And a second pass has nothing left to do, and never treats the registry as a result
    again = reindex(aws.deployment)
    assert (again.rewritten, again.scanned) == (0, 25)
    assert LABEL_REGISTRY_PK not in {i["pk"] for i in query_results(aws.deployment)}


def test_reindex_leaves_an_item_rewritten_meanwhile_alone(
    aws: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an old item without shard attributes
    item = classified("k.jpg", "red", 1)
    item.pop(LABEL_SHARD_ATTRIBUTE)
    write(aws, [item], legacy=True)
    # When a newer event's result lands between the Scan and the update (simulated by
    # a scan that sees the old item while the table holds the new one)
    newer = classified("k.jpg", "green", 2, shards=2)
    client = aws.deployment.client("dynamodb")  # the deployment's own, cached client
    original = client.scan

    def scan_then_write(**arguments: Any) -> dict[str, Any]:
        page = original(**arguments)
        if page.get("Items"):
            aws.table.put_item(Item=newer)
        return dict(page)

    monkeypatch.setattr(client, "scan", scan_then_write)
    counted = reindex(aws.deployment, segments=1)
    # Then the update does not apply: the newer result keeps its own attributes
    assert (counted.rewritten, counted.changed) == (0, 1)
    stored = aws.table.get_item(Key={"pk": "images/k.jpg"})["Item"]
    assert stored["label"] == "green"
    assert stored[LABEL_SHARD_ATTRIBUTE] == newer[LABEL_SHARD_ATTRIBUTE]
