// Server-sent events over fetch(): EventSource cannot send the X-API-Key header, so the
// stream is read with a ReadableStream and its frames are parsed here. A dropped connection
// is retried with backoff, sending Last-Event-ID so that the server replays what was missed.

import { authHeaders } from './api.js';

/** Every open stream's connection state, for the indicator in the header. */
const listeners = new Set();
const states = new Map();
let nextStream = 0;

export function onConnectionChange(fn) {
  listeners.add(fn);
  fn(overall());
}

/** 'live' when every open stream is connected, 'down' when one is not, 'idle' with none. */
function overall() {
  if (states.size === 0) return 'idle';
  return [...states.values()].every((s) => s === 'live') ? 'live' : 'down';
}

function setState(id, st) {
  if (st === null) states.delete(id);
  else states.set(id, st);
  const o = overall();
  for (const fn of listeners) fn(o);
}

/**
 * Opens the stream at `path` and calls `onMessage({event, data, id})` for each message
 * (`data` parsed as JSON when it is). `onOpen()` runs on every (re)connection. Returns a
 * function that closes it. Options: `lastEventId` to resume after.
 */
export function openStream(path, { onMessage, onOpen = () => {}, onError = () => {}, lastEventId = null } = {}) {
  const id = nextStream++;
  let last = lastEventId;
  let closed = false;
  let controller = null;
  let delay = 500;

  async function connect() {
    while (!closed) {
      controller = new AbortController();
      setState(id, 'connecting');
      try {
        const headers = { ...authHeaders(), Accept: 'text/event-stream' };
        if (last) headers['Last-Event-ID'] = last;
        const resp = await fetch(path, { headers, signal: controller.signal, cache: 'no-store' });
        if (!resp.ok) {
          const err = new Error(`${resp.status} ${resp.statusText}`);
          err.status = resp.status;
          onError(err);
          if (resp.status === 401 || resp.status === 403 || resp.status === 404) {
            setState(id, null);
            return;
          }
          throw err;
        }
        setState(id, 'live');
        delay = 500;
        onOpen();
        await read(resp.body);
      } catch (e) {
        if (closed) break;
      }
      if (closed) break;
      setState(id, 'down');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10000);
    }
    setState(id, null);
  }

  async function read(body) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = frameEnd(buffer)) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut);
        dispatch(frame);
      }
    }
  }

  function dispatch(frame) {
    let event = 'message';
    const data = [];
    let msgId = null;
    for (const line of frame.split(/\r\n|\r|\n/)) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let val = colon < 0 ? '' : line.slice(colon + 1);
      if (val.startsWith(' ')) val = val.slice(1);
      if (field === 'event') event = val;
      else if (field === 'data') data.push(val);
      else if (field === 'id') msgId = val;
    }
    if (msgId !== null) last = msgId;
    if (data.length === 0) return;
    const text = data.join('\n');
    let parsed = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
    onMessage({ event, data: parsed, id: msgId });
  }

  connect();
  return () => {
    closed = true;
    if (controller) controller.abort();
    setState(id, null);
  };
}

/** Where the first frame in `buf` ends (after its blank line), or -1. */
function frameEnd(buf) {
  const m = /(\r\n|\r|\n)(\r\n|\r|\n)/.exec(buf);
  return m ? m.index + m[0].length : -1;
}
