"""The cost bench's summary of its four passes: requests, Lambda ms, item sizes, dollars per
1M images beside the floor and Rekognition, and the capacity table. Pure formatting of what the
passes measured (the passes themselves are bench/cost.py)."""

from __future__ import annotations

import argparse
import dataclasses

from classifier.contracts import MAX_INDEX_SHARDS

from . import capacity, cost_tables, prices, pricing, usage

GOALS = {
    "generic": (cost_tables.GENERIC_GOAL_TAGS_OFF, cost_tables.GENERIC_GOAL_TAGS_ON),
    "tiny": (cost_tables.GOAL_TAGS_OFF, cost_tables.GOAL_TAGS_ON),
}


@dataclasses.dataclass(frozen=True)
class PassResult:
    """One pass: its settings, what it measured, and what the local run itself cost."""

    tags: bool
    record_concurrency: int
    measured: usage.Measured
    tags_per_object: float
    moto_seconds: float  # summed time inside moto's answers (not AWS latency)
    seconds: float

    @property
    def label(self) -> str:
        mode = (
            "sequential" if self.record_concurrency == 1 else f"{self.record_concurrency} at once"
        )
        return f"tags {'on' if self.tags else 'off'}, {mode}"


def records_at_once(result: PassResult) -> float:
    """Mean threads that made the function's calls per invocation (1 = one record at a time)."""
    batches = result.measured.batches
    return sum(b.threads for b in batches) / len(batches) if batches else 0.0


def registry_line(result: PassResult, with_off: float, with_on: float) -> str:
    """The label registry's writes in the pass: left out of the totals, priced here."""
    measured = result.measured
    units = usage.registry_write_units(measured.registry_values, measured.registry_writes)
    size = usage.registry_bytes(measured.registry_values)
    return (
        f"  not in the totals: the label registry's UpdateItems, once per Lambda environment "
        f"and index value ({result.label}: {measured.per_image(measured.registry_writes):.3f}"
        f" per image, {len(measured.registry_values)} values, item {size} B at the end, "
        f"{units / max(1, measured.registry_writes):.1f} WRU each): with them this "
        f"{measured.images}-image pass costs ${with_off:.2f} tags off, ${with_on:.2f} tags on; "
        f"over 1M images, one environment's values are about 0 per image"
    )


def index_entry_line(
    result: PassResult, tags_off: float, tags_on: float, goals: tuple[float, float]
) -> str:
    """What one more index entry per image would cost (at this run's entry size), and how
    many the goals leave room for."""
    sizes = usage.item_sizes(result.measured)
    largest = max((entry[1] for entry in sizes.index_entries.values()), default=1)
    one: float = pricing.index_entry_per_million(largest)
    room = ", ".join(
        f"{max(0.0, goal - total) / one:.2f} {name}"
        for name, goal, total in (("tags off", goals[0], tags_off), ("tags on", goals[1], tags_on))
    )
    return (
        f"  one more index entry per image (entries up to {largest} B here: "
        f"{-(-largest // 1024)} WRU): ${one:.3f} per 1M images, times the share of images a "
        f"sparse index holds; the goals leave room for {room} entries per image"
    )


def item_size_line(result: PassResult) -> str:
    """One pass's item and index entry sizes, and its generic labels per item."""
    sizes = usage.item_sizes(result.measured)
    entries = "; ".join(
        f"{name} entry {mean:.0f} B mean, {largest} B max, {over:.0%} over 1 KB"
        for name, (mean, largest, over) in sizes.index_entries.items()
    )
    return (
        f"  {result.label}: {sizes.items} items, {sizes.mean_bytes:.0f} B mean, "
        f"{sizes.max_bytes} B max, {sizes.over_one_unit:.0%} over 1 KB; {sizes.mean_labels:.1f} "
        f"generic labels per item ({sizes.mean_labels_bytes:.0f} B); {entries}"
    )


def report_lines(
    results: dict[tuple[bool, int], PassResult],
    args: argparse.Namespace,
    *,
    memory_mb: int,
    refresh_seconds: float,
    quotas: capacity.Quotas,
) -> list[str]:
    """Every table of the summary, then the last line (`per 1M images: ...`). `quotas` are the
    priced environment's default ones; the capacity table adds them raised."""
    on, off = results[(True, args.concurrency)], results[(False, args.concurrency)]
    on_seq, off_seq = results[(True, 1)], results[(False, 1)]
    ordered = [on_seq, on, off_seq, off]
    lines = ["", "requests per image (HTTP attempts; the queue's side from the batches):"]
    lines += cost_tables.requests_table(
        {r.label: usage.calls_per_image(r.measured) for r in ordered}
    )
    lines += duration_lines([(on_seq, on), (off_seq, off)], memory_mb)
    lines += ["", "items written (DynamoDB sizes, infra.table_costs; 1 write unit per KB):"]
    lines += [item_size_line(r) for r in (off, on)]
    usages = {r.label: usage.usage_of(r.measured, memory_mb) for r in (off, on)}
    body = max(max(r.measured.body_bytes, default=1) for r in ordered)
    floors = {
        "floor, tags off": pricing.floor_usage(tags=False, message_bytes=body),
        "floor, tags on": pricing.floor_usage(tags=True, message_bytes=body),
    }
    lines += ["", f"dollars per 1M images (us-east-1 prices read {prices.PRICES_READ_ON}):"]
    table, totals = cost_tables.cost_table({**usages, **floors})
    lines += table
    tags_off, tags_on = totals[off.label], totals[on.label]
    lines += other_cost_lines(on, off, memory_mb)
    lines.append(index_entry_line(on, tags_off, tags_on, GOALS[args.model]))
    lines += cost_tables.comparison_lines(
        tags_off,
        tags_on,
        totals["floor, tags off"],
        totals["floor, tags on"],
        args.custom_labels_tps,
        goals=GOALS[args.model],
    )
    lines.append(
        f"  tag storage (separate, monthly): {on.tags_per_object:.2f} imgclf tags per object = "
        f"${pricing.tag_storage_per_million_objects_month(on.tags_per_object):.2f} per month "
        f"per 1M tagged objects"
    )
    profile = usage.profile_of(on.measured, usages[on.label], model_refresh_seconds=refresh_seconds)
    raised = capacity.raised(quotas, profile, max_shards=MAX_INDEX_SHARDS)
    lines += ["", f"capacity ({on.label}; live ingest counts the upload's PUT, a backfill not):"]
    lines += cost_tables.capacity_lines(profile, [quotas, raised])
    lines.append(pricing.last_line(tags_off, tags_on))
    return lines


def duration_lines(pairs: list[tuple[PassResult, PassResult]], memory_mb: int) -> list[str]:
    """Lambda billed ms per image, sequential beside concurrent, and the function's CPU."""
    lines = [
        "",
        f"Lambda billed ms per image ({memory_mb} MB = one vCPU): each invocation's handler "
        "wall time, rounded up to 1 ms, over its records; priced without moto's own answer time "
        "but at least the function's CPU time (measured here in brackets):",
    ]
    for sequential, concurrent in pairs:
        seq, con = (
            (
                usage.usage_of(r.measured, memory_mb).lambda_billed_ms,
                usage.usage_of(r.measured, memory_mb, local=True).lambda_billed_ms,
            )
            for r in (sequential, concurrent)
        )
        lines.append(
            f"  {sequential.label}: {seq[0]:.1f} ms ({seq[1]:.1f}); {concurrent.label}: "
            f"{con[0]:.1f} ms ({con[1]:.1f}); sequential / concurrent = "
            f"{seq[0] / con[0]:.2f} ({seq[1] / con[1]:.2f}); records handled at once: "
            f"{records_at_once(concurrent):.1f}"
        )
    ordered = [result for pair in pairs for result in pair]
    lines.append(
        "  the function's CPU per image on this CPU (decode, inference, items, SDK): "
        + "; ".join(f"{r.label} {r.measured.cpu_ms_per_image():.1f} ms" for r in ordered)
    )
    return lines


def other_cost_lines(on: PassResult, off: PassResult, memory_mb: int) -> list[str]:
    """The totals with Lambda's duration as measured here, and with the label registry."""
    _, measured_totals = cost_tables.cost_table(
        {r.label: usage.usage_of(r.measured, memory_mb, local=True) for r in (off, on)}
    )
    _, registry_totals = cost_tables.cost_table(
        {r.label: usage.usage_of(r.measured, memory_mb, registry=True) for r in (off, on)}
    )
    return [
        f"  with Lambda's duration as measured here (moto's time left in): "
        f"${measured_totals[off.label]:.2f} tags off, ${measured_totals[on.label]:.2f} tags on",
        registry_line(on, registry_totals[off.label], registry_totals[on.label]),
    ]
