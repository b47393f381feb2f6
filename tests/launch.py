"""Run `python app.py` in a subprocess and drive it from Chromium: shared by the tests and the benchmarks."""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

# the latent map's plot area and every point on it, in viewport pixels (for Playwright's page.evaluate); public
# Plotly only: the plot area is its drag layer, the axis ranges are in the layout, the points in the data
MAP_GEOMETRY_JS = """() => {
  const gd = document.querySelector('#latent-map .vx-plot');
  const r = gd.querySelector('.nsewdrag').getBoundingClientRect();
  const [x0, x1] = gd.layout.xaxis.range, [y0, y1] = gd.layout.yaxis.range, points = [];
  for (const t of gd.data) {
    if (!t.customdata) continue;
    t.customdata.forEach((idx, j) => points.push([idx, r.left + (t.x[j] - x0) / (x1 - x0) * r.width,
                                                  r.top + (y1 - t.y[j]) / (y1 - y0) * r.height]));
  }
  return {left: r.left, top: r.top, width: r.width, height: r.height, points, x0, x1, y0, y1};
}"""


class AppStartError(RuntimeError):
    pass


@contextmanager
def serve_folder(folder: Path):
    """`python -m http.server` over `folder` on a free loopback port (a static site, no app): yields its URL once it
    answers."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d",
                               str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(folders: list, log_path: Path, env: dict | None = None, timeout: float = 300, root: Path = ROOT,
              args: tuple = ()) -> tuple[subprocess.Popen, str, float]:
    """Start `root`/app.py (default: this checkout's) on a free loopback port, with more command-line `args`; return
    it, its URL and the seconds until its first HTTP 200."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
    t = time.perf_counter()
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "app.py", "--checkpoints", *map(str, folders), "--port", str(port),
                                 "--host", "127.0.0.1", *args], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
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
