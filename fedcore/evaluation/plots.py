"""Report figures as base64 PNG strings (matplotlib, Agg canvas, no pyplot global state)."""

from __future__ import annotations

import base64
import io
import math

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from fedcore.evaluation.columns import MISSING, UNKNOWN, category_codes
from fedcore.schema import CategoricalColumn, NumericColumn

REAL_COLOR = "#1f4e79"
SYNTHETIC_COLOR = "#e07b39"
HISTOGRAM_BINS = 30
MAX_BARS = 30  # categorical plots show the most frequent real categories beyond this
DPI = 90


def _text(value: object) -> str:
    """Data text for matplotlib: '$' would start mathtext (and can fail to render)."""
    return str(value).replace("$", r"\$")


def _new_figure(width: float = 4.6, height: float = 2.8) -> Figure:
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _missing_note(real_missing: float, synthetic_missing: float) -> str:
    if real_missing == 0 and synthetic_missing == 0:
        return ""
    return f"  (missing: real {real_missing:.0%}, synthetic {synthetic_missing:.0%})"


def numeric_marginal(real: pd.Series, synthetic: pd.Series, column: NumericColumn) -> str:
    """Overlaid density histograms over the schema's bounds."""
    real_x = pd.to_numeric(real, errors="coerce").to_numpy(dtype=float)
    synthetic_x = pd.to_numeric(synthetic, errors="coerce").to_numpy(dtype=float)
    bins = np.linspace(column.min, column.max, HISTOGRAM_BINS + 1)
    figure = _new_figure()
    axes = figure.add_subplot()
    for values, color, label in ((real_x, REAL_COLOR, "real"), (synthetic_x, SYNTHETIC_COLOR, "synthetic")):
        present = np.clip(values[~np.isnan(values)], column.min, column.max)
        if len(present):
            axes.hist(present, bins=bins, density=True, alpha=0.5, color=color, label=label)
    note = _missing_note(float(np.isnan(real_x).mean()), float(np.isnan(synthetic_x).mean()))
    axes.set_title(_text(column.name) + note, fontsize=10)
    axes.set_ylabel("density")
    axes.legend(fontsize=8)
    return _png(figure)


def _category_shares(values: pd.Series, column: CategoricalColumn) -> np.ndarray:
    """Share of each schema category, then 'missing', then 'other' (not in the schema)."""
    codes = category_codes(values, column)
    slots = np.where(codes == MISSING, len(column.categories), codes)
    slots = np.where(codes == UNKNOWN, len(column.categories) + 1, slots)
    counts = np.bincount(slots, minlength=len(column.categories) + 2).astype(float)
    return counts / max(len(values), 1)


def categorical_marginal(real: pd.Series, synthetic: pd.Series, column: CategoricalColumn) -> str:
    """Side-by-side bars of category shares (missing / other shown only when present)."""
    real_share = _category_shares(real, column)
    synthetic_share = _category_shares(synthetic, column)
    labels = [_text(c) for c in column.categories] + ["missing", "other"]
    shown = [i for i in range(len(column.categories)) if real_share[i] or synthetic_share[i]]
    shown = sorted(shown, key=lambda i: -real_share[i])[:MAX_BARS]
    shown = sorted(shown) + [i for i in (len(column.categories), len(column.categories) + 1)
                             if real_share[i] or synthetic_share[i]]
    positions = np.arange(len(shown))
    figure = _new_figure(width=max(4.6, 0.35 * len(shown) + 1.5))
    axes = figure.add_subplot()
    axes.bar(positions - 0.2, real_share[shown], width=0.4, color=REAL_COLOR, label="real")
    axes.bar(positions + 0.2, synthetic_share[shown], width=0.4, color=SYNTHETIC_COLOR, label="synthetic")
    axes.set_xticks(positions, [labels[i] for i in shown], rotation=45 if len(shown) > 6 else 0, fontsize=8)
    axes.set_title(_text(column.name), fontsize=10)
    axes.set_ylabel("share of rows")
    axes.legend(fontsize=8)
    return _png(figure)


def loss_per_round(rounds: list[dict]) -> str | None:
    """Training loss against round number; None when no round reports a loss."""
    points = [(r.get("round"), r.get("loss")) for r in rounds if isinstance(r, dict)]
    points = [(x, y) for x, y in points if _is_number(x) and _is_number(y)]
    if not points:
        return None
    figure = _new_figure(width=5.5, height=3.0)
    axes = figure.add_subplot()
    axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", color=REAL_COLOR)
    axes.set_xlabel("round")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("loss")
    axes.set_title("Training loss per round", fontsize=10)
    return _png(figure)


def epsilon_per_round(epsilon_per_round: dict) -> str | None:
    """One line per hospital of epsilon spent after each round; None when there is nothing to plot."""
    series = {
        str(name): [float(e) for e in values if _is_number(e)]
        for name, values in (epsilon_per_round or {}).items()
        if isinstance(values, (list, tuple))
    }
    series = {name: values for name, values in series.items() if values}
    if not series:
        return None
    figure = _new_figure(width=5.5, height=3.0)
    axes = figure.add_subplot()
    for name, values in sorted(series.items()):
        axes.plot(range(1, len(values) + 1), values, marker="o", label=_text(name))
    axes.set_xlabel("round")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("epsilon spent")
    axes.set_title("Privacy budget spent per hospital", fontsize=10)
    axes.legend(fontsize=8)
    return _png(figure)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and math.isfinite(value)
