"""``make demo``: draw or upload a digit and see what the NumPy MLP and the CNN make of it.

``python -m demo.app`` prints the local URL. It uses the models shipped in ``results/models/``
(``numpy_mlp.npz``, ``cnn.keras``, written by ``make reproduce``); a model whose file is missing or
does not load is trained quickly instead (about a minute), and the console says why.
"""

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home, before gradio loads

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from common.handwriting import naive_resize, to_mnist  # noqa: E402
from demo.models import SHIPPED, load_predictors  # noqa: E402

Predictor = Callable[[np.ndarray], np.ndarray]  # uint8 (N, 28, 28) -> probabilities (N, K)
MAX_UPLOAD = "25mb"  # a phone photo is a few MB; a bigger upload is refused before it is stored
INK = {  # the demo's choice -> to_mnist's ink
    "automatic": None,
    "dark ink on light paper": "dark",
    "light ink on dark paper": "light",
}
# The canvas opens with the brush picked (Gradio's Sketchpad otherwise asks to "select the draw
# tool to start"): once the page is drawn, click the brush button of the #drawing canvas.
PICK_BRUSH = """() => {
  const pick = (tries) => {
    const brush = document.querySelector('#drawing button[aria-label="Brush"]');
    if (brush) { brush.click(); } else if (tries > 0) { setTimeout(() => pick(tries - 1), 100); }
  };
  pick(100);
}"""


def classify(image, predictors: dict[str, Predictor], class_names, ink="automatic") -> tuple:
    """One image -> (naive 28x28, normalised 28x28, a probability dict per model, message).
    ``ink``: a key of INK (or to_mnist's value). Nothing raises: any failure becomes the message."""
    if isinstance(image, dict):  # the Sketchpad's value: background, layers and their composite
        image = image.get("composite")
    blank = (None, None, *({} for _ in predictors))
    if image is None:
        return (*blank, "Draw a digit or upload an image of one.")
    try:
        naive, normalised = naive_resize(image), to_mnist(image, ink=INK.get(ink, ink))
    except ValueError as e:
        return (*blank, f"**Cannot use this image:** {e}")
    except Exception as e:  # an image library failing in a way of its own: report, never crash
        return (*blank, f"**Cannot use this image** ({type(e).__name__}: {e})")
    labels, best = [], []
    for name, predict in predictors.items():
        try:
            proba = np.asarray(predict(normalised[None]), dtype=float)[0]
        except Exception as e:
            labels.append({})
            best.append(f"{name}: failed ({type(e).__name__}: {e})")
            continue
        labels.append({str(c): float(p) for c, p in zip(class_names, proba, strict=True)})
        best.append(f"{name}: {max(labels[-1], key=labels[-1].get)}")
    big = lambda a: np.asarray(Image.fromarray(a).resize((140, 140), Image.NEAREST))  # noqa: E731
    return (big(naive), big(normalised), *labels, f"Prediction ({', '.join(best)})")


def build_app(predictors: dict[str, Predictor], class_names) -> gr.Blocks:
    """A sketchpad and an upload box in, each model's probabilities (one per class name) out.
    ``.launch()`` it (``inline=True`` in a notebook); API endpoints: ``/classify_drawing`` and
    ``/classify_upload`` (an image file)."""
    if not predictors:
        raise ValueError("predictors must name at least one model")
    with gr.Blocks(title="Try your own digit") as app:
        gr.Markdown(
            "## Try your own digit\nDraw a digit or upload a photo. It is brought into MNIST's "
            "form first: ink cropped, scaled to 20 px, centred by its centre of mass in 28x28, "
            "white on black; the naive squeeze shows the contrast. If the MNIST-style square "
            "shows the paper as ink, say which is ink below."
        )
        with gr.Row():
            with gr.Column():
                with gr.Tab("Draw"):
                    drawing = gr.Sketchpad(
                        type="numpy", image_mode="RGBA", canvas_size=(320, 320), elem_id="drawing"
                    )
                with gr.Tab("Upload"):
                    upload = gr.File(label="an image file (PNG, JPEG, ...)", type="filepath")
                ink = gr.Radio(list(INK), value="automatic", label="which is ink?")
                message = gr.Markdown()
            with gr.Column():
                with gr.Row():
                    naive = gr.Image(label="naive 28x28 squeeze", height=160, interactive=False)
                    normalised = gr.Image(label="MNIST-style 28x28", height=160, interactive=False)
                with gr.Row():
                    labels = [gr.Label(num_top_classes=3, label=name) for name in predictors]
        outputs = [naive, normalised, *labels, message]
        run = lambda image, ink: classify(image, predictors, class_names, ink)  # noqa: E731
        drawing.change(
            run, [drawing, ink], outputs, api_name="classify_drawing", show_progress="hidden"
        )
        upload.change(run, [upload, ink], outputs, api_name="classify_upload")
        last = gr.State("upload")  # the ink choice reclassifies whichever was used last
        drawing.change(lambda: "drawing", None, last, api_name=False, show_progress="hidden")
        upload.change(lambda: "upload", None, last, api_name=False)
        ink.change(
            lambda which, d, u, k: run(d if which == "drawing" else u, k),
            [last, drawing, upload, ink],
            outputs,
            api_name=False,
        )
        app.load(None, None, None, js=PICK_BRUSH)
    return app


def main(argv: list[str] | None = None) -> None:
    """Load or train the models, then serve the app on 127.0.0.1 and print its URL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT", 7860)))
    parser.add_argument("--models", type=Path, default=SHIPPED, help="folder with the saved models")
    args = parser.parse_args(argv)
    predictors = load_predictors(args.models)
    if not predictors:
        sys.exit("no model could be loaded or trained; see the messages above")
    app = build_app(predictors, [str(i) for i in range(10)])
    _, url, _ = app.launch(
        server_name="127.0.0.1",
        server_port=args.port,
        prevent_thread_lock=True,
        quiet=True,
        max_file_size=MAX_UPLOAD,
    )
    print(f"\nTry your own digit: open {url} in a browser (Ctrl+C to stop)", flush=True)
    app.block_thread()  # until Ctrl+C, which closes the server
    app.close()
    os._exit(0)  # after Ctrl+C, a library thread (seen with TensorFlow) kept the process alive


if __name__ == "__main__":
    main()
