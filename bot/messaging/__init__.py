"""Provider-independent messaging: the reminder template, the button-payload
grammar, the seal on verified inbound messages, SMS text, webhook receipts and
the client that starts a bot turn in Rasa. Channels in connectors/ implement
the provider side."""
