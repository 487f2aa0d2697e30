"""The AI engine: text encoder, micro-batching. No web imports here."""
