"""What the bot keeps between updates, and nothing that names anyone: the per-person memory,
its pseudonymous storage, sealed secrets in it, and the rate limits."""
