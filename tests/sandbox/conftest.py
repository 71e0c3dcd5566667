"""One sandbox per test module (fixtures); the helpers live in sandbox_helpers.py."""

from __future__ import annotations

import pytest

from sandbox_helpers import partitions


@pytest.fixture(scope="module")
def module_sandbox(tmp_path_factory):
    from sandbox import Sandbox

    with Sandbox(spokes=3, workdir=tmp_path_factory.mktemp("sandbox")) as sandbox:
        for spoke, data in partitions(sandbox.spoke_ids).items():
            sandbox.upload_table(spoke, data)
        yield sandbox


@pytest.fixture
def sandbox(module_sandbox):
    """The module's sandbox, with any fault hooks a test added removed afterwards."""
    yield module_sandbox
    module_sandbox.clear_hooks()

