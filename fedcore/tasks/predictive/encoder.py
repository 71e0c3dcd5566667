"""The predictive tasks' shared encoding, built at the hub from the setup round's DP statistics.

Features are the schema's columns less the label columns and ``task.exclude``: numeric columns
through the global preprocessor (quantile or standard transform, missing indicators), categorical
columns one-hot. Everything here is post-processing of the merged noisy statistics (DESIGN.md
section 4) and of public settings, so building it costs no privacy. Torch-free: the hub builds it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fedcore.preprocessing.preprocessor import GlobalPreprocessor, build_preprocessor
from fedcore.preprocessing.table_stats import TableStats, bin_edges
from fedcore.schema import CategoricalColumn, NumericColumn, Schema


class TaskSchemaError(ValueError):
    """The task's columns do not fit the run's schema."""


@dataclass(frozen=True)
class Labels:
    """The label columns of a task and what their values mean."""

    task: str  # "risk" or "survival"
    target: str | None = None  # risk: the class column
    classes: tuple = ()  # risk: the target's categories, in schema order
    positive: int = 1  # risk: index of the class whose rates fairness compares
    time: str | None = None  # survival
    event: str | None = None  # survival: its categories, the last one meaning "event observed"
    cuts: tuple[float, ...] = ()  # survival: interval upper bounds, increasing; the last is the time's max

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for c in (self.target, self.time, self.event) if c)

    @property
    def outputs(self) -> int:
        return len(self.classes) if self.task == "risk" else len(self.cuts)

    def to_dict(self) -> dict:
        return {"task": self.task, "target": self.target, "classes": list(self.classes), "positive": self.positive,
                "time": self.time, "event": self.event, "cuts": list(self.cuts)}

    @classmethod
    def from_dict(cls, data: dict) -> "Labels":
        return cls(data["task"], data.get("target"), tuple(data.get("classes") or ()), int(data.get("positive", 1)),
                   data.get("time"), data.get("event"), tuple(float(c) for c in data.get("cuts") or ()))


def label_columns(task, schema: Schema) -> Labels:
    """The task's labels from its settings and the schema (cuts are filled in at setup); TaskSchemaError if
    they do not fit. ``task`` is the run's TaskSettings."""
    names = set(schema.names)
    for column in task.exclude:
        if column not in names:
            raise TaskSchemaError(f"task.exclude names {column!r}, which is not a column of the schema")
    if task.name == "risk":
        target = task.target or schema.target
        if target is None:
            raise TaskSchemaError("task risk needs task.target (the schema declares no target)")
        column = _column(schema, target, "task.target")
        if not isinstance(column, CategoricalColumn):
            raise TaskSchemaError(f"task.target {target!r} must be a categorical column (the classes)")
        positive = len(column.categories) - 1
        if task.positive is not None:
            matches = [i for i, c in enumerate(column.categories) if str(c) == str(task.positive)]
            if not matches:
                raise TaskSchemaError(f"task.positive {task.positive!r} is not a category of {target!r}: "
                                      f"{list(column.categories)}")
            positive = matches[0]
        labels = Labels("risk", target=target, classes=tuple(column.categories), positive=positive)
    else:
        time = task.time or schema.target
        if time is None or task.event is None:
            raise TaskSchemaError("task survival needs task.time and task.event")
        if not isinstance(_column(schema, time, "task.time"), NumericColumn):
            raise TaskSchemaError(f"task.time {time!r} must be a numeric column (time to event or censoring)")
        event = _column(schema, task.event, "task.event")
        if not isinstance(event, CategoricalColumn) or len(event.categories) != 2:
            raise TaskSchemaError(f"task.event {task.event!r} must be a categorical column with two categories "
                                  "(censored, event observed)")
        labels = Labels("survival", time=time, event=task.event)
    clash = set(labels.columns) & set(task.exclude)
    if clash:
        raise TaskSchemaError(f"task.exclude removes the label column(s) {sorted(clash)}")
    if not feature_names(schema, labels, task.exclude):
        raise TaskSchemaError("no feature columns are left after the labels and task.exclude")
    return labels


def feature_names(schema: Schema, labels: Labels, exclude) -> list[str]:
    dropped = set(labels.columns) | set(exclude)
    return [name for name in schema.names if name not in dropped]


def time_cuts(column: NumericColumn, stats: TableStats, intervals: int) -> tuple[float, ...]:
    """Interval upper bounds at equal shares of the merged noisy histogram of the time column (DP
    post-processing), the last at the column's declared max, strictly increasing."""
    hist = np.clip(stats.counts[column.name][:-1], 0.0, None) + 1e-3  # noisy counts; keeps the CDF increasing
    edges = bin_edges(column, stats.bins)
    cdf = np.concatenate([[0.0], np.cumsum(hist) / hist.sum()])
    inner = np.interp(np.linspace(0, 1, intervals + 1)[1:-1], cdf, edges)
    cuts = np.unique(np.round(np.concatenate([inner, [column.max]]), 6))
    return tuple(float(c) for c in cuts if c > column.min)


@dataclass(frozen=True)
class PredictiveEncoder:
    """Features and labels of the predictive tasks: one encoding for every hospital and for serving."""

    preprocessor: GlobalPreprocessor  # over the feature columns only
    labels: Labels
    sensitive: dict[str, tuple]  # schema column -> its categories; fairness compares these groups
    event_categories: tuple = ()  # survival: (censored, event observed)

    @classmethod
    def build(cls, task, schema: Schema, stats: TableStats, numeric_transform: str) -> "PredictiveEncoder":
        labels = label_columns(task, schema)
        features = feature_names(schema, labels, task.exclude)
        feature_schema = Schema(name=schema.name, columns=tuple(schema.column(n) for n in features))
        kept = TableStats({n: stats.counts[n] for n in features}, stats.noise_std, stats.bins)
        events: tuple = ()
        if labels.task == "survival":
            cuts = time_cuts(schema.column(labels.time), stats, task.time_bins)
            labels = Labels(**{**labels.__dict__, "cuts": cuts})
            events = tuple(schema.column(labels.event).categories)
        sensitive = {name: tuple(schema.column(name).categories) for name in schema.sensitive}
        return cls(build_preprocessor(feature_schema, kept, numeric_transform), labels, sensitive, events)

    @property
    def input_dim(self) -> int:
        layout = self.preprocessor.layout
        return layout.num_features + sum(layout.cat_cardinalities)

    @property
    def feature_columns(self) -> list[str]:
        return self.preprocessor.schema.names

    def features(self, frame: pd.DataFrame) -> np.ndarray:
        """(N, input_dim) float32: transformed numeric columns, then one-hot categorical features."""
        encoded = self.preprocessor.transform(frame[self.feature_columns])
        parts = [encoded.num.astype(np.float32)]
        for j, cardinality in enumerate(self.preprocessor.layout.cat_cardinalities):
            parts.append(np.eye(cardinality, dtype=np.float32)[encoded.cat[:, j]])  # (N, cardinality)
        return np.concatenate(parts, axis=1)

    def labelled(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows whose label columns are all present (a row without its label cannot be scored)."""
        return frame[frame[list(self.labels.columns)].notna().all(axis=1)]

    def class_index(self, frame: pd.DataFrame) -> np.ndarray:
        """(N,) int64 class of each row (risk)."""
        index = {str(c): i for i, c in enumerate(self.labels.classes)}
        return frame[self.labels.target].map(lambda v: index[str(v)]).to_numpy(np.int64)

    def survival_labels(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(time (N,) float64, event (N,) bool, interval (N,) int64) of each row (survival)."""
        time = frame[self.labels.time].to_numpy(dtype=float)
        observed = str(self.event_categories[-1])
        event = frame[self.labels.event].map(lambda v: str(v) == observed).to_numpy(bool)
        interval = np.minimum(np.searchsorted(np.asarray(self.labels.cuts), time, side="left"),
                              len(self.labels.cuts) - 1)
        return time, event, interval.astype(np.int64)

    def group_index(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """{attribute: (N,) group index}; a missing value is the last group (dropped before release)."""
        groups = {}
        for name, categories in self.sensitive.items():
            index = {str(c): i for i, c in enumerate(categories)}
            groups[name] = frame[name].map(lambda v: index.get(str(v), len(categories))).to_numpy(np.int64)
        return groups

    def group_names(self) -> dict[str, list[str]]:
        return {name: [str(c) for c in categories] for name, categories in self.sensitive.items()}

    def to_dict(self) -> dict:
        return {"preprocessor": self.preprocessor.to_dict(), "labels": self.labels.to_dict(),
                "sensitive": {name: list(c) for name, c in self.sensitive.items()},
                "event_categories": list(self.event_categories)}

    @classmethod
    def from_dict(cls, data: dict) -> "PredictiveEncoder":
        return cls(GlobalPreprocessor.from_dict(data["preprocessor"]), Labels.from_dict(data["labels"]),
                   {name: tuple(c) for name, c in data["sensitive"].items()}, tuple(data["event_categories"]))


def drop_missing_group(counts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-group counts without the last group (rows whose sensitive value is missing): fairness compares
    declared groups, and a row left out of a group adds less, never more, to the counts' sensitivity."""
    return {name: (value[:-1] if name.startswith("group_") else value) for name, value in counts.items()}


def _column(schema: Schema, name: str, setting: str):
    try:
        return schema.column(name)
    except KeyError:
        raise TaskSchemaError(f"{setting} names {name!r}, which is not a column of the schema") from None
