// One websocket, many channels: connection state, full-jitter reconnect, resume by seq.
// See docs/protocol.md. The WebSocket constructor is injectable so this can be tested.

export const State = Object.freeze({
  CONNECTING: "connecting",
  LIVE: "live",
  RECONNECTING: "reconnecting",
  OFFLINE: "offline",
});

const PING_EVERY_MS = 25_000;

export function backoffDelay(attempt, baseMs = 500, capMs = 30_000, random = Math.random) {
  // Full jitter: a random wait in [0, min(cap, base * 2^attempt)).
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** attempt));
}

export function defaultUrl(loc = window.location) {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}/ws`;
}

export class LiveSocket {
  constructor({ url = defaultUrl(), WebSocketImpl = window.WebSocket, onState = () => {} } = {}) {
    this.url = url;
    this.WebSocketImpl = WebSocketImpl;
    this.onState = onState;
    this.state = State.OFFLINE;
    this.channels = new Map(); // channel -> { handler, seq, limit }
    this.attempt = 0;
    this.ws = null;
    this.timer = null;
    this.pinger = null;
    this.stopped = false;
    this.serverOffsetMs = 0; // server clock minus browser clock, from pongs
  }

  start() {
    this.stopped = false;
    this._open();
    window.addEventListener("online", () => this.reconnectNow());
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
    this.channels.set(channel, { handler, seq: null, limit });
    this._sendSubscribe(channel);
    return () => this.unsubscribe(channel);
  }

  unsubscribe(channel) {
    this.channels.delete(channel);
    this._send({ op: "unsubscribe", channel });
  }

  // Forget where we were and ask for fresh snapshots (e.g. an OBS source became visible).
  resync() {
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
    this._setState(this.attempt === 0 && this.state === State.OFFLINE ? State.CONNECTING : State.RECONNECTING);
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url);
    } catch (err) {
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this._setState(State.LIVE);
      for (const channel of this.channels.keys()) this._sendSubscribe(channel);
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this._send({ op: "ping" }), PING_EVERY_MS);
      this._send({ op: "ping" });
    };
    ws.onmessage = (event) => this._onMessage(event.data);
    ws.onclose = () => {
      clearInterval(this.pinger);
      if (this.ws === ws) this.ws = null;
      this._scheduleReconnect();
    };
    ws.onerror = () => {}; // onclose follows and handles it
  }

  _scheduleReconnect() {
    if (this.stopped) return;
    this._setState(this.attempt > 6 ? State.OFFLINE : State.RECONNECTING);
    const delay = backoffDelay(this.attempt++);
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
    if (msg.type === "snapshot" || entry.seq === null || msg.seq === undefined) {
      if (msg.seq !== undefined) entry.seq = msg.seq;
      entry.handler(msg);
      return;
    }
    if (msg.type === "tick") {
      // Ticks come from each server's own clock and do not advance seq.
      entry.handler(msg);
      return;
    }
    if (msg.seq <= entry.seq) return; // already applied
    if (msg.seq !== entry.seq + 1) {
      // A gap: ask to resume from what we have; the server replays or sends a snapshot.
      this._sendSubscribe(msg.channel);
      return;
    }
    entry.seq = msg.seq;
    entry.handler(msg);
  }
}
