#!/usr/bin/env bash
# Benchmarks with the project's own tools; writes BENCHMARKS.md.
#   scripts/bench.sh            (RUNS=20 by default; RUNS=50 scripts/bench.sh for more)
# Needs: cargo, curl, python3, /usr/bin/time. Everything runs against the built-in
# simulator on 127.0.0.1; nothing leaves the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-20}"
OUT=BENCHMARKS.md
TMP="$(mktemp -d)"
SIM_PIDS=()
cleanup() { for p in "${SIM_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT
for tool in cargo curl python3 /usr/bin/time; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench.sh: $tool is required" >&2; exit 1; }
done

echo "building (release)..." >&2
cargo build --release --locked -q
BIN=target/release/codeforge

start_sim() { # $1 = name, rest = simulate flags; prints the base URL
  "$BIN" simulate --port 0 "${@:2}" > "$TMP/$1.out" 2>&1 &
  SIM_PIDS+=($!)
  for _ in $(seq 1 100); do
    url=$(sed -n 's/^simulator listening on //p' "$TMP/$1.out")
    [ -n "$url" ] && { echo "$url"; return; }
    sleep 0.05
  done
  echo "bench.sh: simulator did not start" >&2; exit 1
}

echo "ask vs curl against the simulator (first token after 50 ms)..." >&2
URL=$(start_sim plain --ttft-ms 50 --tps 0)
BODY='{"model":"moonshotai/kimi-k2","stream":true,"usage":{"include":true},"max_tokens":256,"messages":[{"role":"user","content":"hello there"}]}'
for _ in $(seq 1 "$RUNS"); do
  curl -s -N -o /dev/null -w '%{time_total}\n' -H 'Authorization: Bearer k' \
    -H 'Content-Type: application/json' -d "$BODY" "$URL/chat/completions" >> "$TMP/curl.txt"
done
now_ns() { date +%s%N; }
for i in $(seq 1 "$RUNS"); do
  t0=$(now_ns)
  CODEFORGE_HOME="$TMP/home" OPENROUTER_BASE_URL="$URL" OPENROUTER_API_KEY=k \
    /usr/bin/time -f '%M' -o "$TMP/rss.$i" "$BIN" ask --json -m kimi-k2 "hello there" > "$TMP/ask.$i.json"
  echo $(( $(now_ns) - t0 )) >> "$TMP/ask-wall.txt"
done
for i in $(seq 1 "$RUNS"); do
  t0=$(now_ns)
  /usr/bin/time -f '%M' -o "$TMP/vrss.$i" "$BIN" --version > /dev/null
  echo $(( $(now_ns) - t0 )) >> "$TMP/ver-wall.txt"
done

if command -v tmux >/dev/null 2>&1; then
  echo "start-up to first frame in a real terminal (tmux)..." >&2
  for i in $(seq 1 "$RUNS"); do
    t0=$(now_ns)
    tmux new-session -d -s "cfbench$i" -x 120 -y 40 \
      "env -u OPENROUTER_API_KEY CODEFORGE_HOME=$TMP/tui$i $BIN --demo; sleep 5"
    until tmux capture-pane -p -t "cfbench$i" 2>/dev/null | grep -q "DEMO"; do sleep 0.002; done
    echo $(( $(now_ns) - t0 )) >> "$TMP/frame-wall.txt"
    # Idle memory of the running TUI, half a second after its first frame.
    sleep 0.5
    shell=$(tmux list-panes -t "cfbench$i" -F '#{pane_pid}' | head -1)
    pid=$(pgrep -P "$shell" | head -1 || true)
    [ -n "$pid" ] && awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" >> "$TMP/tui-rss.txt" || true
    tmux kill-session -t "cfbench$i" 2>/dev/null || true
  done
fi

echo "reroute after an injected 503 / refused connection..." >&2
URL503=$(start_sim f503 --ttft-ms 0 --tps 0 --fault kimi-k2=503)
URLREF=$(start_sim fref --ttft-ms 0 --tps 0 --fault kimi-k2=refuse)
for kind in 503:"$URL503" refuse:"$URLREF"; do
  name=${kind%%:*}; url=${kind#*:}
  for i in $(seq 1 "$RUNS"); do
    # A fresh ledger each time: the breaker and the learned averages start clean.
    CODEFORGE_HOME="$TMP/re-$name-$i" OPENROUTER_BASE_URL="$url" OPENROUTER_API_KEY=k \
      "$BIN" ask --json "write a rust function that adds two numbers" > "$TMP/re-$name.$i.json" 2>/dev/null
  done
done

echo "what users feel: ask first content vs curl (pipe and pty), ledgers of 100 / 10k / 100k requests..." >&2
# Three ledgers grown from one real exchange (scripts/ledger_fill.py).
SEED="$TMP/seed"
CODEFORGE_HOME="$SEED" OPENROUTER_BASE_URL="$URL" OPENROUTER_API_KEY=k \
  "$BIN" ask -m kimi-k2 "hello there" > /dev/null 2>&1
for n in 100 10000 100000; do
  cp -r "$SEED" "$TMP/ledger-$n"
  python3 scripts/ledger_fill.py "$TMP/ledger-$n/ledger.db" "$n" > /dev/null
done
LEDGERS=(--ledger "100=$TMP/ledger-100" --ledger "10k=$TMP/ledger-10000" --ledger "100k=$TMP/ledger-100000")
PEERS=()
if command -v aichat > /dev/null 2>&1; then PEERS=(--aichat "$(command -v aichat)"); fi
python3 scripts/ask_bench.py --sim "$BIN" --bin "codeforge=$BIN" "${LEDGERS[@]}" "${PEERS[@]}" \
  --rounds "$RUNS" > "$TMP/ask-pipe.json"
# No aichat on a pty: it asks the terminal for its colours (OSC 10/11) and exits when no
# terminal answers.
python3 scripts/ask_bench.py --sim "$BIN" --bin "codeforge=$BIN" --ledger "100=$TMP/ledger-100" \
  --rounds "$RUNS" --pty > "$TMP/ask-pty.json"
ls -l "$BIN" | awk '{print $5}' > "$TMP/binary-size.txt"

if command -v tmux >/dev/null 2>&1; then
  echo "the TUI in tmux: a 20k-token coding answer, 20k plain lines, a 200k-token flood, idle..." >&2
  AICHAT=()
  if command -v aichat > /dev/null 2>&1; then AICHAT=(--aichat "$(command -v aichat)"); fi
  python3 scripts/tui_bench.py --sim "$BIN" --bin "codeforge=$BIN" --kind code --tokens 20000 \
    --tps 2000 --rounds 3 --idle 3 "${AICHAT[@]}" | tail -1 > "$TMP/tui-code.json"
  # 20,000 lines as five answers of 4,000 (one of 20,000 lines, ~140k tokens, passes
  # kimi-k2's max_tokens on a default day and is cut), the peak RSS read after each.
  python3 scripts/tui_bench.py --sim "$BIN" --bin "codeforge=$BIN" --kind lines --tokens 4000 \
    --tps 4000 --rounds 1 --answers 5 > "$TMP/tui-lines.jsonl"
  tail -1 "$TMP/tui-lines.jsonl" > "$TMP/tui-lines.json"
  # Six coding answers of 10,000 tokens in one session: what each adds, beside its text.
  python3 scripts/tui_bench.py --sim "$BIN" --bin "codeforge=$BIN" --kind code --tokens 10000 \
    --tps 4000 --rounds 1 --answers 6 > "$TMP/tui-answers.jsonl"
  for n in 20000 200000; do
    python3 scripts/tui_bench.py --sim "$BIN" --bin "codeforge=$BIN" --kind flood --tokens "$n" \
      --tps 0 --rounds 3 | tail -1 > "$TMP/tui-flood-$n.json"
  done
fi

echo "divan benches (router, ledger, tui)..." >&2
for b in router ledger tui turn; do
  cargo bench --locked -q --bench "$b" > "$TMP/bench-$b.txt" 2>&1
done

python3 - "$TMP" "$RUNS" "$OUT" <<'PY'
import json, glob, os, platform, statistics, subprocess, sys
tmp, runs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def stats(xs):
    xs = sorted(xs)
    p99 = xs[min(len(xs) - 1, int(round(0.99 * (len(xs) - 1))))]
    return xs[0], statistics.median(xs), xs[-1], p99
def fmt(xs, unit, scale=1.0):
    lo, med, hi, p99 = stats([x * scale for x in xs])
    return f"{lo:.2f} / {med:.2f} / {hi:.2f} {unit} (p99 {p99:.2f})"
curl = [float(l) * 1000 for l in open(f"{tmp}/curl.txt")]
asks = [json.load(open(f)) for f in sorted(glob.glob(f"{tmp}/ask.*.json"))]
ask_wall = [int(l) / 1e6 for l in open(f"{tmp}/ask-wall.txt")]
ver_wall = [int(l) / 1e6 for l in open(f"{tmp}/ver-wall.txt")]
ask_rss = [int(open(f).read().split()[-1]) for f in glob.glob(f"{tmp}/rss.*")]
ver_rss = [int(open(f).read().split()[-1]) for f in glob.glob(f"{tmp}/vrss.*")]
ov = lambda k: [a["overhead_us"][k] / 1000 for a in asks]
lat = [a["latency_ms"] for a in asks]
re = {}
for name in ("503", "refuse"):
    rows = [json.load(open(f)) for f in glob.glob(f"{tmp}/re-{name}.*.json") if os.path.getsize(f) > 0]
    re[name] = [r["overhead_us"]["reroute_us"] / 1000 for r in rows if r["overhead_us"]["reroute_us"] > 0]
def user_felt(tmp):
    """The section measured on whole processes and a real terminal (ask_bench, tui_bench)."""
    out = ["## What users feel: whole processes, a real terminal", ""]
    size = int(open(f"{tmp}/binary-size.txt").read())
    out += [f"Release binary: {size / 1e6:.2f} MB (`target/release/codeforge`, stripped).", ""]
    for mode in ("pipe", "pty"):
        d = json.load(open(f"{tmp}/ask-{mode}.json"))
        out += [f"`ask` with its stdout on a {mode}: from starting the process to the answer's first "
                f"byte, and to its exit; medians of {d['rounds']} interleaved rounds against one "
                "simulator (first token after 50 ms). curl is the floor (its first SSE event with "
                "content); peak RSS from `/usr/bin/time` in separate runs (scripts/ask_bench.py):", "",
                "| process | first content | × curl | exit | peak RSS |", "|---|---|---|---|---|"]
        for r in d["rows"]:
            rss = f"{r['peak_rss_kib'] / 1024:.1f} MiB" if r["peak_rss_kib"] else "-"
            out.append(f"| {r['what']} | {r['first_content_ms']:.1f} ms | {r['first_content_vs_curl']:.3f} "
                       f"| {r['exit_ms']:.1f} ms | {rss} |")
        out.append("")
    if os.path.exists(f"{tmp}/tui-code.json"):
        out += ["The TUI, the release binary in tmux (120×40) streaming from the simulator; CPU is the "
                "process's utime+stime from Enter to the answer's end on screen, first words is Enter → "
                "the answer's first words in `capture-pane` (50 ms of it is the simulator's first-token "
                "delay), medians of 3 runs (scripts/tui_bench.py):", "",
                "| answer | CPU per 1k tokens | first words | peak RSS |", "|---|---|---|---|"]
        for name, title in [("code", "20,000-token coding answer (markdown, Rust/Python/shell blocks) at 2,000 tokens/s"),
                            ("lines", "4,000 plain lines at 4,000 lines/s (the first of five answers)"),
                            ("flood-20000", "20,000-word flood, no newline, unthrottled"),
                            ("flood-200000", "200,000-word flood, no newline, unthrottled (the client stops it at max_tokens + slack)")]:
            f = f"{tmp}/tui-{name}.json"
            if not os.path.exists(f):
                continue
            summary = json.load(open(f))["summary"]
            m = summary["codeforge"]
            out.append(f"| {title} | {m['cpu_ms_per_1k_tokens']:.1f} ms | {m['first_words_ms']:.0f} ms "
                       f"| {m['peak_rss_kib'] / 1024:.1f} MiB |")
            if "aichat" in summary:
                p = summary["aichat"]
                out.append(f"| same answer, aichat one-shot on the same pty (its whole process) "
                           f"| {p['cpu_ms_per_1k_tokens']:.1f} ms | | {p['peak_rss_kib'] / 1024:.1f} MiB |")
        if os.path.exists(f"{tmp}/tui-lines.jsonl"):
            each = json.loads(open(f"{tmp}/tui-lines.jsonl").readline()).get("peak_rss_after_each_answer_kib", [])
            out += ["", "Five answers of 4,000 plain lines in one session (20,000 lines in the transcript): "
                    "peak RSS after each " + " → ".join(f"{k / 1024:.1f}" for k in each) + " MiB."]
        if os.path.exists(f"{tmp}/tui-answers.jsonl"):
            rows = [json.loads(l) for l in open(f"{tmp}/tui-answers.jsonl")]
            each = rows[0].get("rss_after_each_answer_kib", [])
            text = rows[-1].get("answer_text_bytes")
            if len(each) > 1 and text:
                per = (each[-1] - each[0]) / (len(each) - 1)
                out += ["", "Six 10,000-token coding answers in one session: RSS after each "
                        + " → ".join(f"{k / 1024:.1f}" for k in each)
                        + f" MiB, {per:.0f} KiB per answer; each answer's text is "
                        f"{text / 1024:.0f} KiB (the conversation the next request sends)."]
        idle = json.load(open(f"{tmp}/tui-code.json"))["summary"]["codeforge"].get("idle_cpu_ms_per_s")
        out += ["", f"Idle TUI after the answer (3 s): {idle:.2f} ms of CPU per second.", ""]
    return out
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
lines = [
    "# CodeForge benchmarks",
    "",
    "Written by `scripts/bench.sh` (RUNS=%d). Figures are min / median / max over the runs;" % runs,
    "the divan tables give fastest / slowest / median / mean per benchmark.",
    "",
    f"Machine: {os.cpu_count()} cores, {cpu}, {platform.machine()}, {rustc}. Shared machine: treat",
    "±25 % between runs as noise and compare ratios measured in the same run.",
    "",
    *user_felt(tmp),
    "## In-process: what the turn adds, from `ask --json`'s own timings",
    "",
    "Against `codeforge simulate --ttft-ms 50 --tps 0` on loopback (kimi-k2, short answer). These",
    "rows time parts of one process from inside it; the whole processes are in the section above:",
    "",
    "| what | min / median / max |",
    "|---|---|",
    f"| curl, full streamed response | {fmt(curl, 'ms')} |",
    f"| `codeforge ask --json`, request sent → stream done (its own `latency_ms`) | {fmt(lat, 'ms')} |",
    f"| **added before the request is sent** (`overhead_us.pre_send_us`: budget read, routing, reservation) | {fmt(ov('pre_send_us'), 'ms')} |",
    f"| of which routing | {fmt(ov('route_us'), 'ms')} |",
    f"| of which the reservation (IMMEDIATE transaction) | {fmt(ov('reserve_us'), 'ms')} |",
    f"| settle + record, after the last token | {fmt(ov('settle_us'), 'ms')} |",
    f"| `codeforge ask` process, wall clock (start, ledger open, recovery, turn, exit) | {fmt(ask_wall, 'ms')} |",
    f"| `codeforge --version` process, wall clock (start-up baseline) | {fmt(ver_wall, 'ms')} |",
    *([f"| `codeforge --demo` in tmux: launch → first frame on screen (includes tmux's own start, polled every 2 ms) | {fmt([int(l) / 1e6 for l in open(f'{tmp}/frame-wall.txt')], 'ms')} |"] if os.path.exists(f"{tmp}/frame-wall.txt") else []),
    "",
    "The goal is under 1 ms added before the request is sent. Each `ask` above is a fresh",
    "process (cold ledger and blocking pool); inside a running session (the TUI) the same",
    "path is measured by `cargo bench --bench turn`:",
    "",
    "```",
    *[l for l in open(f"{tmp}/bench-turn.txt").read().splitlines() if " · p50 " in l and "routing decision," not in l],
    "```",
    "",
    "Ratios measured in this run: `ask`'s own request-to-done time is "
    f"{statistics.median(lat) / statistics.median(curl):.3f}× curl's; a whole `ask` process is "
    f"{statistics.median(ask_wall) / statistics.median(ver_wall):.1f}× a `--version` process.",
    "",
    "## Reroute after an injected failure",
    "",
    "From the failure being observed to the fallback request being sent (`overhead_us.reroute_us`;",
    "it includes settling the failed request and reserving for the next model):",
    "",
    "| failure | min / median / max |",
    "|---|---|",
    f"| 503 before the first token | {fmt(re['503'], 'ms') if re['503'] else 'not measured'} |",
    f"| connection closed without a response | {fmt(re['refuse'], 'ms') if re['refuse'] else 'not measured'} |",
    "",
    "## Memory of short processes",
    "",
    "| process | peak RSS min / median / max |",
    "|---|---|",
    f"| `codeforge ask` (one turn) | {fmt(ask_rss, 'MiB', 1/1024)} |",
    f"| `codeforge --version` | {fmt(ver_rss, 'MiB', 1/1024)} |",
    *([f"| the TUI, idle after its first frame (`codeforge --demo` in tmux) | {fmt([int(l) for l in open(f'{tmp}/tui-rss.txt')], 'MiB', 1/1024)} |"] if os.path.exists(f"{tmp}/tui-rss.txt") else []),
    "",
    *[f"- in-process bench, not the TUI: {l.strip()}" for l in open(f"{tmp}/bench-tui.txt").read().splitlines() if l.startswith("peak RSS")],
    *[f"- in-process bench, not the TUI: {l.strip()}" for l in open(f"{tmp}/bench-turn.txt").read().splitlines() if l.startswith("peak RSS")],
    "",
]
# Decisions per second on both cores, from divan's 2-thread medians.
import re
dps = []
cur = None
for l in open(f"{tmp}/bench-router.txt").read().splitlines():
    m = re.search(r"[├╰]─ (\d+)\s", l)
    if m and "t=" not in l:
        cur = m.group(1)
    m2 = re.search(r"t=2\s+[\d.]+ [µm]s\s+│\s+[\d.]+ [µm]s\s+│\s+([\d.]+) ([µm])s", l)
    if m2 and cur:
        v = float(m2.group(1)) * (1e-6 if m2.group(2) == "µ" else 1e-3)
        dps.append((cur, 2 / v))
lines += ["Routing decision percentiles (`cargo bench --bench turn`, 2,000 samples each):", "", "```",
          *[l for l in open(f"{tmp}/bench-turn.txt").read().splitlines() if l.startswith("routing decision,")],
          "```", ""]
if dps:
    lines += ["Routing decisions per second on both cores (2 threads sharing the catalog, divan medians): "
              + ", ".join(f"{int(d):,} at {t} tokens" for t, d in dps) + ".", ""]
for b in ("router", "ledger", "tui"):
    text = open(f"{tmp}/bench-{b}.txt").read()
    table = [l for l in text.splitlines() if "│" in l or l.startswith(("router", "ledger", "tui", "╰", "├"))]
    note = {"tui": "In-process, ratatui's TestBackend: no network, parsing, wake-ups or terminal output (the real process is measured above)."}.get(b, "In-process (divan).")
    lines += [f"## `cargo bench --bench {b}`", "", note, "", "```", *table, "```", ""]
open(out, "w").write("\n".join(lines))
print(f"wrote {out}")
PY
