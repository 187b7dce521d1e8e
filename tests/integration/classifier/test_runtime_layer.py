"""The Lambda image's Python layer: only requirements.txt, no TensorFlow, handler works.

A fresh venv gets exactly functions/classifier/requirements.txt (cached by its hash), and the
handler runs there against a moto server on loopback, the way it runs in the container.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

from classifier import png_unfilter
from classifier.contracts import ModelPointer, artifact_key
from infra.environment_config import load_environment
from infra.resources import function_environment, results_table_create_args
from tests.fixtures.cache_entries import exclusive
from tests.fixtures.events import s3_body, s3_record, sqs_event

REPO = Path(__file__).resolve().parents[3]
REQUIREMENTS = REPO / "functions" / "classifier" / "requirements.txt"
DOCKERFILE = REPO / "functions" / "classifier" / "Dockerfile"
PRUNE = REPO / "functions" / "classifier" / "prune_runtime.sh"
INSTALL_BUDGET_MB = 200

RUN_HANDLER = """
import json, sys
from classifier.handler import lambda_handler
event = json.load(sys.stdin)

class Context:
    function_name = "imgclf-classifier"; memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:imgclf"
    aws_request_id = "r-1"
    def get_remaining_time_in_millis(self): return 30000

response = lambda_handler(event, Context())
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "moto"))
print("RESULT " + json.dumps({"response": response, "heavy_modules": heavy}))
"""


@pytest.fixture(scope="session")
def runtime_python() -> Path:
    """A venv holding only the function's requirements (built once per requirements hash)."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + PRUNE.read_bytes()).hexdigest()[:12]
    root = REPO / ".imgclf" / "test-cache" / f"runtime-venv-{digest}"
    python = root / "bin" / "python"
    with exclusive(root.parent / f".{root.name}.lock"):  # parallel workers build it once
        if (root / ".complete").exists():
            return python
        venv.EnvBuilder(with_pip=True, clear=True).create(root)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "--only-binary=:all:",
                "-r",
                str(REQUIREMENTS),
            ],
            check=True,
        )
        subprocess.run(["sh", str(PRUNE), str(site_packages(python))], check=True)
        (root / ".complete").touch()
    return python


def site_packages(python: Path) -> Path:
    return next((python.parent.parent / "lib").glob("python3*/site-packages"))


def installed_mb(site: Path) -> float:
    """Size of what requirements.txt installed (the venv's own pip/setuptools excluded)."""
    tooling = ("pip", "setuptools", "pkg_resources", "_distutils_hack")
    total = sum(
        f.stat().st_size
        for f in site.rglob("*")
        if f.is_file() and f.relative_to(site).parts[0].split("-")[0] not in tooling
    )
    return total / 2**20


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_the_requirements_hold_no_tensorflow() -> None:
    names = {
        line.split("==")[0].strip().lower()
        for line in REQUIREMENTS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert names == {
        "ai-edge-litert",
        "pillow",
        "pyspng",
        "isal",
        "numpy",
        "aws-lambda-powertools",
        "boto3",
    }


def test_dockerfile_builds_the_handler_on_the_lambda_base_image() -> None:
    text = DOCKERFILE.read_text()
    assert "FROM public.ecr.aws/lambda/python:3.12" in text
    assert 'CMD ["classifier.handler.lambda_handler"]' in text
    assert "-r /tmp/requirements.txt" in text
    assert 'sh /tmp/prune_runtime.sh "${LAMBDA_TASK_ROOT}"' in text  # the tested layer is shipped


def test_dockerfile_builds_the_native_unfilter_for_the_images_architecture() -> None:
    # The build stage compiles it with the same script as make venv, on the same base image,
    # and only the library reaches the function, where png_unfilter looks for it
    text = DOCKERFILE.read_text()
    assert "FROM public.ecr.aws/lambda/python:3.12 AS native" in text
    assert "RUN sh /tmp/native/build.sh /tmp/native" in text
    library = "/tmp/native/libimgclf_unfilter.*.so"
    assert f"COPY --from=native {library} ${{LAMBDA_TASK_ROOT}}/classifier/native/" in text
    assert png_unfilter.LIBRARY.parent.name == "native"
    assert png_unfilter.LIBRARY.parent.parent.name == "classifier"


def test_handler_runs_with_only_the_runtime_requirements(
    runtime_python: Path, moto_endpoint: str, tiny_model_tarball: Path, tmp_path: Path
) -> None:
    # Given a moto server holding the function's resources and a promoted tiny model
    clients = {
        "endpoint_url": moto_endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    s3 = boto3.client("s3", **clients)
    s3.create_bucket(Bucket="images")
    s3.create_bucket(Bucket="models")
    boto3.resource("dynamodb", **clients).create_table(**results_table_create_args("results"))
    s3.upload_file(str(tiny_model_tarball), "models", artifact_key("tiny-v1"))
    pointer = ModelPointer(f"s3://models/{artifact_key('tiny-v1')}", "tiny-v1")
    boto3.client("ssm", **clients).put_parameter(
        Name="/imgclf/rt/model", Type="String", Value=pointer.to_json()
    )
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (30, 200, 40)).save(buffer, "JPEG")
    etag = s3.put_object(Bucket="images", Key="leaf.jpg", Body=buffer.getvalue())["ETag"]

    # When the handler runs in the runtime-only venv (PYTHONPATH: the function's source only)
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO / "functions"),
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "MODEL_CACHE_DIR": str(tmp_path / "models"),
        "PYTHONNOUSERSITE": "1",
        **function_environment(
            load_environment("local"),
            results_table="results",
            model_pointer_parameter="/imgclf/rt/model",
        ),
    }
    event = sqs_event(s3_body(s3_record("images", "leaf.jpg", etag=etag.strip('"'))))
    run = subprocess.run(
        [str(runtime_python), "-c", RUN_HANDLER],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(
        next(line[7:] for line in run.stdout.splitlines() if line.startswith("RESULT "))
    )

    # Then it classified the image, and nothing heavy was imported
    assert result == {"response": {"batchItemFailures": []}, "heavy_modules": []}
    item = (
        boto3.resource("dynamodb", **clients)
        .Table("results")
        .get_item(Key={"pk": "images/leaf.jpg"})["Item"]
    )
    assert item["label"] == "green" and item["status"] == "CLASSIFIED"


def test_runtime_layer_fits_the_install_budget(runtime_python: Path) -> None:
    assert installed_mb(site_packages(runtime_python)) <= INSTALL_BUDGET_MB


def test_runtime_venv_cannot_import_tensorflow(runtime_python: Path) -> None:
    run = subprocess.run(
        [str(runtime_python), "-c", "import tensorflow"],
        capture_output=True,
        env={"PATH": os.environ["PATH"], "PYTHONNOUSERSITE": "1"},
    )
    assert run.returncode != 0 and b"No module named 'tensorflow'" in run.stderr


@pytest.mark.parametrize(("machine", "litert"), [("aarch64", "1.4.0"), ("x86_64", "2.3.0")])
def test_requirements_resolve_to_wheels_for_both_lambda_architectures(
    machine: str, litert: str, tmp_path: Path
) -> None:
    # pip evaluates platform_machine from this host, so ask for the wheel the marker selects
    wanted = [
        line.split(";")[0].strip()
        for line in REQUIREMENTS.read_text().splitlines()
        if line.strip()
        and not line.startswith("#")
        and ("ai-edge-litert" not in line or litert in line)
    ]
    # Lambda's Python 3.12 runs on Amazon Linux 2023 (glibc 2.34)
    platforms = [
        arg
        for tag in ("2_17", "2_26", "2_27", "2_28", "2_34")
        for arg in ("--platform", f"manylinux_{tag}_{machine}")
    ]
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            *platforms,
            "--python-version",
            "3.12",
            "-d",
            str(tmp_path),
            *wanted,
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-1500:]
    assert any(f"ai_edge_litert-{litert}" in p.name for p in tmp_path.iterdir())
