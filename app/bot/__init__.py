"""The bot's turn: what it reads in a customer message, what it decides and says, storing the
turn atomically and publishing it; above every domain it touches (docs/architecture.md)."""
