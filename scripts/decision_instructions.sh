#!/usr/bin/env bash
# Instructions per routing decision (2,000-token prompt), counted by callgrind: a figure
# that does not move with the load of the machine, unlike the p99 of `cargo bench --bench
# turn`. Needs valgrind. Usage: scripts/decision_instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(cargo bench --bench decisions --no-run --message-format=json 2>/dev/null \
  | grep -o '"executable":"[^"]*decisions[^"]*"' | tail -1 | cut -d'"' -f4)
count() {
  ITERS=$1 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" 2>&1 \
    | grep -o 'Collected : [0-9]*' | grep -o '[0-9]*'
}
one=$(count 1)
many=$(count 1001)
echo "instructions per routing decision (2,000-token prompt): $(( (many - one) / 1000 ))"
