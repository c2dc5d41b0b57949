// The overlay's race-end sound (`sound=1`): a short rising three-note chime made with WebAudio, no file.

const NOTES = [1046.5, 1318.5, 1568]; // C6, E6, G6
const STEP_S = 0.12;
const RING_S = 0.7;

// One context per chime, closed after it rings: a race ends rarely, and a context left open
// keeps the audio device busy all stream long.
export function chime(volume = 0.2) {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return false;
  const ctx = new Context();
  if (ctx.state === "suspended") ctx.resume().catch(() => {}); // OBS lets pages play sound unprompted
  const start = ctx.currentTime + 0.05;
  NOTES.forEach((frequency, i) => {
    const at = start + i * STEP_S;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = "sine";
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(volume, at + 0.015);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + RING_S);
    osc.connect(gain).connect(ctx.destination);
    osc.start(at);
    osc.stop(at + RING_S + 0.05);
  });
  setTimeout(() => ctx.close().catch(() => {}), (0.05 + NOTES.length * STEP_S + RING_S + 0.3) * 1000);
  return true;
}
