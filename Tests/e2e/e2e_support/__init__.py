"""Helpers for Fedgate's end-to-end suite: start the real binary, drive it like a browser,
verify what it issues. Nothing here talks to anything but 127.0.0.1."""
