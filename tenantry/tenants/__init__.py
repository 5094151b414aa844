"""The tenant plane: everything an organization manages inside its own schema."""
