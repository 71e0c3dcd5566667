"""Writing the run report: ``report.json`` (the numbers) and a self-contained ``report.html``.

The HTML has inline CSS and base64 PNG figures so it can be mailed or archived as one file.
Every string that comes from data or the report dict is HTML-escaped.
"""

from __future__ import annotations

import html
import json
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from fedcore.evaluation import plots
from fedcore.schema import CategoricalColumn, Schema

logger = logging.getLogger(__name__)

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;max-width:1100px;
color:#222;padding:0 1rem;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:2px solid #1f4e79}
.sub{color:#666;margin-top:0}table{border-collapse:collapse;margin:.5rem 0}
td,th{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}th{background:#f3f6fa}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:flex;flex-wrap:wrap;gap:1rem}.card{border:1px solid #e3e3e3;border-radius:6px;padding:.4rem}
.card p{margin:.2rem 0;font-size:.85rem;color:#555}img{max-width:100%}
dt{font-weight:600;margin-top:.6rem}pre{background:#f7f7f7;padding:.8rem;overflow:auto;font-size:.8rem}
"""

NO_LOSS = "No per-round loss was recorded."
NO_EPSILON = "No per-round privacy spend was recorded."

EXPLANATION = """
<dl>
<dt>Column shapes (0 to 1, higher is better)</dt>
<dd>SDMetrics' per-column similarity of real and synthetic distributions, averaged over columns:
1 &minus; Kolmogorov&ndash;Smirnov statistic for numeric columns, 1 &minus; total variation distance for
categorical ones. 1.0 means every marginal matches. Missing values are left out of the comparison.</dd>
<dt>Column pair trends (0 to 1, higher is better)</dt>
<dd>SDMetrics' similarity of pairs of columns: correlation similarity for two numeric columns,
contingency-table similarity otherwise. It measures whether relationships between columns survive,
and counts only pairs that are related in the real data (|correlation| &gt; 0.5 or
Cram&eacute;r's V &gt; 0.3); n/a means no pair is.</dd>
<dt>TSTR and TRTR</dt>
<dd>Train-on-synthetic-test-on-real: a model fitted on the synthetic table predicts the target on real
held-out patients. Train-on-real-test-on-real is the same model fitted on real training rows.
TSTR close to TRTR means the synthetic data supports the same analysis; ROC AUC 0.5 is chance level.</dd>
<dt>DCR share (0.5 is ideal)</dt>
<dd>Share of synthetic rows whose closest real record (distance to closest record) is a training
patient rather than an equally large set of held-out patients. 0.5 means synthetic rows are no
closer to the patients the model saw than to ones it never saw; near 1.0 means it memorised them.</dd>
<dt>&epsilon; and &delta; (differential privacy)</dt>
<dd>Each hospital's (&epsilon;, &delta;)-differential-privacy guarantee: adding or removing one patient
changes the probability of any training outcome by at most a factor e<sup>&epsilon;</sup>, except with
probability &delta;. Smaller &epsilon; is stronger privacy; &delta; should be far below
1 / (number of patients).</dd>
</dl>
"""


def to_jsonable(value: object) -> object:
    """Plain JSON types: numpy scalars and arrays unwrapped, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        return [to_jsonable(v) for v in list(value)]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Path):
        return str(value)
    if value is pd.NA or value is pd.NaT:
        return None
    raise TypeError(f"report value of type {type(value).__name__} is not JSON-serializable: {value!r}")


def _get(report: dict, *keys: str) -> object:
    for key in keys:
        if not isinstance(report, dict) or key not in report:
            return None
        report = report[key]
    return report


def _format(value: object) -> str:
    if isinstance(value, (bool, np.bool_)) or value is None:
        return "n/a" if value is None else str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            return "n/a"
        return f"{value:.1e}" if 0 < abs(value) < 1e-3 else f"{value:.3f}"  # delta is ~1e-5
    return str(value)


def _summary_rows(report: dict) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = [
        ("Column shapes (SDMetrics)", _get(report, "quality", "column_shapes")),
        ("Column pair trends (SDMetrics)", _get(report, "quality", "column_pair_trends")),
    ]
    metric = _get(report, "utility", "metric") or "score"
    rows += [
        (f"TSTR ({metric})", _get(report, "utility", "tstr")),
        (f"TRTR ({metric})", _get(report, "utility", "trtr")),
        ("TSTR / TRTR", _get(report, "utility", "ratio")),
    ]
    epsilon = _get(report, "privacy", "epsilon")
    if isinstance(epsilon, dict):
        for name in sorted(epsilon, key=str):
            rows.append((f"\u03b5, hospital {name}", epsilon[name]))
    else:
        rows.append(("\u03b5", epsilon))
    rows.append(("\u03b4", _get(report, "privacy", "delta")))
    rows.append(("DCR share (0.5 ideal)", _get(report, "privacy", "dcr_share")))
    return rows


def _table(rows: list[tuple[str, object]]) -> str:
    body = "".join(
        f"<tr><td>{html.escape(label)}</td><td class='num'>{html.escape(_format(value))}</td></tr>"
        for label, value in rows
    )
    return f"<table><tr><th>Measure</th><th>Value</th></tr>{body}</table>"


def _image(png: str | None, alt: str, missing: str) -> str:
    if png is None:
        return f"<p class='sub'>{html.escape(missing)}</p>"
    return f"<img alt='{html.escape(alt, quote=True)}' src='data:image/png;base64,{png}'>"


def _marginals(report: dict, real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema) -> str:
    per_column = _get(report, "quality", "per_column") or {}
    cards = []
    for column in schema.columns:
        if isinstance(column, CategoricalColumn):
            png = plots.categorical_marginal(real[column.name], synthetic[column.name], column)
        else:
            png = plots.numeric_marginal(real[column.name], synthetic[column.name], column)
        entry = per_column.get(column.name) if isinstance(per_column, dict) else None
        caption = f"{column.name} \u2014 {column.kind}"
        if isinstance(entry, dict):
            caption += f"; {entry.get('metric', 'score')} {_format(entry.get('score'))}"
        cards.append(
            f"<div class='card'>{_image(png, f'{column.name}: real vs synthetic', '')}"
            f"<p>{html.escape(caption)}</p></div>"
        )
    return f"<div class='grid'>{''.join(cards)}</div>"


def render_html(report: dict, real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema) -> str:
    """The report page as one HTML string."""
    rounds = report.get("rounds") if isinstance(report.get("rounds"), list) else []
    epsilon_rounds = _get(report, "privacy", "epsilon_per_round")
    loss_png = plots.loss_per_round(rounds)
    epsilon_png = plots.epsilon_per_round(epsilon_rounds if isinstance(epsilon_rounds, dict) else {})
    title = f"Synthetic data report: {schema.name}"
    full_json = json.dumps(to_jsonable(report), indent=2, allow_nan=False)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p class='sub'>{len(real)} real rows, {len(synthetic)} synthetic rows, "
        f"{len(schema.columns)} columns</p>"
        f"<h2>Summary</h2>{_table(_summary_rows(report))}"
        "<h2>Training</h2><div class='grid'>"
        f"<div class='card'>{_image(loss_png, 'loss per round', NO_LOSS)}</div>"
        f"<div class='card'>{_image(epsilon_png, 'epsilon per hospital per round', NO_EPSILON)}</div>"
        "</div>"
        f"<h2>Real vs synthetic, column by column</h2>{_marginals(report, real, synthetic, schema)}"
        f"<h2>What these numbers mean</h2>{EXPLANATION}"
        "<h2>All numbers</h2><details><summary>report.json</summary>"
        f"<pre>{html.escape(full_json)}</pre></details>"
        "</body></html>"
    )


def write_report(
    out_dir: Path, report: dict, real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema
) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``out_dir``; return their paths."""
    missing = [n for n in schema.names if n not in real.columns or n not in synthetic.columns]
    if missing:
        raise ValueError(f"real and synthetic tables must both hold schema columns; missing {missing}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "report.json", out_dir / "report.html"
    json_path.write_text(json.dumps(to_jsonable(report), indent=2, allow_nan=False), encoding="utf-8")
    html_path.write_text(render_html(report, real, synthetic, schema), encoding="utf-8")
    logger.info("wrote %s and %s", json_path, html_path)
    return json_path, html_path
