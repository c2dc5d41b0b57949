"""Telegram: the outbox (tables, outbox, mirror, announcer), the bot (bot, sender, commands, lease), the site's sign-in (login, routes)."""
