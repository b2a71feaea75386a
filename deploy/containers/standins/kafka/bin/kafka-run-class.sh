#!/bin/bash
# The stand-in's kafka-run-class.sh: the official script's essentials (classpath libs/*, heap and log4j options).
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} -XX:+UseG1GC -Djava.awt.headless=true \
  ${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.yaml} ${KAFKA_OPTS:-} \
  -cp '/opt/kafka/libs/*' "$@"
