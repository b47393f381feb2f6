#!/usr/bin/env bash
# Rebuild explorer/site/lib/plotly-scattergl.min.js, the static page's plotly.js: the release the installed `plotly`
# package carries (the app's), with only the traces the page draws, a third of the full bundle's size to download and
# parse. Needs Node.js and npm (the npm registry once).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="$(python -c 'import plotly, pathlib, re; p = pathlib.Path(plotly.__file__).parent / "package_data" / "plotly.min.js"; print(re.search(r"plotly\.js v([0-9.]+)", p.read_text()[:200]).group(1))')"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/entry.js" "$here/build.js" "$work/"
(cd "$work" && npm install --silent --no-audit --no-fund "plotly.js@$version" esbuild esbuild-plugin-glsl \
  esbuild-plugin-inline-css esbuild-plugin-environment stream-browserify buffer >/dev/null)
mkdir -p "$here/../../explorer/site/lib"
(cd "$work" && NODE_PATH="$work/node_modules" node build.js "$here/../../explorer/site/lib/plotly-scattergl.min.js")
echo "built explorer/site/lib/plotly-scattergl.min.js from plotly.js $version"
