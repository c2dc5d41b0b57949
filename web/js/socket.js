// One websocket, many channels: connection state, full-jitter reconnect, resume by seq.
// Where websockets do not get through (`fallbackAfter`, 3, websockets in a row that never
// delivered a message), each channel follows an EventSource on /sse instead, with the same
// callbacks, while websockets are retried in the background; the first one that delivers takes
// over again. See docs/protocol.md. WebSocket and EventSource are injectable for tests.

export const State = Object.freeze({
  CONNECTING: "connecting",
  LIVE: "live",
  RECONNECTING: "reconnecting",
  OFFLINE: "offline",
});

export const Transport = Object.freeze({ WEBSOCKET: "websocket", SSE: "sse" });

// Messages that carry a channel's whole state: they reset seq, even backwards (a restart).
const SNAPSHOT_TYPES = new Set(["snapshot", "race"]);
const PING_EVERY_MS = 25_000;
const SILENT_LIMIT_MS = 60_000; // no frame at all for this long: the socket is dead
const HANDSHAKE_MS = 10_000; // a websocket with no message this long after it was made has failed
const EVENTSOURCE_CLOSED = 2; // EventSource.CLOSED: the browser gave up (an HTTP error): we retry

let inUse = Transport.WEBSOCKET;

// The transport the page's live socket uses now (the connection badge shows it).
export function transportInUse() {
  return inUse;
}

export function backoffDelay(attempt, baseMs = 500, capMs = 30_000, random = Math.random) {
  // Full jitter: a random wait in [0, min(cap, base * 2^attempt)).
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** attempt));
}

export function defaultUrl(loc = window.location) {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}/ws`;
}

export function sseUrl(channel, limit, base = "/sse") {
  const query = new URLSearchParams({ channel });
  if (limit) query.set("limit", String(limit));
  return `${base}?${query}`;
}

export class LiveSocket {
  constructor({
    url = defaultUrl(),
    sseBase = "/sse",
    WebSocketImpl = window.WebSocket,
    EventSourceImpl = window.EventSource,
    onState = () => {},
    baseMs = 500,
    capMs = 30_000,
    offlineAfter = 6,
    fallbackAfter = 3,
  } = {}) {
    this.url = url;
    this.sseBase = sseBase;
    this.WebSocketImpl = WebSocketImpl;
    this.EventSourceImpl = EventSourceImpl;
    this.onState = onState;
    this.backoff = { baseMs, capMs, offlineAfter };
    this.fallbackAfter = fallbackAfter;
    this.state = State.OFFLINE;
    this.transport = Transport.WEBSOCKET;
    this.channels = new Map(); // channel -> { handler, seq, limit, resuming }
    this.sources = new Map(); // channel -> EventSource, while on SSE
    this.attempt = 0;
    this.failures = 0; // websockets in a row that never delivered a message
    this.ws = null;
    this.wsDelivered = false;
    this.timer = null;
    this.pinger = null;
    this.handshake = null;
    this.stopped = false;
    this.lastFrameAt = 0;
    this.serverOffsetMs = 0; // server clock minus browser clock, from pongs
  }

  start() {
    this.stopped = false;
    this._open();
    if (!this._listening) {
      this._listening = true;
      window.addEventListener("online", () => this.reconnectNow());
    }
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.handshake);
    clearInterval(this.pinger);
    if (this.ws) this.ws.close(1000, "bye");
    this._closeSources();
    this._setState(State.OFFLINE);
  }

  // Try a websocket now (the browser came back online, say); on SSE too: the network may have changed.
  reconnectNow() {
    if (this.stopped || (this.state === State.LIVE && this.transport === Transport.WEBSOCKET)) return;
    clearTimeout(this.timer);
    this.attempt = 0;
    this._open();
  }

  subscribe(channel, handler, { limit } = {}) {
    this.channels.set(channel, { handler, seq: null, limit, resuming: false });
    this._sendSubscribe(channel);
    if (this.transport === Transport.SSE) this._openSource(channel);
    return () => this.unsubscribe(channel);
  }

  unsubscribe(channel) {
    if (!this.channels.delete(channel)) return;
    this._send({ op: "unsubscribe", channel });
    this._closeSource(channel);
  }

  // Forget where we were and ask for fresh snapshots (e.g. an OBS source became visible).
  resync() {
    if (this.state !== State.LIVE) {
      this.reconnectNow();
      return;
    }
    for (const [channel, entry] of this.channels) {
      entry.seq = null;
      this._sendSubscribe(channel);
      if (this.transport === Transport.SSE) this._openSource(channel);
    }
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.onState(state, this.transport);
  }

  _setTransport(transport) {
    if (this.transport === transport) return;
    this.transport = inUse = transport;
    this.onState(this.state, transport);
  }

  // ---- the websocket --------------------------------------------------------------------

  _open() {
    if (this.stopped) return;
    if (this.ws) {
      const old = this.ws;
      this.ws = null;
      old.onclose = null;
      old.close();
    }
    if (this.transport === Transport.WEBSOCKET) {
      this._setState(this.attempt === 0 && this.state === State.OFFLINE ? State.CONNECTING : this.state);
    }
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url);
    } catch {
      this._wsFailed();
      return;
    }
    this.ws = ws;
    this.wsDelivered = false;
    clearTimeout(this.handshake);
    // A proxy may hold the upgrade, or let it through and nothing after: that is a failure too.
    this.handshake = setTimeout(() => this.ws === ws && !this.wsDelivered && ws.close(), HANDSHAKE_MS);
    ws.onopen = () => {
      this.lastFrameAt = Date.now();
      if (this.transport === Transport.WEBSOCKET) this._setState(State.LIVE);
      for (const channel of this.channels.keys()) this._sendSubscribe(channel);
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this._heartbeat(), PING_EVERY_MS);
      this._send({ op: "ping" });
    };
    ws.onmessage = (event) => {
      this.lastFrameAt = Date.now();
      if (!this.wsDelivered) this._wsDelivered();
      this._onMessage(event.data);
    };
    ws.onclose = () => {
      clearInterval(this.pinger);
      clearTimeout(this.handshake);
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.wsDelivered) this._scheduleReconnect();
      else this._wsFailed();
    };
    ws.onerror = () => {}; // onclose follows and handles it
  }

  // The websocket works: it is the transport again, whatever it was.
  _wsDelivered() {
    this.wsDelivered = true;
    this.attempt = 0;
    this.failures = 0;
    if (this.transport === Transport.SSE) {
      this._closeSources();
      this._setTransport(Transport.WEBSOCKET);
      this._setState(State.LIVE);
    }
  }

  _wsFailed() {
    this.failures += 1;
    if (this.transport === Transport.WEBSOCKET && this.failures >= this.fallbackAfter && this.EventSourceImpl) {
      this._setTransport(Transport.SSE);
      this._setState(State.CONNECTING);
      for (const channel of this.channels.keys()) this._openSource(channel);
    }
    this._scheduleReconnect();
  }

  _heartbeat() {
    if (Date.now() - this.lastFrameAt > SILENT_LIMIT_MS && this.ws) {
      this.ws.close(); // half-open: nothing came back; onclose reconnects
      return;
    }
    this._send({ op: "ping" });
  }

  _scheduleReconnect() {
    if (this.stopped) return;
    const { baseMs, capMs, offlineAfter } = this.backoff;
    if (this.transport === Transport.WEBSOCKET) {
      const offline = this.attempt >= offlineAfter || navigator.onLine === false;
      this._setState(offline ? State.OFFLINE : State.RECONNECTING);
    }
    const delay = backoffDelay(this.attempt++, baseMs, capMs);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this._open(), delay);
  }

  _send(message) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(message));
  }

  _sendSubscribe(channel) {
    const entry = this.channels.get(channel);
    if (!entry) return;
    const message = { op: "subscribe", channel };
    if (entry.seq !== null) message.since = entry.seq;
    if (entry.limit) message.limit = entry.limit;
    this._send(message);
  }

  // ---- SSE: one EventSource per channel -------------------------------------------------

  _openSource(channel) {
    this._closeSource(channel);
    const entry = this.channels.get(channel);
    if (!entry || this.stopped) return;
    const source = new this.EventSourceImpl(sseUrl(channel, entry.limit, this.sseBase));
    this.sources.set(channel, source);
    source.onopen = () => this._sourcesChanged();
    source.onmessage = (event) => this._onMessage(event.data);
    source.onerror = () => {
      if (this.sources.get(channel) !== source) return;
      if (source.readyState === EVENTSOURCE_CLOSED) {
        // Refused (429, 503...): the browser will not retry this one by itself.
        source.close();
        const retry = () => this.transport === Transport.SSE && this.sources.get(channel) === source && this._openSource(channel);
        setTimeout(retry, backoffDelay(3, this.backoff.baseMs, this.backoff.capMs));
      }
      this._sourcesChanged();
    };
  }

  _closeSource(channel) {
    const source = this.sources.get(channel);
    if (!source) return;
    source.onerror = null;
    source.close();
    this.sources.delete(channel);
  }

  _closeSources() {
    for (const channel of [...this.sources.keys()]) this._closeSource(channel);
  }

  _sourcesChanged() {
    if (this.transport !== Transport.SSE) return;
    const open = [...this.sources.values()].every((source) => source.readyState === 1);
    this._setState(open ? State.LIVE : this.state === State.LIVE ? State.RECONNECTING : this.state);
  }

  _resume(channel) {
    if (this.transport === Transport.SSE) this._openSource(channel); // a fresh snapshot
    else this._sendSubscribe(channel);
  }

  // ---- messages, whichever way they came ------------------------------------------------

  _onMessage(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (msg.type === "pong") {
      this.serverOffsetMs = Date.parse(msg.server_now) - Date.now();
      return;
    }
    const entry = msg.channel ? this.channels.get(msg.channel) : null;
    if (!entry) return;
    if (msg.type === "tick" || msg.type === "error" || msg.seq === undefined) {
      // Ticks come from each server's own clock and do not advance seq.
      entry.handler(msg);
      return;
    }
    if (SNAPSHOT_TYPES.has(msg.type) || entry.seq === null) {
      entry.seq = msg.seq;
      entry.resuming = false;
      entry.handler(msg);
      return;
    }
    if (msg.seq <= entry.seq) return; // already applied
    if (msg.seq !== entry.seq + 1) {
      // A gap: ask once to resume from what we have; the server replays or sends a snapshot.
      if (!entry.resuming) {
        entry.resuming = true;
        this._resume(msg.channel);
      }
      return;
    }
    entry.seq = msg.seq;
    entry.resuming = false;
    entry.handler(msg);
  }
}
