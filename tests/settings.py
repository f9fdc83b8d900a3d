"""The test suite's settings: `config/settings.py` with the development defaults of
`.env.example` filled in, so `pytest` runs in a fresh clone without `make` or a `.env`.

A local `.env` and real environment variables still win: django-environ only fills in what is
not set yet, and `.env` is read first.
"""

from pathlib import Path

import environ

ROOT = Path(__file__).resolve().parent.parent
if (ROOT / ".env").is_file():
    environ.Env.read_env(ROOT / ".env")
environ.Env.read_env(ROOT / ".env.example")

from config.settings import *  # noqa: E402, F403
