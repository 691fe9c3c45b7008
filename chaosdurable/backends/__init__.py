"""Backends behind one seam (``base.Backend``): ``inprocess`` and ``subprocess`` run the engine
(``engine.InProcess``, ``engine.Subprocess``); ``aws`` drives a deployed durable function through
boto3 (``aws.Aws``, imported on demand).
"""

from __future__ import annotations

import importlib
from typing import Any

from chaosdurable.backends.base import Backend, Driver, Guards, Limits, UnsupportedFault, Workload
from chaosdurable.backends.engine import InProcess, Subprocess

#: ``--backend`` names and where each backend lives (``module:class``)
BACKENDS = {
    "inprocess": "chaosdurable.backends.engine:InProcess",
    "subprocess": "chaosdurable.backends.engine:Subprocess",
    "aws": "chaosdurable.backends.aws:Aws",
}


def from_name(name: str, **options: Any) -> Backend:
    """The backend called ``name`` built with ``options``; a ValueError names the known ones."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    module, _, attribute = BACKENDS[name].partition(":")
    try:
        cls = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"the {name!r} backend is not available in this installation ({exc})") from None
    backend: Backend = cls(**options)
    return backend


def from_spec(spec: dict[str, Any] | str | None) -> Backend:
    """Rebuild a backend from ``Backend.spec()`` (or a bare name; None is ``inprocess``)."""
    if spec is None:
        return InProcess()
    if isinstance(spec, str):
        return from_name(spec)
    options = {k: v for k, v in spec.items() if k != "name"}
    return from_name(str(spec.get("name", "inprocess")), **options)


__all__ = ["BACKENDS", "Backend", "Driver", "Guards", "InProcess", "Limits", "Subprocess", "UnsupportedFault",
           "Workload", "from_name", "from_spec"]
