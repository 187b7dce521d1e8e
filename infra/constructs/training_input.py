"""The training state machine's execution input: its defaults, the version rule, and the
first states, which merge the input over the defaults and derive the job's names.

Execution input (every field optional except `version` when training):

    {
      "action": "train",            # or "reclassify": skip training, re-enqueue objects whose
                                    #   recorded model_version differs from the live model's
      "version": "v20260101-1",     # train: the new model's version (contracts'
                                    #   MODEL_VERSION_RULE, checked first); names the job
                                    #   and models/<version>/model.tar.gz
      "data_uri": "s3://<models-bucket>/data/<set>/",  # train: the training channel, a
                                    #   prefix per label (default: the whole data/ prefix);
                                    #   the training role reads nothing outside data/
      "hyperparameters": {"epochs": "10", "arch": "..."},  # train: strings, passed to
                                    #   train.py as --name value; version/sagemaker_* are ours
      "promote": true,              # train: write the pointer when the gate passes; false
                                    #   keeps models/<version>/model.tar.gz for `model promote`
      "force": false,               # train: promote even if the candidate is worse than the
                                    #   live model on a shared evaluation set
      "reclassify": false           # train: after promotion, re-enqueue older objects too
    }

Unknown fields are ignored. `imgclf train --cloud` sends {"version": ..., "promote": ...},
and "data_uri" with `--data-dir s3://<models-bucket>/data/<set>/`, whose layout it checks first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from classifier.contracts import (
    DATA_PREFIX,
    MODEL_VERSION_MAX_LENGTH,
    MODEL_VERSION_PATTERN,
    MODELS_PREFIX,
    artifact_key,
)
from infra.constructs.training_source import TRAINING_PROGRAM
from infra.environment_config import JOB_NAME_SUFFIX_LENGTH, TRAINING_JOB_NAME_MAX_LENGTH

ACTION_TRAIN = "train"
VERSION_CHOICE = "ValidVersion?"
INVALID_VERSION = "InvalidVersion"
ACTION_RECLASSIFY = "reclassify"

DEFAULT_INPUT: dict[str, Any] = {
    "action": ACTION_TRAIN,
    "hyperparameters": {},
    "promote": True,
    "force": False,
    "reclassify": False,
}


def version_condition(path: str) -> str:
    """A JSONata condition: the value at `path` is a string that can name a model version.

    The same rule as `classifier.contracts.model_version_problem`, in the state machine.
    """
    return (
        f"{{% $type({path}) = 'string' and $length({path}) <= {MODEL_VERSION_MAX_LENGTH} "
        f"and $contains({path}, /^(?:{MODEL_VERSION_PATTERN})$/) %}}"
    )


def check_job_name_prefix(prefix: str) -> str:
    """`prefix` if every job name PrepareTraining builds from it fits SageMaker's limit."""
    longest = len(prefix) + 1 + MODEL_VERSION_MAX_LENGTH + 1 + JOB_NAME_SUFFIX_LENGTH
    if longest > TRAINING_JOB_NAME_MAX_LENGTH:
        raise ValueError(
            f"training job names {prefix}-<version>-<suffix> could be {longest} characters "
            f"long (SageMaker allows {TRAINING_JOB_NAME_MAX_LENGTH}): shorten the prefix"
        )
    return prefix


@dataclass(frozen=True)
class InputStates:
    """The input states: `start` (defaults, then the merged input) and `training` (the job's
    names, then its hyperparameters), each a chain to continue."""

    start: sfn.Chain
    training: sfn.Chain


def input_states(
    scope: Construct, models_bucket: s3.IBucket, *, job_name_prefix: str, source_url: str
) -> InputStates:
    """Defaults merged under the execution input; then the training job's derived names."""
    bucket = models_bucket.bucket_name
    defaults = sfn.Pass(
        scope,
        "ApplyDefaults",
        comment="Defaults for every optional input field",
        result=sfn.Result.from_object(
            {**DEFAULT_INPUT, "data_uri": f"s3://{bucket}/{DATA_PREFIX}"}
        ),
        result_path="$.defaults",
    )
    read_input = sfn.Pass(
        scope,
        "ReadInput",
        parameters={"args.$": "States.JsonMerge($.defaults, $$.Execution.Input, false)"},
    )
    prepare_training = sfn.Pass(
        scope,
        "PrepareTraining",
        comment="Job name, output, checkpoint and artifact locations of this version",
        parameters={
            # A short random suffix (a UUID's first group): a retried version gets a fresh
            # job name.
            "name.$": (
                f"States.Format('{job_name_prefix}-{{}}-{{}}', $.args.version, "
                "States.ArrayGetItem(States.StringSplit(States.UUID(), '-'), 0))"
            ),
            "output_uri.$": f"States.Format('s3://{bucket}/{MODELS_PREFIX}{{}}/training/', "
            "$.args.version)",
            "checkpoint_uri.$": f"States.Format('s3://{bucket}/{MODELS_PREFIX}{{}}/checkpoints/'"
            ", $.args.version)",
            "artifact_key.$": f"States.Format('{artifact_key('{}')}', $.args.version)",
            "pointer": {
                "uri.$": f"States.Format('s3://{bucket}/{artifact_key('{}')}', $.args.version)",
                "version.$": "$.args.version",
            },
            "fixed_hyperparameters": {
                "version.$": "$.args.version",
                "sagemaker_program": TRAINING_PROGRAM,
                "sagemaker_submit_directory": source_url,
                "sagemaker_region": Stack.of(scope).region,
                "sagemaker_container_log_level": "20",
            },
        },
        result_path="$.job",
    )
    merge_hyperparameters = sfn.Pass(
        scope,
        "MergeHyperparameters",
        comment="The caller's hyperparameters; version and sagemaker_* are always ours",
        parameters={
            "merged.$": "States.JsonMerge($.args.hyperparameters, "
            "$.job.fixed_hyperparameters, false)"
        },
        result_path="$.hyperparameters",
    )
    return InputStates(defaults.next(read_input), prepare_training.next(merge_hyperparameters))
