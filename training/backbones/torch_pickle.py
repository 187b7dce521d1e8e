"""Read a legacy (non-zip) PyTorch checkpoint into numpy arrays, without PyTorch.

The legacy format, as `torch.save(..., _use_new_zipfile_serialization=False)` writes it, is
five things back to back: three small pickles (a magic number, the protocol version, system
information), the pickled object itself, in which every tensor is a call to
`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` and every storage a
persistent id `("storage", <type>, <key>, <location>, <numel>, <view>)`, and then the list of
storage keys followed by each storage's raw bytes, prefixed by its element count.
Unpickling is restricted to exactly those names, so a checkpoint can run no code.
"""

from __future__ import annotations

import collections
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_DTYPES: dict[str, np.dtype[Any]] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class CheckpointError(ValueError):
    """The file is not a legacy PyTorch checkpoint this reader understands."""


@dataclass(frozen=True)
class _TensorRef:
    storage_key: str
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


@dataclass(frozen=True)
class _StorageType:
    name: str


def _rebuild_tensor(storage: Any, offset: int, size: Any, stride: Any, *_: Any) -> _TensorRef:
    return _TensorRef(str(storage), int(offset), tuple(size), tuple(stride))


class _Unpickler(pickle.Unpickler):
    storage_types: dict[str, str]

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise CheckpointError(f"checkpoint refers to {module}.{name}, which is not a tensor")

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise CheckpointError(f"unexpected persistent id {pid!r:.80}")
        storage_type, key = pid[1], str(pid[2])
        self.storage_types[key] = (
            storage_type.name if isinstance(storage_type, _StorageType) else str(storage_type)
        )
        return key


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a legacy checkpoint's state dict, by name, as numpy arrays."""
    with open(path, "rb") as stream:
        return _read(stream, path)


def _read(stream: IO[bytes], path: Path) -> dict[str, np.ndarray]:
    try:
        if pickle.load(stream) != LEGACY_MAGIC:  # noqa: S301 - ints only
            raise CheckpointError(f"{path} is not a legacy PyTorch checkpoint")
        pickle.load(stream)  # protocol version  # noqa: S301
        pickle.load(stream)  # system info: sizes and endianness  # noqa: S301
        unpickler = _Unpickler(stream)
        unpickler.storage_types = {}
        state = unpickler.load()
        keys = pickle.load(stream)  # noqa: S301 - a list of strings
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as error:
        raise CheckpointError(f"{path}: {error}") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds no state dict")
    storages: dict[str, np.ndarray] = {}
    for key in keys:
        dtype = STORAGE_DTYPES[unpickler.storage_types[str(key)]]
        header = stream.read(8)
        if len(header) != 8:
            raise CheckpointError(f"{path} is truncated")
        (count,) = struct.unpack("<q", header)
        raw = stream.read(count * dtype.itemsize)
        if len(raw) != count * dtype.itemsize:
            raise CheckpointError(f"{path} is truncated")
        storages[str(key)] = np.frombuffer(raw, dtype=dtype)
    tensors: dict[str, np.ndarray] = {}
    for name, ref in state.items():
        if not isinstance(ref, _TensorRef):
            continue
        storage = storages[ref.storage_key]
        item = storage.itemsize
        view = np.lib.stride_tricks.as_strided(
            storage[ref.offset :],
            shape=ref.size,
            strides=tuple(s * item for s in ref.stride),
            writeable=False,
        )
        tensors[str(name)] = np.array(view)
    return tensors
