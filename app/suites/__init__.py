"""Conversation test suites: YAML files of conversations with what the bot must do at each
turn, run through the bot's own turn code on a scratch database (`python -m app test
conversations`, the admin console's Tests page)."""
