"""The citizen side: kiosk and QR/link answering, submission (form + JSON API)."""
