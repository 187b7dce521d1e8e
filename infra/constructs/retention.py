"""Log retention from a number of days (cdk.json's `log_retention_days`)."""

from __future__ import annotations

from aws_cdk import aws_logs as logs

# The values CloudWatch Logs accepts, by days (environment_config.LOG_RETENTION_DAYS checks
# cdk.json against the same list; a test keeps the two equal).
RETENTION_BY_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def log_retention(days: int) -> logs.RetentionDays:
    """The CloudWatch retention for `days`; other values are a configuration error."""
    try:
        return RETENTION_BY_DAYS[days]
    except KeyError:
        allowed = ", ".join(str(value) for value in RETENTION_BY_DAYS)
        raise ValueError(f"log_retention_days must be one of {allowed}, got {days}") from None
