"""Live events: the broker (in memory, or Redis pub/sub) and the WebSocket streams."""
