"""Chaos soak of the local pipeline: a seeded workload under injected faults, then an audit.

    .venv/bin/python -m bench.soak [--images 10000] [--seed 0] [--no-faults] [--no-versioned]
        [--workers 2] [--retry-mode standard|adaptive|legacy] [--baseline-images N]
        [--function-timeout SECONDS] [--max-backlog 300]

All faults of `FaultPlan.chaos(seed)` (docs/faults/chaos.json) are on unless `--no-faults`.
The function runs with a deployed environment's timeout (cdk.json `dev`: 30 s) and the queue's
visibility timeout is twice that; `--workers` is the function's concurrency.

The workload (ground truth known for every key): noisy red/green/blue JPEGs that the tiny
test model labels correctly, uploaded from a few threads while the poller works. Keys are
plain uploads, overwrite bursts (2-5 colours in quick succession; the last one is the truth),
create-then-delete, delete-then-re-create, delete racing create (the second operation from
another thread right after the first), uploads carrying the user's own tags, bad files
(truth: REJECTED) and a few `poison/` keys whose GET fails while the faults are on. The
images bucket is versioned unless `--no-versioned`. `tiny-v2` (the same weights) is promoted
when half the uploads are done.

Uploads wait while more than `--max-backlog` messages are visible in the queue: moto's
ReceiveMessage walks the whole queue on every call, so an unbounded backlog slows every receive.

Then: wait until the queue is empty (visible + in flight + delayed, stable for a few
seconds), list the DLQ, lift the faults, redrive the DLQ, drain again and audit: one line per
invariant, counted per key. The handler's Powertools metrics (EMF lines on stdout) are
captured and compared with the item writes of the invocations that completed (the fault
injector's journal). A no-fault pass of the same workload (`--baseline-images`, default
min(N, 1000)) runs first for the throughput baseline.

The last line reads `lost N, wrong N, stale-tags N, dlq N, duplicates-written N`; the exit code
is 0 only if all five are 0, the metrics add up and the DLQ held only the planted poison keys.

The modules, in the order a pass uses them: `plan` (sizes, timeouts, model versions, the fault
plan), `workload` (the scenarios and their truth), `models` (the tiny model's versions and the
broken one), `queues` (counts, drain, backlog), `metrics` (the EMF capture), `uploads` (the
workload uploaded while the model changes), `run` (one pass, and the soak's passes), `audit`
(the invariants), `pass_result` and `report` (the printed figures and the last line).
"""
