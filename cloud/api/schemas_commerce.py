"""Request bodies and query strings of the commerce API (catalogue, payments, receipts,
revisions, order queries and export), as pydantic models that also feed the OpenAPI table."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fingerpos.cloud.api.schemas import ID, MAX_MINOR, Strict
from pydantic import BaseModel, ConfigDict, Field

SKU = r"^[A-Za-z0-9._-]{1,64}$"
STATES = Literal["draft", "pending_payment", "paid", "accepted", "fulfilled", "completed",
                 "cancelled", "expired", "held"]


class CategoryIn(Strict):
    name: str = Field(min_length=1, max_length=100)


class ProductFull(Strict):
    sku: str = Field(pattern=SKU)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    price: int = Field(ge=0, le=MAX_MINOR)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    stock: int = Field(default=0, ge=0, le=10**9,
                       description="on hand; once track_stock is on, changed only by "
                                   "POST .../stock adjustments and sales")
    track_stock: bool | None = Field(default=None, description="limit web orders to the "
                                     "stock (absent: unchanged; new products: false)")
    low_stock: int | None = Field(default=None, ge=0, le=10**9,
                                  description="alarm when what is available falls to this")
    image_url: str = Field(default="", max_length=500, pattern=r"^(https?://[^\s\"'<>]+|/[^\s\"'<>]*)?$")
    category: int | None = Field(default=None, ge=1, le=2**31 - 1)
    tax_rate: int | None = Field(default=None, ge=0, le=10_000,
                                 description="tax in the price, basis points: 1300 = 13 % "
                                             "(absent: unchanged; new products: 0)")


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    q: str = Field(default="", max_length=200)
    shop: str | None = Field(default=None, pattern=ID)
    category: int | None = Field(default=None, ge=1, le=2**31 - 1)
    min_price: int | None = Field(default=None, ge=0, le=MAX_MINOR)
    max_price: int | None = Field(default=None, ge=0, le=MAX_MINOR)
    in_stock: bool = False
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=10_000)


class IntentIn(Strict):
    provider: Literal["sandbox", "cash"] = "sandbox"
    version: int = Field(ge=1, le=2**31 - 1)


class SandboxPayIn(Strict):
    """What the hosted sandbox page posts: the card number is checked, never stored."""

    card_number: str = Field(min_length=12, max_length=23, pattern=r"^[0-9 ]+$")
    expiry: str = Field(pattern=r"^(0[1-9]|1[0-2])/[0-9]{2}$")
    cvc: str = Field(pattern=r"^[0-9]{3,4}$")
    outcome: Literal["succeed", "decline"] = "succeed"


class PrintIn(Strict):
    device: str | None = Field(default=None, pattern=ID)
    reprint: bool = False


class RevisionLine(Strict):
    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(default="", max_length=200)
    qty: int = Field(ge=1, le=100_000)
    unit_price: int = Field(ge=0, le=MAX_MINOR)


class Adjustment(Strict):
    label: str = Field(min_length=1, max_length=60)
    amount: int = Field(ge=-MAX_MINOR, le=MAX_MINOR, description="minor units; negative = discount")


class ReviseIn(Strict):
    version: int = Field(ge=1, le=2**31 - 1)
    lines: list[RevisionLine] = Field(min_length=1, max_length=200)
    adjustments: list[Adjustment] | None = Field(
        default=None, max_length=20,
        description="the new version's adjustments; left out, those of the version it "
                    "replaces are kept (its price changes among them), [] drops them all")
    reason: str = Field(min_length=1, max_length=200)


class OrderQuery(BaseModel):
    """Filters shared by GET /orders and GET /orders/export.csv."""

    model_config = ConfigDict(extra="forbid")
    state: STATES | None = None
    shop: str | None = Field(default=None, pattern=ID)
    terminal: str | None = Field(default=None, pattern=ID)
    buyer: int | None = Field(default=None, ge=1, le=2**31 - 1)
    since: datetime | None = None
    until: datetime | None = None
    min_total: int | None = Field(default=None, ge=0, le=MAX_MINOR)
    max_total: int | None = Field(default=None, ge=0, le=MAX_MINOR)
    text: str | None = Field(default=None, min_length=1, max_length=100)
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000)
    before: int | None = Field(default=None, ge=1, le=2**31 - 1,
                               description="keyset cursor: orders with a smaller id")


class ExportQuery(OrderQuery):
    limit: int = Field(default=10**9, ge=1, le=10**9)
    excel: bool = Field(default=False, description="start with a UTF-8 byte-order mark, "
                        "so Excel opens the Chinese text as UTF-8")


class StockAdjustIn(Strict):
    kind: Literal["count", "damage", "delivery"] = Field(
        description="count: qty is what is on hand; damage: qty taken away; delivery: qty added")
    qty: int = Field(ge=0, le=10**9)
    reason: str = Field(min_length=1, max_length=200)


class RefundLineIn(Strict):
    line: int = Field(ge=1, le=2**31 - 1, description="the order line's id (GET /orders/{order})")
    qty: int = Field(ge=1, le=10**9, description="units of that line to take back")


class RefundIn(Strict):
    lines: list[RefundLineIn] = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=200)
    restock: bool = Field(default=False, description="put the goods back on the shelf once "
                                                     "the refund succeeds")


class ReceiptQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refund: int | None = Field(default=None, ge=1, le=2**31 - 1,
                               description="one of the order's refunds: its refund receipt")
