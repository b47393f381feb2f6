// Bundle entry.js as plotly.js's own build does (its esbuild-config.js), minified, with a banner naming the version.
const esbuild = require('esbuild');
const {environmentPlugin} = require('esbuild-plugin-environment');
const {glsl} = require('esbuild-plugin-glsl');
const InlineCSSPlugin = require('esbuild-plugin-inline-css');
const version = require('plotly.js/package.json').version;
esbuild.build({
  entryPoints: [`${__dirname}/entry.js`], outfile: process.argv[2], format: 'iife', globalName: 'Plotly', bundle: true,
  minify: true, target: 'es2016', plugins: [InlineCSSPlugin(), glsl({minify: true}), environmentPlugin({NODE_DEBUG: false})],
  alias: {regl: '@plotly/regl', stream: 'stream-browserify'}, define: {global: 'window', 'define.amd': 'false'},
  banner: {js: `/* plotly.js v${version} (core and scattergl only), MIT License, Copyright 2012-2026 Plotly, Inc.; `
               + 'built by scripts/plotly_bundle/build.sh */'},
}).catch((e) => { console.error(e.message); process.exit(1); });
