"""Secrets never leave in a message: passwords in connection strings are masked.

A URL's password (``postgresql+psycopg://user:secret@host/db``) and a Redis connection
string's ``password=...`` become ``***`` wherever they appear in a text, so an error that
quotes a URI, or a driver's message that does, can be shown, returned and logged.
"""

from __future__ import annotations

import re

__all__ = ["MASK", "redacted"]

MASK = "***"
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*):[^@\s]+@")
_PARAM_PASSWORD = re.compile(r"(?P<head>\bpassword=)[^,;&\s]+", re.IGNORECASE)


def redacted(text: str) -> str:
    """``text`` with every password it quotes masked."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}:{MASK}@", text)
    return _PARAM_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", text)
