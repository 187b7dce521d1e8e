"""Published us-east-1 prices, as read on PRICES_READ_ON. Update the date with the numbers.

Sources (the public pages, as stored copies were read on that date):
- Lambda: https://aws.amazon.com/lambda/pricing/ (Arm, first 7.5 billion GB-s a month; the
  same figures as artillery's lib/platform/aws-lambda/prices.js, arm64 base 1333340e-11).
- SQS: https://aws.amazon.com/sqs/pricing/ (standard queue, first 100 billion requests a month
  after the free million; "each 64 KB chunk of a payload is billed as 1 request").
- S3: https://aws.amazon.com/s3/pricing/ (S3 Standard: PUT, COPY, POST, LIST $0.005 per 1,000;
  GET, SELECT and all other requests $0.0004 per 1,000. Object tags: $0.01 per 10,000 tags per
  month, "the requests associated with adding and updating object tags are priced the same as
  existing request prices": PutObjectTagging is a PUT-class request, GetObjectTagging and
  HeadObject GET-class).
- DynamoDB: https://aws.amazon.com/dynamodb/pricing/on-demand/ (on-demand after the
  November 2024 cut: $0.625 per million write request units, $0.125 per million read request
  units; a standard write unit covers 1 KB (infra.table_costs), a strongly consistent read
  unit 4 KB).
- CloudWatch: https://aws.amazon.com/cloudwatch/pricing/ (Logs standard ingestion $0.50 per
  GB, the first tier of Lambda's vended-log pricing; storage $0.03 per GB-month).
- SSM: https://aws.amazon.com/systems-manager/pricing/ (standard throughput free; higher
  throughput $0.05 per 10,000 API interactions).
- Rekognition: https://aws.amazon.com/rekognition/pricing/ (DetectLabels, Group 2 APIs,
  $1.00 per 1,000 images for the first million a month; Custom Labels $4.00 per inference
  unit hour).
"""

from __future__ import annotations

PRICES_READ_ON = "2026-11-23"
REGION = "us-east-1"

LAMBDA_ARM64_GB_SECOND = 0.0000133334
LAMBDA_REQUEST = 0.20 / 1_000_000

SQS_STANDARD_REQUEST = 0.40 / 1_000_000
SQS_BILLING_CHUNK_BYTES = 64 * 1024

S3_PUT_CLASS_REQUEST = 0.005 / 1_000
S3_GET_CLASS_REQUEST = 0.0004 / 1_000
S3_TAG_MONTH = 0.01 / 10_000

DYNAMODB_WRITE_REQUEST_UNIT = 0.625 / 1_000_000
DYNAMODB_READ_REQUEST_UNIT = 0.125 / 1_000_000
DYNAMODB_READ_UNIT_BYTES = 4096

CLOUDWATCH_LOGS_INGESTED_GB = 0.50
CLOUDWATCH_LOGS_STORED_GB_MONTH = 0.03

SSM_HIGHER_THROUGHPUT_INTERACTION = 0.05 / 10_000

REKOGNITION_DETECT_LABELS_IMAGE = 1.00 / 1_000
REKOGNITION_CUSTOM_LABELS_INFERENCE_UNIT_HOUR = 4.00
# AWS publishes no images-per-second figure for one inference unit: it depends on the model
# and the image size, and AWS's own guide ("Calculate inference units for an Amazon
# Rekognition Custom Labels model", AWS ML blog, 2021) measures it per model. This is an
# assumption for a classification model on small images, at full utilisation around the
# clock (the best case for Custom Labels: an idle unit is billed too). `--custom-labels-tps`.
CUSTOM_LABELS_IMAGES_PER_SECOND_PER_UNIT = 5.0

# Which S3 request class each operation the function calls is billed in.
S3_PUT_CLASS_OPERATIONS = frozenset(
    {"PutObject", "PutObjectTagging", "CopyObject", "ListObjectsV2", "ListObjectVersions"}
)
S3_FREE_OPERATIONS = frozenset({"DeleteObject", "DeleteObjectTagging"})  # DELETE is free
