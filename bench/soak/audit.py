"""The audit after a pass: nothing lost, wrong, left with stale tags or written twice, and the
DLQ held only the planted poison keys; with each finding's key history."""

from __future__ import annotations

from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from classifier.contracts import (
    LABEL_REGISTRY_PK,
    OUR_TAGS,
    REMOVED_STATUS,
    TABLE_PARTITION_KEY,
    TAG_CONFIDENCE,
    TAG_LABEL,
    TAG_MODEL,
    Status,
    object_pk,
)
from imgclf.deployment import Deployment
from infra.local.environment import LocalEnvironment
from infra.local.faults import FaultInjector, ItemWrite

from .parameters import HARNESS_CLIENT_CONFIG
from .queues import queue_counts
from .workload import POISON, USER_TAGS, History, Scenario


@dataclass
class Finding:
    invariant: str
    key: str
    detail: str


@dataclass
class Audit:
    keys: int = 0
    existing: int = 0
    deleted: int = 0
    items: int = 0
    lost: int = 0
    wrong: int = 0
    stale_tags: int = 0
    deleted_with_item: int = 0
    wrong_existing: int = 0
    unexpected_items: int = 0
    tags_checked: int = 0
    user_tags_expected: int = 0
    poison_ok: int = 0
    poison_keys: int = 0
    dlq_after: int = 0
    duplicates_written: int = 0
    item_writes: int | None = None
    completed_writes: int | None = None
    writes_without_invocation: int = 0
    attributed: bool = True  # the journal names each write's invocation
    harness_mismatches: int = 0
    findings: list[Finding] = field(default_factory=list)
    histories: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class _Evidence:
    """What the audit reads back: the table's items, the objects' states, the journal's item
    writes, and what the harness saw happen to each key."""

    bucket: str
    items: dict[str, dict[str, Any]]  # pk -> the item, in plain values
    item_counts: Counter[str]
    states: dict[str, dict[str, Any]]  # key -> _object_state
    writes: list[ItemWrite] | None  # None: no fault injector, so no journal
    writes_by_pk: dict[str, list[ItemWrite]]
    history: History
    outcomes: dict[str, Any]  # request id -> the poller's BatchOutcome

    def history_lines(self, key: str) -> list[str]:
        """The key's history: the harness's operations, the item writes, the item and object now."""
        pk = object_pk(self.bucket, key)
        lines = [e.describe() for e in self.history.events.get(key, [])]
        for write in self.writes_by_pk.get(pk, []):
            outcome = _describe_outcome(self.outcomes.get(str(write.invocation)))
            lines.append(f"item write {_describe_write(write)}{outcome}")
        item = self.items.get(pk)
        lines.append("item now: " + (_describe_item(item) if item else "none"))
        state = self.states.get(key, {})
        if state.get("exists"):
            lines.append(
                f"object now: etag {state['etag'][:10]} version "
                f"{str(state.get('version_id'))[:12]} tags {state['tags']}"
            )
        else:
            lines.append("object now: none")
        return lines


def audit_pass(
    environment: LocalEnvironment,
    deployment: Deployment,
    scenarios: list[Scenario],
    history: History,
    injector: FaultInjector | None,
    dlq_before: Counter[str],
    poison_keys: set[str],
    outcomes: dict[str, Any],
) -> Audit:
    """Every key against its truth, then the item writes, the DLQ before and after the redrive."""
    audit = Audit()
    evidence = _gather(environment, deployment, scenarios, history, injector, outcomes)
    audit.items = sum(evidence.item_counts.values())
    known: set[str] = set()
    for scenario in scenarios:
        known.add(_check_key(audit, evidence, scenario))
    for pk, stray in evidence.items.items():
        if pk not in known:
            audit.unexpected_items += 1
            audit.wrong += 1
            audit.findings.append(Finding("wrong", str(stray.get("key")), "an item for no key"))
    if evidence.writes is not None:
        _check_writes(audit, evidence, _abandoned(environment))
    for key, messages in sorted(dlq_before.items()):
        if key not in poison_keys:
            _find(
                audit,
                evidence,
                "dlq-before-redrive",
                key,
                f"{messages} message(s) in the DLQ, not planted",
            )
    sqs = environment.client("sqs", HARNESS_CLIENT_CONFIG)
    audit.dlq_after = sum(queue_counts(sqs, deployment.dead_letter_queue_url).values())
    return audit


def _gather(
    environment: LocalEnvironment,
    deployment: Deployment,
    scenarios: list[Scenario],
    history: History,
    injector: FaultInjector | None,
    outcomes: dict[str, Any],
) -> _Evidence:
    bucket = deployment.images_bucket
    s3 = environment.client("s3", HARNESS_CLIENT_CONFIG)
    dynamodb = environment.client("dynamodb", HARNESS_CLIENT_CONFIG)
    items: dict[str, dict[str, Any]] = {}
    item_counts: Counter[str] = Counter()
    for raw in _scan(dynamodb, deployment.results_table):
        plain = {name: _plain(value) for name, value in raw.items()}
        items[str(plain["pk"])] = plain
        item_counts[str(plain["pk"])] += 1
    with ThreadPoolExecutor(max_workers=8) as pool:
        states = dict(
            zip(
                [s.key for s in scenarios],
                pool.map(lambda s: _object_state(s3, bucket, s.key), scenarios),
                strict=True,
            )
        )
    # The results of classifications: not the markers removals leave (deletes were never
    # counted as item writes, nor by the metrics they are compared with)
    writes = (
        [w for w in injector.journal.item_writes() if w.status != REMOVED_STATUS]
        if injector is not None
        else None
    )
    writes_by_pk: dict[str, list[ItemWrite]] = defaultdict(list)
    for write in writes or []:
        writes_by_pk[str(write.pk)].append(write)
    return _Evidence(bucket, items, item_counts, states, writes, writes_by_pk, history, outcomes)


def _find(audit: Audit, evidence: _Evidence, invariant: str, key: str, detail: str) -> None:
    """A finding, and the key's history the first time the key is found at fault."""
    audit.findings.append(Finding(invariant, key, detail))
    if key not in audit.histories:
        audit.histories[key] = evidence.history_lines(key)


def _check_key(audit: Audit, evidence: _Evidence, scenario: Scenario) -> str:
    """One key against its truth; returns its partition key."""
    audit.keys += 1
    pk = object_pk(evidence.bucket, scenario.key)
    item = evidence.items.get(pk)
    state = evidence.states[scenario.key]
    if state["exists"] != scenario.exists:
        audit.harness_mismatches += 1
        _find(audit, evidence, "harness", scenario.key, f"S3 existence {state['exists']} != plan")
    if not scenario.exists:
        audit.deleted += 1
        if item is not None:
            audit.deleted_with_item += 1
            audit.wrong += 1
            _find(audit, evidence, "wrong", scenario.key, "an item for a deleted key")
        return pk
    audit.existing += 1
    if scenario.kind == POISON:
        audit.poison_keys += 1
    if item is None:
        audit.lost += 1
        _find(audit, evidence, "lost", scenario.key, "no item")
        return pk
    problems = _item_problems(scenario, item, state, evidence.item_counts[pk])
    if problems:
        audit.wrong += 1
        audit.wrong_existing += 1
        _find(audit, evidence, "wrong", scenario.key, "; ".join(problems))
    elif scenario.kind == POISON:
        audit.poison_ok += 1
    if state["exists"]:
        audit.tags_checked += 1
        tag_problems = _tag_problems(item, state["tags"], scenario.final.tagged)
        audit.user_tags_expected += scenario.final.tagged
        if tag_problems:
            audit.stale_tags += 1
            _find(audit, evidence, "stale-tags", scenario.key, "; ".join(tag_problems))
    return pk


def _item_problems(
    scenario: Scenario, item: dict[str, Any], state: dict[str, Any], count: int
) -> list[str]:
    """How an existing key's item differs from its object and its truth."""
    problems = []
    if count != 1:
        problems.append(f"{count} items")
    if state["exists"] and item.get("etag") != state["etag"]:
        problems.append(f"item etag {item.get('etag')} != object {state['etag']}")
    if (
        state["exists"]
        and state.get("version_id") not in (None, "null")
        and item.get("version_id") != state["version_id"]
    ):
        problems.append(f"item version {item.get('version_id')} != {state['version_id']}")
    if item.get("status") != scenario.expected_status:
        problems.append(f"status {item.get('status')} != {scenario.expected_status}")
    if scenario.expected_label is not None and item.get("label") != scenario.expected_label:
        problems.append(f"label {item.get('label')} != {scenario.expected_label}")
    return problems


def _tag_problems(item: dict[str, Any], tags: dict[str, str], user_tagged: bool) -> list[str]:
    problems = []
    ours = {k: v for k, v in tags.items() if k in OUR_TAGS}
    if item.get("status") == Status.CLASSIFIED.value:
        if ours.get(TAG_LABEL) != item.get("label"):
            problems.append(f"tag label {ours.get(TAG_LABEL)} != item {item.get('label')}")
        if ours.get(TAG_MODEL) != item.get("model_version"):
            problems.append(f"tag model {ours.get(TAG_MODEL)} != item {item.get('model_version')}")
        try:
            same = round(float(ours.get(TAG_CONFIDENCE, "nan")), 4) == round(
                float(item.get("confidence", "nan")), 4
            )
        except ValueError:
            same = False
        if not same:
            problems.append(
                f"tag confidence {ours.get(TAG_CONFIDENCE)} != item {item.get('confidence')}"
            )
    elif ours:
        problems.append(f"a {item.get('status')} item's object has imgclf tags {ours}")
    if user_tagged:
        lost = {k: v for k, v in USER_TAGS.items() if tags.get(k) != v}
        if lost:
            problems.append(f"user tags lost: {lost}")
    return problems


def _check_writes(audit: Audit, evidence: _Evidence, abandoned: set[str]) -> None:
    """The journal's item writes: how many completed, and none repeating the key's last."""
    writes = evidence.writes or []
    audit.item_writes = len(writes)
    audit.writes_without_invocation = sum(w.invocation is None for w in writes)
    # Without a fault plan the poller does not tag calls with their invocation (None);
    # then writes cannot be told apart by invocation, and every flush is compared.
    audit.attributed = not writes or audit.writes_without_invocation < len(writes)
    audit.completed_writes = sum(w.invocation not in abandoned for w in writes)
    for pk, pk_writes in evidence.writes_by_pk.items():
        for previous, write in zip(pk_writes, pk_writes[1:], strict=False):
            if (previous.etag, previous.model_version) == (write.etag, write.model_version):
                audit.duplicates_written += 1
                key = pk.split("/", 1)[1]
                detail = f"etag {write.etag} model {write.model_version} written again"
                _find(audit, evidence, "duplicates-written", key, detail)


def _scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """Every result item (the label registry and the markers removals leave are none)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        response = dynamodb.scan(**kwargs)
        items.extend(
            item
            for item in response.get("Items", [])
            if item[TABLE_PARTITION_KEY]["S"] != LABEL_REGISTRY_PK
            and item.get("status", {}).get("S") != REMOVED_STATUS
        )
        if "LastEvaluatedKey" not in response:
            return items
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _plain(value: dict[str, Any]) -> Any:
    (kind, inner), *_ = value.items()
    if kind == "S":
        return inner
    if kind == "N":
        return float(inner)
    if kind == "BOOL":
        return inner
    if kind == "NULL":
        return None
    if kind == "L":
        return [_plain(v) for v in inner]
    if kind == "M":
        return {k: _plain(v) for k, v in inner.items()}
    return inner


def _object_state(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    """HeadObject and the current version's tags; {'exists': False} if there is none."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NotFound", "405", "MethodNotAllowed"):
            return {"exists": False}
        raise
    args = {"Bucket": bucket, "Key": key}
    if head.get("VersionId") and head.get("VersionId") != "null":
        args["VersionId"] = head["VersionId"]
    tags = s3.get_object_tagging(**args).get("TagSet", [])
    return {
        "exists": True,
        "etag": str(head.get("ETag", "")).strip('"'),
        "version_id": head.get("VersionId"),
        "tags": {tag["Key"]: tag["Value"] for tag in tags},
    }


def _abandoned(environment: LocalEnvironment) -> set[str]:
    assert environment.poller is not None
    return set(environment.poller.stats.snapshot().get("abandoned", set()))


def _describe_outcome(outcome: Any) -> str:
    if outcome is None:
        return ""
    state = "abandoned" if outcome.abandoned else "completed"
    error = f", {outcome.error[:80]}" if outcome.error else ""
    return (
        f" ({state} after {outcome.seconds:.1f} s: {outcome.succeeded}/{outcome.size} "
        f"acknowledged{error})"
    )


def _describe_write(write: ItemWrite) -> str:
    return (
        f"{write.status} etag {str(write.etag)[:10]} model {write.model_version} "
        f"order {write.event_order} invocation {str(write.invocation)[:8]}"
    )


def _describe_item(item: dict[str, Any]) -> str:
    return (
        f"{item.get('status')} {item.get('label', '')} etag {str(item.get('etag'))[:10]} "
        f"version {str(item.get('version_id'))[:12]} model {item.get('model_version')} "
        f"order {item.get('event_order')}"
    )
