"""Stand-ins for a demo and the tests: a booking service and a WhatsApp
platform simulator. Nothing here runs in production."""
