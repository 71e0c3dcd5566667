"""Building the model and moving its weights across the torch boundary as named numpy arrays."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from fedcore.model.config import DiffusionConfig
from fedcore.model.denoiser import Denoiser, initialize_denoiser
from fedcore.model.diffusion import TabularDiffusion
from fedcore.preprocessing.encoded import TabularLayout

_WRAPPER_PREFIXES = ("_module.", "module.")  # Opacus GradSampleModule, DDP / DPDDP


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"``: CUDA when present, else CPU; anything else is passed to ``torch.device``."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def build_model(
    layout: TabularLayout, config: DiffusionConfig, seed: int | None = 0, generator: torch.Generator | None = None
) -> TabularDiffusion:
    """A freshly initialised model on CPU, identical for identical (layout, config, seed).

    Parameters are allocated on the meta device and filled from ``generator`` (or a generator
    seeded with ``seed``), so the global torch RNG is neither used nor advanced.
    """
    if generator is None:
        if seed is None:
            raise ValueError("build_model needs a seed or a generator")
        generator = torch.Generator().manual_seed(int(seed))
    with torch.device("meta"):
        denoiser = Denoiser(layout, config)
    denoiser = denoiser.to_empty(device="cpu")
    initialize_denoiser(denoiser, generator)
    return TabularDiffusion(layout, config, denoiser)


def initial_weights(layout: TabularLayout, config: DiffusionConfig, seed: int) -> dict[str, np.ndarray]:
    """The round-0 global model as named float32 arrays."""
    return get_weights(build_model(layout, config, seed=seed))


def _module_of(model: TabularDiffusion | nn.Module) -> nn.Module:
    return model.denoiser if isinstance(model, TabularDiffusion) else model


def _strip(name: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in _WRAPPER_PREFIXES:
            if name.startswith(prefix):
                name, changed = name[len(prefix) :], True
    return name


def get_weights(model: TabularDiffusion | nn.Module) -> dict[str, np.ndarray]:
    """Float32 numpy copies of the denoiser's state dict, names without wrapper prefixes."""
    state = _module_of(model).state_dict()
    return {_strip(name): t.detach().to("cpu", torch.float32).numpy().copy() for name, t in state.items()}


def set_weights(model: TabularDiffusion | nn.Module, weights: dict[str, np.ndarray]) -> None:
    """Load ``weights`` into the model in place; names and shapes must match exactly."""
    module = _module_of(model)
    state = module.state_dict()
    by_plain = {_strip(name): name for name in state}
    missing = sorted(set(by_plain) - set(weights))
    unexpected = sorted(set(weights) - set(by_plain))
    if missing or unexpected:
        raise ValueError(f"weight names do not match the model: missing {missing}, unexpected {unexpected}")
    wrong = [
        f"{name}: got {tuple(np.shape(weights[name]))}, model has {tuple(state[full].shape)}"
        for name, full in by_plain.items()
        if tuple(np.shape(weights[name])) != tuple(state[full].shape)
    ]
    if wrong:
        raise ValueError("weight shapes do not match the model: " + "; ".join(wrong))
    new_state = {
        full: torch.as_tensor(np.array(weights[name], dtype=np.float32, copy=True)).to(
            device=state[full].device, dtype=state[full].dtype
        )
        for name, full in by_plain.items()
    }
    module.load_state_dict(new_state, strict=True)
