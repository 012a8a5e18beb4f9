"""A Django app whose certificates are stored through the router."""
