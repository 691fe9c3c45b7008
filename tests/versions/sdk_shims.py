"""A pytest plugin for the version job (``-p tests.versions.sdk_shims``): import locations only.

The shared test handlers (tests/zoo, tests/conformance/handlers) import a few names from the SDK's
package root that older SDKs export only from a submodule. This re-exports them there, and nothing
else: no SDK behaviour is changed. Each entry names the version that moved the name to the root.
"""

from __future__ import annotations

import importlib

import aws_durable_execution_sdk_python as sdk

#: name at the package root -> the module older versions keep it in
_MOVED = {
    "CallbackError": "aws_durable_execution_sdk_python.exceptions",  # root export from 2.0.0
}

for _name, _module in _MOVED.items():
    if not hasattr(sdk, _name):
        setattr(sdk, _name, getattr(importlib.import_module(_module), _name))

# The error a terminally failed step raises in the handler: 1.7 raises CallableRuntimeError
# (2.0.0 introduced StepError for it). An alias of the same role, not a new behaviour.
_exceptions = importlib.import_module("aws_durable_execution_sdk_python.exceptions")
if not hasattr(_exceptions, "StepError"):
    _exceptions.StepError = _exceptions.CallableRuntimeError  # type: ignore[attr-defined]
