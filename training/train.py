"""The training entry point, for SageMaker script mode and for a laptop CPU alike.

    python -m training.train --dataset emoji            # locally, generates its data
    python train.py --epochs 20                         # SageMaker, from the source dir

It parses the options and runs `training.workflow.run`, which trains, evaluates, exports and
gates one model into the model directory. Exit codes: 0 when a model was written, whether
its gate passed or not (the verdict is model.json's `gate.passed`, which the state machine's
gate reads); 2 with one line on stderr when training cannot run (bad input).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if not __package__:
    # SageMaker runs `python train.py`: make `training` and `classifier` importable, and
    # keep this folder off the path so its modules (data, model, ...) shadow nothing.
    _here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    for _path in (_here.parent / "functions", _here.parent):
        if _path.is_dir() and str(_path) not in sys.path:
            sys.path.insert(0, str(_path))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter

import logging  # noqa: E402

from training.data import DataError  # noqa: E402
from training.datasets.emoji import FontNotFoundError  # noqa: E402
from training.fitting import TrainingError  # noqa: E402
from training.imagenet import MappingError  # noqa: E402
from training.train_config import ConfigError, parse_args  # noqa: E402
from training.workflow import run  # noqa: E402

log = logging.getLogger("training")
BAD_INPUT_ERRORS = (ConfigError, DataError, TrainingError, FontNotFoundError, MappingError)


def main(argv: list[str] | None = None) -> int:
    """Command line: 0 when a model was written (gate passed or not), 2 for bad input."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        result = run(parse_args(argv, os.environ))
    except BAD_INPUT_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if result.artifact_path is not None:
        log.info("artifact: %s", result.artifact_path)
    log.info("model directory: %s", result.model_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
