// The staff WebSocket (/api/v1/agent/stream): authenticates with a first frame, reconnects
// with backoff, and reports each `hello` so the console can re-read what it may have missed
// (the agent stream has no replay; see docs/agents.md).

const UNAUTHORIZED = 4401;
const PING_MS = 25_000;

export class AgentStream {
  constructor({ token, onEvent, onStatus, onAuthFailed }) {
    this.token = token;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onAuthFailed = onAuthFailed;
    this.ws = null;
    this.attempt = 0;
    this.stopped = true;
    this.retryTimer = null;
    this.pingTimer = null;
  }

  get url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/api/v1/agent/stream`;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, "signed out");
  }

  connect() {
    if (this.stopped) return;
    this.onStatus("connecting");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      ws.send(JSON.stringify({ type: "auth", token: this.token }));
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => {
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "ping" }));
      }, PING_MS);
    });
    ws.addEventListener("message", (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (!event || typeof event.type !== "string") return;
      if (event.type === "hello") {
        this.attempt = 0;
        this.onStatus("live");
      }
      this.onEvent(event);
    });
    ws.addEventListener("close", (closed) => {
      if (this.ws !== ws) return; // replaced or stopped
      this.ws = null;
      clearInterval(this.pingTimer);
      if (this.stopped) return;
      if (closed.code === UNAUTHORIZED) {
        this.onStatus("offline");
        this.onAuthFailed(closed.reason);
        return;
      }
      this.retry();
    });
  }

  retry() {
    if (this.stopped) return;
    const delay = Math.min(30_000, 500 * 2 ** this.attempt) + Math.random() * 300;
    this.attempt += 1;
    this.onStatus("reconnecting", delay);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}
