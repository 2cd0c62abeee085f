"""redis_fintech_sdk."""
