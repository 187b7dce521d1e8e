"""The named contracts other parts rely on: results table, object tags, model artifact, pointer.

Pure constants and tiny helpers, no third-party imports: infra (CDK), the local environment,
the CLI and training all import this module so none of them can drift from the function.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# --- results table -----------------------------------------------------------------------
# One item per object. The partition key is "<bucket>/<key>" rather than bucket+key so a
# single busy bucket spreads over many partitions.
TABLE_PARTITION_KEY = "pk"
STATUS_ATTRIBUTE = "status"
LABEL_ATTRIBUTE = "label"
# The one index (see RESULTS_INDEXES): "by label, newest first". A CLASSIFIED item sits under
# its label, a REJECTED item under REJECTED_PARTITION, so status queries need no index of
# their own; each value is write-sharded ("<value>#<shard>", see sharded_value).
LABEL_INDEX = "by_label"  # label_shard + classified_at
LABEL_SHARD_ATTRIBUTE = "label_shard"
# A generic model's image can show two things (a cat and a mug): `second_label` is the most
# specific label of another kind of thing in it, when it has one (hierarchy.second_thing),
# and the sparse index by_second_label finds the item under it, as by_label does under
# `label`. An image that a model with labels of its own calls `unknown` has its most
# specific generic label there (a hammer). Only items with one have an entry (a write unit
# each); a label query asks both indexes.
SECOND_LABEL_ATTRIBUTE = "second_label"
SECOND_LABEL_INDEX = "by_second_label"  # second_label_shard + classified_at
SECOND_LABEL_SHARD_ATTRIBUTE = "second_label_shard"
# The by_label value of every REJECTED item. Labels may not start with "!" (label_problem).
REJECTED_PARTITION = "!rejected"
RESERVED_LABEL_PREFIX = "!"
# One item that lists every index value ever written, in by_label or by_second_label (a string
# set, LABEL_REGISTRY_VALUES), so listings across labels know which partitions to ask. Its pk
# cannot be an object's: bucket names have no "#". The function adds a value before it writes
# the first item under it.
LABEL_REGISTRY_PK = "#labels"
LABEL_REGISTRY_VALUES = "values"
INDEX_SORT_KEY = "classified_at"
# Generic labels (models with ImageNet's logits): the item's `labels` map holds each label's
# name and confidence, and nothing derivable (parents, aliases and categories come from the
# model's hierarchy when read), so that a classified item stays within one 1 KB write unit.
LABELS_ATTRIBUTE = "labels"
QUALITY_ATTRIBUTE = "quality"

# The attributes every index projects besides its keys and the table's pk (INCLUDE): what
# `imgclf results` shows (its table and CSV columns), filters on (confidence, status, label,
# colours[0].name) and `reclassify` needs (bucket, key, model_version). Left out, and read
# from the table only for `--format json`: top_k, version_id, tags and event_order. A GSI
# write costs 1 WU per KB of the entry, and an update of attributes an index does not project
# costs that index nothing. Measured (bench/index_costs.py: a classified item with top-3 and
# three colours is 849 B under a 40-byte key; its INCLUDE entry 581 B, ALL 849 B, KEYS_ONLY
# 154 B): a first write is 4 WU with any projection (table + 3 indexes, each under 1 KB), but
# a duplicate that advances event_order costs 1 WU instead of ALL's 4, entries stay within
# 1 WU up to keys of ~260 bytes (ALL: ~130), and index storage is 2.0 GB per 1M images
# (ALL: 2.9). KEYS_ONLY saves storage only, and every listed item would cost a BatchGetItem.
INDEX_PROJECTION = (
    "bucket",
    "key",
    STATUS_ATTRIBUTE,
    LABEL_ATTRIBUTE,
    SECOND_LABEL_ATTRIBUTE,
    "confidence",
    "colours",
    LABELS_ATTRIBUTE,
    "model_version",
    "reason",
    "latency_ms",
    "width",
    "height",
    "size",
    "etag",
)


@dataclass(frozen=True)
class ShardedIndex:
    """A GSI partitioned by `<value>#<shard>` (sharded_value) and sorted by classified_at."""

    name: str
    partition_key: str  # the attribute holding the sharded value
    value_attribute: str  # the item attribute whose value is sharded (index_value)
    sort_key: str = INDEX_SORT_KEY
    projection: tuple[str, ...] = INDEX_PROJECTION


# The results table's GSIs: by_label, which every item is in, and the sparse by_second_label.
# Why so few: every index entry is a write unit per image (about $0.63 per 1M images each;
# bench/cost.py), and the label path is the one that must scale. Status queries read
# REJECTED_PARTITION or the registry's labels; colour queries filter on the item's dominant
# colour (an over-read of 1/share of that colour, docs/architecture.md).
RESULTS_INDEXES: dict[str, ShardedIndex] = {
    index.name: index
    for index in (
        ShardedIndex(LABEL_INDEX, LABEL_SHARD_ATTRIBUTE, LABEL_ATTRIBUTE),
        ShardedIndex(SECOND_LABEL_INDEX, SECOND_LABEL_SHARD_ATTRIBUTE, SECOND_LABEL_ATTRIBUTE),
    )
}
GSI_KEYS: dict[str, tuple[str, str]] = {
    name: (index.partition_key, index.sort_key) for name, index in RESULTS_INDEXES.items()
}

# The 11 basic colour terms (Berlin and Kay): every palette colour belongs to one, and the
# dominant colour's family is what `imgclf results --colour` asks for.
COLOUR_FAMILIES = (
    "black",
    "white",
    "grey",
    "red",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
    "brown",
)

# --- write sharding of low-cardinality GSI partitions ------------------------------------
# A GSI partition key with few values (~10 labels and the rejects) would put
# every write of one value on one partition, and DynamoDB allows 1,000 write units per second
# per partition key value, on a GSI too; a throttled GSI throttles the table's writes. So each
# item's value gets a shard suffix taken from a stable hash of its pk, and one value spreads
# over `shards` partitions; a query asks every shard in parallel and merges newest first. The
# shard count is the INDEX_SHARDS setting (per environment), one count for every value: it
# must serve the busiest label (every image, in a backfill of one class); a higher count
# costs only queries (one Query per shard and value). Raising the count keeps old items
# findable (shard n < old count < new count); lowering it hides the items of the dropped
# shards until `imgclf reindex` rewrites them.
DEFAULT_INDEX_SHARDS = 4
MAX_INDEX_SHARDS = 64


def index_shard(pk: str, shards: int) -> int:
    """The shard (0..shards-1) of one item: sha256 of its pk, not Python's salted hash()."""
    if not 1 <= shards <= MAX_INDEX_SHARDS:
        raise ValueError(f"shards must be 1..{MAX_INDEX_SHARDS}, got {shards}")
    return int.from_bytes(hashlib.sha256(pk.encode("utf-8")).digest()[:8], "big") % shards


def _in_shard(value: str, shard: int) -> str:
    return f"{value}#{shard}"


def sharded_value(value: str, pk: str, shards: int) -> str:
    """The GSI partition value of one item: `<value>#<shard>`."""
    return _in_shard(value, index_shard(pk, shards))


def shard_values(value: str, shards: int) -> list[str]:
    """Every partition value a query for `value` must ask."""
    if not 1 <= shards <= MAX_INDEX_SHARDS:
        raise ValueError(f"shards must be 1..{MAX_INDEX_SHARDS}, got {shards}")
    return [_in_shard(value, shard) for shard in range(shards)]


def index_value(item: Mapping[str, Any], index: str = LABEL_INDEX) -> str | None:
    """What an index is partitioned by for one item (None: the item is not in it). by_label:
    its label when CLASSIFIED, REJECTED_PARTITION when REJECTED; by_second_label: its
    second_label when CLASSIFIED and it has one."""
    rejected = item.get(STATUS_ATTRIBUTE) == "REJECTED"
    if index == LABEL_INDEX and rejected:
        return REJECTED_PARTITION
    value = None if rejected else item.get(RESULTS_INDEXES[index].value_attribute)
    return None if value is None else str(value)


def registry_values(item: Mapping[str, Any]) -> list[str]:
    """Every index value of one item, which the label registry must list before the item is
    written: its by_label value, and its second label when it has one."""
    found = (index_value(item, name) for name in RESULTS_INDEXES)
    return [value for value in found if value is not None]


def shard_attributes(item: Mapping[str, Any], shards: int) -> dict[str, str]:
    """The sharded partition attributes one item carries, one per index it is in:
    `<value>#<shard of its pk>`."""
    attributes = {}
    for index in RESULTS_INDEXES.values():
        value = index_value(item, index.name)
        if value is not None:
            pk = str(item[TABLE_PARTITION_KEY])
            attributes[index.partition_key] = sharded_value(value, pk, shards)
    return attributes


def label_problem(label: str) -> str | None:
    """Why a model cannot have this label, or None."""
    if not label.strip():
        return "a label cannot be empty"
    if label.startswith(RESERVED_LABEL_PREFIX):
        return f"label {label!r} starts with {RESERVED_LABEL_PREFIX!r}, reserved for the index"
    if len(label.encode()) > MAX_LABEL_BYTES:  # an index key holds it (DynamoDB: 2,048 bytes)
        size = len(label.encode())
        return f"label {label[:40]!r}... is {size} bytes, over {MAX_LABEL_BYTES} (an index key)"
    return None


MAX_LABEL_BYTES = 256  # UTF-8, as an S3 tag value's length


class Status(StrEnum):
    """Outcome recorded for an object."""

    CLASSIFIED = "CLASSIFIED"
    REJECTED = "REJECTED"


# A removal (ObjectRemoved) leaves a marker with its event order instead of no item, so that
# an upload's event that read the object before the delete and writes after it is refused as
# older. It has no label (no index); every reader takes it for no item (`is_removed`). The
# table's TTL (EXPIRES_ATTRIBUTE) drops it after a day: only an invocation past its GET can
# still write (a retry reads the object again, and finds it gone).
REMOVED_STATUS = "REMOVED"
EXPIRES_ATTRIBUTE = "expires_at"
REMOVED_RETENTION_SECONDS = 24 * 3600


def is_removed(item: Mapping[str, Any] | None) -> bool:
    """Whether a table item is a removal marker (no result: the key's object was deleted)."""
    return item is not None and item.get(STATUS_ATTRIBUTE) == REMOVED_STATUS


# The label of a CLASSIFIED image that shows none of the model's labels (model.json
# `unknown` says when); no model may have a label of that name.
UNKNOWN_LABEL = "unknown"


def object_pk(bucket: str, key: str) -> str:
    """The results-table partition key for one object."""
    return f"{bucket}/{key}"


# --- metrics ------------------------------------------------------------------------------
# What the function publishes (EMF, once per invocation), what the stack's alarms and
# dashboard read, and what the soak audits: one definition for all of them.
SERVICE_NAME = "imgclf"  # POWERTOOLS_SERVICE_NAME, and the metrics' `service` dimension
METRICS_NAMESPACE = "imgclf"
METRIC_CLASSIFIED = "ImagesClassified"
METRIC_REJECTED = "ImagesRejected"
METRIC_DUPLICATES = "DuplicatesSkipped"
METRIC_RECORDS_FAILED = "RecordsFailed"
METRIC_LATENCY = "ImageLatency"
METRIC_MODEL_LOAD = "ModelLoadTime"
# A model version the pointer named could not be loaded (the function kept its last good one,
# or fell back to the pointer's previous; none at all leaves records for a retry).
METRIC_MODEL_LOAD_FAILED = "ModelLoadFailed"


# --- object tags -------------------------------------------------------------------------
TAG_LABEL = "imgclf:label"
TAG_CONFIDENCE = "imgclf:confidence"
TAG_MODEL = "imgclf:model"
TAG_COLOURS = "imgclf:colours"  # only when TAGS names it: the three colour names
TAG_LABELS = "imgclf:labels"  # only when asked: the top generic labels' names
OUR_TAG_KEYS = (TAG_LABEL, TAG_CONFIDENCE, TAG_MODEL)  # always written (with tagging on)
MAX_OBJECT_TAGS = 10  # S3's limit per object; PutObjectTagging replaces the whole set
# Which of our tags a deployment writes (the function's TAGS, cdk.json `tags`): a name per tag.
# S3 bills tag storage per tag per month, so each one is a choice.
TAG_NAMES = {
    "label": TAG_LABEL,
    "confidence": TAG_CONFIDENCE,
    "model": TAG_MODEL,
    "colours": TAG_COLOURS,
    "labels": TAG_LABELS,
}
OUR_TAGS = frozenset(TAG_NAMES.values())  # only these are ours: a user's imgclf:owner stays
DEFAULT_TAGS = frozenset({"label", "confidence", "model"})  # OUR_TAG_KEYS
NO_TAGS = "none"


def parse_tag_names(raw: str) -> frozenset[str]:
    """TAGS as written (`label,confidence`; empty or `none`: no tags) -> the tag names."""
    names = [name.strip().lower() for name in raw.split(",") if name.strip()]
    if names == [NO_TAGS]:
        return frozenset()
    unknown = [name for name in names if name not in TAG_NAMES]
    if unknown:  # `none` among others too: it stands alone
        raise ValueError(
            f"no tag name(s) to list {', '.join(map(repr, unknown))}: use a comma-separated "
            f"subset of {', '.join(TAG_NAMES)}, or {NO_TAGS!r} alone for no tags"
        )
    return frozenset(names)


def tag_names_text(names: frozenset[str]) -> str:
    """The TAGS value for a set of names, in TAG_NAMES order (`none` for no tags)."""
    return ",".join(name for name in TAG_NAMES if name in names) or NO_TAGS


# --- what the function accepts -----------------------------------------------------------
# The defaults of the function's MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS and ALLOWED_FORMATS (cdk.json
# `max_image_bytes`, `max_image_pixels`). A bigger object is refused before the GET and a bigger
# image from its header, before any pixel is decoded; formats are Pillow's names.
DEFAULT_MAX_IMAGE_BYTES = 25 * 1024 * 1024  # 25 MiB
DEFAULT_MAX_IMAGE_PIXELS = 50_000_000  # 50 MP
DEFAULT_IMAGE_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP"})


# --- records of one batch ----------------------------------------------------------------
# How many records of one SQS batch the function handles at once (RECORD_CONCURRENCY,
# cdk.json `record_concurrency`); 1 handles them one after another. The bound is the size of
# each boto3 client's connection pool (adapters.RetryPolicy), so no record waits for a socket.
DEFAULT_RECORD_CONCURRENCY = 8
MAX_RECORD_CONCURRENCY = 32

# What S3 accepts in a tag value, as its API Reference documents it (the Tag and S3Tag
# shapes): the pattern below, 0 to 256 characters. The S3 User Guide adds that tags are held
# as UTF-16, so a character outside the Basic Multilingual Plane counts twice. Python's `re`
# has no \p{...} classes, so `tag_value_problem` checks the same Unicode general categories
# (L letters, Z separators, N numbers) with `unicodedata`; a unit test compares the two.
TAG_VALUE_PATTERN = r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$"
TAG_VALUE_MAX_LENGTH = 256
TAG_VALUE_CATEGORIES = ("L", "Z", "N")
TAG_VALUE_SYMBOLS = "_.:/=+-@"
TAG_VALUE_RULE = (
    f"allowed: letters, numbers, spaces and {' '.join(TAG_VALUE_SYMBOLS)}, "
    f"at most {TAG_VALUE_MAX_LENGTH} characters"
)


def tag_value_problem(value: str) -> str | None:
    """Why S3 would refuse `value` as an object tag value, in one line; None if it accepts it."""
    for char in value:
        if unicodedata.category(char)[0] not in TAG_VALUE_CATEGORIES and (
            char not in TAG_VALUE_SYMBOLS
        ):
            return f"{char!r} (U+{ord(char):04X}) is not allowed ({TAG_VALUE_RULE})"
    length = len(value.encode("utf-16-le")) // 2
    if length > TAG_VALUE_MAX_LENGTH:
        return f"it is {length} characters long ({TAG_VALUE_RULE})"
    return None


# --- model artifact (model.tar.gz, the SageMaker output) ---------------------------------
ARTIFACT_NAME = "model.tar.gz"
ARTIFACT_MODEL_FILE = "model.tflite"
ARTIFACT_LABELS_FILE = "labels.json"
ARTIFACT_METADATA_FILE = "model.json"
# The label hierarchy over the model's ImageNet outputs (classifier.hierarchy), in every
# artifact whose model outputs ImageNet's logits; model.json `hierarchy` names its version.
ARTIFACT_HIERARCHY_FILE = "hierarchy.json"
# A few preprocessed images and the labels the int8 model gave them at export (model.json
# `probe`): promotion runs the model on them and refuses a different answer.
ARTIFACT_PROBE_FILE = "probe.npz"
MODELS_PREFIX = "models/"  # models/<version>/model.tar.gz in the models bucket
DATA_PREFIX = "data/"  # training data in the models bucket


def artifact_key(version: str) -> str:
    """Where a model version's artifact lives in the models bucket."""
    return f"{MODELS_PREFIX}{version}/{ARTIFACT_NAME}"


# --- model versions -------------------------------------------------------------------------
# A version names models/<version>/, a SageMaker training job and the `version` hyperparameter,
# so it must survive all three. Job names are [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62} (the state
# machine adds a prefix and an 8-character suffix, hence the shorter maximum), and SageMaker's
# training toolkit JSON-decodes every hyperparameter: "1e5" would arrive as 100000.0 and
# "true" as True. Starting with a letter rules out every JSON number; the lookahead rules out
# the JSON words Python's decoder accepts. The state machine checks the same pattern (a
# JSONata regex: the syntax below is common to Python's re and JavaScript).
MODEL_VERSION_PATTERN = r"(?!(?:true|false|null|NaN|Infinity)$)[A-Za-z](?:-*[A-Za-z0-9])*"
MODEL_VERSION_MAX_LENGTH = 36
MODEL_VERSION_RULE = (
    f"a letter, then letters, digits and hyphens, not ending in a hyphen, at most "
    f"{MODEL_VERSION_MAX_LENGTH} characters, and not a JSON word (true, false, null, NaN, "
    "Infinity)"
)


def model_version_problem(version: object) -> str | None:
    """Why `version` cannot name a model version, or None when it can."""
    if not isinstance(version, str):
        return f"it is {type(version).__name__}, not a string"
    try:
        decoded = json.loads(version)
    except ValueError:
        decoded = version
    if not isinstance(decoded, str):
        return (
            "SageMaker JSON-decodes hyperparameters, so it would reach training as "
            f"{type(decoded).__name__} {decoded!r}"
        )
    if len(version) > MODEL_VERSION_MAX_LENGTH:
        return f"it is {len(version)} characters long ({MODEL_VERSION_RULE})"
    if not re.fullmatch(MODEL_VERSION_PATTERN, version):
        return f"it must be {MODEL_VERSION_RULE}"
    return None


# --- model pointer (one SSM parameter per environment) -----------------------------------
# The standard evaluation sets a model.json's metrics.evaluations names (training.evalsets
# builds them; the gate compares models on the ones they share; the demo and the CLI show them).
EMOJI_RENDERINGS = "emoji-renderings"
REAL_PHOTOS = "real-photos"
OUTSIDE_PHOTOS = "outside-photos"
# The packaged photos that show one of a label set's labels, by their annotated words, and
# those that show none: the sets a day-0 model for any label names is scored on when no
# standard set has its labels.
ANNOTATED_PHOTOS = "annotated-photos"
ANNOTATED_OUTSIDE = "annotated-outside"


# The embedded environment's name (infra/local): never a deployed stack.
LOCAL_ENV = "local"


def new_model_version(prefix: str = "v", now: float | None = None) -> str:
    """A model version named by the UTC time it was made: `<prefix>YYYYmmdd-HHMMSS`."""
    return time.strftime(f"{prefix}%Y%m%d-%H%M%S", time.gmtime(now))


def model_pointer_name(env_name: str) -> str:
    """The SSM parameter that names the live model of an environment."""
    return f"/imgclf/{env_name}/model"


@dataclass(frozen=True)
class ModelPointer:
    """The live model: the artifact's S3 URI and its version, and the version live before it
    (`previous`, written by promotion, only ever one that loaded): JSON in the SSM parameter.
    A cold function that cannot load the live version falls back to `previous`.

    `digest` is the sha256 of the model.json that promotion checked ("" in pointers written
    before it). model.json holds every other file's digest, so it pins the whole artifact:
    a function refuses a version whose model.json is not that one (`model_digest`), and an
    artifact replaced after promotion never runs under the checked name."""

    uri: str
    version: str
    previous: ModelPointer | None = None
    digest: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = self._fields()
        if self.previous is not None:
            data["previous"] = self.previous._fields()
        return data

    def _fields(self) -> dict[str, Any]:
        data: dict[str, Any] = {"uri": self.uri, "version": self.version}
        if self.digest:
            data["digest"] = self.digest
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelPointer:
        return cls.from_dict(json.loads(text), text)

    @classmethod
    def from_dict(cls, data: Any, text: str = "") -> ModelPointer:
        if not isinstance(data, dict) or not data.get("uri") or not data.get("version"):
            shown = text or json.dumps(data, default=str)
            raise ValueError(f"model pointer needs 'uri' and 'version', got {shown[:200]!r}")
        problem = model_version_problem(data["version"])
        if problem is not None:  # it names a folder of the model cache, too
            raise ValueError(f"model pointer names version {data['version']!r}: {problem}")
        previous = data.get("previous")
        return cls(
            uri=str(data["uri"]),
            version=str(data["version"]),
            previous=None if not previous else cls.from_dict(previous),
            digest=str(data.get("digest") or ""),
        )

    @property
    def last(self) -> ModelPointer:
        """This pointer without its `previous`: what a promotion keeps as the next previous."""
        return ModelPointer(self.uri, self.version, digest=self.digest)


def model_digest(metadata_bytes: bytes) -> str:
    """A pointer's `digest`: the sha256 (hex) of an artifact's model.json, as stored."""
    return hashlib.sha256(metadata_bytes).hexdigest()


# --- messages on the queue that are not S3 notifications ---------------------------------
# `reclassify` re-enqueues objects with this body; the function treats it like the object's
# recorded creation event, so only the model version can make it write.
RECLASSIFY_MESSAGE_TYPE = "imgclf:reclassify"


def reclassify_message(bucket: str, key: str, model_version: str | None = None) -> str:
    """The queue message body that asks the function to classify an object again; with the
    version it is for, a function that has not seen that promotion yet reads the pointer."""
    body = {"type": RECLASSIFY_MESSAGE_TYPE, "bucket": bucket, "key": key}
    return json.dumps(body | ({"model_version": model_version} if model_version else {}))
