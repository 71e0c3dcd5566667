"""pyproject.toml is the one home of the pins, and each part that deploys separately installs its own extra:
every pin exact and written once, the trainer image free of sandbox, web, test and CDK packages, each
Dockerfile installing an extra, and every third-party import a part makes covered by the extra it installs.
No image is built here (no Docker engine): the Dockerfiles are read as text."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS: dict[str, list[str]] = PROJECT["optional-dependencies"]
PARTS = ("core", "trainer", "hub", "api", "sandbox", "cdk", "dev")
# Dockerfile -> the extras it installs
IMAGES = {"containers/trainer/Dockerfile": {"trainer"}, "containers/lambda/Dockerfile": {"hub", "api"}}
# (flwr itself requires fastapi, starlette and uvicorn for its own server, so the trainer has those.)
NOT_IN_THE_TRAINER = {"schemathesis", "flask", "sdmetrics", "matplotlib", "moto", "pytest", "aws-cdk-lib"}


def resolve(extra: str) -> dict[str, Requirement]:
    """The extra's requirements by distribution name, its references to other extras (`fedcore[x]`) expanded."""
    found = {}
    for text in EXTRAS[extra]:
        requirement = Requirement(text)
        if canonicalize_name(requirement.name) == PROJECT["name"]:
            for other in requirement.extras:
                found.update(resolve(other))
        else:
            found[canonicalize_name(requirement.name)] = requirement
    return found


def installed_closure(requirements: list[Requirement]) -> set[str]:
    """Distributions these requirements install, through the installed packages' own metadata."""
    names, seen, todo = set(), set(), list(requirements)
    while todo:
        requirement = todo.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        names.add(key[0])
        try:
            dependencies = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            pytest.fail(f"{requirement.name} is not installed: rebuild the venv (make .venv)")
        for text in dependencies:
            dependency = Requirement(text)
            if dependency.marker is None or any(dependency.marker.evaluate({"extra": extra})
                                                for extra in (*requirement.extras, "")):
                todo.append(dependency)
    return names


def test_every_part_that_deploys_separately_has_an_extra():
    assert set(EXTRAS) == set(PARTS)
    assert PROJECT["dependencies"] == []  # each part installs an extra; nothing is installed by default


def test_every_pin_is_exact_and_written_once():
    pinned = [canonicalize_name(Requirement(text).name) for extra in EXTRAS.values() for text in extra
              if not text.startswith(f"{PROJECT['name']}[")]
    for extra in EXTRAS:
        for requirement in resolve(extra).values():
            assert [spec.operator for spec in requirement.specifier] == ["=="], (extra, str(requirement))
    assert len(pinned) == len(set(pinned)), sorted(name for name in set(pinned) if pinned.count(name) > 1)


def test_references_between_extras_name_existing_extras():
    for extra, texts in EXTRAS.items():
        for text in texts:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == PROJECT["name"]:
                assert requirement.extras and requirement.extras <= set(EXTRAS) - {extra}, (extra, text)


def test_dev_covers_every_other_extra():
    dev = resolve("dev")

    for extra in set(PARTS) - {"dev"}:
        assert resolve(extra).items() <= dev.items(), extra


def test_the_trainer_extra_leaves_out_sandbox_web_test_and_cdk_packages():
    declared = set(resolve("trainer"))
    installed = installed_closure(list(resolve("trainer").values()))

    assert {"torch", "opacus", "boto3", "numpy"} <= declared
    assert not declared & NOT_IN_THE_TRAINER
    assert not installed & NOT_IN_THE_TRAINER  # nor does any of its dependencies pull one in


@pytest.mark.parametrize("dockerfile", sorted(IMAGES))
def test_each_image_installs_its_extras_and_filters_no_list(dockerfile):
    text = (ROOT / dockerfile).read_text()

    installed = re.findall(r"pip install '[^'\[]*\[([a-z,]+)\]'", text)
    assert installed and all(set(extras.split(",")) == IMAGES[dockerfile] for extras in installed)
    assert "grep -v" not in text and "requirements" not in text
    # torch comes first, from the wheel the image wants; the extra's pin then finds it installed
    assert text.index("pip install torch==2.13.0") < text.index("pip install '")


# Which code each extra must be enough for, as module-name prefixes. The family and task registries
# import every family and task by name (importlib), so they count wherever a step runs one.
FAMILIES = ("fedcore.families", "fedcore.tasks")
# the predictive tasks' central references, holdout scoring and reports: the CLI's (sandbox extra:
# lifelines, scikit-survival, fairlearn, matplotlib), never a deployed step's
PREDICTIVE_REPORTS = ("fedcore.tasks.predictive.scoring", "fedcore.tasks.predictive.central",
                      "fedcore.tasks.predictive.experiment", "fedcore.tasks.predictive.bench",
                      "fedcore.tasks.image.experiment", "fedcore.tasks.image.bench")
ABOVE_CORE = ("fedcore.cli", "fedcore.__main__",  # sandbox extra
              "fedcore.evaluation", "fedcore.experiment",  # the CLI's reports and benchmarks
              "fedcore.bench", "fedcore.bench_imports", "fedcore.bench_quality",
              "fedcore.model", "fedcore.training", "fedcore.synthesize",  # torch: trainer extra
              "fedcore.families.diffusion", "fedcore.families.hybrid",
              "fedcore.tasks.predictive", "fedcore.tasks.risk", "fedcore.tasks.survival",  # DP-SGD: torch
              "fedcore.tasks.image.network", "fedcore.tasks.image.task", "fedcore.tasks.image.experiment",
              "fedcore.tasks.image.bench",
              "fedcore.gpu_check",  # torchvision
              "fedcore.aws")  # boto3: trainer extra
CODE = {
    "core": (("fedcore",), ABOVE_CORE),
    "trainer": (("containers.trainer", *FAMILIES), PREDICTIVE_REPORTS),
    "hub": (("functions", *FAMILIES), ("functions.api", "functions.api_app", *PREDICTIVE_REPORTS)),
    "api": (("functions.api", *FAMILIES), PREDICTIVE_REPORTS),
    "sandbox": (("sandbox", "fedcore", "functions", "containers", "cdk"), ()),  # it synthesizes the CDK app
    "cdk": (("cdk",), ()),
    "dev": (("sandbox", "fedcore", "functions", "containers", "cdk", "tests"), ()),
}
# (importer, imported module or prefix) -> why the deployed parts' extras may leave it out: each is an
# import on a path that those parts never take (or take only with another extra).
_TORCH_CONFIGS = ("DiffusionConfig's and TrainConfig's defaults only: their packages load the torch code on "
                  "first use of its names (PEP 562), which this walk, reading every import statement, cannot see")
NOT_TAKEN = {
    ("fedcore.datasets", "lifelines"): "load_actg175 only (inside a function): the demo's data set, in lifelines",
    ("fedcore.run_config", "fedcore.model"): _TORCH_CONFIGS,
    ("fedcore.run_config", "fedcore.training"): _TORCH_CONFIGS,
}
DEPLOYED = {"core", "trainer", "hub", "api"}
FIRST_PARTY = ("fedcore", "functions", "containers", "cdk", "sandbox", "tests")
TEST_HELPERS = {path.stem for path in (ROOT / "tests").rglob("*.py")}


def _module_files() -> dict[str, Path]:
    files = {}
    for package in FIRST_PARTY:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


MODULES = _module_files()


def _imports(module: str) -> tuple[set[str], set[str]]:
    """First-party modules (with the packages each runs first) and third-party top-level names ``module`` imports."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: up from this module's package
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names += [base, *(f"{base}.{alias.name}" for alias in node.names)]
    internal, external = set(), set()
    for name in names:
        top = name.split(".")[0]
        if top in FIRST_PARTY:
            parts = name.split(".")
            internal |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & MODULES.keys()
        elif top not in sys.stdlib_module_names and top not in TEST_HELPERS and top != "__future__":
            external.add(top)
    return internal, external


def _under(module: str, prefixes) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def _reached_imports(starts: tuple[str, ...], excluded: tuple[str, ...], not_taken=()) -> dict[str, set[str]]:
    """Third-party name -> the first-party modules that import it, over everything ``starts`` reaches
    (apart from the ``not_taken`` imports)."""
    todo = [m for m in MODULES if _under(m, starts) and not _under(m, excluded)]
    seen, found = set(), {}
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        internal, external = _imports(module)
        skipped = [imported for importer, imported in not_taken if importer == module]
        todo += [m for m in internal if not _under(m, skipped)]
        for name in external - set(skipped):
            found.setdefault(name, set()).add(module)
    return found


def test_the_import_graph_sees_lazy_and_registry_imports():
    # the family registry's import_module targets and a function-level import are both found
    assert "torch" in _reached_imports(("containers.trainer", *FAMILIES), ())
    assert "lifelines" in _reached_imports(("functions.init_run",), ())
    assert "fedcore.families.marginal" in MODULES


@pytest.mark.parametrize("extra", PARTS)
def test_every_third_party_import_of_a_part_is_installed_by_its_extra(extra):
    starts, excluded = CODE[extra]
    installed = installed_closure(list(resolve(extra).values()))
    distributions = metadata.packages_distributions()

    # Act
    imported = _reached_imports(starts, excluded, NOT_TAKEN if extra in DEPLOYED else ())

    # Assert
    missing = {name: sorted(importers)[:3] for name, importers in imported.items()
               if not {canonicalize_name(d) for d in distributions.get(name, [])} & installed}

    assert missing == {}, f"the {extra!r} extra does not install what these modules import"
