// The inbox: everything waiting for a person, oldest first, kept current by the inbox stream.
// Acting writes through the public API as the signed-in person; the item leaves the inbox at
// once here, and in every other open console when the stream announces the change.

import { api, post, seg } from './api.js';
import { h, replace, note, time, tree, badge } from './dom.js';
import { openStream } from './stream.js';

const KIND_LABEL = {
  input: 'Input requested',
  approval: 'Approval requested',
  arbitration: 'Arbitration requested',
  escalation: 'Escalation',
};

/** A stable key for an item, also its element id. */
function keyOf(it) {
  const sub = it.item && (it.item.id || it.item.approval_id || it.item.suspension_id);
  return `inbox-${it.kind}-${sub || it.intent_id}`;
}

export function inboxView(container) {
  const list = h('ol', { class: 'inbox', id: 'inbox-list', 'aria-live': 'polite' });
  const status = h('p', { class: 'muted', id: 'inbox-status' }, 'Loading…');
  replace(container, h('h1', {}, 'Inbox'),
    h('p', { class: 'muted' }, 'Everything waiting for a human, oldest first.'), status, list);
  const nodes = new Map();
  let loading = null;
  let again = false;

  async function load() {
    if (loading) {
      again = true;
      return loading;
    }
    loading = (async () => {
      do {
        again = false;
        try {
          const { items } = await api('GET', '/api/v1/inbox');
          render(items);
        } catch (e) {
          status.textContent = `Cannot read the inbox: ${e.message}`;
          status.className = 'error';
        }
      } while (again);
      loading = null;
    })();
    return loading;
  }

  function render(items) {
    const keep = new Set(items.map(keyOf));
    for (const [k, el] of nodes) {
      if (!keep.has(k)) {
        el.remove();
        nodes.delete(k);
      }
    }
    let prev = null;
    for (const it of items) {
      const k = keyOf(it);
      let el = nodes.get(k);
      if (!el) {
        el = itemView(it, k, () => {
          el.remove();
          nodes.delete(k);
          count();
          load();
        });
        nodes.set(k, el);
      }
      if (prev ? prev.nextSibling !== el : list.firstChild !== el) {
        if (prev) prev.after(el);
        else list.prepend(el);
      }
      prev = el;
    }
    count();
  }

  function count() {
    const n = nodes.size;
    status.className = 'muted';
    status.textContent = n === 0 ? 'Nothing is waiting for you.' : `${n} item${n === 1 ? '' : 's'} waiting.`;
    document.getElementById('inbox-count').textContent = n ? String(n) : '';
  }

  let timer = null;
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(load, 100);
  };
  const close = openStream('/api/v1/subscribe/inbox', {
    onOpen: load,
    onMessage: (m) => {
      if (m.event === 'inbox') soon();
    },
  });
  // Approval requests log no event, so the list is also read again now and then.
  const poll = setInterval(load, 15000);
  return () => {
    close();
    clearInterval(poll);
    clearTimeout(timer);
  };
}

function itemView(it, key, done) {
  const error = h('p', { class: 'error', role: 'alert' });
  const head = h('header', {},
    h('span', { class: `kind kind-${it.kind}` }, KIND_LABEL[it.kind] || it.kind),
    ' on ', h('a', { href: `#/intent/${encodeURIComponent(it.intent_id)}` }, it.intent_title || it.intent_id),
    ' ', badge(it.intent_status), ' ', time(it.created_at));
  const body = { input: inputForm, approval: approvalForm, arbitration: arbitrationForm, escalation: escalationForm }[it.kind];
  const act = async (fn) => {
    error.textContent = '';
    for (const b of el.querySelectorAll('button')) b.disabled = true;
    try {
      await fn();
      done();
    } catch (e) {
      error.textContent = `Refused: ${e.message}`;
      for (const b of el.querySelectorAll('button')) b.disabled = false;
    }
  };
  const el = h('li', { class: 'card item', id: key, 'data-kind': it.kind },
    head, body ? body(it, act) : tree(it.item), error);
  return el;
}

function field(label, input) {
  const id = `f-${Math.random().toString(36).slice(2)}`;
  input.setAttribute('id', id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), input);
}

function inputForm(it, act) {
  const rec = it.item || {};
  const iid = seg(it.intent_id);
  const answer = (value) => act(() => post(`/api/v1/intents/${iid}/suspend/respond`, { suspension_id: rec.id, value }));
  const choices = Array.isArray(rec.choices) && rec.choices.length ? rec.choices
    : rec.response_type === 'confirm' ? [{ value: 'yes', label: 'Yes' }, { value: 'no', label: 'No' }] : [];
  const text = h('input', { type: 'text', class: 'free-text' });
  const form = h('form', { class: 'row' }, field('Answer in your own words', text),
    h('button', { type: 'submit' }, 'Send answer'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (text.value.trim()) answer(text.value.trim());
  });
  return h('div', {},
    h('p', { class: 'question' }, rec.question || '(no question)'),
    Object.keys(rec.context || {}).length ? tree(rec.context, 'context') : null,
    choices.length ? h('div', { class: 'choices' }, choices.map((c) =>
      h('button', { type: 'button', class: c.style === 'danger' ? 'danger' : c.style === 'primary' ? 'primary' : '',
        title: c.description || '', onclick: () => answer(c.value) }, c.label || c.value))) : null,
    rec.response_type === 'choice' && choices.length ? null : form,
    rec.expires_at ? h('p', { class: 'muted' }, 'Times out ', time(rec.expires_at)) : null);
}

function approvalForm(it, act) {
  const a = it.item || {};
  const base = `/api/v1/intents/${seg(it.intent_id)}/approvals/${seg(a.id)}`;
  const reason = h('input', { type: 'text', class: 'reason' });
  const decide = (verb) => act(() => post(`${base}/${verb}`, reason.value.trim() ? { reason: reason.value.trim() } : {}));
  return h('div', {},
    h('p', {}, h('strong', {}, a.action || 'action'), ' requested by ', a.requested_by || '?',
      a.reason ? `: ${a.reason}` : ''),
    Object.keys(a.context || {}).length ? tree(a.context, 'context') : null,
    field('Reason (optional)', reason),
    h('div', { class: 'choices' },
      h('button', { type: 'button', class: 'primary', onclick: () => decide('approve') }, 'Approve'),
      h('button', { type: 'button', class: 'danger', onclick: () => decide('deny') }, 'Deny')));
}

function arbitrationForm(it, act) {
  const a = it.item || {};
  const options = Array.isArray(a.options) ? a.options : [];
  const outcome = options.length
    ? h('select', {}, options.map((o) => h('option', { value: o.label }, o.label)), h('option', { value: '' }, 'Other…'))
    : h('input', { type: 'text', class: 'outcome' });
  const other = h('input', { type: 'text', class: 'outcome-other' });
  const rationale = h('textarea', { rows: 2, class: 'rationale' });
  const form = h('form', {},
    field('Decision', outcome), options.length ? field('Other decision', other) : null,
    field('Rationale', rationale), h('button', { type: 'submit', class: 'primary' }, 'Record decision'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const chosen = (outcome.value || other.value).trim();
    if (!chosen) return;
    act(() => post(`/api/v1/intents/${seg(it.intent_id)}/decisions`, {
      decision_type: 'arbitration', outcome: chosen, rationale: rationale.value.trim(),
      evidence: [{ arbitration_id: a.id }],
    }));
  });
  return h('div', {},
    h('p', {}, 'Requested by ', a.requested_by || '?', ': ', a.reason || ''),
    options.length ? h('ul', {}, options.map((o) => h('li', {}, h('strong', {}, o.label), o.rationale ? ` — ${o.rationale}` : ''))) : null,
    Object.keys(a.context || {}).length ? tree(a.context, 'context') : null,
    form);
}

function escalationForm(it, act) {
  const e = it.item || {};
  const resolution = h('input', { type: 'text', class: 'resolution' });
  const notes = h('textarea', { rows: 2 });
  const form = h('form', {}, field('Resolution', resolution), field('Notes', notes),
    h('button', { type: 'submit', class: 'primary' }, 'Resolve'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!resolution.value.trim()) return;
    act(() => post(`/api/v1/escalations/${seg(e.id)}/resolve`, { resolution: resolution.value.trim(), notes: notes.value.trim() || undefined }));
  });
  return h('div', {},
    h('p', {}, badge(e.priority || e.urgency), ' by ', e.escalated_by || '?', ': ', e.reason || ''),
    Object.keys(e.context || {}).length ? tree(e.context, 'context') : null,
    form);
}
