"""demo/app.py: the app starts on loopback and answers through Gradio's client API."""

from __future__ import annotations

import socket

import numpy as np
import pytest
from conftest import REAL_CREATE_CONNECTION
from PIL import Image

from common.handwriting import example_digits, naive_resize, to_mnist

pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")


def _loopback_only(address, *args, **kwargs):
    if address[0] not in ("127.0.0.1", "localhost", "::1"):
        raise OSError(f"network disabled in tests ({address[0]})")
    return REAL_CREATE_CONNECTION(address, *args, **kwargs)


class Stub:
    """A predictor that records what it was given and always answers ``answer``."""

    def __init__(self, answer: int):
        self.answer, self.seen = answer, []

    def __call__(self, images):
        self.seen.append(np.array(images))
        proba = np.full((len(images), 10), 0.02)
        proba[:, self.answer] = 0.82
        return proba


@pytest.fixture(scope="module")
def served():
    """The app with two stub models, on a free loopback port, and a client connected to it."""
    from demo.app import build_app

    mp = pytest.MonkeyPatch()
    mp.setattr(socket, "create_connection", _loopback_only)  # the app and client talk over loopback
    stubs = {"model A": Stub(3), "model B": Stub(8)}
    app = build_app(stubs, [str(i) for i in range(10)])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, url, _ = app.launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True
    )
    try:
        yield stubs, gradio_client.Client(url, verbose=False, download_files=False)
    finally:
        app.close()
        mp.undo()


@pytest.fixture
def connected(served, monkeypatch):
    """``served``, with loopback connections allowed again (conftest blocks all per test)."""
    monkeypatch.setattr(socket, "create_connection", _loopback_only)
    return served


def test_an_uploaded_image_reaches_the_models_in_mnist_form_and_both_answers_come_back(connected):
    stubs, client = connected
    path, _ = example_digits()[0]
    naive, normalised, label_a, label_b, message = client.predict(
        gradio_client.handle_file(str(path)), api_name="/classify_upload"
    )
    for stub in stubs.values():
        assert len(stub.seen) == 1 and stub.seen[0].dtype == np.uint8
        assert np.array_equal(stub.seen[0], to_mnist(path)[None])  # exactly the normalised digit
    assert label_a["label"] == "3" and label_b["label"] == "8"
    top = {c["label"]: c["confidence"] for c in label_a["confidences"]}
    assert top["3"] == pytest.approx(0.82)
    assert "model A: 3" in message and "model B: 8" in message
    # The two squares shown (140x140, saved lossy by Gradio) are the naive squeeze and the
    # MNIST-style digit, in that order: each within 2 grey levels of its own 28x28, far from the other.
    for shown, own, other in ((naive, naive_resize(path), to_mnist(path)),
                              (normalised, to_mnist(path), naive_resize(path))):  # fmt: skip
        big = np.asarray(Image.open(shown["path"]).convert("L"), float)
        assert big.shape == (140, 140)
        small = big.reshape(28, 5, 28, 5).mean(axis=(1, 3))  # each pixel was shown as 5x5
        assert np.abs(small - own).mean() < 2 < 20 < np.abs(small - other).mean()
    for stub in stubs.values():
        stub.seen.clear()


def test_a_bad_upload_gets_a_readable_message_and_no_prediction(connected, tmp_path):
    stubs, client = connected
    bad = tmp_path / "holiday.png"
    bad.write_bytes(b"not an image at all")
    *_, label_a, label_b, message = client.predict(
        gradio_client.handle_file(str(bad)), api_name="/classify_upload"
    )
    assert "Cannot use this image" in message and "not a readable image" in message
    assert "Traceback" not in message
    assert all(not stub.seen for stub in stubs.values())  # never a silent prediction

    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.new("RGB", (200, 200), "white").save(blank)
    *_, message = client.predict(gradio_client.handle_file(str(blank)), api_name="/classify_upload")
    assert "no ink found" in message
    assert all(not stub.seen for stub in stubs.values())


def test_a_drawing_from_the_sketchpad_is_classified():
    """The Sketchpad's value (a dict with an RGBA composite, transparent paper) is understood."""
    from demo.app import classify

    stub = Stub(1)
    composite = np.zeros((300, 300, 4), np.uint8)
    composite[60:240, 140:146, 3] = 255  # a thin black stroke on a transparent canvas
    value = {"background": None, "layers": [], "composite": composite}
    naive, normalised, label, message = classify(value, {"m": stub}, [str(i) for i in range(10)])
    seen = stub.seen[0][0]
    assert (
        seen.shape == (28, 28)
        and seen[4:24].max(axis=1).min() > 200
        and (seen[14] > 100).sum() >= 2
        and seen[:, :8].max() == 0
    )
    assert max(label, key=label.get) == "1" and "m: 1" in message

    *_, message = classify({"composite": None}, {"m": stub}, list("0123456789"))
    assert "Draw a digit" in message


def test_build_app_refuses_no_models():
    from demo.app import build_app

    with pytest.raises(ValueError, match="at least one model"):
        build_app({}, list("0123456789"))


def test_interactive_notebook_is_false_here_and_can_be_forced(monkeypatch):
    from demo import interactive_notebook

    monkeypatch.delenv("MNIST_INTERACTIVE", raising=False)
    assert interactive_notebook() is False  # pytest, no Jupyter kernel
    monkeypatch.setenv("MNIST_INTERACTIVE", "1")
    assert interactive_notebook() is True
    monkeypatch.setenv("MNIST_INTERACTIVE", "0")
    assert interactive_notebook() is False


def test_the_page_renders_in_a_real_browser(connected, tmp_path):
    """Headless Chromium loads the app and its JavaScript draws both models' panels (skipped
    when no Chromium is installed, as in CI unless .ci/run installs it)."""
    import shutil
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium here (apt-get install chromium)")
    stubs, client = connected
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
        "--dump-dom",
        client.src,
    ]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    assert "Try your own digit" in dom
    for name in stubs:
        assert name in dom


def test_numpy_predictor_loads_the_saved_network_or_trains_a_quick_one(tmp_path, capsys):
    """The notebook's saved network is used as is; another network's weights are not loaded."""
    from demo import models as app
    from from_scratch_numpy import numpy_net, train

    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (64, 28, 28), dtype=np.uint8), rng.integers(0, 10, 64)
    saved = numpy_net.build(train.IMPROVED, seed=3)[0]
    train.save_weights(saved, tmp_path / "numpy_mlp.npz")
    predict = app.numpy_predictor(tmp_path, x, y)
    np.testing.assert_allclose(predict(x[:5]), train.predict_proba(saved, x[:5]), rtol=1e-6)
    assert "training a quick one" not in capsys.readouterr().out

    train.save_weights(numpy_net.mlp((784, 16, 10)), tmp_path / "numpy_mlp.npz")
    predict = app.numpy_predictor(tmp_path, x, y)
    assert predict(x[:5]).shape == (5, 10)
    out = capsys.readouterr().out
    assert "does not fit" in out and "training a quick one" in out


# --- issue 28: the demo out of the box --------------------------------------------------------------


def _dom(url: str, tmp_path) -> str:
    import shutil
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium here (apt-get install chromium)")
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    command += ["--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}"]
    command += ["--virtual-time-budget=8000", "--dump-dom", url]
    return subprocess.run(command, capture_output=True, text=True, timeout=120).stdout


def test_the_canvas_opens_with_the_brush_picked(connected, tmp_path):
    import re

    _, client = connected
    dom = _dom(client.src, tmp_path)
    assert "Try your own digit" in dom
    assert "select the draw tool" not in dom
    brush = re.search(r'<button[^>]*aria-label="Brush"[^>]*>', dom)
    assert brush and "highlight" in brush.group(0), "the brush is the tool in hand"


def test_the_ink_choice_reaches_to_mnist(connected, tmp_path):
    stubs, client = connected
    path = tmp_path / "dim.png"
    from PIL import Image

    grey = np.full((120, 120), 115, np.uint8)  # a dim photo: grey paper...
    grey[20:100, 55:62] = 30  # ...and a dark stroke
    Image.fromarray(grey).save(path)
    upload = gradio_client.handle_file(str(path))
    *_, message = client.predict(upload, "light ink on dark paper", api_name="/classify_upload")
    assert "no ink found" in message, "told the ink is light, nothing is lighter than the paper"
    assert all(not stub.seen for stub in stubs.values())
    client.predict(upload, "dark ink on light paper", api_name="/classify_upload")
    for stub in stubs.values():
        assert np.array_equal(stub.seen[-1][0], to_mnist(path, ink="dark"))
        stub.seen.clear()


def test_classify_reports_any_failure_and_never_raises(monkeypatch):
    import subprocess

    from demo import app

    path, _ = example_digits()[0]

    def ghostscript_failed(image, **kwargs):
        raise subprocess.CalledProcessError(1, ["gs"])

    monkeypatch.setattr(app, "to_mnist", ghostscript_failed)
    *_, message = app.classify(str(path), {"m": Stub(1)}, list("0123456789"))
    assert "Cannot use this image" in message and "CalledProcessError" in message
    monkeypatch.undo()

    def broken(images):
        raise RuntimeError("out of memory")

    _, _, first, second, message = app.classify(
        str(path), {"broken": broken, "fine": Stub(4)}, list("0123456789")
    )
    assert first == {} and max(second, key=second.get) == "4"
    assert "broken: failed (RuntimeError: out of memory)" in message and "fine: 4" in message


def test_a_cnn_keras_that_is_not_a_zip_gets_a_clear_error(tmp_path):
    from demo.models import load_cnn

    (tmp_path / "cnn.keras").write_bytes(b"<html>404 Not Found</html>")  # a failed download
    with pytest.raises(
        ValueError, match=r"cnn.keras is not a Keras model file \(a .keras file is a zip"
    ):
        load_cnn(tmp_path / "cnn.keras")
    with pytest.raises(ValueError, match="no such file"):
        load_cnn(tmp_path / "absent.keras")


def test_the_shipped_model_files_are_committed_not_ignored():
    import subprocess

    from demo.models import SHIPPED

    root = SHIPPED.parents[1]
    for name in ("numpy_mlp.npz", "cnn.keras"):
        ignored = subprocess.run(
            ["git", "-C", str(root), "check-ignore", "-q", f"results/models/{name}"]
        )
        assert ignored.returncode == 1, f"results/models/{name} must be committed, not ignored"
    for other in ("results/models/ensemble_0.keras", "results/quick/models/cnn.keras", "x.keras"):
        assert subprocess.run(["git", "-C", str(root), "check-ignore", "-q", other]).returncode == 0


def test_the_demo_reads_the_shipped_models_and_trains_only_what_is_missing(
    tmp_path, monkeypatch, capsys
):
    from common import data
    from demo import app, models
    from from_scratch_numpy import numpy_net, train

    assert models.SHIPPED == models.Path(app.__file__).resolve().parents[1] / "results" / "models"
    seen = []
    monkeypatch.setattr(app, "load_predictors", lambda folder: seen.append(folder) or {})
    with pytest.raises(SystemExit):
        app.main([])
    assert seen == [models.SHIPPED], "the demo reads results/models/ of the repository"

    shipped = numpy_net.build(train.IMPROVED, seed=4)[0]
    train.save_weights(shipped, tmp_path / "numpy_mlp.npz")
    (tmp_path / "cnn.keras").write_bytes(b"truncated")
    loads = []

    def fake_mnist(*args, **kwargs):
        loads.append(1)
        rng = np.random.default_rng(0)
        x, y = rng.integers(0, 256, (40, 28, 28), dtype=np.uint8), rng.integers(0, 10, 40)
        return (x, y), (x, y)

    def cnn_predictor(folder, x=None, y=None):  # the real one, but a stub for the quick model
        if x is None:
            models.load_cnn(folder / "cnn.keras")
        return Stub(7)

    monkeypatch.setattr(data, "load_mnist", fake_mnist)
    monkeypatch.setattr(models, "cnn_predictor", cnn_predictor)
    predictors = models.load_predictors(tmp_path)
    x = np.random.default_rng(1).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    np.testing.assert_allclose(predictors["NumPy MLP"](x), train.predict_proba(shipped, x), rtol=1e-6)
    assert isinstance(predictors["CNN (Keras)"], Stub), "the quick fallback for the bad file"
    assert loads == [1], "MNIST loaded once, for the one quick model"
    assert "cnn.keras is not a Keras model file" in capsys.readouterr().out


def test_the_demo_serves_on_loopback_and_caps_upload_size(monkeypatch):
    """Second pass: an upload of gigabytes was stored in full before to_mnist refused it."""
    import gradio as gr

    from demo import app

    launched = {}

    def launch(self, **kwargs):
        launched.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(app, "load_predictors", lambda folder: {"m": Stub(1)})
    monkeypatch.setattr(gr.Blocks, "launch", launch)
    with pytest.raises(SystemExit):
        app.main(["--port", "7999"])
    assert launched["server_name"] == "127.0.0.1" and launched["max_file_size"] == "25mb"


def test_save_cnn_on_a_full_disk_leaves_the_earlier_model_intact(tmp_path):
    from demo.models import save_cnn

    class Model:  # Keras's model.save: refuses a name not ending in .keras, writes in place
        def __init__(self, body, fail=False):
            self.body, self.fail = body, fail

        def save(self, path):
            assert str(path).endswith(".keras"), path
            with open(path, "wb") as f:
                f.write(self.body[:3])
                if self.fail:
                    raise OSError(28, "No space left on device")
                f.write(self.body[3:])

    path = save_cnn(Model(b"PK good model"), tmp_path / "cnn.keras")
    with pytest.raises(OSError, match="No space left"):
        save_cnn(Model(b"PK newer model", fail=True), path)
    assert path.read_bytes() == b"PK good model"
    assert [p.name for p in tmp_path.iterdir()] == ["cnn.keras"]
