// How the agent console tells the agent things: the error toast, guard() (an action whose
// failure goes to the toast), the sound of a new handoff, and soon() (a refresh debounced by
// key, so a burst of live events costs one request).

import { $ } from "../shared/dom.js";
import { ApiError } from "./api.js";
import { state } from "./state.js";

let toastTimer = null;

export function showError(error) {
  const message = error instanceof ApiError || error instanceof Error ? error.message : String(error);
  const toast = $("toast");
  toast.textContent = message;
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    toast.hidden = true;
  }, 8000);
}

export function guard(fn) {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (error) {
      showError(error);
      return undefined;
    }
  };
}

export function beep() {
  if (!$("sound").checked) return;
  try {
    state.audio = state.audio || new AudioContext();
    const ctx = state.audio;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.08, ctx.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 0.25);
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.25);
  } catch {
    // sound is a nicety; the badge says the same
  }
}

const debounced = new Map();

export function soon(key, fn, ms = 120) {
  clearTimeout(debounced.get(key));
  debounced.set(key, setTimeout(guard(fn), ms));
}

/** Drop the refreshes not run yet (signing out: their token is about to be revoked). */
export function cancelRefreshes() {
  for (const timer of debounced.values()) clearTimeout(timer);
  debounced.clear();
}
