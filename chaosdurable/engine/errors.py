"""Errors the engine raises at its users. Each message names the problem and the fix."""

from __future__ import annotations

from typing import Any


class ChaosDurableError(Exception):
    """Base class for every error chaosdurable raises at its user."""


class NotDurableHandlerError(ChaosDurableError, TypeError):
    """The handler is not wrapped by ``@durable_execution``."""


class PayloadNotJsonError(ChaosDurableError, ValueError):
    """An input or a result cannot be encoded as JSON."""


class UnknownInvokeTargetError(ChaosDurableError, LookupError):
    """``context.invoke`` named a function that was never registered."""


class UnknownCallbackError(ChaosDurableError, LookupError):
    """A callback id that does not exist, or whose callback already completed."""


class ExecutionNameConflictError(ChaosDurableError):
    """The same execution name was started again with a different input."""


class UnknownExecutionError(ChaosDurableError, LookupError):
    """No execution has this ARN."""


class ColdStartUnavailable(ChaosDurableError):
    """A ``ColdStart`` cannot be emulated in-process for this handler (its module cannot be re-run)."""


class ExecutionStuckError(ChaosDurableError):
    """The execution cannot make progress, or exceeded the run budget.

    ``result`` holds the execution as it stood when the engine gave up, so nothing is lost.
    """

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result
