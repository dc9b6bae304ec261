// report.html's charts (Chart.js, inlined before this script) from the JSON in #tm-data, and the
// self-check the browser test reads: how many charts painted pixels, and every error recorded.
(function () {
  var data = JSON.parse(document.getElementById('tm-data').textContent);
  var palette = ['#2c6fb7', '#c0392b', '#27864a', '#8e44ad', '#d68910', '#16a085'];
  Chart.defaults.animation = false;
  Chart.defaults.responsive = false;
  Chart.defaults.devicePixelRatio = 2;
  Chart.defaults.font.size = 11;
  var charts = [];

  // 1. The p-value as suspect tokens accumulate.
  var traceSets = [];
  data.keys.forEach(function (key, i) {
    traceSets.push({ label: 'suspect, key ' + key.key_id, data: key.suspect_trace, borderColor: palette[i % 6], backgroundColor: palette[i % 6], pointRadius: key.suspect_trace.length < 30 ? 3 : 0, borderWidth: 2 });
    if (key.control_trace) traceSets.push({ label: 'control, key ' + key.key_id, data: key.control_trace, borderColor: palette[i % 6], borderDash: [5, 4], pointRadius: 0, borderWidth: 1.5 });
  });
  var xmax = 10;
  traceSets.forEach(function (s) { s.data.forEach(function (p) { xmax = Math.max(xmax, p.x); }); });
  traceSets.push({ label: 'evidence threshold (p = ' + data.alpha_text + ')', data: [{ x: 1, y: data.threshold }, { x: xmax, y: data.threshold }], borderColor: '#555', borderDash: [2, 3], pointRadius: 0, borderWidth: 1 });
  charts.push(new Chart(document.getElementById('chart-trace'), {
    type: 'line', data: { datasets: traceSets },
    options: { parsing: false, scales: {
      x: { type: 'logarithmic', title: { display: true, text: 'suspect tokens read' } },
      y: { min: 0, title: { display: true, text: '-log10 p (unadjusted; higher = stronger evidence)' } } } }
  }));

  // 2. Green rate of suspect and control against gamma, with 95% intervals (or, with no green-list
  // key, the sampling schemes' per-tuple means against chance). Values come in the chart's units.
  var labels = [], intervals = [], rates = [], gammas = [], colours = [];
  data.keys.forEach(function (key, i) {
    if (!key.in_rates_chart) return;
    labels.push('suspect ' + key.key_id); intervals.push([key.suspect_rate.lower, key.suspect_rate.upper]);
    rates.push(key.suspect_rate.rate); gammas.push(key.null_mean); colours.push(palette[i % 6]);
    if (key.control_rate) {
      labels.push('control ' + key.key_id); intervals.push([key.control_rate.lower, key.control_rate.upper]);
      rates.push(key.control_rate.rate); gammas.push(key.null_mean); colours.push('#999');
    }
  });
  charts.push(new Chart(document.getElementById('chart-rates'), {
    data: { labels: labels, datasets: [
      { type: 'bar', label: data.rates_axis.indexOf('green') === 0 ? '95% interval of the green rate' : 'interval (none for these schemes)', data: intervals, backgroundColor: colours.map(function (c) { return c + '55'; }), borderColor: colours, borderWidth: 1, barPercentage: 0.35, order: 2 },
      { type: 'scatter', label: data.rates_axis.indexOf('green') === 0 ? 'observed green rate' : 'observed per-tuple mean', data: rates, backgroundColor: '#000', pointRadius: 4, pointStyle: 'rectRot', order: 0 },
      { type: 'line', label: data.rates_axis.indexOf('green') === 0 ? 'gamma: the rate expected by chance' : 'expected by chance', data: gammas, borderColor: '#555', borderDash: [4, 3], pointRadius: 0, borderWidth: 1.5, stepped: 'middle', order: 1 }
    ] },
    options: { scales: { y: { title: { display: true, text: data.rates_axis } } } }
  }));

  // 3. Per-response scores against the null.
  var binWidth = 0.5, lo = -4, hi = 8, bins = [];
  for (var b = lo; b < hi; b += binWidth) bins.push(b);
  // A response's z from its statistic and the number of null draws it sums (tuples, or a
  // tournament's g-values), each of the key's null mean and variance.
  function histogram(t, key) {
    var counts = bins.map(function () { return 0; }), n = 0;
    for (var r = 0; r < t.units.length; ++r) {
      var s = t.units[r]; if (s < 5) continue;
      var z = (t.values[r] - key.unit_mean * s) / Math.sqrt(s * key.unit_variance);
      var at = Math.min(bins.length - 1, Math.max(0, Math.floor((z - lo) / binWidth)));
      counts[at] += 1; n += 1;
    }
    return { counts: counts, n: n };
  }
  var key = data.keys[data.primary];
  var suspect = histogram(key.suspect_tallies, key);
  var sets = [{ type: 'bar', label: 'suspect responses (' + suspect.n + ')', data: suspect.counts, backgroundColor: '#2c6fb799', barPercentage: 1, categoryPercentage: 1 }];
  if (key.control_tallies) {
    var control = histogram(key.control_tallies, key);
    sets.push({ type: 'bar', label: 'control responses (' + control.n + ')', data: control.counts, backgroundColor: '#99999999', barPercentage: 1, categoryPercentage: 1 });
  }
  sets.push({ type: 'line', label: 'expected without the watermark (standard normal)', borderColor: '#000', pointRadius: 0, borderWidth: 1.5,
    data: bins.map(function (b) { var m = b + binWidth / 2; return suspect.n * binWidth * Math.exp(-m * m / 2) / Math.sqrt(2 * Math.PI); }) });
  charts.push(new Chart(document.getElementById('chart-responses'), {
    data: { labels: bins.map(function (b) { return (b + binWidth / 2).toFixed(2); }), datasets: sets },
    options: { scales: { x: { title: { display: true, text: 'per-response score z = ' + key.z_label + ', key ' + key.key_id } },
                         y: { title: { display: true, text: 'responses' } } } }
  }));

  // 4. With a keyring: the effect under each label's key with its 95% interval (issue 15). One bar a
  // label (and one beside it for the control), so each marker sits on its own bar.
  if (data.attribution) {
    var names = [], spans = [], effects = [], fills = [], edges = [];
    data.attribution.suspect.forEach(function (row, i) {
      names.push(data.attribution.control ? [row.label, 'suspect'] : row.label);
      spans.push([row.lower, row.upper]); effects.push(row.effect);
      fills.push(row.detected ? '#2c6fb7cc' : '#2c6fb733'); edges.push('#2c6fb7');
      if (data.attribution.control) {
        var c = data.attribution.control[i];
        names.push([c.label, 'control']); spans.push([c.lower, c.upper]); effects.push(c.effect);
        fills.push('#99999955'); edges.push('#999');
      }
    });
    charts.push(new Chart(document.getElementById('chart-attribution'), {
      data: { labels: names, datasets: [
        { type: 'bar', label: '95% interval of the effect (filled: detected)', data: spans, backgroundColor: fills, borderColor: edges, borderWidth: 1, barPercentage: 0.5, order: 2 },
        { type: 'scatter', label: 'observed effect', data: effects, backgroundColor: '#000', pointRadius: 4, pointStyle: 'rectRot', order: 0 },
        { type: 'line', label: 'no effect (text unrelated to the key)', data: names.map(function () { return 0; }), borderColor: '#555', borderDash: [4, 3], pointRadius: 0, borderWidth: 1.5, order: 1 }
      ] },
      options: { scales: { y: { title: { display: true, text: 'effect: green rate minus gamma (points)' } } } }
    }));
  }

  window.tmSelfCheck(charts, charts.length);
})();
