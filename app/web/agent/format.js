// What the agent console shows of times, handoff reasons and sentiment scores, as text.

/** "45 s", "3 min", "2 h 5 min" */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `${hours} h ${rest} min` : `${hours} h`;
}

export function clockTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

const REASONS = {
  explicit_request: "Asked for a person",
  low_confidence: "Bot not confident",
  negative_sentiment: "Unhappy customer",
  repeated_fallback: "Bot kept missing",
  intent_requires_human: "Needs a person",
  action_failed: "Order system failed",
  action_outcome_unknown: "Outcome unknown: check first",
};

export function reasonLabel(reason) {
  if (!reason) return "Handoff";
  return REASONS[reason] || String(reason).replaceAll("_", " ");
}

export function sentimentLabel(value) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "unknown";
  const v = Number(value);
  const word = v <= -0.25 ? "negative" : v >= 0.2 ? "positive" : "neutral";
  return `${word} (${v.toFixed(2)})`;
}

export function sentimentClass(value) {
  if (value === null || value === undefined) return "neutral";
  const v = Number(value);
  return v <= -0.25 ? "negative" : v >= 0.2 ? "positive" : "neutral";
}
