"""Security primitives: password hashing, signing keys, tokens, opaque secrets."""
