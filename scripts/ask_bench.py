#!/usr/bin/env python3
"""`codeforge ask` as a user feels it, against curl: whole processes, interleaved rounds.

For each round, in turn: curl streaming the same request by hand, then each codeforge binary
given, each against each ledger given. Every one is a fresh process with its stdout on a pipe
(or on a pty with --pty); the clock starts just before the process is started and stops at
the first byte of the answer's content (for curl: the first SSE event with content, as a
script reading curl would see it), then at the process's exit. Peak RSS is measured in
separate runs under /usr/bin/time (a child forked from this Python would report Python's own
pages as its peak). All against one simulator on loopback (--ttft-ms 50, --tps 0).

Prints a JSON summary: medians per (binary, ledger) and their ratio to curl's median.
With --aichat PATH, aichat (the Rust peer) runs in each round too, configured for the same
simulator as an OpenAI-compatible client (its config in a temporary AICHAT_CONFIG_DIR).
Usage:
  scripts/ask_bench.py --sim BIN --bin NAME=BIN [--bin ...] --ledger NAME=DIR [--ledger ...]
                       [--rounds N] [--pty] [--aichat PATH]
Each ledger DIR is a CODEFORGE_HOME; it is copied once per binary, so runs do not share one.
"""

import argparse
import json
import os
import pty
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import aichat_peer

BODY = ('{"model":"moonshotai/kimi-k2","stream":true,"usage":{"include":true},'
        '"max_tokens":256,"messages":[{"role":"user","content":"hello there"}]}')


def start_sim(sim_bin, tmp):
    out_path = os.path.join(tmp, "sim.out")
    proc = subprocess.Popen([sim_bin, "simulate", "--port", "0", "--ttft-ms", "50",
                             "--tps", "0"], stdout=open(out_path, "w"),
                            stderr=subprocess.STDOUT)
    for _ in range(200):
        m = re.search(r"simulator listening on (\S+)", open(out_path).read())
        if m:
            return proc, m.group(1)
        time.sleep(0.05)
    proc.kill()
    sys.exit("ask_bench: the simulator did not start")


def timed(argv, env, first_marker, use_pty):
    """Run argv; return (ms to the first output containing first_marker, ms to exit)."""
    if use_pty:
        master, slave = pty.openpty()
        out_fd, child_out = master, slave
    else:
        out_fd, child_out = os.pipe()
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=child_out, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    os.close(child_out)
    first = None
    seen = b""
    while True:
        try:
            chunk = os.read(out_fd, 65536)
        except OSError:  # a pty's master reads EIO once the child has gone
            chunk = b""
        if not chunk:
            break
        if first is None:
            seen += chunk
            if first_marker is None or first_marker in seen:
                first = time.perf_counter()
    os.close(out_fd)
    status = proc.wait()
    end = time.perf_counter()
    if status != 0 or first is None:
        raise RuntimeError(f"{argv[0]} failed (status {status}, output {seen[:200]!r})")
    return (first - t0) * 1000.0, (end - t0) * 1000.0


def peak_rss_kib(argv, env):
    out = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv, env=env, capture_output=True,
                         text=True, check=True)
    return int(out.stderr.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim", required=True)
    ap.add_argument("--bin", action="append", required=True, help="NAME=PATH")
    ap.add_argument("--ledger", action="append", required=True, help="NAME=DIR")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--pty", action="store_true")
    ap.add_argument("--aichat")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="cfask")
    sim, url = start_sim(a.sim, tmp)
    bins = [b.split("=", 1) for b in a.bin]
    ledgers = [x.split("=", 1) for x in a.ledger]
    homes = {}
    for bname, _ in bins:
        for lname, ldir in ledgers:
            home = os.path.join(tmp, f"{bname}-{lname}")
            shutil.copytree(ldir, home)
            homes[(bname, lname)] = home
    base_env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    aichat_env = None
    if a.aichat:
        conf = aichat_peer.config_dir(tmp, url)
        aichat_env = dict(base_env, AICHAT_CONFIG_DIR=conf)
    # One unmeasured run per copy: the first start after a copy checks the whole file (its
    # inode changed, see src/ledger/verified.rs), which is not what a user's starts do.
    for (bname, lname), home in homes.items():
        path = dict(bins)[bname]
        subprocess.run([os.path.abspath(path), "ask", "-m", "kimi-k2", "hello there"],
                       env=dict(base_env, CODEFORGE_HOME=home, OPENROUTER_BASE_URL=url,
                                OPENROUTER_API_KEY="k"),
                       capture_output=True, check=True)
    results = {}
    curl = shutil.which("curl")
    rss = {}
    try:
        for rnd in range(a.rounds):
            # Every third round, each process once more under /usr/bin/time for its peak RSS.
            measure_rss = rnd % 3 == 0 and os.path.exists("/usr/bin/time")
            if curl:
                argv = [curl, "-sN", "-H", "Authorization: Bearer k", "-H",
                        "Content-Type: application/json", "-d", BODY, f"{url}/chat/completions"]
                r = timed(argv, base_env, b'"content":"', a.pty)
                results.setdefault(("curl", ""), []).append(r)
                if measure_rss:
                    rss.setdefault(("curl", ""), []).append(peak_rss_kib(argv, base_env))
            if aichat_env:
                argv = [a.aichat, "hello there"]
                results.setdefault(("aichat", ""), []).append(timed(argv, aichat_env, None, a.pty))
                if measure_rss:
                    rss.setdefault(("aichat", ""), []).append(peak_rss_kib(argv, aichat_env))
            for bname, path in bins:
                for lname, _ in ledgers:
                    env = dict(base_env, CODEFORGE_HOME=homes[(bname, lname)],
                               OPENROUTER_BASE_URL=url, OPENROUTER_API_KEY="k")
                    argv = [os.path.abspath(path), "ask", "-m", "kimi-k2", "hello there"]
                    r = timed(argv, env, None, a.pty)
                    results.setdefault((bname, lname), []).append(r)
                    if measure_rss:
                        rss.setdefault((bname, lname), []).append(peak_rss_kib(argv, env))
    finally:
        sim.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: [statistics.median(x[i] for x in v) for i in range(2)]
           + [statistics.median(rss[k]) if k in rss else None] for k, v in results.items()}
    curl_first = med.get(("curl", ""), [None])[0]
    rows = []
    for (bname, lname), (first, total, rss) in med.items():
        rows.append({
            "what": bname if not lname else f"{bname} ({lname} ledger)",
            "first_content_ms": round(first, 2),
            "exit_ms": round(total, 2),
            "peak_rss_kib": rss,
            "first_content_vs_curl": round(first / curl_first, 3) if curl_first else None,
        })
    print(json.dumps({"rounds": a.rounds, "pty": a.pty, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
