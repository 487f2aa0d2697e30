"""The decision of each bot turn: a pure function of the signals, the conversation and settings."""
