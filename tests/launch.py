"""Run `python app.py` in a subprocess and drive it from Chromium: shared by the tests and the benchmarks."""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

# the latent map's plot area and every point on it, in viewport pixels (for Playwright's page.evaluate)
MAP_GEOMETRY_JS = """() => {
  const gd = document.querySelector('#latent-map .vx-plot');
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, r = gd.getBoundingClientRect();
  const left = r.left + xa._offset, top = r.top + ya._offset, points = [];
  for (const t of gd.data) {
    if (!t.customdata) continue;
    t.customdata.forEach((idx, j) => points.push([idx, left + xa.d2p(t.x[j]), top + ya.d2p(t.y[j])]));
  }
  return {left, top, width: xa._length, height: ya._length, points,
          x0: xa.p2d(0), x1: xa.p2d(xa._length), y0: ya.p2d(ya._length), y1: ya.p2d(0)};
}"""


class AppStartError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(folders: list, log_path: Path, env: dict | None = None, timeout: float = 300
              ) -> tuple[subprocess.Popen, str, float]:
    """Start app.py on a free loopback port; return it, its URL and the seconds until its first HTTP 200."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
    t = time.perf_counter()
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "app.py", "--checkpoints", *map(str, folders), "--port", str(port),
                                 "--host", "127.0.0.1"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    while True:
        if proc.poll() is not None:
            raise AppStartError(f"app.py exited with {proc.returncode}:\n{Path(log_path).read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return proc, url, time.perf_counter() - t
        except OSError:
            pass
        if time.perf_counter() - t > timeout:
            stop_app(proc)
            raise AppStartError(f"app.py did not serve within {timeout} s:\n{Path(log_path).read_text()[-3000:]}")
        time.sleep(0.02)


def stop_app(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
