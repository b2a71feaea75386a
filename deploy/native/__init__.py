"""The native stack: PostgreSQL, Kafka, Keycloak and the services as supervised processes (``./payung up``)."""
