// One intent: its state as a tree, the event log following live (resuming after a dropped
// connection with Last-Event-ID), leases with their time left, costs (chart and totals),
// attachments, retry policy and failures, and the graph around it.

import { api, seg } from './api.js';
import { h, replace, note, badge, time, tree, section, parseTime, duration } from './dom.js';
import { openStream } from './stream.js';
import { costChart, fmt } from './chart.js';
import { graphSvg } from './graph.js';

const SAFE_URL = /^(https?:|data:)/i;

export function intentView(container, id) {
  const base = `/api/v1/intents/${seg(id)}`;
  const head = h('div', { id: 'intent-head' }, note('Loading…'));
  const stateBox = h('div', { id: 'intent-state' });
  const events = h('ol', { class: 'events', id: 'events', reversed: true });
  const leases = h('div', { id: 'leases' });
  const costs = h('div', { id: 'costs' });
  const attachments = h('div', { id: 'attachments' });
  const retries = h('div', { id: 'retries' });
  const graph = h('div', { id: 'graph' });
  replace(container,
    head,
    h('div', { class: 'columns' },
      h('div', {},
        section('State', stateBox),
        section('Leases', leases),
        section('Costs', costs),
        section('Attachments', attachments),
        section('Retry policy and failures', retries)),
      h('div', {},
        section('Event log (live)', events))),
    section('Graph', graph));

  let leaseRows = [];
  function showTimeLeft() {
    for (const { cell, expires } of leaseRows) {
      const left = (expires.getTime() - Date.now()) / 1000;
      cell.textContent = left > 0 ? `${duration(left)} left` : 'expired';
      cell.className = left > 0 ? (left < 30 ? 'warn' : '') : 'muted';
    }
  }
  const tick = setInterval(showTimeLeft, 1000);

  async function loadIntent() {
    try {
      const intent = await api('GET', base);
      document.title = `${intent.title} · OpenIntent console`;
      replace(head,
        h('p', { class: 'crumbs' }, h('a', { href: '#/intents' }, 'Intents'),
          intent.parent_id ? [' / ', h('a', { href: `#/intent/${encodeURIComponent(intent.parent_id)}` }, 'parent')] : null),
        h('h1', { id: 'intent-title' }, intent.title),
        h('p', { class: 'meta' }, h('span', { id: 'intent-status' }, badge(intent.status)),
          ` version ${intent.version} · created by ${intent.created_by} · `, time(intent.created_at),
          ' · updated ', time(intent.updated_at)),
        intent.description ? h('p', { class: 'description' }, intent.description) : null,
        h('p', { class: 'muted mono' }, intent.id));
      const hasState = intent.state && Object.keys(intent.state).length > 0;
      replace(stateBox, hasState ? tree(intent.state, 'state') : note('The state is empty.'),
        intent.governance_policy && Object.keys(intent.governance_policy).length
          ? tree(intent.governance_policy, 'governance policy') : null);
    } catch (e) {
      replace(head, note(`Cannot read the intent: ${e.message}`, 'error'));
    }
  }

  async function loadLeases() {
    try {
      const list = await api('GET', `${base}/leases`);
      leaseRows = [];
      if (!list.length) return replace(leases, note('No leases.'));
      replace(leases, h('table', { class: 'list' },
        h('thead', {}, h('tr', {}, ['Scope', 'Holder', 'Status', 'Time left'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, list.map((l) => {
          const cell = h('td', {});
          const expires = parseTime(l.expires_at);
          if (l.status === 'active' && expires) leaseRows.push({ cell, expires });
          else cell.textContent = '—';
          return h('tr', {}, h('td', {}, l.scope), h('td', {}, l.agent_id), h('td', {}, badge(l.status)), cell);
        }))));
      showTimeLeft();
    } catch (e) {
      replace(leases, note(e.message, 'error'));
    }
  }

  async function loadCosts() {
    try {
      const [list, summary] = await Promise.all([api('GET', `${base}/costs`), api('GET', `${base}/costs/summary`)]);
      const byUnit = Object.entries(summary.by_unit || {});
      replace(costs, costChart(list),
        byUnit.length ? h('table', { class: 'list', id: 'cost-totals' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Unit'), h('th', { scope: 'col' }, 'Total'))),
          h('tbody', {}, byUnit.map(([u, v]) => h('tr', {}, h('td', {}, u), h('td', { class: 'num' }, fmt(v)))))) : null);
    } catch (e) {
      replace(costs, note(e.message, 'error'));
    }
  }

  async function loadAttachments() {
    try {
      const list = await api('GET', `${base}/attachments`);
      if (!list.length) return replace(attachments, note('No attachments.'));
      replace(attachments, h('ul', { class: 'plain' }, list.map((a) => {
        const url = String(a.storage_url || '');
        const label = `${a.filename} (${a.mime_type || '?'}, ${fmt(a.size || 0)} bytes)`;
        return h('li', {}, SAFE_URL.test(url)
          ? h('a', { href: url, download: a.filename, rel: 'noopener noreferrer' }, label)
          : h('span', { title: 'Not a downloadable address' }, label),
        ' by ', a.created_by || a.uploaded_by || '?');
      })));
    } catch (e) {
      replace(attachments, note(e.message, 'error'));
    }
  }

  async function loadRetries() {
    const parts = [];
    try {
      parts.push(tree(await api('GET', `${base}/retry-policy`), 'retry policy'));
    } catch (e) {
      parts.push(note(e.status === 404 ? 'No retry policy.' : e.message, e.status === 404 ? 'muted' : 'error'));
    }
    try {
      const failures = await api('GET', `${base}/failures`);
      parts.push(failures.length ? h('ol', { class: 'plain' }, failures.map((f) => h('li', {},
        time(f.created_at || f.failed_at), ` attempt ${f.attempt_number ?? f.attempt ?? '?'}: `, f.error_message || f.error || '',
        f.error_code ? ` (${f.error_code})` : ''))) : note('No failures.'));
    } catch (e) {
      parts.push(note(e.message, 'error'));
    }
    replace(retries, ...parts);
  }

  async function loadGraph() {
    try {
      replace(graph, graphSvg(await api('GET', `${base}/graph`), id));
    } catch (e) {
      replace(graph, note(e.message, 'error'));
    }
  }

  function loadAll() {
    loadIntent();
    loadLeases();
    loadCosts();
    loadAttachments();
    loadRetries();
    loadGraph();
  }

  let timer = null;
  const seen = new Set();
  const close = openStream(`/api/v1/subscribe/intents/${seg(id)}?from=start`, {
    onMessage: (m) => {
      const ev = m.data && typeof m.data === 'object' ? m.data : { payload: m.data };
      const key = m.id || ev.id;
      if (key && seen.has(key)) return;
      if (key) seen.add(key);
      events.prepend(h('li', { class: 'event', 'data-type': m.event, id: key ? `event-${key}` : null },
        h('div', {}, h('strong', { class: 'event-type' }, ev.event_type || m.event), ' by ',
          h('span', { class: 'actor' }, ev.actor || '?'), ' ', time(ev.created_at)),
        ev.payload && Object.keys(ev.payload).length ? tree(ev.payload, 'payload') : null));
      clearTimeout(timer);
      timer = setTimeout(loadAll, 250);
    },
    onOpen: () => loadAll(),
    onError: (e) => {
      if (e.status === 404) replace(head, note('No such intent (or you may not read it).', 'error'));
    },
  });
  return () => {
    close();
    clearInterval(tick);
    clearTimeout(timer);
  };
}
