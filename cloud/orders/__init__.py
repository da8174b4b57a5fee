"""The order engine: pure rules (states, rules) with the database at the edge (service,
lifecycle, queries). Ingestion and the web call the service functions re-exported here:

    await orders.from_sale(device_id, event_id, data)
    await orders.from_sales(conn, [(device_id, event_id, data), ...])  # a batch's sales at once
    await orders.device_ack(device_id, event_id, data)
    await orders.price_change_from_device(device_id, event_id, data)
    await orders.pay(order_id, amount, currency, version)      # the commerce payment side
"""

from fingerpos.cloud.orders.lifecycle import (
    cancel,
    deadline,
    device_ack,
    expire_unpaid,
    flag_unaccepted,
    stage,
)
from fingerpos.cloud.orders.queries import get_for, list_for, order_json
from fingerpos.cloud.orders.sales import from_sales
from fingerpos.cloud.orders.service import (
    change_price,
    create_from_cart,
    from_sale,
    pay,
    price_change_from_device,
)
from fingerpos.cloud.orders.states import State

__all__ = ["State", "cancel", "change_price", "deadline", "create_from_cart", "device_ack", "expire_unpaid",
           "flag_unaccepted", "from_sale", "from_sales", "get_for", "list_for", "order_json", "pay",
           "price_change_from_device", "stage"]
