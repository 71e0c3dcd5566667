"""Runs a spoke's Batch job as a local process, started the way the trainer image starts it.

The image's ENTRYPOINT passes on only the allow-listed variables of the job's environment (the job
definition's with the Task's overrides) to an isolated interpreter of the installed package; here the
same, through the trainer's two public entry points: its command, ``python -I -m containers.trainer``,
and the image's environment contract, ``containers.trainer.environment.passed_by_wrapper`` of the job's
environment. Then what a runtime provides (as the ECS agent does in AWS): credentials for
the job role (so it acts in the spoke's own account), the emulator endpoint, and its share of the
machine's cores. Its exit status decides the job (0 SUCCEEDED, else FAILED with the last line it
logged as the status reason); its output goes to ``<log_dir>/<job name>-<job id>.log``. The job
definition's attempt timeout is enforced. A job runs the same way whichever of its hospital's queues
(cpu or gpu, the run's compute class) it was submitted to; ``runs`` records the queue.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from containers.trainer.environment import passed_by_wrapper
from sandbox.calls import JobOutcome, JobSpec

# -I: PYTHON* variables ignored, no user site, neither the working directory nor the script's on
# sys.path, so the installed package runs (`pip install -e .`, Makefile), as in the image; its working
# directory is the jobs' log folder.
TRAINER_COMMAND = (sys.executable, "-I", "-m", "containers.trainer")
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")  # this machine's, not the job's
_REASON_CHARS = 400


@dataclass
class JobRequest:
    """What a ``JobHook`` may change before the process starts (tests use it to inject faults)."""

    spoke_id: str
    job_name: str
    environment: dict[str, str]
    argv: list[str]


JobHook = Callable[[JobRequest], None]


@dataclass(frozen=True)
class JobRun:
    """One finished job, for measurements."""

    run_id: str
    spoke_id: str
    job_name: str
    started: float
    seconds: float
    exit_code: int
    log_path: Path
    job_queue_arn: str = ""  # the queue it was submitted to: its run's compute class (the same process either way)


@dataclass
class BatchRuntime:
    endpoint_url: str
    credentials_for_role: Callable[[str], dict[str, str]]  # role ARN -> AWS_* environment variables
    log_dir: Path
    threads_per_job: int
    hooks: list[JobHook] = field(default_factory=list)
    runs: list[JobRun] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._processes: set[subprocess.Popen] = set()
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def run_job(self, job: JobSpec) -> JobOutcome:
        request = JobRequest(job.environment.get("SPOKE_ID", ""), job.job_name, dict(job.environment),
                             list(TRAINER_COMMAND))
        for hook in self.hooks:
            hook(request)
        if not job.job_role_arn:
            return JobOutcome(-1, "the job definition has no job role")
        env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
        env.update({"AWS_REGION": job.region, "AWS_DEFAULT_REGION": job.region})
        env.update(passed_by_wrapper(request.environment))
        threads = str(self.threads_per_job)
        env.update({"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads})
        env.update(self.credentials_for_role(job.job_role_arn))
        env["AWS_ENDPOINT_URL"] = self.endpoint_url
        log_path = self.log_dir / f"{job.job_name}-{job.job_id[:8]}.log"
        started = time.time()
        with open(log_path, "wb") as log:
            process = subprocess.Popen(request.argv, cwd=self.log_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
            with self._lock:
                self._processes.add(process)
            try:
                exit_code = process.wait(timeout=job.timeout_seconds)
                reason = "" if exit_code == 0 else f"exit {exit_code}: {_last_line(log_path)}"
            except subprocess.TimeoutExpired:
                process.kill()
                exit_code = process.wait()
                reason = f"Job attempt duration exceeded timeout ({job.timeout_seconds} s)"
            finally:
                with self._lock:
                    self._processes.discard(process)
        self.runs.append(JobRun(request.environment.get("RUN_ID", ""), request.spoke_id, job.job_name, started,
                                time.time() - started, exit_code, log_path, job.job_queue_arn))
        return JobOutcome(exit_code, reason)

    def kill_all(self) -> None:
        """Stop every job still running (the sandbox is shutting down)."""
        with self._lock:
            processes = list(self._processes)
        for process in processes:
            if process.poll() is None:
                process.kill()


def _last_line(path: Path) -> str:
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    if not lines:
        return "the process printed nothing"
    # The trainer logs "<time> ERROR trainer: <message>"; keep the message.
    text = lines[-1].split(" trainer: ", 1)[-1]
    return text[:_REASON_CHARS]
