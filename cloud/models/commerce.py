"""Commerce models: categories, payment intents and their idempotency, sealed pickup
codes, callback replay guard, validation checks, revision snapshots and print jobs."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Category(Model):
    id = fields.IntField(primary_key=True)
    shop: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Shop", related_name="categories", on_delete=fields.CASCADE)
    shop_id: str
    name = fields.CharField(max_length=100)

    class Meta:
        table = "categories"
        unique_together = (("shop", "name"),)


class PaymentIntent(Model):
    """One attempt to pay one order *version* through a provider."""

    id = fields.CharField(max_length=40, primary_key=True)
    order: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Order", related_name="intents", on_delete=fields.CASCADE)
    order_id: int
    version = fields.IntField()
    amount = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    provider = fields.CharField(max_length=20)
    # open -> processing -> succeeded | failed | refused (stale version, mismatch)
    status = fields.CharField(max_length=12, default="open")
    reason = fields.CharField(max_length=200, default="")
    card_last4 = fields.CharField(max_length=4, default="")  # all a provider ever tells us
    buyer_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    # When it went open -> processing: an intent left there by a crash is recovered
    # by the timers (checkout.recover_stuck) once this is old enough.
    claimed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "payment_intents"


class PickupCode(Model):
    """An order's pickup code, sealed with the cloud's keyring (AES-GCM, bound to the
    order): only its buyer's pages open it; the order row keeps the HMAC terminals check."""

    id = fields.IntField(primary_key=True)
    order_id = fields.IntField(unique=True)   # one code per order, ever
    sealed = fields.CharField(max_length=120)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "pickup_codes"


class IdempotencyRecord(Model):
    """An Idempotency-Key seen for one user and operation: the first request wins the
    unique constraint, every repeat gets its stored answer."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=200)   # "<user>:<operation>:<client key>"
    status = fields.IntField(default=0)      # 0 while the first request runs
    response = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "idempotency_keys"
        unique_together = (("key",),)


class CallbackReceipt(Model):
    """Signatures of payment callbacks already accepted: refuses replays across workers."""

    signature = fields.CharField(max_length=64, primary_key=True)
    intent_id = fields.CharField(max_length=40)
    received_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "payment_callbacks"


class RevisionSnapshot(Model):
    """The lines and adjustments of one order revision (OrderRevision keeps the total)."""

    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Order", related_name="snapshots", on_delete=fields.CASCADE)
    order_id: int
    version = fields.IntField()
    lines = fields.JSONField()          # [{sku, name, qty, unit_price}]
    adjustments = fields.JSONField()    # [[label, minor units]]
    user_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "revision_snapshots"
        unique_together = (("order", "version"),)


class OrderCheck(Model):
    """One validation before print (校检) and its outcome."""

    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Order", related_name="checks", on_delete=fields.CASCADE)
    order_id: int
    version = fields.IntField()
    ok = fields.BooleanField()
    problems = fields.JSONField()       # [{code, message}]
    user_id = fields.IntField(null=True)
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "order_checks"


class PrintJob(Model):
    """A receipt sent to the printer of a terminal, printed_ok comes from its printed event."""

    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Order", related_name="prints", on_delete=fields.CASCADE)
    order_id: int
    version = fields.IntField()
    device_id = fields.CharField(max_length=32)
    reprint = fields.BooleanField(default=False)
    user_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    printed_ok = fields.BooleanField(null=True)
    printed_event_id = fields.BigIntField(null=True)

    class Meta:
        table = "print_jobs"
