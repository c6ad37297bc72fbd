"""Any image of a digit -> a 28x28 MNIST-format image, by MNIST's own recipe.

MNIST's digits are white ink on black, the ink's longer side scaled to 20 pixels (anti-aliased), its
centre of mass at pixel (14, 14) of a 28x28 field: all a network trained on MNIST has seen.
:func:`naive_resize` is the squeeze a newcomer writes first, kept to show why it fails."""

import io
from pathlib import Path
from site import USER_BASE
from sysconfig import get_path

import numpy as np
from PIL import Image, UnidentifiedImageError
from scipy import ndimage

MAX_PIXELS = 40_000_000  # a 12-megapixel phone photo is fine; a decompression bomb is not
MIN_SIDE = 8  # a digit needs a few pixels to be a digit
BOX, FIELD, CENTRE = 20, 28, 14.0  # MNIST: ink fits 20x20, field 28x28, centre of mass at (14, 14)
TYPICAL, THIN = 2.0, 1.25  # MNIST stroke widths in px: median and 5th percentile (test set)
UP = 5  # strokes are measured and thickened at 5x MNIST's scale
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # RGB -> grey, as PIL's convert("L")
ASSETS = (  # the repository's folder, then where pip installs it (pyproject.toml: data-files)
    Path(__file__).resolve().parent.parent / "assets" / "digits",
    *(Path(p) / "share" / "mnist-derin-ogrenme" / "digits" for p in (get_path("data"), USER_BASE)),
)


def _open(image) -> np.ndarray:
    """Path, bytes, PIL image or array -> float array (H, W) or (H, W, C) in [0, 1], validated."""
    if isinstance(image, (str, Path)):
        image = Path(image).expanduser()
        if not image.is_file():
            raise ValueError(f"no such image file: {image}")
    try:
        if isinstance(image, (bytes, bytearray)):
            image = io.BytesIO(image)
        if isinstance(image, (Path, io.BytesIO)):
            image = Image.open(image)  # reads the header only: the pixels are decoded on demand
        if isinstance(image, Image.Image):
            if image.width * image.height > MAX_PIXELS:  # checked before decoding the pixels
                raise ValueError(f"image of {image.width}x{image.height} pixels is too large")
            mode = "RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB"
            image = np.asarray(image.convert("L" if image.mode in ("1", "L", "I", "F") else mode))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise ValueError(f"not a readable image file ({type(e).__name__}: {e})") from None
    a = np.asarray(image)
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"expected an image, got an array of {a.dtype}")
    a = a[:, :, 0] if a.ndim == 3 and a.shape[2] == 1 else a
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
        raise ValueError(f"expected a grey, RGB or RGBA image (H, W[, 3|4]), got shape {a.shape}")
    if a.shape[0] * a.shape[1] > MAX_PIXELS:
        raise ValueError(f"image of {a.shape[1]}x{a.shape[0]} pixels is too large")
    if min(a.shape[:2]) < MIN_SIDE:
        raise ValueError(f"image of {a.shape[1]}x{a.shape[0]} pixels is too small (< {MIN_SIDE})")
    a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise ValueError("image contains NaN or infinite values")
    if a.min() < 0 or a.max() > 255:
        raise ValueError(f"pixel values must lie in 0..255 or 0..1, got {a.min()}..{a.max()}")
    return a / 255.0 if a.max() > 1.0 else a  # floats and bools are taken as 0..1


def _resize(a: np.ndarray, scale: float) -> np.ndarray:  # Lanczos: anti-aliased when shrinking
    size = (max(1, round(a.shape[1] * scale)), max(1, round(a.shape[0] * scale)))
    return np.asarray(Image.fromarray(a.astype(np.float32), mode="F").resize(size, Image.LANCZOS))


def to_mnist(image, *, ink: str | None = None) -> np.ndarray:
    """One digit's image -> (28, 28) uint8 in MNIST's format; ``ValueError`` if it has no ink.

    ``image``: a path, an image file's bytes, a PIL image, or an array (H, W[, 3|4]) in 0..255 (or
    floats in 0..1). ``ink``: "dark" (on light paper, e.g. a pen drawing), "light" (on dark, as
    MNIST), or None to decide from the border of the image, which is taken to be paper."""
    if ink not in (None, "dark", "light"):
        raise ValueError(f'ink must be "dark", "light" or None (automatic), got {ink!r}')
    a = _open(image)
    grey = a[:, :, :3] @ LUMA if a.ndim == 3 else a
    if a.ndim == 3 and a.shape[2] == 4 and a[:, :, 3].min() < 0.99:  # transparency becomes paper
        alpha, opaque = a[:, :, 3], a[:, :, 3] > 0.5
        stroke = grey[opaque].mean() if opaque.any() else 0.0
        paper = 1.0 if stroke < 0.5 else 0.0  # dark strokes on transparency: white paper behind
        grey = alpha * grey + (1 - alpha) * paper
    if ink is None:
        border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
        ink = "dark" if np.median(border) > 0.5 else "light"
    v = 1.0 - grey if ink == "dark" else grey  # now ink is bright, paper dark: MNIST's convention

    # 1. Separate ink from paper: paper level and noise from the border, ink level from the top.
    border = np.concatenate([v[0], v[-1], v[:, 0], v[:, -1]])
    paper = np.median(border)
    noise = 1.4826 * np.median(np.abs(border - paper))  # robust standard deviation
    candidates = v[v > paper + max(0.1, 6 * noise)]
    if candidates.size < 3:
        raise ValueError("no ink found: the image looks blank (no contrast between ink and paper)")
    top = np.percentile(candidates, 99)
    strength = np.clip((v - paper - 3 * noise) / (top - paper - 3 * noise), 0.0, 1.0)

    # 2. Crop to the ink, ignoring specks (components much smaller than the largest stroke).
    labels, n = ndimage.label(strength > 0.35)
    sizes = np.bincount(labels.ravel())[1:]
    keep = np.isin(labels, 1 + np.flatnonzero(sizes >= max(3, 0.05 * sizes.max(initial=0))))
    if not keep.any():
        raise ValueError("no ink found: no stroke stands out from the paper, at most specks")
    near = ndimage.binary_dilation(keep, iterations=2)  # keep the anti-aliased edges of strokes
    strength = np.where(near, strength, 0.0)
    crop = strength[ndimage.find_objects(keep.astype(int))[0]]  # the box around the ink

    # 3. Scale the longer side to 20 px, keeping the aspect ratio (Lanczos anti-aliases). Strokes
    #    much thinner than MNIST's (a fine pen on a big canvas) are first thickened to its usual width.
    work = _resize(crop, UP * BOX / max(crop.shape))  # the ink at 5x MNIST's scale
    # Stroke width: twice the 90th percentile of the ink's distance to the paper, less one pixel.
    mask = np.pad(work > 0.5 * work.max(), 1)  # paper all around
    width = 2 * float(np.percentile(ndimage.distance_transform_edt(mask)[mask], 90)) - 1
    if width >= UP * THIN:
        work = crop  # MNIST-like strokes: one resize from the original, as sharp as it gets
    else:
        radius = (UP * TYPICAL - width) / 2
        r = np.arange(-int(radius), int(radius) + 1)
        disk = (r[:, None] ** 2 + r[None, :] ** 2) <= radius**2
        work = ndimage.grey_dilation(np.pad(work, len(r)), footprint=disk)
        work = work[ndimage.find_objects((work > 0.01).astype(int))[0]]  # the thicker ink's box
    small = np.clip(_resize(work, BOX / max(work.shape)), 0.0, None)
    small /= small.max()  # a faint pen still ends at full white, as in MNIST

    # 4. Place in 28x28 so the centre of mass lands on (14, 14), without cutting any ink off.
    (cy, cx), (h, w) = ndimage.center_of_mass(small), small.shape
    top = int(np.clip(round(CENTRE - cy), 0, FIELD - h))
    left = int(np.clip(round(CENTRE - cx), 0, FIELD - w))
    out = np.zeros((FIELD, FIELD), np.float32)
    out[top : top + h, left : left + w] = small
    return np.round(out * 255).astype(np.uint8)


def naive_resize(image) -> np.ndarray:
    """``Image.open(path).convert("L").resize((28, 28))``: no inversion, crop or centring."""
    a = _open(image)
    grey = a[:, :, :3] @ LUMA if a.ndim == 3 else a
    im = Image.fromarray(np.round(grey * 255).astype(np.uint8))
    return np.asarray(im.resize((FIELD, FIELD), Image.BILINEAR))


def example_digits() -> list[tuple[Path, int]]:
    """``[(path, label), ...]`` of ``assets/digits/<label>_<description>.png``, sorted by name."""
    folder = next((f for f in ASSETS if any(f.glob("*.png"))), None)
    if folder is None:
        raise FileNotFoundError(f"no example digits (*.png) in {' or '.join(map(str, ASSETS))}")
    return [(p, int(p.name.split("_")[0])) for p in sorted(folder.glob("*.png"))]
