"""Fast tests: in this process, no subprocess, no server, no trained model."""
