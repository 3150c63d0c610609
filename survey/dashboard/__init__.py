"""Dashboards: agency pages (survey/dashboard/agency.py, blueprint `dashboard`), Home Affairs comparison pages
and charts (other modules of this package).  Every figure comes from survey/results; templates only format."""
