"""Rasa channel connectors for Recorda (MessageBird WhatsApp first)."""
