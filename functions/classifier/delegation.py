"""Which of a LiteRT model's ops its delegates run (XNNPACK on CPU), read from an allocated
interpreter: the function's own check that every op of a shipped model runs on XNNPACK
(tests/integration/classifier/test_xnnpack_delegation.py) and the benches' op counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DELEGATE_OP = "DELEGATE"  # the node a delegate puts in place of the ops it took


@dataclass(frozen=True)
class Delegation:
    """How many of a model's ops a delegate runs (on CPU, XNNPACK: int8 several times faster
    than LiteRT's own kernels); `outside` names the others, in graph order."""

    delegated: int
    total: int
    outside: tuple[str, ...]


def delegation(interpreter: Any) -> Delegation:
    """The ops of an allocated interpreter that its delegates took. LiteRT shows no execution
    plan: `_get_ops_details` lists the model's ops, then one DELEGATE node per partition a
    delegate took, whose inputs and outputs bound the ops it runs."""
    ops = interpreter._get_ops_details()
    model_ops = [op for op in ops if op["op_name"] != DELEGATE_OP]
    producer = {int(t): int(op["index"]) for op in model_ops for t in op["outputs"]}
    inputs = {int(op["index"]): [int(t) for t in op["inputs"]] for op in model_ops}
    taken: set[int] = set()
    for node in ops:
        if node["op_name"] != DELEGATE_OP:
            continue
        boundary = {int(t) for t in node["inputs"]}
        pending = [int(t) for t in node["outputs"]]
        while pending:
            tensor = pending.pop()
            index = producer.get(tensor)
            if tensor in boundary or index is None or index in taken:
                continue
            taken.add(index)
            pending += inputs[index]
    outside = tuple(op["op_name"] for op in model_ops if int(op["index"]) not in taken)
    return Delegation(len(taken), len(model_ops), outside)
