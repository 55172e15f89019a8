// The console's entry point: sign-in, the header, and the views chosen by the URL fragment
// (#/inbox, #/intents, #/intent/<id>, #/portfolios, #/agents).

import { api, session, signIn, signOut, whenRefused } from './api.js';
import { h, replace, note } from './dom.js';
import { onConnectionChange } from './stream.js';
import { inboxView } from './inbox.js';
import { intentsView } from './intents.js';
import { intentView } from './intent.js';
import { portfoliosView, agentsView } from './fleet.js';

const main = document.getElementById('main');
let closeView = () => {};

function signInView(message) {
  const key = h('input', { id: 'api-key', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
  const agent = h('input', { id: 'agent-id', type: 'text', autocomplete: 'username', required: true, spellcheck: 'false' });
  const error = h('p', { id: 'sign-in-error', class: 'error', role: 'alert' }, message || '');
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'card sign-in', id: 'sign-in' },
    h('h1', {}, 'Sign in'),
    h('p', { class: 'muted' }, 'Your API key stays in this browser tab only and is sent as a header with each request.'),
    h('label', { for: 'api-key' }, 'API key'), key,
    h('label', { for: 'agent-id' }, 'Display name (your agent id)'), agent,
    button, error);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    button.disabled = true;
    signIn(key.value.trim(), agent.value.trim());
    try {
      // Any keyed read checks the key.
      await api('GET', '/api/v1/intents?limit=1');
      route();
    } catch (e) {
      signOut();
      error.textContent = e.status === 401 || e.status === 403
        ? `The server refused this key (${e.status}): ${e.detail}`
        : `Cannot sign in: ${e.message}`;
    } finally {
      button.disabled = false;
    }
  });
  replace(main, form);
  key.focus();
}

function header(signedIn) {
  document.getElementById('nav').hidden = !signedIn;
  document.getElementById('who').hidden = !signedIn;
  const s = session();
  document.getElementById('agent-name').textContent = s ? s.agent : '';
  const view = (location.hash.match(/^#\/(\w+)/) || [])[1] || 'inbox';
  for (const a of document.querySelectorAll('#nav a')) {
    const current = a.dataset.view === view || (view === 'intent' && a.dataset.view === 'intents');
    if (current) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function route() {
  closeView();
  closeView = () => {};
  if (!session()) {
    header(false);
    signInView();
    return;
  }
  header(true);
  const hash = location.hash || '#/inbox';
  const [, view, arg] = hash.match(/^#\/([\w-]+)(?:\/(.+))?$/) || [];
  const container = h('div', { class: 'view' });
  replace(main, container);
  try {
    if (view === 'intents') closeView = intentsView(container, new URLSearchParams(arg || ''));
    else if (view === 'intent' && arg) closeView = intentView(container, decodeURIComponent(arg));
    else if (view === 'portfolios') closeView = portfoliosView(container);
    else if (view === 'agents') closeView = agentsView(container);
    else closeView = inboxView(container);
  } catch (e) {
    replace(container, note(`The view failed: ${e.message}`, 'error'));
  }
}

document.getElementById('sign-out').addEventListener('click', () => {
  closeView();
  closeView = () => {};
  signOut();
  location.hash = '#/inbox';
  route();
});

whenRefused((err) => {
  closeView();
  closeView = () => {};
  signOut();
  header(false);
  signInView(`The server refused this key (${err.status}): ${err.detail}`);
});

onConnectionChange((st) => {
  const el = document.getElementById('connection');
  el.className = `conn conn-${st}`;
  el.textContent = st === 'live' ? 'live' : st === 'down' ? 'reconnecting…' : 'idle';
});

window.addEventListener('hashchange', route);
route();
