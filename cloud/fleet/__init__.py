"""The terminals: their registry (keys, seqs), signed commands to them, their
rosters and alarms. Imports only cloud.core and cloud.models."""
