// A race channel's messages folded into one state: the race, its standings, status and deadline.

import { deadlineOf } from "./countdown.js";

export function emptyRace() {
  return { race: null, status: null, standings: [], winners: null, deadline: null, syncedAt: null, seen: false };
}

function sameRace(state, msg) {
  return !state.race || msg.race_id === undefined || String(msg.race_id) === String(state.race.id);
}

export function reduceRace(state, msg) {
  switch (msg.type) {
    case "race": {
      const race = msg.race || null;
      const status = race ? race.status : null;
      let deadline = deadlineOf(race, status);
      if (deadline === null && race && msg.seconds_left != null && msg.server_now) deadline = Date.parse(msg.server_now) + msg.seconds_left * 1000;
      const winners = race && race.id === (state.race && state.race.id) ? state.winners : null;
      return { ...state, race, status, standings: msg.standings || [], winners, deadline, seen: true };
    }
    case "tick": {
      if (!sameRace(state, msg)) return state;
      const race = state.race && state.race.status !== msg.status ? { ...state.race, status: msg.status } : state.race;
      let deadline = deadlineOf(race, msg.status);
      if (deadline === null && msg.seconds_left != null && (msg.status === "live" || msg.status === "upcoming")) {
        deadline = Date.parse(msg.server_now) + msg.seconds_left * 1000;
      }
      return { ...state, race, status: msg.status, deadline };
    }
    case "status": {
      if (!sameRace(state, msg)) return state;
      const race = state.race ? { ...state.race, status: msg.status } : null;
      return { ...state, race, status: msg.status, deadline: deadlineOf(race, msg.status) };
    }
    case "standings":
      if (!sameRace(state, msg)) return state;
      return { ...state, standings: msg.standings || [], syncedAt: msg.synced_at ? Date.parse(msg.synced_at) : state.syncedAt };
    case "race_ended": {
      if (!sameRace(state, msg)) return state;
      const race = state.race ? { ...state.race, status: "ended" } : null;
      return { ...state, race, status: "ended", winners: msg.winners || [], deadline: null };
    }
    default:
      return state;
  }
}
