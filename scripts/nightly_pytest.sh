#!/usr/bin/env bash
# The nightly chaos command, shared by .github/workflows/nightly.yml and scripts/rehearse_nightly.py
# (so the rehearsal runs exactly what the workflow runs). Extra arguments name the deployment:
#   --chaos-aws-function ARN --chaos-aws-allowlist FILE [--chaos-aws-endpoint URL --chaos-aws-allow-endpoint]
# Environment: CHAOS_NIGHTLY_SUITE (default tests/nightly), CHAOS_ARTIFACTS (default artifacts), and the
# CHAOSDURABLE_* variables of docs/aws.md.
set -euo pipefail
artifacts="${CHAOS_ARTIFACTS:-artifacts}"
mkdir -p "$artifacts"
exec python -m pytest "${CHAOS_NIGHTLY_SUITE:-tests/nightly}" -p tests.aws.nightly_profile -p no:cacheprovider \
  -n 2 -q --chaos-profile nightly --chaos-backend aws \
  --junitxml="$artifacts/junit.xml" --chaos-report "$artifacts/report" "$@"
