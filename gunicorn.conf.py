"""gunicorn's settings (`gunicorn -c gunicorn.conf.py config.wsgi`): the worker timeout comes
from the Fakturoid timeout settings (fakturoid/timeouts.py), so a worker is never killed in the
middle of an invoice click that is still within its limits, and a claim it leaves behind is
taken over only after the worker is surely gone."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from fakturoid.timeouts import worker_timeout_seconds  # noqa: E402

wsgi_app = "config.wsgi"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
timeout = worker_timeout_seconds()
graceful_timeout = timeout
