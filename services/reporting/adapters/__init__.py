"""The reporting service's outside world: Kafka's admin API (pipeline health) and the kecamatan boundary file."""
