"""The outside world of the notification service: one module per channel (SMS gateway, WhatsApp, SMTP, the local
file), the channel registry, the providers' rate limits and the database's wake-up call to the dispatch job."""
