"""Regenerate the example digits in this folder: ``python assets/digits/make_examples.py``.

Each digit is a few PIL pen strokes (not MNIST, not a handwriting scan), slanted, sized and placed
differently, on various papers (see README.md). File names start with the true label.
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
SS = 4  # supersampling: draw 4x larger, then shrink, for anti-aliased strokes


def arc(cx, cy, rx, ry, a0, a1, n=40):
    """Points of an elliptic arc in a unit box, angles in degrees, y downwards (-90 = top)."""
    t = np.radians(np.linspace(a0, a1, n))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t), strict=True))


STROKES = {  # each digit: a list of polylines in the unit box (x right, y down)
    0: [arc(0.5, 0.5, 0.34, 0.5, -90, 275)],
    1: [[(0.3, 0.2), (0.6, 0.0), (0.52, 1.0)]],
    2: [arc(0.5, 0.28, 0.34, 0.28, -165, 25) + [(0.08, 1.0), (0.95, 0.98)]],
    3: [arc(0.48, 0.25, 0.32, 0.25, -160, 90) + arc(0.48, 0.74, 0.38, 0.26, -90, 160)],
    4: [[(0.62, 0.0), (0.05, 0.66), (0.98, 0.66)], [(0.72, 0.3), (0.7, 1.0)]],
    5: [[(0.88, 0.0), (0.25, 0.02), (0.18, 0.46)] + arc(0.5, 0.7, 0.38, 0.3, -150, 155)],
    6: [arc(0.8, 0.62, 0.65, 0.62, -95, -180) + arc(0.5, 0.72, 0.35, 0.28, 180, 540)],
    7: [[(0.05, 0.02), (0.95, 0.0), (0.4, 1.0)]],
    8: [arc(0.5, 0.25, 0.3, 0.25, 90, 450) + arc(0.5, 0.73, 0.36, 0.27, -90, 270)],
    9: [arc(0.45, 0.3, 0.36, 0.3, 10, 370), [(0.81, 0.35), (0.76, 0.7), (0.66, 1.0)]],
}


def draw(label, canvas, box, slant=0.15, width=0.1):
    """Ink coverage in [0, 1] of ``label`` drawn in ``box`` = (left, top, height) on ``canvas`` (w, h)."""
    (w, h), (left, top, height) = canvas, box
    im = Image.new("L", (w * SS, h * SS), 0)
    pen = ImageDraw.Draw(im)
    for line in STROKES[label]:
        pts = [
            ((left + (x + slant * (1 - y)) * 0.7 * height) * SS, (top + y * height) * SS)
            for x, y in line
        ]
        pen.line(pts, fill=255, width=max(1, round(width * height * SS)), joint="curve")
        r = width * height * SS / 2
        for x, y in (pts[0], pts[-1]):  # round pen tips
            pen.ellipse([x - r, y - r, x + r, y + r], fill=255)
    return np.asarray(im.resize((w, h), Image.LANCZOS), np.float32) / 255


def save(name, array):
    image = Image.fromarray(np.round(np.clip(array, 0, 1) * 255).astype(np.uint8))
    image.save(HERE / name, optimize=True)


def main():
    rng = np.random.default_rng(11)

    def pen(*args, **kwargs):  # black pen on white paper
        return 1 - draw(*args, **kwargs)

    def photo(ink, paper=0.72, pencil=0.18, noise=0.025):
        """Grey paper with uneven lighting and sensor noise, pencil ink: like a phone photo."""
        h, w = ink.shape
        light = np.linspace(-0.06, 0.06, w)[None, :] + np.linspace(0.04, -0.04, h)[:, None]
        return paper + light + (pencil - paper) * ink + rng.normal(0, noise, ink.shape)

    save("0_pen_large_centred.png", pen(0, (160, 160), (30, 10, 140), width=0.08))
    save("1_pen_small_in_corner.png", pen(1, (240, 160), (180, 15, 45), slant=0.1, width=0.14))
    save("2_marker_wide_canvas.png", pen(2, (320, 120), (60, 20, 85), slant=0.05, width=0.15))
    save("3_pencil_grey_paper_photo.png", photo(draw(3, (110, 110), (30, 22, 70), width=0.09)))
    save("4_chalk_light_on_dark.png", 0.15 + 0.75 * draw(4, (150, 180), (40, 60, 100), width=0.12))
    save("5_pen_slanted.png", pen(5, (180, 180), (20, 40, 110), slant=0.35, width=0.09))
    save("6_pencil_grey_paper_photo.png", photo(draw(6, (100, 120), (10, 8, 80)), paper=0.6))
    rgba = np.zeros((200, 200, 4), np.float32)  # black ink on clear paper, as drawing apps export
    rgba[:, :, 3] = draw(7, (200, 200), (70, 40, 120))
    save("7_transparent_background.png", rgba)
    save("8_pen_thin_strokes_offcentre.png", pen(8, (220, 220), (110, 30, 150), width=0.04))
    blue = pen(9, (120, 150), (20, 20, 110), slant=0.2)[:, :, None]
    paper = np.array([0.97, 0.95, 0.88])  # blue ink on cream paper, as RGB
    save("9_blue_ink_cream_paper.png", paper * blue + np.array([0.1, 0.2, 0.55]) * (1 - blue))


if __name__ == "__main__":
    main()
