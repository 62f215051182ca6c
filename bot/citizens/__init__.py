"""What a citizen sees outside WhatsApp: personal signed links and the texts
of the citizen page and SMS."""
