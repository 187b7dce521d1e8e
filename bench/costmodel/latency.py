"""AWS-like latency for the function's calls: a latency-only fault plan (docs/faults.md).

Client-observed latency of one call from a Lambda function to a service in the same Region,
over a warm (kept-alive) HTTPS connection, as log-normal (median, p99) in milliseconds:

- DynamoDB GetItem / PutItem / UpdateItem / DeleteItem: AWS documents single-digit
  millisecond service latency for atomic operations ("How can I troubleshoot high latency on
  an Amazon DynamoDB table?", AWS Knowledge Center; "Understanding Amazon DynamoDB latency",
  AWS Database Blog) and client-side time on top. Writes are a little slower than reads
  (replicated to a quorum before they answer), and the tail is an order above the median.
- S3 GetObject of a small image: the S3 performance guidelines give 100-200 ms first-byte
  latency as what to design for (the tail); in-region Lambda-to-S3 measurements of small
  objects report 60-120 ms for a whole upload with TLS setup (kkc.github.io, "How I Analyze
  S3 Upload Latency Issues", 2020) and a few tens of ms on a warm connection. Median 25 ms,
  p99 150 ms.
- S3 GetObjectTagging / HeadObject: metadata reads, no body: median 15 ms, p99 80 ms.
- S3 PutObjectTagging: a metadata write, the slowest of the small calls: median 30 ms,
  p99 150 ms.
- SSM GetParameter: median 15 ms, p99 60 ms (once per MODEL_REFRESH_SECONDS per environment).

These are assumptions with sources, not measurements of this project on AWS: change them
here and every figure the bench prints follows.
"""

from __future__ import annotations

from infra.local.faults import CallFaults, FaultPlan, Latency

AWS_LATENCY_MS: dict[tuple[str, str], tuple[float, float]] = {
    ("dynamodb", "GetItem"): (4.0, 15.0),
    ("dynamodb", "PutItem"): (6.0, 20.0),
    ("dynamodb", "UpdateItem"): (6.0, 20.0),
    ("dynamodb", "DeleteItem"): (6.0, 20.0),
    ("s3", "GetObject"): (25.0, 150.0),
    ("s3", "GetObjectTagging"): (15.0, 80.0),
    ("s3", "HeadObject"): (15.0, 80.0),
    ("s3", "PutObjectTagging"): (30.0, 150.0),
    ("ssm", "GetParameter"): (15.0, 60.0),
}


def aws_latency_plan(seed: int = 0) -> FaultPlan:
    """A plan that only adds latency (no errors, no crashes, no delivery faults)."""
    return FaultPlan(
        seed=seed,
        calls=tuple(
            CallFaults(service=service, operation=operation, latency=Latency(median, p99))
            for (service, operation), (median, p99) in AWS_LATENCY_MS.items()
        ),
    )
