"""Authorization: Casbin enforcers per tenant, built from policies/ and the tenant's own roles."""
