"""common.handwriting: MNIST digits pasted into other images come back classifiable; errors are clear."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from PIL import Image

from common.handwriting import example_digits, naive_resize, to_mnist

N_TEST = 500  # pasted canvases per variant: enough to see a one-point difference, fast enough


@pytest.fixture(scope="module")
def mnist():
    """Genuine MNIST when MNIST_DATA_DIR is set, else the 5,000-digit offline sample."""
    from common.data import MnistSampleWarning, load_mnist

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MnistSampleWarning)
        (x, y), (xt, yt) = load_mnist(download=False)
    if len(xt) < N_TEST:  # the sample has no separate test split worth the name: hold out its end
        x, y, xt, yt = x[:-N_TEST], y[:-N_TEST], x[-N_TEST:], y[-N_TEST:]
    return x, y, xt[:N_TEST], yt[:N_TEST]


@pytest.fixture(scope="module")
def model(mnist):
    """A small MLP (scikit-learn), trained in about 5 s on up to 10,000 digits (~91% on MNIST)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    x, y, _, _ = mnist
    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=8, random_state=0)
    with warnings.catch_warnings(), threadpool_limits(1):  # one thread: faster on a busy machine
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x[:10_000].reshape(-1, 784) / 255.0, y[:10_000])
    return lambda images: clf.predict(np.asarray(images).reshape(len(images), -1) / 255.0)


def paste(digit: np.ndarray, variant: str, rng: np.random.Generator) -> np.ndarray:
    """An MNIST digit enlarged and pasted off-centre into a bigger canvas, styled by ``variant``."""
    side = int(rng.integers(28 * 2, 28 * 4))
    canvas_h, canvas_w = side + int(rng.integers(0, 80)), side + int(rng.integers(0, 80))
    ink = np.asarray(Image.fromarray(digit).resize((side, side), Image.BILINEAR), np.float32) / 255
    field = np.zeros((canvas_h, canvas_w), np.float32)
    top, left = int(rng.integers(0, canvas_h - side + 1)), int(rng.integers(0, canvas_w - side + 1))
    field[top : top + side, left : left + side] = ink
    if variant == "light_on_dark":  # MNIST's own polarity, just bigger and elsewhere
        return np.round(field * 255).astype(np.uint8)
    if variant == "dark_on_white":
        return np.round((1 - field) * 255).astype(np.uint8)
    if variant == "grey_paper_noise_rgb":  # a photo-like pencil on grey paper, as RGB
        paper, pencil = rng.uniform(0.55, 0.8), rng.uniform(0.05, 0.2)
        grey = paper + (pencil - paper) * field + rng.normal(0, 0.03, field.shape)
        rgb = np.clip(grey[:, :, None] * np.array([1.0, 0.97, 0.9]), 0, 1)
        return np.round(rgb * 255).astype(np.uint8)
    if variant == "rgba_transparent":  # black strokes on a transparent background
        rgba = np.zeros((canvas_h, canvas_w, 4), np.uint8)
        rgba[:, :, 3] = np.round(field * 255)
        return rgba
    raise ValueError(variant)


VARIANTS = ("light_on_dark", "dark_on_white", "grey_paper_noise_rgb", "rgba_transparent")


@pytest.fixture(scope="module")
def canvases(mnist):
    _, _, xt, yt = mnist
    rng = np.random.default_rng(0)
    return {v: [paste(d, v, rng) for d in xt] for v in VARIANTS}


def test_pasted_digits_normalised_back_are_classified_as_well_as_clean_ones(mnist, model, canvases):
    _, _, xt, yt = mnist
    clean = np.mean(model(xt) == yt)
    assert clean > 0.85, f"the test model itself is too weak ({clean:.1%})"
    report = [f"clean MNIST test digits: {clean:.1%}"]
    for variant, images in canvases.items():
        normalised = np.mean(model(np.stack([to_mnist(im) for im in images])) == yt)
        naive = np.mean(model(np.stack([naive_resize(im) for im in images])) == yt)
        report.append(f"{variant}: normalised {normalised:.1%}, naive resize {naive:.1%}")
        assert normalised >= clean - 0.015, "\n".join(report)
        assert naive < 0.6 * clean, "\n".join(report)
    print("\n".join(report))


def test_an_mnist_digit_comes_back_almost_unchanged(mnist):
    _, _, xt, _ = mnist
    diffs = [np.abs(to_mnist(d).astype(int) - d).mean() for d in xt[:100]]
    # out of 255; the differences are mostly the re-centring by whole pixels
    assert np.median(diffs) < 2.0 and max(diffs) < 30


def test_output_follows_mnist_conventions(mnist, canvases):
    out = to_mnist(canvases["dark_on_white"][0])
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert out.max() == 255 and out[0].max() == 0 and out[:, 0].max() == 0  # white on black
    rows, cols = np.flatnonzero(out.any(1)), np.flatnonzero(out.any(0))
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (20, 21, 22)  # 20 px + Lanczos edge
    from scipy.ndimage import center_of_mass

    assert np.allclose(center_of_mass(out.astype(float)), (14, 14), atol=0.75)


def test_a_small_digit_far_off_centre_is_centred_and_enlarged():
    im = Image.new("L", (400, 300), 255)
    from PIL import ImageDraw

    ImageDraw.Draw(im).line([(350, 20), (352, 60)], fill=0, width=4)  # a small "1" in the corner
    out = to_mnist(im)
    rows = np.flatnonzero(out.any(1))
    assert rows[-1] - rows[0] + 1 >= 20
    from scipy.ndimage import center_of_mass

    assert np.allclose(center_of_mass(out.astype(float)), (14, 14), atol=0.75)


def test_every_input_kind_gives_the_same_result(tmp_path, canvases):
    rgb = canvases["grey_paper_noise_rgb"][1]
    path = tmp_path / "digit.png"
    Image.fromarray(rgb).save(path)
    expected = to_mnist(rgb)
    for image in (path, str(path), path.read_bytes(), Image.open(path), rgb / 255.0):
        assert np.array_equal(to_mnist(image), expected)
    grey = np.asarray(Image.fromarray(rgb).convert("L"))
    assert np.abs(to_mnist(grey).astype(int) - expected).mean() < 3


def test_ink_polarity_is_detected_and_can_be_overridden(canvases):
    light = canvases["light_on_dark"][2]
    dark = 255 - light
    assert np.array_equal(to_mnist(light), to_mnist(dark))
    assert np.array_equal(to_mnist(dark, ink="dark"), to_mnist(light, ink="light"))
    with pytest.raises(ValueError, match="ink must be"):
        to_mnist(light, ink="white")


def test_noise_specks_far_from_the_digit_do_not_change_the_crop(canvases):
    im = canvases["dark_on_white"][3].copy()
    clean = to_mnist(im)
    im[2, 2] = im[-3, -3] = 0  # two dust specks in the corners
    assert np.array_equal(to_mnist(im), clean)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.full((200, 200), 255, np.uint8), "no ink"),
        (np.zeros((64, 64, 3), np.uint8), "no ink"),
        (np.zeros((64, 64, 4), np.uint8), "no ink"),  # fully transparent
        (np.full((5, 5), 128, np.uint8), "too small"),
        (np.zeros((10, 10, 2), np.uint8), "shape"),
        (np.full((30, 30), 300.0), "0..255"),
        (np.full((30, 30), np.nan), "NaN"),
        (b"this is not a PNG", "not a readable image"),
        ("no/such/file.png", "no such image file"),
        (np.array([["a"]]), "expected an image"),
    ],
)
def test_bad_inputs_raise_a_clear_error(image, message):
    with pytest.raises(ValueError, match=message):
        to_mnist(image)


def test_an_absurdly_large_image_is_refused_before_decoding(monkeypatch):
    buf = io.BytesIO()
    Image.new("L", (9000, 5000), 255).save(buf, format="PNG")  # 45 megapixels, compresses to ~50 KB
    with pytest.raises(ValueError, match="too large"):
        to_mnist(buf.getvalue())


def test_the_committed_examples_are_read_and_labelled():
    examples = example_digits()
    assert len(examples) >= 5 and {label for _, label in examples} <= set(range(10))
    assert sum(p.stat().st_size for p, _ in examples) < 100_000
    for path, _ in examples:
        out = to_mnist(path)
        assert out.shape == (28, 28) and out.max() == 255
        assert naive_resize(path).shape == (28, 28)


def test_the_committed_examples_are_recognised_after_normalisation(model):
    examples = example_digits()
    labels = np.array([label for _, label in examples])
    normalised = np.mean(model(np.stack([to_mnist(p) for p, _ in examples])) == labels)
    naive = np.mean(model(np.stack([naive_resize(p) for p, _ in examples])) == labels)
    assert normalised >= 0.7 and naive <= 0.4, (normalised, naive)


def test_plot_digit_prediction_shows_input_both_squares_and_both_predictions(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from common.plots import plot_digit_prediction

    path, label = example_digits()[0]
    naive, normalised = naive_resize(path), to_mnist(path)
    p_naive, p_norm = np.full(10, 0.02), np.full(10, 0.01)
    p_naive[3], p_norm[label] = 0.82, 0.91
    fig = plot_digit_prediction(path, naive, normalised, p_naive, p_norm)
    image_ax, naive_ax, norm_ax, bar_ax = fig.axes
    assert np.array_equal(naive_ax.images[0].get_array(), naive)
    assert np.array_equal(norm_ax.images[0].get_array(), normalised)
    assert "-> 3 (82%)" in naive_ax.get_title() and f"-> {label} (91%)" in norm_ax.get_title()
    heights = [b.get_height() for b in bar_ax.patches]
    assert np.allclose(heights, np.concatenate([p_naive, p_norm]))
    fig.savefig(tmp_path / "digit.png")

    names = [f"class {i}" for i in range(10)]
    fig = plot_digit_prediction(path, naive, normalised, p_naive, p_norm, class_names=names)
    assert f"-> class {label} (91%)" in fig.axes[2].get_title()
    with pytest.raises(ValueError, match="class_names"):
        plot_digit_prediction(path, naive, normalised, p_naive, p_norm, class_names=names[:3])
    with pytest.raises(ValueError, match="same K"):
        plot_digit_prediction(path, naive, normalised, p_naive, p_norm[:5])


# --- issue 28: a real user's photo ------------------------------------------------------------


def _similar(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two 28x28 outputs, blurred by a pixel (a stroke a little thinner or a pixel
    off still matches): 1 for the same digit in the same place, about 0 for unrelated ones."""
    from scipy.ndimage import gaussian_filter

    a, b = (gaussian_filter(np.asarray(z, float), 1.0).ravel() for z in (a, b))
    return float(np.corrcoef(a, b)[0, 1])


def _jpeg(image: Image.Image, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=92, **kwargs)
    return buf.getvalue()


@pytest.mark.parametrize(
    "orientation, stored",
    [
        (6, Image.Transpose.ROTATE_90),
        (8, Image.Transpose.ROTATE_270),
        (3, Image.Transpose.ROTATE_180),
    ],
)
def test_a_phone_photos_exif_orientation_is_applied_first(canvases, orientation, stored):
    upright = Image.fromarray(canvases["dark_on_white"][5])  # as the phone's gallery shows it
    exif = Image.Exif()  # the pixels are stored turned; the orientation tag says how to turn back
    exif[0x0112] = orientation
    photo = _jpeg(upright.transpose(stored), exif=exif.tobytes())
    expected = to_mnist(_jpeg(upright))
    assert _similar(to_mnist(photo), expected) > 0.95
    assert _similar(to_mnist(Image.open(io.BytesIO(photo))), expected) > 0.95  # a PIL image too
    assert _similar(naive_resize(photo), naive_resize(_jpeg(upright))) > 0.95


def test_a_page_with_a_transparent_margin_keeps_its_polarity(canvases):
    page = canvases["dark_on_white"][6]  # white page, dark digit
    rgba = np.zeros((page.shape[0] + 60, page.shape[1] + 60, 4), np.uint8)  # a clear margin
    rgba[30:-30, 30:-30, :3] = page[:, :, None]
    rgba[30:-30, 30:-30, 3] = 255
    out = to_mnist(rgba)
    assert (out > 127).mean() < 0.3, "the page came out as ink (a white square)"
    assert _similar(out, to_mnist(page)) > 0.95


def _vignette(shape, depth: float) -> np.ndarray:
    """A lens's fall-off: 1 at the centre, 1 - depth in the corners."""
    yy, xx = np.mgrid[-1 : 1 : shape[0] * 1j, -1 : 1 : shape[1] * 1j]
    return 1 - depth * (xx**2 + yy**2) / 2


@pytest.mark.parametrize("i", range(4))
def test_a_photo_with_a_dark_vignette_keeps_its_polarity(canvases, i):
    page = canvases["dark_on_white"][10 + i].astype(np.float32) / 255
    photo = np.round(255 * page * _vignette(page.shape, 0.75)).astype(np.uint8)
    out = to_mnist(photo)
    assert (out > 127).mean() < 0.3
    assert _similar(out, to_mnist(page)) > 0.75  # the same digit; the darkened edges thinner


@pytest.mark.parametrize("where", [(1 / 4, 1 / 5), (1 / 2, 1 / 2), (3 / 4, 4 / 5)])
def test_a_lamps_glare_on_a_dim_photo_does_not_flip_polarity(canvases, where):
    """Second pass: a bright, smooth reflection outshone the dark ink, so the paper was read as
    ink (a white field). (The glare still weakens the crop: see uploads.py's "glare" kind.)"""
    for i in range(30, 34):
        page = canvases["dark_on_white"][i].astype(np.float32) / 255
        h, w = page.shape
        yy, xx = np.mgrid[0:h, 0:w]
        r = 0.15 * min(h, w)
        spot = np.exp(-((yy - where[0] * h) ** 2 + (xx - where[1] * w) ** 2) / (2 * r**2))
        photo = (0.45 + 0.55 * spot) * page + 0.08 * (1 - page)  # grey paper, white glare
        assert (to_mnist(photo) > 127).mean() < 0.25, "the paper came out as ink"


@pytest.mark.parametrize("i", range(4))
def test_a_dim_photo_of_grey_paper_is_read_not_called_blank(canvases, i):
    rng = np.random.default_rng(i)
    page = canvases["dark_on_white"][20 + i].astype(np.float32) / 255  # 1 paper, 0 ink
    dim = 0.04 + (rng.uniform(110, 120) / 255 - 0.04) * page + rng.normal(0, 0.01, page.shape)
    out = to_mnist(np.clip(dim, 0, 1))
    assert _similar(out, to_mnist(page)) > 0.85
    assert np.array_equal(to_mnist(np.clip(dim, 0, 1), ink="dark"), out)


def _pencil_drawing(label_strokes, size=300) -> Image.Image:
    """A paint program's 1-px pencil, no anti-aliasing: black polylines on white."""
    from PIL import ImageDraw

    im = Image.new("L", (size, size), 255)
    for line in label_strokes:
        ImageDraw.Draw(im).line([(x * size, y * size) for x, y in line], fill=0, width=1)
    return im


def test_a_one_pixel_aliased_pencils_diagonals_are_strokes_not_specks():
    seven = _pencil_drawing([[(0.3, 0.2), (0.7, 0.2), (0.42, 0.8)]])
    out = to_mnist(seven)
    rows, cols = np.flatnonzero(out.any(1)), np.flatnonzero(out.any(0))
    assert rows[-1] - rows[0] + 1 >= 19, "the diagonal was dropped: only the bar is left"
    assert out[rows[-1] - 2 : rows[-1] + 1].max() > 120  # the diagonal's foot is ink
    four = _pencil_drawing([[(0.55, 0.2), (0.3, 0.6), (0.7, 0.6)], [(0.6, 0.4), (0.6, 0.8)]])
    out = to_mnist(four)
    cols = np.flatnonzero(out.any(0))
    assert cols[-1] - cols[0] + 1 >= 14, "the 4 lost its diagonal and reads as a 1"


def test_a_speck_on_a_blank_page_is_no_digit():
    page = np.full((2000, 2000), 255, np.uint8)
    page[1000:1002, 700:702] = 0  # a 3-4 pixel speck of dust
    page[1002, 700] = 0
    with pytest.raises(ValueError, match="no digit found"):
        to_mnist(page)


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def test_a_16_bit_png_is_read_at_its_real_depth(canvases):
    page = canvases["dark_on_white"][7].astype(np.float32) / 255
    expected = to_mnist(page)
    mid = np.round(20_000 + 25_000 * page).astype(np.uint16)  # a scan in mid range: not blank
    assert Image.open(io.BytesIO(_png(mid))).mode.startswith("I")  # really 16-bit in the file
    assert _similar(to_mnist(_png(mid)), expected) > 0.95
    full = np.round(65_535 * page).astype(np.uint16)  # 0..65535: not clipped to white
    assert _similar(to_mnist(_png(full)), expected) > 0.95
    assert _similar(to_mnist(mid), expected) > 0.95  # the uint16 array itself
    eight_bit = np.round(255 * page).astype(np.uint16)  # 8-bit values in a uint16 array
    assert _similar(to_mnist(eight_bit), expected) > 0.95


def test_a_float_image_in_0_1_with_a_slight_overshoot_is_read_as_0_1(canvases):
    page = canvases["dark_on_white"][8].astype(np.float32) / 255
    expected = to_mnist(page)
    page[0, 0] = 1.02  # resampling rings a little above 1
    assert _similar(to_mnist(page), expected) > 0.98


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 40 40\n0 0 moveto 40 40 lineto stroke\n%%EOF\n"


def test_postscript_is_never_handed_to_ghostscript(monkeypatch, tmp_path):
    from PIL import EpsImagePlugin

    calls = []

    def ghostscript(*args, **kwargs):
        calls.append(args)
        import subprocess

        raise subprocess.CalledProcessError(1, "gs")  # as a failing Ghostscript does

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", ghostscript)
    monkeypatch.setattr(EpsImagePlugin, "has_ghostscript", lambda: True)
    (tmp_path / "digit.eps").write_bytes(EPS)
    for image in (EPS, tmp_path / "digit.eps"):
        with pytest.raises(ValueError, match="not a readable image"):
            to_mnist(image)
    assert calls == []


def _uploads_module():
    import importlib.util

    from common.handwriting import ASSETS

    spec = importlib.util.spec_from_file_location("uploads", ASSETS[0] / "uploads.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_upload_like_images_of_every_kind_are_read_and_recognised(mnist, model):
    """assets/digits/uploads.py's imitations of real uploads (EXIF-turned phone JPEGs, 16-bit
    scans, paint programs with and without anti-aliasing, transparency, dim, vignetted, chalk)."""
    uploads = _uploads_module()
    _, _, xt, yt = mnist
    rows = list(uploads.uploads(xt[100:], yt[100:], per_kind=6, seed=1))
    assert {kind for kind, *_ in rows} == set(uploads.KINDS)
    images = np.stack([to_mnist(body) for _, _, body, _ in rows])  # none refused
    assert ((images > 127).mean(axis=(1, 2)) < 0.3).all(), "no paper read as ink"
    right = model(images) == np.array([label for *_, label in rows])
    kinds = np.array([kind for kind, *_ in rows])
    worst = min(right[kinds == kind].mean() for kind in uploads.KINDS)
    assert right.mean() >= 0.75 and worst >= 0.5, {
        k: right[kinds == k].mean() for k in uploads.KINDS
    }
