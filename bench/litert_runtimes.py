"""The LiteRT runtimes whose outputs bench/litert_parity.py compares, provisioned into a cache.

- the project's venv: the gate's LiteRT (training/requirements.txt, x86_64);
- the same venv with another ai-edge-litert wheel in front of it on PYTHONPATH (a
  `pip install --target` directory): the version axis on this machine;
- Debian bookworm's aarch64 Python 3.11 under `qemu-aarch64-static`, with the function's
  requirements as pip selects them on aarch64 (so the Lambda's arm64 LiteRT): the
  architecture axis. The sysroot comes from a private apt state (arm64 lists only; the host's
  apt configuration and dpkg database are not touched) and `dpkg-deb -x`.

Every runtime runs bench/litert_worker.py, which imports the function's own model wrapper.
Versions are read from the requirements files, never written here.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from packaging.markers import default_environment
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
FUNCTION_REQUIREMENTS = REPO / "functions" / "classifier" / "requirements.txt"
GATE_REQUIREMENTS = REPO / "training" / "requirements.txt"
WORKER = REPO / "bench" / "litert_worker.py"
LITERT = "ai-edge-litert"
CACHE_ENV = "IMGCLF_CACHE"  # the project's cache root variable (training/datasets/photos.py)
COMPLETE = ".complete"

DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SUITE = "bookworm"
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
# bookworm's python3.11 and the shared libraries it, numpy and LiteRT load: the Depends
# closure of python3.11-minimal, libpython3.11-stdlib and libstdc++6, less tools (perl, dpkg).
SYSROOT_PACKAGES = (
    "gcc-12-base libbz2-1.0 libc6 libcom-err2 libcrypt1 libdb5.3 libexpat1 libffi8 libgcc-s1 "
    "libgssapi-krb5-2 libk5crypto3 libkeyutils1 libkrb5-3 libkrb5support0 liblzma5 "
    "libncursesw6 libnsl2 libpython3.11-minimal libpython3.11-stdlib libreadline8 "
    "libsqlite3-0 libssl3 libstdc++6 libtinfo6 libtirpc-common libtirpc3 libuuid1 "
    "media-types python3.11-minimal readline-common zlib1g"
).split()
EMULATED_PYTHON = "3.11"  # bookworm's; the Lambda base image runs 3.12 (no Debian arm64 3.12)
QEMU = "qemu-aarch64-static"  # Debian package qemu-user-static
QEMU_CPU = "neoverse-n1"  # Graviton2's core, the arm64 Lambda's CPU
# The function's native PNG unfilter, cross-built for the emulated Python as the Lambda image's
# Dockerfile builds it (functions/classifier/native/build.sh).
CROSS_CC = "aarch64-linux-gnu-gcc"  # Debian package gcc-aarch64-linux-gnu
NATIVE = REPO / "functions" / "classifier" / "native"
# manylinux tags a glibc 2.36 (bookworm) aarch64 system accepts, as pip --platform values
AARCH64_PLATFORMS = ("manylinux2014", "manylinux_2_17", "manylinux_2_27", "manylinux_2_28")


class RuntimeUnavailableError(RuntimeError):
    """A runtime cannot be provisioned or run here (a tool or the network is missing)."""


class RuntimeMismatchError(RuntimeError):
    """The worker ran a LiteRT version or machine other than the runtime promised."""


@dataclass(frozen=True)
class Outputs:
    """What one runtime computed for a model's images (see bench/litert_worker.py)."""

    litert: str
    machine: str
    python: str
    raw: np.ndarray  # dequantized network outputs, one row per image
    top1: np.ndarray  # index of the labels' top-1 (before the unknown decision)
    decided: np.ndarray  # the decided label index, -1 for unknown
    scale: float  # the output tensor's quantization step
    seconds: float


@dataclass(frozen=True)
class Runtime:
    """A Python that imports one LiteRT: a command, and what goes first on PYTHONPATH."""

    litert: str
    machine: str
    command: tuple[str, ...]
    pythonpath: tuple[Path, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.litert} {self.machine}"

    def run(self, model_dir: Path, inputs: Path, out: Path, timeout: float = 3600) -> Outputs:
        """Run the model on the inputs (.npy of H x W x 3 uint8) in this runtime."""
        started = time.perf_counter()
        report = self._worker([str(model_dir), str(inputs), str(out)], timeout)
        seconds = time.perf_counter() - started
        if (report["litert"], report["machine"]) != (self.litert, self.machine):
            raise RuntimeMismatchError(
                f"expected LiteRT {self.name}, the worker ran {report['litert']} "
                f"{report['machine']}"
            )
        with np.load(out) as saved:
            return Outputs(
                litert=report["litert"],
                machine=report["machine"],
                python=report["python"],
                raw=saved["raw"],
                top1=saved["top1"],
                decided=saved["decided"],
                scale=float(saved["scale"]),
                seconds=seconds,
            )

    def decode(self, model_dir: Path, files: Sequence[Path], out: Path) -> np.ndarray:
        """The function's preprocessing of `files` for the model, with this runtime's
        decoders (Pillow, libjpeg-turbo, ISA-L as its wheels ship them, and the native PNG
        unfilter, which must have loaded: libspng is only its fallback)."""
        listing = out.with_suffix(".txt")
        listing.write_text("".join(f"{path}\n" for path in files))
        report = self._worker(["--decode", str(model_dir), str(listing), str(out)], 3600)
        if report["machine"] != self.machine:
            raise RuntimeMismatchError(f"expected {self.machine}, decoded on {report['machine']}")
        if report["png"] != "native":
            raise RuntimeMismatchError(f"the native PNG unfilter did not load on {self.machine}")
        decoded: np.ndarray = np.load(out)
        return decoded

    def delegation(self, models: Sequence[Path]) -> dict[Path, tuple[int, int, list[str]]]:
        """Per .tflite file: (ops XNNPACK took, ops in all, the ops left outside), as this
        runtime's LiteRT delegates them in an interpreter made as the function makes it."""
        report = self._worker(["--delegation", *(str(path) for path in models)], 3600)
        if (report["litert"], report["machine"]) != (self.litert, self.machine):
            raise RuntimeMismatchError(
                f"expected LiteRT {self.name}, the worker ran {report['litert']} "
                f"{report['machine']}"
            )
        return {Path(path): tuple(found) for path, found in report["delegation"].items()}

    def _worker(self, args: Sequence[str], timeout: float) -> dict[str, Any]:
        """Run bench/litert_worker.py here with the function's source on PYTHONPATH."""
        path = [*self.pythonpath, REPO / "functions"]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.pathsep.join(str(p) for p in path),
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        command = [*self.command, str(WORKER), *args]
        run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
        if run.returncode != 0:
            raise RuntimeUnavailableError(f"{self.name} failed: {run.stderr.strip()[-1500:]}")
        report: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
        return report


def pinned(requirements: Path, machine: str, python_version: str = EMULATED_PYTHON) -> list[str]:
    """The `name==version` lines pip installs from `requirements` on a Linux `machine`:
    markers evaluated for that machine, not this host (pip --platform does not)."""
    environment = {
        **{key: str(value) for key, value in default_environment().items()},
        "platform_machine": machine,
        "platform_system": "Linux",
        "sys_platform": "linux",
        "python_version": python_version,
        "python_full_version": f"{python_version}.0",
    }
    selected = []
    for line in requirements.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            selected.append(f"{requirement.name}{requirement.specifier}")
    return selected


def litert_pin(requirements: Path, machine: str) -> str:
    """The ai-edge-litert version a requirements file pins on `machine`."""
    for line in pinned(requirements, machine):
        name, _, version = line.partition("==")
        if name == LITERT:
            return version
    raise ValueError(f"{requirements} pins no {LITERT} for {machine}")


def cache_root() -> Path:
    """$IMGCLF_CACHE/litert-parity (or ~/.cache/imgclf/litert-parity): outside git."""
    configured = os.environ.get(CACHE_ENV)
    return (Path(configured) if configured else Path.home() / ".cache" / "imgclf") / (
        "litert-parity"
    )


def host_runtime() -> Runtime:
    """This Python (the project's venv) with the LiteRT it has installed."""
    from importlib.metadata import version

    return Runtime(version(LITERT), platform.machine(), (sys.executable,))


def wheel_runtime(litert: str, cache: Path) -> Runtime:
    """This Python with ai-edge-litert `litert` installed alone into a cached --target
    directory that shadows the venv's copy (its dependencies come from the venv)."""
    machine = platform.machine()
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    target = cache / f"{machine}-{tag}-litert-{litert}"
    if not (target / COMPLETE).exists():
        _provision(
            target,
            lambda staging: _pip_install(staging, [f"{LITERT}=={litert}"], "--no-deps"),
        )
    return Runtime(litert, machine, (sys.executable,), (target,))


def emulated_runtime(cache: Path, cpu: str = QEMU_CPU) -> Runtime:
    """Debian's aarch64 Python under qemu with the function's aarch64 requirements."""
    qemu = shutil.which(QEMU)
    if qemu is None:
        raise RuntimeUnavailableError(f"{QEMU} is not installed (Debian: qemu-user-static)")
    sysroot = cache / f"sysroot-{DEBIAN_SUITE}-arm64"
    if not (sysroot / COMPLETE).exists():
        _provision(sysroot, lambda staging: _debian_sysroot(staging, cache / "apt-arm64"))
    wanted = pinned(FUNCTION_REQUIREMENTS, "aarch64", EMULATED_PYTHON)
    site = cache / f"site-aarch64-cp{EMULATED_PYTHON.replace('.', '')}-{_digest(wanted)}"
    if not (site / COMPLETE).exists():
        platforms = [f"{p}_aarch64" for p in AARCH64_PLATFORMS]
        _provision(
            site,
            lambda staging: _pip_install(
                staging,
                wanted,
                "--python-version",
                EMULATED_PYTHON,
                "--implementation",
                "cp",
                *(arg for platform_ in platforms for arg in ("--platform", platform_)),
            ),
        )
    native_library("aarch64")
    python = sysroot / "usr" / "bin" / f"python{EMULATED_PYTHON}"
    return Runtime(
        litert_pin(FUNCTION_REQUIREMENTS, "aarch64"),
        "aarch64",
        (qemu, "-cpu", cpu, "-L", str(sysroot), str(python)),
        (site,),
    )


def native_library(machine: str) -> Path:
    """The native unfilter built for `machine` with the cross compiler, when it is missing or
    older than its source."""
    library = NATIVE / f"libimgclf_unfilter.{machine}.so"
    sources = (NATIVE / "unfilter.c", NATIVE / "build.sh")
    if library.exists() and all(s.stat().st_mtime <= library.stat().st_mtime for s in sources):
        return library
    compiler = shutil.which(CROSS_CC)
    if compiler is None:
        raise RuntimeUnavailableError(
            f"{CROSS_CC} is not installed (Debian: gcc-aarch64-linux-gnu)"
        )
    env = {**os.environ, "CC": compiler, "TARGET_MACHINE": machine}
    subprocess.run(["sh", str(NATIVE / "build.sh")], check=True, env=env)
    return library


def provisioned(cache: Path) -> bool:
    """Whether the emulated runtime is already in the cache (so using it costs no download)."""
    wanted = pinned(FUNCTION_REQUIREMENTS, "aarch64", EMULATED_PYTHON)
    site = cache / f"site-aarch64-cp{EMULATED_PYTHON.replace('.', '')}-{_digest(wanted)}"
    sysroot = cache / f"sysroot-{DEBIAN_SUITE}-arm64"
    return (
        shutil.which(QEMU) is not None
        and shutil.which(CROSS_CC) is not None
        and (sysroot / COMPLETE).exists()
        and (site / COMPLETE).exists()
    )


def _provision(target: Path, build: Callable[[Path], None]) -> None:
    """Build into a staging directory beside `target`, then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        build(staging)
        (staging / COMPLETE).touch()
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _pip_install(target: Path, requirements: Sequence[str], *options: str) -> None:
    args = [sys.executable, "-m", "pip", "install", "-q", "--only-binary=:all:"]
    args += ["--target", str(target), *options, *requirements]
    run = subprocess.run(args, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeUnavailableError(f"pip install {' '.join(requirements)}: {run.stderr[-800:]}")


def _debian_sysroot(root: Path, apt_dir: Path) -> None:
    """Unpack SYSROOT_PACKAGES (arm64, bookworm) into `root` with a private apt state."""
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise RuntimeUnavailableError(f"{tool} is needed to build the aarch64 sysroot")
    for sub in ("etc/apt", "var/lib/apt/lists/partial", "var/cache/apt/archives/partial"):
        (apt_dir / sub).mkdir(parents=True, exist_ok=True)
    status = apt_dir / "var" / "lib" / "dpkg" / "status"
    status.parent.mkdir(parents=True, exist_ok=True)
    status.touch()
    (apt_dir / "etc" / "apt" / "sources.list").write_text(
        f"deb [arch=arm64 signed-by={DEBIAN_KEYRING}] {DEBIAN_MIRROR} {DEBIAN_SUITE} main\n"
    )
    options = [
        *("-o", f"Dir={apt_dir}", "-o", f"Dir::State::status={status}"),
        *("-o", "APT::Architecture=arm64", "-o", "APT::Architectures::=arm64"),
        *("-o", "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false"),
        *("-o", "APT::Sandbox::User=root"),
    ]
    debs = root / ".debs"
    debs.mkdir()
    for command in (["update"], ["download", *SYSROOT_PACKAGES]):
        run = subprocess.run(
            ["apt-get", "-q", *options, *command], cwd=debs, capture_output=True, text=True
        )
        if run.returncode != 0:
            raise RuntimeUnavailableError(f"apt-get {command[0]}: {run.stderr[-800:]}")
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    (root / "PACKAGES").write_text("".join(f"{deb.name}\n" for deb in sorted(debs.glob("*.deb"))))
    shutil.rmtree(debs)


def _digest(lines: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]
