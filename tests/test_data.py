"""common.data: every source, every error path, and the genuine MNIST when MNIST_DATA_DIR is set."""

from __future__ import annotations

import gzip
import io
import shutil
import socket
import time
import warnings

import numpy as np
import pytest
from conftest import make_arrays, write_idx_dir

from common import data
from common.data import (
    IDX_FILES,
    MnistDataError,
    MnistSampleWarning,
    idx_bytes,
    load_mnist,
    parse_idx,
    read_idx,
    subsample,
    train_val_split,
)

# --- IDX parsing -------------------------------------------------------------------------------


def test_idx_round_trip():
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(parse_idx(idx_bytes(a)), a)
    labels = np.array([5, 0, 4], dtype=np.uint8)
    np.testing.assert_array_equal(parse_idx(idx_bytes(labels)), labels)


def test_bad_magic_number_is_named(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x0d\x01" + (3).to_bytes(4, "big") + b"\x01\x02\x03")
    with pytest.raises(
        MnistDataError, match=r"t10k-labels-idx1-ubyte: bad magic number 0x00000d01"
    ):
        read_idx(path)


def test_truncated_raw_file(tmp_path):
    raw = idx_bytes(np.zeros((5, 28, 28), np.uint8))
    path = tmp_path / "x"
    path.write_bytes(raw[:-10])
    with pytest.raises(MnistDataError, match=r"truncated: header says shape \(5, 28, 28\)"):
        read_idx(path)


def test_trailing_bytes(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(idx_bytes(np.zeros(4, np.uint8)) + b"junk")
    with pytest.raises(MnistDataError, match="trailing bytes"):
        read_idx(path)


def test_truncated_gzip_file(tmp_path):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as f:
        f.write(idx_bytes(np.zeros((50, 28, 28), np.uint8)))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(
        MnistDataError, match=r"train-images-idx3-ubyte.gz: cannot read .*corrupted or truncated"
    ):
        read_idx(path)


def test_checksum_mismatch_names_file(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.array([1, 2, 3], np.uint8)))
    with pytest.raises(MnistDataError, match=r"labels: SHA-256 .* expected 0{64}"):
        read_idx(path, expected_sha256="0" * 64)


# --- Reading a directory (another dataset in IDX layout: structural checks) -------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_reads_idx_directory_gz_or_raw(tmp_path, gz):
    arrays = make_arrays(n_train=40, n_test=10)
    folder = write_idx_dir(tmp_path / "d", arrays, gz=gz)
    (x_tr, y_tr), (x_te, y_te) = splits = load_mnist(folder, verify_checksums=False)
    np.testing.assert_array_equal(x_tr, arrays["x_train"])
    np.testing.assert_array_equal(y_te, arrays["y_test"])
    assert x_tr.dtype == np.uint8 and x_tr.shape == (40, 28, 28) and y_tr.shape == (40,)
    assert x_te.shape == (10, 28, 28)
    assert splits.source.kind == "directory" and splits.source.verified == "structure"
    assert splits.source.n_train == 40 and not splits.source.is_sample


def test_reads_keras_npz_directory(tmp_path):
    arrays = make_arrays()
    (tmp_path / "k").mkdir()
    np.savez(tmp_path / "k" / "mnist.npz", **arrays)
    (x_tr, _), _ = load_mnist(tmp_path / "k", verify_checksums=False)
    np.testing.assert_array_equal(x_tr, arrays["x_train"])


def test_env_var_names_the_directory(small_idx_dir, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(small_idx_dir))
    splits = load_mnist(verify_checksums=False)
    assert (
        splits.source.kind == "directory" and str(small_idx_dir.resolve()) == splits.source.location
    )


def test_small_files_fail_mnist_checksums(small_idx_dir):
    with pytest.raises(MnistDataError, match="train-images-idx3-ubyte.gz: SHA-256"):
        load_mnist(small_idx_dir)


def test_missing_file_is_named(small_idx_dir):
    (small_idx_dir / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(MnistDataError, match=r"missing t10k-labels-idx1-ubyte\[\.gz\]"):
        load_mnist(small_idx_dir, verify_checksums=False)


def test_not_a_directory(tmp_path):
    with pytest.raises(MnistDataError, match="not a directory"):
        load_mnist(tmp_path / "nope")


def test_count_mismatch(tmp_path):
    arrays = make_arrays()
    arrays["y_test"] = arrays["y_test"][:-1]
    folder = write_idx_dir(tmp_path / "d", arrays)
    with pytest.raises(MnistDataError, match="20 test images but 19 test labels"):
        load_mnist(folder, verify_checksums=False)


def test_labels_out_of_range(tmp_path):
    arrays = make_arrays()
    arrays["y_train"][3] = 10
    folder = write_idx_dir(tmp_path / "d", arrays)
    with pytest.raises(MnistDataError, match=r"y_train has labels outside 0-9 \(min 0, max 10\)"):
        load_mnist(folder, verify_checksums=False)


def test_images_file_in_labels_slot(tmp_path):
    arrays = make_arrays()
    folder = write_idx_dir(tmp_path / "d", arrays)
    shutil.copy(folder / "t10k-images-idx3-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(MnistDataError, match=r"t10k-labels-idx1-ubyte.gz: expected a 1-D IDX file"):
        load_mnist(folder, verify_checksums=False)


def test_corrupted_npz_in_directory(tmp_path):
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "mnist.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(MnistDataError, match=r"mnist.npz: cannot read"):
        load_mnist(tmp_path / "k")


# --- Fallbacks: cache, download, sample -------------------------------------------------------------


def _sample_load(**kwargs):
    with pytest.warns(MnistSampleWarning, match="5,000-digit sample"):
        return load_mnist(**kwargs)


def test_offline_falls_back_to_sample(monkeypatch, capsys):
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    (x_tr, y_tr), (x_te, y_te) = splits = _sample_load()
    assert splits.source.is_sample and splits.source.kind == "sample"
    assert x_tr.shape == (4000, 28, 28) and x_te.shape == (1000, 28, 28)
    assert x_tr.dtype == np.uint8 and y_tr.dtype == np.uint8
    assert np.bincount(y_tr).tolist() == [400] * 10 and np.bincount(y_te).tolist() == [100] * 10
    assert "FULL MNIST IS UNAVAILABLE" in capsys.readouterr().err


def test_unreachable_network_reaches_fallback_quickly(monkeypatch):
    """A host that never answers (a hanging connect) must not hold the loader for long."""
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    monkeypatch.delenv("MNIST_OFFLINE", raising=False)

    def hang(*args, **kwargs):
        time.sleep(30)
        raise OSError("timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    called = []
    monkeypatch.setattr(data, "_download_tfds", lambda *a: called.append("tfds"))
    start = time.perf_counter()
    splits = _sample_load()
    elapsed = time.perf_counter() - start
    assert splits.source.is_sample
    assert elapsed < 10, f"offline fallback took {elapsed:.1f} s"
    assert not called, "no download may be attempted when the host is unreachable"


def test_refused_network_reaches_fallback(monkeypatch):
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    monkeypatch.delenv("MNIST_OFFLINE", raising=False)
    start = time.perf_counter()
    assert _sample_load().source.is_sample
    assert time.perf_counter() - start < 10


def test_no_source_and_no_sample_raises(monkeypatch):
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    with pytest.raises(MnistDataError, match="no MNIST source worked"):
        load_mnist(allow_sample=False)


def test_corrupted_cache_is_never_returned(monkeypatch, tmp_path):
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    cache = tmp_path / "c"
    cache.mkdir()
    (cache / "mnist.npz").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="ignoring corrupted MNIST cache"):
        splits = _sample_load(cache_dir=cache)
    assert splits.source.is_sample
    assert not (cache / "mnist.npz").exists(), "the corrupted entry is removed"


def test_cache_with_wrong_content_is_rejected(monkeypatch, tmp_path):
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    cache = tmp_path / "c"
    cache.mkdir()
    np.savez(cache / "mnist.npz", **make_arrays())  # readable, but not MNIST
    with pytest.warns(UserWarning, match="MNIST train must be 60,000 images"):
        assert _sample_load(cache_dir=cache).source.is_sample


def _fake_urlopen(payload: bytes):
    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.close()

    return lambda url, timeout=None: Response(payload)


def test_bad_download_is_not_cached(monkeypatch, tmp_path):
    """A download whose content fails verification is neither returned nor cached."""
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    monkeypatch.delenv("MNIST_OFFLINE", raising=False)
    buf = io.BytesIO()
    np.savez(buf, **make_arrays())
    monkeypatch.setattr(data, "network_available", lambda *a, **k: True)
    monkeypatch.setattr("urllib.request.urlopen", _fake_urlopen(buf.getvalue()))
    monkeypatch.setattr(
        data, "_download_tfds", lambda cache_dir: (_ for _ in ()).throw(ImportError("no tfds"))
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MnistSampleWarning)
        splits = load_mnist(cache_dir=tmp_path / "c")
    assert splits.source.is_sample
    assert not any((tmp_path / "c").glob("*")), (
        "nothing, not even a partial file, is left in the cache"
    )


def test_truncated_download_raises_inside_and_falls_back(monkeypatch, tmp_path):
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    monkeypatch.delenv("MNIST_OFFLINE", raising=False)
    buf = io.BytesIO()
    np.savez_compressed(buf, **make_arrays())
    monkeypatch.setattr(data, "network_available", lambda *a, **k: True)
    monkeypatch.setattr("urllib.request.urlopen", _fake_urlopen(buf.getvalue()[:100]))
    monkeypatch.setattr(
        data, "_download_tfds", lambda cache_dir: (_ for _ in ()).throw(ImportError("no tfds"))
    )
    with pytest.warns(
        MnistSampleWarning, match=r"keras download failed: MnistDataError.*cannot read"
    ):
        load_mnist(cache_dir=tmp_path / "c")


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
    (x_tr2, _), (x_val2, _) = train_val_split(x, y, val_fraction=0.1, seed=3)
    np.testing.assert_array_equal(x_val, x_val2)
    (_, _), (x_val3, _) = train_val_split(x, y, val_fraction=0.1, seed=4)
    assert not np.array_equal(np.sort(x_val), np.sort(x_val3))


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5])
def test_train_val_split_rejects_bad_fraction(bad):
    with pytest.raises(ValueError, match="val_fraction must be in"):
        train_val_split(np.zeros(10), np.zeros(10), val_fraction=bad)


def test_train_val_split_rejects_length_mismatch():
    with pytest.raises(ValueError, match="x has 10 examples but y has 9"):
        train_val_split(np.zeros(10), np.zeros(9))


def test_subsample():
    y = np.repeat(np.arange(10), 50)
    x = np.arange(500)
    xs, ys = subsample(x, y, 100, seed=1)
    assert len(xs) == 100 and np.bincount(ys).tolist() == [10] * 10
    np.testing.assert_array_equal(y[xs], ys)
    assert subsample(x, y, 1000)[0] is x
    with pytest.raises(ValueError, match="n must be positive"):
        subsample(x, y, 0)


# --- The genuine MNIST (MNIST_DATA_DIR, set by CI) ----------------------------------------------------


def test_real_mnist_shapes_and_known_statistics(real_mnist_dir):
    (x_tr, y_tr), (x_te, y_te) = splits = load_mnist(real_mnist_dir)
    assert (x_tr.shape, y_tr.shape, x_te.shape, y_te.shape) == (
        (60000, 28, 28),
        (60000,),
        (10000, 28, 28),
        (10000,),
    )
    assert x_tr.dtype == np.uint8 and y_tr.dtype == np.uint8
    assert splits.source.verified == "sha256" and splits.source.kind == "directory"
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
    with pytest.raises(
        MnistDataError, match=r"t10k-labels-idx1-ubyte.gz: SHA-256 .*not the official MNIST"
    ):
        load_mnist(tmp_path)
    assert load_mnist(tmp_path, verify_checksums=False).source.verified == "structure"


def test_real_mnist_download_then_cache(real_mnist_dir, monkeypatch, tmp_path):
    """The Keras download path, served the genuine mnist.npz: verified, cached atomically, reused."""
    (x_tr, y_tr), (x_te, y_te) = load_mnist(real_mnist_dir)
    buf = io.BytesIO()
    np.savez_compressed(buf, x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te)
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    monkeypatch.delenv("MNIST_OFFLINE", raising=False)
    monkeypatch.setattr(data, "network_available", lambda *a, **k: True)
    monkeypatch.setattr("urllib.request.urlopen", _fake_urlopen(buf.getvalue()))
    first = load_mnist(cache_dir=tmp_path / "c")
    assert first.source.kind == "keras" and first.source.verified == "sha256"
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["mnist.npz"]
    monkeypatch.setattr(
        "urllib.request.urlopen", _fake_urlopen(b"")
    )  # a second download would fail
    second = load_mnist(cache_dir=tmp_path / "c")
    assert second.source.kind == "cache"
    np.testing.assert_array_equal(second[0][0], x_tr)


def test_real_mnist_shuffled_source_is_verified_unordered(real_mnist_dir):
    """tensorflow-datasets serves the same examples in another order: the order-free check."""
    (x_tr, y_tr), (x_te, y_te) = load_mnist(real_mnist_dir)
    perm = np.random.default_rng(0).permutation(len(y_tr))
    arrays = {"x_train": x_tr[perm], "y_train": y_tr[perm], "x_test": x_te, "y_test": y_te}
    assert data._check_unordered(arrays, "shuffled") == "sha256-unordered"
    arrays["x_test"] = x_te.copy()
    arrays["x_test"][0, 0, 0] ^= 1
    with pytest.raises(MnistDataError, match="shuffled: test examples do not match MNIST"):
        data._check_unordered(arrays, "shuffled")


# --- Helpers around the sources --------------------------------------------------------------------


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_CACHE_DIR", str(tmp_path / "a"))
    assert data.default_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("MNIST_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.default_cache_dir() == tmp_path / "xdg" / "mnist_derin_ogrenme"


def test_network_available_against_a_local_listener(monkeypatch):
    """True for a host that accepts (a listener on loopback), False for one that refuses."""
    from conftest import REAL_CREATE_CONNECTION

    monkeypatch.setattr(socket, "create_connection", REAL_CREATE_CONNECTION)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        assert data.network_available(("127.0.0.1", port), timeout=2)
    assert not data.network_available(("127.0.0.1", port), timeout=2)


def test_unordered_fingerprint_ignores_order_only():
    a = make_arrays(n_train=30)
    fp = data.unordered_fingerprint(a["x_train"], a["y_train"])
    perm = np.random.default_rng(1).permutation(30)
    assert data.unordered_fingerprint(a["x_train"][perm], a["y_train"][perm]) == fp
    y = a["y_train"].copy()
    y[0] = (y[0] + 1) % 10
    assert data.unordered_fingerprint(a["x_train"], y) != fp
