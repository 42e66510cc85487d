"""What the tests share: the fake Bot API, the two backends, the running stack, walks and fixtures."""
