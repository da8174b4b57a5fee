# fingerpos cloud: aiohttp + tortoise-orm service that turns signed terminal
# events and web purchases into orders and monitors them live.
# SPDX-License-Identifier: MIT
