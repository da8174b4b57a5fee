"""Reading orders: who may see which, filters, and the JSON shape the API returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fingerpos.cloud.core.errors import NotFound
from fingerpos.cloud.models.orders import Order, OrderEvent, OrderLine, OrderRevision
from fingerpos.cloud.models.refunds import Refund
from fingerpos.cloud.models.users import Role, User
from fingerpos.cloud.orders import revisions
from tortoise.functions import Count


def order_json(o: Order) -> dict[str, Any]:
    return {"id": o.id, "shop": o.shop_id, "buyer": o.buyer_id, "source": o.source,
            "device": o.device_id, "ref": o.ref, "state": o.state, "version": o.version,
            "total": o.total, "currency": o.currency,
            "created_at": o.created_at.isoformat() if o.created_at else None,
            "state_changed_at": o.state_changed_at.isoformat() if o.state_changed_at else None}


def _visible(user: User) -> Any:
    """The orders this user may see: a buyer their own, staff their shop's, admins all."""
    query = Order.all()
    if user.role == Role.BUYER:
        return query.filter(buyer_id=user.id)
    if user.role in (Role.SELLER, Role.MANAGER):
        return query.filter(shop_id=user.shop_id) if user.shop_id else query.filter(id=-1)
    return query


async def get_for(user: User, order_id: int) -> dict[str, Any]:
    """One order with its lines, its version's adjustments (price changes), revisions and events; 404 when it is not the user's to see."""
    order = await _visible(user).get_or_none(id=order_id)
    if order is None:
        raise NotFound(f"no order {order_id}")
    out = order_json(order)
    out["lines"] = [{"id": ln.id, "sku": ln.sku, "name": ln.name, "qty": ln.qty,
                     "unit_price": ln.unit_price, "refunded": ln.refunded_qty}
                    for ln in await OrderLine.filter(order_id=order_id).order_by("id")]
    out["adjustments"] = [{"label": label, "amount": amount} for label, amount
                          in await revisions.adjustments_of(order_id, order.version)]
    out["revisions"] = [{"version": r.version, "total": r.total, "reason": r.reason,
                         "at": r.created_at.isoformat()}
                        for r in await OrderRevision.filter(order_id=order_id).order_by("version")]
    out["refunded"] = order.refunded
    out["refunds"] = [{"id": r.id, "amount": r.amount, "tax": r.tax, "method": r.method,
                       "status": r.status, "reason": r.reason, "lines": r.lines,
                       "at": r.created_at.isoformat()}
                      for r in await Refund.filter(order_id=order_id).order_by("id")]
    out["events"] = [{"from": e.from_state, "to": e.to_state, "user": e.user_id,
                      "device": e.device_id, "device_event": e.device_event_id, "note": e.note,
                      "at": e.at.isoformat()}
                     for e in await OrderEvent.filter(order_id=order_id).order_by("id")]
    return out


async def list_for(user: User, *, state: str | None = None, shop: str | None = None,
                   since: datetime | None = None, until: datetime | None = None,
                   limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    query = _visible(user)
    if state:
        query = query.filter(state=state)
    if shop:
        query = query.filter(shop_id=shop)
    if since:
        query = query.filter(created_at__gte=since)
    if until:
        query = query.filter(created_at__lt=until)
    rows = await query.order_by("-id").offset(offset).limit(limit)
    return [order_json(o) for o in rows]


async def state_counts() -> dict[str, int]:
    rows = await Order.all().annotate(n=Count("id")).group_by("state").values("state", "n")
    return {row["state"]: row["n"] for row in rows}
