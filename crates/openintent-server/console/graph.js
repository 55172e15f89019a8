// The dependency graph of an intent drawn as SVG: parents above children, dependencies before
// their dependents, each node coloured by status and linking to its page.

import { s, h } from './dom.js';

const W = 176;
const H = 46;
const GAP_X = 28;
const GAP_Y = 56;

/** Levels by longest path along the edges (parent → child, dependency → dependent). */
function levels(nodes, edges) {
  const level = new Map(nodes.map((n) => [n.id, 0]));
  for (let pass = 0; pass < nodes.length; pass++) {
    let changed = false;
    for (const e of edges) {
      if (!level.has(e.from) || !level.has(e.to)) continue;
      const want = level.get(e.from) + 1;
      if (level.get(e.to) < want && want < nodes.length + 1) {
        level.set(e.to, want);
        changed = true;
      }
    }
    if (!changed) break;
  }
  return level;
}

/** The edges of a graph answer, normalised to {from, to, type} with from drawn above to. */
export function graphEdges(graph) {
  const out = [];
  const seen = new Set();
  const add = (from, to, type) => {
    const k = `${from}>${to}>${type}`;
    if (from && to && !seen.has(k)) {
      seen.add(k);
      out.push({ from, to, type });
    }
  };
  for (const e of graph.edges || []) add(e.from, e.to, e.type || 'parent');
  for (const n of graph.nodes || []) {
    if (n.parent_id) add(n.parent_id, n.id, 'parent');
    for (const d of n.depends_on || []) add(d, n.id, 'dependency');
  }
  return out;
}

export function graphSvg(graph, currentId) {
  const nodes = graph.nodes || [];
  const edges = graphEdges(graph);
  const level = levels(nodes, edges);
  const rows = [];
  for (const n of nodes) {
    const l = level.get(n.id);
    (rows[l] = rows[l] || []).push(n);
  }
  const width = Math.max(1, ...rows.map((r) => (r ? r.length : 0))) * (W + GAP_X) + GAP_X;
  const height = rows.length * (H + GAP_Y) + GAP_Y / 2;
  const pos = new Map();
  rows.forEach((row, l) => {
    if (!row) return;
    const offset = (width - row.length * (W + GAP_X) + GAP_X) / 2;
    row.forEach((n, i) => pos.set(n.id, { x: offset + i * (W + GAP_X), y: GAP_Y / 2 + l * (H + GAP_Y) }));
  });
  const svg = s('svg', {
    class: 'graph', id: 'graph-svg', viewBox: `0 0 ${width} ${height}`, width, height,
    role: 'img', 'aria-label': `Graph of ${nodes.length} intents`,
  },
  s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
    s('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' }))));
  for (const e of edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + W / 2;
    const y1 = a.y + H;
    const x2 = b.x + W / 2;
    const y2 = b.y;
    const my = (y1 + y2) / 2;
    // An edge skipping levels bends aside, so that it does not run through the nodes between.
    const skip = Math.round((b.y - a.y) / (H + GAP_Y)) > 1;
    const side = skip ? (x2 >= x1 ? 1 : -1) * (W / 2 + GAP_X / 2) : 0;
    const d = skip
      ? `M ${x1} ${y1} C ${x1 + side} ${y1 + GAP_Y}, ${x2 + side} ${y2 - GAP_Y}, ${x2} ${y2}`
      : `M ${x1} ${y1} C ${x1} ${my}, ${x2} ${my}, ${x2} ${y2}`;
    svg.append(s('path', {
      d,
      class: `edge edge-${e.type === 'parent' ? 'parent' : 'dependency'}`, 'marker-end': 'url(#arrow)',
    }, s('title', {}, e.type === 'parent' ? 'parent → child' : 'dependency → dependent')));
  }
  for (const n of nodes) {
    const p = pos.get(n.id);
    const title = String(n.title || n.id);
    const short = title.length > 24 ? `${title.slice(0, 23)}…` : title;
    const status = String(n.status || 'unknown');
    const link = s('a', { href: `#/intent/${encodeURIComponent(n.id)}`, class: 'node-link' },
      s('title', {}, `${title} (${status})`),
      s('rect', { x: p.x, y: p.y, width: W, height: H, rx: 8, class: `node st-${status}${n.id === currentId ? ' current' : ''}` }),
      s('text', { x: p.x + W / 2, y: p.y + 19, class: 'node-title', 'text-anchor': 'middle' }, short),
      s('text', { x: p.x + W / 2, y: p.y + 36, class: 'node-status', 'text-anchor': 'middle' }, status.replaceAll('_', ' ')));
    svg.append(link);
  }
  const legend = h('p', { class: 'legend muted' }, 'Solid: parent → child. Dashed: dependency → dependent. ',
    `${nodes.length} intent${nodes.length === 1 ? '' : 's'}, ${graph.aggregate_status ? graph.aggregate_status.completion_percentage : 0}% complete.`);
  return h('div', { class: 'graph-wrap' }, svg, legend);
}
