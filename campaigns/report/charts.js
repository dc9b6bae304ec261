// The campaigns report's charts: the overview and every cluster's timeline, then the shared
// self-check for the browser test (window.tmSelfCheck, error_recorder.js).
(function () {
  var data = JSON.parse(document.getElementById('tm-data').textContent);
  var palette = ['#2c6fb7', '#c0392b', '#27864a', '#8e44ad', '#d68910', '#16a085', '#7f8c8d'];
  Chart.defaults.animation = false;
  Chart.defaults.responsive = false;
  Chart.defaults.devicePixelRatio = 2;
  Chart.defaults.font.size = 11;
  var charts = [];
  if (data.clusters.length > 0) {
    var capabilities = ['reasoning', 'tool_use', 'coding', 'other'];
    charts.push(new Chart(document.getElementById('chart-overview'), {
      type: 'bar',
      data: { labels: data.clusters.map(function (c) { return c.id; }),
              datasets: capabilities.map(function (name, i) {
                return { label: name.replace('_', ' '), backgroundColor: palette[i], data: data.clusters.map(function (c) { return Math.round(c.exchanges * c.targets[name]); }) };
              }) },
      options: { scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: 'exchanges of the flagged accounts, by target' } } } }
    }));
  }
  data.clusters.forEach(function (c, n) {
    if (!c.timeline) return;
    charts.push(new Chart(document.getElementById('chart-timeline-' + n), {
      type: 'bar',
      data: { labels: c.timeline.hours, datasets: c.timeline.models.map(function (m, i) {
        return { label: m.model, data: m.exchanges, backgroundColor: palette[i % palette.length], barPercentage: 1, categoryPercentage: 1 };
      }) },
      options: { scales: { x: { stacked: true, ticks: { maxTicksLimit: 12 }, title: { display: true, text: 'hour (UTC)' } },
                           y: { stacked: true, title: { display: true, text: 'exchanges per hour, by model version' } } } }
    }));
  });
  window.tmSelfCheck(charts, data.charts_expected);
})();
