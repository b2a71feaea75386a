DROP INDEX deliveries_address_sent;
