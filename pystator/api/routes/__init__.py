"""The API's routers, one module per resource; each ``build`` function returns a router."""
