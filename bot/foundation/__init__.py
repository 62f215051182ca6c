"""The foundation: settings, database engine, clock, phone numbers, languages,
errors and running blocking calls off the event loop. Imports nothing else of
Recorda; everything else may import it."""
