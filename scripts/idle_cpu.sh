#!/usr/bin/env bash
# CPU time an idle TUI uses in 10 s (demo mode, in tmux), read from /proc/PID/stat.
# Usage: scripts/idle_cpu.sh [BINARY]   (default: target/release/codeforge)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/release/codeforge}")
home=$(mktemp -d)
tmux kill-session -t cf-idle 2>/dev/null || true
tmux new-session -d -s cf-idle -x 120 -y 40 "CODEFORGE_HOME=$home $bin --demo"
sleep 3
pid=$(pgrep -f "^$bin --demo" | head -1)
read -r a b < <(awk '{print $14, $15}' "/proc/$pid/stat")
sleep 10
read -r c d < <(awk '{print $14, $15}' "/proc/$pid/stat")
tmux kill-session -t cf-idle
echo "idle TUI: $(( (c + d - a - b) * 1000 / $(getconf CLK_TCK) )) ms of CPU in 10 s"
