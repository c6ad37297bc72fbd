"""Any image of a digit -> a 28x28 MNIST-format image, by MNIST's own recipe.

MNIST's digits are white ink on black, the ink's longer side scaled to 20 pixels (anti-aliased), its
centre of mass at pixel (14, 14) of a 28x28 field: all a network trained on MNIST has seen.
:func:`naive_resize` is the squeeze a newcomer writes first, kept to show why it fails."""

import io
from pathlib import Path
from site import USER_BASE
from sysconfig import get_path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

MAX_PIXELS = 40_000_000  # a 12-megapixel phone photo is fine; a decompression bomb is not
MIN_SIDE = 8  # a digit needs a few pixels to be a digit
MIN_INK = 0.01  # the ink's box must span 1 % of the image's longer side (and 4 px): not a speck
# Raster formats only: Pillow would run Ghostscript on PostScript/EPS uploads (JPEG covers MPO)
RASTER_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM", "TGA", "ICO")
BOX, FIELD, CENTRE = 20, 28, 14.0  # MNIST: ink fits 20x20, field 28x28, centre of mass at (14, 14)
TYPICAL, THIN = 2.0, 1.25  # MNIST stroke widths in px: median and 5th percentile (test set)
UP = 5  # strokes are measured and thickened at 5x MNIST's scale
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # RGB -> grey, as PIL's convert("L")
ASSETS = (  # the repository's folder, then where pip installs it (pyproject.toml: data-files)
    Path(__file__).resolve().parent.parent / "assets" / "digits",
    *(Path(p) / "share" / "mnist-derin-ogrenme" / "digits" for p in (get_path("data"), USER_BASE)),
)


def _open(image) -> np.ndarray:
    """Path, bytes, PIL image or array -> float array (H, W) or (H, W, C) in [0, 1], validated.
    Files are opened only as raster images (never PostScript/EPS, which Pillow hands to
    Ghostscript) and turned upright by their EXIF orientation, as a phone's gallery shows them."""
    if isinstance(image, (str, Path)):
        image = Path(image).expanduser()
        if not image.is_file():
            raise ValueError(f"no such image file: {image}")
    try:
        if isinstance(image, (bytes, bytearray)):
            image = io.BytesIO(image)
        if isinstance(image, (Path, io.BytesIO)):
            # reads the header only: the pixels are decoded on demand
            image = Image.open(image, formats=RASTER_FORMATS)
        if isinstance(image, Image.Image):
            if image.width * image.height > MAX_PIXELS:  # checked before decoding the pixels
                raise ValueError(f"image of {image.width}x{image.height} pixels is too large")
            image = _pixels(ImageOps.exif_transpose(image))
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as e:
        raise ValueError(
            f"not a readable image file ({type(e).__name__}: {e}); "
            f"accepted formats: {', '.join(RASTER_FORMATS)}"
        ) from None
    a = np.asarray(image)
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool) or np.iscomplexobj(a):
        raise ValueError(f"expected an image, got an array of {a.dtype}")
    a = a[:, :, 0] if a.ndim == 3 and a.shape[2] == 1 else a
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
        raise ValueError(f"expected a grey, RGB or RGBA image (H, W[, 3|4]), got shape {a.shape}")
    if a.shape[0] * a.shape[1] > MAX_PIXELS:
        raise ValueError(f"image of {a.shape[1]}x{a.shape[0]} pixels is too large")
    if min(a.shape[:2]) < MIN_SIDE:
        raise ValueError(f"image of {a.shape[1]}x{a.shape[0]} pixels is too small (< {MIN_SIDE})")
    return _unit_range(a)


def _pixels(image: Image.Image):
    """A PIL image's pixels at their real depth: 16-bit grey stays uint16 (not clipped to 8 bits),
    32-bit floats stay floats; palettes, CMYK, ... become RGB, or RGBA when there is transparency."""
    if image.mode.startswith("I;16"):
        return np.asarray(image).astype(np.uint16)
    if image.mode == "I":  # 32-bit integers: a 16-bit PNG or TIFF on some Pillow versions
        a = np.asarray(image)
        return a.astype(np.uint16) if 0 <= a.min() and a.max() <= 65535 else a
    if image.mode in ("1", "L", "F"):
        return np.asarray(image.convert("L") if image.mode == "1" else image)
    alpha = "A" in image.getbands() or "transparency" in image.info
    return np.asarray(image.convert("RGBA" if alpha else "RGB"))


def _unit_range(a: np.ndarray) -> np.ndarray:
    """Pixels -> float32 in [0, 1], by the range the data really has: integers 0..65535 when any
    exceeds 255 (16-bit PNG, scans), else 0..255 (8-bit values, even in a uint16 array); floats
    0..1 (or 0..255 when larger than 1.5); integers 0/1 and bools are masks. A float overshoot of up to 5 %
    of the range (0..1 data at 1.02, as resampling leaves) is clipped; anything else is refused."""
    if a.dtype == bool:
        return a.astype(np.float32)
    if np.issubdtype(a.dtype, np.integer):
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi > 65535:
            raise ValueError(f"integer pixel values must lie in 0..255 or 0..65535, got {lo}..{hi}")
        top = 65535 if hi > 255 else 255 if hi > 1 else 1  # 16-bit data shows it
        return a.astype(np.float32) / top
    a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise ValueError("image contains NaN or infinite values")
    lo, hi = float(a.min()), float(a.max())
    top = 1.0 if hi <= 1.5 else 255.0
    if lo < -0.05 * top or hi > 1.05 * top:
        raise ValueError(f"float pixel values must lie in 0..1 or 0..255, got {lo:g}..{hi:g}")
    return np.clip(a / top, 0.0, 1.0)


def _resize(a: np.ndarray, scale: float, method=Image.LANCZOS) -> np.ndarray:
    """``a`` scaled by ``scale`` (Lanczos: anti-aliased when shrinking)."""
    size = (max(1, round(a.shape[1] * scale)), max(1, round(a.shape[0] * scale)))
    return np.asarray(Image.fromarray(a.astype(np.float32), mode="F").resize(size, method))


def _composite(grey: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Grey levels of an image with transparency, laid on the paper it stands for. Opaque pixels
    covering much of the image with contrast inside are a page (a scan with a clear margin): its
    usual level fills the clear parts. Otherwise the opaque pixels are strokes on clear paper
    (a drawing app's export), and the paper behind is white under dark strokes, black under light."""
    opaque = alpha > 0.5
    if not opaque.any():
        return np.zeros_like(grey)  # nothing drawn: blank
    level = float(np.median(grey[opaque]))
    contrast = np.mean(np.abs(grey[opaque] - level) > 0.25)
    page = opaque.mean() >= 0.3 and contrast > 0.002
    paper = level if page else (1.0 if level < 0.5 else 0.0)
    return alpha * grey + (1 - alpha) * paper


def ink_polarity(grey: np.ndarray) -> str:
    """ "dark" or "light": which side of the paper the ink lies on, for grey levels in [0, 1].
    The paper is the most of the image (its median); the ink is what lies furthest from it along
    the image's sharpest edges (a stroke's): dark on a white page in any light, light on a
    blackboard. Near edges only, a lamp's glare or a vignette (smooth) cannot outshine the ink."""
    grey, _ = _shrink(grey, 1024)  # a 12-megapixel photo: judged at 1024 px, as well and faster
    paper = float(np.median(grey))
    strength = np.hypot(ndimage.sobel(grey, 0), ndimage.sobel(grey, 1))
    edges = strength >= 0.5 * np.percentile(strength, 99.9)  # a thin pen may be 0.1 % of it
    values = grey[ndimage.maximum_filter(edges, size=5)]  # both sides of each edge
    darkest, brightest = float(values.min()), float(values.max())
    return "dark" if paper - darkest > brightest - paper else "light"


def _shrink(a: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """``a`` averaged down (box filter) so that its longer side is at most ``side``; the scale."""
    scale = min(1.0, side / max(a.shape))
    return (a if scale == 1.0 else _resize(a, scale, Image.BOX)), scale


def _grow(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``a`` scaled (bilinear) to ``shape``."""
    size = (shape[1], shape[0])
    return np.asarray(Image.fromarray(a.astype(np.float32), mode="F").resize(size, Image.BILINEAR))


def _paper_level(v: np.ndarray) -> np.ndarray:
    """The paper's local level under bright ink ``v``: a grey opening (strokes are thinner than a
    third of the image) at <= 128 px, smoothed and scaled back up. Zero for even lighting; a
    vignette or a shadow (wider than strokes) is followed, not taken for ink."""
    small, scale = _shrink(v, 128)
    k = max(3, max(small.shape) // 3)
    level = ndimage.grey_opening(small, size=(k, k), mode="nearest")
    level = ndimage.uniform_filter(level, size=k, mode="nearest")
    return _grow(level, v.shape) if scale < 1 else level


def to_mnist(image, *, ink: str | None = None) -> np.ndarray:
    """One digit's image -> (28, 28) uint8 in MNIST's format; ``ValueError`` if it has no ink.

    ``image``: a path, an image file's bytes, a PIL image, or an array (H, W[, 3|4]): uint8,
    uint16 (16-bit scans), or floats in 0..1. ``ink``: "dark" (on light paper, e.g. a pen
    drawing), "light" (on dark, as MNIST), or None to decide with :func:`ink_polarity`."""
    if ink not in (None, "dark", "light"):
        raise ValueError(f'ink must be "dark", "light" or None (automatic), got {ink!r}')
    a = _open(image)
    grey = a[:, :, :3] @ LUMA if a.ndim == 3 else a
    if a.ndim == 3 and a.shape[2] == 4 and a[:, :, 3].min() < 0.99:  # transparency becomes paper
        grey = _composite(grey, a[:, :, 3])
    if ink is None:
        ink = ink_polarity(grey)
    v = 1.0 - grey if ink == "dark" else grey  # now ink is bright, paper dark: MNIST's convention
    v = v - _paper_level(v)  # uneven light (a vignette, a shadow): the paper becomes flat

    # 1. Separate ink from paper: paper level and noise from the border, ink level from the top.
    border = np.concatenate([v[0], v[-1], v[:, 0], v[:, -1]])
    paper = np.median(border)
    noise = 1.4826 * np.median(np.abs(border - paper))  # robust standard deviation
    candidates = v[v > paper + max(0.1, 6 * noise)]
    if candidates.size < 3:
        raise ValueError("no ink found: the image looks blank (no contrast between ink and paper)")
    floor = paper + 3 * noise
    ink_strength = lambda top: np.clip((v - floor) / (top - floor), 0.0, 1.0)  # noqa: E731
    strength = ink_strength(np.percentile(candidates, 99))

    # 2. Crop to the ink, ignoring specks (components much smaller than the largest stroke).
    #    Pixels touching by a corner belong together: a 1-px pen's diagonals are strokes.
    labels, n = ndimage.label(strength > 0.35, structure=np.ones((3, 3)))
    sizes = np.bincount(labels.ravel())[1:]
    keep = np.isin(labels, 1 + np.flatnonzero(sizes >= max(3, 0.05 * sizes.max(initial=0))))
    if not keep.any():
        raise ValueError("no ink found: no stroke stands out from the paper, at most specks")
    box = ndimage.find_objects(keep.astype(int))[0]
    extent = max(s.stop - s.start for s in box)
    if extent < max(4, MIN_INK * max(v.shape)):
        raise ValueError(
            f"no digit found: the only ink is a speck of {extent} px on a "
            f"{v.shape[1]}x{v.shape[0]} image (a digit should span at least "
            f"{max(4, round(MIN_INK * max(v.shape)))} px)"
        )
    strength = ink_strength(np.percentile(v[keep], 99))  # the digit's level, not its specks
    near = ndimage.binary_dilation(keep, iterations=2)  # keep the anti-aliased edges of strokes
    strength = np.where(near, strength, 0.0)
    crop = strength[box]  # the box around the ink

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
