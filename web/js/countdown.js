// Race countdown on the server's clock: every browser shows the same second.

// Network delay only ever makes server_now look older than it is, so the largest
// recent estimate of (server clock - browser clock) is the closest one.
export class ServerClock {
  constructor(window = 10) {
    this.samples = [];
    this.window = window;
  }

  observe(serverNowIso, receivedAt = Date.now()) {
    const serverNow = Date.parse(serverNowIso);
    if (Number.isNaN(serverNow)) return;
    this.samples.push(serverNow - receivedAt);
    if (this.samples.length > this.window) this.samples.shift();
  }

  get offsetMs() {
    return this.samples.length ? Math.max(...this.samples) : 0;
  }

  now(browserNow = Date.now()) {
    return browserNow + this.offsetMs;
  }
}

// The instant (server clock, ms) the countdown runs to: the start of an upcoming race,
// the end of a live one, none otherwise.
export function deadlineOf(race, status = race && race.status) {
  if (!race) return null;
  const at = status === "upcoming" ? race.starts_at : status === "live" ? race.ends_at : null;
  const ms = at ? Date.parse(at) : NaN;
  return Number.isNaN(ms) ? null : ms;
}

export function secondsLeft(deadlineMs, serverNowMs) {
  if (deadlineMs === null) return null;
  return Math.max(0, Math.ceil((deadlineMs - serverNowMs) / 1000));
}

// Split whole seconds into the clock's boxes.
export function splitSeconds(total) {
  const s = Math.max(0, Math.floor(total));
  return { days: Math.floor(s / 86400), hours: Math.floor((s % 86400) / 3600), minutes: Math.floor((s % 3600) / 60), seconds: s % 60 };
}

export function formatCountdown(total) {
  const { days, hours, minutes, seconds } = splitSeconds(total);
  const pad = (n) => String(n).padStart(2, "0");
  const clock = `${pad(hours)}:${pad(minutes)}:${pad(seconds)}`;
  return days ? `${days}d ${clock}` : clock;
}
