"""The whole Recorda stack started for real (bot.dev.stack), or a browser."""
