"""Chat adapters over the retrieval pipeline: command line, REPL, Telegram."""
