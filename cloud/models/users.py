"""People and their credentials: users with a role, web sessions, API tokens."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class Role(StrEnum):
    BUYER = "buyer"
    SELLER = "seller"
    MANAGER = "manager"
    ADMIN = "admin"


class User(Model):
    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    name = fields.CharField(max_length=100, default="")
    password_hash = fields.CharField(max_length=200)     # argon2id encoded hash
    role = fields.CharEnumField(Role, max_length=10, default=Role.BUYER)
    # Sellers and managers work for one shop; buyers and admins have none.
    shop: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.Shop", related_name="staff", null=True, on_delete=fields.SET_NULL)
    shop_id: str | None
    can_change_price = fields.BooleanField(default=False)  # the seller's 改价 right
    # The seller's right to refund above the shop's amount and outside its window.
    can_refund = fields.BooleanField(default=False, db_default=False)
    disabled = fields.BooleanField(default=False)
    # The terminal PIN, encrypted with the cloud's keyring: each terminal's
    # roster carries a hash keyed with that terminal's key, so the cloud must
    # be able to recompute it for every terminal (protocol/README.md).
    pin_sealed = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "users"


class FingerSlot(Model):
    """A seller's finger enrolled on one terminal's sensor, in that sensor's slot."""

    id = fields.IntField(primary_key=True)
    device = fields.CharField(max_length=32)
    slot = fields.IntField()
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="finger_slots", on_delete=fields.CASCADE)
    user_id: int
    enrolled_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "finger_slots"
        unique_together = (("device", "slot"),)


class Session(Model):
    """A browser session: the cookie carries the token, the table keeps only its hash."""

    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    csrf = fields.CharField(max_length=64)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.CASCADE)
    user_id: int
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "sessions"


class ApiToken(Model):
    """A bearer token for the CLI and scripts: only its SHA-256 is stored."""

    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=100, default="")
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="tokens", on_delete=fields.CASCADE)
    user_id: int
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "api_tokens"


class PasswordReset(Model):
    """A one-time password reset link issued by a manager or admin, only a hash is kept."""

    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="resets", on_delete=fields.CASCADE)
    user_id: int
    issued_by = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "password_resets"
