// One load-generator process for bench/fanout_bench.py --loadgen node: many `ws` clients.
//
//   node bench/node/loadgen.mjs --url ws://127.0.0.1:8000/ws [--subscribe TEXT] [--ping-every 55]
//                               [--capture] [--connect-timeout 30]
//
// Driven by JSON lines on stdin, answers JSON lines on stdout (bench/node_loadgen.py):
//   {"cmd":"connect","count":N,"concurrency":C} -> {"opened":..,"failed":..,"seconds":..}
//   {"cmd":"collect"}                           -> what fanout_bench.Load.collect() returns
//   {"cmd":"stop"}                              -> {"stopped":true}, then exits
// A client counts as opened when its first snapshot arrives (on open when there is no
// subscribe text). Each delta's latency is its receive time minus its `synced_at`, kept per
// broadcast (keyed by the `synced_at` string) like the Python load generator keeps it.

import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import WebSocket from "ws";

const { values: opts } = parseArgs({
  options: {
    url: { type: "string" },
    subscribe: { type: "string" },
    "ping-every": { type: "string", default: "0" },
    capture: { type: "boolean", default: false },
    "connect-timeout": { type: "string", default: "30" },
  },
});
if (!opts.url) {
  process.stderr.write("loadgen.mjs: --url is required\n");
  process.exit(2);
}
const URL_ = opts.url;
const SUBSCRIBE = opts.subscribe ?? null;
const PING_EVERY = Number(opts["ping-every"]) || 0;
const CAPTURE = opts.capture;
const CONNECT_TIMEOUT = Number(opts["connect-timeout"]) * 1000;

const DELTA = Buffer.from('{"type":"delta"');
const SNAPSHOT = Buffer.from('{"type":"snapshot"');
const SYNCED_AT = Buffer.from('"synced_at":"');
const PING = '{"op":"ping"}';
const QUOTE = 0x22;

// ---- what arrived ----------------------------------------------------------------------

const clients = []; // every client that opened (closed ones stay: held = clients - closed)
let latency = new Map(); // synced_at string -> [seconds, ...]
let stamp = new Map(); // synced_at string -> epoch seconds
let texts = new Map(); // synced_at string -> text (capture only)
let sizes = new Map(); // synced_at string -> bytes
let snapshot = null;
let other = 0;
let closed = 0;
const errors = {};

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:?\d{2})?$/i;

// Epoch seconds of an ISO-8601 time, to the microsecond as Python's datetime.timestamp()
// computes it (integer microseconds / 1e6); Date.parse would stop at milliseconds.
function epochSeconds(text) {
  const m = ISO.exec(text);
  if (m === null) return NaN;
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  let micros = ms * 1000 + (m[7] ? Number((m[7] + "00000").slice(0, 6)) : 0);
  const zone = m[8];
  if (zone && zone.toUpperCase() !== "Z") {
    const sign = zone[0] === "-" ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    micros -= sign * (Number(digits.slice(0, 2)) * 3600 + Number(digits.slice(2, 4)) * 60) * 1e6;
  }
  return micros / 1e6;
}

function startsWith(buf, prefix) {
  return buf.length >= prefix.length && buf.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

function onMessage(client, data, isBinary) {
  const now = (performance.timeOrigin + performance.now()) / 1000;
  if (isBinary) return; // the Python load generator reads text frames only
  if (startsWith(data, DELTA)) {
    const at = data.indexOf(SYNCED_AT);
    const end = at < 0 ? -1 : data.indexOf(QUOTE, at + SYNCED_AT.length);
    if (end < 0) {
      other += 1;
      return;
    }
    const key = data.toString("latin1", at + SYNCED_AT.length, end);
    let lat = latency.get(key);
    if (lat === undefined) {
      stamp.set(key, epochSeconds(key));
      lat = [];
      latency.set(key, lat);
      sizes.set(key, data.length);
      if (CAPTURE) texts.set(key, data.toString("utf8"));
    }
    lat.push(now - stamp.get(key));
  } else if (startsWith(data, SNAPSHOT)) {
    if (CAPTURE && snapshot === null) snapshot = data.toString("utf8");
    client.opened();
  } else {
    other += 1; // pongs, presence, errors
  }
}

// ---- connecting ------------------------------------------------------------------------

function errorName(err) {
  if (err.code) return err.code; // ECONNREFUSED, ECONNRESET, ...
  const status = /Unexpected server response: (\d+)/.exec(err.message ?? "");
  return status ? `HTTP ${status[1]}` : err.name || "Error";
}

function openOne() {
  return new Promise((resolve) => {
    const ws = new WebSocket(URL_, { perMessageDeflate: false });
    const client = { ws, ready: false, ping: null, opened: null };
    let settled = false;
    const timer = setTimeout(() => fail("TimeoutError"), CONNECT_TIMEOUT);

    function fail(name) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      errors[name] = (errors[name] ?? 0) + 1;
      ws.terminate();
      resolve();
    }

    client.opened = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.ready = true;
      clients.push(client);
      if (PING_EVERY > 0) {
        const tick = () => {
          if (ws.readyState !== WebSocket.OPEN) return;
          ws.send(PING);
          client.ping = setTimeout(tick, PING_EVERY * 1000);
        };
        client.ping = setTimeout(tick, PING_EVERY * 1000 * (0.9 + 0.1 * Math.random()));
      }
      resolve();
    };

    ws.on("open", () => {
      if (SUBSCRIBE !== null) ws.send(SUBSCRIBE);
      else client.opened();
    });
    ws.on("message", (data, isBinary) => onMessage(client, data, isBinary));
    ws.on("error", (err) => fail(errorName(err))); // after opening, "close" follows
    ws.on("close", () => {
      clearTimeout(client.ping);
      if (client.ready) closed += 1;
      else fail("ConnectionClosed"); // closed before subscribing
    });
  });
}

async function connect(count, concurrency) {
  const started = performance.now();
  const before = clients.length;
  let next = 0;
  const runner = async () => {
    while (next < count) {
      next += 1;
      await openOne();
    }
  };
  const n = Math.max(0, Math.min(concurrency, count));
  await Promise.all(Array.from({ length: n }, runner));
  const opened = clients.length - before;
  return { opened, failed: count - opened, seconds: (performance.now() - started) / 1000 };
}

function collect() {
  const out = {
    latency: Object.fromEntries(latency),
    stamp: Object.fromEntries(stamp),
    texts: Object.fromEntries(texts),
    sizes: Object.fromEntries(sizes),
    snapshot,
    other,
    closed,
    errors,
    held: clients.length - closed,
  };
  latency = new Map();
  stamp = new Map();
  texts = new Map();
  sizes = new Map();
  other = 0;
  return out;
}

function stopAll() {
  for (const client of clients) {
    clearTimeout(client.ping);
    client.ws.terminate();
  }
}

// ---- the command loop ------------------------------------------------------------------

function reply(obj, then) {
  process.stdout.write(JSON.stringify(obj) + "\n", then);
}

let queue = Promise.resolve(); // one command at a time, in order
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  if (!line.trim()) return;
  queue = queue.then(async () => {
    const msg = JSON.parse(line);
    if (msg.cmd === "connect") {
      reply(await connect(msg.count, msg.concurrency));
    } else if (msg.cmd === "collect") {
      reply(collect());
    } else if (msg.cmd === "stop") {
      stopAll();
      reply({ stopped: true }, () => process.exit(0));
    } else {
      reply({ error: `unknown command ${JSON.stringify(msg.cmd)}` });
    }
  }).catch((err) => {
    process.stderr.write(`loadgen.mjs: ${err?.stack ?? err}\n`);
    process.exit(1);
  });
});
lines.on("close", () => {
  // stdin closed: the bench is gone (or done); leave no socket behind.
  queue = queue.finally(() => {
    stopAll();
    process.exit(0);
  });
});
