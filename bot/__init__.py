"""Recorda: the application around the Rasa assistant."""
