"""The model artifact, both ways: training packs it, the function unpacks and reads it.

model.tar.gz holds model.tflite (full-integer int8), labels.json and model.json, and, for a
model that outputs ImageNet's logits, hierarchy.json (the label hierarchy over them), and
probe.npz (a few preprocessed images and the labels the int8 model gave them at export).
model.json records the sha256 and size of every other file (`files`); whoever reads an
artifact checks them (`verify_digests`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from .contracts import (
    ARTIFACT_HIERARCHY_FILE,
    ARTIFACT_LABELS_FILE,
    ARTIFACT_METADATA_FILE,
    ARTIFACT_MODEL_FILE,
    ARTIFACT_PROBE_FILE,
    UNKNOWN_LABEL,
    label_problem,
)
from .hierarchy import LabelHierarchy
from .imaging import InputSpec
from .word_forms import label_key

ARTIFACT_FILES = (ARTIFACT_MODEL_FILE, ARTIFACT_LABELS_FILE, ARTIFACT_METADATA_FILE)
OPTIONAL_ARTIFACT_FILES = (ARTIFACT_HIERARCHY_FILE,)  # what the function extracts if there
CHECKED_FILES = (ARTIFACT_MODEL_FILE, ARTIFACT_LABELS_FILE, ARTIFACT_HIERARCHY_FILE)
# The files model.json may record digests of (`files`): the artifact's own, at its root. Any
# other name is refused when model.json is read, so no reader opens a path it names.
DIGESTED_FILES = (*CHECKED_FILES, ARTIFACT_PROBE_FILE)


class ArtifactError(ValueError):
    """The artifact is missing a file or a file is malformed."""


OUTPUT_PROBABILITIES = "probabilities"
OUTPUT_LOGITS = "logits"
OUTPUT_GROUPED_LOGITS = "grouped_logits"
OUTPUT_MIXTURE = "imagenet_mixture"
OUTPUT_GENERIC = "imagenet_logits"
OUTPUT_KINDS = (
    OUTPUT_PROBABILITIES,
    OUTPUT_LOGITS,
    OUTPUT_GROUPED_LOGITS,
    OUTPUT_MIXTURE,
    OUTPUT_GENERIC,
)


@dataclass(frozen=True)
class OutputSpec:
    """What the model's output means; model.json `output` (absent: one probability a label,
    `probabilities`: what models exported with their softmax head emit).

    `logits`: one logit a label, a trained head's before its softmax; a label's probability
    is the softmax of the dequantized logits, in float64. Training exports every softmax
    head so (XNNPACK has no int8 SOFTMAX, which would leave that op to LiteRT's kernel).

    `grouped_logits`: the model outputs logits over `len(groups)`-many source classes or
    more (ImageNet's 1,000 for the day-0 model); a label's probability is the softmax mass of
    its group. The sum is taken in float after dequantizing, because int8 probabilities
    quantized one by one round most of a group's many small members to zero.

    `imagenet_mixture`: the first `sources` outputs are source logits grouped as above, the
    rest are a trained head's logits over the labels. With m the grouped mass (the share of
    the source classifier's belief that falls on the labels at all) and w = m ** `power`,
    a label's probability is w * (its share of m) + (1 - w) * (the head's probability).
    Where the source classifier recognises the image (a real photograph) it decides; where
    it does not (a drawing, a rendering, a class it never saw) the trained head does. A
    label ImageNet has no class for has an empty group: only the head gives it probability.

    `head_outside` (mixtures): the head has one more logit after the labels', "none of the
    labels", trained on images outside them. The labels' head probabilities are then taken
    among the labels, and (1 - w) * that output's probability is evidence of an image
    outside the labels, with the domain's (below).

    `imagenet_logits`: the generic labeller. The model outputs `sources` source logits
    (ImageNet's 1,000) and has no labels of its own; its labels are the hierarchy's
    (model.json `hierarchy`), at every level.

    `domain` (both kinds): inclusive ranges of source classes. The source mass on the
    classes in the domain that no label owns is the evidence that an image shows none of
    the labels (a giraffe, for an animals model: ImageNet's organisms are 0-397). Empty:
    every source class, so the evidence is all the mass that maps to no label.
    """

    kind: str = OUTPUT_PROBABILITIES
    groups: tuple[tuple[int, ...], ...] = ()
    sources: int = 0
    power: float = 1.0
    domain: tuple[tuple[int, int], ...] = ()
    head_outside: bool = False

    def __post_init__(self) -> None:
        if self.kind not in OUTPUT_KINDS:
            raise ValueError(f"unknown output kind {self.kind!r}")
        if self.kind == OUTPUT_GROUPED_LOGITS and not (self.groups and all(self.groups)):
            raise ValueError(f"{self.kind} needs a non-empty group for every label")
        if self.kind == OUTPUT_MIXTURE and not any(self.groups):
            raise ValueError(f"{self.kind} needs a non-empty group for some label")
        if self.kind == OUTPUT_MIXTURE and (self.sources <= 0 or self.power <= 0):
            raise ValueError("imagenet_mixture needs sources > 0 and power > 0")
        if self.kind == OUTPUT_LOGITS and (self.groups or self.sources or self.domain):
            raise ValueError("logits are one a label: they take no groups, sources or domain")
        if self.kind == OUTPUT_GENERIC and (self.sources <= 0 or self.groups):
            raise ValueError("imagenet_logits needs sources > 0 and no groups")
        if self.head_outside and self.kind != OUTPUT_MIXTURE:
            raise ValueError("only an imagenet_mixture head can have an outside output")
        if any(len(r) != 2 or r[0] < 0 or r[0] > r[1] for r in self.domain):
            raise ValueError(f"output domain must be [low, high] ranges, got {self.domain}")

    @property
    def source_classes(self) -> int | None:
        """How many of the outputs are source (ImageNet) logits, when known from the spec
        alone (a grouped model's are all its outputs: None)."""
        return self.sources if self.kind in (OUTPUT_MIXTURE, OUTPUT_GENERIC) else None

    def to_dict(self) -> dict[str, Any]:
        if self.kind in (OUTPUT_PROBABILITIES, OUTPUT_LOGITS):
            return {"kind": self.kind}
        if self.kind == OUTPUT_GENERIC:
            return {"kind": self.kind, "sources": self.sources}
        data: dict[str, Any] = {"kind": self.kind, "groups": [list(g) for g in self.groups]}
        if self.kind == OUTPUT_MIXTURE:
            data.update(sources=self.sources, power=self.power)
        if self.domain:
            data["domain"] = [list(r) for r in self.domain]
        if self.head_outside:
            data["head_outside"] = True
        return data

    @classmethod
    def from_dict(cls, data: Any) -> OutputSpec:
        if not data:
            return cls()
        return cls(
            kind=str(data.get("kind", OUTPUT_PROBABILITIES)),
            groups=tuple(tuple(int(i) for i in group) for group in data.get("groups", ())),
            sources=int(data.get("sources", 0)),
            power=float(data.get("power", 1.0)),
            domain=tuple(
                (int(r[0]), int(r[1])) if len(r) == 2 else (-1, -1) for r in data.get("domain", ())
            ),
            head_outside=bool(data.get("head_outside", False)),
        )


CALIBRATION_NONE = "none"
CALIBRATION_TEMPERATURE = "temperature"
CALIBRATION_METHODS = (CALIBRATION_NONE, CALIBRATION_TEMPERATURE)


@dataclass(frozen=True)
class Calibration:
    """model.json `calibration`: how the decoded label probabilities are made to mean what
    they say (absent: used as decoded).

    `temperature`: p_i is replaced by p_i ** (1 / T), renormalised (temperature scaling of
    the log-probabilities, Guo et al. 2017); T > 1 softens an overconfident model. `details`
    records what it was fitted on and the expected calibration error before and after.
    """

    method: str = CALIBRATION_NONE
    temperature: float = 1.0
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in CALIBRATION_METHODS:
            raise ValueError(f"unknown calibration method {self.method!r}")
        if not self.temperature > 0:
            raise ValueError(f"calibration temperature must be > 0, got {self.temperature}")

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "temperature": self.temperature, **self.details}

    @classmethod
    def from_dict(cls, data: Any) -> Calibration:
        if not data:
            return cls()
        details = {k: v for k, v in data.items() if k not in ("method", "temperature")}
        return cls(
            method=str(data.get("method", CALIBRATION_NONE)),
            temperature=float(data.get("temperature", 1.0)),
            details=details,
        )


# How model.json's `unknown.chosen_by` begins when the rule was not chosen on the model's
# photos: switched off (no thresholds), or the fixed rule of a model with too few of them.
RULE_DISABLED = "disabled"
RULE_FIXED = "fixed"


@dataclass(frozen=True)
class UnknownRule:
    """model.json `unknown`: when an image is labelled "unknown" instead of its top label
    (absent: never).

    An image is unknown when the decoder's evidence that it shows none of the labels is at
    least `max_other` (for ImageNet-backed models: ImageNet's mass on the classes of the
    labels' domain that no label owns) unless its calibrated top probability is at least
    `keep_confidence`; or when its calibrated top probability is below `min_confidence`.
    `details` says how the thresholds were chosen and on what.
    """

    max_other: float | None = None
    min_confidence: float | None = None
    keep_confidence: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    THRESHOLDS = ("max_other", "min_confidence", "keep_confidence")

    def __post_init__(self) -> None:
        for name in self.THRESHOLDS:
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"unknown.{name} must be within 0..1, got {value}")

    @property
    def active(self) -> bool:
        return self.max_other is not None or self.min_confidence is not None

    def summary(self) -> str:
        """The thresholds in one line: "max_other 0.57, keep_confidence 0.998"."""
        values = [(name, getattr(self, name)) for name in self.THRESHOLDS]
        return ", ".join(f"{name} {value}" for name, value in values if value is not None)

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.THRESHOLDS} | self.details

    @classmethod
    def from_dict(cls, data: Any) -> UnknownRule:
        if not data:
            return cls()

        def threshold(name: str) -> float | None:
            value = data.get(name)
            return None if value is None else float(value)

        details = {k: v for k, v in data.items() if k not in cls.THRESHOLDS}
        return cls(
            max_other=threshold("max_other"),
            min_confidence=threshold("min_confidence"),
            keep_confidence=threshold("keep_confidence"),
            details=details,
        )


@dataclass(frozen=True)
class FileDigest:
    """model.json `files[name]`: one artifact file's sha256 (hex) and size in bytes."""

    sha256: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "size": self.size}

    @classmethod
    def of(cls, data: bytes) -> FileDigest:
        return cls(hashlib.sha256(data).hexdigest(), len(data))


@dataclass(frozen=True)
class ProbeSpec:
    """model.json `probe`: the label (possibly `unknown`) the int8 model gave each image of
    probe.npz at export; promotion runs the model on them and refuses a different answer."""

    labels: tuple[str, ...]
    file: str = ARTIFACT_PROBE_FILE

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "labels": list(self.labels)}

    @classmethod
    def from_dict(cls, data: Any) -> ProbeSpec | None:
        if not data:
            return None
        if str(data.get("file", ARTIFACT_PROBE_FILE)) != ARTIFACT_PROBE_FILE:
            raise ValueError(f"probe file must be {ARTIFACT_PROBE_FILE}")
        labels = tuple(str(label) for label in data["labels"])
        if not labels:
            raise ValueError("a probe needs at least one image")
        return cls(labels)


@dataclass(frozen=True)
class HierarchyRef:
    """model.json `hierarchy`: which label hierarchy travels in the artifact (its file,
    version and source), so that a model and its hierarchy stay together."""

    version: str
    classes: int  # how many of the model's outputs (the first ones) it covers
    source: str = ""
    file: str = ARTIFACT_HIERARCHY_FILE

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "version": self.version, "classes": self.classes} | {
            "source": self.source
        }

    @classmethod
    def from_dict(cls, data: Any) -> HierarchyRef | None:
        if not data:
            return None
        if str(data.get("file", ARTIFACT_HIERARCHY_FILE)) != ARTIFACT_HIERARCHY_FILE:
            raise ValueError(f"hierarchy file must be {ARTIFACT_HIERARCHY_FILE}")
        return cls(
            version=str(data["version"]),
            classes=int(data["classes"]),
            source=str(data.get("source", "")),
        )

    @classmethod
    def of(cls, hierarchy: LabelHierarchy) -> HierarchyRef:
        """The reference model.json records for a hierarchy."""
        return cls(hierarchy.version, len(hierarchy.class_ids), hierarchy.source)


@dataclass(frozen=True)
class ModelMetadata:
    """model.json: what the function needs to preprocess, plus what training measured.

    `metrics` holds float and int8 accuracy, the per-class report and more; `dataset`
    holds the data set's name and fingerprint; `gate` says whether the quality gate passed.
    """

    version: str
    input: InputSpec
    labels: tuple[str, ...]
    architecture: str = "unknown"
    created_at: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    gate: dict[str, Any] = field(default_factory=dict)
    output: OutputSpec = field(default_factory=OutputSpec)
    calibration: Calibration = field(default_factory=Calibration)
    unknown: UnknownRule = field(default_factory=UnknownRule)
    hierarchy: HierarchyRef | None = None
    probe: ProbeSpec | None = None
    # Every other file's digest (empty: an artifact made before digests, a legacy one).
    files: dict[str, FileDigest] = field(default_factory=dict)

    def __post_init__(self) -> None:
        keys = [label_key(label) for label in self.labels]  # as queries read them
        if label_key(UNKNOWN_LABEL) in keys:
            raise ArtifactError(
                f"{self.labels[keys.index(label_key(UNKNOWN_LABEL))]!r} cannot be a label: "
                f"{UNKNOWN_LABEL!r} is what an image outside the labels is called"
            )
        problems = [problem for label in self.labels if (problem := label_problem(label))]
        if problems:
            raise ArtifactError(problems[0])
        twice = [label for label, key in zip(self.labels, keys, strict=True) if keys.count(key) > 1]
        if twice:
            raise ArtifactError(f"labels {', '.join(map(repr, twice))} are one label, named twice")
        if self.output.groups and len(self.output.groups) != len(self.labels):
            raise ArtifactError(
                f"model.json has {len(self.output.groups)} output groups "
                f"but {len(self.labels)} labels"
            )
        if self.output.kind == OUTPUT_GENERIC and self.labels:
            raise ArtifactError("a generic (imagenet_logits) model has no labels of its own")
        sources = self.output.source_classes
        if self.hierarchy and sources is not None and self.hierarchy.classes != sources:
            raise ArtifactError(
                f"model.json `hierarchy` covers {self.hierarchy.classes} classes but the model "
                f"has {sources} source outputs"
            )
        if self.output.kind == OUTPUT_GENERIC and self.hierarchy is None:
            raise ArtifactError("a generic (imagenet_logits) model needs model.json `hierarchy`")

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "architecture": self.architecture,
            "created_at": self.created_at,
            "input": self.input.to_dict(),
            "labels": list(self.labels),
            "output": self.output.to_dict(),
            "calibration": self.calibration.to_dict(),
            "unknown": self.unknown.to_dict(),
            "metrics": self.metrics,
            "dataset": self.dataset,
            "gate": self.gate,
        } | (
            ({"hierarchy": self.hierarchy.to_dict()} if self.hierarchy else {})
            | ({"probe": self.probe.to_dict()} if self.probe else {})
            | ({"files": {n: d.to_dict() for n, d in self.files.items()}} if self.files else {})
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelMetadata:
        try:
            return cls(
                version=str(data["version"]),
                input=InputSpec.from_dict(data["input"]),
                labels=_labels(data["labels"]),
                architecture=str(data.get("architecture", "unknown")),
                created_at=str(data.get("created_at", "")),
                metrics=dict(data.get("metrics", {})),
                dataset=dict(data.get("dataset", {})),
                gate=dict(data.get("gate", {})),
                output=OutputSpec.from_dict(data.get("output")),
                calibration=Calibration.from_dict(data.get("calibration")),
                unknown=UnknownRule.from_dict(data.get("unknown")),
                hierarchy=HierarchyRef.from_dict(data.get("hierarchy")),
                probe=ProbeSpec.from_dict(data.get("probe")),
                files={
                    _digested_name(name): FileDigest(str(d["sha256"]), int(d["size"]))
                    for name, d in dict(data.get("files") or {}).items()
                },
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ArtifactError(f"model.json is malformed: {error}") from None


def _labels(raw: object) -> tuple[str, ...]:
    """model.json `labels`: a list of strings (a string's letters are no labels)."""
    if not isinstance(raw, list) or not all(isinstance(label, str) for label in raw):
        raise ValueError(f"labels must be a list of names, got {str(raw)[:60]!r}")
    return tuple(raw)


def _digested_name(name: object) -> str:
    """A `files` name, if it is one of the artifact's own files (DIGESTED_FILES)."""
    if name not in DIGESTED_FILES:
        raise ValueError(
            f"files names {name!r}, which is no artifact file ({', '.join(DIGESTED_FILES)})"
        )
    return str(name)
