#!/usr/bin/env python3
"""The TUI measured as a user runs it: the real binary in a real terminal (tmux), streaming
from the project's simulator on loopback.

For each binary given (so two builds, or codeforge and a peer, are measured in one run, in
interleaved rounds), one round is:
  1. start the TUI in a fresh tmux session (120x40) with its own CODEFORGE_HOME;
  2. type a prompt; the simulator answers every model with a markdown answer of TOKENS
     tokens (prose, lists, tables, fenced Rust/Python/shell: `--fault MODEL=code:TOKENS`), or
     with --kind lines TOKENS plain lines (`lines:N`), at TPS tokens per second after a 50 ms
     first-token delay;
  3. (before that, type four keys one at a time and time each from send-keys until
     capture-pane shows it: keypress to screen, tmux's redraw and a 1 ms poll included);
     read the process's CPU time (/proc/PID/stat utime+stime) just before Enter and when the
     answer's end is on screen; its peak RSS (VmHWM) then; the time from Enter to the
     answer's first words on screen (capture-pane polled every 2 ms: includes tmux's own
     redraw and the poll interval);
  4. with --answers K, ask K-1 more times in the same session, reading the peak RSS after
     each answer (memory flat across answers, or growing);
  5. start a new conversation (Ctrl-N) and read the resident size then;
  6. optionally idle for IDLE seconds and read the CPU the idle TUI used.

Prints one JSON object per round, then a summary (medians) as JSON on the last line.
Usage:
  scripts/tui_bench.py --sim BIN --bin NAME=BIN [--bin NAME=BIN ...] [--tokens N] [--tps N]
                       [--rounds N] [--idle SECS]
Needs tmux and python3; nothing leaves the machine.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import aichat_peer

MODELS = ["kimi-k2", "claude-sonnet-4", "gemini-2.5-flash", "o3", "grok-4"]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ms(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 (1-based); fields[0] here is field 3.
    return (int(fields[11]) + int(fields[12])) * 1000.0 / CLK_TCK


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def capture(session):
    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session],
        capture_output=True, text=True, check=False,
    ).stdout


# What the simulator answers (--kind) and the answer's first words on screen.
KINDS = {"code": r"Step 1|storage layer", "lines": r"Line \d+ of a long answer",
         "flood": r"flood flood"}


def start_sim(sim_bin, kind, tokens, tps, tmp):
    args = [sim_bin, "simulate", "--port", "0", "--ttft-ms", "50", "--tps", str(tps)]
    for m in MODELS:
        args += ["--fault", f"{m}={kind}:{tokens}"]
    out = open(os.path.join(tmp, "sim.out"), "w")
    proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    for _ in range(200):
        with open(os.path.join(tmp, "sim.out")) as f:
            m = re.search(r"simulator listening on (\S+)", f.read())
        if m:
            return proc, m.group(1)
        time.sleep(0.05)
    proc.kill()
    sys.exit("tui_bench: the simulator did not start")


def answer_bytes(url):
    """The bytes of text in one answer of the simulator at `url` (what each answer adds to
    the conversation), read from its SSE stream."""
    body = json.dumps({"model": "moonshotai/kimi-k2", "stream": True,
                       "messages": [{"role": "user", "content": "one answer"}]}).encode()
    req = urllib.request.Request(f"{url}/chat/completions", data=body, headers={
        "content-type": "application/json", "authorization": "Bearer k"})
    total = 0
    with urllib.request.urlopen(req, timeout=120) as r:
        for line in r:
            line = line.decode().strip()
            if not line.startswith("data: {"):
                continue
            for choice in json.loads(line[6:]).get("choices", []):
                total += len(((choice.get("delta") or {}).get("content") or "").encode())
    return total


def wait_for(session, pattern, timeout, poll=0.002):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, capture(session)):
            return time.monotonic()
        time.sleep(poll)
    return None


def one_round(name, binary, url, kind, tokens, idle, tmp, n, answers=1):
    session = f"cftui{os.getpid()}{n}"
    home = tempfile.mkdtemp(dir=tmp)
    env = (
        f"env -u NO_COLOR CODEFORGE_HOME={home} OPENROUTER_BASE_URL={url} "
        f"OPENROUTER_API_KEY=k TERM=xterm-256color"
    )
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40",
         f"exec {env} {binary}"],
        check=True,
    )
    try:
        pid = int(subprocess.run(
            ["tmux", "list-panes", "-t", session, "-F", "#{pane_pid}"],
            capture_output=True, text=True, check=True,
        ).stdout.split()[0])
        if wait_for(session, r"Ask anything|Enter sends|>", 10, 0.01) is None:
            raise RuntimeError(f"{name}: no first frame")
        time.sleep(0.3)
        # Keypress to screen: one key into the input box, until capture-pane shows it
        # (includes tmux's redraw and the 1 ms poll), then erased again.
        key_ms = []
        for ch in "xqzj":
            t0 = time.monotonic()
            subprocess.run(["tmux", "send-keys", "-t", session, "-l", ch], check=True)
            seen = wait_for(session, r"(?m)^│" + "xqzj"[:len(key_ms) + 1] + " ", 5, 0.001)
            if seen is None:
                raise RuntimeError(f"{name}: a typed key never showed")
            key_ms.append((seen - t0) * 1000.0)
        for _ in range(4):
            subprocess.run(["tmux", "send-keys", "-t", session, "BSpace"], check=True)
        time.sleep(0.2)
        subprocess.run(["tmux", "send-keys", "-t", session, "-l", "write a long rust module"],
                       check=True)
        time.sleep(0.2)
        before = cpu_ms(pid)
        sent = time.monotonic()
        subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)
        first = wait_for(session, KINDS[kind], 30)
        # The answer's end: the status bar's hints go back from "… cancel" to "… help · … model".
        done = wait_for(session, r"help · \S+ model", 600, 0.01)
        if first is None or done is None:
            raise RuntimeError(f"{name}: the answer did not finish on screen")
        time.sleep(0.2)  # the last frame
        used = cpu_ms(pid) - before
        row = {
            "name": name,
            "tokens": tokens,
            "cpu_ms": round(used, 1),
            "cpu_ms_per_1k_tokens": round(used * 1000.0 / tokens, 1),
            "first_words_ms": round((first - sent) * 1000.0, 1),
            "stream_wall_s": round(done - sent, 2),
            "peak_rss_kib": status_kib(pid, "VmHWM"),
            "keypress_to_screen_ms": round(statistics.median(key_ms), 1),
        }
        # More answers in the same session: the peak RSS after each (flat, or growing?).
        # The resident size after each too: the high-water mark keeps an answer's passing
        # peak, what stays resident is what the session holds.
        after_each = [row["peak_rss_kib"]]
        rss_each = [status_kib(pid, "VmRSS")]
        for k in range(1, answers):
            subprocess.run(["tmux", "send-keys", "-t", session, "-l", f"and again, part {k + 1}"],
                           check=True)
            subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)
            if wait_for(session, r"cancel ·", 30, 0.005) is None and \
                    wait_for(session, r"help · \S+ model", 1, 0.01) is None:
                raise RuntimeError(f"{name}: answer {k + 1} did not start")
            if wait_for(session, r"help · \S+ model", 600, 0.01) is None:
                raise RuntimeError(f"{name}: answer {k + 1} did not finish")
            # Half a second on: what the session holds once the turn has settled.
            time.sleep(0.5)
            after_each.append(status_kib(pid, "VmHWM"))
            rss_each.append(status_kib(pid, "VmRSS"))
        if answers > 1:
            row["peak_rss_after_each_answer_kib"] = after_each
            row["rss_after_each_answer_kib"] = rss_each
        # A new conversation (Ctrl-N) drops the transcript: what is resident then.
        subprocess.run(["tmux", "send-keys", "-t", session, "C-n"], check=True)
        time.sleep(0.5)
        row["rss_after_new_conversation_kib"] = status_kib(pid, "VmRSS")
        if idle > 0:
            c0 = cpu_ms(pid)
            time.sleep(idle)
            row["idle_cpu_ms_per_s"] = round((cpu_ms(pid) - c0) / idle, 2)
        return row
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False,
                       capture_output=True)


def aichat_round(aichat, url, kind, tokens, tmp, n):
    """aichat (the Rust peer) renders the same answer in the same terminal: one-shot, its
    markdown highlighted on a pty in tmux (it has no full-screen chat to drive). CPU and
    peak RSS of its whole process, from /usr/bin/time; its start is a few ms of it."""
    conf = aichat_peer.config_dir(tmp, url, f"aichat{n}")
    out = os.path.join(conf, "time.txt")
    session = f"cfaichat{os.getpid()}{n}"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40",
         f"env AICHAT_CONFIG_DIR={conf} TERM=xterm-256color /usr/bin/time -f '%U %S %M' "
         f"-o {out} {aichat} 'write a long rust module'; sleep 5"],
        check=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (os.path.exists(out) and os.path.getsize(out)):
            time.sleep(0.1)
        user, system, rss = open(out).read().split()[-3:]
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    cpu = (float(user) + float(system)) * 1000.0
    return {"name": "aichat", "tokens": tokens, "cpu_ms": cpu,
            "cpu_ms_per_1k_tokens": cpu / (tokens / 1000.0), "peak_rss_kib": int(rss)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim", required=True)
    ap.add_argument("--bin", action="append", required=True, help="NAME=PATH")
    ap.add_argument("--tokens", type=int, default=20000,
                    help="tokens of the code answer, or lines of the lines answer")
    ap.add_argument("--kind", choices=sorted(KINDS), default="code",
                    help="code: markdown with fenced code (code:N); lines: N plain lines; "
                    "flood: N words with no newline (flood:N)")
    ap.add_argument("--tps", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--idle", type=float, default=0)
    ap.add_argument("--answers", type=int, default=1,
                    help="answers in one session (the peak RSS after each is reported)")
    ap.add_argument("--aichat", help="also aichat's one-shot rendering of the same answer "
                    "(code and lines kinds; the simulator answers kimi-k2 for it)")
    a = ap.parse_args()
    if not shutil.which("tmux"):
        sys.exit("tui_bench: tmux is required")
    bins = [b.split("=", 1) for b in a.bin]
    tmp = tempfile.mkdtemp(prefix="cftui")
    sim, url = start_sim(a.sim, a.kind, a.tokens, a.tps, tmp)
    rows = []
    try:
        for n in range(a.rounds):
            for name, path in bins:
                row = one_round(name, os.path.abspath(path), url, a.kind, a.tokens, a.idle,
                                tmp, f"{n}{len(rows)}", a.answers)
                print(json.dumps(row), flush=True)
                rows.append(row)
            if a.aichat:
                row = aichat_round(a.aichat, url, a.kind, a.tokens, tmp, f"{n}{len(rows)}")
                print(json.dumps(row), flush=True)
                rows.append(row)
    finally:
        sim.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    summary = {}
    for name in [b[0] for b in bins] + (["aichat"] if a.aichat else []):
        mine = [r for r in rows if r["name"] == name]
        summary[name] = {
            k: statistics.median(r[k] for r in mine)
            for k in mine[0]
            if k not in ("name", "tokens", "peak_rss_after_each_answer_kib",
                         "rss_after_each_answer_kib")
        }
    out = {"summary": summary, "kind": a.kind, "tokens": a.tokens, "tps": a.tps}
    if a.answers > 1:
        tmp = tempfile.mkdtemp(prefix="cftui")
        sim, url = start_sim(a.sim, a.kind, a.tokens, 0, tmp)
        try:
            out["answer_text_bytes"] = answer_bytes(url)
        finally:
            sim.kill()
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
