"""Kafka adapters: event codec, topic administration and the durable article publisher."""
