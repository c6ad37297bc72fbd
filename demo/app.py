"""``make demo``: draw or upload a digit and see what the NumPy MLP and the CNN make of it.

``python -m demo.app`` prints the local URL. It uses the models ``make reproduce`` saved in
``results/models/`` (``numpy_mlp.npz``, ``cnn.keras``), else trains two quick ones (about a minute).
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
from common.results import results_dir  # noqa: E402

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
    labels, best = [], []
    for name, predict in predictors.items():
        proba = np.asarray(predict(normalised[None]))[0]
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
            "## Try your own digit\nDraw a digit (pick the brush, left of the canvas) or upload a "
            "photo. It is brought into MNIST's form first: ink cropped, scaled to 20 px, centred "
            "by its centre of mass in 28x28, white on black; the naive squeeze shows the contrast."
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
    try:  # the notebook saves its IMPROVED network
        net = train.load_weights(train.build(train.IMPROVED)[0], path)
        print(f"NumPy MLP: {path}")
    except ValueError as e:  # missing, or another network's weights: train a quick one
        print(f"NumPy MLP: {e} (`make reproduce` saves it); training a quick one")
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
        keras_models.compile_model(model, keras.optimizers.Adam(1e-3))
        # batches of 32: enough steps in one epoch for BatchNorm's running statistics to settle
        model.fit(x[..., None].astype("float32") / 255, y, epochs=1, batch_size=32, verbose=1)
    return lambda images: keras_models.predict_proba(model, images)  # uint8 (N, 28, 28)


def load_predictors(models: Path, n_quick: int = 15_000) -> dict[str, Predictor]:
    """Both models: saved in ``models/``, else trained quickly on MNIST's first digits."""
    from common.data import load_mnist

    (x, y), _ = load_mnist()
    x, y = x[:n_quick], y[:n_quick]
    predictors = {}
    for name, make in (("NumPy MLP", _numpy_predictor), ("CNN (Keras)", _cnn_predictor)):
        try:
            predictors[name] = make(models, x, y)
        except Exception as e:  # one model missing must not stop the other
            print(f"{name}: unavailable ({type(e).__name__}: {e})", file=sys.stderr)
    return predictors


def main(argv: list[str] | None = None) -> None:
    """Load or train the models, then serve the app on 127.0.0.1 and print its URL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT", 7860)))
    parser.add_argument("--models", type=Path, default=None, help="folder with the saved models")
    args = parser.parse_args(argv)
    predictors = load_predictors(args.models or results_dir() / "models")
    if not predictors:
        sys.exit("no model could be loaded or trained; see the messages above")
    app = build_app(predictors, [str(i) for i in range(10)])
    _, url, _ = app.launch(
        server_name="127.0.0.1", server_port=args.port, prevent_thread_lock=True, quiet=True
    )
    print(f"\nTry your own digit: open {url} in a browser (Ctrl+C to stop)", flush=True)
    app.block_thread()  # until Ctrl+C, which closes the server
    app.close()
    os._exit(0)  # after Ctrl+C, a library thread (seen with TensorFlow) kept the process alive


if __name__ == "__main__":
    main()
