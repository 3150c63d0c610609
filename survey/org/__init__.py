"""The administrative tree (levels and units as data), agencies, service points and kiosks."""
