"""Rasa plug-ins of Recorda's own that endpoints.yml names by class path
(e.g. the lock store). They import Rasa and the foundation only."""
