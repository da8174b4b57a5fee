"""Technician tools for one terminal: provision, bundle, flash, selftest."""
