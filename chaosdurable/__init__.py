"""chaosdurable: property-based correctness and chaos testing for AWS Lambda durable functions."""

from chaosdurable.engine import (
    ChaosDurableError,
    DurableRunner,
    ExecutionResult,
    ExecutionStuckError,
    Knobs,
    NotDurableHandlerError,
    PayloadNotJsonError,
    UnknownCallbackError,
)

__all__ = [
    "ChaosDurableError",
    "DurableRunner",
    "ExecutionResult",
    "ExecutionStuckError",
    "Knobs",
    "NotDurableHandlerError",
    "PayloadNotJsonError",
    "UnknownCallbackError",
]
__version__ = "0.1.0"
