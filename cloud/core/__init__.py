"""The cloud's foundations: configuration, the database and its SQL helpers, errors,
the audit trail, metrics, device-key encryption, the app keys and the live feed.
Imports nothing from the rest of cloud/ except cloud.models."""
