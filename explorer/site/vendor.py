"""The libraries the static page loads, copied into the site so that it works offline and from any host.

plotly.js is the release inside the installed `plotly` package (the one the app serves), cut down to the traces the
page draws (core and scattergl: lib/plotly-scattergl.min.js, built by scripts/plotly_bundle/build.sh), a third of the
full bundle to download and parse before the first map. onnxruntime-web comes from its
npm package (`npm pack onnxruntime-web@ORT_WEB`, which needs npm and the npm registry once), kept in a cache folder
(~/.cache/vae-explorer, or $VAE_EXPLORER_CACHE); with no network, point $VAE_EXPLORER_ORT_WEB at an unpacked copy of
the package (the folder holding its `dist/`).
"""
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import plotly

ORT_WEB = "1.31.1"  # the onnxruntime-web release the page is tested with
ORT_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.wasm", "ort-wasm-simd-threaded.mjs")  # the WASM backend
PLOTLY_JS = Path(__file__).parent / "lib" / "plotly-scattergl.min.js"  # see the module's docstring
PLOTLY_PACKAGE_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"  # the app's: the same release
ORT_LICENSE = """onnxruntime-web {version} (https://github.com/microsoft/onnxruntime), MIT License

Copyright (c) Microsoft Corporation

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
documentation files (the "Software"), to deal in the Software without restriction, including without limitation the
rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and to permit
persons to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions of the
Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE
WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR
COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


class VendorError(RuntimeError):
    """A library the page needs could not be found or fetched."""


def cache_dir() -> Path:
    return Path(os.environ.get("VAE_EXPLORER_CACHE") or Path.home() / ".cache" / "vae-explorer")


def ort_web_dist() -> Path:
    """The `dist/` folder of onnxruntime-web ORT_WEB: $VAE_EXPLORER_ORT_WEB, the cache, or fetched with npm."""
    given = os.environ.get("VAE_EXPLORER_ORT_WEB")
    if given:
        dist = Path(given) / "dist"
        if not all((dist / f).is_file() for f in ORT_FILES):
            raise VendorError(f"$VAE_EXPLORER_ORT_WEB={given} has no dist/ with {', '.join(ORT_FILES)}: point it at "
                              "an unpacked onnxruntime-web package (npm pack onnxruntime-web; tar xzf the .tgz)")
        return dist
    home = cache_dir() / f"onnxruntime-web-{ORT_WEB}"
    if all((home / "dist" / f).is_file() for f in ORT_FILES):
        return home / "dist"
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError("the static page needs onnxruntime-web, fetched with npm, which is not installed: install "
                          "Node.js and npm, or set $VAE_EXPLORER_ORT_WEB to an unpacked onnxruntime-web package")
    home.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=home.parent, prefix=".fetch-") as tmp:
        done = subprocess.run([npm, "pack", f"onnxruntime-web@{ORT_WEB}", "--silent"], cwd=tmp, capture_output=True,
                              text=True, timeout=600)
        tgz = next(Path(tmp).glob("onnxruntime-web-*.tgz"), None)
        if done.returncode != 0 or tgz is None:
            raise VendorError(f"npm pack onnxruntime-web@{ORT_WEB} failed ({done.stderr.strip()[-300:]}): check the "
                              "network, or set $VAE_EXPLORER_ORT_WEB to an unpacked onnxruntime-web package")
        with tarfile.open(tgz) as tar:
            members = [m for m in tar.getmembers() if m.name in {f"package/dist/{f}" for f in ORT_FILES}]
            tar.extractall(tmp, members=members, filter="data")
        try:  # whole or not at all: another export fetching at the same time may have put its copy there first
            os.rename(Path(tmp) / "package", home)
        except OSError:
            if not all((home / "dist" / f).is_file() for f in ORT_FILES):
                raise
    return home / "dist"


def copy_libraries(out: Path) -> dict[str, int]:
    """Copy plotly.js and onnxruntime-web into out/lib; {file: bytes}."""
    lib = out / "lib"
    lib.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PLOTLY_JS, lib / "plotly.min.js")
    dist = ort_web_dist()
    for f in ORT_FILES:
        shutil.copyfile(dist / f, lib / f)
    (lib / "LICENSE-onnxruntime-web.txt").write_text(ORT_LICENSE.format(version=ORT_WEB))
    return {f"lib/{p.name}": p.stat().st_size for p in sorted(lib.iterdir())}
