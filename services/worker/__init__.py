"""The production stream processor: a Faust app running the shared detector suite on Kafka."""
