// The costs of an intent over time: a cumulative line per unit, drawn as SVG.

import { s, h, parseTime } from './dom.js';

const COLORS = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5'];

export function costChart(costs) {
  const W = 560;
  const H = 200;
  const PAD = { l: 56, r: 16, t: 12, b: 28 };
  const points = costs
    .map((c) => ({ t: parseTime(c.recorded_at || c.created_at), amount: Number(c.amount) || 0, unit: String(c.unit || c.cost_type || '?') }))
    .filter((p) => p.t)
    .sort((a, b) => a.t - b.t);
  if (points.length === 0) return h('p', { class: 'muted' }, 'No costs recorded.');
  const units = [...new Set(points.map((p) => p.unit))];
  const t0 = points[0].t.getTime();
  const t1 = Math.max(points[points.length - 1].t.getTime(), t0 + 1000);
  const series = units.map((u) => {
    let sum = 0;
    return { unit: u, pts: points.filter((p) => p.unit === u).map((p) => ({ t: p.t.getTime(), v: (sum += p.amount) })) };
  });
  const svg = s('svg', { class: 'chart', id: 'cost-chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Cumulative costs over time' });
  svg.append(s('line', { x1: PAD.l, y1: H - PAD.b, x2: W - PAD.r, y2: H - PAD.b, class: 'axis' }));
  svg.append(s('line', { x1: PAD.l, y1: PAD.t, x2: PAD.l, y2: H - PAD.b, class: 'axis' }));
  const x = (t) => PAD.l + ((t - t0) / (t1 - t0)) * (W - PAD.l - PAD.r);
  series.forEach((ser, i) => {
    const max = Math.max(...ser.pts.map((p) => p.v), 1e-9);
    const y = (v) => H - PAD.b - (v / max) * (H - PAD.t - PAD.b);
    let d = `M ${x(t0)} ${H - PAD.b}`;
    for (const p of ser.pts) d += ` H ${x(p.t)} V ${y(p.v)}`;
    d += ` H ${W - PAD.r}`;
    const cls = COLORS[i % COLORS.length];
    svg.append(s('path', { d, class: `series ${cls}` }, s('title', {}, `${ser.unit}: ${max}`)));
    svg.append(s('text', { x: PAD.l - 4, y: PAD.t + 12 + i * 14, class: `tick ${cls}`, 'text-anchor': 'end' }, `${fmt(max)}`));
  });
  svg.append(s('text', { x: PAD.l, y: H - 8, class: 'tick' }, new Date(t0).toLocaleTimeString()));
  svg.append(s('text', { x: W - PAD.r, y: H - 8, class: 'tick', 'text-anchor': 'end' }, new Date(t1).toLocaleTimeString()));
  const legend = h('ul', { class: 'chart-legend' }, series.map((ser, i) => h('li', { class: COLORS[i % COLORS.length] }, ser.unit)));
  return h('div', { class: 'chart-wrap' }, svg, legend,
    h('p', { class: 'muted' }, 'Each line is the running total of one unit, scaled to its own maximum.'));
}

export function fmt(n) {
  return Number(n).toLocaleString(undefined, { maximumFractionDigits: 4 });
}
