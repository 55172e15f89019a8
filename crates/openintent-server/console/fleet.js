// Portfolios with progress bars from their aggregate status, and the agents of the registry
// with status, capabilities and heartbeat age.

import { api, seg } from './api.js';
import { h, replace, note, badge, time, parseTime, duration } from './dom.js';

export function portfoliosView(container) {
  const body = h('div', {}, note('Loading…'));
  replace(container, h('h1', {}, 'Portfolios'), body);
  (async () => {
    const list = await api('GET', '/api/v1/portfolios');
    if (!list.length) return replace(body, note('No portfolios.'));
    const full = await Promise.all(list.map((p) => api('GET', `/api/v1/portfolios/${seg(p.id)}`).catch(() => p)));
    replace(body, h('ul', { class: 'cards', id: 'portfolios' }, full.map((p) => {
      const agg = p.aggregate_status || {};
      const pct = Math.max(0, Math.min(100, Number(agg.completion_percentage) || 0));
      const by = Object.entries(agg.by_status || {});
      return h('li', { class: 'card' },
        h('h2', {}, p.name), badge(p.status), ' ', time(p.created_at),
        p.description ? h('p', {}, p.description) : null,
        h('label', { class: 'progress-label' }, `${pct}% complete (${agg.total || 0} intents)`,
          h('progress', { max: 100, value: pct }, `${pct}%`)),
        by.length ? h('p', { class: 'muted' }, by.map(([st, n]) => `${st.replaceAll('_', ' ')}: ${n}`).join(' · ')) : null,
        (p.intents || []).length ? h('ul', { class: 'plain' }, p.intents.map((i) =>
          h('li', {}, h('a', { href: `#/intent/${encodeURIComponent(i.id)}` }, i.title || i.id), ' ', badge(i.status)))) : null);
    })));
  })().catch((e) => replace(body, note(`Cannot list portfolios: ${e.message}`, 'error')));
  return () => {};
}

/** Heartbeat age in seconds, from the server's age or the last heartbeat time. */
function heartbeatAge(a) {
  if (typeof a.heartbeat_age_seconds === 'number') return a.heartbeat_age_seconds;
  const t = parseTime(a.last_heartbeat_at);
  return t ? (Date.now() - t.getTime()) / 1000 : null;
}

/** Stale when no heartbeat came within three intervals (the configured one, else 30 s). */
function isStale(a, age) {
  if (age === null) return true;
  const cfg = a.heartbeat_config || {};
  const interval = Number(cfg.interval_seconds || cfg.interval) || 30;
  return age > 3 * interval;
}

export function agentsView(container) {
  const body = h('div', {}, note('Loading…'));
  replace(container, h('h1', {}, 'Agents'), body);
  api('GET', '/api/v1/agents').then((list) => {
    if (!list.length) return replace(body, note('No agents registered.'));
    replace(body, h('table', { class: 'list', id: 'agents-table' },
      h('thead', {}, h('tr', {}, ['Agent', 'Status', 'Capabilities', 'Heartbeat', 'Registered'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, list.map((a) => {
        const age = heartbeatAge(a);
        const stale = isStale(a, age);
        return h('tr', { class: stale ? 'stale' : '' },
          h('td', {}, a.name ? `${a.name} (${a.agent_id})` : a.agent_id),
          h('td', {}, badge(a.status)),
          h('td', {}, (a.capabilities || []).map((c) => h('span', { class: 'tag' }, c))),
          h('td', {}, age === null ? 'never' : `${duration(age)} ago`, stale ? h('span', { class: 'badge st-stale' }, 'stale') : null),
          h('td', {}, time(a.registered_at)));
      }))));
  }).catch((e) => replace(body, note(`Cannot list agents: ${e.message}`, 'error')));
  return () => {};
}
