#!/usr/bin/env bash
# Instructions per routing decision, counted by callgrind: a figure that does not move with
# the load of the machine, unlike the p99 of `cargo bench --bench turn`. Cases: the
# 2,000-token ASCII prompt, a 2,000-token Russian prose prompt, the mean over the realistic
# prompts (assets/eval/realistic), and over those of them outside ASCII. Needs valgrind.
# Usage: scripts/decision_instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(cargo bench --bench decisions --no-run --message-format=json 2>/dev/null \
  | grep -o '"executable":"[^"]*decisions[^"]*"' | tail -1 | cut -d'"' -f4)
count() {
  PROMPT=$1 ITERS=$2 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" 2>&1 \
    | grep -o 'Collected : [0-9]*' | grep -o '[0-9]*'
}
per() { # $1 prompt set, $2 rounds: instructions per decision, rounds after the first
  local n one many
  n=$(PROMPT=$1 ITERS=1 "$bin" | cut -d' ' -f1) # decisions per round
  one=$(count "$1" 1)
  many=$(count "$1" $(( $2 + 1 )))
  echo "$(( (many - one) / ($2 * n) )) (mean of $n prompts)"
}
echo "instructions per routing decision:"
echo "  2,000-token ASCII prompt:        $(per ascii 1000)"
echo "  2,000-token Russian prompt:      $(per ru 1000)"
echo "  realistic prompts:               $(per realistic 2)"
echo "  realistic prompts outside ASCII: $(per realistic-other 2)"
