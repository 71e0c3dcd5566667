"""``fedcore predict``: predictions of a model directory for a CSV of rows or for images, without the API.

A researcher who was given a published predictive version (``simulate`` writes ``DIR/model/``)
predicts here with the same task code the API runs. Each input row gives one output row holding
only the prediction columns: ``p_<class>`` (risk) or ``s_<time>`` (survival, at ``--times`` or the
model's own time grid). Rows are checked against the model's schema first; a value it does not
allow is refused with its row and column, never guessed. An image model takes ``--images`` (a PNG,
a folder of PNGs or an ``.npz``) instead; each image gives one row: its ``file`` (or its ``index`` in
the ``.npz``), then ``p_<class>``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from rich.console import Console

from fedcore.runtime.model_directory import load_model_directory
from fedcore.runtime.predict import (
    MAX_IMAGES, ModelInputKindError, predict_from_directory, predict_images_from_directory,
)
from fedcore.table import read_csv


def register(commands) -> None:
    p = commands.add_parser(
        "predict", help="predictions of a risk, survival or image model directory for rows or images",
        description="Predict with a published predictive model version written as a directory (simulate writes "
                    "DIR/model/). Every file's SHA-256 is checked against the model card first. A risk or survival "
                    "model takes --data: every row is checked against the model's schema (label and excluded "
                    "columns are ignored, empty cells are missing values). An image model takes --images: a PNG "
                    "file, a folder of PNGs (sub-folders included, read in name order) or an .npz with an 'images' "
                    f"array, at most {MAX_IMAGES} images; each is converted and resized to the model's spec as "
                    "training images are. Output: one row per input row (p_<class> or s_<time>), or per image "
                    "(file, or index for an .npz, then p_<class>).",
        allow_abbrev=False,
    )
    p.add_argument("--model", required=True, type=Path, help="the model directory (e.g. out/sim/model)")
    given = p.add_mutually_exclusive_group(required=True)
    given.add_argument("--data", type=Path, help="risk or survival: CSV of rows to predict for, with a header")
    given.add_argument("--images", type=Path, metavar="PATH",
                       help="image models: a .png file, a folder of .png files, or an .npz ('images': "
                            "(N,H,W), (N,H,W,C) or (N,C,H,W) uint8)")
    p.add_argument("--out", required=True, type=Path, help="CSV file to write: one row per input row or image")
    p.add_argument("--times", default=None, metavar="T1,T2,...",
                   help="survival only: times at which to give S(t) (default: the model's time grid)")
    p.set_defaults(handler=_predict)


def parse_times(text: str | None) -> list[float] | None:
    """``100,200.5`` as floats; the model checks their range."""
    if text is None:
        return None
    times = []
    for part in text.split(","):
        try:
            times.append(float(part))
        except ValueError:
            raise ValueError(f"--times must be numbers separated by commas, got {part.strip()!r}") from None
    return times


def read_image_input(path: Path) -> tuple[str, list[str] | None, bytes | dict[str, bytes]]:
    """``--images``: the output's first column ("file" or "index"), the file names in the order the images
    are read (None: an .npz's order), and the data (one PNG's or .npz's bytes, or relative name -> PNG bytes)."""
    if path.is_dir():
        files = {file.relative_to(path).as_posix(): file for file in sorted(path.rglob("*"))
                 if file.is_file() and not any(part.startswith(".") for part in file.relative_to(path).parts)}
        others = [name for name in files if not name.lower().endswith(".png")]
        if others:
            raise ValueError(f"--images {path}: {others[0]!r} is not a .png file (a folder holds only PNGs; "
                             "pass an .npz as a file)")
        if not files:
            raise ValueError(f"--images {path}: no .png files in this folder")
        if len(files) > MAX_IMAGES:
            raise ValueError(f"--images {path}: {len(files)} PNGs; at most {MAX_IMAGES} per call (split the folder)")
        names = sorted(files)  # the order the reader takes a listing in
        return "file", names, {name: files[name].read_bytes() for name in names}
    if not path.is_file():
        raise FileNotFoundError(f"--images {path}: no such file or folder")
    if path.suffix.lower() == ".png":
        return "file", [path.name], path.read_bytes()
    if path.suffix.lower() == ".npz":
        return "index", None, path.read_bytes()
    raise ValueError(f"--images {path}: give a .png file, a folder of .png files or an .npz file")


def _predict(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    times = parse_times(args.times)
    if args.images is not None and times is not None:
        raise ValueError("--times goes with --data (survival models); --images gives class probabilities")
    model = load_model_directory(args.model)
    try:
        predictions = _image_predictions(model, args.images, console) if args.images is not None else \
            _row_predictions(model, args.data, times, console)
    except ModelInputKindError as exc:
        raise ValueError(f"{exc}; use {'--data' if args.images is not None else '--images'}") from None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    predictions.to_csv(args.out, index=False)
    epsilon = model.card["privacy"]["max_epsilon"]
    privacy = "no DP" if epsilon is None else f"epsilon <= {epsilon:.3g} per hospital"
    console.print(f"wrote {args.out}: {len(predictions):,} rows x {predictions.shape[1]} columns "
                  f"({model.kind}, {privacy})")
    return 0


def _row_predictions(model, data: Path, times: list[float] | None, console: Console) -> pd.DataFrame:
    rows = read_csv(data)
    with console.status(f"predicting {len(rows):,} rows with {model.kind} model {model.card['version']['version']}"):
        return predict_from_directory(model, rows, times)


def _image_predictions(model, path: Path, console: Console) -> pd.DataFrame:
    """``file`` (or ``index``) then ``p_<class>``, one row per image."""
    column, files, data = read_image_input(path)
    with console.status(f"predicting images with {model.kind} model {model.card['version']['version']}"):
        predictions = predict_images_from_directory(model, data)
    labels = files if files is not None else list(range(len(predictions)))
    return pd.concat([pd.DataFrame({column: labels}), predictions], axis=1)
