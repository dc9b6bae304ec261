// Shared by every page (verify/evidence html_page.hpp). Runs before anything else: records script
// errors, console errors and blocked requests into the page, so a headless browser's --dump-dom
// shows them (the browser tests read #tm-self-check).
window.tmErrors = [];
window.addEventListener('error', function (e) { window.tmErrors.push('error: ' + (e.message || e.type)); });
window.addEventListener('unhandledrejection', function (e) { window.tmErrors.push('unhandled rejection: ' + e.reason); });
document.addEventListener('securitypolicyviolation', function (e) { window.tmErrors.push('blocked request: ' + e.blockedURI); });
(function () { var original = console.error; console.error = function () { window.tmErrors.push('console.error: ' + Array.prototype.join.call(arguments, ' ')); return original.apply(console, arguments); }; })();
// Self-check for the browser tests: how many of the charts painted something, and every error so far
// (written again once pending events have run). Each page's script calls it after drawing.
window.tmSelfCheck = function (charts, expected) {
  var drawn = 0;
  charts.forEach(function (chart) {
    var canvas = chart.canvas, pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data, painted = 0;
    for (var i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted += 1;
    if (painted > 1000) drawn += 1;
  });
  var check = document.getElementById('tm-self-check');
  var write = function () {
    check.setAttribute('data-charts-expected', String(expected));
    check.setAttribute('data-charts-drawn', String(drawn));
    check.setAttribute('data-errors', JSON.stringify(window.tmErrors));
    check.textContent = 'charts drawn: ' + drawn + ' of ' + expected + '; errors: ' + window.tmErrors.length;
  };
  write();
  window.setTimeout(write, 0);
};
