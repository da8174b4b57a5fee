"""The HTTP JSON API under /api/v1: views, their route table, and its OpenAPI document."""
