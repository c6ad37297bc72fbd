"""A set of images that imitate what people upload to "Try your own digit", with true labels.

``python assets/digits/uploads.py OUT [--per-kind 60] [--model cnn.keras]`` writes them into the
folder OUT (nothing of it is committed: this script is the set) and, given a Keras model, prints
``to_mnist``'s accuracy through it, per kind. The handwriting comes from MNIST's test split (real
people's digits, enlarged into pen strokes) and, for the paint-program pencil, from the stroke
templates of ``make_examples.py``; each kind then imitates one way uploads differ from MNIST:

- ``phone_exif``: a JPEG photo of grey paper (uneven light, noise, blur, a slight tilt) whose
  pixels are stored turned, with the EXIF orientation tag that turns them upright (as phones do)
- ``scan_16bit``: a 16-bit greyscale PNG scan in mid range
- ``paint_antialiased``: a paint program's soft brush, black on white
- ``paint_pencil``: a paint program's 1-3 px pencil without anti-aliasing
- ``transparent``: strokes on a transparent background (a drawing app's export)
- ``transparent_margin``: a white page with a clear margin around it
- ``dim_photo``: grey paper at 100-125 of 255 (a photo in a dim room), dark ink
- ``vignette``: a photo whose corners a lens darkened
- ``glare``: a photo of grey paper with a lamp's bright reflection on it
- ``chalk``: light chalk on a dark board
"""

import argparse
import io
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_examples import STROKES  # noqa: E402

KINDS = (
    "phone_exif",
    "scan_16bit",
    "paint_antialiased",
    "paint_pencil",
    "transparent",
    "transparent_margin",
    "dim_photo",
    "vignette",
    "glare",
    "chalk",
)


def pen(digit: np.ndarray, side: int, rng: np.random.Generator) -> np.ndarray:
    """An MNIST digit (uint8 28x28) enlarged to ``side`` px as pen ink in [0, 1], with a random
    pen width: smooth enlargement, then a soft threshold (a pen's edge, not a blur)."""
    big = np.asarray(Image.fromarray(digit).resize((side, side), Image.BICUBIC), np.float32) / 255
    level = rng.uniform(0.25, 0.6)  # lower: a broader pen
    return np.clip((big - level) / 0.15 + 0.5, 0, 1)


def place(ink: np.ndarray, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """``ink`` placed at a random spot of an empty field of ``shape``."""
    field = np.zeros(shape, np.float32)
    top = int(rng.integers(0, shape[0] - ink.shape[0] + 1))
    left = int(rng.integers(0, shape[1] - ink.shape[1] + 1))
    field[top : top + ink.shape[0], left : left + ink.shape[1]] = ink
    return field


def lighting(shape, rng, strength=0.1) -> np.ndarray:
    """A smooth brightness gradient across the page (a lamp to one side)."""
    yy, xx = np.mgrid[0 : 1 : shape[0] * 1j, 0 : 1 : shape[1] * 1j]
    a, b = rng.uniform(-strength, strength, 2)
    return 1 + a * (xx - 0.5) + b * (yy - 0.5)


def vignette(shape, depth) -> np.ndarray:
    yy, xx = np.mgrid[-1 : 1 : shape[0] * 1j, -1 : 1 : shape[1] * 1j]
    return 1 - depth * (xx**2 + yy**2) / 2


def to_png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def pencil(label: int, rng: np.random.Generator) -> Image.Image:
    """A paint program's pencil: the label's stroke template, jittered, 1-3 px, no anti-aliasing."""
    side = int(rng.integers(200, 400))
    im = Image.new("L", (side, side), 255)
    draw = ImageDraw.Draw(im)
    height, slant = rng.uniform(0.5, 0.8) * side, rng.uniform(-0.1, 0.35)
    left, top = rng.uniform(0.1, 0.4) * side, rng.uniform(0.05, 0.95 * side - height)
    width = int(rng.choice([1, 1, 2, 3]))
    for line in STROKES[label]:
        pts = [
            (left + (x + slant * (1 - y) + rng.normal(0, 0.015)) * 0.7 * height,
             top + (y + rng.normal(0, 0.015)) * height)
            for x, y in line
        ]  # fmt: skip
        draw.line(pts, fill=0, width=width)
    return im


def make_upload(kind: str, digit: np.ndarray, label: int, rng) -> tuple[str, bytes]:
    """One upload of ``kind`` showing ``digit``: (file suffix, file bytes)."""
    if kind == "paint_pencil":
        return ".png", to_png(np.asarray(pencil(label, rng)))
    h, w = int(rng.integers(160, 480)), int(rng.integers(160, 480))
    side = int(rng.uniform(0.4, 0.9) * min(h, w))
    ink = place(pen(digit, side, rng), (h, w), rng)
    noise = rng.normal(0, 1, (h, w))
    if kind == "phone_exif":
        paper = rng.uniform(0.6, 0.85) * lighting((h, w), rng, 0.2)
        grey = paper + (rng.uniform(0.05, 0.25) - paper) * ink + 0.02 * noise
        rgb = np.clip(grey[:, :, None] * np.array([1.0, 0.97, 0.9]), 0, 1)
        im = (
            Image.fromarray(np.round(rgb * 255).astype(np.uint8))
            .rotate(
                rng.uniform(-8, 8),
                resample=Image.BILINEAR,
                fillcolor=tuple(int(255 * paper.mean() * c) for c in (1.0, 0.97, 0.9)),
            )
            .filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
        )
        orientation, turn = [(6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270),
                             (3, Image.Transpose.ROTATE_180)][int(rng.integers(3))]  # fmt: skip
        exif = Image.Exif()
        exif[0x0112] = orientation  # stored turned; the tag turns it upright
        buf = io.BytesIO()
        im.transpose(turn).save(buf, format="JPEG", quality=int(rng.integers(70, 95)), exif=exif)
        return ".jpg", buf.getvalue()
    if kind == "scan_16bit":
        paper, pencil_level = rng.uniform(0.55, 0.75), rng.uniform(0.2, 0.4)
        grey = paper + (pencil_level - paper) * ink + 0.01 * noise
        return ".png", to_png(np.round(np.clip(grey, 0, 1) * 65535).astype(np.uint16))
    if kind == "paint_antialiased":
        return ".png", to_png(np.round((1 - ink) * 255).astype(np.uint8))
    if kind == "transparent":
        rgba = np.zeros((h, w, 4), np.uint8)
        rgba[:, :, :3] = [(0, 0, 0), (20, 40, 160), (255, 255, 255)][int(rng.integers(3))]
        rgba[:, :, 3] = np.round(ink * 255)
        return ".png", to_png(rgba)
    if kind == "transparent_margin":
        m = int(rng.integers(10, 60))
        rgba = np.zeros((h + 2 * m, w + 2 * m, 4), np.uint8)
        rgba[m:-m, m:-m, :3] = np.round((1 - 0.9 * ink) * 255)[:, :, None]
        rgba[m:-m, m:-m, 3] = 255
        return ".png", to_png(rgba)
    if kind == "dim_photo":
        paper = rng.uniform(100, 125) / 255 * lighting((h, w), rng, 0.1)
        grey = paper + (rng.uniform(0.02, 0.12) - paper) * ink + 0.015 * noise
        return ".jpg", jpeg(grey, rng)
    if kind == "vignette":
        paper = rng.uniform(0.7, 0.95) * vignette((h, w), rng.uniform(0.4, 0.8))
        grey = paper + (rng.uniform(0.05, 0.2) - paper) * ink + 0.015 * noise
        return ".jpg", jpeg(grey, rng)
    if kind == "glare":
        yy, xx = np.mgrid[0:h, 0:w]
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.1, 0.3) * min(h, w)
        spot = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r**2))
        paper = rng.uniform(0.4, 0.6) * lighting((h, w), rng, 0.1)
        paper = paper + (1 - paper) * rng.uniform(0.7, 1.0) * spot  # up to white in the glare
        grey = paper + (rng.uniform(0.05, 0.15) - paper) * ink + 0.015 * noise
        return ".jpg", jpeg(grey, rng)
    if kind == "chalk":
        board = rng.uniform(0.1, 0.3) * lighting((h, w), rng, 0.2)
        grey = board + (rng.uniform(0.7, 0.95) - board) * ink + 0.03 * noise
        return ".jpg", jpeg(grey, rng)
    raise ValueError(f"unknown kind {kind!r}")


def jpeg(grey: np.ndarray, rng) -> bytes:
    buf = io.BytesIO()
    im = Image.fromarray(np.round(np.clip(grey, 0, 1) * 255).astype(np.uint8))
    im.save(buf, format="JPEG", quality=int(rng.integers(70, 95)))
    return buf.getvalue()


def uploads(x: np.ndarray, y: np.ndarray, per_kind: int, seed: int = 0) -> Iterator[tuple]:
    """(kind, file name, file bytes, label) for ``per_kind`` uploads of each kind, the digits
    taken in turn from ``x, y`` (MNIST's test split); the same for the same seed."""
    rng = np.random.default_rng(seed)
    i = 0
    for kind in KINDS:
        for k in range(per_kind):
            digit, label = x[i % len(x)], int(y[i % len(y)])
            suffix, body = make_upload(kind, digit, label, rng)
            yield kind, f"{label}_{kind}_{k:03d}{suffix}", body, label
            i += 1


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write the uploads into")
    parser.add_argument("--per-kind", type=int, default=60)
    parser.add_argument("--model", type=Path, help="a Keras .keras model: measure to_mnist with it")
    args = parser.parse_args(argv)
    from common.data import load_mnist
    from common.handwriting import to_mnist

    _, (x_test, y_test) = load_mnist()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = list(uploads(x_test, y_test, args.per_kind))
    for _, name, body, _ in rows:
        (args.out / name).write_bytes(body)
    print(f"{len(rows)} uploads in {args.out}")
    if args.model is None:
        return
    from advance_pipeline_tensorflow.keras_models import predict_proba
    from demo.models import load_cnn

    model = load_cnn(args.model)
    kinds, labels, images, failed = [], [], [], {}
    for kind, name, _, label in rows:
        try:
            images.append(to_mnist(args.out / name))
        except ValueError as e:
            failed[name] = str(e)
            images.append(np.zeros((28, 28), np.uint8))  # counted as wrong
        kinds.append(kind)
        labels.append(label)
    right = predict_proba(model, np.stack(images)).argmax(axis=1) == np.array(labels)
    kinds = np.array(kinds)
    for kind in KINDS:
        print(f"{kind:>20}: {right[kinds == kind].mean():6.1%} of {np.sum(kinds == kind)}")
    print(f"{'all':>20}: {right.mean():6.1%} of {len(right)}; refused: {len(failed)}")
    for name, message in list(failed.items())[:10]:
        print(f"  refused {name}: {message}")


if __name__ == "__main__":
    main()
