"""How bytes reach Telegram and what its failures mean: the HTTP client and session, the
classes of Bot API errors, and the process tuned for a long run."""
