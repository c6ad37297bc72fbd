"""Reading ``.npz`` archives without trusting them: sizes are checked before anything is inflated.

A small ``.npz`` can declare gigabytes (a zip of zeros): the zip directory's sizes and each
``.npy`` header are read first, and an archive declaring too much, a name not asked for, a shape
or dtype not expected, or pickled objects is refused before any array is read."""

import math
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np


class NpzError(ValueError):
    """An ``.npz`` file is unreadable, too large, or not what it should hold (the message says)."""


def read_npz(
    path: str | Path,
    *,
    max_bytes: int,
    names: Iterable[str] | None = None,
    unexpected: str = "refuse",
    check: Callable[[str, tuple, np.dtype], str | None] | None = None,
) -> dict[str, np.ndarray]:
    """The arrays of ``path``, after checking, for every member, from the zip directory and the
    ``.npy`` headers only: the total declared size (at most ``max_bytes``), the names (other
    than ``names``, when given: ``unexpected="refuse"`` or ``"skip"``), no pickled objects, and ``check(name, shape, dtype)`` (a message
    refuses the file). Zip reads stop at the declared size, so nothing larger is ever inflated."""
    path = Path(path)
    allowed = None if names is None else set(names)
    try:
        with zipfile.ZipFile(path) as z:
            infos = [i for i in z.infolist() if not i.is_dir()]
            declared = sum(i.file_size for i in infos)
            if declared > max_bytes:
                raise NpzError(
                    f"{path}: declares {declared:,} bytes of arrays, more than the "
                    f"{max_bytes:,} it may hold: not a file to load (a zip bomb?)"
                )
            keys = [i.filename.removesuffix(".npy") for i in infos]
            extra = sorted(set(keys) - allowed) if allowed is not None else []
            if extra and unexpected != "skip":
                raise NpzError(f"{path}: unexpected {extra} (expected {sorted(allowed)})")
            arrays = {}
            for key, info in zip(keys, infos, strict=True):
                if key in extra:
                    continue
                with z.open(info) as f:
                    major, _ = np.lib.format.read_magic(f)
                    read_header = getattr(np.lib.format, f"read_array_header_{major}_0", None)
                    if read_header is None:
                        raise NpzError(f"{path}: {key!r} has an unknown .npy format version")
                    shape, _, dtype = read_header(f)
                    if dtype.hasobject:
                        raise NpzError(f"{path}: {key!r} holds pickled objects, never loaded")
                    nbytes = math.prod(shape) * dtype.itemsize
                    if f.tell() + nbytes != info.file_size:
                        raise NpzError(
                            f"{path}: {key!r} declares shape {shape} ({nbytes:,} bytes) but its "
                            f"member holds {info.file_size - f.tell():,}: corrupted"
                        )
                    problem = check(key, tuple(shape), dtype) if check else None
                    if problem:
                        raise NpzError(f"{path}: {key!r}: {problem}")
                with z.open(info) as f:
                    arrays[key] = np.lib.format.read_array(f, allow_pickle=False)
            return arrays
    except (NpzError, PermissionError, MemoryError):
        raise
    except Exception as e:  # BadZipFile, zlib.error, NotImplementedError (a method zipfile lacks),
        # RuntimeError (encrypted), a mangled .npy header (ValueError, SyntaxError, TokenError), ...
        raise NpzError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from e
