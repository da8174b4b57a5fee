"""Creating users (web registration and the CLI share it)."""

from __future__ import annotations

from fingerpos.cloud import audit
from fingerpos.cloud.auth import hash_password
from fingerpos.cloud.errors import Conflict, Invalid
from fingerpos.cloud.models.shops import Shop
from fingerpos.cloud.models.users import Role, User
from tortoise.exceptions import IntegrityError


async def create_user(email: str, password: str, role: Role = Role.BUYER, *, name: str = "",
                      shop_id: str | None = None, can_change_price: bool = False,
                      actor: str = "system") -> User:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise Invalid("email must be an address like name@example.com")
    if len(password) < 8:
        raise Invalid("the password must be at least 8 characters")
    if role in (Role.SELLER, Role.MANAGER) and not shop_id:
        raise Invalid(f"a {role.value} needs a shop")
    if shop_id:
        await Shop.get_or_create(id=shop_id)
    try:
        user = await User.create(email=email, name=name, password_hash=hash_password(password),
                                 role=role, shop_id=shop_id, can_change_price=can_change_price)
    except IntegrityError:
        raise Conflict(f"a user with email {email} exists") from None
    await audit.record(actor, "user.create", f"user:{user.id}", {"role": role.value})
    return user


def user_json(user: User) -> dict:
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role.value,
            "shop": user.shop_id, "can_change_price": user.can_change_price}
