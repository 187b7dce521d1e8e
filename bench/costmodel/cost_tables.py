"""The bench's printed tables: requests, duration, dollars, capacity. Pure formatting."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from . import capacity, prices
from .pricing import (
    Usage,
    cost_per_image,
    custom_labels_per_million,
    per_million,
    rekognition_detect_labels_per_million,
)

GOAL_TAGS_OFF = 3.00  # dollars per 1M images (the tiny test model's run)
GOAL_TAGS_ON = 8.00
# With generic labels on real photographs (issue 21): the labels map in the item and in the
# index entry, and Lite0's inference.
GENERIC_GOAL_TAGS_OFF = 3.25
GENERIC_GOAL_TAGS_ON = 8.25


def requests_table(columns: Mapping[str, Mapping[str, float]]) -> list[str]:
    """Requests per image by service.Operation, one column per pass."""
    names = sorted({name for calls in columns.values() for name in calls})
    width = max(len(name) for name in names) if names else 10
    lines = ["  " + " " * width + "".join(f" {label:>22}" for label in columns)]
    for name in names:
        cells = "".join(f" {calls.get(name, 0.0):>22.3f}" for calls in columns.values())
        lines.append(f"  {name:<{width}}{cells}")
    return lines


def cost_table(columns: Mapping[str, Usage]) -> tuple[list[str], dict[str, float]]:
    """Dollars per 1M images by line of the bill, one column per usage; and each total."""
    costs = {label: cost_per_image(usage) for label, usage in columns.items()}
    lines_of_bill = next(iter(costs.values())).keys() if costs else []
    width = max(len(line) for line in lines_of_bill) if costs else 10
    lines = ["  " + " " * width + "".join(f" {label:>22}" for label in columns)]
    for line in lines_of_bill:
        cells = "".join(f" {per_million(cost[line]):>22.4f}" for cost in costs.values())
        lines.append(f"  {line:<{width}}{cells}")
    totals = {label: per_million(sum(cost.values())) for label, cost in costs.items()}
    lines.append(f"  {'total':<{width}}" + "".join(f" {t:>22.2f}" for t in totals.values()))
    return lines, totals


def comparison_lines(
    tags_off: float,
    tags_on: float,
    floor_off: float,
    floor_on: float,
    custom_labels_tps: float,
    goals: tuple[float, float] = (GOAL_TAGS_OFF, GOAL_TAGS_ON),
) -> list[str]:
    """The run's price against the floor, Rekognition, and the goals (tags off, tags on)."""
    goal_off, goal_on = goals
    detect = rekognition_detect_labels_per_million()
    custom = custom_labels_per_million(custom_labels_tps)
    return [
        f"  floor (requests no design avoids): ${floor_off:.2f} tags off, ${floor_on:.2f} tags on;"
        f" this run is {tags_off / floor_off:.1f}x and {tags_on / floor_on:.1f}x the floor",
        f"  Rekognition DetectLabels: ${detect:,.2f} per 1M images "
        f"(${prices.REKOGNITION_DETECT_LABELS_IMAGE * 1000:.2f} per 1,000): "
        f"{detect / tags_on:,.0f}x the tags-on price, {detect / tags_off:,.0f}x tags off",
        f"  Rekognition Custom Labels: ${custom:,.2f} per 1M images at "
        f"{custom_labels_tps:g} images/s per inference unit "
        f"(${prices.REKOGNITION_CUSTOM_LABELS_INFERENCE_UNIT_HOUR:.2f}/h, fully used): "
        f"{custom / tags_on:,.0f}x the tags-on price",
        f"  goal tags off <= ${goal_off:.2f}: {_met(tags_off, goal_off)}"
        f" (${tags_off:.2f}); tags on <= ${goal_on:.2f}: {_met(tags_on, goal_on)}"
        f" (${tags_on:.2f})",
    ]


def _met(value: float, goal: float) -> str:
    return "met" if value <= goal else "NOT met"


def capacity_lines(profile: capacity.Profile, quotas: Sequence[capacity.Quotas]) -> list[str]:
    """The capacity table under each set of quotas, where it binds, the backfill and ramps."""
    lines: list[str] = []
    for quota in quotas:
        live = capacity.limits(profile, quota, uploads_per_image=1.0)
        backfill = capacity.limits(profile, quota, uploads_per_image=0.0)
        first = capacity.binding(live)
        lines.append(
            f"  {quota.name} quotas (ESM max_concurrency {quota.max_concurrency}, account "
            f"concurrency {quota.account_concurrency:,}, {quota.s3_prefixes} S3 prefix(es), "
            f"SSM {quota.ssm_tps:,.0f} TPS):"
        )
        lines += capacity.table_lines(live)
        hours = capacity.backfill_hours(backfill)
        bound = capacity.binding(backfill)
        ramp = capacity.dynamodb_ramp_minutes(profile, bound.max_rate)
        warm_up = (
            f"; a new on-demand table needs up to {ramp:.0f} min more to double up to that "
            "rate, unless pre-warmed"
            if ramp
            else ""
        )
        lines.append(
            f"  binds first: {first.name} at {first.max_rate:,.0f} images/s; backfill of "
            f"{capacity.BACKFILL_OBJECTS / 1e6:,.0f}M objects: {hours:,.1f} h "
            f"({bound.name} at {bound.max_rate:,.0f}/s{warm_up})"
        )
        ramps = ", ".join(
            f"{rate:,}/s: concurrency {capacity.concurrency(profile, rate):,.0f}, ESM ramp "
            f"{capacity.esm_ramp_minutes(profile, rate, quota):.1f} min, new-table DynamoDB "
            f"ramp {capacity.dynamodb_ramp_minutes(profile, rate):.0f} min"
            for rate in capacity.RATES
        )
        lines.append(f"  ramps: {ramps}")
        lines.append("")
    return lines
