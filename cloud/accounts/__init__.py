"""People: passwords and sessions, signing in with its throttles, users, password
changes and reset links. Imports cloud.core, cloud.fleet and cloud.models."""
