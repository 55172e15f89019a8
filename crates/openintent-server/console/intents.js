// The list of intents: a status filter, a search over the page's titles and ids, and paging.

import { api } from './api.js';
import { h, replace, note, badge, time } from './dom.js';

const STATUSES = ['', 'draft', 'active', 'blocked', 'suspended_awaiting_input', 'completed', 'abandoned'];
const PAGE = 50;

export function intentsView(container, params) {
  const status = params.get('status') || '';
  const offset = Math.max(0, Number(params.get('offset')) || 0);
  const q = params.get('q') || '';
  const select = h('select', { id: 'status-filter' }, STATUSES.map((st) =>
    h('option', { value: st, selected: st === status }, st ? st.replaceAll('_', ' ') : 'any status')));
  const search = h('input', { id: 'search', type: 'search', value: q, placeholder: 'title or id' });
  const form = h('form', { class: 'filters', role: 'search' },
    h('label', { for: 'status-filter' }, 'Status'), select,
    h('label', { for: 'search' }, 'Search'), search,
    h('button', { type: 'submit' }, 'Apply'));
  const go = (next) => {
    const p = new URLSearchParams();
    if (next.status) p.set('status', next.status);
    if (next.q) p.set('q', next.q);
    if (next.offset) p.set('offset', String(next.offset));
    location.hash = `#/intents/${p.toString()}`;
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    go({ status: select.value, q: search.value.trim(), offset: 0 });
  });
  const body = h('div', {}, note('Loading…'));
  replace(container, h('h1', {}, 'Intents'), form, body);

  const qs = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
  if (status) qs.set('status', status);
  api('GET', `/api/v1/intents?${qs}`).then((page) => {
    const needle = q.toLowerCase();
    const rows = (page.intents || []).filter((i) => !needle
      || String(i.title).toLowerCase().includes(needle) || String(i.id).toLowerCase().includes(needle));
    const total = Number(page.total) || 0;
    const table = h('table', { class: 'list', id: 'intents-table' },
      h('thead', {}, h('tr', {}, ['Title', 'Status', 'Created by', 'Updated', 'Version'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows.map((i) => h('tr', {},
        h('td', {}, h('a', { href: `#/intent/${encodeURIComponent(i.id)}` }, i.title || i.id)),
        h('td', {}, badge(i.status)), h('td', {}, i.created_by || ''), h('td', {}, time(i.updated_at)),
        h('td', { class: 'num' }, String(i.version))))));
    const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' },
      h('button', { type: 'button', disabled: offset === 0, onclick: () => go({ status, q, offset: Math.max(0, offset - PAGE) }) }, '← Newer'),
      h('span', {}, total ? `${offset + 1}–${Math.min(offset + PAGE, total)} of ${total}` : '0 intents'),
      h('button', { type: 'button', disabled: offset + PAGE >= total, onclick: () => go({ status, q, offset: offset + PAGE }) }, 'Older →'));
    replace(body, rows.length ? table : note(q ? 'No intent on this page matches.' : 'No intents.'), pager,
      q ? note('Search looks at the titles and ids of the intents on this page.') : null);
  }).catch((e) => replace(body, note(`Cannot list intents: ${e.message}`, 'error')));
  return () => {};
}
