"""In-memory blob and run stores with the same create-only semantics as S3 and DynamoDB."""

from __future__ import annotations

import copy
import threading

from fedcore.runtime.ports import BlobExistsError, BlobNotFoundError


class InMemoryBlobStore:
    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put_new(self, key: str, data: bytes) -> None:
        with self._lock:
            if key in self._blobs:
                raise BlobExistsError(f"{key} already exists")
            self._blobs[key] = bytes(data)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        with self._lock:
            self._blobs[key] = bytes(data)

    def get(self, key: str) -> bytes:
        try:
            return self._blobs[key]
        except KeyError:
            raise BlobNotFoundError(f"{key} does not exist") from None

    def exists(self, key: str) -> bool:
        return key in self._blobs

    def list_keys(self, prefix: str) -> list[str]:
        return sorted(k for k in self._blobs if k.startswith(prefix))


class InMemoryRunStore:
    def __init__(self) -> None:
        self._runs: dict[str, dict] = {}
        self._rounds: dict[tuple[str, int], dict] = {}
        self._models: dict[str, dict] = {}

    def create_run(self, run_id: str, record: dict) -> bool:
        if run_id in self._runs:
            return False
        self._runs[run_id] = copy.deepcopy(record) | {"run_id": run_id}
        return True

    def get_run(self, run_id: str) -> dict | None:
        run = self._runs.get(run_id)
        return copy.deepcopy(run) if run else None

    def update_run(self, run_id: str, fields: dict) -> None:
        if run_id not in self._runs:
            raise KeyError(f"no run {run_id!r}")
        self._runs[run_id].update(copy.deepcopy(fields))

    def put_round(self, run_id: str, round_: int, metrics: dict) -> bool:
        if (run_id, round_) in self._rounds:
            return False
        self._rounds[(run_id, round_)] = copy.deepcopy(metrics) | {"run_id": run_id, "round": round_}
        return True

    def list_rounds(self, run_id: str) -> list[dict]:
        return [copy.deepcopy(m) for (r, _), m in sorted(self._rounds.items()) if r == run_id]

    def list_runs(self) -> list[dict]:
        return [copy.deepcopy(r) for _, r in sorted(self._runs.items())]

    def put_model_version(self, record: dict) -> bool:
        if record["version"] in self._models:
            return False
        self._models[record["version"]] = copy.deepcopy(record)
        return True

    def list_model_versions(self) -> list[dict]:
        return [copy.deepcopy(m) for _, m in sorted(self._models.items())]
