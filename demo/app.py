"""``make demo``: draw or upload a digit and see what the NumPy MLP and the CNN make of it.

Run ``python -m demo.app`` from the repository root; it prints the local URL. It uses the models
``make reproduce`` saved (``results/models/numpy_mlp.npz`` and ``results/models/cnn.keras``) when
they are there, else trains two quick ones first (about a minute on a laptop CPU).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home, before gradio loads

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from common.handwriting import naive_resize, to_mnist  # noqa: E402

Predictor = Callable[[np.ndarray], np.ndarray]  # uint8 (N, 28, 28) -> probabilities (N, K)


def classify(image, predictors: dict[str, Predictor], class_names) -> tuple:
    """One image -> (naive 28x28, normalised 28x28, a probability dict per model, message)."""
    if isinstance(image, dict):  # the Sketchpad's value: background, layers and their composite
        image = image.get("composite")
    blank = (None, None, *({} for _ in predictors))
    if image is None:
        return (*blank, "Draw a digit or upload an image of one.")
    try:
        naive, normalised = naive_resize(image), to_mnist(image)
    except ValueError as e:
        return (*blank, f"**Cannot use this image:** {e}")
    labels = []
    for predict in predictors.values():
        proba = np.asarray(predict(normalised[None]))[0]
        labels.append({str(c): float(p) for c, p in zip(class_names, proba, strict=True)})
    big = lambda a: np.asarray(Image.fromarray(a).resize((140, 140), Image.NEAREST))  # noqa: E731
    best = ", ".join(
        f"{name}: {max(lab, key=lab.get)}" for name, lab in zip(predictors, labels, strict=True)
    )
    return (big(naive), big(normalised), *labels, f"Prediction ({best})")


def build_app(predictors: dict[str, Predictor], class_names) -> gr.Blocks:
    """The app: a sketchpad and an upload box in, each model's probabilities out.

    Parameters
    ----------
    predictors : dict of name -> function mapping uint8 images (N, 28, 28) to probabilities (N, K)
    class_names : sequence of K str

    Returns
    -------
    gradio.Blocks
        Call ``.launch()`` on it (``inline=True`` in a notebook). Its API has two endpoints,
        ``/classify_drawing`` and ``/classify_upload`` (an image file).
    """
    if not predictors:
        raise ValueError("predictors must name at least one model")
    class_names = [str(c) for c in class_names]
    with gr.Blocks(title="Try your own digit") as app:
        gr.Markdown(
            "## Try your own digit\nPick the brush (left of the canvas) and draw a digit, or upload "
            "a photo of one. "
            "It is brought into MNIST's form first: ink cropped, scaled to 20 px, centred by "
            "its centre of mass in 28x28, white on black. The naive squeeze is shown for contrast."
        )
        with gr.Row():
            with gr.Column():
                with gr.Tab("Draw"):
                    drawing = gr.Sketchpad(type="numpy", image_mode="RGBA", canvas_size=(320, 320))
                with gr.Tab("Upload"):
                    upload = gr.File(label="an image file (PNG, JPEG, ...)", type="filepath")
                message = gr.Markdown()
            with gr.Column():
                with gr.Row():
                    naive = gr.Image(label="naive 28x28 squeeze", height=160, interactive=False)
                    normalised = gr.Image(label="MNIST-style 28x28", height=160, interactive=False)
                with gr.Row():
                    labels = [gr.Label(num_top_classes=3, label=name) for name in predictors]
        outputs = [naive, normalised, *labels, message]
        run = lambda image: classify(image, predictors, class_names)  # noqa: E731
        drawing.change(run, drawing, outputs, api_name="classify_drawing", show_progress="hidden")
        upload.change(run, upload, outputs, api_name="classify_upload")
    return app


def _numpy_predictor(models: Path, x, y) -> Predictor:
    """The NumPy MLP saved by the NumPy notebook, else a quick one (a few epochs, progress bar)."""
    from from_scratch_numpy import numpy_net, train

    path = models / "numpy_mlp.npz"
    net = None
    for recipe in (train.IMPROVED, train.ORIGINAL) if path.is_file() else ():
        try:
            net = train.load_weights(train.build(recipe)[0], path)
            print(f"NumPy MLP: {path}")
            break
        except ValueError:
            continue
    if net is None:
        print(f"NumPy MLP: {path} not found (run `make reproduce`); training a quick one")
        recipe = train.replace(train.IMPROVED, sizes=(784, 128, 10), dropout=0.0, epochs=3)
        net, _ = train.train(recipe, numpy_net.preprocess(x), y, progress=True)
    return lambda images: net.predict_proba(numpy_net.preprocess(images))


def _cnn_predictor(models: Path, x, y) -> Predictor:
    """The CNN saved by the Keras notebook, else a quick one (one epoch, Keras's progress bar)."""
    import keras

    from advance_pipeline_tensorflow import keras_models

    path = models / "cnn.keras"
    if path.is_file():
        print(f"CNN: {path}")
        model = keras.models.load_model(path)
    else:
        print(f"CNN: {path} not found (run `make reproduce`); training a quick one")
        model = keras_models.build_cnn(augment=False)
        keras_models.compile_model(model, "adam", 1e-3)
        # batches of 32: enough steps in one epoch for BatchNorm's running statistics to settle
        model.fit(x[..., None].astype("float32") / 255, y, epochs=1, batch_size=32, verbose=1)
    return lambda images: keras_models.predict_proba(
        model, images[..., None].astype("float32") / 255
    )


def load_predictors(models: Path, n_quick: int = 15_000) -> dict[str, Predictor]:
    """Both models, from ``models/`` when saved there, else trained quickly on MNIST's first digits."""
    from common.data import load_mnist

    (x, y), _ = load_mnist()
    x, y = x[:n_quick], y[:n_quick]
    predictors = {}
    for name, make in (("NumPy MLP", _numpy_predictor), ("CNN (Keras)", _cnn_predictor)):
        start = time.perf_counter()
        try:
            predictors[name] = make(models, x, y)
        except Exception as e:  # one model missing must not stop the other
            print(f"{name}: unavailable ({type(e).__name__}: {e})", file=sys.stderr)
        else:
            print(f"{name}: ready in {time.perf_counter() - start:.0f} s")
    return predictors


def main(argv: list[str] | None = None) -> None:
    """Load or train the models, then serve the app on 127.0.0.1 and print its URL."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT", 7860)))
    parser.add_argument("--models", type=Path, default=None, help="folder with the saved models")
    args = parser.parse_args(argv)
    if args.models is None:
        from common.results import results_dir

        args.models = results_dir() / "models"
    predictors = load_predictors(args.models)
    if not predictors:
        sys.exit("no model could be loaded or trained; see the messages above")
    app = build_app(predictors, [str(i) for i in range(10)])
    _, url, _ = app.launch(
        server_name="127.0.0.1", server_port=args.port, prevent_thread_lock=True, quiet=True
    )
    print(f"\nTry your own digit: open {url} in a browser (Ctrl+C to stop)", flush=True)
    try:
        app.block_thread()
    except KeyboardInterrupt:
        app.close()


if __name__ == "__main__":
    main()
