"""Job environment overrides cannot run code before the trainer does (trust-boundaries issue, item B).

A SubmitJob's ContainerOverrides may set any variable. Each test sets variables that make a plain
``python -m`` run attacker-chosen code (PYTHONWARNINGS importing ``antigravity``, which opens $BROWSER;
a ``sitecustomize`` on PYTHONPATH; PYTHONSTARTUP with PYTHONINSPECT) and checks that the way the
trainer is really started (the image's wrapper, ``python -I``, the sandbox's Batch runtime) runs none
of it. The first test shows that the payloads do run code when the trainer is started naively.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from containers.trainer.environment import ALLOWED, PASSED_BY_WRAPPER
from sandbox.batch_runtime import TRAINER_COMMAND, BatchRuntime
from sandbox.calls import JobSpec

REPO_ROOT = Path(__file__).resolve().parents[1]
WRAPPER = REPO_ROOT / "containers" / "trainer" / "entrypoint.sh"
DOCKERFILE = REPO_ROOT / "containers" / "trainer" / "Dockerfile"


def _executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _payloads(tmp_path: Path) -> tuple[dict[str, str], list[Path]]:
    """Variables that run code at interpreter start-up, and the marker files that code would write."""
    markers = [tmp_path / f"ran-{name}" for name in ("browser", "sitecustomize", "startup")]
    browser = _executable(tmp_path / "browser.sh", f"#!/bin/sh\ntouch {markers[0]}\n")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(f"open({str(markers[1])!r}, 'w').close()\n")
    startup = tmp_path / "startup.py"
    startup.write_text(f"open({str(markers[2])!r}, 'w').close()\n")
    return {
        "PYTHONWARNINGS": "ignore::antigravity.Warning",  # imports antigravity, which opens $BROWSER
        "BROWSER": str(browser),
        "PYTHONPATH": str(site),
        "PYTHONSTARTUP": str(startup),
        "PYTHONINSPECT": "1",
    }, markers


def _base_environment() -> dict[str, str]:
    return {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}


def test_the_payloads_run_code_when_the_trainer_is_started_without_isolation(tmp_path):
    # Arrange
    attack, markers = _payloads(tmp_path)

    # Act
    subprocess.run([sys.executable, "-m", "containers.trainer"], cwd=REPO_ROOT, env={**_base_environment(), **attack},
                   stdin=subprocess.DEVNULL, capture_output=True, timeout=120)

    # Assert: the attack is real (so the tests below can fail).
    assert markers[0].exists() and markers[1].exists()


def test_the_isolated_trainer_runs_none_of_the_payloads(tmp_path):
    # Arrange
    attack, markers = _payloads(tmp_path)

    # Act: exactly the command of the image's wrapper and of the sandbox, from an unrelated directory.
    done = subprocess.run([sys.executable, "-I", "-m", "containers.trainer"], cwd=tmp_path,
                          env={**_base_environment(), **attack}, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=120)

    # Assert
    assert [m.name for m in markers if m.exists()] == []
    assert done.returncode == 2  # it started (the installed package, not the checkout) and found no settings
    assert "BROWSER" in done.stderr and "missing setting RUN_ID" in done.stderr.splitlines()[-1]


def test_the_sandbox_starts_the_trainer_isolated_and_passes_on_only_allow_listed_variables(tmp_path):
    # Arrange: a job whose environment carries the payloads and an endpoint redirect for SSM (which would
    # let a fake server answer the hospital's policy).
    attack, markers = _payloads(tmp_path)
    job_env = {**attack, "AWS_ENDPOINT_URL_SSM": "http://127.0.0.1:9", "LD_PRELOAD": "/nonexistent.so",
               "SPOKE_ID": "hosp-a", "TRAINER_MODE": "train", "ROUND": "1"}
    runtime = BatchRuntime(endpoint_url="http://127.0.0.1:9", log_dir=tmp_path / "logs", threads_per_job=1,
                           credentials_for_role=lambda arn: {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s",
                                                             "AWS_SESSION_TOKEN": "t"})

    def job(name: str) -> JobSpec:
        return JobSpec("0123456789", name, "222222222222", "eu-west-1", "queue", "definition", dict(job_env),
                       "arn:aws:iam::222222222222:role/job", 120)

    dump = tmp_path / "environment.json"
    seen: list[list[str]] = []

    def dump_environment(request) -> None:  # runs a probe with the environment the runtime builds
        seen.append(list(request.argv))
        request.argv = [sys.executable, "-I", "-c",
                        f"import json, os; json.dump(dict(os.environ), open({str(dump)!r}, 'w'))"]

    # Act
    outcome = runtime.run_job(job("train-r1-hosp-a"))
    runtime.hooks.append(dump_environment)
    runtime.run_job(job("probe"))
    environment = json.loads(dump.read_text())

    # Assert
    assert [m.name for m in markers if m.exists()] == []
    assert outcome.exit_code == 2 and "missing setting RUN_ID" in outcome.reason
    assert seen == [list(TRAINER_COMMAND)] and TRAINER_COMMAND[1:] == ("-I", "-m", "containers.trainer")
    assert set(environment) <= ALLOWED
    assert environment["SPOKE_ID"] == "hosp-a" and environment["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"


def _wrapper_copy(tmp_path: Path) -> tuple[Path, Path]:
    """The image's wrapper with its two absolute paths pointed at this machine: `env` and a probe
    interpreter that records its arguments and environment."""
    record = tmp_path / "record.json"
    probe = _executable(tmp_path / "python", f"#!{sys.executable} -I\nimport json, os, sys\n"
                                             f"json.dump({{'argv': sys.argv[1:], 'env': dict(os.environ)}}, "
                                             f"open({str(record)!r}, 'w'))\n")
    text = WRAPPER.read_text()
    assert 'ENV_COMMAND="/bin/busybox env"' in text and "PYTHON=/opt/venv/bin/python" in text
    text = text.replace('ENV_COMMAND="/bin/busybox env"', "ENV_COMMAND=/usr/bin/env")
    text = text.replace("PYTHON=/opt/venv/bin/python", f"PYTHON={probe}")
    return _executable(tmp_path / "entrypoint.sh", text), record


def test_the_image_wrapper_hands_the_interpreter_only_allow_listed_variables(tmp_path):
    # Arrange: the payloads, loader variables, an endpoint redirect, and a setting whose value would run
    # a command if the wrapper evaluated values.
    attack, markers = _payloads(tmp_path)
    wrapper, record = _wrapper_copy(tmp_path)
    injected = tmp_path / "ran-value"
    job_env = {**attack, "LD_PRELOAD": "/nonexistent/preload.so", "LD_LIBRARY_PATH": str(tmp_path),
               "AWS_ENDPOINT_URL_SSM": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
               "RUN_ID": f"$(touch {injected}) `touch {injected}` 'r1\"", "SPOKE_ID": "hosp-a",
               "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc", "PATH": str(tmp_path)}

    # Act
    done = subprocess.run(["/bin/sh", str(wrapper)], env=job_env, capture_output=True, text=True, timeout=60)

    # Assert
    assert done.returncode == 0, done.stderr
    seen = json.loads(record.read_text())
    assert seen["argv"] == ["-I", "-m", "containers.trainer"]
    assert seen["env"]["RUN_ID"] == job_env["RUN_ID"] and not injected.exists()
    assert set(seen["env"]) == {"RUN_ID", "SPOKE_ID", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "PATH", "HOME",
                                "LANG", "LD_LIBRARY_PATH"}
    assert seen["env"]["PATH"] == "/opt/venv/bin:/usr/bin:/bin"  # the image's, not the job's
    assert seen["env"]["LD_LIBRARY_PATH"] == "/usr/local/nvidia/lib:/usr/local/nvidia/lib64"
    assert [m.name for m in markers if m.exists()] == []


def test_the_image_wrapper_refuses_a_command_override(tmp_path):
    # Arrange: Batch appends a job's command to the ENTRYPOINT as arguments.
    wrapper, record = _wrapper_copy(tmp_path)

    # Act
    done = subprocess.run(["/bin/sh", str(wrapper), "python", "-c", "print('hub code')"], env={"RUN_ID": "r1"},
                          capture_output=True, text=True, timeout=60)

    # Assert
    assert done.returncode == 2 and "takes no command" in done.stderr
    assert not record.exists()


def test_the_wrapper_passes_exactly_the_names_the_trainer_allow_lists():
    loop = re.search(r"for name in ([^;]*); do", WRAPPER.read_text()).group(1)

    assert tuple(loop.replace("\\\n", " ").split()) == PASSED_BY_WRAPPER


def test_the_image_runs_the_wrapper_under_static_busybox_and_installs_the_package():
    text = DOCKERFILE.read_text()
    entrypoint = re.search(r"^ENTRYPOINT (.*)$", text, flags=re.MULTILINE).group(1)

    assert json.loads(entrypoint) == ["/bin/busybox", "sh", "/usr/local/bin/fedcore-trainer"]
    assert "busybox-static" in text and "install -m 0555 containers/trainer/entrypoint.sh /usr/local/bin/" \
           "fedcore-trainer" in text
    assert "pip install --no-deps ." in text
    assert not re.search(r"^(ENV|ARG)\b.*\bPYTHON", text, flags=re.MULTILINE)  # nothing found through a path
    assert not re.search(r"^CMD\b", text, flags=re.MULTILINE)


def test_the_trainer_drops_variables_outside_the_allow_list_before_any_import(tmp_path):
    # Arrange: started directly (no wrapper, no sandbox), with a variable only a library would read.
    probe = ("import os, sys, runpy\n"
             "sys.argv = ['trainer']\n"
             "try:\n    runpy.run_module('containers.trainer', run_name='__main__')\n"
             "except SystemExit as exit:\n    print(sorted(os.environ), exit.code)\n")
    env = {**_base_environment(), "MPLBACKEND": "module://antigravity", "AWS_CA_BUNDLE": "/tmp/ca.pem",
           "RUN_ID": "r1"}

    # Act
    done = subprocess.run([sys.executable, "-I", "-c", probe], env=env, capture_output=True, text=True, timeout=120)

    # Assert
    names, code = done.stdout.strip().rsplit(" ", 1)
    assert code == "2"
    assert "MPLBACKEND" not in names and "AWS_CA_BUNDLE" not in names and "RUN_ID" in names
    assert "ignored 2 variable(s) outside the allow-list: AWS_CA_BUNDLE, MPLBACKEND" in done.stderr


@pytest.mark.parametrize("name", ["AWS_ENDPOINT_URL_SSM", "AWS_CONFIG_FILE", "AWS_PROFILE", "HTTPS_PROXY",
                                  "PYTHONPATH", "LD_PRELOAD", "SPOKE_EPSILON_LIMIT", "DP_DELTA", "BROWSER"])
def test_nothing_that_redirects_calls_or_carries_privacy_settings_is_allow_listed(name):
    assert name not in ALLOWED
