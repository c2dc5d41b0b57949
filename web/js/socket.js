// One websocket, many channels: connection state, full-jitter reconnect, resume by seq.
// See docs/protocol.md. The WebSocket constructor is injectable so this can be tested.

export const State = Object.freeze({
  CONNECTING: "connecting",
  LIVE: "live",
  RECONNECTING: "reconnecting",
  OFFLINE: "offline",
});

// Messages that carry a channel's whole state: they reset seq, even backwards (a restart).
const SNAPSHOT_TYPES = new Set(["snapshot", "race"]);
const PING_EVERY_MS = 25_000;
const SILENT_LIMIT_MS = 60_000; // no frame at all for this long: the socket is dead

export function backoffDelay(attempt, baseMs = 500, capMs = 30_000, random = Math.random) {
  // Full jitter: a random wait in [0, min(cap, base * 2^attempt)).
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** attempt));
}

export function defaultUrl(loc = window.location) {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}/ws`;
}

export class LiveSocket {
  constructor({
    url = defaultUrl(),
    WebSocketImpl = window.WebSocket,
    onState = () => {},
    baseMs = 500,
    capMs = 30_000,
    offlineAfter = 6,
  } = {}) {
    this.url = url;
    this.WebSocketImpl = WebSocketImpl;
    this.onState = onState;
    this.backoff = { baseMs, capMs, offlineAfter };
    this.state = State.OFFLINE;
    this.channels = new Map(); // channel -> { handler, seq, limit, resuming }
    this.attempt = 0;
    this.ws = null;
    this.timer = null;
    this.pinger = null;
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
    clearInterval(this.pinger);
    if (this.ws) this.ws.close(1000, "bye");
    this._setState(State.OFFLINE);
  }

  reconnectNow() {
    if (this.state === State.LIVE || this.stopped) return;
    clearTimeout(this.timer);
    this.attempt = 0;
    this._open();
  }

  subscribe(channel, handler, { limit } = {}) {
    this.channels.set(channel, { handler, seq: null, limit, resuming: false });
    this._sendSubscribe(channel);
    return () => this.unsubscribe(channel);
  }

  unsubscribe(channel) {
    if (!this.channels.delete(channel)) return;
    this._send({ op: "unsubscribe", channel });
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
    }
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.onState(state);
  }

  _open() {
    if (this.stopped) return;
    if (this.ws) {
      const old = this.ws;
      this.ws = null;
      old.onclose = null;
      old.close();
    }
    this._setState(this.attempt === 0 && this.state === State.OFFLINE ? State.CONNECTING : this.state);
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url);
    } catch {
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.lastFrameAt = Date.now();
      this._setState(State.LIVE);
      for (const channel of this.channels.keys()) this._sendSubscribe(channel);
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this._heartbeat(), PING_EVERY_MS);
      this._send({ op: "ping" });
    };
    ws.onmessage = (event) => {
      this.lastFrameAt = Date.now();
      this._onMessage(event.data);
    };
    ws.onclose = () => {
      clearInterval(this.pinger);
      if (this.ws !== ws) return;
      this.ws = null;
      this._scheduleReconnect();
    };
    ws.onerror = () => {}; // onclose follows and handles it
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
    const offline = this.attempt >= offlineAfter || navigator.onLine === false;
    this._setState(offline ? State.OFFLINE : State.RECONNECTING);
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
        this._sendSubscribe(msg.channel);
      }
      return;
    }
    entry.seq = msg.seq;
    entry.resuming = false;
    entry.handler(msg);
  }
}
