"""The backend registry: one module per backend, listed here explicitly."""

from __future__ import annotations

from ..errors import SelectionError
from .airflow import AirflowBackend
from .base import Backend, ExportOptions, Rendered
from .ir_json import JsonBackend
from .mermaid import MermaidBackend
from .slurm import SlurmBackend
from .snakemake import SnakemakeBackend

REGISTRY: dict[str, Backend] = {
    backend.name: backend
    for backend in (
        AirflowBackend(),
        JsonBackend(),
        MermaidBackend(),
        SlurmBackend(),
        SnakemakeBackend(),
    )
}


def get_backend(name: str) -> Backend:
    try:
        return REGISTRY[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, REGISTRY, n=1)
        raise SelectionError(
            f"unknown backend '{name}' (available: {', '.join(sorted(REGISTRY))})",
            hint=f"did you mean '{close[0]}'?" if close else None,
        ) from None


__all__ = ["REGISTRY", "Backend", "ExportOptions", "Rendered", "get_backend"]
