"""Load and memory soak of the app's named API endpoints, through gradio_client.

    python -m benchmarks.load_test [--clients 16 32] [--calls 5000] [--soak 2000] [--json out.json]

Starts `python app.py` on a free loopback port (127.0.0.1 only) with its own GRADIO_TEMP_DIR, then
1. idle: one client, sequential: --idle calls of each endpoint -> median and p95;
2. load, two mixes, each with every number of --clients (threads, each with its own Client), --calls calls per run
   (or --requests per client), in the rotation decode_latent -> decode_codes -> reconstruct:
   - distinct: every client its own random inputs, no coordination;
   - identical: bursts: all clients wait for each other, then send the very same request at the same moment (the
     same latent, code grid or image), which is what once made the server truncate responses;
   -> errors, throughput, median and p95 per endpoint against idle, the server's RSS after each run;
3. soak: --soak calls (9 in 10 decodes, 1 in 10 reconstruct) from --soak-clients clients after --soak-warmup
   calls -> the server's RSS (VmRSS) before, half-way and after, and the growth of its Gradio temp dir;
4. sessions: --sessions new clients make one call each -> the server's RSS per session (Gradio keeps each one).
Inputs are valid and random: latents ~ N(0, I), code grids uniform over the codebook, new noise images for
reconstruct. Every phase stops by itself: a fixed number of calls, a timeout per call and --max-seconds over all.
--cache-sweep EVERY,AGE sets the app's cache sweep (VAE_EXPLORER_CACHE_SWEEP; default 600,1800 outlasts a soak).

Goals: no errors; p95 with 16 clients (distinct and identical) <= 8x idle p95 for each endpoint.
"""
import argparse
import functools
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import certifi
import numpy as np
from gradio_client import Client, handle_file
from PIL import Image

from benchmarks.machine import describe, machine

ROOT = Path(__file__).resolve().parents[1]
ENDPOINTS = ("decode_latent", "decode_codes", "reconstruct")
GOAL_RATIO = 8.0
GOAL_CLIENTS = 16  # the p95 goal holds at this many clients (more are measured, without a goal)
MIXES = ("distinct", "identical")
CALL_TIMEOUT_S = 60.0
# gradio_client opens a new httpx client per request, and httpx builds a new SSL context for each (loading the CA
# bundle: ~25 ms of CPU) even for plain http. One shared context keeps this process from being the bottleneck.
SSL_CONTEXT = ssl.create_default_context(cafile=certifi.where())


def start_app(folders: list[str], tmp: Path, cache_sweep: str | None) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url, log = f"http://127.0.0.1:{port}/", tmp / "app.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": str(tmp / "gradio")}
    if cache_sweep:
        env["VAE_EXPLORER_CACHE_SWEEP"] = cache_sweep
    proc = subprocess.Popen([sys.executable, "app.py", "--checkpoints", *folders, "--port", str(port),
                             "--host", "127.0.0.1"], cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    sys.exit(f"app.py did not start:\n{log.read_text()[-2000:]}")


def server_state(pid: int, cache: Path) -> dict:
    """The server's RSS and CPU seconds, and what its Gradio temp dir holds."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    entries = [(e, e.lstat()) for e in cache.rglob("*")] if cache.exists() else []
    files = [st.st_size for e, st in entries if e.is_file()]
    return {"rss_mb": int(status["VmRSS"].split()[0]) / 1024,
            "cpu_s": (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK"),
            "cache_mb": sum(files) / 2**20, "cache_files": len(files), "cache_folders": len(entries) - len(files),
            "cache_disk_mb": sum(st.st_blocks for _, st in entries) * 512 / 2**20}  # folders take blocks too


class Caller:
    """One gradio_client Client and its own random, valid inputs; call(endpoint) -> ms, or raises."""

    def __init__(self, url: str, models: dict, tmp: Path, seed: int):
        self.client = Client(url, verbose=False, download_files=str(tmp / "downloads"), analytics_enabled=False,
                             ssl_verify=SSL_CONTEXT)
        self.m, self.rng, self.image = models, np.random.default_rng(seed), tmp / f"upload-{seed}.png"

    def call(self, endpoint: str, rng: np.random.Generator | None = None) -> float:
        """One call with inputs drawn from `rng` (default: this caller's own stream)."""
        m, rng = self.m, rng if rng is not None else self.rng
        if endpoint == "decode_latent":
            args = m["vae"], rng.standard_normal(m["latent_dim"]).round(4).tolist()
        elif endpoint == "decode_codes":
            args = m["vq"], rng.integers(0, m["num_codes"], (m["grid"], m["grid"])).tolist()
        else:  # a new noise image each time: nothing the server has cached
            side = int(rng.integers(20, 64))
            Image.fromarray(rng.integers(0, 256, (side, side), dtype=np.uint8), "L").save(self.image)
            args = handle_file(str(self.image)), m["vae"], m["vq"]
        t = time.perf_counter()
        self.client.submit(*args, api_name="/" + endpoint).result(timeout=CALL_TIMEOUT_S)
        return (time.perf_counter() - t) * 1000


def run(callers: list[Caller], plan, deadline: float, together: bool = False) -> dict:
    """Caller i, in its own thread, makes call k to endpoint plan(i, k) until that is None or the deadline.
    together: every call k waits until all callers are ready for it, and draws its inputs from seed k, so all
    callers send the same request at the same moment (a burst of identical requests)."""
    ms, errors, lock = {e: [] for e in ENDPOINTS}, [], threading.Lock()
    barrier = threading.Barrier(len(callers))

    def worker(i: int, c: Caller):
        k = 0
        while time.monotonic() < deadline and (endpoint := plan(i, k)) is not None:
            rng = None
            if together:
                try:
                    barrier.wait(CALL_TIMEOUT_S)
                except threading.BrokenBarrierError:
                    break
                rng = np.random.default_rng(k)
            k += 1
            try:
                t = c.call(endpoint, rng)
                with lock:
                    ms[endpoint].append(t)
            except Exception as e:  # noqa: BLE001 - every failure is a result here
                with lock:
                    errors.append(f"{endpoint}: {type(e).__name__}: {e}"[:300])
        barrier.abort()  # a caller that stops releases the others

    threads = [threading.Thread(target=worker, args=(i, c), daemon=True) for i, c in enumerate(callers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()) + CALL_TIMEOUT_S)
    wall = time.perf_counter() - t0
    ok = sum(len(v) for v in ms.values())
    return {"ms": ms, "errors": errors, "ok": ok, "wall_s": wall, "throughput_rps": (ok + len(errors)) / wall,
            "hung_threads": sum(t.is_alive() for t in threads), "stopped_by_deadline": time.monotonic() >= deadline}


def in_total(total: int):
    """A plan handing out `total` calls over all callers: 9 in 10 decodes, 1 in 10 reconstruct."""
    lock, n = threading.Lock(), [0]

    def plan(i, k):
        with lock:
            n[0] += 1
            return None if n[0] > total else "reconstruct" if n[0] % 10 == 0 else ENDPOINTS[n[0] % 2]
    return plan


def latency(r: dict) -> dict:
    out = {}
    for key, ms in [*r["ms"].items(), ("all", [x for v in r["ms"].values() for x in v])]:
        out[key] = {"n": len(ms), "median": float(np.median(ms)) if ms else float("nan"),
                    "p95": float(np.percentile(ms, 95)) if ms else float("nan")}
    return out


def table(r: dict) -> str:
    cols = [*ENDPOINTS, "all"]
    rows = ["| latency (ms) | " + " | ".join(cols) + " |", "|---" * 5 + "|"]
    for q in ("median", "p95"):
        rows.append(f"| idle {q} | " + " | ".join(f"{r['idle'][c][q]:.1f}" for c in cols) + " |")
    for q in ("median", "p95"):
        rows.append(f"| load {q} | " + " | ".join(f"{r['load'][c][q]:.1f}" for c in cols) + " |")
    rows.append("| load p95 / idle p95 | " + " | ".join(f"{r['ratio'][c]:.2f}x" for c in cols) + " |")
    for x in r["runs"]:
        rows.append(f"| {x['mix']}, {x['clients']} clients: median / p95 | "
                    + " | ".join(f"{x['latency'][c]['median']:.0f} / {x['latency'][c]['p95']:.0f}" for c in cols)
                    + " |")
        rows.append(f"| {x['mix']}, {x['clients']} clients: p95 / idle p95 | "
                    + " | ".join(f"{x['ratio'][c]:.2f}x" for c in cols) + " |")
    rows += ["", "| run | calls | errors | calls/s | server CPU | server RSS after |", "|---|---:|---:|---:|---:|---:|"]
    for x in r["runs"]:
        rows.append(f"| {x['mix']}, {x['clients']} clients | {x['ok'] + x['errors']} | {x['errors']} | "
                    f"{x['throughput_rps']:.1f} | {x['server_cpu_pct']:.0f}% | {x['rss_after_mb']:.1f} MB |")
    S, b, m, a = r["soak"], *(r["soak"][k] for k in ("before", "middle", "after"))
    soak = (f"{S['ok']} ok, {S['errors']} errors, {S['throughput_rps']:.1f} calls/s over {S['wall_s']:.0f} s, "
            f"server CPU {S['server_cpu_pct']:.0f}%")
    rss = (f"{b['rss_mb']:.1f} / {m['rss_mb']:.1f} / {a['rss_mb']:.1f} MB: growth {a['rss_mb'] - b['rss_mb']:+.1f} "
           f"MB (second half {a['rss_mb'] - m['rss_mb']:+.1f} MB)")
    measures = [("server RSS at start (after warm-up) / after all load runs",
                 f"{r['rss_start_mb']:.1f} / {r['runs'][-1]['rss_after_mb']:.1f} MB"),
                (f"soak: {S['calls']} calls from {S['clients']} clients", soak),
                ("soak: server RSS before / half-way / after", rss),
                ("app cache sweep: every, age (s)", r["cache_sweep"])]
    for when, x in (("before", b), ("after", a)):
        held = f"{x['cache_mb']:.2f} MB in {x['cache_files']} files, {x['cache_folders']} folders"
        measures.append((f"soak: Gradio temp dir {when}", f"{held}; {x['cache_disk_mb']:.1f} MB on disk"))
    grew = a["cache_mb"] - b["cache_mb"], a["cache_disk_mb"] - b["cache_disk_mb"]
    measures.append(("soak: Gradio temp dir growth", f"{grew[0]:+.2f} MB in files, {grew[1]:+.1f} MB on disk"))
    if r["sessions"]["n"]:
        x = r["sessions"]
        measures.append((f"sessions: {x['n']} new clients, one call each",
                         f"server RSS {x['rss_growth_mb']:+.1f} MB, {x['kb_per_session']:.0f} KB each"))
    rows += ["", "| measure | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in measures), ""]
    errs = sum(x["errors"] for x in r["runs"]) + S["errors"] + r["idle_errors"] + r["sessions"]["errors"]
    for mix in MIXES:
        n = sum(x["ok"] + x["errors"] for x in r["runs"] if x["mix"] == mix)
        e = sum(x["errors"] for x in r["runs"] if x["mix"] == mix)
        rows.append(f"Errors, {mix} requests: {e} in {n}")
    rows.append(f"Goal: zero errors: {'met' if errs == 0 else 'NOT met'} ({errs})")
    goal_runs = [x for x in r["runs"] if x["clients"] == GOAL_CLIENTS] or r["runs"][:1]
    worst = max(x["ratio"][e] for x in goal_runs for e in ENDPOINTS)
    rows.append(f"Goal: p95 under load <= {GOAL_RATIO:g}x idle p95, each endpoint, {goal_runs[0]['clients']} "
                f"clients: {'met' if worst <= GOAL_RATIO else 'NOT met'} (worst {worst:.2f}x)")
    if r["stopped_early"]:
        rows.append(f"Stopped by --max-seconds in: {r['stopped_early']}")
    return "\n".join(rows)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", nargs="+", default=[str(ROOT / "checkpoints")], help="as for app.py")
    p.add_argument("--vae", help="VAE checkpoint name (default: the app's first)")
    p.add_argument("--vq", help="VQ-VAE checkpoint name (default: the app's first)")
    p.add_argument("--clients", type=int, nargs="+", default=[16, 32], help="concurrent clients, one run each")
    p.add_argument("--calls", type=int, default=5000, help="calls per load run (split over its clients)")
    p.add_argument("--requests", type=int, help="calls per client in each load run (instead of --calls)")
    p.add_argument("--idle", type=int, default=50, help="sequential calls of each endpoint")
    p.add_argument("--soak", type=int, default=2000, help="calls in the memory soak")
    p.add_argument("--soak-warmup", type=int, default=200)
    p.add_argument("--soak-clients", type=int, default=8)
    p.add_argument("--sessions", type=int, default=100, help="new clients, one call each")
    p.add_argument("--cache-sweep", metavar="EVERY,AGE", help="the app's cache sweep, seconds (default 600,1800)")
    p.add_argument("--max-seconds", type=float, default=3600, help="stop all calls after this long")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    from explorer.service.registry import Registry

    folders = [str(Path(f).resolve()) for f in args.checkpoints]
    reg = Registry(folders, log=lambda *a: None)
    vae, vq = args.vae or reg.names("vae")[0], args.vq or reg.names("vqvae")[0]
    models = {"vae": vae, "vq": vq, "latent_dim": reg.get(vae).cfg.latent_dim,
              "grid": reg.get(vq).cfg.image_size // 4, "num_codes": reg.get(vq).cfg.num_codes}
    deadline = time.monotonic() + args.max_seconds
    r = {"clients": args.clients, "calls": args.calls, "requests": args.requests, "models": models,
         "cpus": os.cpu_count(), "machine": machine(), "cache_sweep": args.cache_sweep or "600,1800 (app default)"}
    runs = []
    with tempfile.TemporaryDirectory(prefix="load-test-") as tmp:
        tmp = Path(tmp)
        proc, url = start_app(folders, tmp, args.cache_sweep)
        state = functools.partial(server_state, proc.pid, tmp / "gradio")
        print(f"app.py (pid {proc.pid}) at {url}", file=sys.stderr)
        try:
            one = Caller(url, models, tmp, seed=0)
            run([one], lambda i, k: ENDPOINTS[k % 3] if k < 6 else None, deadline)  # warm-up: loads the models
            idle = run([one], lambda i, k: ENDPOINTS[k % 3] if k < 3 * args.idle else None, deadline)
            r["rss_start_mb"] = state()["rss_mb"]

            callers = []
            for mix in MIXES:
                for n in args.clients:
                    while len(callers) < n:
                        callers.append(Caller(url, models, tmp, seed=1 + len(callers)))
                    per_client = args.requests or -(-args.calls // n)
                    s0 = state()
                    shift = 1 if mix == "distinct" else 0  # distinct: clients out of step; identical: all alike
                    x = run(callers[:n], lambda i, k, m=per_client, s=shift: ENDPOINTS[(s * i + k) % 3] if k < m
                            else None, deadline, together=mix == "identical")
                    s1 = state()
                    x.update(mix=mix, clients=n, server_cpu_pct=100 * (s1["cpu_s"] - s0["cpu_s"]) / x["wall_s"],
                             rss_after_mb=s1["rss_mb"])
                    runs.append(x)
                    print(f"{mix}, {n} clients: {x['ok']} ok, {len(x['errors'])} errors", file=sys.stderr)

            soakers = [Caller(url, models, tmp, seed=1000 + i) for i in range(args.soak_clients)]
            run(soakers, in_total(args.soak_warmup), deadline)
            before = state()
            first = run(soakers, in_total(args.soak // 2), deadline)
            middle = state()
            second = run(soakers, in_total(args.soak - args.soak // 2), deadline)
            after = state()
            print(f"soak: {first['ok'] + second['ok']} ok", file=sys.stderr)

            for c in [one, *callers, *soakers]:
                c.client.close()
            n_ok, session_errors = 0, []
            for i in range(args.sessions if time.monotonic() < deadline else 0):
                c = Caller(url, models, tmp, seed=10_000 + i)
                one_call = run([c], lambda i, k: "decode_latent" if k < 1 else None, deadline)
                n_ok, session_errors = n_ok + one_call["ok"], session_errors + one_call["errors"]
                c.client.close()
            sessions = state()
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()

    r["idle"] = latency(idle)
    r["idle_errors"] = len(idle["errors"])
    r["runs"] = []
    for x in runs:
        lat = latency(x)
        r["runs"].append({"mix": x["mix"], "clients": x["clients"], "ok": x["ok"], "errors": len(x["errors"]),
                          "error_samples": x["errors"][:10], "wall_s": x["wall_s"],
                          "throughput_rps": x["throughput_rps"], "server_cpu_pct": x["server_cpu_pct"],
                          "rss_after_mb": x["rss_after_mb"], "hung_threads": x["hung_threads"], "latency": lat,
                          "ratio": {c: lat[c]["p95"] / r["idle"][c]["p95"] for c in lat}})
    first_run = r["runs"][0]  # distinct requests, the first client count: "load"
    r["load"], r["ratio"] = first_run["latency"], first_run["ratio"]
    r["load_run"] = {k: v for k, v in first_run.items() if k not in ("latency", "ratio")}
    wall = first["wall_s"] + second["wall_s"]
    r["soak"] = {"calls": args.soak, "clients": args.soak_clients, "ok": first["ok"] + second["ok"],
                 "errors": len(first["errors"]) + len(second["errors"]),
                 "error_samples": (first["errors"] + second["errors"])[:10], "wall_s": wall,
                 "throughput_rps": (first["ok"] + second["ok"]) / wall,
                 "server_cpu_pct": 100 * (after["cpu_s"] - before["cpu_s"]) / wall,
                 "before": before, "middle": middle, "after": after}
    r["sessions"] = {"n": n_ok, "errors": len(session_errors), "error_samples": session_errors[:10],
                     "rss_growth_mb": sessions["rss_mb"] - after["rss_mb"],
                     "kb_per_session": (sessions["rss_mb"] - after["rss_mb"]) * 1024 / max(n_ok, 1)}
    r["stopped_early"] = ", ".join(name for name, x in (("idle", idle), *((f"{x['mix']} {x['clients']}", x)
                                                                          for x in runs), ("soak", second))
                                   if x["stopped_by_deadline"])
    r["table"] = f"{describe(r['machine'])}\n\n{table(r)}"
    print(r["table"])
    if args.json:
        args.json.write_text(json.dumps(r, indent=2))
    return r


if __name__ == "__main__":
    main()
