"""One person's conversation in the private chat: turns and screens, the mailbox, and the
deletions that keep the phone clean."""
