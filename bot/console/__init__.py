"""The staff console's logic, free of HTTP: accounts and sessions, reading
Rasa's tracker store, the day view, conversations, NLU review and the
retention purge. The pages are in bot.apps.web.console; the commands in
`python -m bot.apps.console_admin`."""
