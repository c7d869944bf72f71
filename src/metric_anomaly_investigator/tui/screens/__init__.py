"""Screens of the TUI, each with its own .tcss file next to it."""
