"""Store port and its adapters (SQLite for the embedded runtime, Elasticsearch/OpenSearch)."""
