"""Recorda's web app: the citizen's page of a personal link (`/c/<token>`,
sent by the SMS fallback) and the staff console (`/console`).
Run it with `python -m bot.apps.web --host 127.0.0.1 --port 8080`."""
