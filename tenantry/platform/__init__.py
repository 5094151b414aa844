"""The control plane: tenant registry and lifecycle, provisioning, fleet migrations, operators."""
