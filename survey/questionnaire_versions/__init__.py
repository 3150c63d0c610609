"""Questionnaire versions stored in the database (loaded from `questionnaires/` definition files)."""
