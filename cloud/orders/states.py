"""Order states and the only transitions allowed between them (pure)."""

from __future__ import annotations

from enum import StrEnum

from fingerpos.cloud.core.errors import Conflict


class State(StrEnum):
    DRAFT = "draft"
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    ACCEPTED = "accepted"
    FULFILLED = "fulfilled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    HELD = "held"          # staged for revision; released back to pending_payment


S = State
TRANSITIONS: dict[State, frozenset[State]] = {
    S.DRAFT: frozenset({S.PENDING_PAYMENT, S.HELD, S.CANCELLED}),
    S.PENDING_PAYMENT: frozenset({S.PAID, S.HELD, S.CANCELLED, S.EXPIRED}),
    # A paid order that fails validation before print is held too; once revised and
    # valid it goes back to paid when its accepted payment still covers the new total.
    S.HELD: frozenset({S.PENDING_PAYMENT, S.PAID, S.CANCELLED}),
    S.PAID: frozenset({S.ACCEPTED, S.COMPLETED, S.CANCELLED, S.HELD}),
    S.ACCEPTED: frozenset({S.FULFILLED, S.COMPLETED, S.CANCELLED}),
    S.FULFILLED: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
}
# A price may change only while nothing has been paid.
PRICE_CHANGEABLE = frozenset({S.DRAFT, S.PENDING_PAYMENT, S.HELD})
# What a terminal's `ack` action does, by the order's current state.
ACK_MOVES: dict[str, dict[State, State]] = {
    "accept": {S.PAID: S.ACCEPTED},
    "ship": {S.ACCEPTED: S.FULFILLED},
    "handover": {S.PAID: S.COMPLETED, S.ACCEPTED: S.COMPLETED, S.FULFILLED: S.COMPLETED},
}


def check_transition(current: str, target: State) -> State:
    """Return `target` if the move is allowed; raise Conflict naming both states otherwise."""
    try:
        state = State(current)
    except ValueError:
        raise Conflict(f"the order is in an unknown state {current!r}") from None
    if target not in TRANSITIONS[state]:
        raise Conflict(f"an order cannot go from {state.value} to {target.value}")
    return target


def ack_target(current: str, action: str) -> State:
    """The state a terminal's ack `action` moves an order in state `current` to."""
    moves = ACK_MOVES.get(action)
    if moves is None:
        raise Conflict(f"unknown ack action {action!r}")
    try:
        return moves[State(current)]
    except (KeyError, ValueError):
        raise Conflict(f"cannot {action} an order that is {current}") from None
