"""Developer tooling, never deployed in a town: the local stack (`python -m
bot.dev`), the sandbox services (booking system, WhatsApp simulator, SMS
centre), process control for tests and benchmarks, and NLU scoring."""
