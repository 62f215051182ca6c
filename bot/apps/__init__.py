"""Entry points, the top layer: the web app, the worker, the action server,
the Rasa server with its patches, and the command-line tools. Nothing in
bot/ imports them; they wire the domain packages to a provider."""
