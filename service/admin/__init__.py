"""Admin: sources, deliveries and accounts, as an API (api) and as pages (pages)."""
