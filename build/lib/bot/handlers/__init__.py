"""aiogram routers, one per feature. Each is built by a function, so tests can build many."""
