#!/usr/bin/env bash
# The fuzz targets of the reliability matrix, with a large budget (CI runs 256 cases each):
# the SSE parser, the Markdown renderer and the config loader, as proptest properties.
#   CASES=20000 scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CASES="${CASES:-20000}"
PROPTEST_CASES="$CASES" cargo test --release --locked --test fuzz_props -- --nocapture
