"""The half of chaosdurable that runs against real deployments (issue 10).

- ``plugin``: faults inside the deployed function, loaded by the SDK's own plugin seam
  (``DURABLE_EXECUTION_PLUGINS=chaosdurable-faults``), no handler change;
- ``fire_once``: where each fault's fire-once marker lives (DynamoDB, or files in tests);
- ``safety``: the gate that keeps everything off AWS unless explicitly allowed, and ``redact``.
"""
