// The static page's plotly.js: its core (which draws scatter) and scattergl, the only traces the page's maps use.
var Plotly = require('plotly.js/lib/core');
Plotly.register([require('plotly.js/lib/scattergl')]);
module.exports = Plotly;
