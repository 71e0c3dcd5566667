"""``bench tasks``: the predictive tasks on ACTG 175 with 3 hospitals, federated against central references.

For each epsilon (3 and no DP): ``risk`` on ``cens`` (without ``days``), its AUC beside the central
references, with FedAvg and with FairFed, and the fairness gaps (fairlearn's definitions, on the
exact holdout and from the noisy federated counts); ``survival`` on (``days``, ``cens``), its C-index
and integrated Brier score beside central Cox PH. Every row comes from a full ``simulate`` run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fedcore.run_config import RunConfig

RISK = {"name": "risk", "target": "cens", "exclude": ["days"]}
SURVIVAL = {"name": "survival", "time": "days", "event": "cens"}


def bench_cases(epsilons: list[float | None], rounds: int, epochs: int,
                tasks: tuple[str, ...] = ("risk", "survival")) -> list[tuple[str, RunConfig]]:
    cases = []
    for epsilon in epsilons:
        privacy = {"enabled": False} if epsilon is None else {"target_epsilon": epsilon}
        common = {"rounds": rounds, "privacy": privacy, "training": {"epochs": epochs, "batch_size": 128,
                                                                      "learning_rate": 3e-3}}
        if "risk" in tasks:
            for strategy in ("fedavg", "fairfed"):
                cases.append((f"risk {strategy}", RunConfig(task=RISK, strategy=strategy, **common)))
        if "survival" in tasks:
            cases.append(("survival fedavg", RunConfig(task=SURVIVAL, **common)))
    return cases


def run_task_bench(epsilons: list[float | None], rounds: int = 4, epochs: int = 2, seed: int = 0,
                   on_case=None, tasks: tuple[str, ...] = ("risk", "survival")) -> list[dict]:
    from fedcore.experiment import ExperimentSpec, run_experiment

    rows = []
    for label, config in bench_cases(epsilons, rounds, epochs, tasks):
        config = config.model_copy(update={"seed": seed})
        with tempfile.TemporaryDirectory() as out:
            report = run_experiment(ExperimentSpec(data="actg175", spokes=3, config=config), Path(out))
        rows.append(_row(label, config, report))
        if on_case is not None:
            on_case(rows[-1])
    return rows


def _row(label: str, config: RunConfig, report: dict) -> dict:
    final, baseline = report["metrics"]["final"], report["baseline"]
    measures = ("auc",) if config.task.name == "risk" else ("c_index", "integrated_brier")
    row = {"case": label, "epsilon": config.privacy.target_epsilon if config.privacy.enabled else None,
           "federated": {m: final.get(m) for m in measures},
           "references": {name: {m: scores.get(m) for m in measures} for name, scores in baseline.items()}}
    if config.task.name == "risk":
        row["fairness_holdout"] = {attr: {k: v[k] for k in ("demographic_parity_difference", "equalized_odds_difference")}
                                   for attr, v in (final.get("fairness") or {}).items()}
        row["fairness_federated_noisy"] = {
            attr: {k: v.get(k) for k in ("demographic_parity_difference", "equalized_odds_difference")}
            for attr, v in report["fairness"].items() if attr != "hospital_spread" and v}
    return row
