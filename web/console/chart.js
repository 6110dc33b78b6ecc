// The live chart: waiting and active fans (left axis) and the admissions per
// second against the rate set (right axis), one point per second. uPlot is
// vendored (vendor/uPlot.iife.min.js, MIT, see vendor/uPlot.LICENSE).

const colors = {
  waiting: '#2563eb',
  active: '#16a34a',
  admitted: '#ea580c',
  rate: '#6b7280',
};

function size(el) {
  const width = Math.max(260, Math.floor(el.getBoundingClientRect().width));
  const height = width < 600 ? 220 : 300;
  return { width, height };
}

export class LiveChart {
  constructor(el) {
    this.el = el;
    this.data = [[], [], [], [], []];
    const fmt = (u, v) => (v == null ? '–' : Math.round(v).toLocaleString());
    this.plot = new window.uPlot({
      ...size(el),
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, fans: { auto: true }, rate: { auto: true } },
      axes: [
        {},
        { scale: 'fans', label: 'fans', size: 60 },
        { scale: 'rate', label: 'per second', side: 1, grid: { show: false }, size: 50 },
      ],
      series: [
        {},
        { label: 'Waiting', scale: 'fans', stroke: colors.waiting, width: 2, value: fmt },
        { label: 'Active', scale: 'fans', stroke: colors.active, width: 2, value: fmt },
        { label: 'Admitted/s', scale: 'rate', stroke: colors.admitted, width: 2, value: fmt },
        { label: 'Set rate', scale: 'rate', stroke: colors.rate, width: 1.5, dash: [6, 4], value: fmt },
      ],
    }, this.data, el);
    new ResizeObserver(() => this.plot.setSize(size(this.el))).observe(el);
  }

  // set replaces the data with points of GET /admin/queue/stats.
  set(points) {
    const d = [[], [], [], [], []];
    for (const p of points) {
      d[0].push(Date.parse(p.t) / 1000);
      d[1].push(p.waiting);
      d[2].push(p.active);
      d[3].push(p.admitted);
      d[4].push(p.admit_per_second);
    }
    this.data = d;
    this.plot.setData(d);
  }
}
