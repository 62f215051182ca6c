"""Language rules the NLU pipeline uses (components/language_detector.py)."""
