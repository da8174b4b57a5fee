# fingerpos protocol v1: the topic filters the cloud subscribes to.
# SPDX-License-Identifier: MIT
#
# Cloud side only: the terminal subscribes to its own command topic, never to a
# filter, and does not load this module.
from . import EVT, PREFIX, STATUS

EVT_FILTER = PREFIX + "+/" + EVT
STATUS_FILTER = PREFIX + "+/" + STATUS
# The shared form lets several workers split the event stream between them
# (MQTT 5 shared subscriptions).
SHARE_GROUP = "fingerpos"


def shared(topic_filter: str, group: str = SHARE_GROUP) -> str:
    """The shared-subscription form of a filter: `$share/{group}/{filter}`."""
    return "$share/" + group + "/" + topic_filter
