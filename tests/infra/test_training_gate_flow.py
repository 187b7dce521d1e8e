"""A failing quality gate fails the state machine's execution, not the SageMaker job.

train.py exits 0 whether its gate passed or not and records the verdict in model.json, so
the job succeeds and the state machine's own gate state reads the verdict: the training
task must lead to the gate Lambda, then to a Choice on its `passed`, whose failing branch is
a Fail state.
"""

from __future__ import annotations

from typing import Any

TRAINING_JOB_RESOURCE = ":states:::sagemaker:createTrainingJob.sync"


def test_the_training_job_is_followed_by_the_gate_and_a_failing_gate_fails_the_execution(
    env: Any,
) -> None:
    states = env.states()
    gate_function = env.logical_id("AWS::Lambda::Function", "GateFunction")
    # Given the one SageMaker training task
    (train,) = [s for s in states.values() if s.get("Resource", "").endswith(TRAINING_JOB_RESOURCE)]

    # Then its next state invokes the gate Lambda
    gate = states[train["Next"]]
    assert (gate["Type"], gate["Resource"]) == ("Task", f"<{gate_function}.Arn>")
    # And the gate's result feeds a Choice on `passed`
    choice = states[gate["Next"]]
    assert choice["Type"] == "Choice"
    passed = f"{gate['ResultPath']}.passed"
    (rule,) = choice["Choices"]
    assert (rule["Variable"], rule["BooleanEquals"]) == (passed, True)
    assert states[rule["Next"]]["Type"] != "Fail"
    # And anything but a pass ends in a Fail state, failing the execution
    assert states[choice["Default"]]["Type"] == "Fail"
    # And nothing catches the training task's failure into the gate's success path
    assert "Catch" not in train
