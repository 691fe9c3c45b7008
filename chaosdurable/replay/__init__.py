"""Replay recorded histories against new handler code (issue 12).

Before a deploy, check that in-flight executions -- recorded as ``GetDurableExecutionHistory``
histories -- still replay under the new code: same operations (type, subtype, name, parent,
order), same recorded arguments (wait durations, callback timeouts, invoke targets and
payloads, map/parallel sizes) and, for ended executions, the same result or error.

Public API:
- ``replay_history(history, handler)`` -> ``ReplayReport`` (``.ok``, ``.divergence``, ``.report()``);
- ``parametrize_histories(folder)`` -> a pytest parametrize mark, one test per saved history;
- ``corpus.save(verdict_or_result, folder)`` -> writes replayable history files.

Modules, one job each: ``load`` (reading and paging), ``aws`` (reading an ARN behind the AWS
gate), ``rebuild`` (events -> operation state), ``observe`` (watching the handler, stopping it
at the frontier), ``session`` (one side-effect-free invocation on the engine), ``compare``
(the first divergence), ``report`` (result values), ``api``, ``corpus``, ``command`` (the CLI).
"""

from chaosdurable.replay.api import replay_history, resolve_handler
from chaosdurable.replay.compare import Divergence
from chaosdurable.replay.corpus import parametrize_histories, save
from chaosdurable.replay.load import HistoryError, NoExecutionDataError, RecordedHistory, load_histories
from chaosdurable.replay.report import HistoryReplay, ReplayReport

__all__ = ["Divergence", "HistoryError", "HistoryReplay", "NoExecutionDataError", "RecordedHistory",
           "ReplayReport", "load_histories", "parametrize_histories", "replay_history", "resolve_handler", "save"]
