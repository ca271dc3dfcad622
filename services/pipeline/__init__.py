"""The batch step every runtime shares (embedded pipeline, Faust worker, detect/eval)."""
