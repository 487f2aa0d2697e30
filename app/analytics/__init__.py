"""Analytics for admins: the dashboard's figures (conversations per day, containment, handoffs
by reason, CSAT, agents' first response and resolution times, top intents) and a CSV of one row
per conversation, all computed by queries over the `events` table (with `messages` and
`conversations` where needed), never from counters kept by hand."""
