// DOM helpers. Every string from the API reaches the page through textContent or an
// attribute set with setAttribute: never parsed as HTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = String(v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  return el;
}

/** An HTML element: h('a', {href: '#/x'}, 'text', child, ...). */
export function h(tag, attrs, ...children) {
  return append(setAttrs(document.createElement(tag), attrs), children);
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  return append(setAttrs(document.createElementNS(SVG_NS, tag), attrs), children);
}

/** Removes every child of `el`, then appends `children`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A date from the server (naive timestamps are UTC). */
export function parseTime(t) {
  if (!t) return null;
  const str = String(t);
  const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(str) ? str : str + 'Z');
  return Number.isNaN(d.getTime()) ? null : d;
}

/** "3 s", "5 min", "2 h", "4 d". */
export function duration(seconds) {
  const s = Math.abs(Math.round(seconds));
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

/** "12 s ago" for a server time. */
export function ago(t) {
  const d = parseTime(t);
  return d ? `${duration((Date.now() - d.getTime()) / 1000)} ago` : '—';
}

/** A local, readable time with the exact value as a tooltip. */
export function time(t) {
  const d = parseTime(t);
  return h('time', { datetime: d ? d.toISOString() : '', title: t || '' }, d ? d.toLocaleString() : '—');
}

/** A status badge (class chosen from a fixed list, text from the API). */
const KNOWN = ['draft', 'active', 'blocked', 'suspended_awaiting_input', 'completed', 'abandoned',
  'pending', 'approved', 'denied', 'resolved', 'expired', 'released', 'stale', 'draining', 'inactive', 'dead'];
export function badge(status) {
  const st = String(status ?? 'unknown');
  const cls = KNOWN.includes(st) ? `badge st-${st}` : 'badge';
  return h('span', { class: cls }, st.replaceAll('_', ' '));
}

/** A JSON value as a collapsible tree of <details> elements. */
export function tree(value, label) {
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
    const summary = h('summary', {}, label === undefined ? '' : h('span', { class: 'key' }, label),
      h('span', { class: 'muted' }, Array.isArray(value) ? ` [${entries.length}]` : ` {${entries.length}}`));
    const list = h('ul', { class: 'tree' }, entries.map(([k, v]) => h('li', {}, tree(v, k))));
    return h('details', { open: entries.length <= 20 }, summary, list);
  }
  const cls = value === null ? 'null' : typeof value;
  return h('span', { class: 'leaf' }, label === undefined ? '' : h('span', { class: 'key' }, `${label}: `),
    h('span', { class: `v-${cls}` }, JSON.stringify(value)));
}

/** A section with a heading. */
export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

/** A message line for errors and empty lists. */
export function note(text, kind = 'muted') {
  return h('p', { class: kind }, text);
}
