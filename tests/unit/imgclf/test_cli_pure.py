"""Pure parts of the CLI and the poller: no network, no AWS."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from classifier.contracts import (
    INDEX_PROJECTION,
    INDEX_SORT_KEY,
    TABLE_PARTITION_KEY,
    reclassify_message,
)
from classifier.events import objects_in
from imgclf import commands
from imgclf.demo import cache_key, source_fingerprint
from imgclf.errors import CliError
from imgclf.main import build_parser, main
from imgclf.output import plain
from imgclf.result_formats import COLUMNS, CSV_COLUMNS, to_csv, to_json
from imgclf.result_queries import (
    _newest_first,
    parse_since,
    parse_status,
    query_arguments,
)
from imgclf.samples import decompression_bomb_png, ground_truth, write_bad_inputs
from imgclf.trainer import TrainingSettings
from imgclf.upload import collect, parse_tags
from infra.local.poller import failed_message_ids, sqs_record

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", "2026-11-22T11:30:00.000Z"),
        ("2h", "2026-11-22T10:00:00.000Z"),
        ("1d", "2026-11-21T12:00:00.000Z"),
        ("2026-11-01", "2026-11-01T00:00:00.000Z"),
        ("2026-11-01T10:00:00+02:00", "2026-11-01T08:00:00.000Z"),
    ],
)
def test_since_accepts_durations_and_iso_times(text: str, expected: str) -> None:
    assert parse_since(text, NOW) == expected


def test_since_rejects_anything_else() -> None:
    with pytest.raises(CliError, match="neither a duration"):
        parse_since("last tuesday", NOW)
    with pytest.raises(CliError, match="'99999999d' reaches back before the year 1"):
        parse_since("99999999d", NOW)


def test_status_is_case_insensitive_and_checked() -> None:
    assert parse_status("rejected").value == "REJECTED"
    with pytest.raises(CliError, match="unknown status"):
        parse_status("pending")


def test_merging_index_streams_keeps_newest_first_and_reads_lazily() -> None:
    consumed: list[str] = []

    def stream(times: list[str]) -> Iterator[dict[str, Any]]:
        for value in times:
            consumed.append(value)
            yield {"classified_at": value}

    merged = _newest_first([stream(["5", "3", "1"]), stream(["4", "2", "0"])], limit=3)
    assert [item["classified_at"] for item in merged] == ["5", "4", "3"]
    assert "0" not in consumed  # never read past what the limit needs


def test_json_and_csv_output_turn_decimals_into_numbers() -> None:
    items = [{"key": "a.jpg", "status": "CLASSIFIED", "confidence": Decimal("0.9"), "size": 3}]
    assert json.loads(to_json(items))[0]["confidence"] == 0.9
    assert to_csv(items).splitlines()[1].startswith("a.jpg,CLASSIFIED,,,0.900")
    assert plain({"top_k": [{"confidence": Decimal("1")}]}) == {"top_k": [{"confidence": 1}]}


def test_csv_keeps_a_key_with_a_carriage_return_in_one_cell() -> None:
    # A key "cr\rline.jpg" split its row in two for csv readers, its key cut to "cr"
    items = [{"key": "csv/cr\rline.jpg", "status": "CLASSIFIED"}, {"key": "b.jpg"}]
    rows = list(csv.DictReader(io.StringIO(to_csv(items), newline="")))
    assert [row["key"] for row in rows] == ["csv/cr\rline.jpg", "b.jpg"]


def test_the_table_and_csv_show_the_second_label_a_query_may_have_matched() -> None:
    # `results --label animal` can find a strawberry photo through its second label (an
    # animal beside it); the row says so
    item = {"key": "a.jpg", "status": "CLASSIFIED", "label": "strawberry", "second_label": "ant"}
    header, row = to_csv([item]).splitlines()
    assert header.startswith("key,status,label,second_label,confidence")
    assert row.startswith("a.jpg,CLASSIFIED,strawberry,ant,")


def test_csv_carries_every_generic_label_the_item_keeps() -> None:
    # A spreadsheet of results gets the labels at every level, not only the most specific
    labels = {"animal": Decimal("0.946"), "dog": Decimal("0.936"), "Golden Retriever": 0.882}
    item = {"key": "a.jpg", "status": "CLASSIFIED", "label": "Golden Retriever", "labels": labels}
    rows = list(csv.DictReader(io.StringIO(to_csv([item]))))
    assert rows[0]["labels"] == "animal 0.946, dog 0.936, Golden Retriever 0.882"
    assert rows[0]["label"] == "Golden Retriever"


def test_collect_keeps_folder_names_and_skips_hidden_files(tmp_path: Path) -> None:
    (tmp_path / "pets" / "cat").mkdir(parents=True)
    (tmp_path / "pets" / "cat" / "a.jpg").write_bytes(b"x")
    (tmp_path / "pets" / ".DS_Store").write_bytes(b"x")
    (tmp_path / "one.png").write_bytes(b"x")
    hidden: list[Path] = []
    uploads = collect([tmp_path / "pets", tmp_path / "one.png"], "in/", on_hidden=hidden.append)
    assert [u.key for u in uploads] == ["in/pets/cat/a.jpg", "in/one.png"]
    # Left out, and said: `upload` counts them, since a user may have meant to send them
    assert hidden == [(tmp_path / "pets" / ".DS_Store").resolve()]


def test_collect_says_when_a_folder_holds_only_hidden_files(tmp_path: Path) -> None:
    (tmp_path / "dots" / ".cache").mkdir(parents=True)
    (tmp_path / "dots" / ".cache" / "a.jpg").write_bytes(b"x")
    (tmp_path / "dots" / ".b.jpg").write_bytes(b"x")
    with pytest.raises(CliError, match="^nothing to upload: the folders hold only 2 hidden files$"):
        collect([tmp_path / "dots"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(CliError, match="^nothing to upload: the folders are empty$"):
        collect([tmp_path / "empty"])


def test_collect_fails_on_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(CliError, match="no such file or folder"):
        collect([tmp_path / "nope.jpg"])


def test_collect_refuses_two_files_for_one_key_and_uploads_a_file_named_twice_once(
    tmp_path: Path,
) -> None:
    for folder in ("c1", "c2"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.jpg").write_bytes(folder.encode())
    with pytest.raises(CliError, match=r"two files would be uploaded as 'coll/x.jpg': .*c1/x.jpg"):
        collect([tmp_path / "c1" / "x.jpg", tmp_path / "c2" / "x.jpg"], prefix="coll")
    twice = collect([tmp_path / "c1" / "x.jpg", tmp_path / "c1" / ".." / "c1" / "x.jpg"])
    assert [u.key for u in twice] == ["x.jpg"]


def test_collect_refuses_a_name_s3_cannot_hold_before_anything_is_uploaded(
    tmp_path: Path,
) -> None:
    # A Latin-1 name was a UnicodeEncodeError traceback line after 7 of 21 files went up
    import os

    (tmp_path / "l1").mkdir()
    (tmp_path / "l1" / "a.jpg").write_bytes(b"x")
    (tmp_path / "l1" / os.fsdecode(b"caf\xe9.jpg")).write_bytes(b"x")
    with pytest.raises(CliError, match=r"^file name is not UTF-8, .*caf\\xe9\.jpg"):
        collect([tmp_path / "l1"])
    (tmp_path / "long").mkdir()
    (tmp_path / "long" / ("é" * 120 + ".jpg")).write_bytes(b"x")
    with pytest.raises(CliError, match="^key longer than S3's 1024 bytes"):
        collect([tmp_path / "long"], prefix="p" * 800)


def test_a_hidden_folder_named_itself_is_uploaded(tmp_path: Path) -> None:
    # `imgclf upload .` inside ~/.photos said "the folders hold only 1 hidden files"
    (tmp_path / ".photos" / ".thumbs").mkdir(parents=True)
    (tmp_path / ".photos" / "a.jpg").write_bytes(b"x")
    (tmp_path / ".photos" / ".thumbs" / "a.jpg").write_bytes(b"x")
    assert [u.key for u in collect([tmp_path / ".photos"])] == [".photos/a.jpg"]


def test_a_prefix_or_tag_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    import os

    (tmp_path / "a.jpg").write_bytes(b"x")
    bad = os.fsdecode(b"p\xff")
    with pytest.raises(CliError, match=r"^--prefix b'p\\xff' is not UTF-8$"):
        collect([tmp_path / "a.jpg"], prefix=bad)
    with pytest.raises(CliError, match=r"^--tag b'k=p\\xff' is not UTF-8$"):
        parse_tags([f"k={bad}"])


def test_an_upload_is_told_apart_from_the_keys_earlier_object() -> None:
    from imgclf.upload import Uploaded

    upload = Uploaded("e1", "2026-12-07T21:09:06")
    assert upload.announced("e1", "2026-12-07T21:09:06.964Z#00")
    assert upload.announced("e1", "2026-12-07T21:10:00.000Z#00")
    assert not upload.announced("e1", "2026-12-07T21:09:05.999Z#00")  # same bytes, earlier
    assert not upload.announced("e2", "2026-12-07T21:10:00.000Z#00")
    assert not upload.announced(None, "")


def test_collect_names_a_path_that_is_no_file_or_folder() -> None:
    with pytest.raises(CliError, match="not a file or folder: /dev/null"):
        collect(["/dev/null"])


def test_tags_are_name_value_pairs() -> None:
    assert parse_tags(["owner=me", "empty="]) == {"owner": "me", "empty": ""}
    assert parse_tags(["équipe=Zoé 2", "x=a_b.c:d/e=f+g-h@i"]) == {
        "équipe": "Zoé 2",
        "x": "a_b.c:d/e=f+g-h@i",
    }
    with pytest.raises(CliError):
        parse_tags(["novalue"])


@pytest.mark.parametrize(
    ("tags", "why"),
    [
        # Each of these failed at PutObject, after moto had stored the object (S3 stores none)
        (["note=what?"], r"^--tag 'note=what\?': S3 would refuse it: '\?' \(U\+003F\)"),
        ([f"k={'v' * 257}"], "S3 would refuse it: it is 257 characters long"),
        ([f"{'k' * 129}=v"], "S3 would refuse it: its name is over 128 characters"),
        (["aws:owner=me"], "S3 would refuse it: names starting with aws: are AWS's"),
        ([f"k{i}=v" for i in range(11)], "^11 --tags: S3 allows at most 10 on an object$"),
        # S3 refuses a repeated key; the last one silently won
        (["owner=a", "owner=b"], "^--tag 'owner' is given twice"),
    ],
)
def test_tags_s3_would_refuse_are_refused_before_uploading(tags: list[str], why: str) -> None:
    with pytest.raises(CliError, match=why):
        parse_tags(tags)


def test_the_bomb_is_tiny_but_claims_gigapixels() -> None:
    data = decompression_bomb_png()
    assert len(data) < 200
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (60_000, 60_000)


def test_bad_inputs_are_what_they_claim(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buffer, "JPEG")
    write_bad_inputs(tmp_path, buffer.getvalue())
    assert (tmp_path / "empty.jpg").stat().st_size == 0
    assert (tmp_path / "truncated.jpg").read_bytes() == buffer.getvalue()[
        : len(buffer.getvalue()) // 2
    ]
    assert not (tmp_path / "not-an-image.jpg").read_bytes().startswith(b"\xff\xd8")


def test_ground_truth_is_the_parent_folder_when_it_is_a_label() -> None:
    labels = {"cat", "dog"}
    assert ground_truth("heldout/cat/x.jpg", labels) == "cat"
    assert ground_truth("bad/x.jpg", labels) is None
    assert ground_truth("x.jpg", labels) is None


def test_dead_letters_name_their_objects() -> None:
    s3_body = json.dumps(
        {"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "a+b%2Fc.jpg"}}}]}
    )
    assert objects_in(s3_body) == (("b", "a b/c.jpg"),)
    assert objects_in(reclassify_message("b", "k.jpg")) == (("b", "k.jpg"),)
    assert objects_in("not json") == ()


def test_partial_batch_responses_are_read_as_lambda_reads_them() -> None:
    ids = ["a", "b", "c"]
    assert failed_message_ids({"batchItemFailures": []}, ids) == set()
    assert failed_message_ids(None, ids) == set()
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, ids) == {"b"}
    # an unknown or empty identifier fails the whole batch
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "z"}]}, ids) == set(ids)
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, ids) == set(ids)
    assert failed_message_ids("nonsense", ids) == set(ids)


def test_sqs_records_have_lambdas_shape() -> None:
    message = {
        "MessageId": "m1",
        "ReceiptHandle": "r1",
        "Body": "{}",
        "MD5OfBody": "x",
        "Attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1", "Other": "-"},
        "MessageAttributes": {"k": {"StringValue": "v", "DataType": "String"}},
    }
    record = sqs_record(message, queue_arn="arn:q", region="us-east-1")
    assert record["messageId"] == "m1" and record["receiptHandle"] == "r1"
    assert record["attributes"] == {"ApproximateReceiveCount": "2", "SentTimestamp": "1"}
    assert record["messageAttributes"]["k"]["stringValue"] == "v"
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == "arn:q"


def test_the_cache_key_follows_sources_and_settings() -> None:
    settings = TrainingSettings(dataset="emoji", epochs=3)
    assert cache_key(settings, "src") == cache_key(
        TrainingSettings(dataset="emoji", epochs=3), "src"
    )
    assert cache_key(settings, "src") != cache_key(settings, "other-src")
    assert cache_key(settings, "src") != cache_key(
        TrainingSettings(dataset="emoji", epochs=4), "src"
    )
    assert len(source_fingerprint()) == 64


def test_the_cache_key_is_the_same_for_the_same_settings_however_they_are_written() -> None:
    # Given the demo's recipe written in another order, with an int for a float option
    ordered = TrainingSettings(
        dataset="emoji", arch="efficientnet_lite0", epochs=8, fine_tune_epochs=4,
        min_int8_accuracy=1, extra_train_dir=Path("photos/train"),
    )  # fmt: skip
    shuffled = TrainingSettings(
        min_int8_accuracy=1.0, extra_train_dir=Path("photos") / "train", fine_tune_epochs=4,
        epochs=8, arch="efficientnet_lite0", dataset="emoji",
    )  # fmt: skip
    # Then the key is the same, and it changes with any one value
    assert ordered == shuffled and cache_key(ordered, "src") == cache_key(shuffled, "src")
    assert cache_key(ordered.with_values(fine_tune_epochs=5), "src") != cache_key(ordered, "src")


def test_training_settings_become_trainings_command_line(tmp_path: Path) -> None:
    argv = TrainingSettings(dataset="emoji", epochs=2, image_size=64).argv(
        model_dir=tmp_path / "m", output_dir=tmp_path / "o", version="v1"
    )
    assert argv[argv.index("--dataset") + 1] == "emoji"
    assert argv[argv.index("--epochs") + 1] == "2"
    assert argv[argv.index("--version") + 1] == "v1"
    assert "--arch" not in argv


def test_every_subcommand_takes_env() -> None:
    parser = build_parser()
    for argv in (
        ["upload", "x"],
        ["results"],
        ["result", "k"],
        ["model", "list"],
        ["model", "promote", "v"],
        ["train"],
        ["reclassify"],
        ["dlq", "list"],
        ["dlq", "redrive"],
        ["demo"],
        ["local", "up"],
    ):
        assert parser.parse_args([*argv, "--env", "dev"]).env == "dev"
        assert parser.parse_args(["--env", "prod", *argv]).env == "prod"


def test_a_negative_or_fractional_limit_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A negative limit was passed on: the table query returned nothing, `--file` all but one
    for bad in ("-1", "2.5", "all"):
        with pytest.raises(SystemExit) as raised:
            build_parser().parse_args(["results", "--limit", bad])
        assert raised.value.code == 2
        assert "--limit" in capsys.readouterr().err
    assert build_parser().parse_args(["results", "--limit", "0"]).limit == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["local", "up", "--workers", "0"],
        ["local", "up", "--workers", "-3"],
        ["local", "up", "--visibility-timeout", "-5"],
        ["local", "up", "--visibility-timeout", "50000"],
        ["upload", "x", "--timeout", "0"],
        ["upload", "x", "--timeout", "soon"],
        ["reclassify", "--timeout", "-1"],
        ["demo", "--uploads-per-class", "0"],
        ["demo", "--workers", "1.5"],
    ],
)
def test_out_of_range_numbers_are_one_line_errors(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # A negative worker count reached the poller as a traceback-like ValueError, and a
    # negative visibility timeout started the environment
    with pytest.raises(SystemExit) as raised:
        build_parser().parse_args(argv)
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {argv[-2]}" in err


def test_numbers_in_range_parse() -> None:
    args = build_parser().parse_args(["local", "up", "--workers", "2", "--visibility-timeout", "0"])
    assert (args.workers, args.visibility_timeout) == (2, 0)
    assert build_parser().parse_args(["upload", "x", "--timeout", "2.5"]).timeout == 2.5


@pytest.mark.parametrize(
    "argv", [["upload", "x", "--timeout", "5"], ["reclassify", "--timeout", "9"]]
)
def test_a_timeout_without_wait_is_refused(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # It was accepted and ignored: the command returned at once, without waiting
    monkeypatch.setattr(commands, argv[0], lambda args: pytest.fail("ran"))
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    assert capsys.readouterr().err.strip().endswith("error: --timeout applies only with --wait")


def test_wait_has_its_default_timeout_per_command(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[float] = []

    def record(args: Any) -> int:
        seen.append(args.timeout)
        return 0

    for command in ("upload", "reclassify"):
        monkeypatch.setattr(commands, command, record)
    assert main(["upload", "x", "--wait"]) == 0
    assert main(["reclassify", "--wait"]) == 0
    assert main(["upload", "x", "--wait", "--timeout", "7"]) == 0
    assert seen == [300.0, 600.0, 7.0]


def test_colour_names_map_to_the_colour_index_family() -> None:
    from imgclf.result_queries import ColourQuery, parse_colour

    assert parse_colour("Blue") == ColourQuery("blue")
    assert parse_colour("gray") == ColourQuery("grey")
    assert parse_colour("navy") == ColourQuery("blue", "navy")
    assert (
        parse_colour("sky-blue") == parse_colour(" Sky  Blue ") == ColourQuery("blue", "sky blue")
    )
    with pytest.raises(CliError, match=r"^unknown colour 'mauve' \(use one of black, white, "):
        parse_colour("mauve")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read fault plan"),
        ("{", "is not JSON"),
        ('{"calls": [{"throttle": 2}]}', "calls[0].throttle must be a probability 0..1"),
    ],
)
def test_local_up_refuses_a_bad_fault_plan_in_one_line_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    plan = tmp_path / "plan.json"
    if content is not None:
        plan.write_text(content)
    code = main(["local", "up", "--faults", str(plan)])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("imgclf: error: ") and message in err
    assert "\n" not in err


def test_the_fault_plan_option_is_parsed() -> None:
    args = build_parser().parse_args(["local", "up", "--faults", "docs/faults/chaos.json"])
    assert args.faults == Path("docs/faults/chaos.json")


def test_a_flag_name_means_one_thing_across_commands() -> None:
    parser = build_parser()
    # --images-per-class is train's (renderings training makes); the demo's uploads are others
    assert parser.parse_args(["train", "--images-per-class", "300"]).images_per_class == 300
    assert parser.parse_args(["demo", "--uploads-per-class", "3"]).uploads_per_class == 3
    with pytest.raises(SystemExit):
        parser.parse_args(["demo", "--images-per-class", "3"])
    # --seed is train's random seed; local up's cached models are a flag of their own
    assert parser.parse_args(["train", "--seed", "7"]).seed == 7
    assert parser.parse_args(["local", "up", "--no-cached-models"]).cached_models is False
    with pytest.raises(SystemExit):
        parser.parse_args(["local", "up", "--no-seed"])


def test_the_indexes_project_every_column_and_filter_the_cli_reads() -> None:
    # The table and CSV formats print only what the index holds (its keys and INCLUDE list),
    # and every FilterExpression attribute is projected (a GSI filter sees nothing else)
    held = {*INDEX_PROJECTION, INDEX_SORT_KEY, TABLE_PARTITION_KEY}
    assert {*COLUMNS, *CSV_COLUMNS} <= held
    assert {"confidence", "status", "label", "colours"} <= held
    # And reclassify's re-enqueue message needs only projected attributes
    assert {"bucket", "key", "model_version"} <= held


def test_each_partition_query_is_newest_first_and_reads_at_most_a_page() -> None:
    arguments = query_arguments("t", "by_label", "label_shard", "red#3", "2026-01-01", None, 50)
    assert arguments["IndexName"] == "by_label" and arguments["ScanIndexForward"] is False
    assert arguments["Limit"] == 50
    assert sorted(value["S"] for value in arguments["ExpressionAttributeValues"].values()) == [
        "2026-01-01",
        "red#3",
    ]
    # Without a limit or page size, DynamoDB's own 1 MB pages
    assert "Limit" not in query_arguments("t", "by_label", "label_shard", "red#3", None, None)


def test_imgclf_train_with_only_a_data_dir_trains_transfer_on_the_folder(tmp_path: Path) -> None:
    from training.train_config import parse_args

    argv = TrainingSettings(data_dir=tmp_path / "photos").argv(
        model_dir=tmp_path / "m", output_dir=tmp_path / "o", version="v1", generated_dir=tmp_path
    )
    config = parse_args(argv, {}).resolved()

    assert (config.dataset, config.arch) == ("folder", "efficientnet_lite0")
    assert config.data_dir == tmp_path / "photos"
    rendered = parse_args(TrainingSettings().argv(
        model_dir=tmp_path / "m", output_dir=tmp_path / "o", version="v1", generated_dir=tmp_path
    ), {}).resolved()  # fmt: skip
    assert (rendered.dataset, rendered.arch, rendered.data_dir) == ("emoji", "cnn", tmp_path)


def test_a_results_maps_read_as_text_in_its_table() -> None:
    # Given an item's generic labels and quality figures (maps in DynamoDB)
    labels = {"animal": 0.946, "dog": 0.936, "Golden Retriever": 0.882}
    quality = {"brightness": 36, "sharpness": 51, "contrast": 32}
    # Then `imgclf result` shows them as words and figures, not as a Python dict
    assert commands.field_text("labels", labels) == (
        "animal 0.946, dog 0.936, Golden Retriever 0.882"
    )
    assert commands.field_text("quality", quality) == "brightness 36, sharpness 51, contrast 32"
    assert commands.field_text("label", "dog") == "dog"


@pytest.mark.parametrize(
    ("flag", "message"),
    [("--since", "--since '' is neither"), ("--status", "unknown status ''")],
)
def test_an_empty_filter_is_a_one_line_error_not_every_result(
    flag: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # `--since "$SINCE"` with SINCE unset listed every result, as if no filter were given
    assert main(["results", flag, ""]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
