"""One module per CLI subcommand, each exposing `main(args, settings) -> int`."""
