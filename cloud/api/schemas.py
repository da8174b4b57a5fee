"""Request bodies and query strings, as pydantic models: validation and the OpenAPI schemas
come from the same declaration, so the document cannot drift from the checks."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ID = r"^[A-Za-z0-9_-]{1,32}$"
MAX_MINOR = 10**12


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Register(Strict):
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=8, max_length=200)
    name: str = Field(default="", max_length=100)


class Login(Strict):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=200)


class PasswordChange(Strict):
    old: str = Field(min_length=1, max_length=200)
    new: str = Field(min_length=8, max_length=200)


class PasswordReset(Strict):
    token: str = Field(min_length=20, max_length=100)
    password: str = Field(min_length=8, max_length=200)


class PersonIn(Strict):
    """Invite a seller or manager: without a password they get a one-time reset link."""
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    role: Literal["seller", "manager"]
    name: str = Field(default="", max_length=100)
    shop: str | None = Field(default=None, pattern=ID)   # admins say which; managers: theirs
    can_change_price: bool = False
    password: str | None = Field(default=None, min_length=8, max_length=200)


class PersonPatch(Strict):
    name: str | None = Field(default=None, max_length=100)
    role: Literal["seller", "manager"] | None = None
    can_change_price: bool | None = None
    can_refund: bool | None = Field(default=None, description="may refund above the shop's "
                                    "approval amount and outside its refund window")
    disabled: bool | None = None


class PinIn(Strict):
    pin: str = Field(pattern=r"^[0-9]{4,8}$")


class PeopleFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shop: str | None = Field(default=None, pattern=ID)


class DeviceIn(Strict):
    id: str = Field(pattern=ID)
    shop: str = Field(pattern=ID)
    key: str = Field(pattern=r"^[0-9a-f]{64}$")


class RotateKey(Strict):
    key: str = Field(pattern=r"^[0-9a-f]{64}$")


class PrinterIn(Strict):
    charset: Literal["ascii", "gb18030"]


class DeviceRename(Strict):
    name: str = Field(min_length=1, max_length=64)


class DeviceMove(Strict):
    shop: str = Field(pattern=ID)


class DeviceConfig(Strict):
    """Terminal settings to change (cloud/fleet/actions.py SETTINGS: names and ranges)."""
    settings: dict[str, int] = Field(min_length=1, max_length=20)


class DeviceEnrol(Strict):
    seller: int = Field(ge=1)


class CartItem(Strict):
    sku: str = Field(min_length=1, max_length=64)
    qty: int = Field(ge=1, le=10_000)


class CartIn(Strict):
    shop: str = Field(pattern=ID)
    items: list[CartItem] = Field(min_length=1, max_length=100)


class PriceChangeIn(Strict):
    version: int = Field(ge=1, le=2**31 - 1)
    total: int = Field(ge=0, le=MAX_MINOR)
    reason: str = Field(default="", max_length=200)


class PayIn(Strict):
    amount: int = Field(ge=0, le=MAX_MINOR)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    version: int = Field(ge=1, le=2**31 - 1)


class OrderFilter(BaseModel):
    # Query strings are text: lax mode converts "5" to 5, still range-checked.
    model_config = ConfigDict(extra="forbid")
    state: Literal["draft", "pending_payment", "paid", "accepted", "fulfilled", "completed",
                   "cancelled", "expired", "held"] | None = None
    shop: str | None = Field(default=None, pattern=ID)
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class AlarmFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    open: bool | None = None
    limit: int = Field(default=100, ge=1, le=500)


class ShopIn(Strict):
    id: str = Field(pattern=ID)
    name: str = Field(default="", max_length=100)


class ShopSettingsIn(Strict):
    """A shop's settings; absent fields stay as they are."""

    name: str | None = Field(default=None, max_length=100)
    timezone: str | None = Field(default=None, min_length=1, max_length=64,
                                 pattern=r"^[A-Za-z0-9_+\-/]+$",
                                 description="IANA time zone, e.g. Asia/Shanghai: what its "
                                             "people and buyers read is local")
    cash_expiry_s: int | None = Field(default=None, ge=60, le=7 * 24 * 3600,
                                      description="how long a web order to be paid in cash "
                                                  "at the counter waits before it expires")
    address: str | None = Field(default=None, max_length=200,
                                description="printed under the shop's name on receipts")
    tax_id: str | None = Field(default=None, max_length=64,
                               description="the shop's tax number (税号), on receipts")
    refund_window_days: int | None = Field(default=None, ge=0, le=3650,
                                           description="days after a sale its sellers may "
                                                       "refund it; later needs a manager")
    refund_approval_above: int | None = Field(default=None, ge=0, le=MAX_MINOR,
                                              description="a refund above this (minor units) "
                                                          "needs a manager")
    shift_diff_limit: int | None = Field(default=None, ge=0, le=MAX_MINOR,
                                         description="a shift's close whose counted cash "
                                                     "differs from the expected by more than "
                                                     "this (minor units) needs a manager")
    shift_refund_cap: int | None = Field(default=None, ge=0, le=MAX_MINOR,
                                         description="the cash refunds one shift may pay out "
                                                     "(minor units); 0 = no cap")
    tax_rounding: Literal["line", "receipt"] | None = Field(
        default=None, description="the tax in the price rounded per line or once per rate "
                                  "and receipt (cloud/orders/tax.py; docs/api.md)")


class ProductIn(Strict):
    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    price: int = Field(ge=0, le=MAX_MINOR)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    stock: int = Field(default=0, ge=0, le=10**9)


class NoQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AuditFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(default=100, ge=1, le=1000)
