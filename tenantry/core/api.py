"""Where the versioned API lives.

Routers carry the full prefix themselves and are included without one: FastAPI includes routers
lazily, and a prefix given at include time is missing from `scope["route"].path`, which the access
log and the metrics use as the route template.
"""

API_V1 = "/api/v1"
