"""`--label WORD` at any level, `imgclf labels` and `--format detect-labels` on moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator
from moto import mock_aws

from classifier.adapters import DynamoResults
from classifier.contracts import shard_attributes
from classifier.model import Classification, Prediction
from classifier.results import ObjectFacts, classified_item, rejected_item
from imgclf import commands, labels, models
from imgclf.deployment import Deployment
from imgclf.errors import CliError
from imgclf.main import main as cli_main
from imgclf.result_queries import query_page
from infra.resources import StackOutputs, results_table_create_args
from tests.fixtures.hierarchy import small_hierarchy

REGION = "us-east-1"
SHARDS = 4
START = datetime(2026, 12, 1, tzinfo=UTC)
DETECT_LABELS = (
    botocore.session.get_session().get_service_model("rekognition").operation_model("DetectLabels")
)


def at(minute: int) -> str:
    return (START + timedelta(minutes=minute)).isoformat(timespec="milliseconds")[:-6] + "Z"


def generic(
    key: str, minute: int, label: str, second: str | None = None, **confidences: float
) -> dict[str, Any]:
    """An item of a generic model: `label` its most specific label, `second` that of its
    second branch (if any), `labels` the rest."""
    best = Prediction(label, confidences.get(label.replace(" ", "_"), 0.9))
    item = classified_item(
        ObjectFacts("images", key, f"etag-{key}", None, 100, at(minute)),
        classification=Classification(best=best, top_k=[], other=0, second=second),
        model_version="generic-v1",
        width=8,
        height=8,
        latency_ms=1.0,
        tags="applied",
        index_shards=SHARDS,
    )
    item["labels"] = {n.replace("_", " "): Decimal(str(c)) for n, c in confidences.items()}
    item["quality"] = {"brightness": 50, "sharpness": 60, "contrast": 30}
    item["colours"] = [
        {
            "name": "tan",
            "family": "brown",
            "lab": [Decimal("74.9"), 5, Decimal("24.4")],
            "fraction": Decimal("0.6"),
        }
    ]
    return {**item, "classified_at": at(minute), **shard_attributes(item, SHARDS)}


ITEMS = [
    generic(
        "rex.jpg",
        1,
        "golden retriever",
        golden_retriever=0.61,
        retriever=0.7,
        dog=0.97,
        mammal=0.98,
        animal=0.99,
    ),
    generic("spot.jpg", 2, "dalmatian", dalmatian=0.55, dog=0.6, mammal=0.7, animal=0.8),
    generic("tom.jpg", 3, "tabby cat", tabby_cat=0.7, cat=0.8, mammal=0.9, animal=0.95),
    generic("daisy.jpg", 4, "daisy", daisy=0.9, plant=0.95),
    generic(
        "old.jpg",
        5,
        "golden retriever",
        golden_retriever=0.8,
        retriever=0.85,
        dog=0.9,
        mammal=0.92,
        animal=0.93,
    ),
]


@pytest.fixture
def cli(fake_aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """The results table on moto holding ITEMS and a reject, found by the CLI, with the small
    hand-made hierarchy as the CLI's."""
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name=REGION)
        dynamodb.create_table(**results_table_create_args("results"))
        results = DynamoResults(dynamodb, "results")
        reject = rejected_item(
            ObjectFacts("images", "bad.png", "etag-bad", None, 0, at(6)),
            reason="empty file (0 bytes)",
            model_version="generic-v1",
            latency_ms=1.0,
            index_shards=SHARDS,
        )
        for item in [*ITEMS, {**reject, "classified_at": at(6)}]:
            assert results.put(item)
        yield SimpleNamespace(deployment=cli_deployment("results", monkeypatch), results=results)


def cli_deployment(table: str, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    """The deployment every CLI command resolves: `table` on moto, and the small hand-made
    hierarchy as the CLI's."""
    deployment = Deployment(
        env="test",
        outputs={
            StackOutputs.IMAGES_BUCKET: "images",
            StackOutputs.RESULTS_TABLE: table,
            StackOutputs.INDEX_SHARDS: str(SHARDS),
        },
        region=REGION,
    )
    monkeypatch.setattr(commands, "resolve", lambda env: deployment)
    monkeypatch.setattr(labels, "hierarchy", small_hierarchy)
    return deployment


def keys(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    capsys.readouterr()
    assert cli_main(["results", *argv, "--format", "json"]) == 0
    return [item["key"] for item in json.loads(capsys.readouterr().out)]


def test_a_label_query_finds_every_label_under_the_word(
    cli: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    # When dog, animal, an alias and a name in another case are asked for
    # Then each finds the items whose label is the word or under it, newest first
    assert keys(capsys, "--label", "dog") == ["old.jpg", "spot.jpg", "rex.jpg"]
    assert keys(capsys, "--label", "animal") == ["old.jpg", "tom.jpg", "spot.jpg", "rex.jpg"]
    assert keys(capsys, "--label", "coach dog") == ["spot.jpg"]
    assert keys(capsys, "--label", "Dogs") == ["old.jpg", "spot.jpg", "rex.jpg"]  # a plural
    assert keys(capsys, "--label", "Golden Retriever") == ["old.jpg", "rex.jpg"]
    assert keys(capsys, "--label", "flora") == ["daisy.jpg"]
    assert keys(capsys, "--label", "n-dog") == ["old.jpg", "spot.jpg", "rex.jpg"]  # a node id
    # DetectLabels' categories, in any case
    assert keys(capsys, "--label", "animals and pets") == [
        *("old.jpg", "tom.jpg", "spot.jpg", "rex.jpg"),
    ]
    assert keys(capsys, "--label", "Plants and Flowers") == ["daisy.jpg"]
    # And a word too general to be a label (hidden "carnivore") reads the labels under it, its
    # confidence the most confident of them (dog 0.97 and 0.9; cat 0.8; dog 0.6)
    assert keys(capsys, "--label", "carnivore") == ["old.jpg", "tom.jpg", "spot.jpg", "rex.jpg"]
    carnivores = keys(capsys, "--label", "carnivore", "--min-confidence", "0.85")
    assert carnivores == ["old.jpg", "rex.jpg"]
    # And --min-confidence compares the word's own confidence, with --limit and --since
    assert keys(capsys, "--label", "dog", "--min-confidence", "0.9") == ["old.jpg", "rex.jpg"]
    assert keys(capsys, "--label", "dog", "--min-confidence", "0.9", "--limit", "1") == ["old.jpg"]
    assert keys(capsys, "--label", "animal", "--since", at(3)) == ["old.jpg", "tom.jpg"]
    assert keys(capsys, "--label", "dog", "--status", "rejected") == []
    # And the table shows them
    capsys.readouterr()
    assert cli_main(["results", "--label", "dog"]) == 0
    table = capsys.readouterr().out
    assert "3 results in test" in table and "dalmatian" in table and "tabby" not in table
    # And its title says which node the word was taken to mean, with the id to ask it by
    assert "for 'dog', dog (n-dog)" in table.replace("\n", " ")


def test_an_image_of_two_things_is_found_under_each_of_them_once(
    cli: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a cat among daisies: its label the tabby, its second label the daisy
    garden = generic(
        "garden.jpg",
        7,
        "tabby cat",
        second="daisy",
        tabby_cat=0.45,
        cat=0.46,
        mammal=0.5,
        animal=0.52,
        daisy=0.38,
        plant=0.4,
    )
    assert cli.results.put(garden)
    # Then a query for either thing, at any level, finds it, newest first
    assert keys(capsys, "--label", "daisy") == ["garden.jpg", "daisy.jpg"]
    assert keys(capsys, "--label", "flora") == ["garden.jpg", "daisy.jpg"]
    assert keys(capsys, "--label", "cat") == ["garden.jpg", "tom.jpg"]
    # And once, where both of its labels sit under the word
    assert keys(capsys, "--label", "animal") == [
        "garden.jpg",
        "old.jpg",
        "tom.jpg",
        "spot.jpg",
        "rex.jpg",
    ]
    # And --min-confidence compares the second thing's own confidence
    assert keys(capsys, "--label", "plant", "--min-confidence", "0.39") == [
        "garden.jpg",
        "daisy.jpg",
    ]
    assert keys(capsys, "--label", "daisy", "--min-confidence", "0.39") == ["daisy.jpg"]
    # And the listing of everything shows it once
    assert keys(capsys).count("garden.jpg") == 1
    # And `imgclf labels` counts it under each of its labels
    assert cli_main(["labels", "--format", "json"]) == 0
    rows = {row["label"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["daisy"] == {"label": "daisy", "count": 2, "direct": 2}
    assert rows["tabby cat"]["direct"] == 2


def test_labels_counts_an_item_once_where_both_of_its_labels_sit_under_a_word(
    cli: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a dog beside a cat, its labels under one mammal: second_thing never writes such a
    # pair, but an item written by hand, or under a hierarchy edited since, can hold one
    pets = generic(
        "pets.jpg",
        7,
        "golden retriever",
        second="tabby cat",
        golden_retriever=0.5,
        tabby_cat=0.4,
        mammal=0.95,
        animal=0.97,
    )
    assert cli.results.put(pets)
    # Then `imgclf labels` counts it under each of its labels, and once above both
    capsys.readouterr()
    assert cli_main(["labels", "--format", "json"]) == 0
    rows = {row["label"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["golden retriever"] == {"label": "golden retriever", "count": 3, "direct": 3}
    assert rows["tabby cat"] == {"label": "tabby cat", "count": 2, "direct": 2}
    assert rows["dog"]["count"] == 4 and rows["cat"]["count"] == 2
    assert rows["mammal"]["count"] == 5 and rows["animal"]["count"] == 5
    # And so do the trees, under a label and under a word too general to be one
    assert cli_main(["labels", "--tree", "mammal"]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == ["mammal  5", "  dog  4"]
    assert cli_main(["labels", "--tree", "carnivore"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "carnivore  5"
    assert cli_main(["labels", "--tree", "entity"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "entity  6"
    # As the query lists it: once
    assert keys(capsys, "--label", "carnivore").count("pets.jpg") == 1


def test_a_label_of_the_live_model_with_no_results_yet_is_no_error(
    cli: SimpleNamespace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a live model whose own label nothing carries yet (status lists it at 0)
    monkeypatch.setattr(models, "live_labels", lambda _: ("Monuments",))
    capsys.readouterr()
    # When it is asked for, in any case, then no result, not "no label 'monuments'"
    assert cli_main(["results", "--label", "monuments", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    # And a word that is no label still fails
    assert cli_main(["results", "--label", "florp"]) == 1


def test_an_unknown_word_fails_in_one_line_with_a_suggestion(
    cli: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert cli_main(["results", "--label", "florp"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "imgclf: error: no label 'florp' (did you mean: plant)\n"
    # An empty word is not "every label"
    assert cli_main(["results", "--label", " "]) == 1
    assert capsys.readouterr().err == (
        "imgclf: error: --label needs a word (a label at any level, e.g. dog or animal)\n"
    )
    # Nor is an empty tree the whole table
    assert cli_main(["labels", "--tree", ""]) == 1
    assert capsys.readouterr().err == (
        "imgclf: error: --tree needs a word (a label at any level, e.g. dog or animal)\n"
    )


def test_a_table_deployed_before_the_second_label_index_says_to_deploy(
    fake_aws: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a results table made by an older stack: by_label only
    arguments = results_table_create_args("old-results")
    arguments["GlobalSecondaryIndexes"] = arguments["GlobalSecondaryIndexes"][:1]
    kept = {arguments["GlobalSecondaryIndexes"][0]["IndexName"]}
    used = {k["AttributeName"] for k in arguments["KeySchema"]} | {
        k["AttributeName"]
        for index in arguments["GlobalSecondaryIndexes"]
        if index["IndexName"] in kept
        for k in index["KeySchema"]
    }
    arguments["AttributeDefinitions"] = [
        a for a in arguments["AttributeDefinitions"] if a["AttributeName"] in used
    ]
    with mock_aws():
        boto3.client("dynamodb", region_name=REGION).create_table(**arguments)
        old = DynamoResults(boto3.resource("dynamodb", region_name=REGION), "old-results")
        assert all(old.put(item) for item in ITEMS)
        cli_deployment("old-results", monkeypatch)
        # When a label query and the label counts ask both indexes
        # Then each fails in one line that says to deploy, never DynamoDB's message
        for argv in (["results", "--label", "dog"], ["labels"]):
            capsys.readouterr()
            assert cli_main(argv) == 1
            err = capsys.readouterr().err
            assert err.count("\n") == 1, err
            assert "has no index by_second_label" in err and "deploy it first" in err, err
        # And a listing of everything (by_label only) still works
        assert cli_main(["results", "--format", "json"]) == 0
        assert len(json.loads(capsys.readouterr().out)) == len(ITEMS)


def test_dynamodbs_own_wording_of_a_missing_index_says_to_deploy_too() -> None:
    # DynamoDB says ValidationException where moto says ResourceNotFoundException
    class Table:
        def query(self, **arguments: Any) -> dict[str, Any]:
            message = f"The table does not have the specified index: {arguments['IndexName']}"
            error = {"Error": {"Code": "ValidationException", "Message": message}}
            raise ClientError(error, "Query")

    arguments = {"TableName": "results", "IndexName": "by_second_label"}
    with pytest.raises(CliError, match="has no index by_second_label: .* deploy it first"):
        query_page(Table(), arguments)
    # Any other failure is DynamoDB's own
    with pytest.raises(ClientError):
        query_page(Table(), {**arguments, "IndexName": ""})


def test_labels_counts_every_level_and_shows_a_tree(
    cli: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert cli_main(["labels", "--format", "json"]) == 0
    rows = {row["label"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["animal"] == {"label": "animal", "count": 4, "direct": 0}
    assert rows["dog"]["count"] == 3 and rows["golden retriever"]["direct"] == 2
    assert rows["plant"]["count"] == 1 and "!rejected" not in rows
    assert cli_main(["labels", "--tree", "mammal"]) == 0
    tree = capsys.readouterr().out.splitlines()
    assert tree == [
        "mammal  4",
        "  dog  3",
        "    retriever  2",
        "      golden retriever  2",
        "    dalmatian  1",
        "  cat  1",
        "    tabby cat  1",
    ]
    assert cli_main(["labels"]) == 0
    assert "10 labels in test" in capsys.readouterr().out


def test_detect_labels_format_is_rekognitions_response(
    cli: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert cli_main(["results", "--format", "detect-labels"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # Then one line per classified item (the reject is skipped), each a DetectLabels response
    assert [line["Image"]["S3Object"]["Name"] for line in lines] == [
        "old.jpg",
        "daisy.jpg",
        "tom.jpg",
        "spot.jpg",
        "rex.jpg",
    ]
    for line in lines:
        line.pop("Image")
        report = ParamValidator().validate(line, DETECT_LABELS.output_shape)
        assert not report.has_errors(), report.generate_report()
    rex = lines[-1]
    assert rex["Labels"][-1]["Name"] == "Golden Retriever"
    assert rex["ImageProperties"]["Quality"]["Sharpness"] == 60.0
    # And one result is one response; a rejected one fails in one line
    assert cli_main(["result", "rex.jpg", "--format", "detect-labels"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert one["Labels"][0] == {
        "Name": "Animal",
        "Confidence": 99.0,
        "Instances": [],
        "Parents": [],
        "Aliases": [{"Name": "Creature"}, {"Name": "Fauna"}],
        "Categories": [{"Name": "Animals and Pets"}],
    }
    assert cli_main(["result", "bad.png", "--format", "detect-labels"]) == 1
    assert "'bad.png' was rejected: empty file (0 bytes)" in capsys.readouterr().err
    # And --limit counts responses: the rejects are left out before it (it gave fewer lines)
    for limit in range(1, 6):
        assert cli_main(["results", "--limit", str(limit), "--format", "detect-labels"]) == 0
        assert len(capsys.readouterr().out.splitlines()) == limit
    assert cli_main(["results", "--status", "rejected", "--format", "detect-labels"]) == 1
    assert "no response for REJECTED items" in capsys.readouterr().err
    assert cli_main(["results", "--label", "dog", "--limit", "1", "--format", "detect-labels"]) == 0
    newest = json.loads(capsys.readouterr().out)
    assert newest["Image"] == {"S3Object": {"Bucket": "images", "Name": "old.jpg"}}
    assert newest["ImageProperties"]["DominantColors"][0]["HexCode"] == "#D2B48C"
