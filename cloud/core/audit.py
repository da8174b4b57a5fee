"""The audit trail: one row per change a person or device made."""

from __future__ import annotations

from typing import Any

from fingerpos.cloud.models.alarms import AuditEntry


async def record(actor: str, action: str, target: str = "", detail: dict[str, Any] | None = None,
                 user_id: int | None = None, using_db: Any = None) -> None:
    await AuditEntry.create(actor=actor[:100], action=action[:50], target=target[:100],
                            detail=detail or {}, user_id=user_id, using_db=using_db)
